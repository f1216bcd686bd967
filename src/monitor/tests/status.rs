//! Derived statuses: of a run from its jobs, of a pipeline from its latest run, stage progress,
//! failures that ring, and codes this version does not know.

use super::*;

#[test]
fn derived_status_follows_the_documented_order() {
    use Status::*;
    let cases: &[(&[Status], Status)] = &[
        (&[], Unknown),
        (&[Success], Success),
        (&[Success, Skipped], Success),
        (&[Skipped, Skipped], Skipped),
        (&[Success, Cancelled, Skipped], Cancelled),
        (&[Success, Cancelled, Failed], Failed),
        (&[Running, Failed], Failed),
        (&[Waiting, Failed], Failed),
        (&[Success, Running], Running),
        (&[Success, Waiting], Running),
        (&[Waiting, Waiting], Waiting),
        (&[Running, Cancelling, Success], Cancelling),
        (&[Success, Unknown], Unknown),
        (&[Running, Unknown], Running),
        (&[Waiting, Unknown], Waiting),
    ];
    for (jobs, expected) in cases {
        let mut counts = StatusCounts::default();
        for status in *jobs {
            counts.add(*status);
        }
        assert_eq!(derive_status(&counts), *expected, "{jobs:?}");
    }
}

#[test]
fn a_failure_shows_on_the_run_and_pipeline_at_once_and_rings_once() {
    let mut monitor = Monitor::default();
    feed(&mut monitor, [ev(1).job(Some("a")).code("RUNNING")]);
    let failed = monitor.apply(&ev(2).job(Some("b")).code("FAIL").ingest());
    assert!(failed.newly_failed);
    assert_eq!(latest(&monitor, 1).status(), Status::Failed);
    assert_eq!(
        monitor.pipeline(&PipelineKey::Id(1)).unwrap().status(),
        Status::Failed
    );
    let again = monitor.apply(&ev(3).job(Some("b")).code("FAIL").ingest());
    assert!(!again.newly_failed && !again.model_changed && again.logged);
    let other = monitor.apply(&ev(4).job(Some("a")).code("FAIL").ingest());
    assert!(other.newly_failed);
}

#[test]
fn stage_progress_counts_stages_whose_jobs_are_all_final() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).stage(Some("Build")).job(Some("a")).code("SUCC"),
            ev(2).stage(Some("Build")).job(Some("b")).code("SKIP"),
            ev(3).stage(Some("Test")).job(Some("c")).code("SUCC"),
            ev(4).stage(Some("Test")).job(Some("d")).code("RUNNING"),
            ev(5).stage(Some("Deploy")).job(Some("e")).code("WAITING"),
        ],
    );
    let run = latest(&monitor, 1);
    assert_eq!(run.stage_progress(), StageProgress { done: 1, total: 3 });
    let done: Vec<bool> = run.stages().iter().map(Stage::is_done).collect();
    assert_eq!(done, [true, false, false]);
    feed(
        &mut monitor,
        [ev(6).stage(Some("Test")).job(Some("d")).code("FAIL")],
    );
    assert_eq!(latest(&monitor, 1).stage_progress().to_string(), "2/3");
}

#[test]
fn unknown_status_codes_are_kept_with_their_name() {
    let mut monitor = Monitor::default();
    feed(&mut monitor, [ev(1).code("BLOCKED_BY_POLICY")]);
    let run = latest(&monitor, 1);
    let (_, job) = run.jobs().next().unwrap();
    assert_eq!(job.status(), Status::Unknown);
    assert_eq!(job.code(), Some("BLOCKED_BY_POLICY"));
    assert_eq!(job.status_name(), Some("BLOCKED_BY_POLICY name"));
    assert_eq!(run.status(), Status::Unknown);
    assert_eq!(monitor.pipeline_count(&only(StatusFilter::Other)), 1);
    assert_eq!(monitor.pipeline_count(&only(StatusFilter::Success)), 0);
}
