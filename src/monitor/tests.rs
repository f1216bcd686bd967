//! Unit tests of the monitor: ordering, derived statuses, out-of-order and duplicate events,
//! bounds, missing fields, and filters over pipelines, jobs and the log.

use super::*;
use crate::gitee::{Auth, GlobalParam, Job, Notification, Source, Status, StatusCode};
use chrono::{DateTime, Utc};

/// A delivery with sensible defaults, changed by builder methods.
struct Ev(Delivery);

fn ev(id: u64) -> Ev {
    Ev(Delivery {
        id,
        received_at: at(id as i64),
        sent_at: None,
        auth: Auth::None,
        repaired: false,
        headers: Default::default(),
        notification: Notification {
            job: Job {
                pipeline_id: Some(1),
                pipeline_name: Some("app".into()),
                stage_name: Some("Build".into()),
                job_name: Some("compile".into()),
                build_number: Some(1),
                status_code: Some(StatusCode("SUCC".into())),
                status_name: Some("Success".into()),
                pipeline_url: Some("https://gitee.example/p/1".into()),
                ..Job::default()
            },
            ..Notification::default()
        },
    })
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

impl Ev {
    fn job_mut(&mut self) -> &mut Job {
        &mut self.0.notification.job
    }
    fn pipeline(mut self, id: Option<u64>, name: Option<&str>) -> Ev {
        self.job_mut().pipeline_id = id;
        self.job_mut().pipeline_name = name.map(Into::into);
        self
    }
    fn stage(mut self, stage: Option<&str>) -> Ev {
        self.job_mut().stage_name = stage.map(Into::into);
        self
    }
    fn job(mut self, job: Option<&str>) -> Ev {
        self.job_mut().job_name = job.map(Into::into);
        self
    }
    fn build(mut self, build: Option<u64>) -> Ev {
        self.job_mut().build_number = build;
        self
    }
    fn code(mut self, code: &str) -> Ev {
        self.job_mut().status_code = Some(StatusCode(code.into()));
        self.job_mut().status_name = Some(format!("{code} name"));
        self
    }
    fn sent(mut self, seconds: i64) -> Ev {
        self.0.sent_at = Some(at(seconds));
        self
    }
    fn repo(mut self, repo: &str, branch: &str, commit: &str) -> Ev {
        self.0.notification.sources = vec![Source::GiteeGo {
            repo_path: Some(repo.into()),
            branch: Some(branch.into()),
            commit_id: Some(commit.into()),
            extra: Default::default(),
        }];
        self
    }
    fn ping(mut self) -> Ev {
        self.0.headers.ping = true;
        self
    }
    fn headers(mut self, event: &str, request_id: &str) -> Ev {
        self.0.headers.gitee_event = Some(event.into());
        self.0.headers.request_id = Some(request_id.into());
        self
    }
    /// The notification read from `body`, as the receiver reads it.
    fn body(mut self, body: &str) -> Ev {
        self.0.notification = crate::gitee::parse_notification(body.as_bytes())
            .unwrap()
            .notification;
        self
    }
    fn ingest(self) -> Ingest {
        Ingest::Accepted(Arc::new(self.0))
    }
}

fn rejected(status: u16, reason: &str) -> Ingest {
    Ingest::Rejected(Rejection {
        received_at: at(0),
        status,
        reason: reason.into(),
        peer: "127.0.0.1:9".parse().ok(),
    })
}

fn feed(monitor: &mut Monitor, events: impl IntoIterator<Item = Ev>) {
    for event in events {
        monitor.apply(&event.ingest());
    }
}

fn latest(monitor: &Monitor, id: u64) -> &Run {
    monitor
        .pipeline(&PipelineKey::Id(id))
        .and_then(Pipeline::latest_run)
        .unwrap()
}

fn job_status(run: &Run, job: &str) -> Status {
    run.jobs()
        .find(|(_, j)| j.name() == Some(job))
        .map(|(_, j)| j.status())
        .unwrap()
}

fn names(run: &Run) -> Vec<(Option<&str>, Option<&str>)> {
    run.jobs().map(|(s, j)| (s.name(), j.name())).collect()
}

fn search(text: &str) -> Filter {
    Filter {
        status: StatusFilter::All,
        search: text.into(),
    }
}

fn only(status: StatusFilter) -> Filter {
    Filter {
        status,
        search: String::new(),
    }
}

fn titles(monitor: &Monitor, filter: &Filter) -> Vec<String> {
    monitor
        .pipelines(filter)
        .map(|p| p.title().into_owned())
        .collect()
}

#[test]
fn the_documented_sample_becomes_one_pipeline_run_stage_and_job() {
    let parsed =
        crate::gitee::parse_notification(include_bytes!("../../tests/fixtures/doc-sample.json"))
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

#[test]
fn a_run_shares_one_context_and_takes_new_sources_when_they_change() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).job(Some("a")).repo("acme/x", "main", "1"),
            ev(2).job(Some("b")).repo("acme/x", "main", "1"),
        ],
    );
    let run = latest(&monitor, 1);
    assert_eq!(run.context().delivery_id, 1);
    let shared = monitor
        .log()
        .entries()
        .filter_map(|e| match &e.event {
            LogEvent::Accepted(a) => Some(&a.checkouts),
            LogEvent::Rejected(_) | LogEvent::Noted(_) => None,
        })
        .all(|checkouts| Arc::ptr_eq(checkouts, run.checkouts()));
    assert!(shared);
    assert_eq!(run.checkouts()[0].repo_path.as_deref(), Some("acme/x"));

    feed(&mut monitor, [ev(3).job(Some("c"))]);
    assert_eq!(latest(&monitor, 1).context().delivery_id, 1);
    let mut with_params = ev(4).job(Some("d")).repo("acme/x", "main", "2");
    with_params.0.notification.global_params = vec![GlobalParam {
        key: Some("k".into()),
        value: Some("v".into()),
        ..GlobalParam::default()
    }];
    feed(&mut monitor, [with_params]);
    let run = latest(&monitor, 1);
    assert_eq!(run.context().delivery_id, 4);
    assert_eq!(run.global_params().len(), 1);
}

#[test]
fn text_from_the_network_is_cleaned_and_bounded() {
    assert_eq!(bounded("plain", 10), "plain");
    assert_eq!(bounded("a\u{1b}[31mred\n", 20), "ared ");
    assert_eq!(bounded("abcdefgh", 4), "abc…");
    assert_eq!(bounded("构建构建", 3), "构…");

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

#[test]
fn names_found_by_their_raw_text_are_what_cleaning_would_find() {
    let mut names = model::Names::new(8);
    let clean = names.get("Build\u{1b}[31m");
    assert_eq!(&*clean, "Build");
    assert!(Arc::ptr_eq(&names.get("Build"), &clean));
    assert!(Arc::ptr_eq(&names.get("Build\u{7}"), &clean));
    let cut = names.get("integration");
    assert_eq!(&*cut, "integra…");
    assert!(Arc::ptr_eq(&names.get("integra…"), &cut));
}

proptest::proptest! {
    /// The raw-first lookup in `Names` relies on this: cleaned text cleans to itself.
    #[test]
    fn cleaning_is_idempotent(text in "\\PC*|[\\x00-\\x7f\u{85}\u{9b}\u{202e}构]{0,40}", width in 0usize..16) {
        let once = bounded(&text, width).into_owned();
        let twice = bounded(&once, width).into_owned();
        proptest::prop_assert_eq!(&twice, &once);
        let mut names = model::Names::new(width);
        proptest::prop_assert_eq!(&*names.get(&text), once.as_str());
        proptest::prop_assert_eq!(&*names.get(&once), once.as_str());
    }
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
fn log_entries_share_their_runs_checkouts_when_the_repository_branch_and_commit_match() {
    let mut m = Monitor::default();
    let upstream = Source::Pipeline {
        build_number: Some(7),
        up_params: None,
        extra: Default::default(),
    };
    let mut second = ev(2).job(Some("test")).repo("acme/app", "main", "abc");
    second.0.notification.sources.push(upstream);
    feed(
        &mut m,
        [
            ev(1).repo("acme/app", "main", "abc"),
            second,
            ev(3).job(Some("lint")).repo("acme/app", "main", "def"),
        ],
    );
    let run = latest(&m, 1);
    let checkouts: Vec<_> = m
        .log()
        .entries()
        .filter_map(|entry| match &entry.event {
            LogEvent::Accepted(entry) => Some(entry.checkouts.clone()),
            LogEvent::Rejected(_) | LogEvent::Noted(_) => None,
        })
        .collect();
    assert_eq!(checkouts.len(), 3);
    assert_eq!(checkouts[0][0].commit_id.as_deref(), Some("abc"));
    assert_eq!(checkouts[1][0].commit_id.as_deref(), Some("abc"));
    assert_eq!(checkouts[2][0].commit_id.as_deref(), Some("def"));
    assert!(Arc::ptr_eq(&checkouts[2], run.checkouts()));
    assert!(!Arc::ptr_eq(&checkouts[0], &checkouts[2]));
}

#[test]
fn jobs_of_a_run_keep_their_own_urls_and_share_equal_ones() {
    let mut m = Monitor::default();
    let mut other = ev(3).job(Some("lint"));
    other.job_mut().pipeline_url = Some("https://gitee.example/p/2".into());
    feed(
        &mut m,
        [ev(1), ev(2).job(Some("test")), other, ev(4).code("FAIL")],
    );
    let run = latest(&m, 1);
    let urls: Vec<_> = run
        .jobs()
        .map(|(_, job)| (job.name(), job.pipeline_url()))
        .collect();
    assert_eq!(
        urls,
        [
            (Some("compile"), Some("https://gitee.example/p/1")),
            (Some("test"), Some("https://gitee.example/p/1")),
            (Some("lint"), Some("https://gitee.example/p/2")),
        ]
    );
    let url = |i: usize| urls[i].1.map(str::as_ptr);
    assert_eq!(url(0), url(1), "one copy of the run's URL");

    let mut dirty = ev(5).job(Some("test"));
    dirty.job_mut().pipeline_url = Some("https://gitee.example/p/1\u{1b}[2J\n".into());
    feed(&mut m, [dirty.code("FAIL")]);
    let test = latest(&m, 1)
        .jobs()
        .find(|(_, job)| job.name() == Some("test"));
    assert_eq!(
        test.and_then(|(_, job)| job.pipeline_url()),
        Some("https://gitee.example/p/1 ")
    );
}

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
                LogEvent::Rejected(_) => None,
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
