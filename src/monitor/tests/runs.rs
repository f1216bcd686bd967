//! Pipelines, runs, stages and jobs as events build them: the documented sample, first-seen order,
//! late builds, missing fields, names, and stepping between runs.

use super::*;

#[test]
fn the_documented_sample_becomes_one_pipeline_run_stage_and_job() {
    let parsed =
        crate::gitee::parse_notification(include_bytes!("../../../tests/fixtures/doc-sample.json"))
            .unwrap();
    let delivery = Delivery {
        id: 1,
        received_at: at(0),
        sent_at: None,
        auth: Auth::Signature,
        repaired: false,
        headers: Default::default(),
        notification: parsed.notification,
    };
    let mut monitor = Monitor::default();
    let applied = monitor.apply(&Ingest::Accepted(Arc::new(delivery)));
    assert!(applied.model_changed && applied.logged && !applied.newly_failed);

    let pipeline = monitor.pipeline(&PipelineKey::Id(183)).unwrap();
    assert_eq!(pipeline.name(), Some("Test Pipeline"));
    assert_eq!(pipeline.status(), Status::Success);
    let run = pipeline.latest_run().unwrap();
    assert_eq!(run.build(), Some(19));
    assert_eq!(names(run), [(Some("Build"), Some("Java Build"))]);
    let (_, job) = run.jobs().next().unwrap();
    assert_eq!(job.code(), Some("SUCC"));
    assert_eq!(job.status_name(), Some("Success"));
    assert!(job.pipeline_url().unwrap().ends_with("buildNumber=2"));
    assert_eq!(job.delivery_id(), 1);
    assert_eq!(run.sources().len(), 3);
    assert_eq!(run.global_params().len(), 2);
    assert_eq!(run.stage_progress().to_string(), "1/1");
    assert_eq!(monitor.totals().accepted, 1);

    let Some(LogEvent::Accepted(entry)) = monitor.log().entries().next().map(|e| &e.event) else {
        panic!("no accepted entry");
    };
    assert_eq!(entry.path(), "Test Pipeline › Build › Java Build");
    assert_eq!(entry.build, Some(19));
    assert_eq!(entry.code.as_deref(), Some("SUCC"));
    assert_eq!(entry.fate, Fate::Updated);
}

#[test]
fn stages_and_jobs_keep_first_seen_order_when_updated() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).stage(Some("Build")).job(Some("b")).code("RUNNING"),
            ev(2).stage(Some("Build")).job(Some("a")).code("RUNNING"),
            ev(3).stage(Some("Test")).job(Some("unit")).code("RUNNING"),
            ev(4).stage(Some("Build")).job(Some("c")).code("RUNNING"),
            ev(5).stage(Some("Build")).job(Some("a")).code("SUCC"),
            ev(6)
                .stage(Some("Deploy"))
                .job(Some("prod"))
                .code("WAITING"),
        ],
    );
    let run = latest(&monitor, 1);
    assert_eq!(
        names(run),
        [
            (Some("Build"), Some("b")),
            (Some("Build"), Some("a")),
            (Some("Build"), Some("c")),
            (Some("Test"), Some("unit")),
            (Some("Deploy"), Some("prod")),
        ]
    );
    assert_eq!(job_status(run, "a"), Status::Success);
    assert_eq!(run.job_count(), 5);
}

#[test]
fn an_older_build_arriving_late_gets_its_own_run_and_latest_stays() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).build(Some(5)).code("RUNNING"),
            ev(2).build(Some(4)).code("FAIL"),
            ev(3).build(Some(6)).code("SUCC"),
            ev(4).build(Some(3)).code("SUCC"),
        ],
    );
    let pipeline = monitor.pipeline(&PipelineKey::Id(1)).unwrap();
    assert_eq!(pipeline.latest_run().unwrap().build(), Some(6));
    assert_eq!(pipeline.status(), Status::Success);
    let builds: Vec<_> = pipeline.runs().map(Run::build).collect();
    assert_eq!(builds, [Some(3), Some(4), Some(5), Some(6)]);
    assert_eq!(pipeline.older_run(Some(5)).unwrap().build(), Some(4));
    assert_eq!(pipeline.newer_run(Some(5)).unwrap().build(), Some(6));
    assert!(pipeline.newer_run(Some(6)).is_none());
    assert!(pipeline.older_run(Some(3)).is_none());
    assert_eq!(pipeline.run(Some(4)).unwrap().status(), Status::Failed);
    assert_eq!(monitor.pipeline_counts().get(Status::Success), 1);
    assert_eq!(monitor.pipeline_counts().get(Status::Failed), 0);
}

#[test]
fn missing_pipeline_id_build_stage_and_job_are_their_own_buckets() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).pipeline(None, Some("by-name")),
            ev(2).pipeline(None, None),
            ev(3).pipeline(None, Some("  ")),
            ev(4).build(None).stage(None).job(None).code("FAIL"),
            ev(5).build(Some(2)),
        ],
    );
    let by_name = PipelineKey::Name("by-name".into());
    assert_eq!(monitor.pipeline(&by_name).unwrap().title(), "by-name");
    let unknown = monitor.pipeline(&PipelineKey::Unknown).unwrap();
    assert_eq!(unknown.title(), "unknown pipeline");
    assert_eq!(unknown.latest_run().unwrap().job_count(), 1);

    let pipeline = monitor.pipeline(&PipelineKey::Id(1)).unwrap();
    let builds: Vec<_> = pipeline.runs().map(Run::build).collect();
    assert_eq!(builds, [None, Some(2)]);
    let unnumbered = pipeline.run(None).unwrap();
    assert_eq!(names(unnumbered), [(None, None)]);
    assert_eq!(unnumbered.status(), Status::Failed);
    assert_eq!(pipeline.status(), Status::Success);

    let mut nameless = Monitor::default();
    feed(&mut nameless, [ev(1).pipeline(Some(7), None)]);
    assert_eq!(
        nameless.pipeline(&PipelineKey::Id(7)).unwrap().title(),
        "#7"
    );
}

#[test]
fn the_pipeline_name_follows_the_latest_event() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).pipeline(Some(1), Some("old")),
            ev(2).pipeline(Some(1), None),
        ],
    );
    assert_eq!(
        monitor.pipeline(&PipelineKey::Id(1)).unwrap().name(),
        Some("old")
    );
    let renamed = monitor.apply(&ev(3).pipeline(Some(1), Some("new")).ingest());
    assert!(renamed.model_changed);
    assert_eq!(
        monitor.pipeline(&PipelineKey::Id(1)).unwrap().name(),
        Some("new")
    );
}

#[test]
fn stepping_runs_works_from_a_build_that_is_not_kept() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).build(Some(2)),
            ev(2).build(Some(4)),
            ev(3).build(None),
        ],
    );
    let pipeline = monitor.pipeline(&PipelineKey::Id(1)).unwrap();
    assert_eq!(pipeline.older_run(Some(3)).unwrap().build(), Some(2));
    assert_eq!(pipeline.newer_run(Some(3)).unwrap().build(), Some(4));
    assert_eq!(pipeline.older_run(Some(2)).unwrap().build(), None);
    assert_eq!(pipeline.newer_run(None).unwrap().build(), Some(2));
}
