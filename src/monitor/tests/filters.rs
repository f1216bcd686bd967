//! The status filter and search, over pipelines, jobs and the log.

use super::*;

fn filter_fixture() -> Monitor {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1)
                .pipeline(Some(1), Some("Payments API"))
                .stage(Some("Build"))
                .job(Some("maven"))
                .repo("acme/payments", "main", "abc123"),
            ev(2)
                .pipeline(Some(1), Some("Payments API"))
                .stage(Some("Test"))
                .job(Some("integration"))
                .code("FAIL")
                .repo("acme/payments", "main", "abc123"),
            ev(3)
                .pipeline(Some(2), Some("Web"))
                .stage(Some("Deploy"))
                .job(Some("staging"))
                .repo("acme/web", "feature/Login", "DEF456"),
            ev(4)
                .pipeline(Some(3), Some("Docs"))
                .stage(Some("Publish"))
                .job(Some("pages"))
                .code("RUNNING"),
        ],
    );
    monitor.apply(&rejected(401, "signature does not match"));
    monitor
}

#[test]
fn the_status_filter_applies_to_pipelines_by_their_latest_run() {
    let monitor = filter_fixture();
    assert_eq!(
        titles(&monitor, &only(StatusFilter::Failed)),
        ["Payments API"]
    );
    assert_eq!(titles(&monitor, &only(StatusFilter::Success)), ["Web"]);
    assert_eq!(titles(&monitor, &only(StatusFilter::Other)), ["Docs"]);
    assert!(titles(&monitor, &only(StatusFilter::Skipped)).is_empty());
    assert_eq!(monitor.pipeline_count(&only(StatusFilter::All)), 3);
    assert_eq!(monitor.pipeline_count(&only(StatusFilter::Failed)), 1);
    assert_eq!(monitor.pipeline_count(&only(StatusFilter::Other)), 1);
    assert_eq!(monitor.pipeline_counts().get(Status::Running), 1);
}

#[test]
fn search_is_case_insensitive_over_name_stage_job_repository_branch_and_commit() {
    let monitor = filter_fixture();
    assert_eq!(titles(&monitor, &search("payments api")), ["Payments API"]);
    assert_eq!(titles(&monitor, &search("TEST")), ["Payments API"]);
    assert_eq!(titles(&monitor, &search("Pages")), ["Docs"]);
    assert_eq!(titles(&monitor, &search("ACME/")), ["Web", "Payments API"]);
    assert_eq!(titles(&monitor, &search("login")), ["Web"]);
    assert_eq!(titles(&monitor, &search("def4")), ["Web"]);
    assert_eq!(titles(&monitor, &search("  abc123 ")), ["Payments API"]);
    assert!(titles(&monitor, &search("nothing")).is_empty());
    let both = Filter {
        status: StatusFilter::Success,
        search: "acme".into(),
        ..Filter::default()
    };
    assert_eq!(titles(&monitor, &both), ["Web"]);
    assert_eq!(
        monitor.pipeline_position(&both, &PipelineKey::Id(2)),
        Some(0)
    );
    assert_eq!(monitor.pipeline_position(&both, &PipelineKey::Id(1)), None);
}

#[test]
fn search_handles_non_ascii_text() {
    let mut monitor = Monitor::default();
    feed(&mut monitor, [ev(1).pipeline(Some(1), Some("Ünit 构建"))]);
    assert_eq!(monitor.pipeline_count(&search("ünit")), 1);
    assert_eq!(monitor.pipeline_count(&search("构建")), 1);
    assert_eq!(monitor.pipeline_count(&search("unit")), 0);
}

#[test]
fn jobs_match_by_their_own_status_and_fields_and_a_pipeline_name_match_shows_all() {
    let monitor = filter_fixture();
    let pipeline = monitor.pipeline(&PipelineKey::Id(1)).unwrap();
    let run = pipeline.latest_run().unwrap();
    let jobs = |filter: &Filter| -> Vec<&str> {
        monitor
            .jobs(pipeline, run, filter)
            .filter_map(|(_, job)| job.name())
            .collect()
    };
    assert_eq!(jobs(&Filter::default()), ["maven", "integration"]);
    assert_eq!(jobs(&only(StatusFilter::Failed)), ["integration"]);
    assert_eq!(jobs(&only(StatusFilter::Success)), ["maven"]);
    assert_eq!(jobs(&search("maven")), ["maven"]);
    assert_eq!(jobs(&search("test")), ["integration"]);
    assert_eq!(jobs(&search("payments")), ["maven", "integration"]);
    let failed_payments = Filter {
        status: StatusFilter::Failed,
        search: "payments".into(),
        ..Filter::default()
    };
    assert_eq!(jobs(&failed_payments), ["integration"]);
    assert!(search("payments").matches_pipeline(pipeline));
}

#[test]
fn the_log_filters_by_event_status_and_search_and_rejections_count_as_other() {
    let monitor = filter_fixture();
    let kinds = |filter: &Filter| -> Vec<String> {
        monitor
            .log_entries(filter)
            .map(|entry| match &entry.event {
                LogEvent::Accepted(a) => a.job.as_deref().unwrap_or("?").to_owned(),
                LogEvent::Rejected(r) => format!("rejected {}", r.status),
                LogEvent::Noted(n) => n.kind.describe().to_owned(),
                LogEvent::Outcome(o) => o.detail.clone(),
            })
            .collect()
    };
    assert_eq!(monitor.log_entries(&Filter::default()).count(), 5);
    assert_eq!(kinds(&only(StatusFilter::Failed)), ["integration"]);
    assert_eq!(kinds(&only(StatusFilter::Other)), ["pages", "rejected 401"]);
    assert_eq!(kinds(&search("payments")), ["maven", "integration"]);
    assert_eq!(kinds(&search("login")), ["staging"]);
    assert_eq!(kinds(&search("SIGNATURE")), ["rejected 401"]);
    assert_eq!(monitor.log_entries(&only(StatusFilter::Success)).count(), 2);
    let newest_first: Vec<u64> = monitor
        .log_entries(&Filter::default())
        .rev()
        .map(|e| e.seq)
        .collect();
    assert_eq!(newest_first, [5, 4, 3, 2, 1]);
}

#[test]
fn the_filtered_order_and_the_generation_move_only_when_something_changes() {
    let mut monitor = filter_fixture();
    let filter = search("acme");
    let keys = |monitor: &Monitor, filter: &Filter| -> Vec<PipelineKey> {
        monitor.pipelines(filter).map(|p| p.key().clone()).collect()
    };
    let generation = monitor.generation();
    assert_eq!(
        keys(&monitor, &filter),
        [PipelineKey::Id(2), PipelineKey::Id(1)]
    );
    assert_eq!(monitor.generation(), generation);
    assert_eq!(monitor.pipeline_count(&filter), 2);
    assert_eq!(
        monitor.pipeline_position(&filter, &PipelineKey::Id(1)),
        Some(1)
    );
    feed(
        &mut monitor,
        [ev(9).pipeline(Some(1), Some("Payments API")).code("SUCC")],
    );
    assert_ne!(monitor.generation(), generation);
    assert_eq!(keys(&monitor, &filter).first(), Some(&PipelineKey::Id(1)));
    assert_eq!(monitor.pipeline_count(&Filter::default()), 3);
}
