//! End to end: viewers reading the NATS JetStream stream that real receivers publish to:
//! `pipetop attach --headless nats://…` and `pipetop wait --url nats://…` as processes, against
//! a real `nats-server`. Every viewer sees each delivery once, with the stream's sequence as
//! its id; a message that is not a delivery is one sentence; bad credentials are refused.

mod common;

use common::nats::{
    Nats, NatsServer, body, caught_up, job_name, post, post_to_both, receiver, unique,
};
use common::{fresh_timestamp, lines, pipetop, run, scratch_dir};
use pipetop::send::{JobFields, notification_body};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// How long a viewer may take to show a line.
const LINE_WAIT: Duration = Duration::from_secs(30);

/// A `pipetop attach --headless --replay` on the stream, and its stdout and stderr lines.
struct Viewer {
    child: Child,
    out: Receiver<String>,
    err: Receiver<String>,
}

impl Viewer {
    fn start(url: &str, stream: &str, prefix: &str, more: &[&str]) -> Viewer {
        let mut child = pipetop()
            .args(["attach", url, "--headless", "--replay"])
            .args(["--nats-stream", stream, "--nats-subject-prefix", prefix])
            .args(more)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pipetop attach");
        let out = lines(child.stdout.take().expect("piped stdout"));
        let err = lines(child.stderr.take().expect("piped stderr"));
        Viewer { child, out, err }
    }

    /// The next `n` deliveries: (id, job name).
    fn next(&self, n: usize) -> Vec<(u64, String)> {
        (0..n)
            .map(|_| {
                let line = self
                    .out
                    .recv_timeout(LINE_WAIT)
                    .expect("a line from the viewer in time");
                let value: Value = serde_json::from_str(&line).expect("a JSON line");
                assert_eq!(value["type"], "accepted", "{value}");
                let id = value["id"].as_u64().expect("an id");
                let job = job_name(&value["notification"].to_string()).expect("a job name");
                (id, job)
            })
            .collect()
    }

    fn assert_quiet(&self) {
        assert!(
            self.out.recv_timeout(Duration::from_millis(500)).is_err(),
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

#[test]
fn two_receivers_feed_every_viewer_of_the_stream_each_delivery_once_with_the_streams_ids() {
    let Some(nats) = Nats::any() else {
        return;
    };
    let (stream, prefix) = unique("view");
    let url = nats.url();
    let a = receiver(
        &scratch_dir("view-a"),
        "127.0.0.1:0",
        &url,
        &stream,
        &prefix,
    );
    let b = receiver(
        &scratch_dir("view-b"),
        "127.0.0.1:0",
        &url,
        &stream,
        &prefix,
    );
    let (base_a, base_b) = (a.url(""), b.url(""));
    let answered = post_to_both(&base_a, &base_b, 20);
    caught_up(&base_a);
    caught_up(&base_b);

    let viewers = [
        Viewer::start(&url, &stream, &prefix, &[]),
        Viewer::start(&url, &stream, &prefix, &[]),
    ];
    let seen: Vec<Vec<(u64, String)>> = viewers.iter().map(|v| v.next(21)).collect();
    for history in &seen {
        let ids: Vec<u64> = history.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, (1..=21).collect::<Vec<_>>(), "the stream's sequences");
        let mut jobs: Vec<&str> = history.iter().map(|(_, job)| job.as_str()).collect();
        jobs.sort_unstable();
        let mut expected: Vec<&str> = answered.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(jobs, expected, "every delivery once");
    }
    assert_eq!(seen[0], seen[1], "both viewers agree on every id");

    // Live: one more through each receiver reaches both viewers, numbered on.
    assert_eq!(post(&base_a, &fresh_timestamp(), &body("a", 90)), Some(200));
    caught_up(&base_a);
    assert_eq!(post(&base_b, &fresh_timestamp(), &body("b", 91)), Some(200));
    for viewer in &viewers {
        assert_eq!(
            viewer.next(2),
            [(22, "a-00090".to_owned()), (23, "b-00091".to_owned())]
        );
        viewer.assert_quiet();
    }
}

/// The body of a job `job` of pipeline `wait-p`, build `build`, with `status`.
fn job_body(status: &str, job: &str, build: u64) -> Vec<u8> {
    notification_body(&JobFields {
        status: status.into(),
        pipeline: "wait-p".into(),
        stage: "Test".into(),
        job: job.into(),
        build,
        ..JobFields::default()
    })
}

#[test]
fn wait_reads_the_run_from_the_stream_its_history_and_live() {
    let Some(nats) = Nats::any() else {
        return;
    };
    let (stream, prefix) = unique("wait");
    let url = nats.url();
    let r = receiver(
        &scratch_dir("wait-r"),
        "127.0.0.1:0",
        &url,
        &stream,
        &prefix,
    );
    let base = r.url("");
    for status in ["RUNNING", "FAIL"] {
        assert_eq!(
            post(&base, &fresh_timestamp(), &job_body(status, "unit", 1)),
            Some(200)
        );
    }
    caught_up(&base);
    let wait = |more: &[&str]| {
        let mut command = pipetop();
        command.args([
            "wait",
            "--url",
            &url,
            "--pipeline",
            "wait-p",
            "--settle",
            "0s",
        ]);
        command.args(["--nats-stream", &stream, "--nats-subject-prefix", &prefix]);
        command.args(["--timeout", "30s"]).args(more);
        command
    };
    // The run in the history.
    let output = run(wait(&["--latest"]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.ends_with("wait-p #1: failed\n"), "{stdout}");

    // A run that finishes after the wait started.
    let waiting = wait(&["--build", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pipetop wait");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        post(&base, &fresh_timestamp(), &job_body("SUCC", "unit", 2)),
        Some(200)
    );
    let output = waiting.wait_with_output().expect("wait ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.ends_with("wait-p #2: success\n"), "{stdout}");
}

#[test]
fn a_message_that_is_not_a_delivery_is_one_sentence_and_the_deliveries_around_it_arrive() {
    let Some(nats) = Nats::any() else {
        return;
    };
    let (stream, prefix) = unique("foreign");
    let url = nats.url();
    let r = receiver(
        &scratch_dir("foreign"),
        "127.0.0.1:0",
        &url,
        &stream,
        &prefix,
    );
    let base = r.url("");
    assert_eq!(post(&base, &fresh_timestamp(), &body("f", 1)), Some(200));
    caught_up(&base);
    // Another publisher on the stream's subjects, with terminal escapes in its text.
    let subject = format!("{prefix}.delivery.elsewhere");
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(async {
            let client = async_nats::connect(&url).await.expect("connect");
            let js = async_nats::jetstream::new(client);
            js.publish(subject, "\x1b]0;pwned\x07not a delivery".into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        });
    assert_eq!(post(&base, &fresh_timestamp(), &body("f", 3)), Some(200));
    caught_up(&base);

    let viewer = Viewer::start(&url, &stream, &prefix, &[]);
    assert_eq!(
        viewer.next(2),
        [(1, "f-00001".to_owned()), (3, "f-00003".to_owned())]
    );
    let said = viewer.err.recv_timeout(LINE_WAIT).expect("a sentence");
    assert!(
        said.starts_with(&format!(
            "pipetop: message 2 of the stream {stream} is not a pipetop delivery: "
        )),
        "{said}"
    );
    assert!(!said.contains('\x1b') && !said.contains('\x07'), "{said:?}");
}

#[test]
fn only_history_within_since_is_read() {
    let Some(nats) = Nats::any() else {
        return;
    };
    let (stream, prefix) = unique("since");
    let url = nats.url();
    let r = receiver(&scratch_dir("since"), "127.0.0.1:0", &url, &stream, &prefix);
    let base = r.url("");
    assert_eq!(post(&base, &fresh_timestamp(), &body("o", 1)), Some(200));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(post(&base, &fresh_timestamp(), &body("n", 2)), Some(200));
    caught_up(&base);
    let viewer = Viewer::start(&url, &stream, &prefix, &["--since", "2s"]);
    assert_eq!(viewer.next(1), [(2, "n-00002".to_owned())]);
    viewer.assert_quiet();
}

#[test]
fn a_viewer_with_wrong_credentials_or_a_bad_url_is_one_sentence_and_exit_2() {
    let Some(server) = NatsServer::start_with(&["--user", "ci", "--pass", "right"]) else {
        return;
    };
    let port = server.port();
    let refused = |url: &str, expected: &str| {
        let mut command = pipetop();
        command.args(["attach", url, "--headless"]);
        let output = run(command);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !stderr.contains("wrong") && !stderr.contains("panicked"),
            "{stderr}"
        );
    };
    refused(
        &format!("nats://ci:wrong@127.0.0.1:{port}"),
        &format!("pipetop: NATS at nats://127.0.0.1:{port} refused pipetop's credentials"),
    );
    refused(
        "nats://ci:wrong@[::1",
        "is not a NATS URL: it needs nats:// or tls://",
    );
    let mut command = pipetop();
    command.args([
        "wait",
        "--url",
        &format!("nats://ci:wrong@127.0.0.1:{port}"),
    ]);
    command.args(["--pipeline", "p"]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("refused pipetop's credentials"));
}
