//! What saving and restoring the screen costs with the default budgets full: 5,000 pipelines,
//! each with one run of 10 jobs described by the documented sample's sources and globalParams
//! (5,000 runs and 50,000 jobs, the `Limits::default()` bounds), and a full 10,000-entry log.
//!
//! - `clone`: the copy the TUI takes on its own thread every few minutes while the screen
//!   changes; writing it happens on a blocking thread;
//! - `save`: serializing the monitor (the file is this plus one write);
//! - `restore`: reading it back, what a warm start waits for before its first frame.
//!
//! `cargo bench --bench snapshot`; the results are recorded in BENCHMARKS.md.

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use pipetop::delivery::{Delivery, Ingest};
use pipetop::gitee::{Auth, Notification, StatusCode, parse_notification};
use pipetop::monitor::{Limits, Monitor};
use std::hint::black_box;
use std::sync::Arc;

const DOC_SAMPLE_JSON: &[u8] = include_bytes!("../tests/fixtures/doc-sample.json");
const PIPELINES: u64 = 5_000;
const JOBS: u64 = 10;

fn full_monitor() -> Monitor {
    let template: Notification = parse_notification(DOC_SAMPLE_JSON)
        .unwrap_or_else(|err| panic!("the documented sample parses: {err}"))
        .notification;
    let mut monitor = Monitor::default();
    let at = Utc::now() - Duration::hours(1);
    let mut id = 0;
    for job in 0..JOBS {
        for pipeline in 0..PIPELINES {
            id += 1;
            let mut notification = template.clone();
            notification.job.pipeline_id = Some(255_000 + pipeline);
            notification.job.pipeline_name = Some(format!("service-{pipeline}-ci"));
            notification.job.stage_name = Some(format!("stage-{}", job / 5));
            notification.job.job_name = Some(format!("job-{job}"));
            notification.job.build_number = Some(100 + pipeline % 7);
            notification.job.status_code = Some(StatusCode("SUCC".into()));
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
    assert_eq!(monitor.run_total(), monitor.limits().runs);
    assert_eq!(monitor.job_total(), monitor.limits().jobs);
    assert_eq!(monitor.log().len(), monitor.log().capacity());
    monitor
}

fn snapshot(c: &mut Criterion) {
    let monitor = full_monitor();
    let mut bytes = Vec::new();
    monitor
        .save(&mut bytes)
        .unwrap_or_else(|err| panic!("saving: {err}"));
    eprintln!("snapshot of the full monitor: {} bytes", bytes.len());

    let mut group = c.benchmark_group("snapshot, 5,000 runs x 10 jobs, full log");
    group.sample_size(20);
    group.bench_function("clone", |b| b.iter(|| black_box(monitor.clone())));
    group.bench_function("save", |b| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            monitor
                .save(&mut out)
                .unwrap_or_else(|err| panic!("saving: {err}"));
            black_box(&out);
        })
    });
    group.bench_function("restore", |b| {
        b.iter(|| {
            black_box(
                Monitor::restore(&bytes, Limits::default())
                    .unwrap_or_else(|err| panic!("restoring: {err}")),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, snapshot);
criterion_main!(benches);
