//! End to end: receivers publishing to a real NATS JetStream server (`--nats`), read back
//! from the stream with async-nats. Two receivers on one stream, NATS stopped mid-load and
//! started again, a receiver killed with -9 mid-load, and the starts that are refused.

mod common;

use common::nats::{
    Nats, NatsServer, body, caught_up, job_name, nats_health, post, post_to_both, receiver, unique,
};
use common::{Server, WAIT, fresh_timestamp, pipetop, run, scratch_dir};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every message of the stream, in stream order: (subject, Nats-Msg-Id, job name).
fn read_stream(url: &str, stream: &str) -> Vec<(String, String, String)> {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let client = async_nats::connect(url).await.expect("connect to NATS");
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream(stream).await.expect("the stream exists");
        let last = stream
            .info()
            .await
            .expect("stream info")
            .state
            .last_sequence;
        let mut out = Vec::new();
        for sequence in 1..=last {
            let message = stream
                .get_raw_message(sequence)
                .await
                .expect("every message is there");
            let msg_id = message
                .headers
                .get("Nats-Msg-Id")
                .map(|value| value.as_str().to_owned())
                .expect("a Nats-Msg-Id");
            let payload: Value =
                serde_json::from_slice(&message.payload).expect("a JSON line as payload");
            assert_eq!(payload["type"], "accepted", "{payload}");
            let text = payload["notification"].to_string();
            let job = job_name(&text).unwrap_or_else(|| panic!("no job name in {text}"));
            out.push((message.subject.to_string(), msg_id, job));
        }
        out
    })
}

/// Checks that every name in `answered` is in the stream exactly once, and that each sender's
/// names come in the order it was answered.
fn assert_exactly_once_in_order(messages: &[(String, String, String)], answered: &[String]) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (_, _, job) in messages {
        *seen.entry(job.as_str()).or_default() += 1;
    }
    for job in answered {
        assert_eq!(seen.get(job.as_str()), Some(&1), "{job} in the stream once");
    }
    let answered_set: std::collections::HashSet<&str> =
        answered.iter().map(String::as_str).collect();
    let order: Vec<&str> = messages
        .iter()
        .map(|(_, _, job)| job.as_str())
        .filter(|job| answered_set.contains(job))
        .collect();
    for who in ["a", "b", "k"] {
        let mine: Vec<&str> = order
            .iter()
            .copied()
            .filter(|j| j.starts_with(who))
            .collect();
        let mut sorted = mine.clone();
        sorted.sort_unstable();
        assert_eq!(
            mine, sorted,
            "{who}'s deliveries in the order they were answered"
        );
    }
}

#[test]
fn two_receivers_store_one_delivery_once_and_distinct_ones_each_once() {
    let Some(nats) = Nats::any() else {
        return;
    };
    let (stream, prefix) = unique("two");
    let url = nats.url();
    let (dir_a, dir_b) = (scratch_dir("nats-a"), scratch_dir("nats-b"));
    let a = receiver(&dir_a, "127.0.0.1:0", &url, &stream, &prefix);
    let b = receiver(&dir_b, "127.0.0.1:0", &url, &stream, &prefix);
    let (base_a, base_b) = (a.url(""), b.url(""));

    let answered = post_to_both(&base_a, &base_b, 40);
    caught_up(&base_a);
    caught_up(&base_b);
    let messages = read_stream(&url, &stream);
    assert_eq!(messages.len(), answered.len(), "{messages:?}");
    assert_exactly_once_in_order(&messages, &answered);
    assert!(
        messages.iter().all(
            |(subject, id, _)| subject.starts_with(&format!("{prefix}.delivery."))
                && id.len() == 64
        ),
        "{messages:?}"
    );
}

/// Posts from a thread of its own until stopped; the names answered 2xx, in order, and
/// any other answer.
struct Load {
    answered: Arc<Mutex<Vec<String>>>,
    other: Arc<Mutex<Vec<Option<u16>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(base: String, who: &'static str, from: u32) -> Load {
        let answered = Arc::new(Mutex::new(Vec::new()));
        let other = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (answered, other, stop) =
                (Arc::clone(&answered), Arc::clone(&other), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = from;
                while !stop.load(Ordering::Relaxed) {
                    match post(&base, &fresh_timestamp(), &body(who, n)) {
                        Some(200) => answered.lock().unwrap().push(format!("{who}-{n:05}")),
                        status => other.lock().unwrap().push(status),
                    }
                    n += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Load {
            answered,
            other,
            stop,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.answered.lock().unwrap().len()
    }

    fn wait_for(&self, more_than: usize) {
        let deadline = Instant::now() + WAIT;
        while self.count() <= more_than {
            assert!(Instant::now() < deadline, "the load stalled");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops; the names answered 2xx and the other answers.
    fn finish(mut self) -> (Vec<String>, Vec<Option<u16>>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the load thread");
        }
        let answered = self.answered.lock().unwrap().clone();
        let other = self.other.lock().unwrap().clone();
        (answered, other)
    }
}

#[test]
fn nats_stopped_mid_load_and_started_again_loses_and_doubles_nothing() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let url = nats.url();
    let (dir_a, dir_b) = (scratch_dir("nats-out-a"), scratch_dir("nats-out-b"));
    let a = receiver(&dir_a, "127.0.0.1:0", &url, "OUTAGE", "pipetop");
    let b = receiver(&dir_b, "127.0.0.1:0", &url, "OUTAGE", "pipetop");
    let load_a = Load::start(a.url(""), "a", 0);
    let load_b = Load::start(b.url(""), "b", 0);
    load_a.wait_for(30);
    nats.stop();
    let (during_a, during_b) = (load_a.count(), load_b.count());
    load_a.wait_for(during_a + 60);
    load_b.wait_for(during_b + 60);
    assert!(nats_health(&a.url(""))["backlog"].as_u64() > Some(0));
    nats.start_again();
    let after = load_a.count();
    load_a.wait_for(after + 30);
    let (answered_a, other_a) = load_a.finish();
    let (answered_b, other_b) = load_b.finish();
    assert!(
        other_a.is_empty() && other_b.is_empty(),
        "{other_a:?} {other_b:?}"
    );
    caught_up(&a.url(""));
    caught_up(&b.url(""));
    let messages = read_stream(&url, "OUTAGE");
    let answered = [answered_a, answered_b].concat();
    assert_eq!(messages.len(), answered.len());
    assert_exactly_once_in_order(&messages, &answered);
}

#[test]
fn a_receiver_killed_with_9_mid_load_publishes_its_backlog_once_in_order_after_a_restart() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let url = nats.url();
    let dir = scratch_dir("nats-kill");
    let k = receiver(&dir, "127.0.0.1:0", &url, "KILLED", "pipetop");
    let listen = k.addr.to_string();
    let load = Load::start(k.url(""), "k", 0);
    load.wait_for(20);
    // A backlog the receiver holds when it dies: NATS down, deliveries only journaled.
    nats.stop();
    let before = load.count();
    load.wait_for(before + 40);
    k.kill();
    let (first, _refused_while_dying) = load.finish();
    nats.start_again();
    let k = receiver(&dir, &listen, &url, "KILLED", "pipetop");
    let load = Load::start(k.url(""), "k", 50_000);
    load.wait_for(20);
    let (second, other) = load.finish();
    assert!(other.is_empty(), "{other:?}");
    caught_up(&k.url(""));
    let messages = read_stream(&url, "KILLED");
    let answered = [first, second].concat();
    assert_eq!(messages.len(), answered.len());
    assert_exactly_once_in_order(&messages, &answered);
}

#[test]
fn bad_urls_credentials_streams_and_no_journal_are_one_sentence_and_exit_1() {
    let Some(server) = NatsServer::start_with(&["--user", "ci", "--pass", "right"]) else {
        return;
    };
    let port = server.port();
    let dir = scratch_dir("nats-bad");
    let journal = dir.join("journal.jsonl");
    let journal = journal.to_str().expect("a UTF-8 path");
    let refuse = |args: &[&str], expected: &str| {
        let mut command = pipetop();
        command.args([
            "--headless",
            "--listen",
            "127.0.0.1:0",
            "--journal",
            journal,
        ]);
        command.args(args);
        let output = run(command);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.contains(expected), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("right@"),
            "{stderr}"
        );
    };
    refuse(
        &["--nats", &format!("http://127.0.0.1:{port}")],
        "is not a NATS URL: it needs nats:// or tls://",
    );
    refuse(
        &["--nats", &format!("nats://ci:wrong@127.0.0.1:{port}")],
        &format!("NATS at nats://127.0.0.1:{port} refused pipetop's credentials"),
    );
    refuse(
        &[
            "--nats",
            &format!("nats://ci:right@127.0.0.1:{port}"),
            "--nats-creds",
            "/nonexistent.creds",
        ],
        "cannot read the NATS credentials file /nonexistent.creds",
    );
    // A stream that exists and takes other subjects.
    let good = format!("nats://ci:right@127.0.0.1:{port}");
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(async {
            let client = async_nats::ConnectOptions::new()
                .user_and_password("ci".into(), "right".into())
                .connect(format!("127.0.0.1:{port}"))
                .await
                .expect("connect");
            let js = async_nats::jetstream::new(client);
            js.create_stream(async_nats::jetstream::stream::Config {
                name: "ORDERS".into(),
                subjects: vec!["orders.>".into()],
                ..Default::default()
            })
            .await
            .expect("create a stream of another application");
            js.create_stream(async_nats::jetstream::stream::Config {
                name: "FORGETFUL".into(),
                subjects: vec!["forgetful.delivery.>".into()],
                duplicate_window: Duration::from_secs(10),
                ..Default::default()
            })
            .await
            .expect("create a stream with a short duplicate window");
        });
    refuse(
        &["--nats", &good, "--nats-stream", "ORDERS"],
        "the stream ORDERS takes orders.>, not pipetop.delivery.>",
    );
    refuse(
        &[
            "--nats",
            &good,
            "--nats-stream",
            "FORGETFUL",
            "--nats-subject-prefix",
            "forgetful",
        ],
        "less than the signature tolerance of 300s",
    );
    let mut command = pipetop();
    command.args([
        "--headless",
        "--listen",
        "127.0.0.1:0",
        "--no-journal",
        "--nats",
        &good,
    ]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--nats needs the journal"));
}

#[test]
fn an_unreachable_server_at_start_is_a_warning_and_a_backlog() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = free.local_addr().expect("its address").port();
    drop(free);
    let dir = scratch_dir("nats-unreachable");
    let url = format!("nats://127.0.0.1:{port}");
    let r = receiver(&dir, "127.0.0.1:0", &url, "LATER", "pipetop");
    let warning = r.next_notice();
    assert!(
        warning.starts_with(&format!("pipetop: NATS at {url} does not answer: "))
            && warning
                .ends_with("deliveries wait in the journal and are published once it answers"),
        "{warning}"
    );
    assert_eq!(
        post(&r.url(""), &fresh_timestamp(), &body("a", 1)),
        Some(200)
    );
    let health = nats_health(&r.url(""));
    assert_eq!(health["connected"], false);
    assert_eq!(health["backlog"], 1);
}

#[test]
fn a_receivers_viewers_are_told_its_backlog_as_it_grows_and_drains() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let dir = scratch_dir("nats-health");
    let journal = dir.join("journal.jsonl");
    let args = [
        "--journal",
        journal.to_str().expect("a UTF-8 path"),
        "--secret",
        common::nats::SECRET,
        "--nats",
        &nats.url(),
        "--nats-timeout",
        "300ms",
        "--viewer-token",
        "health-token",
    ];
    let r = Server::start_listening(pipetop(), "127.0.0.1:0", &args);
    let base = r.url("");
    let response = common::agent()
        .get(format!("{base}/events"))
        .header("Authorization", "Bearer health-token")
        .call()
        .expect("the feed answers");
    let events = common::lines(response.into_body().into_reader());
    // The backlog each `event: health` says, in order.
    let next_backlog = || loop {
        let line = events.recv_timeout(WAIT).expect("an event in time");
        if line == "event: health" {
            let data = events.recv_timeout(WAIT).expect("its data");
            let data: Value =
                serde_json::from_str(data.strip_prefix("data: ").expect("a data line"))
                    .expect("JSON data");
            return data["nats_backlog"].as_u64().expect("a count");
        }
    };
    nats.stop();
    for n in 0..3 {
        assert_eq!(post(&base, &fresh_timestamp(), &body("h", n)), Some(200));
    }
    let mut said = next_backlog();
    while said < 3 {
        said = next_backlog();
    }
    assert_eq!(said, 3);
    nats.start_again();
    assert_eq!(next_backlog(), 0, "the backlog drained");
}
