//! What pipetop does with a live delivery besides showing it, end to end: `--on-fail` and
//! `--on-finish` commands that write what they were given to files, and `--forward-to`
//! against real local axum receivers in the test (one that answers, one that is slow, one
//! that is down), each outcome read from the headless output.

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn send(server: &Server, args: &[&str]) {
    let mut command = pipetop();
    command
        .args(["send", "--url", &server.url("/webhook")])
        .args(args);
    let out = run(command);
    assert!(out.status.success(), "{out:?}");
}

/// The next headless line of `type`, skipping others.
fn next_of(server: &Server, kind: &str) -> Value {
    loop {
        let line = server.next_line();
        if line["type"] == kind {
            return line;
        }
    }
}

#[test]
fn an_on_fail_command_gets_the_event_as_variables_and_the_json_line_on_stdin() {
    let dir = scratch_dir("hook");
    let script = dir.join("hook.sh");
    std::fs::write(
        &script,
        "env | grep '^PIPETOP_' | sort > \"$1\"\ncat > \"$2\"\n",
    )
    .unwrap();
    let (env_file, stdin_file) = (dir.join("env.txt"), dir.join("stdin.json"));
    let hook = format!(
        "sh '{}' '{}' '{}'",
        script.display(),
        env_file.display(),
        stdin_file.display()
    );
    // pipetop's own variables (its secrets, its settings) never reach the command: its
    // `PIPETOP_…` variables are the event's alone.
    let mut command = pipetop();
    command
        .env("PIPETOP_VIEWER_TOKEN", "viewer-token")
        .env("PIPETOP_FORWARD_SECRET", "forward-secret")
        .env("PIPETOP_SORT", "failed");
    let server = Server::start_with(command, &["--on-fail", &hook, "--on-finish", "false"]);
    // A name that would run a command if it were ever put into a shell string.
    let name = format!("deploy $(touch {}/pwned); echo", dir.display());
    send(
        &server,
        &[
            "--status",
            "FAIL",
            "--pipeline",
            &name,
            "--stage",
            "Test",
            "--job",
            "unit",
            "--build",
            "42",
            "--repo",
            "acme/api",
            "--branch",
            "main",
            "--commit",
            "c2a64f6",
            "--pipeline-url",
            "https://gitee.com/acme/api/pipelines/1",
        ],
    );
    let accepted = next_of(&server, "accepted");
    let fail = next_of(&server, "outcome");
    assert_eq!(fail["action"], "on_fail", "{fail}");
    assert_eq!(fail["ok"], true, "{fail}");
    assert_eq!(fail["delivery_id"], accepted["id"]);
    // The run's only job failed, so the run finished too: `false` exits 1.
    let finish = next_of(&server, "outcome");
    assert_eq!(finish["action"], "on_finish");
    assert_eq!(finish["ok"], false);
    assert_eq!(finish["detail"], "exit status 1");

    let env = std::fs::read_to_string(&env_file).unwrap();
    let expected = [
        "PIPETOP_BRANCH=main".to_owned(),
        "PIPETOP_BUILD=42".to_owned(),
        "PIPETOP_COMMIT=c2a64f6".to_owned(),
        "PIPETOP_DELIVERY=1".to_owned(),
        "PIPETOP_EVENT=fail".to_owned(),
        "PIPETOP_JOB=unit".to_owned(),
        format!("PIPETOP_PIPELINE={name}"),
        "PIPETOP_STAGE=Test".to_owned(),
        "PIPETOP_STATUS=FAIL".to_owned(),
        "PIPETOP_URL=https://gitee.com/acme/api/pipelines/1".to_owned(),
    ];
    assert_eq!(env.lines().collect::<Vec<_>>(), expected);
    let stdin: Value =
        serde_json::from_str(&std::fs::read_to_string(&stdin_file).unwrap()).unwrap();
    assert_eq!(stdin, accepted);
    assert!(
        !dir.join("pwned").exists(),
        "the pipeline name ran as a command"
    );
}

#[test]
fn a_command_that_hangs_is_killed_at_its_timeout_and_a_missing_one_is_said() {
    let server = Server::start(&[
        "--on-fail",
        "sleep 30",
        "--hook-timeout",
        "300ms",
        "--on-finish",
        "/nonexistent/notify-me",
    ]);
    send(&server, &["--status", "FAIL"]);
    let mut outcomes = [next_of(&server, "outcome"), next_of(&server, "outcome")];
    outcomes.sort_by_key(|o| o["action"].as_str().unwrap_or_default().to_owned());
    assert_eq!(outcomes[0]["action"], "on_fail");
    assert_eq!(outcomes[0]["ok"], false);
    assert_eq!(outcomes[0]["detail"], "killed after 0.3s");
    assert_eq!(outcomes[1]["action"], "on_finish");
    assert_eq!(
        outcomes[1]["detail"],
        "cannot run /nonexistent/notify-me: no such file or directory"
    );
}

/// What a test receiver was sent.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

/// A real axum receiver on a free port, answering after `delay`.
fn receiver(delay: Duration) -> (SocketAddr, Received) {
    let received = Received::default();
    let kept = received.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app = Router::new().route(
                "/hook",
                post(move |headers: HeaderMap, body: Bytes| {
                    let kept = kept.clone();
                    async move {
                        kept.0.lock().unwrap().push((headers, body));
                        tokio::time::sleep(delay).await;
                        "thanks"
                    }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = axum::serve(listener, app).await;
        });
    });
    (addr, received)
}

#[test]
fn forwarded_deliveries_carry_their_body_and_headers_and_a_fresh_signature() {
    let (addr, received) = receiver(Duration::ZERO);
    let target = format!("http://{addr}/hook");
    let server = Server::start(&[
        "--secret",
        SECRET,
        "--forward-to",
        &target,
        "--forward-secret",
        "downstream",
    ]);
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/doc-sample.json"
    );
    send(&server, &["--secret", SECRET, "--file", sample]);
    let accepted = next_of(&server, "accepted");
    let outcome = next_of(&server, "outcome");
    assert_eq!(outcome["action"], "forward");
    assert_eq!(outcome["ok"], true);
    assert_eq!(outcome["status"], 200);
    assert_eq!(outcome["detail"], "HTTP 200 OK");
    assert!(outcome["elapsed_ms"].is_u64());

    let (headers, body) = received.0.lock().unwrap()[0].clone();
    let body: Value = serde_json::from_slice(&body).unwrap();
    let original: Value = serde_json::from_str(&std::fs::read_to_string(sample).unwrap()).unwrap();
    // The documented sample's upParams arrive as a string holding JSON, and leave as one.
    assert_eq!(body, original);
    assert_eq!(accepted["notification"]["job"], original["job"]);
    let timestamp = headers["x-gitee-timestamp"].to_str().unwrap();
    assert_eq!(
        headers["x-gitee-token"].to_str().unwrap(),
        pipetop::gitee::sign("downstream", timestamp)
    );

    // A test delivery keeps its header on the way.
    send(&server, &["--secret", SECRET, "--ping"]);
    assert_eq!(next_of(&server, "outcome")["ok"], true);
    let (headers, _) = received.0.lock().unwrap()[1].clone();
    assert_eq!(headers["x-gitee-ping"], "true");
}

#[test]
fn a_slow_target_times_out_and_a_down_one_is_refused_and_nothing_waits_for_either() {
    let (slow, _) = receiver(Duration::from_secs(30));
    let server = Server::start(&[
        "--forward-to",
        &format!("http://{slow}/hook"),
        "--forward-timeout",
        "500ms",
    ]);
    send(&server, &["--build", "1"]);
    send(&server, &["--build", "2"]);
    // Both were accepted, and printed, while the first forward still waited.
    let first = next_of(&server, "accepted");
    let second = next_of(&server, "accepted");
    assert_eq!(
        (first["id"].as_u64(), second["id"].as_u64()),
        (Some(1), Some(2))
    );
    for id in [1, 2] {
        let outcome = next_of(&server, "outcome");
        assert_eq!(outcome["delivery_id"], id);
        assert_eq!(outcome["ok"], false);
        assert!(
            outcome["detail"]
                .as_str()
                .unwrap()
                .ends_with("no answer within 500ms"),
            "{outcome}"
        );
    }
    server.kill();

    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = Server::start(&["--forward-to", &format!("http://{down}/hook")]);
    send(&server, &[]);
    let outcome = next_of(&server, "outcome");
    assert_eq!(outcome["ok"], false);
    assert_eq!(
        outcome["detail"],
        format!(
            "cannot post to http://{down}/hook: connection refused; is anything listening there?"
        )
    );
}

#[test]
fn resend_posts_journaled_deliveries_by_id_and_by_pipeline() {
    let journal = scratch_dir("resend").join("journal.jsonl");
    let journal_arg = journal.to_str().unwrap().to_owned();
    let server = Server::start(&["--journal", &journal_arg]);
    for (pipeline, build) in [("deploy", "1"), ("docs", "2"), ("deploy", "3")] {
        send(&server, &["--pipeline", pipeline, "--build", build]);
        next_of(&server, "accepted");
    }
    server.terminate();

    let (addr, received) = receiver(Duration::ZERO);
    let to = format!("http://{addr}/hook");
    let resend = |args: &[&str]| {
        let mut command = pipetop();
        command
            .args(["resend", "--to", &to, "--journal", &journal_arg])
            .args(args);
        run(command)
    };
    let out = resend(&["2"]);
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.starts_with("#2 HTTP 200 OK ("), "{printed}");
    let out = resend(&["--pipeline", "deploy", "--since", "1h"]);
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed.lines().count(), 2, "{printed}");

    let builds: Vec<(String, u64)> = received
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| {
            let body: Value = serde_json::from_slice(body).unwrap();
            let job = &body["job"];
            (
                job["pipelineName"].as_str().unwrap().to_owned(),
                job["buildNumber"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        builds,
        [
            ("docs".to_owned(), 2),
            ("deploy".to_owned(), 1),
            ("deploy".to_owned(), 3)
        ]
    );

    let out = resend(&["--pipeline", "nothing-like-it"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "pipetop: no journaled delivery in {} matches\n",
            journal.display()
        )
    );
    let mut command = pipetop();
    command.args(["resend", "--to", &to]);
    assert_eq!(run(command).status.code(), Some(2), "no ids and no filter");
}

#[test]
fn a_desktop_without_a_notification_service_is_one_sentence_not_a_failure() {
    let mut command = pipetop();
    // No session bus to reach, as over SSH or in a container.
    command
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", scratch_dir("runtime"));
    let server = Server::start_with(command, &["--notify", "fail", "--notify-via", "desktop"]);
    send(&server, &["--status", "FAIL"]);
    let outcome = next_of(&server, "outcome");
    assert_eq!(outcome["action"], "notify");
    assert_eq!(outcome["ok"], false);
    let detail = outcome["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("no desktop notification service answered: "),
        "{detail}"
    );
    // Still receiving.
    send(&server, &["--status", "SUCC", "--build", "2"]);
    assert_eq!(next_of(&server, "accepted")["id"], 2);
}
