//! A load generator for pipetop's receiver, and for the bare reference it is measured against.
//!
//! It sends Gitee-signed pipeline notifications over keep-alive HTTP/1.1 connections to a
//! loopback URL, each with its own timestamp and body (pipelines, stages, jobs, builds and
//! statuses vary the way a busy fleet's do), for a bounded time, and reports accepted
//! requests per second, refusals, errors and latency percentiles. With `--rate` it paces the
//! whole run at a fixed number of events per second, and a request held back by a slow
//! response counts its latency from the moment it was due (no coordinated omission).
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8787/webhook --secret s \
//!     --connections 32 --duration 10s [--rate 1000] [--json] [--answers FILE]
//! ```
//!
//! `--answers FILE` writes `<delivery id> <unix micros>` for every accepted request, from the
//! `"id"` pipetop answers with and the moment the answer was read; with the TUI's
//! `PIPETOP_FRAME_LOG` this gives the time from answer to screen (`bench/visible.sh`).

mod common;

use bytes::Bytes;
use clap::Parser;
use common::{Event, Rng};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use pipetop::gitee::sign;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Past this a run is a soak test, not a benchmark; keeping runs short keeps them repeatable.
const MAX_RUN: Duration = Duration::from_secs(300);
const MAX_CONNECTIONS: usize = 4096;
/// Latencies are recorded in microseconds up to a minute, to three significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;

#[derive(Parser)]
#[command(about = "Send Gitee-signed pipeline notifications to a loopback receiver and measure it")]
struct Args {
    /// The receiver's webhook URL; only loopback hosts are accepted.
    #[arg(long)]
    url: String,
    /// The receiver's secret; without one, requests carry no X-Gitee-Token.
    #[arg(long, env = "PIPETOP_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to measure, after the warm-up (at most 5m).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// How long to send before measuring, so connections and caches are warm.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Pace the whole run at this many requests per second instead of as fast as possible.
    #[arg(long)]
    rate: Option<u32>,
    /// Stop after this many measured requests, if that comes before --duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Tokio worker threads for the generator itself.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// How many distinct pipelines the notifications come from.
    #[arg(long, default_value_t = 40)]
    pipelines: u32,
    /// How far before now the first X-Gitee-Timestamp may lie; keep it inside the receiver's
    /// tolerance. Every request needs a timestamp of its own, since a receiver accepts each
    /// (timestamp, token) pair once, and a millisecond clock gives only 1,000 a second.
    #[arg(long, default_value = "4m", value_parser = humantime::parse_duration)]
    backdate: Duration,
    /// Print one JSON object on stdout instead of the text report.
    #[arg(long)]
    json: bool,
    /// Write `<delivery id> <unix micros>` per accepted request (warm-up included) to FILE,
    /// ordered by id: when each answer was read, for matching against a frame log.
    #[arg(long, value_name = "FILE")]
    answers: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let target = match Target::from_url(&args.url) {
        Ok(target) => target,
        Err(reason) => return fail(&reason),
    };
    if let Err(reason) = check_bounds(&args) {
        return fail(&reason);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    let report = runtime.block_on(run(&args, Arc::new(target)));
    if let Some(path) = &args.answers
        && let Err(err) = write_answers(path, &report.tally.answers)
    {
        return fail(&format!("cannot write {}: {err}", path.display()));
    }
    if args.json {
        println!("{}", report.to_json(&args));
    } else {
        report.print(&args);
    }
    match report.problem() {
        Some(problem) => fail(&problem),
        None => ExitCode::SUCCESS,
    }
}

fn write_answers(path: &std::path::Path, answers: &[(u64, u64)]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut sorted = answers.to_vec();
    sorted.sort_unstable();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (id, micros) in sorted {
        writeln!(out, "{id} {micros}")?;
    }
    out.flush()
}

fn fail(reason: &str) -> ExitCode {
    eprintln!("loadgen: {reason}");
    ExitCode::FAILURE
}

fn check_bounds(args: &Args) -> Result<(), String> {
    if args.connections == 0 || args.connections > MAX_CONNECTIONS {
        return Err(format!("--connections must be 1 to {MAX_CONNECTIONS}"));
    }
    if args.duration.is_zero() || args.duration + args.warmup > MAX_RUN {
        return Err("--duration must be above zero, and with --warmup at most 5m".into());
    }
    if args.rate == Some(0) {
        return Err("--rate must be at least 1 request per second".into());
    }
    if args.threads == 0 || args.pipelines == 0 {
        return Err("--threads and --pipelines must be at least 1".into());
    }
    Ok(())
}

/// Where the requests go: a loopback address, and the request target and Host header.
struct Target {
    addr: SocketAddr,
    path: String,
    host: HeaderValue,
}

impl Target {
    fn from_url(url: &str) -> Result<Target, String> {
        let uri: Uri = url
            .parse()
            .map_err(|err| format!("--url {url:?} is not a URL: {err}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "--url {url:?} must start with http:// (TLS is not measured)"
            ));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--url {url:?} has no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let ip = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.parse::<IpAddr>()
                .map_err(|_| format!("--url host {host:?} must be a loopback address"))?
        };
        // A load generator aimed elsewhere is an attack on someone else's service.
        if !ip.is_loopback() {
            return Err(format!(
                "--url host {ip} is not loopback; loadgen only targets this machine"
            ));
        }
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("--url {url:?} has a host that cannot be sent in a header"))?;
        let path = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        Ok(Target {
            addr: SocketAddr::new(ip, authority.port_u16().unwrap_or(80)),
            path,
            host,
        })
    }
}

/// What every connection shares: the clock of the run and the supply of timestamps.
struct Plan {
    target: Arc<Target>,
    secret: Option<String>,
    pipelines: u32,
    /// When measuring starts (after the warm-up) and when sending stops.
    measure_from: Instant,
    stop_at: Instant,
    /// Per connection, one request every `interval`, when paced.
    interval: Option<Duration>,
    /// Measured requests allowed, when --requests bounds the run.
    budget: Option<u64>,
    taken: AtomicU64,
    /// The next unused X-Gitee-Timestamp, in milliseconds.
    next_timestamp: AtomicU64,
    backdate_ms: u64,
    /// Set when the timestamps would run further ahead of the clock than `backdate`.
    exhausted: AtomicBool,
    /// Record each accepted request's delivery id and answer time (`--answers`).
    answers: bool,
}

impl Plan {
    /// A timestamp no other request of this run has: the clock minus `backdate`, or later
    /// when the run sends more than one request per millisecond; `None` once that would put
    /// it more than `backdate` ahead of the clock, where the receiver's tolerance ends.
    fn timestamp(&self) -> Option<u64> {
        let now = unix_millis();
        self.next_timestamp
            .fetch_max(now.saturating_sub(self.backdate_ms), Ordering::Relaxed);
        let ts = self.next_timestamp.fetch_add(1, Ordering::Relaxed);
        if ts > now + self.backdate_ms {
            self.exhausted.store(true, Ordering::Relaxed);
            return None;
        }
        Some(ts)
    }

    /// Whether one more measured request fits in `--requests`.
    fn take_ticket(&self) -> bool {
        match self.budget {
            None => true,
            Some(budget) => self.taken.fetch_add(1, Ordering::Relaxed) < budget,
        }
    }
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The delivery id in pipetop's answer, `{"ok":true,"id":7}`; other receivers send none.
fn answered_id(body: &[u8]) -> Option<u64> {
    let key = b"\"id\":";
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&body[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// What one connection saw while measuring.
struct Tally {
    latency_us: Histogram<u64>,
    accepted: u64,
    refused: BTreeMap<u16, u64>,
    /// Counted during the warm-up too: a connection failing there is as much a problem.
    errors: u64,
    first_error: Option<String>,
    /// `(delivery id, unix micros)` per accepted request, with `--answers`.
    answers: Vec<(u64, u64)>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            // Bounds are constants that hdrhistogram accepts; a failure here is a bug in them.
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .unwrap_or_else(|err| unreachable!("histogram bounds are valid: {err}")),
            accepted: 0,
            refused: BTreeMap::new(),
            errors: 0,
            first_error: None,
            answers: Vec::new(),
        }
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    fn merge(&mut self, other: Tally) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.accepted += other.accepted;
        for (status, count) in other.refused {
            *self.refused.entry(status).or_default() += count;
        }
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.answers.extend(other.answers);
    }
}

async fn run(args: &Args, target: Arc<Target>) -> Report {
    let start = Instant::now();
    let measure_from = start + args.warmup;
    let plan = Arc::new(Plan {
        target,
        secret: args.secret.clone(),
        pipelines: args.pipelines,
        measure_from,
        stop_at: measure_from + args.duration,
        interval: args
            .rate
            .map(|rate| Duration::from_secs_f64(args.connections as f64 / f64::from(rate))),
        budget: args.requests,
        taken: AtomicU64::new(0),
        next_timestamp: AtomicU64::new(0),
        backdate_ms: u64::try_from(args.backdate.as_millis()).unwrap_or(u64::MAX),
        exhausted: AtomicBool::new(false),
        answers: args.answers.is_some(),
    });
    let tasks: Vec<_> = (0..args.connections)
        .map(|index| {
            // Paced connections start staggered, so the run's requests are evenly spread.
            let offset = plan.interval.map_or(Duration::ZERO, |i| {
                i.mul_f64(index as f64 / args.connections as f64)
            });
            tokio::spawn(connection(Arc::clone(&plan), index as u64, start + offset))
        })
        .collect();
    let mut total = Tally::new();
    for task in tasks {
        match task.await {
            Ok(tally) => total.merge(tally),
            Err(err) => total.error(format!("a connection task failed: {err}")),
        }
    }
    Report {
        elapsed: measure_from.elapsed(),
        tally: total,
        exhausted: plan.exhausted.load(Ordering::Relaxed),
    }
}

/// One keep-alive connection, reconnecting after errors, until the run ends.
async fn connection(plan: Arc<Plan>, index: u64, first_due: Instant) -> Tally {
    let mut tally = Tally::new();
    let mut fleet = Fleet::new(plan.pipelines, index);
    let mut due = first_due;
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        // A paced request that is late because the previous response was slow counts its
        // latency from when it was due, so a stalled receiver cannot hide its stall; one that
        // waited for its turn counts from when it actually went, so the generator's own timer
        // lag (up to a millisecond in tokio) is not charged to the receiver.
        let sent_at = match plan.interval {
            Some(interval) => {
                let this = due;
                due += interval;
                if Instant::now() < this && this < plan.stop_at {
                    tokio::time::sleep_until(this).await;
                    Instant::now()
                } else {
                    this
                }
            }
            None => Instant::now(),
        };
        if sent_at >= plan.stop_at {
            return tally;
        }
        let measured = sent_at >= plan.measure_from;
        if measured && !plan.take_ticket() {
            return tally;
        }
        let Some(timestamp) = plan.timestamp() else {
            return tally;
        };
        let request = match fleet.request(&plan, timestamp) {
            Ok(request) => request,
            Err(err) => {
                tally.error(format!("cannot build a request: {err}"));
                return tally;
            }
        };
        let live = match sender.take() {
            Some(live) => Ok(live),
            None => connect(plan.target.addr).await,
        };
        let outcome = match live {
            Ok(live) => exchange(live, request).await,
            Err(err) => Err(err),
        };
        match outcome {
            Ok((live, status, body)) => {
                sender = Some(live);
                if plan.answers
                    && (200..300).contains(&status)
                    && let Some(id) = answered_id(&body)
                {
                    tally.answers.push((id, unix_micros()));
                }
                if measured {
                    let micros = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
                    tally.latency_us.saturating_record(micros.max(1));
                    if (200..300).contains(&status) {
                        tally.accepted += 1;
                    } else {
                        *tally.refused.entry(status).or_default() += 1;
                    }
                }
            }
            Err(err) => {
                tally.error(err);
                // A receiver that is down should not turn this loop into a busy spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    // Requests are small and latency is what is measured: do not let Nagle hold them back.
    stream
        .set_nodelay(true)
        .map_err(|err| format!("cannot set TCP_NODELAY: {err}"))?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| format!("HTTP handshake with {addr} failed: {err}"))?;
    // The connection's own errors surface through the sender, so its result is not needed.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole response, so the connection is ready for the next.
async fn exchange(
    mut sender: SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<(SendRequest<Full<Bytes>>, u16, Bytes), String> {
    sender
        .ready()
        .await
        .map_err(|err| format!("connection closed: {err}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| format!("request failed: {err}"))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|err| format!("reading the response failed: {err}"))?
        .to_bytes();
    Ok((sender, status, body))
}

/// The stages and jobs every generated pipeline has, in order.
const STAGES: &[(&str, &[&str])] = &[
    ("Build", &["compile", "unit-tests"]),
    ("Test", &["integration", "lint", "contract-tests"]),
    ("Deploy", &["staging", "canary"]),
];

/// A connection's view of the fleet: it makes notification bodies that differ request by
/// request, from a cheap generator seeded per connection so runs are repeatable.
struct Fleet {
    pipelines: u32,
    rng: Rng,
    body: String,
}

impl Fleet {
    fn new(pipelines: u32, index: u64) -> Fleet {
        Fleet {
            pipelines,
            rng: Rng(0x9E37_79B9_7F4A_7C15 ^ (index + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9)),
            body: String::with_capacity(1024),
        }
    }

    fn request(
        &mut self,
        plan: &Plan,
        timestamp: u64,
    ) -> Result<Request<Full<Bytes>>, hyper::http::Error> {
        self.write_body();
        let timestamp = timestamp.to_string();
        let mut request = Request::post(plan.target.path.as_str())
            .header(HOST, plan.target.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "pipetop-loadgen")
            .header("X-Gitee-Timestamp", timestamp.as_str());
        if let Some(secret) = &plan.secret {
            request = request.header("X-Gitee-Token", sign(secret, &timestamp));
        }
        request.body(Full::new(Bytes::from(self.body.clone())))
    }

    fn write_body(&mut self) {
        let pipeline = self.rng.next() % u64::from(self.pipelines) + 1;
        let (stage, jobs) = *self.rng.pick(STAGES);
        let job = *self.rng.pick(jobs);
        let (code, name) = self.rng.status();
        // Builds advance slowly per pipeline; a few runs of each are live at once.
        let build = 100 + (unix_millis() / 20_000) % 1000 + self.rng.next() % 3;
        let commit = (self.rng.next(), self.rng.next(), self.rng.next() as u32);
        let upstream = self.rng.next().is_multiple_of(10);

        Event {
            pipeline,
            stage,
            job,
            code,
            name,
            build,
            commit,
            upstream,
        }
        .write_body(&mut self.body);
    }
}

/// The result of a run.
struct Report {
    elapsed: Duration,
    tally: Tally,
    exhausted: bool,
}

impl Report {
    fn refused(&self) -> u64 {
        self.tally.refused.values().sum()
    }

    fn rps(&self) -> f64 {
        self.tally.accepted as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        self.tally.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    fn max_ms(&self) -> f64 {
        self.tally.latency_us.max() as f64 / 1000.0
    }

    fn refusals(&self) -> String {
        let parts: Vec<String> = self
            .tally
            .refused
            .iter()
            .map(|(status, count)| format!("{status}×{count}"))
            .collect();
        parts.join(", ")
    }

    /// Why this run's numbers should not be trusted, if they should not.
    fn problem(&self) -> Option<String> {
        if self.exhausted {
            return Some(
                "ran out of distinct timestamps inside --backdate; use a shorter --duration \
                 or a wider --backdate (and receiver tolerance)"
                    .into(),
            );
        }
        if self.refused() > 0 {
            return Some(format!(
                "{} requests were refused ({}); the receiver did not accept this load",
                self.refused(),
                self.refusals()
            ));
        }
        if self.tally.errors > 0 {
            return Some(format!(
                "{} requests failed, the first with: {}",
                self.tally.errors,
                self.tally
                    .first_error
                    .as_deref()
                    .unwrap_or("an unknown error")
            ));
        }
        if self.tally.accepted == 0 {
            return Some("no request was accepted".into());
        }
        None
    }

    fn print(&self, args: &Args) {
        let pace = args.rate.map_or_else(
            || "as fast as possible".to_owned(),
            |r| format!("paced at {r}/s"),
        );
        println!(
            "{} connections, {} thread(s), {:.1}s measured after {} warm-up, {pace}, {}",
            args.connections,
            args.threads,
            self.elapsed.as_secs_f64(),
            humantime::format_duration(args.warmup),
            args.url
        );
        println!("  accepted  {} ({:.0}/s)", self.tally.accepted, self.rps());
        println!("  non-2xx   {} {}", self.refused(), self.refusals());
        println!("  errors    {}", self.tally.errors);
        println!(
            "  latency   p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms",
            self.quantile_ms(0.5),
            self.quantile_ms(0.9),
            self.quantile_ms(0.99),
            self.quantile_ms(0.999),
            self.max_ms()
        );
    }

    fn to_json(&self, args: &Args) -> serde_json::Value {
        let refused: serde_json::Map<String, serde_json::Value> = self
            .tally
            .refused
            .iter()
            .map(|(status, count)| (status.to_string(), (*count).into()))
            .collect();
        serde_json::json!({
            "url": args.url,
            "connections": args.connections,
            "threads": args.threads,
            "rate": args.rate,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "accepted": self.tally.accepted,
            "rps": self.rps(),
            "non_2xx": self.refused(),
            "non_2xx_by_status": refused,
            "errors": self.tally.errors,
            "first_error": self.tally.first_error,
            "latency_ms": {
                "p50": self.quantile_ms(0.5),
                "p90": self.quantile_ms(0.9),
                "p99": self.quantile_ms(0.99),
                "p99_9": self.quantile_ms(0.999),
                "max": self.max_ms(),
            },
            "timestamps_exhausted": self.exhausted,
        })
    }
}
