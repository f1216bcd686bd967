//! Shared by the integration tests: start the real `pipetop` binary on a free port, read its
//! address from its start line, post real requests, and read its JSON lines with timeouts so a
//! hang fails a test instead of blocking it.

#![allow(dead_code)] // each test binary uses its own part of these helpers

pub mod nats;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const BIN: &str = env!("CARGO_BIN_EXE_pipetop");
pub const WAIT: Duration = Duration::from_secs(15);
pub const SECRET: &str = "123654";

/// The binary, with no secret or config leaking in from the environment running the tests,
/// and state and config directories of its own, so its default journal is fresh and never the
/// user's, and no config file of the user's is read.
pub fn pipetop() -> Command {
    let mut command = Command::new(BIN);
    command
        .env_remove("PIPETOP_SECRET")
        .env_remove("PIPETOP_CONFIG")
        .env_remove("PIPETOP_VIEWER_TOKEN")
        .env("XDG_STATE_HOME", scratch_dir("state"))
        .env("XDG_CONFIG_HOME", scratch_dir("config"));
    command
}

/// A new, empty directory under the test target's scratch space.
pub fn scratch_dir(what: &str) -> std::path::PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Runs a command that must end by itself, failing the test if it does not.
pub fn run(mut command: Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pipetop");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    rx.recv_timeout(WAIT)
        .expect("pipetop did not exit in time")
        .expect("collect pipetop's output")
}

/// A running `pipetop --headless`, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub start_line: String,
    /// Stderr lines before the start line.
    pub notices: Vec<String>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Server {
    /// Starts on a free loopback port with `args` added, and waits for the start line.
    pub fn start(args: &[&str]) -> Server {
        Server::start_with(pipetop(), args)
    }

    pub fn start_with(command: Command, args: &[&str]) -> Server {
        Server::start_listening(command, "127.0.0.1:0", args)
    }

    /// Starts listening on `listen` (an address a previous start was given by the OS).
    pub fn start_listening(mut command: Command, listen: &str, args: &[&str]) -> Server {
        let mut child = command
            .args(["--listen", listen, "--headless"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pipetop");
        let stdout = lines(child.stdout.take().expect("piped stdout"));
        let stderr = lines(child.stderr.take().expect("piped stderr"));
        // Notices (the TUI, the journal) may come first; the start line says where it listens.
        let mut notices = Vec::new();
        let start_line = loop {
            match stderr.recv_timeout(WAIT) {
                Ok(line) if line.starts_with("pipetop: listening on ") => break line,
                Ok(line) => notices.push(line),
                Err(err) => {
                    let _ = child.kill();
                    panic!("pipetop printed no start line: {err}");
                }
            }
        };
        let addr = start_line
            .strip_prefix("pipetop: listening on ")
            .and_then(|rest| rest.split(';').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected start line: {start_line}"));
        Server {
            child,
            addr,
            start_line,
            notices,
            stdout,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next JSON line on stdout.
    pub fn next_line(&self) -> Value {
        let line = self
            .stdout
            .recv_timeout(WAIT)
            .expect("a JSON line on stdout in time");
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"))
    }

    /// The next line on stdout, as printed.
    pub fn next_raw_line(&self) -> String {
        self.stdout
            .recv_timeout(WAIT)
            .expect("a line on stdout in time")
    }

    /// No further line arrives within a short while (for requests that must not be reported).
    pub fn assert_quiet(&self) {
        match self.stdout.recv_timeout(Duration::from_millis(300)) {
            Err(RecvTimeoutError::Timeout) => {}
            other => panic!("expected no line, got {other:?}"),
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the status and the lines still unread.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>, Vec<String>) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for pipetop") {
                break status;
            }
            assert!(Instant::now() < deadline, "pipetop did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = self.stdout.iter().collect();
        let err = self.stderr.iter().collect();
        (status, out, err)
    }
}

impl Server {
    /// Kills the process outright (SIGKILL), as a crash or a power cut would stop it.
    pub fn kill(mut self) {
        self.child.kill().expect("kill pipetop");
        self.child.wait().expect("wait for pipetop");
    }

    /// The next line on stderr after the start line.
    pub fn next_notice(&self) -> String {
        self.stderr
            .recv_timeout(WAIT)
            .expect("a line on stderr in time")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Each line `stream` gives, as it comes.
pub fn lines(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The current millisecond, or one past the last one handed out when the clock has not moved
/// on: the receiver accepts each signed (timestamp, token) pair once, so two posts in the same
/// millisecond with different bodies would be refused as a reused signature.
pub fn fresh_timestamp() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .expect("the update always succeeds");
    now.max(previous + 1).to_string()
}

/// Milliseconds since the epoch, shifted by `offset_ms`.
pub fn now_ms(offset_ms: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    (now + offset_ms).to_string()
}

/// An HTTP answer, read whatever its status.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub allow: Option<String>,
    pub body: Value,
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(WAIT))
        .build()
        .into()
}

/// Sends one request with the given headers.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    try_request(method, url, headers, body).expect("an answer")
}

/// Sends one request; `None` when no answer came (the server went away).
pub fn try_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Reply> {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(body.to_vec()).expect("a valid request");
    let mut response = agent().run(request).ok()?;
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().ok()?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Some(Reply {
        status,
        allow,
        body,
    })
}

/// A POST signed with `secret` at `timestamp`.
pub fn post_signed(url: &str, secret: &str, timestamp: &str, body: &[u8]) -> Reply {
    let token = pipetop::gitee::sign(secret, timestamp);
    request(
        "POST",
        url,
        &[
            ("Content-Type", "application/json"),
            ("X-Gitee-Timestamp", timestamp),
            ("X-Gitee-Token", &token),
        ],
        body,
    )
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("read {path}: {err}"))
}

pub fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A small valid notification.
pub const BODY: &[u8] = br#"{"job":{"pipelineId":1,"pipelineName":"p","stageName":"s","jobName":"j","buildNumber":3,"statusCode":"RUNNING"}}"#;
