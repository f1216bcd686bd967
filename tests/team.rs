//! End to end: team mode. `pipetop serve` on a real port with a real journal, viewers as
//! real `pipetop attach --headless` processes and raw `GET /events` streams, `pipetop wait`
//! with each of its exit codes.

mod common;

use common::{Server, WAIT, fresh_timestamp, lines, pipetop, run, scratch_dir};
use pipetop::send::{JobFields, notification_body};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const SECRET: &str = "team-secret";
const TOKEN: &str = "viewer-token-for-tests";

/// `pipetop serve` with its journal in `dir`, verifying with [`SECRET`], viewers with
/// [`TOKEN`].
fn serve(dir: &Path, extra: &[&str]) -> Server {
    serve_at(dir, "127.0.0.1:0", extra)
}

fn serve_at(dir: &Path, listen: &str, extra: &[&str]) -> Server {
    let mut command = pipetop();
    command.arg("serve");
    let journal = dir.join("journal.jsonl");
    let journal = journal.to_str().expect("a UTF-8 path");
    let mut args = vec![
        "--journal",
        journal,
        "--secret",
        SECRET,
        "--viewer-token",
        TOKEN,
    ];
    args.extend_from_slice(extra);
    Server::start_listening(command, listen, &args)
}

/// Posts one signed job notification; returns the id it was stored with.
fn post(base: &str, pipeline: &str, job: &str, build: u64, status: &str) -> u64 {
    let body = notification_body(&JobFields {
        status: status.into(),
        pipeline: pipeline.into(),
        stage: "Build".into(),
        job: job.into(),
        build,
        ..JobFields::default()
    });
    let reply = common::post_signed(
        &format!("{base}/webhook"),
        SECRET,
        &fresh_timestamp(),
        &body,
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["id"].as_u64().expect("an id")
}

/// A `pipetop attach --headless --replay` process and its stdout lines.
struct Viewer {
    child: Child,
    lines: Receiver<String>,
}

impl Viewer {
    fn start(base: &str) -> Viewer {
        Viewer::start_with(base, &[])
    }

    fn start_with(base: &str, extra: &[&str]) -> Viewer {
        let mut child = pipetop()
            .args(["attach", base, "--headless", "--replay", "--token", TOKEN])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pipetop attach");
        let lines = lines(child.stdout.take().expect("piped stdout"));
        Viewer { child, lines }
    }

    /// The ids of the next `n` lines.
    fn ids(&self, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let line = self
                    .lines
                    .recv_timeout(Duration::from_secs(30))
                    .expect("a line from the viewer in time");
                let value: Value = serde_json::from_str(&line).expect("a JSON line");
                value["id"].as_u64().expect("an accepted delivery")
            })
            .collect()
    }

    fn assert_quiet(&self) {
        assert!(
            self.lines.recv_timeout(Duration::from_millis(500)).is_err(),
            "no more lines"
        );
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw `GET /events`: the status, and the body's lines as they come.
fn events(base: &str, query: &str, headers: &[(&str, &str)]) -> (u16, Receiver<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(WAIT))
        .build()
        .into();
    let mut request = agent.get(format!("{base}/events{query}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.call().expect("an answer");
    let status = response.status().as_u16();
    (status, lines(response.into_body().into_reader()))
}

fn bearer() -> (&'static str, String) {
    ("Authorization", format!("Bearer {TOKEN}"))
}

/// The ids of the accepted events up to the `: live` comment.
fn history_ids(lines: &Receiver<String>) -> Vec<u64> {
    let mut ids = Vec::new();
    loop {
        let line = lines.recv_timeout(WAIT).expect("the stream goes on");
        if line == ": live" {
            return ids;
        }
        if let Some(id) = line.strip_prefix("id: ") {
            ids.push(id.parse().expect("a numeric id"));
        }
    }
}

fn next_id(lines: &Receiver<String>) -> u64 {
    loop {
        let line = lines.recv_timeout(WAIT).expect("the stream goes on");
        if let Some(id) = line.strip_prefix("id: ") {
            return id.parse().expect("a numeric id");
        }
    }
}

#[test]
fn several_viewers_see_the_history_then_each_live_delivery_once_in_order() {
    let dir = scratch_dir("team-viewers");
    let server = serve(&dir, &[]);
    let base = server.url("");
    for n in 1..=3 {
        assert_eq!(post(&base, "api", "build", n, "SUCC"), n);
    }
    let viewers: Vec<Viewer> = (0..3).map(|_| Viewer::start(&base)).collect();
    for viewer in &viewers {
        assert_eq!(viewer.ids(3), [1, 2, 3]);
    }
    for n in 4..=8 {
        post(&base, "api", "build", n, "FAIL");
    }
    // The lines a viewer prints are the very lines the server prints.
    let served: Vec<String> = (0..8).map(|_| server.next_raw_line()).collect();
    for viewer in &viewers {
        assert_eq!(viewer.ids(5), [4, 5, 6, 7, 8]);
    }
    let extra = Viewer::start(&base);
    let printed: Vec<String> = (0..8)
        .map(|_| extra.lines.recv_timeout(WAIT).expect("a line"))
        .collect();
    assert_eq!(printed, served);
    extra.assert_quiet();
    let health = common::request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(health.body["viewers"], 4);
}

#[test]
fn last_event_id_and_after_resume_after_that_id_and_since_bounds_the_history() {
    let dir = scratch_dir("team-resume");
    let server = serve(&dir, &[]);
    let base = server.url("");
    for n in 1..=5 {
        post(&base, "api", "build", n, "SUCC");
    }
    let (status, lines) = events(
        &base,
        "",
        &[(bearer().0, &bearer().1), ("Last-Event-ID", "2")],
    );
    assert_eq!(status, 200);
    assert_eq!(history_ids(&lines), [3, 4, 5]);
    let (_, after) = events(&base, "?after=4", &[(bearer().0, &bearer().1)]);
    assert_eq!(history_ids(&after), [5]);
    let (_, recent) = events(&base, "?since=1h", &[(bearer().0, &bearer().1)]);
    assert_eq!(history_ids(&recent), [1, 2, 3, 4, 5]);
    let recent_viewer = Viewer::start_with(&base, &["--since", "1h"]);
    assert_eq!(recent_viewer.ids(5), [1, 2, 3, 4, 5]);
    std::thread::sleep(Duration::from_millis(1100));
    let (_, none) = events(&base, "?since=1s", &[(bearer().0, &bearer().1)]);
    assert_eq!(history_ids(&none), Vec::<u64>::new());
    let none_viewer = Viewer::start_with(&base, &["--since", "1s"]);
    // Then live, with no gap and no repeat.
    std::thread::sleep(Duration::from_millis(300));
    post(&base, "api", "build", 6, "SUCC");
    for stream in [&lines, &after, &recent, &none] {
        assert_eq!(next_id(stream), 6);
    }
    for viewer in [&recent_viewer, &none_viewer] {
        assert_eq!(
            viewer.ids(1),
            [6],
            "--since bounds the history attach reads"
        );
    }
}

#[test]
fn bad_starts_and_missing_or_wrong_tokens_are_one_sentence_each() {
    let dir = scratch_dir("team-refusals");
    let server = serve(&dir, &[]);
    let base = server.url("");
    post(&base, "api", "build", 1, "SUCC");
    let url = server.url("/events");
    let refused = common::request("GET", &url, &[], b"");
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.body["error"],
        "missing Authorization: Bearer <viewer token>"
    );
    let wrong = common::request("GET", &url, &[("Authorization", "Bearer nope")], b"");
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["error"], "wrong viewer token");
    let (name, value) = bearer();
    for (id, reason) in [
        (
            "two",
            "Last-Event-ID must be a delivery id (a whole number)",
        ),
        (
            "9",
            "Last-Event-ID 9 is beyond the last delivery id 1; this server's journal is not the one that id came from",
        ),
    ] {
        let reply = common::request("GET", &url, &[(name, &value), ("Last-Event-ID", id)], b"");
        assert_eq!(reply.status, 400);
        assert_eq!(reply.body["error"], reason);
    }
    // The viewer token is not the secret, and the secret is not a viewer token.
    let secret = common::request(
        "GET",
        &url,
        &[("Authorization", &format!("Bearer {SECRET}"))],
        b"",
    );
    assert_eq!(secret.status, 401);
    // Neither token appears in anything the server printed.
    let (_, out, err) = server.terminate();
    for line in out.iter().chain(&err) {
        assert!(!line.contains(TOKEN) && !line.contains(SECRET), "{line}");
    }

    // A client told of a refusal says so in one sentence and exits 2.
    let server = serve(&dir, &[]);
    let output = run({
        let mut command = pipetop();
        command.args(["attach", &server.url(""), "--headless", "--token", "nope"]);
        command
    });
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        said.trim(),
        format!(
            "pipetop: {} refused the viewer: bad token (wrong viewer token)",
            server.url("")
        )
    );
}

#[test]
fn a_local_pipetop_serves_events_only_with_a_viewer_token() {
    let plain = Server::start(&["--no-journal"]);
    let reply = common::request("GET", &plain.url("/events"), &[], b"");
    assert_eq!(reply.status, 404);
    let with = Server::start(&["--no-journal", "--viewer-token", TOKEN]);
    let (name, value) = bearer();
    let (status, lines) = events(&with.url(""), "", &[(name, &value)]);
    assert_eq!(status, 200);
    assert_eq!(history_ids(&lines), Vec::<u64>::new());
    let body = br#"{"job":{"pipelineName":"p","statusCode":"SUCC"}}"#;
    let reply = common::request("POST", &with.url("/webhook"), &[], body);
    assert_eq!(reply.status, 200);
    assert_eq!(next_id(&lines), 1);
    // A client pointed at the pipetop without a feed is told it is not one to attach to.
    let output = run({
        let mut command = pipetop();
        command.args([
            "wait",
            "--url",
            &plain.url(""),
            "--pipeline",
            "p",
            "--token",
            TOKEN,
        ]);
        command
    });
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("is not a pipetop server: it has no /events"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn serve_generates_a_viewer_token_once_keeps_it_private_and_reuses_it() {
    let dir = scratch_dir("team-token");
    let journal = dir.join("journal.jsonl");
    let journal = journal.to_str().expect("a UTF-8 path");
    let start = || {
        let mut command = pipetop();
        command.arg("serve");
        Server::start_with(command, &["--journal", journal])
    };
    let first = start();
    let kept = std::fs::read_to_string(dir.join("viewer-token")).expect("the token is kept");
    let kept = kept.trim();
    assert!(kept.len() >= 40);
    assert!(
        first.notices.iter().any(|line| line.contains(kept)),
        "{:?}",
        first.notices
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("viewer-token"))
            .expect("the token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    first.kill();
    let again = start();
    assert!(again.notices.iter().all(|line| !line.contains(kept)));
    let (status, _) = events(
        &again.url(""),
        "",
        &[("Authorization", &format!("Bearer {kept}"))],
    );
    assert_eq!(status, 200);
}

#[test]
fn a_viewer_reconnects_across_kill_9_of_serve_and_shows_each_id_once_in_order() {
    let dir = scratch_dir("team-restart");
    let server = serve(&dir, &[]);
    let base = server.url("");
    let listen = server.addr.to_string();
    for n in 1..=3 {
        post(&base, "api", "build", n, "SUCC");
    }
    let viewer = Viewer::start(&base);
    assert_eq!(viewer.ids(3), [1, 2, 3]);
    post(&base, "api", "build", 4, "SUCC");
    assert_eq!(viewer.ids(1), [4]);
    server.kill();
    let server = serve_at(&dir, &listen, &[]);
    for n in 5..=7 {
        post(&base, "api", "build", n, "SUCC");
    }
    assert_eq!(viewer.ids(3), [5, 6, 7]);
    viewer.assert_quiet();
    drop(server);
}

/// A connection whose receive buffer is a few KiB and fixed, as a viewer on a slow link
/// that has stopped reading would have, rather than the many MiB loopback grows to.
fn small_window_connection(addr: std::net::SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd as _;
    let std::net::SocketAddr::V4(addr) = addr else {
        panic!("the server listens on IPv4 loopback");
    };
    // SAFETY: a fresh socket is configured and connected with plain values, then owned by
    // the TcpStream, which closes it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "a socket");
        let size: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let stream = TcpStream::from_raw_fd(fd);
        let target = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(addr.ip().octets()),
            },
            sin_zero: [0; 8],
        };
        let connected = libc::connect(
            fd,
            (&raw const target).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(connected, 0, "connect to {addr}");
        stream
    }
}

#[test]
fn a_viewer_that_stops_reading_is_cut_off_and_a_reading_one_gets_everything() {
    let dir = scratch_dir("team-slow");
    let server = serve(&dir, &["--write-timeout", "2s"]);
    let base = server.url("");
    // A viewer that asks for the stream and never reads a byte of it.
    let mut stalled = small_window_connection(server.addr);
    write!(
        stalled,
        "GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .expect("send the request");
    let reader = Viewer::start(&base);
    let total = 3000u64;
    // Deliveries of some 8 KiB each, so the kernel's buffers fill long before the end.
    let job = "x".repeat(8000);
    let posters: Vec<_> = (0..4)
        .map(|worker| {
            let (base, job) = (base.clone(), job.clone());
            std::thread::spawn(move || {
                for n in 0..total / 4 {
                    post(&base, &format!("p{worker}"), &job, n, "SUCC");
                }
            })
        })
        .collect();
    for poster in posters {
        poster.join().expect("every delivery answered 200");
    }
    assert_eq!(reader.ids(total as usize), (1..=total).collect::<Vec<_>>());
    // The stalled one was let go: reading it now comes to an end rather than going on.
    stalled
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("a read timeout");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut received = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        assert!(
            Instant::now() < deadline,
            "the stalled viewer was never disconnected"
        );
        match stalled.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let seen = String::from_utf8_lossy(&received)
        .matches("\nevent: accepted")
        .count() as u64;
    assert!(seen < total, "the stalled viewer got all {seen} deliveries");
    let health = common::request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(health.body["viewers"], 1);
}

/// Runs `pipetop wait` against `base` with `args`.
fn wait(base: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = pipetop();
    command
        .args(["wait", "--url", base, "--token", TOKEN])
        .args(args);
    let output = run(command);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts `pipetop wait` in the background.
fn wait_in_background(base: &str, args: &[&str]) -> Child {
    pipetop()
        .args(["wait", "--url", base, "--token", TOKEN])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pipetop wait")
}

fn finished(child: Child) -> (Option<i32>, String) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let output = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("wait exited in time")
        .expect("its output");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn wait_finds_a_run_finished_before_it_started_and_exits_with_its_result() {
    let dir = scratch_dir("team-wait-history");
    let server = serve(&dir, &[]);
    let base = server.url("");
    post(&base, "deploy", "unit", 41, "SUCC");
    post(&base, "deploy", "unit", 42, "SUCC");
    post(&base, "deploy", "lint", 42, "FAIL");
    post(&base, "deploy", "unit", 43, "CANCEL");
    let (code, out, _) = wait(
        &base,
        &["--pipeline", "deploy", "--build", "41", "--settle", "0s"],
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "deploy #41 Build / unit: success\ndeploy #41: success\n"
    );
    let (code, out, _) = wait(
        &base,
        &["--pipeline", "deploy", "--build", "42", "--settle", "0s"],
    );
    assert_eq!(code, Some(1));
    assert!(out.ends_with("deploy #42: failed\n"), "{out}");
    let (code, _, _) = wait(
        &base,
        &[
            "--pipeline",
            "deploy",
            "--latest",
            "--settle",
            "0s",
            "--quiet",
        ],
    );
    assert_eq!(code, Some(3));
    // The pipeline's id works as its name does.
    let id = notification_body(&JobFields {
        status: "SUCC".into(),
        pipeline: "deploy".into(),
        stage: "Build".into(),
        job: "unit".into(),
        build: 1,
        ..JobFields::default()
    });
    let id: Value = serde_json::from_slice(&id).expect("JSON");
    let id = id["job"]["pipelineId"].to_string();
    let (code, out, _) = wait(
        &base,
        &[
            "--pipeline",
            &id,
            "--build",
            "41",
            "--settle",
            "0s",
            "--quiet",
        ],
    );
    assert_eq!((code, out.as_str()), (Some(0), ""));
}

#[test]
fn wait_follows_the_next_run_live_and_times_out_with_4() {
    let dir = scratch_dir("team-wait-live");
    let server = serve(&dir, &[]);
    let base = server.url("");
    post(&base, "ship", "unit", 1, "SUCC");
    let child = wait_in_background(
        &base,
        &["--pipeline", "ship", "--settle", "1s", "--timeout", "20s"],
    );
    // The run already finished is not the next one.
    std::thread::sleep(Duration::from_millis(1500));
    post(&base, "ship", "unit", 2, "RUNNING");
    post(&base, "ship", "unit", 2, "CANCEL");
    let (code, out) = finished(child);
    assert_eq!(code, Some(3));
    assert_eq!(out, "ship #2 Build / unit: cancelled\nship #2: cancelled\n");

    let child = wait_in_background(
        &base,
        &["--pipeline", "ship", "--build", "3", "--settle", "0s"],
    );
    post(&base, "ship", "unit", 3, "FAIL");
    assert_eq!(finished(child).0, Some(1));

    let (code, _, err) = wait(
        &base,
        &["--pipeline", "ship", "--build", "9", "--timeout", "1s"],
    );
    assert_eq!(code, Some(4));
    assert_eq!(err, "pipetop: no matching run finished in time\n");
}

#[test]
fn wait_exits_2_for_usage_a_refused_token_and_a_url_without_a_scheme() {
    let dir = scratch_dir("team-wait-usage");
    let server = serve(&dir, &[]);
    let base = server.url("");
    let (code, _, _) = wait(&base, &[]);
    assert_eq!(code, Some(2), "--pipeline is required");
    let mut command = pipetop();
    command.args([
        "wait",
        "--url",
        &base,
        "--pipeline",
        "p",
        "--token",
        "wrong",
    ]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(2));
    let addr = server.addr.to_string();
    let (code, _, err) = wait(&addr, &["--pipeline", "p"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "pipetop: {addr} is not a URL pipetop can attach to: it needs http://, https:// or nats://, e.g. https://pipetop.example.com\n"
        )
    );
}

#[test]
fn viewers_joining_while_deliveries_pour_in_get_each_id_once_in_order() {
    let dir = scratch_dir("team-switch");
    let server = serve(&dir, &[]);
    let base = server.url("");
    let total = 1200u64;
    let posters: Vec<_> = (0..3)
        .map(|worker| {
            let base = base.clone();
            std::thread::spawn(move || {
                for n in 0..total / 3 {
                    post(&base, &format!("p{worker}"), "build", n, "RUNNING");
                }
            })
        })
        .collect();
    // Each joins at another moment: its history and the live feed meet somewhere else.
    let (name, value) = bearer();
    let mut streams = Vec::new();
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(150));
        streams.push(events(&base, "", &[(name, &value)]).1);
    }
    for poster in posters {
        poster.join().expect("every delivery answered 200");
    }
    for stream in &streams {
        let ids: Vec<u64> = (0..total).map(|_| next_id(stream)).collect();
        assert_eq!(ids, (1..=total).collect::<Vec<_>>());
    }
}

/// A one-shot HTTP server on a free loopback port that answers its first request with
/// `answer` and then holds the connection until the client goes.
fn fake_server(answer: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("an address");
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.flush();
            std::thread::sleep(Duration::from_secs(20));
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_server_that_is_not_pipetop_is_one_sentence_and_a_hostile_stream_is_cleaned() {
    let html = fake_server(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello".into(),
    );
    let mut command = pipetop();
    command.args(["attach", &html, "--headless", "--token", TOKEN]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        format!(
            "pipetop: {html} is not a pipetop server: it answered text/html rather than an event stream"
        )
    );

    let hostile = r#"{"type":"accepted","id":1,"received_at":"2026-11-27T11:30:38.485Z","auth":"none","repaired":false,"gitee_event":"Push\u001b]0;pwned\u0007 Hook","notification":{"job":{"pipelineName":"p\u001b[2Jq","statusCode":"SUCC"}}}"#;
    let rejected = r#"{"type":"rejected","received_at":"2026-11-27T11:30:39.012Z","status":401,"reason":"bad\u001b[31m token"}"#;
    let stream = fake_server(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n: live\n\nid: 1\nevent: accepted\ndata: {hostile}\n\nevent: rejected\ndata: {rejected}\n\nevent: accepted\ndata: [1,2]\n\n"
    ));
    let mut command = pipetop();
    command.args(["attach", &stream, "--headless", "--token", TOKEN]);
    let output = run(command);
    let out = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["gitee_event"], "Push Hook");
    assert_eq!(lines[1]["reason"], "bad token");
    // The notification is kept as received, and escaped on the way out: inert on a terminal.
    assert!(!out.contains('\u{1b}'), "{out}");
    assert_eq!(
        lines[0]["notification"]["job"]["pipelineName"],
        "p\u{1b}[2Jq"
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("is not a pipetop server: it sent an event that is not a pipetop delivery"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
