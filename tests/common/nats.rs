//! A real `nats-server` with JetStream for the tests: Debian's package (`apt-get install
//! nats-server`), on a free loopback port, its storage in a scratch directory, stopped by its
//! pid when dropped.
//!
//! `.ci/run` starts one for the whole run and names it in `PIPETOP_TEST_NATS_URL`; tests that
//! only need a server use it ([`Nats::any`], each with streams of its own names), tests that
//! stop and start NATS start their own ([`NatsServer::start`]). Without `nats-server` on the
//! machine, these tests say so and pass on a developer's machine, and fail in CI (`CI` set), so
//! the README's `cargo test` works with only a Rust toolchain and CI never skips them.

use super::{Server, WAIT, pipetop, scratch_dir};
use pipetop::send::{JobFields, notification_body};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where `.ci/run` names the server it started.
pub const URL_ENV: &str = "PIPETOP_TEST_NATS_URL";

/// `nats-server` on this machine, or `None` (having said why) where a test may go without.
fn binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nats-server is not installed; CI must install it (apt-get install nats-server)"
        );
        eprintln!("skipped: nats-server is not installed (apt-get install nats-server)");
    }
    found
}

/// A `nats-server -js` of this test's own.
pub struct NatsServer {
    child: Option<Child>,
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    args: Vec<String>,
}

impl NatsServer {
    /// Starts one on a free port; `None` when `nats-server` is not installed.
    pub fn start() -> Option<NatsServer> {
        NatsServer::start_with(&[])
    }

    /// The same with more arguments, e.g. `["--user", "u", "--pass", "p"]`.
    pub fn start_with(args: &[&str]) -> Option<NatsServer> {
        let binary = binary()?;
        let mut server = NatsServer {
            child: None,
            binary,
            dir: scratch_dir("nats"),
            port: 0,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        };
        server.run();
        Some(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it (SIGKILL, by its pid) and waits until it is gone; its storage stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same storage, after [`NatsServer::stop`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the NATS server is still running");
        self.run();
    }

    fn run(&mut self) {
        // The first start asks for a random port and reads it back from the ports file; a
        // restart takes the same one again so clients reconnect to it.
        let ports = self.dir.join("ports");
        let _ = std::fs::remove_dir_all(&ports);
        std::fs::create_dir_all(&ports).expect("create the ports directory");
        let port = if self.port == 0 {
            "-1".to_owned()
        } else {
            self.port.to_string()
        };
        let mut command = Command::new(&self.binary);
        command
            .args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
            .arg(self.dir.join("store"))
            .arg("--ports_file_dir")
            .arg(&ports)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(self.dir.join("log")).expect("create the NATS server log"),
            );
        let mut child = command.spawn().expect("start nats-server");
        let deadline = Instant::now() + Duration::from_secs(15);
        let bound = loop {
            if let Some(port) = read_port(&ports) {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "nats-server exited with {status}: {}",
                    std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        self.port = bound;
        self.child = Some(child);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The port from `nats-server_<pid>.ports`: `{"nats":["nats://127.0.0.1:PORT"]}`.
fn read_port(dir: &std::path::Path) -> Option<u16> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().next()?;
    let text = std::fs::read_to_string(entry.path()).ok()?;
    let ports: serde_json::Value = serde_json::from_str(&text).ok()?;
    ports["nats"][0].as_str()?.rsplit(':').next()?.parse().ok()
}

/// A server to use: the run's shared one, or one of the test's own.
pub enum Nats {
    Shared(String),
    Own(NatsServer),
}

impl Nats {
    /// `None` when `nats-server` is not installed and none was started for the run.
    pub fn any() -> Option<Nats> {
        match std::env::var(URL_ENV) {
            Ok(url) if !url.is_empty() => Some(Nats::Shared(url)),
            _ => NatsServer::start().map(Nats::Own),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Nats::Shared(url) => url.clone(),
            Nats::Own(server) => server.url(),
        }
    }
}

/// A stream name and subject prefix no other test uses, for tests on the shared server.
pub fn unique(what: &str) -> (String, String) {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = std::process::id();
    (
        format!("{}_{id}_{n}", what.to_ascii_uppercase()),
        format!("{}-{id}-{n}", what.to_ascii_lowercase()),
    )
}

/// The secret of the receivers in the NATS tests.
pub const SECRET: &str = "nats-secret";

/// A receiver with its journal in `dir`, publishing to `url`'s stream `stream` under `prefix`.
pub fn receiver(dir: &Path, listen: &str, url: &str, stream: &str, prefix: &str) -> Server {
    let journal = dir.join("journal.jsonl");
    let journal = journal.to_str().expect("a UTF-8 path");
    let args = [
        "--journal",
        journal,
        "--secret",
        SECRET,
        "--nats",
        url,
        "--nats-stream",
        stream,
        "--nats-subject-prefix",
        prefix,
        "--nats-timeout",
        "300ms",
    ];
    Server::start_listening(pipetop(), listen, &args)
}

/// The body of delivery `n` of sender `who`: its job is named `who-n`, five digits.
pub fn body(who: &str, n: u32) -> Vec<u8> {
    notification_body(&JobFields {
        status: "RUNNING".into(),
        pipeline: format!("pipeline-{who}"),
        stage: "Build".into(),
        job: format!("{who}-{n:05}"),
        build: 1,
        ..JobFields::default()
    })
}

/// Posts; `Some(status)` when answered at all.
pub fn post(base: &str, timestamp: &str, body: &[u8]) -> Option<u16> {
    let token = pipetop::gitee::signature::sign(SECRET, timestamp);
    let url = format!("{base}/webhook");
    let headers = [
        ("content-type", "application/json"),
        ("x-gitee-token", token.as_str()),
        ("x-gitee-timestamp", timestamp),
    ];
    super::try_request("POST", &url, &headers, body).map(|reply| reply.status)
}

/// `/healthz`'s `nats` object, once it answers.
pub fn nats_health(base: &str) -> Value {
    let reply = super::request("GET", &format!("{base}/healthz"), &[], b"");
    reply.body["nats"].clone()
}

/// Waits until the receiver's backlog is 0 and it is connected.
pub fn caught_up(base: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let health = nats_health(base);
        if health["backlog"] == 0 && health["connected"] == true {
            return;
        }
        assert!(Instant::now() < deadline, "never caught up: {health}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first `x-NNNNN` job name in `text`.
pub fn job_name(text: &str) -> Option<String> {
    text.split('"')
        .find(|part| {
            part.len() == 7
                && part.as_bytes()[1] == b'-'
                && part[2..].bytes().all(|b| b.is_ascii_digit())
        })
        .map(str::to_owned)
}

/// Posts to two receivers behind one load balancer: the same delivery to both (a redelivery,
/// job `s-00000`), then `n` distinct ones split between them (`a-…` to `a`, `b-…` to `b`).
/// The job names answered 200, the shared one first.
pub fn post_to_both(base_a: &str, base_b: &str, n: u32) -> Vec<String> {
    let timestamp = super::fresh_timestamp();
    let same = body("s", 0);
    assert_eq!(post(base_a, &timestamp, &same), Some(200));
    assert_eq!(post(base_b, &timestamp, &same), Some(200));
    let mut answered = vec!["s-00000".to_owned()];
    for i in 0..n {
        let (base, who) = if i % 2 == 0 {
            (base_a, "a")
        } else {
            (base_b, "b")
        };
        assert_eq!(
            post(base, &super::fresh_timestamp(), &body(who, i)),
            Some(200)
        );
        answered.push(format!("{who}-{i:05}"));
    }
    answered
}
