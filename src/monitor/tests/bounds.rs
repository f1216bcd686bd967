//! Every bound in [`Limits`]: pipelines, runs, stages, jobs, the log, and the text kept.

use super::*;

#[test]
fn runs_per_pipeline_are_bounded_and_a_too_old_build_is_dropped() {
    let mut monitor = Monitor::new(Limits {
        runs_per_pipeline: 3,
        ..Limits::default()
    });
    feed(&mut monitor, (1..=5).map(|n| ev(n).build(Some(n))));
    let pipeline = monitor.pipeline(&PipelineKey::Id(1)).unwrap();
    let builds: Vec<_> = pipeline.runs().map(Run::build).collect();
    assert_eq!(builds, [Some(3), Some(4), Some(5)]);
    assert_eq!(monitor.job_total(), 3);

    let old = monitor.apply(&ev(6).build(Some(1)).ingest());
    assert!(!old.model_changed && old.logged);
    assert_eq!(monitor.totals().dropped, 1);
    assert_eq!(
        monitor.pipeline(&PipelineKey::Id(1)).unwrap().runs().len(),
        3
    );
}

#[test]
fn pipelines_are_bounded_by_evicting_the_least_recently_active() {
    let mut monitor = Monitor::new(Limits {
        pipelines: 2,
        ..Limits::default()
    });
    feed(
        &mut monitor,
        [
            ev(1).pipeline(Some(1), Some("one")).code("FAIL"),
            ev(2).pipeline(Some(2), Some("two")),
            ev(3).pipeline(Some(1), Some("one")).job(Some("other")),
            ev(4).pipeline(Some(3), Some("three")),
        ],
    );
    assert_eq!(titles(&monitor, &Filter::default()), ["three", "one"]);
    assert!(monitor.pipeline(&PipelineKey::Id(2)).is_none());
    assert_eq!(monitor.pipeline_counts().total(), 2);
    assert_eq!(monitor.pipeline_counts().get(Status::Failed), 1);
    assert_eq!(monitor.pipeline_counts().get(Status::Success), 1);
    assert_eq!(monitor.job_total(), 3);
}

#[test]
fn the_job_budget_trims_history_of_the_least_recent_pipeline_first() {
    let mut monitor = Monitor::new(Limits {
        jobs: 4,
        ..Limits::default()
    });
    feed(
        &mut monitor,
        [
            ev(1).pipeline(Some(1), None).build(Some(1)),
            ev(2).pipeline(Some(1), None).build(Some(2)),
            ev(3).pipeline(Some(1), None).build(Some(3)),
            ev(4).pipeline(Some(2), None).build(Some(1)),
            ev(5).pipeline(Some(2), None).build(Some(2)),
        ],
    );
    assert_eq!(monitor.job_total(), 4);
    let one = monitor.pipeline(&PipelineKey::Id(1)).unwrap();
    assert_eq!(
        one.runs().map(Run::build).collect::<Vec<_>>(),
        [Some(2), Some(3)]
    );
    feed(&mut monitor, [ev(6).pipeline(Some(3), None)]);
    feed(&mut monitor, [ev(7).pipeline(Some(4), None)]);
    assert!(monitor.job_total() <= 4);
    assert!(monitor.pipeline(&PipelineKey::Id(4)).is_some());
    assert_eq!(monitor.pipeline_counts().total(), monitor.pipeline_total());
}

#[test]
fn the_run_budget_spans_all_pipelines() {
    let mut monitor = Monitor::new(Limits {
        runs: 3,
        ..Limits::default()
    });
    feed(
        &mut monitor,
        [
            ev(1).pipeline(Some(1), None).build(Some(1)),
            ev(2).pipeline(Some(1), None).build(Some(2)),
            ev(3).pipeline(Some(2), None).build(Some(1)),
            ev(4).pipeline(Some(2), None).build(Some(2)),
        ],
    );
    assert_eq!(monitor.run_total(), 3);
    let one = monitor.pipeline(&PipelineKey::Id(1)).unwrap();
    assert_eq!(one.runs().map(Run::build).collect::<Vec<_>>(), [Some(2)]);
    assert_eq!(monitor.job_total(), 3);
}

#[test]
fn stages_and_jobs_per_run_are_bounded() {
    let mut monitor = Monitor::new(Limits {
        stages_per_run: 2,
        jobs_per_stage: 2,
        ..Limits::default()
    });
    feed(
        &mut monitor,
        [
            ev(1).stage(Some("a")).job(Some("1")),
            ev(2).stage(Some("a")).job(Some("2")),
            ev(3).stage(Some("a")).job(Some("3")),
            ev(4).stage(Some("b")).job(Some("1")),
            ev(5).stage(Some("c")).job(Some("1")),
        ],
    );
    assert_eq!(latest(&monitor, 1).job_count(), 3);
    assert_eq!(latest(&monitor, 1).stages().len(), 2);
    assert_eq!(monitor.totals().dropped, 2);
    assert_eq!(monitor.log().len(), 5);
}

#[test]
fn the_log_is_a_ring_of_accepted_and_rejected_alike() {
    let mut monitor = Monitor::new(Limits {
        log: 3,
        ..Limits::default()
    });
    feed(&mut monitor, [ev(1), ev(2).code("FAIL")]);
    monitor.apply(&rejected(401, "bad signature"));
    feed(&mut monitor, [ev(3).code("SUCC"), ev(4).code("RUNNING")]);
    let seqs: Vec<_> = monitor.log().entries().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(monitor.log().capacity(), 3);
    assert_eq!(monitor.totals().rejected, 1);
    assert_eq!(monitor.totals().accepted, 4);
    assert!(matches!(
        monitor.log().entries().next().map(|e| &e.event),
        Some(LogEvent::Rejected(RejectedEntry { status: 401, .. }))
    ));
    // Delivery 1 fell out of the ring, so seeing its id again logs it (as a duplicate).
    let again = monitor.apply(&ev(1).ingest());
    assert!(again.logged);
}

#[test]
fn text_from_the_network_is_cleaned_and_bounded() {
    assert_eq!(crate::text::clean("plain", 10), "plain");
    assert_eq!(crate::text::clean("a\u{1b}[31mred\n", 20), "ared ");
    assert_eq!(crate::text::clean("abcdefgh", 4), "abc…");
    assert_eq!(crate::text::clean("构建构建", 3), "构…");

    let mut monitor = Monitor::new(Limits {
        text: 5,
        ..Limits::default()
    });
    feed(
        &mut monitor,
        [ev(1).pipeline(Some(1), Some("ok\u{1b}]0;evil\u{7}-name"))],
    );
    let name = monitor
        .pipeline(&PipelineKey::Id(1))
        .unwrap()
        .name()
        .unwrap();
    assert_eq!(name, "ok-n…");
    monitor.apply(&rejected(400, &"x".repeat(100)));
    let Some(LogEvent::Rejected(entry)) = monitor.log().entries().next_back().map(|e| &e.event)
    else {
        panic!("no rejection");
    };
    assert_eq!(entry.reason.chars().count(), 5);
}

#[test]
fn zero_limits_are_raised_to_one() {
    let mut monitor = Monitor::new(Limits {
        pipelines: 0,
        runs_per_pipeline: 0,
        stages_per_run: 0,
        jobs_per_stage: 0,
        runs: 0,
        jobs: 0,
        log: 0,
        text: 0,
        url: 0,
    });
    feed(&mut monitor, [ev(1), ev(2).pipeline(Some(2), None)]);
    assert_eq!(monitor.pipeline_total(), 1);
    assert_eq!(monitor.log().len(), 1);
    assert_eq!(monitor.job_total(), 1);
}
