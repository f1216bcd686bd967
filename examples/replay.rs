//! What starting over a large journal costs: writes a journal of realistic deliveries, then
//! times reading it back the way `pipetop` does on start (open, replay onto the channel, apply
//! every delivery to a `Monitor`), until the whole history is in the model.
//!
//! ```text
//! cargo run --release --example replay -- generate /tmp/journal.jsonl 1000000
//! cargo run --release --example replay -- load /tmp/journal.jsonl
//! cargo run --release --example replay -- parse /tmp/journal.jsonl
//! cargo run --release --example replay -- apply /tmp/journal.jsonl
//! ```
//! `generate` writes about 800 bytes a line (1,000,000 lines: 800 MB). `load` is the start as
//! the TUI sees it, and also prints the CPU time of the applying thread and of all threads,
//! which a shared machine disturbs less than the wall clock; `parse` reads the journal back
//! without a monitor, on as many parsing threads as pipetop uses, and `apply` times the monitor
//! alone over deliveries already in memory, to tell the two costs apart. `bench/replay.sh` runs
//! them all; the results are recorded in BENCHMARKS.md.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Event, Rng};
use pipetop::delivery::{CHANNEL_CAPACITY, Progress};
use pipetop::delivery::{Delivery, Ingest};
use pipetop::gitee::{Auth, parse_notification};
use pipetop::monitor::Monitor;
use pipetop::store::guard::Fingerprint;
use pipetop::store::journal::{self, Journal};
use pipetop::store::replay;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

const USAGE: &str = "usage: replay generate FILE LINES | load FILE | parse FILE | apply FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate", file, lines] => match lines.parse() {
            Ok(lines) => generate(Path::new(file), lines),
            Err(_) => Err(format!("LINES must be a whole number, not {lines:?}")),
        },
        ["load", file] => load(Path::new(file)),
        ["parse", file] => parse(Path::new(file)),
        ["apply", file] => apply(Path::new(file)),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("replay: {reason}");
            ExitCode::FAILURE
        }
    }
}

const STAGES: &[(&str, &[&str])] = &[
    ("Build", &["Java Build", "Node Build", "Docker Image"]),
    (
        "Test",
        &[
            "unit-tests",
            "integration (shard 1/2)",
            "integration (shard 2/2)",
        ],
    ),
    ("Deploy", &["deploy-staging"]),
];

/// How many pipelines the generated traffic spreads over.
const PIPELINES: u64 = 400;

/// One notification body: a job of one of the pipelines, in a build that advances as the
/// pipeline gets events, from a Gitee repository, one build in ten also from an upstream
/// pipeline.
fn body(rng: &mut Rng, per_pipeline: &mut [u64]) -> String {
    let pipeline = rng.next() % PIPELINES;
    let seen = &mut per_pipeline[pipeline as usize];
    *seen += 1;
    // About two events per job of a seven-job run: a new build every 14 events, and the one
    // before still gets late events now and then.
    let build = 100 + (*seen / 14).saturating_sub(rng.next() % 2);
    let (stage, jobs) = *rng.pick(STAGES);
    let job = *rng.pick(jobs);
    let (code, name) = rng.status();
    let id = 255_000 + pipeline;
    // Every job of a build is built from the same commit.
    let mut commit_rng = Rng((id << 32 | build) ^ 0x9E37_79B9_7F4A_7C15);
    let commit = (
        commit_rng.next(),
        commit_rng.next(),
        commit_rng.next() as u32,
    );
    let mut body = String::with_capacity(1024);
    Event {
        pipeline,
        stage,
        job,
        code,
        name,
        build,
        commit,
        upstream: commit_rng.next().is_multiple_of(10),
    }
    .write_body(&mut body);
    body
}

fn generate(path: &Path, lines: u64) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut per_pipeline = vec![0; PIPELINES as usize];
    // A month of history, a few seconds apart, ending now.
    let start: DateTime<Utc> = Utc::now() - TimeDelta::days(30);
    let step = TimeDelta::milliseconds(30 * 24 * 3600 * 1000 / lines.max(1) as i64);
    let mut bytes = 0u64;
    for id in 1..=lines {
        let body = body(&mut rng, &mut per_pipeline);
        let parsed = parse_notification(body.as_bytes()).map_err(|err| err.to_string())?;
        let received_at = start + step * id as i32;
        let timestamp = (received_at.timestamp_millis() - 40).to_string();
        let delivery = Delivery {
            id,
            received_at,
            sent_at: DateTime::from_timestamp_millis(received_at.timestamp_millis() - 40),
            auth: Auth::Signature,
            repaired: parsed.repaired(),
            headers: Default::default(),
            notification: parsed.notification,
        };
        let fingerprint = Fingerprint::of(Some(&timestamp), Some("token"), body.as_bytes(), true);
        let line = journal::line(&delivery, fingerprint.as_ref()).map_err(|err| err.to_string())?;
        bytes += line.len() as u64;
        out.write_all(&line).map_err(|err| err.to_string())?;
    }
    out.flush().map_err(|err| err.to_string())?;
    println!(
        "wrote {lines} lines, {} bytes ({} bytes a line) to {}",
        bytes,
        bytes / lines.max(1),
        path.display()
    );
    Ok(())
}

fn open(path: &Path) -> Result<journal::History, String> {
    let opened = Journal::open(path, u64::MAX, Utc::now()).map_err(|err| err.to_string())?;
    Ok(opened.history)
}

/// The start as the TUI sees it: open, replay onto the channel, apply each delivery as it comes.
fn load(path: &Path) -> Result<(), String> {
    let started = Instant::now();
    let history = open(path)?;
    let opened = started.elapsed();
    let (live_tx, live_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (tx, mut rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (progress_tx, progress_rx) = watch::channel(Progress::default());
    // No live traffic: once the history is sent, the feed closes the channel.
    drop(live_tx);
    let feeder = replay::feed(history, live_rx, tx, progress_tx).map_err(|err| err.to_string())?;
    let mut monitor = Monitor::default();
    let mut applied = 0u64;
    while let Some(ingest) = rx.blocking_recv() {
        monitor.apply(&ingest);
        applied += 1;
    }
    let elapsed = started.elapsed();
    let applying = cpu_seconds(libc::CLOCK_THREAD_CPUTIME_ID);
    feeder.join().map_err(|_| "the replay thread panicked")?;
    let progress = progress_rx.borrow().clone();
    println!(
        "load: {applied} deliveries applied in {:.3} s (CPU: {:.3} s applying, {:.3} s all threads; journal opened in {:.3} s; {} skipped); {} pipelines, {} runs, {} jobs, {} log entries",
        elapsed.as_secs_f64(),
        applying,
        cpu_seconds(libc::CLOCK_PROCESS_CPUTIME_ID),
        opened.as_secs_f64(),
        progress.skipped_total,
        monitor.pipeline_total(),
        monitor.run_total(),
        monitor.job_total(),
        monitor.log().len(),
    );
    Ok(())
}

/// CPU time of this thread or the whole process so far, in seconds.
fn cpu_seconds(clock: libc::clockid_t) -> f64 {
    let mut at = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `at` is a valid timespec for the call to fill in.
    if unsafe { libc::clock_gettime(clock, &mut at) } != 0 {
        return f64::NAN;
    }
    at.tv_sec as f64 + at.tv_nsec as f64 * 1e-9
}

/// Reading the journal back alone, the way the replay thread reads it.
fn parse(path: &Path) -> Result<(), String> {
    let started = Instant::now();
    let (mut read, mut skipped) = (0u64, 0u64);
    let mut reader = open(path)?.read(journal::parsers());
    while let Some(batch) = reader.next_batch() {
        for entry in &batch.entries {
            match entry {
                Ok(_) => read += 1,
                Err(_) => skipped += 1,
            }
        }
        reader.give_back(batch);
    }
    let elapsed = started.elapsed();
    println!(
        "parse: {read} deliveries read in {:.3} s ({:.2} µs each; {skipped} skipped)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / read.max(1) as f64
    );
    Ok(())
}

/// The monitor alone, over deliveries already read.
fn apply(path: &Path) -> Result<(), String> {
    let ingests: Vec<Ingest> = open(path)?
        .entries()
        .filter_map(Result::ok)
        .map(Ingest::Accepted)
        .collect();
    let started = Instant::now();
    let mut monitor = Monitor::default();
    for ingest in &ingests {
        monitor.apply(ingest);
    }
    let elapsed = started.elapsed();
    println!(
        "apply: {} deliveries applied in {:.3} s ({:.2} µs each)",
        ingests.len(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / ingests.len().max(1) as f64
    );
    Ok(())
}
