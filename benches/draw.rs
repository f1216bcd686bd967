//! What drawing one frame costs at scale: 10,000 pipelines with a 20-job run each (200,000
//! jobs, so `Limits` is raised to hold them all) and a full 10,000-entry event log, drawn
//! into ratatui's `TestBackend` at 120×36. The target is < 2 ms, and the cost should follow what
//! is on screen, not what is stored:
//!
//! - `following`: the default view, newest pipeline selected, the log following new entries;
//! - `bottom, log scrolled to its oldest`: the last of the 10,000 pipelines selected and the
//!   log paused at its first entry, the two places where a lookup could walk the whole store;
//! - `status filter FAIL`: a filter has to look at every pipeline and log entry to count them,
//!   so this one is expected to follow what is stored; it is here to show by how much.
//!
//! `cargo bench --bench draw`; the results are recorded in BENCHMARKS.md.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use pipetop::delivery::{Delivery, Ingest};
use pipetop::gitee::{Auth, Notification, StatusCode, parse_notification};
use pipetop::monitor::{Limits, Monitor, StatusFilter};
use pipetop::tui::Context;
use pipetop::tui::keys::Action;
use pipetop::tui::theme::Theme;
use pipetop::tui::view::{Focus, View};
use pipetop::tui::widgets::{Clock, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;
use std::sync::Arc;

const DOC_SAMPLE_JSON: &[u8] = include_bytes!("../tests/fixtures/doc-sample.json");
const PIPELINES: u64 = 10_000;
const STAGES: u64 = 4;
const JOBS_PER_STAGE: u64 = 5;
const CODES: [&str; 4] = ["SUCC", "RUNNING", "FAIL", "WAITING"];

fn start() -> DateTime<Utc> {
    Utc::now() - Duration::hours(1)
}

/// Every pipeline's one run, job by job: 200,000 deliveries, the last 10,000 of them in the log.
fn monitor() -> Monitor {
    let template: Notification = parse_notification(DOC_SAMPLE_JSON)
        .unwrap_or_else(|err| panic!("the documented sample parses: {err}"))
        .notification;
    let mut monitor = Monitor::new(Limits {
        pipelines: PIPELINES as usize,
        runs: PIPELINES as usize,
        jobs: (PIPELINES * STAGES * JOBS_PER_STAGE) as usize,
        ..Limits::default()
    });
    let mut id = 0;
    let at = start();
    for job in 0..STAGES * JOBS_PER_STAGE {
        for pipeline in 0..PIPELINES {
            id += 1;
            let mut notification = template.clone();
            let code = CODES[((pipeline + job) % CODES.len() as u64) as usize];
            notification.job.pipeline_id = Some(255_000 + pipeline);
            notification.job.pipeline_name = Some(format!("service-{pipeline}-ci"));
            notification.job.stage_name = Some(format!("stage-{}", job / JOBS_PER_STAGE));
            notification.job.job_name = Some(format!("job-{job}"));
            notification.job.build_number = Some(100 + pipeline % 7);
            notification.job.status_code = Some(StatusCode(code.into()));
            notification.job.status_name = Some(code.to_lowercase());
            let received_at = at + Duration::milliseconds(id as i64);
            monitor.apply(&Ingest::Accepted(Arc::new(Delivery {
                id,
                received_at,
                sent_at: Some(received_at),
                auth: Auth::Signature,
                repaired: false,
                headers: Default::default(),
                notification,
            })));
        }
    }
    assert_eq!(monitor.pipeline_total(), PIPELINES as usize);
    assert_eq!(
        monitor.job_total(),
        (PIPELINES * STAGES * JOBS_PER_STAGE) as usize
    );
    assert_eq!(monitor.log().len(), monitor.log().capacity());
    monitor
}

fn draw_frame(c: &mut Criterion) {
    let monitor = monitor();
    let context = Context {
        webhook_url: "http://127.0.0.1:8787/webhook".into(),
        public_url: None,
        verification: true,
        theme: Theme::new(true),
        attached: None,
        backlog: None,
    };
    let clock = Clock {
        now: start() + Duration::hours(1),
        offset: FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is valid")),
    };

    let following = View::new();
    let mut bottom = View::new();
    bottom.act(Action::Bottom, &monitor);
    bottom.focus = Focus::Log;
    bottom.act(Action::Top, &monitor);
    let mut failed = View::new();
    failed.act(Action::Filter(StatusFilter::Failed), &monitor);

    let mut group = c.benchmark_group("draw 120x36, 10,000 pipelines x 20 jobs, full log");
    for (name, view) in [
        ("following", &following),
        ("bottom, log scrolled to its oldest", &bottom),
        ("status filter FAIL", &failed),
    ] {
        let mut terminal = Terminal::new(TestBackend::new(120, 36))
            .unwrap_or_else(|err| panic!("a test terminal: {err}"));
        group.bench_function(name, |b| {
            b.iter(|| {
                terminal
                    .draw(|frame| draw(frame, &monitor, view, &context, &clock))
                    .map(|_| ())
                    .unwrap_or_else(|err| panic!("drawing into a test terminal: {err}"));
                black_box(terminal.backend());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, draw_frame);
criterion_main!(benches);
