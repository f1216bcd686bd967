//! A failure stays in sight: a failed run behind a newer one, retries, flaky jobs, the way
//! from one failed job to the next, and what changed since the pipeline last passed.

use super::*;

fn pipeline(monitor: &Monitor) -> &Pipeline {
    monitor.pipeline(&PipelineKey::Id(1)).unwrap()
}

#[test]
fn a_failed_run_keeps_the_pipeline_red_and_under_the_fail_filter_while_a_newer_run_goes() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).build(Some(44)).code("RUNNING"),
            ev(2).build(Some(44)).code("FAIL"),
            ev(3).build(Some(45)).code("RUNNING"),
        ],
    );
    let app = pipeline(&monitor);
    assert_eq!(app.status(), Status::Running);
    assert!(app.is_failing());
    assert_eq!(
        app.record().last_finished().map(|m| (m.build, m.status)),
        Some((Some(44), Status::Failed))
    );
    assert_eq!(titles(&monitor, &only(StatusFilter::Failed)), ["app"]);
    assert_eq!(failing_run(app).and_then(Run::build), Some(44));
    assert_eq!(
        monitor.failed_jobs(&Filter::default()),
        [FailedJob {
            pipeline: PipelineKey::Id(1),
            build: Some(44),
            stage: Some("Build".into()),
            job: Some("compile".into()),
        }]
    );

    feed(&mut monitor, [ev(4).build(Some(45)).code("SUCC")]);
    assert!(!pipeline(&monitor).is_failing());
    assert!(titles(&monitor, &only(StatusFilter::Failed)).is_empty());
    assert!(monitor.failed_jobs(&Filter::default()).is_empty());
}

#[test]
fn a_running_job_after_its_failure_is_a_retry_and_keeps_the_failed_attempt() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [ev(1).code("RUNNING").sent(10), ev(2).code("FAIL").sent(40)],
    );
    assert!(latest(&monitor, 1).is_finished());
    let retry = monitor.apply(&ev(3).code("RUNNING").sent(50).ingest());
    assert!(retry.model_changed);
    assert_eq!(monitor.totals().stale, 0);
    let Some(LogEvent::Accepted(entry)) = monitor.log().entries().last().map(|e| &e.event) else {
        panic!("no entry");
    };
    assert_eq!(entry.fate, Fate::Retry(1));
    assert_eq!(entry.fate.note(), Some("retry"));

    let run = latest(&monitor, 1);
    assert_eq!(run.status(), Status::Running);
    assert!(!run.is_finished(), "a retried run goes on again");
    let (_, job) = run.jobs().next().unwrap();
    assert_eq!((job.status(), job.retries()), (Status::Running, 1));
    assert_eq!(job.started_at(), Some(at(50)));
    let failed = &job.attempts()[0];
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.duration(), Some(chrono::TimeDelta::seconds(30)));
    assert!(!job.is_flaky());

    feed(&mut monitor, [ev(4).code("SUCC").sent(80)]);
    let app = pipeline(&monitor);
    let run = app.latest_run().unwrap();
    let (stage, job) = run.jobs().next().unwrap();
    assert!(job.is_flaky());
    assert_eq!(job.duration(), Some(chrono::TimeDelta::seconds(30)));
    assert_eq!(flaky(app, run, stage, job), Some(Flaky { failed_in: None }));
    assert_eq!(run.status(), Status::Success);
}

#[test]
fn a_late_running_after_a_success_is_still_stale() {
    let mut monitor = Monitor::default();
    feed(&mut monitor, [ev(1).code("SUCC").sent(20)]);
    let late = monitor.apply(&ev(2).code("RUNNING").sent(30).ingest());
    assert!(!late.model_changed);
    assert_eq!(monitor.totals().stale, 1);
}

#[test]
fn a_job_that_failed_in_an_earlier_build_of_the_same_commit_is_flaky_when_it_passes() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1)
                .build(Some(1))
                .code("FAIL")
                .repo("acme/app", "main", "abc"),
            ev(2)
                .build(Some(2))
                .code("SUCC")
                .repo("acme/app", "main", "abc"),
            ev(3)
                .build(Some(3))
                .code("SUCC")
                .repo("acme/app", "main", "def"),
        ],
    );
    let app = pipeline(&monitor);
    let flaky_in = |build| {
        let run = app.run(Some(build)).unwrap();
        let (stage, job) = run.jobs().next().unwrap();
        flaky(app, run, stage, job)
    };
    assert_eq!(
        flaky_in(2),
        Some(Flaky {
            failed_in: Some(Some(1))
        })
    );
    assert_eq!(
        flaky_in(3),
        None,
        "another commit passing is a fix, not flakiness"
    );
    assert_eq!(flaky_in(1), None);
}

#[test]
fn since_it_last_passed_names_the_green_run_of_the_branch_and_the_params_that_differ() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1)
                .build(Some(40))
                .code("SUCC")
                .repo("acme/app", "main", "aaa")
                .param("ENV", "staging")
                .param("GONE", "1"),
            ev(2)
                .build(Some(41))
                .code("SUCC")
                .repo("acme/app", "feature", "bbb"),
            ev(3)
                .build(Some(42))
                .code("FAIL")
                .repo("acme/app", "main", "ccc")
                .param("ENV", "prod")
                .param("NEW", "x"),
        ],
    );
    let app = pipeline(&monitor);
    let failing = app.run(Some(42)).unwrap();
    let since = since_passed(app, failing).unwrap();
    assert_eq!(
        since.passed.build(),
        Some(40),
        "the feature branch's run is not this branch"
    );
    let changes: Vec<_> = since
        .global_params
        .iter()
        .map(|c| (c.key.as_str(), c.then.as_deref(), c.now.as_deref()))
        .collect();
    assert_eq!(
        changes,
        [
            ("ENV", Some("staging"), Some("prod")),
            ("GONE", Some("1"), None),
            ("NEW", None, Some("x")),
        ]
    );
    assert!(since.up_params.is_empty());
    assert!(since_passed(app, app.run(Some(40)).unwrap()).is_none());
}

#[test]
fn failed_jobs_follow_the_display_order_and_their_stages() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1)
                .pipeline(Some(1), Some("one"))
                .job(Some("a"))
                .code("FAIL"),
            ev(2)
                .pipeline(Some(1), Some("one"))
                .job(Some("b"))
                .code("FAIL"),
            ev(3)
                .pipeline(Some(2), Some("two"))
                .job(Some("c"))
                .code("SUCC"),
            ev(4)
                .pipeline(Some(3), Some("three"))
                .job(Some("d"))
                .code("FAIL"),
        ],
    );
    let jobs: Vec<_> = monitor
        .failed_jobs(&Filter::default())
        .into_iter()
        .map(|f| f.job.unwrap())
        .collect();
    assert_eq!(jobs, ["d", "a", "b"]);
}

#[test]
fn the_red_count_is_what_the_fail_filter_lists_through_retries_evictions_and_a_restore() {
    let limits = Limits {
        pipelines: 2,
        ..Limits::default()
    };
    let mut monitor = Monitor::new(limits.clone());
    let listed = |monitor: &Monitor| titles(monitor, &only(StatusFilter::Failed)).len();
    feed(
        &mut monitor,
        [
            ev(1).pipeline(Some(1), None).build(Some(44)).code("FAIL"),
            ev(2)
                .pipeline(Some(1), None)
                .build(Some(45))
                .code("RUNNING"),
            ev(3).pipeline(Some(2), None).build(Some(7)).code("FAIL"),
        ],
    );
    assert_eq!((monitor.red_count(), listed(&monitor)), (2, 2));
    assert_eq!(monitor.pipeline_counts().get(Status::Failed), 1);

    let mut saved = Vec::new();
    monitor.save(&mut saved).unwrap();
    let restored = Monitor::restore(&saved, limits).unwrap();
    assert_eq!(restored.red_count(), 2);

    feed(
        &mut monitor,
        [ev(4).pipeline(Some(3), None).build(Some(1)).code("SUCC")],
    );
    assert_eq!((monitor.red_count(), listed(&monitor)), (1, 1));
    feed(
        &mut monitor,
        [ev(5).pipeline(Some(2), None).build(Some(7)).code("SUCC")],
    );
    assert_eq!((monitor.red_count(), listed(&monitor)), (0, 0));
}
