//! Many viewers on a pipetop feed, for measuring team mode: opens `--viewers` streams on a
//! loopback server's `GET /events` (live only: after the last id stored when it starts), and
//! records when each delivery arrived in each. With loadgen's `--answers FILE` it reports the
//! time from a delivery's answer to its arrival in every viewer, and which viewers missed any.
//!
//! ```text
//! cargo run --release --example viewers -- --url http://127.0.0.1:8787 --token T \
//!     --viewers 100 --duration 20s [--answers FILE]
//! ```

use clap::Parser;
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Past this a run is a soak test, not a benchmark.
const MAX_RUN: Duration = Duration::from_secs(600);

#[derive(Parser)]
#[command(about = "Attach many viewers to a loopback pipetop feed and time what they receive")]
struct Args {
    /// The server, e.g. http://127.0.0.1:8787; only loopback hosts are accepted.
    #[arg(long)]
    url: String,
    /// The viewer token.
    #[arg(long, env = "PIPETOP_VIEWER_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long, default_value_t = 100)]
    viewers: usize,
    /// How long to stay attached (at most 10m).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// loadgen's `--answers` file: `<id> <unix micros>` per answered delivery.
    #[arg(long)]
    answers: Option<std::path::PathBuf>,
}

fn micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if !loopback.iter().any(|prefix| args.url.starts_with(prefix)) || args.duration > MAX_RUN {
        eprintln!("viewers: loopback URLs only, and at most 10m");
        return ExitCode::from(2);
    }
    let base = args.url.trim_end_matches('/').to_owned();
    let health = ureq::get(format!("{base}/healthz"))
        .call()
        .and_then(|mut r| r.body_mut().read_to_string());
    let health: serde_json::Value = match health {
        Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
        Err(err) => {
            eprintln!("viewers: no /healthz at {base}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let after = health["last_id"].as_u64().unwrap_or(0);
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..args.viewers)
        .map(|_| {
            let (base, token, stop) = (base.clone(), args.token.clone(), Arc::clone(&stop));
            std::thread::spawn(move || watch(&base, &token, after, &stop))
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(args.duration);
    stop.store(true, Ordering::Relaxed);
    let (seen, reconnects): (Vec<Vec<(u64, u64)>>, Vec<u64>) = threads
        .into_iter()
        .map(|t| t.join().unwrap_or_default())
        .unzip();
    let counts: Vec<usize> = seen.iter().map(Vec::len).collect();
    println!(
        "{} viewers for {:.1}s after id {after}: deliveries seen per viewer min {} max {}; reconnections {}",
        args.viewers,
        started.elapsed().as_secs_f64(),
        counts.iter().min().unwrap_or(&0),
        counts.iter().max().unwrap_or(&0),
        reconnects.iter().sum::<u64>()
    );
    let Some(path) = args.answers else {
        return ExitCode::SUCCESS;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let answered: HashMap<u64, u64> = text
        .lines()
        .filter_map(|line| {
            let (id, at) = line.split_once(' ')?;
            Some((id.parse().ok()?, at.parse().ok()?))
        })
        .filter(|(id, _)| *id > after)
        .collect();
    let mut latency = Histogram::<u64>::new_with_max(60_000_000, 3).expect("a histogram");
    let mut missing = 0usize;
    let mut out_of_order = 0usize;
    for viewer in &seen {
        let arrived: HashMap<u64, u64> = viewer.iter().copied().collect();
        out_of_order += viewer.windows(2).filter(|w| w[1].0 != w[0].0 + 1).count();
        for (id, at) in &answered {
            match arrived.get(id) {
                Some(seen_at) => {
                    let _ = latency.record(seen_at.saturating_sub(*at));
                }
                None => missing += 1,
            }
        }
    }
    println!(
        "answered {} deliveries; answer -> viewer over {} arrivals: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; missing {missing}; gaps or repeats {out_of_order}",
        answered.len(),
        latency.len(),
        latency.value_at_quantile(0.5) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
        latency.max() as f64 / 1000.0
    );
    ExitCode::SUCCESS
}

/// One viewer: `(id, arrival micros)` for every delivery until `stop`. A viewer cut off for
/// falling behind comes back after the last id it saw, as `pipetop attach` does. A read waits
/// past the server's 15 s keep-alive, so an idle stream is not taken for a dead one.
fn watch(base: &str, token: &str, after: u64, stop: &AtomicBool) -> (Vec<(u64, u64)>, u64) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_per_read(Some(Duration::from_secs(16)))
        .build()
        .into();
    let mut seen = Vec::new();
    let mut last = after;
    let mut connections = 0u64;
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok(response) = agent
            .get(format!("{base}/events?after={last}"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
        else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        connections += 1;
        let mut reader = BufReader::new(response.into_body().into_reader());
        while !stop.load(Ordering::Relaxed) {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if let Some(Ok(id)) = line.strip_prefix("id: ").map(|id| id.trim().parse()) {
                        seen.push((id, micros()));
                        last = id;
                    }
                }
                Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
        }
    }
    (seen, connections.saturating_sub(1))
}
