//! Rendering snapshots of the key states, drawn into ratatui's `TestBackend`. A snapshot is
//! reviewed like code: `cargo insta review` after an intended change.

use super::{Clock, draw};
use crate::delivery::{Delivery, Ingest, Rejection};
use crate::demo;
use crate::gitee::{Auth, parse_notification};
use crate::monitor::{Monitor, StatusFilter};
use crate::tui::Context;
use crate::tui::keys::Action;
use crate::tui::theme::Theme;
use crate::tui::view::{Focus, View};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;

const DOC_SAMPLE: &str = include_str!("../../../tests/fixtures/doc-sample.json");

pub(super) fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap()
}

pub(super) fn clock(after_secs: i64) -> Clock {
    Clock {
        now: base() + Duration::seconds(after_secs),
        offset: FixedOffset::east_opt(0).unwrap(),
    }
}

pub(super) fn context(verification: bool) -> Context {
    Context {
        webhook_url: "http://127.0.0.1:8787/webhook".into(),
        public_url: None,
        verification,
        theme: Theme::new(false),
        attached: None,
        backlog: None,
    }
}

pub(super) fn delivery(id: u64, at: DateTime<Utc>, body: &[u8]) -> Ingest {
    let parsed = parse_notification(body).unwrap();
    Ingest::Accepted(Arc::new(Delivery {
        id,
        received_at: at,
        sent_at: Some(at),
        auth: Auth::Signature,
        repaired: parsed.repaired(),
        headers: Default::default(),
        notification: parsed.notification,
    }))
}

/// The demo's opening burst and the first twelve seconds of live builds.
fn demo_monitor() -> Monitor {
    let mut monitor = Monitor::default();
    let mut events = demo::history();
    events.extend(demo::cycle(0).into_iter().map(|mut e| {
        e.at += std::time::Duration::from_secs(2);
        e
    }));
    events.sort_by_key(|e| e.at);
    for (i, event) in events
        .iter()
        .take_while(|e| e.at < std::time::Duration::from_secs(14))
        .enumerate()
    {
        let at = base() + Duration::from_std(event.at).unwrap();
        monitor.apply(&delivery(
            i as u64 + 1,
            at,
            event.body.to_string().as_bytes(),
        ));
    }
    monitor.apply(&Ingest::Rejected(Rejection {
        received_at: base() + Duration::seconds(13),
        status: 401,
        reason: "timestamp is 7m12s old; tolerance is 5m".into(),
        peer: "127.0.0.1:53412".parse().ok(),
    }));
    monitor
}

pub(super) fn render(
    monitor: &Monitor,
    view: &View,
    context: &Context,
    width: u16,
    height: u16,
) -> String {
    render_at(monitor, view, context, width, height, 14)
}

/// Drawn `after_secs` after the base time.
pub(super) fn render_at(
    monitor: &Monitor,
    view: &View,
    context: &Context,
    width: u16,
    height: u16,
    after_secs: i64,
) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| draw(frame, monitor, view, context, &clock(after_secs)))
        .unwrap();
    terminal.backend().to_string()
}

#[test]
fn empty_screen_waits_for_the_first_webhook_and_shows_the_url() {
    let screen = render(&Monitor::default(), &View::new(), &context(true), 120, 36);
    insta::assert_snapshot!(screen);
}

#[test]
fn demo_state_fills_every_pane() {
    let screen = render(&demo_monitor(), &View::new(), &context(true), 120, 36);
    insta::assert_snapshot!(screen);
}

#[test]
fn failure_filter_shows_only_failed_pipelines_and_jobs() {
    let monitor = demo_monitor();
    let mut view = View::new();
    view.act(Action::Filter(StatusFilter::Failed), &monitor);
    let screen = render(&monitor, &view, &context(true), 120, 36);
    insta::assert_snapshot!(screen);
}

#[test]
fn search_narrows_pipelines_and_log() {
    let monitor = demo_monitor();
    let mut view = View::new();
    view.filter.search = "release".into();
    let screen = render(&monitor, &view, &context(true), 120, 36);
    insta::assert_snapshot!(screen);
}

#[test]
fn help_overlay_lists_the_key_table() {
    let monitor = demo_monitor();
    let mut view = View::new();
    view.act(Action::Help, &monitor);
    let screen = render(&monitor, &view, &context(true), 120, 36);
    insta::assert_snapshot!(screen);
}

#[test]
fn detail_pane_shows_all_three_source_types_and_global_params() {
    let mut monitor = Monitor::default();
    monitor.apply(&delivery(1, base(), DOC_SAMPLE.as_bytes()));
    let mut view = View::new();
    view.act(Action::Enter, &monitor);
    view.act(Action::Enter, &monitor);
    assert_eq!(view.focus, Focus::Detail);
    let screen = render(&monitor, &view, &context(false), 120, 50);
    insta::assert_snapshot!(screen);
}

#[test]
fn the_byte_for_byte_doc_sample_says_its_up_params_were_repaired() {
    let mut monitor = Monitor::default();
    let sample = include_bytes!("../../../tests/fixtures/doc-sample.txt");
    monitor.apply(&delivery(1, base(), sample));
    let mut view = View::new();
    view.act(Action::Enter, &monitor);
    view.act(Action::Enter, &monitor);
    let screen = render(&monitor, &view, &context(true), 120, 50);
    assert!(
        screen.contains("upParams as unescaped quotes, repaired"),
        "{screen}"
    );
    assert!(screen.contains("GITEE_REPO = git/test"), "{screen}");
    assert!(
        screen.contains("body repaired by the tolerant parser"),
        "{screen}"
    );
}

#[test]
fn detail_pane_names_fields_of_another_shape_and_shows_them_raw() {
    let mut monitor = Monitor::default();
    let body = serde_json::json!({
        "job": {
            "pipelineId": 183,
            "pipelineName": "Test Pipeline",
            "stageName": "Build",
            "jobName": "Java Build",
            "buildNumber": 3.5,
            "statusCode": "FAIL",
            "statusName": "Failed",
            "pipelineUrl": {"href": "https://e.gitee.com/x"}
        },
        "sources": [
            {"sourceType": "GITEE_GO", "repoPath": "acme/app", "branch": ["main"], "commitId": "c2a64f6"},
            "acme/app@main"
        ],
        "globalParams": {"key1": "aaa", "key2": "bbb"}
    });
    monitor.apply(&delivery(1, base(), body.to_string().as_bytes()));
    let mut view = View::new();
    view.act(Action::Enter, &monitor);
    view.act(Action::Enter, &monitor);
    let screen = render(&monitor, &view, &context(true), 120, 56);
    insta::assert_snapshot!(screen);
}

#[test]
fn a_narrow_terminal_folds_panes_away() {
    let screen = render(&demo_monitor(), &View::new(), &context(true), 60, 15);
    insta::assert_snapshot!(screen);
}

#[test]
fn a_tiny_terminal_says_it_is_too_small() {
    let screen = render(&demo_monitor(), &View::new(), &context(true), 30, 8);
    assert!(screen.contains("Terminal too small: 30×8"), "{screen}");
}

#[test]
fn hostile_names_render_as_inert_text() {
    let mut monitor = Monitor::default();
    let body = serde_json::json!({
        "job": {
            "pipelineId": 1,
            "pipelineName": "evil\u{1b}]0;pwned title\u{7}\u{1b}[2Jname\u{202e}txt.exe",
            "stageName": "Build\u{9b}31m",
            "jobName": "job\u{0}\u{7f}",
            "buildNumber": 1,
            "statusCode": "FAIL\u{1b}[5m",
            "statusName": "\u{2066}Failed\u{2069}",
            "pipelineUrl": "https://e.gitee.com/\u{1b}]8;;http://evil\u{1b}\\x"
        }
    });
    monitor.apply(&delivery(1, base(), body.to_string().as_bytes()));
    let mut view = View::new();
    view.act(Action::Enter, &monitor);
    view.act(Action::Enter, &monitor);
    let screen = render(&monitor, &view, &context(true), 120, 36);
    for bad in [
        '\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{0}', '\u{7f}',
    ] {
        assert!(
            !screen.contains(bad),
            "{bad:?} reached the screen:\n{screen}"
        );
    }
    assert!(screen.contains("evilnametxt.exe"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn verification_off_is_said_in_the_header() {
    let screen = render(&Monitor::default(), &View::new(), &context(false), 120, 36);
    assert!(screen.contains("verification off"), "{screen}");
}

#[test]
fn the_log_says_what_a_test_delivery_or_another_hook_was_and_the_detail_its_headers() {
    let with = |id, body: &[u8], headers: crate::delivery::Headers| {
        let Ingest::Accepted(delivery) = delivery(id, base(), body) else {
            unreachable!()
        };
        let mut delivery = (*delivery).clone();
        delivery.headers = headers;
        Ingest::Accepted(Arc::new(delivery))
    };
    // As a journal edited by hand could hold them: the screen cleans them all the same.
    let hostile = |event: &str, id: &str| crate::delivery::Headers {
        ping: false,
        gitee_event: Some(event.into()),
        request_id: Some(id.into()),
    };
    let mut monitor = Monitor::default();
    let ping = crate::delivery::Headers {
        ping: true,
        ..hostile("Push Hook", "req-1")
    };
    monitor.apply(&with(1, b"{}", ping));
    monitor.apply(&with(
        2,
        b"{}",
        hostile("Push\u{1b}[2J Hook", "req\u{9b}31m-2"),
    ));
    monitor.apply(&with(
        3,
        DOC_SAMPLE.as_bytes(),
        hostile("Pipeline Hook", "req-3"),
    ));
    let mut view = View::new();
    view.act(Action::Enter, &monitor);
    view.act(Action::Enter, &monitor);
    let screen = render(&monitor, &view, &context(true), 120, 36);
    assert!(
        screen.contains(
            "◦         test delivery (X-Gitee-Ping)  X-Gitee-Event: Push Hook  X-Request-ID: req-1"
        ),
        "{screen}"
    );
    assert!(
        screen.contains(
            "◦         not a Gitee Go job notification  X-Gitee-Event: Push Hook  X-Request-ID: req-2"
        ),
        "{screen}"
    );
    // The detail pane wraps the line before the request id.
    assert!(
        screen.contains("auth signature · X-Gitee-Event: Pipeline Hook ·"),
        "{screen}"
    );
    assert!(screen.contains("│X-Request-ID: req-3 "), "{screen}");
    assert!(!screen.contains("unknown pipeline"), "{screen}");
    assert!(!screen.contains('\u{1b}') && !screen.contains('\u{9b}'));
}

#[test]
fn an_empty_table_says_deliveries_came_when_none_was_a_job_notification() {
    let mut monitor = Monitor::default();
    let screen = render(&monitor, &View::new(), &context(true), 120, 36);
    assert!(
        screen.contains("Waiting for the first webhook…"),
        "{screen}"
    );
    monitor.apply(&delivery(1, base(), b"{}"));
    monitor.apply(&delivery(2, base(), br#"{"hook_name":"push_hooks"}"#));
    let screen = render(&monitor, &View::new(), &context(true), 120, 36);
    assert!(
        screen.contains("Waiting for the first job notification…"),
        "{screen}"
    );
    assert!(
        screen.contains("2 deliveries, none from a Gitee Go job."),
        "{screen}"
    );
}
