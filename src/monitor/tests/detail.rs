//! What the detail pane reads from a run and its jobs: the describing delivery's headers, fields of
//! another shape, and what redaction leaves.

use super::*;

#[test]
fn a_runs_detail_keeps_the_headers_of_the_delivery_that_describes_it() {
    let mut monitor = Monitor::default();
    monitor.apply(&ev(1).headers("Pipeline Hook", "req-1").ingest());
    let context = latest(&monitor, 1).context();
    assert_eq!(
        context.headers.gitee_event.as_deref(),
        Some("Pipeline Hook")
    );
    assert_eq!(context.headers.request_id.as_deref(), Some("req-1"));
    let mut saved = Vec::new();
    monitor.save(&mut saved).unwrap();
    let restored = Monitor::restore(&saved, Limits::default()).unwrap();
    assert_eq!(latest(&restored, 1).context(), context);
}

#[test]
fn fields_of_another_shape_are_noted_on_the_job_and_survive_a_saved_screen() {
    let mut delivery = ev(1).0;
    delivery.notification = serde_json::from_value(serde_json::json!({
        "job": {"pipelineId": 1, "jobName": "compile", "buildNumber": 3.5, "statusCode": "FAIL"},
        "sources": [{"sourceType": "GITEE_GO", "branch": ["main"]}, "acme/x"],
        "globalParams": {"key1": "aaa"},
    }))
    .unwrap();
    let mut monitor = Monitor::default();
    monitor.apply(&Ingest::Accepted(Arc::new(delivery)));
    feed(&mut monitor, [ev(2).build(None).job(Some("test"))]);

    let notes = |monitor: &Monitor| {
        let run = latest(monitor, 1);
        let misfits = |name| {
            let (_, job) = run
                .jobs()
                .find(|(_, job)| job.name() == Some(name))
                .unwrap();
            job.misfits().cloned()
        };
        (misfits("compile"), misfits("test"), run.context().clone())
    };
    let (compile, test, context) = notes(&monitor);
    let compile = compile.unwrap();
    let shown: Vec<(&str, &str)> = compile
        .shown
        .iter()
        .map(|(note, raw)| (&**note, &**raw))
        .collect();
    assert_eq!(
        shown,
        [
            (
                "job.buildNumber: expected a whole number, got the number 3.5; shown raw",
                "3.5"
            ),
            (
                "sources[0].branch: expected a string, got a list; shown raw",
                r#"["main"]"#
            ),
            (
                "sources[1]: expected an object, got a string; shown raw",
                r#""acme/x""#
            ),
            (
                "globalParams: expected a list of {key, value}, got an object; read as its key/value pairs",
                r#"{"key1":"aaa"}"#
            ),
        ]
    );
    assert_eq!(test, None, "a job of a delivery that fits has no notes");
    assert_eq!(context.global_params[0].key.as_deref(), Some("key1"));
    assert_eq!(
        context.sources[0].extra()["branch"],
        serde_json::json!(["main"])
    );

    let mut saved = Vec::new();
    monitor.save(&mut saved).unwrap();
    let restored = Monitor::restore(&saved, Limits::default()).unwrap();
    assert_eq!(notes(&restored), (Some(compile), None, context));
}

#[test]
fn a_redacted_delivery_leaves_only_the_marker_in_the_monitor() {
    let secret = "s3cr3t-Hook";
    let mut notification: Notification = serde_json::from_value(serde_json::json!({
        "job": {
            "pipelineId": 1,
            "pipelineName": format!("app {secret}"),
            "stageName": "Build",
            "jobName": "compile",
            "statusCode": "FAIL",
            "statusName": secret,
            "pipelineUrl": format!("https://gitee.example/p/1?token={secret}"),
        },
        "sources": [{"sourceType": "GITEE_GO", "repoPath": "acme/x", "branch": secret, "token": "t"}],
        "globalParams": [{"key": "DB_PASSWORD", "value": "hunter2"}],
        "password": secret,
        "sign": "AbEvusCKxqRkBtTr4fD47SGVP/mRwlt48iuUYMFRloI=",
    }))
    .unwrap();
    crate::gitee::Redactor::new(Some(secret)).notification(&mut notification);
    let mut delivery = ev(1).0;
    delivery.notification = notification;
    let mut monitor = Monitor::default();
    monitor.apply(&Ingest::Accepted(Arc::new(delivery)));

    let run = latest(&monitor, 1);
    let (_, job) = run.jobs().next().unwrap();
    assert_eq!(job.status_name(), Some("[redacted]"));
    assert_eq!(
        job.pipeline_url(),
        Some("https://gitee.example/p/1?token=[redacted]")
    );
    assert_eq!(run.checkouts()[0].branch.as_deref(), Some("[redacted]"));
    assert_eq!(run.global_params()[0].value.as_deref(), Some("[redacted]"));
    let mut saved = Vec::new();
    monitor.save(&mut saved).unwrap();
    let saved = String::from_utf8(saved).unwrap();
    for kept in [secret, "hunter2", "AbEvus", "\"t\""] {
        assert!(!saved.contains(kept), "{kept} in {saved}");
    }
    assert!(saved.contains("app [redacted]"), "{saved}");
}
