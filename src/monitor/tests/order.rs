//! Events out of order, resent or repeated, and the display order and generation they move or
//! leave.

use super::*;

#[test]
fn an_older_status_by_the_senders_clock_does_not_overwrite() {
    let mut monitor = Monitor::default();
    feed(&mut monitor, [ev(1).code("SUCC").sent(20)]);
    let stale = monitor.apply(&ev(2).code("FAIL").sent(10).ingest());
    assert!(!stale.model_changed && stale.logged && !stale.newly_failed);
    assert_eq!(job_status(latest(&monitor, 1), "compile"), Status::Success);
    assert_eq!(monitor.totals().stale, 1);

    let newer = monitor.apply(&ev(3).code("FAIL").sent(30).ingest());
    assert!(newer.model_changed && newer.newly_failed);
    assert_eq!(job_status(latest(&monitor, 1), "compile"), Status::Failed);
}

#[test]
fn an_unfinished_status_never_replaces_a_final_one() {
    let mut monitor = Monitor::default();
    feed(&mut monitor, [ev(1).code("SUCC").sent(10)]);
    monitor.apply(&ev(2).code("RUNNING").sent(20).ingest());
    monitor.apply(&ev(3).code("WAITING").ingest());
    assert_eq!(job_status(latest(&monitor, 1), "compile"), Status::Success);
    assert_eq!(monitor.totals().stale, 2);
}

#[test]
fn without_sender_timestamps_arrival_order_decides() {
    let mut monitor = Monitor::default();
    feed(&mut monitor, [ev(1).code("RUNNING"), ev(2).code("FAIL")]);
    assert_eq!(job_status(latest(&monitor, 1), "compile"), Status::Failed);
    feed(&mut monitor, [ev(3).code("SUCC").sent(5)]);
    assert_eq!(job_status(latest(&monitor, 1), "compile"), Status::Success);
    let run = latest(&monitor, 1);
    assert_eq!(run.status(), Status::Success);
    assert_eq!(run.job_count(), 1);
}

#[test]
fn a_repeated_delivery_id_is_ignored_and_a_resent_status_is_logged_as_duplicate() {
    let mut monitor = Monitor::default();
    let event = ev(1).code("SUCC").sent(1).ingest();
    monitor.apply(&event);
    let generation = monitor.generation();
    assert_eq!(monitor.apply(&event), Applied::default());
    assert_eq!(monitor.generation(), generation);
    assert_eq!(monitor.log().len(), 1);
    assert_eq!(monitor.totals().repeated, 1);
    assert_eq!(monitor.totals().accepted, 1);

    let resent = monitor.apply(&ev(2).code("SUCC").sent(1).ingest());
    assert!(resent.logged && !resent.model_changed);
    assert_eq!(monitor.totals().duplicates, 1);
    let last = monitor.log().entries().next_back().unwrap();
    let LogEvent::Accepted(entry) = &last.event else {
        panic!("not accepted");
    };
    assert_eq!(entry.fate, Fate::Duplicate);
    assert_eq!(entry.fate.note(), Some("duplicate"));
    assert_eq!(
        latest(&monitor, 1).jobs().next().unwrap().1.delivery_id(),
        1
    );
}

#[test]
fn pipelines_show_most_recent_activity_first_and_stale_events_do_not_move_them() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).pipeline(Some(1), Some("a")).sent(10),
            ev(2).pipeline(Some(2), Some("b")),
            ev(3).pipeline(Some(3), Some("c")),
        ],
    );
    assert_eq!(titles(&monitor, &Filter::default()), ["c", "b", "a"]);
    feed(
        &mut monitor,
        [ev(4).pipeline(Some(1), Some("a")).code("FAIL").sent(5)],
    );
    assert_eq!(titles(&monitor, &Filter::default()), ["c", "b", "a"]);
    feed(
        &mut monitor,
        [ev(5).pipeline(Some(2), Some("b")).code("FAIL")],
    );
    assert_eq!(titles(&monitor, &Filter::default()), ["b", "c", "a"]);
    let all = Filter::default();
    assert_eq!(
        monitor.pipeline_position(&all, &PipelineKey::Id(3)),
        Some(1)
    );
    assert_eq!(monitor.pipeline_position(&all, &PipelineKey::Id(9)), None);
}

#[test]
fn a_duplicate_leaves_the_display_order_and_a_change_moves_the_pipeline_first() {
    let mut m = Monitor::default();
    feed(
        &mut m,
        [
            ev(1).pipeline(Some(1), Some("one")).code("RUNNING"),
            ev(2).pipeline(Some(2), Some("two")).code("RUNNING"),
        ],
    );
    assert_eq!(titles(&m, &Filter::default()), ["two", "one"]);
    feed(
        &mut m,
        [ev(3).pipeline(Some(1), Some("one")).code("RUNNING")],
    );
    assert_eq!(titles(&m, &Filter::default()), ["two", "one"]);
    assert_eq!(
        m.pipeline_position(&Filter::default(), &PipelineKey::Id(1)),
        Some(1)
    );
    feed(&mut m, [ev(4).pipeline(Some(1), Some("one")).code("SUCC")]);
    assert_eq!(titles(&m, &Filter::default()), ["one", "two"]);
    assert_eq!(
        m.pipeline_position(&Filter::default(), &PipelineKey::Id(1)),
        Some(0)
    );
    assert_eq!(
        m.pipeline(&PipelineKey::Id(2))
            .map(Pipeline::title)
            .as_deref(),
        Some("two")
    );
}

#[test]
fn generation_moves_only_when_something_visible_changed() {
    let mut monitor = Monitor::default();
    let start = monitor.generation();
    monitor.apply(&ev(1).ingest());
    assert_eq!(monitor.generation(), start + 1);
    monitor.apply(&ev(1).ingest());
    assert_eq!(monitor.generation(), start + 1);
    monitor.apply(&rejected(413, "body too large"));
    assert_eq!(monitor.generation(), start + 2);
}
