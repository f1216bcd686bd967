//! `x` and `X`: a hidden pipeline leaves the list and the counts until its next delivery, and
//! stays hidden across a saved screen.

use super::*;

fn three() -> Monitor {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).pipeline(Some(1), Some("a")),
            ev(2).pipeline(Some(2), Some("b")),
            ev(3).pipeline(Some(3), Some("c")),
        ],
    );
    monitor
}

fn names(monitor: &Monitor) -> Vec<String> {
    monitor
        .pipelines(&Filter::default())
        .map(|p| p.title().to_string())
        .collect()
}

#[test]
fn a_hidden_pipeline_leaves_the_list_until_its_next_delivery() {
    let mut monitor = three();
    assert!(monitor.hide(&PipelineKey::Id(2)));
    assert!(!monitor.hide(&PipelineKey::Id(2)), "hidden already");
    assert_eq!(names(&monitor), ["c", "a"]);
    assert_eq!(monitor.pipeline_count(&Filter::default()), 2);
    assert_eq!(monitor.hidden_count(), 1);
    assert_eq!(
        monitor.pipeline_position(&Filter::default(), &PipelineKey::Id(1)),
        Some(1)
    );
    assert_eq!(
        monitor.pipeline_position(&Filter::default(), &PipelineKey::Id(2)),
        None
    );
    feed(
        &mut monitor,
        [ev(4).pipeline(Some(2), Some("b")).code("FAIL")],
    );
    assert_eq!(names(&monitor), ["b", "c", "a"]);
    assert_eq!(monitor.hidden_count(), 0);
}

#[test]
fn show_hidden_brings_every_one_back_and_a_saved_screen_keeps_them_hidden() {
    let mut monitor = three();
    monitor.hide(&PipelineKey::Id(1));
    monitor.hide(&PipelineKey::Id(3));
    let mut saved = Vec::new();
    monitor.save(&mut saved).unwrap();
    let mut restored = Monitor::restore(&saved, Limits::default()).unwrap();
    assert_eq!(names(&restored), ["b"]);
    assert_eq!(restored.hidden_count(), 2);
    assert_eq!(restored.show_hidden(), 2);
    assert_eq!(names(&restored), ["c", "b", "a"]);
    assert_eq!(restored.pipeline_count(&Filter::default()), 3);
}
