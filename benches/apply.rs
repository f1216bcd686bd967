//! What taking in one delivery costs the monitor, in steady state: a monitor already holding
//! 1,000 pipelines and a full event log, so every apply also evicts the oldest log entry.
//!
//! - `new build`: the first job of a new run, which evicts the pipeline's oldest run once the
//!   run budget is full (the busiest case a real fleet produces);
//! - `status change`: a known job moves on (RUNNING ⇄ WAITING, the sender's clock advancing);
//! - `duplicate`: a resend of the status already known, logged and counted, model unchanged;
//! - `rejection`: a refused request, which only adds a log line.
//!
//! Every apply needs a delivery id of its own (the log ignores an id it already holds), so
//! `iter_custom` builds the deliveries first, untimed, and times only `Monitor::apply`.
//!
//! `cargo bench --bench apply`; the results are recorded in BENCHMARKS.md.

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use pipetop::delivery::{Delivery, Ingest, Rejection};
use pipetop::gitee::{Auth, Notification, StatusCode, parse_notification};
use pipetop::monitor::{Limits, Monitor};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const DOC_SAMPLE_JSON: &[u8] = include_bytes!("../tests/fixtures/doc-sample.json");
const PIPELINES: u64 = 1_000;
const JOBS: [(&str, &str); 7] = [
    ("Build", "compile"),
    ("Build", "unit-tests"),
    ("Test", "integration"),
    ("Test", "lint"),
    ("Test", "contract-tests"),
    ("Deploy", "staging"),
    ("Deploy", "canary"),
];

/// Makes deliveries from the documented sample, with the job fields of a busy fleet.
struct Feed {
    template: Notification,
    next_id: u64,
    at: DateTime<Utc>,
}

impl Feed {
    fn new() -> Feed {
        let parsed = parse_notification(DOC_SAMPLE_JSON)
            .unwrap_or_else(|err| panic!("the documented sample parses: {err}"));
        Feed {
            template: parsed.notification,
            next_id: 1,
            at: Utc::now() - Duration::hours(1),
        }
    }

    fn delivery(&mut self, pipeline: u64, build: u64, job: usize, code: &str) -> Ingest {
        let mut notification = self.template.clone();
        let (stage, name) = JOBS[job % JOBS.len()];
        notification.job.pipeline_id = Some(255_000 + pipeline);
        notification.job.pipeline_name = Some(format!("service-{pipeline}-ci"));
        notification.job.stage_name = Some(stage.into());
        notification.job.job_name = Some(name.into());
        notification.job.build_number = Some(build);
        notification.job.status_code = Some(StatusCode(code.into()));
        notification.job.status_name = Some(code.to_lowercase());
        self.at += Duration::milliseconds(1);
        let delivery = Delivery {
            id: self.next_id,
            received_at: self.at,
            sent_at: Some(self.at),
            auth: Auth::Signature,
            repaired: false,
            headers: Default::default(),
            notification,
        };
        self.next_id += 1;
        Ingest::Accepted(Arc::new(delivery))
    }

    fn rejection(&mut self) -> Ingest {
        self.at += Duration::milliseconds(1);
        Ingest::Rejected(Rejection {
            received_at: self.at,
            status: 401,
            reason: "the X-Gitee-Token signature does not match the secret".into(),
            peer: "127.0.0.1:53412".parse().ok(),
        })
    }
}

/// 1,000 pipelines with one run of seven running jobs each, and a full log.
fn warm() -> (Monitor, Feed) {
    let mut monitor = Monitor::new(Limits::default());
    let mut feed = Feed::new();
    for job in 0..JOBS.len() {
        for pipeline in 0..PIPELINES {
            monitor.apply(&feed.delivery(pipeline, 1, job, "RUNNING"));
        }
    }
    while monitor.log().len() < monitor.log().capacity() {
        monitor.apply(&feed.rejection());
    }
    (monitor, feed)
}

/// Times `Monitor::apply` over `iters` deliveries made (untimed) by `make`.
fn timed(
    monitor: &mut Monitor,
    feed: &mut Feed,
    iters: u64,
    mut make: impl FnMut(&mut Feed, u64) -> Ingest,
) -> std::time::Duration {
    let batch: Vec<Ingest> = (0..iters).map(|i| make(feed, i)).collect();
    let start = Instant::now();
    for ingest in &batch {
        black_box(monitor.apply(black_box(ingest)));
    }
    let elapsed = start.elapsed();
    drop(batch);
    elapsed
}

fn apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply");

    let (mut monitor, mut feed) = warm();
    let mut build = 1;
    group.bench_function("new build", |b| {
        b.iter_custom(|iters| {
            timed(&mut monitor, &mut feed, iters, |feed, i| {
                let pipeline = i % PIPELINES;
                if pipeline == 0 {
                    build += 1;
                }
                feed.delivery(pipeline, build, 0, "RUNNING")
            })
        })
    });

    let (mut monitor, mut feed) = warm();
    let mut round = 0u64;
    group.bench_function("status change", |b| {
        b.iter_custom(|iters| {
            timed(&mut monitor, &mut feed, iters, |feed, i| {
                let slot = i % (PIPELINES * JOBS.len() as u64);
                if slot == 0 {
                    round += 1;
                }
                let code = if round % 2 == 1 { "WAITING" } else { "RUNNING" };
                let (pipeline, job) = (slot % PIPELINES, slot / PIPELINES);
                feed.delivery(pipeline, 1, job as usize, code)
            })
        })
    });

    let (mut monitor, mut feed) = warm();
    group.bench_function("duplicate", |b| {
        b.iter_custom(|iters| {
            timed(&mut monitor, &mut feed, iters, |feed, i| {
                feed.delivery(i % PIPELINES, 1, (i / PIPELINES) as usize, "RUNNING")
            })
        })
    });

    let (mut monitor, mut feed) = warm();
    group.bench_function("rejection", |b| {
        b.iter_custom(|iters| timed(&mut monitor, &mut feed, iters, |feed, _| feed.rejection()))
    });
    group.finish();
}

criterion_group!(benches, apply);
criterion_main!(benches);
