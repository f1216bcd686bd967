//! Deliveries that are no job's status: test deliveries and other bodies, only logged.

use super::*;

/// A push hook's body, the sister product's body, and bodies with no job in them.
const NOT_JOBS: [&str; 7] = [
    r#"{"ref":"refs/heads/main","hook_name":"push_hooks","repository":{"full_name":"acme/app"}}"#,
    r#"{"task":{"pipelineId":7,"statusCode":"SUCCESS"},"taskName":"build","event":"task"}"#,
    "{}",
    r#"{"job":{}}"#,
    r#"{"job":null,"sources":[]}"#,
    r#"{"job":"build"}"#,
    r#"{"job":[{"jobName":"build"}]}"#,
];

fn noted(monitor: &Monitor) -> Vec<(u64, Noted, Option<&str>, Option<&str>)> {
    monitor
        .log()
        .entries()
        .filter_map(|entry| match &entry.event {
            LogEvent::Noted(n) => Some((
                n.delivery_id,
                n.kind,
                n.gitee_event.as_deref(),
                n.request_id.as_deref(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_test_delivery_changes_no_pipeline_even_with_a_job_in_it_and_is_logged_as_one() {
    let mut monitor = Monitor::default();
    let applied = monitor.apply(&ev(1).ping().headers("Push Hook", "req-1").ingest());
    assert!(applied.logged && !applied.model_changed && !applied.newly_failed);
    assert_eq!(monitor.pipeline_total(), 0);
    assert_eq!(monitor.run_total(), 0);
    assert_eq!(monitor.pipeline_counts().total(), 0);
    assert_eq!(
        noted(&monitor),
        [(1, Noted::Ping, Some("Push Hook"), Some("req-1"))]
    );
    assert_eq!(monitor.totals().accepted, 1);
    assert_eq!(Noted::Ping.describe(), "test delivery (X-Gitee-Ping)");
    // Handed over again (a replay overlapping live traffic), it is not logged twice.
    assert!(!monitor.apply(&ev(1).ping().ingest()).logged);
    assert_eq!(monitor.totals().repeated, 1);
}

#[test]
fn bodies_that_are_not_job_notifications_change_no_pipeline_and_two_alike_are_no_duplicates() {
    let mut monitor = Monitor::default();
    let mut id = 0;
    for body in NOT_JOBS {
        for _ in 0..2 {
            id += 1;
            let applied = monitor.apply(&ev(id).body(body).ingest());
            assert!(applied.logged && !applied.model_changed, "{body}");
        }
    }
    assert_eq!(monitor.pipeline_total(), 0);
    assert!(monitor.pipeline(&PipelineKey::Unknown).is_none());
    let kinds: Vec<Noted> = noted(&monitor).iter().map(|n| n.1).collect();
    assert_eq!(kinds, [Noted::NotAJob; 14]);
    assert_eq!(monitor.log().len(), 14);
    assert_eq!(monitor.totals().accepted, 14);
    assert_eq!(monitor.totals().duplicates, 0);
    assert_eq!(Noted::NotAJob.describe(), "not a Gitee Go job notification");

    // A job that names nothing but its status is still a job: it goes to the unknown pipeline.
    monitor.apply(&ev(15).body(r#"{"job":{"statusCode":"FAIL"}}"#).ingest());
    assert_eq!(monitor.pipeline_total(), 1);
    assert!(monitor.pipeline(&PipelineKey::Unknown).is_some());
}

#[test]
fn noted_entries_are_found_by_their_words_and_headers_and_count_as_other() {
    let mut monitor = Monitor::default();
    monitor.apply(&ev(1).body("{}").headers("Push Hook", "req-a").ingest());
    monitor.apply(&ev(2).ping().ingest());
    monitor.apply(&ev(3).code("FAIL").ingest());
    let ids = |filter: &Filter| -> Vec<u64> {
        monitor
            .log_entries(filter)
            .filter_map(|entry| match &entry.event {
                LogEvent::Noted(n) => Some(n.delivery_id),
                LogEvent::Accepted(a) => Some(a.delivery_id),
                LogEvent::Rejected(_) | LogEvent::Outcome(_) => None,
            })
            .collect()
    };
    assert_eq!(ids(&search("push hook")), [1]);
    assert_eq!(ids(&search("req-a")), [1]);
    assert_eq!(ids(&search("test delivery")), [2]);
    assert_eq!(ids(&search("not a gitee go job")), [1]);
    assert_eq!(ids(&only(StatusFilter::Other)), [1, 2]);
    assert_eq!(ids(&only(StatusFilter::Failed)), [3]);
}

#[test]
fn noted_entries_survive_a_saved_screen_and_are_still_known_by_id() {
    let mut monitor = Monitor::default();
    monitor.apply(&ev(1).body("{}").headers("Push Hook", "req-a").ingest());
    monitor.apply(&ev(2).ping().ingest());
    let mut saved = Vec::new();
    monitor.save(&mut saved).unwrap();
    let mut restored = Monitor::restore(&saved, Limits::default()).unwrap();
    assert_eq!(noted(&restored), noted(&monitor));
    assert!(!restored.apply(&ev(2).ping().ingest()).logged);
    assert_eq!(restored.pipeline_total(), 0);
}
