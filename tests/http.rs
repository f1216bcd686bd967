//! The receiver end to end: the real binary on a free port, real signed requests, and the
//! status codes, bodies and headless JSON lines that come back.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;

#[test]
fn signed_url_encoded_and_password_deliveries_are_accepted() {
    let server = Server::start(&["--secret", SECRET]);
    assert!(
        server
            .start_line
            .contains("signature verification on (tolerance 5m)"),
        "{}",
        server.start_line
    );
    let url = server.url("/webhook");
    let ts = now_ms(0);

    let reply = post_signed(&url, SECRET, &ts, BODY);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body, json!({"ok": true, "id": 1}));
    let line = server.next_line();
    assert_eq!(line["type"], "accepted");
    assert_eq!(line["id"], 1);
    assert_eq!(line["auth"], "signature");
    assert_eq!(line["repaired"], false);
    assert_eq!(line["notification"]["job"]["statusCode"], "RUNNING");
    assert_eq!(line["notification"]["job"]["buildNumber"], 3);
    let sent_at = chrono::DateTime::from_timestamp_millis(ts.parse().unwrap()).unwrap();
    assert_eq!(
        line["sent_at"],
        sent_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    assert!(line["received_at"].as_str().unwrap().ends_with('Z'));

    // Another timestamp: the same one re-encoded is the same pair (see
    // a_captured_token_spelled_anew_is_the_same_pair).
    let ts2 = (ts.parse::<u64>().unwrap() + 1).to_string();
    let encoded = pipetop::gitee::sign(SECRET, &ts2)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let headers = [
        ("X-Gitee-Timestamp", ts2.as_str()),
        ("X-Gitee-Token", &encoded),
    ];
    let reply = request("POST", &url, &headers, BODY);
    assert_eq!(reply.body, json!({"ok": true, "id": 2}));
    assert_eq!(server.next_line()["auth"], "signature");

    let headers = [
        ("X-Gitee-Timestamp", ts.as_str()),
        ("X-Gitee-Token", SECRET),
    ];
    let reply = request("POST", &url, &headers, BODY);
    assert_eq!(reply.body, json!({"ok": true, "id": 3}));
    let line = server.next_line();
    assert_eq!(
        (line["id"].clone(), line["auth"].clone()),
        (json!(3), json!("password"))
    );
}

#[test]
fn without_a_secret_everything_says_verification_is_off() {
    let server = Server::start(&["--no-journal"]);
    assert_eq!(
        server.notices,
        ["pipetop: no journal: deliveries are kept in memory only"]
    );
    assert!(
        server.start_line.contains("verification OFF"),
        "{}",
        server.start_line
    );
    assert!(
        server
            .start_line
            .contains(&format!("webhook URL http://{}/webhook", server.addr))
    );
    let reply = request("POST", &server.url("/webhook"), &[], BODY);
    assert_eq!(reply.body, json!({"ok": true, "id": 1}));
    let line = server.next_line();
    assert_eq!(line["auth"], "none");
    assert!(line.get("sent_at").is_none(), "{line}");
    let health = request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(health.body["verification"], false);
}

#[test]
fn the_documented_sample_is_accepted_byte_for_byte_and_matches_the_json_form() {
    let server = Server::start(&["--secret", SECRET]);
    let url = server.url("/webhook");
    let reply = post_signed(&url, SECRET, &now_ms(0), &fixture("doc-sample.txt"));
    assert_eq!(reply.body, json!({"ok": true, "id": 1}));
    let repaired = server.next_line();
    let reply = post_signed(&url, SECRET, &now_ms(0), &fixture("doc-sample.json"));
    assert_eq!(reply.body, json!({"ok": true, "id": 2}));
    let strict = server.next_line();

    assert_eq!(repaired["repaired"], true);
    assert_eq!(strict["repaired"], false);
    assert_eq!(repaired["notification"], strict["notification"]);
    assert_eq!(repaired["notification"]["job"]["statusCode"], "SUCC");
    // jq '.notification.sources[].upParams.GITEE_REPO'
    let repos: Vec<&Value> = strict["notification"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|source| source["upParams"].get("GITEE_REPO"))
        .collect();
    assert_eq!(repos, [&json!("git/test")]);
}

#[test]
fn a_malformed_body_is_400_with_the_parsers_reason() {
    let server = Server::start(&["--secret", SECRET]);
    let reply = post_signed(
        &server.url("/webhook"),
        SECRET,
        &now_ms(0),
        b"{\n  \"job\": {\"statusCode\": \"FAIL\",,}\n}",
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["ok"], false);
    let reason = reply.body["error"].as_str().unwrap();
    assert!(reason.starts_with("body is not valid JSON"), "{reason}");
    assert!(reason.contains("line 2"), "{reason}");
    let line = server.next_line();
    assert_eq!(line["type"], "rejected");
    assert_eq!(line["status"], 400);
    assert_eq!(line["reason"], reason);
    assert!(line["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
}

#[test]
fn fields_of_another_shape_are_accepted_and_printed_as_received() {
    let server = Server::start(&["--secret", SECRET, "--no-journal"]);
    let url = server.url("/webhook");
    let job = json!({"pipelineId": 1, "jobName": "j", "statusCode": "FAIL"});
    let bodies = [
        json!({"job": job, "sources": [], "globalParams": {"key1": "aaa"}}),
        json!({"job": job, "sources": {"sourceType": "GITEE_GO"}, "globalParams": []}),
        json!({"job": {"pipelineId": 1, "buildNumber": 3.5}, "sources": [], "globalParams": []}),
        json!({"job": {"pipelineId": 1, "buildNumber": "abc"}, "sources": [], "globalParams": []}),
        json!({"job": {"pipelineId": 1, "buildNumber": true}, "sources": [], "globalParams": []}),
        json!({"job": {"buildNumber": {"n": 3}}, "sources": [], "globalParams": []}),
        json!({"job": {"pipelineId": "abc", "statusCode": {"code": "FAIL"}}, "sources": [], "globalParams": []}),
        json!({"job": "build", "sources": [], "globalParams": []}),
        json!({"job": ["build"], "sources": [], "globalParams": []}),
        json!({"job": job, "sources": ["repo", {"sourceType": "GITEE_GO"}], "globalParams": []}),
        json!({"job": job, "sources": [{"sourceType": "PIPELINE", "upParams": 5}], "globalParams": []}),
        json!({"job": job, "sources": [], "globalParams": [{"key": "A", "value": [1]}, 2]}),
    ];
    for (n, body) in bodies.iter().enumerate() {
        // A second apart, so no two posts share a timestamp however fast the loop runs.
        let ts = now_ms(-1000 * n as i64);
        let reply = post_signed(&url, SECRET, &ts, body.to_string().as_bytes());
        assert_eq!(reply.status, 200, "{body}: {:?}", reply.body);
        let line = server.next_line();
        assert_eq!(line["type"], "accepted");
        assert_eq!(line["notification"], *body);
    }
}

#[test]
fn credentials_in_the_body_are_printed_and_journaled_only_as_the_marker() {
    let secret = "s3cr3t-Hook-Key";
    let dir = scratch_dir("redact");
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let journal = dir.join("journal.jsonl");
    let server = Server::start(&[
        "--secret-file",
        secret_file.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
    ]);
    let url = server.url("/webhook");
    // Gitee's password-mode test body, with the secret also inside other fields.
    let body = json!({
        "password": secret,
        "sign": "AbEvusCKxqRkBtTr4fD47SGVP/mRwlt48iuUYMFRloI=",
        "timestamp": 1672135206524u64,
        "hook": {"x_token": "tok-123", "note": format!("deploy with {secret}")},
        "job": {
            "pipelineId": 1,
            "jobName": "build",
            "statusCode": "FAIL",
            "statusName": secret,
            "pipelineUrl": format!("https://e.gitee.com/p?token={secret}"),
        },
        "globalParams": [{"key": "DB_PASSWORD", "value": "hunter2"}],
    })
    .to_string();
    let ts = now_ms(0);
    let password_mode = [
        ("X-Gitee-Timestamp", ts.as_str()),
        ("X-Gitee-Token", secret),
    ];
    let reply = request("POST", &url, &password_mode, body.as_bytes());
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let line = server.next_line();
    let journaled = std::fs::read_to_string(&journal).unwrap();
    for text in [line.to_string(), journaled] {
        for kept in [secret, "tok-123", "hunter2", "AbEvus"] {
            assert!(!text.contains(kept), "{kept} in {text}");
        }
    }
    let notification = &line["notification"];
    assert_eq!(notification["password"], "[redacted]");
    assert_eq!(notification["sign"], "[redacted]");
    assert_eq!(notification["timestamp"], 1672135206524u64);
    assert_eq!(
        notification["hook"],
        json!({"x_token": "[redacted]", "note": "deploy with [redacted]"})
    );
    assert_eq!(notification["job"]["statusName"], "[redacted]");
    assert_eq!(
        notification["job"]["pipelineUrl"],
        "https://e.gitee.com/p?token=[redacted]"
    );
    assert_eq!(notification["globalParams"][0]["value"], "[redacted]");

    // Without a secret, fields named like credentials are still hidden.
    let open = Server::start(&["--no-journal"]);
    let reply = request("POST", &open.url("/webhook"), &[], body.as_bytes());
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let line = open.next_line();
    assert_eq!(line["notification"]["password"], "[redacted]");
    assert_eq!(line["notification"]["hook"]["x_token"], "[redacted]");
    assert_eq!(line["notification"]["job"]["statusName"], secret);
}

#[test]
fn missing_wrong_stale_and_future_credentials_are_401_and_say_which() {
    let server = Server::start(&["--secret", SECRET]);
    let url = server.url("/webhook");
    let ts = now_ms(0);
    let token = pipetop::gitee::sign(SECRET, &ts);
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![], "missing X-Gitee-Token header"),
        (
            vec![("X-Gitee-Token", token.clone())],
            "missing X-Gitee-Timestamp header",
        ),
        (
            vec![
                ("X-Gitee-Token", pipetop::gitee::sign("wrong", &ts)),
                ("X-Gitee-Timestamp", ts.clone()),
            ],
            "X-Gitee-Token matches neither",
        ),
        (
            vec![
                ("X-Gitee-Token", "12365".to_owned()),
                ("X-Gitee-Timestamp", ts.clone()),
            ],
            "X-Gitee-Token matches neither",
        ),
    ];
    for (headers, expected) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = request("POST", &url, &headers, BODY);
        assert_eq!(reply.status, 401, "{expected}");
        let reason = reply.body["error"].as_str().unwrap().to_owned();
        assert!(reason.starts_with(expected), "{reason}");
        assert!(
            !reason.contains(SECRET) && !reason.contains(&token),
            "{reason}"
        );
        let line = server.next_line();
        assert_eq!(
            (line["status"].clone(), line["reason"].clone()),
            (json!(401), json!(reason))
        );
    }

    let stale = post_signed(&url, SECRET, &now_ms(-432_000), BODY);
    assert_eq!(stale.status, 401);
    let reason = stale.body["error"].as_str().unwrap();
    assert!(reason.starts_with("timestamp is 7m1"), "{reason}");
    assert!(reason.ends_with("old; tolerance is 5m"), "{reason}");
    let future = post_signed(&url, SECRET, &now_ms(600_000), BODY);
    assert_eq!(future.status, 401);
    let reason = future.body["error"].as_str().unwrap();
    assert!(
        reason.contains("in the future; tolerance is 5m"),
        "{reason}"
    );

    let health = request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(health.body["accepted"], 0);
    assert_eq!(health.body["rejected"], 6);
}

#[test]
fn the_tolerance_flag_moves_the_window_both_ways() {
    let server = Server::start(&["--secret", SECRET, "--tolerance", "30s"]);
    let url = server.url("/webhook");
    assert_eq!(
        post_signed(&url, SECRET, &now_ms(-20_000), BODY).status,
        200
    );
    assert_eq!(post_signed(&url, SECRET, &now_ms(20_000), BODY).status, 200);
    assert_eq!(
        post_signed(&url, SECRET, &now_ms(-40_000), BODY).status,
        401
    );
    assert_eq!(post_signed(&url, SECRET, &now_ms(40_000), BODY).status, 401);
}

/// Sends raw bytes and returns the status line and body of the answer.
fn raw_exchange(server: &Server, head: &str, body: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before all of this is written; that is the point.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[test]
fn a_body_that_arrives_in_pieces_is_read_whole() {
    let server = Server::start(&[]);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Apart in time, so the receiver gets them as separate frames.
    for piece in BODY.chunks(BODY.len() / 3 + 1) {
        stream
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .unwrap();
        stream.write_all(piece).unwrap();
        stream.write_all(b"\r\n").unwrap();
        stream.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    stream.write_all(b"0\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let line = server.next_line();
    let sent: Value = serde_json::from_slice(BODY).unwrap();
    assert_eq!(line["notification"]["job"], sent["job"]);
}

#[test]
fn bodies_over_the_limit_are_413_before_they_are_read() {
    let server = Server::start(&["--max-body", "1KiB"]);

    // A Content-Length over the limit is refused without sending a single body byte.
    let head = "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 100000000\r\nConnection: close\r\n\r\n";
    let (status, body) = raw_exchange(&server, head, b"");
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    assert!(
        body.contains("body is larger than the limit of 1.0 KiB"),
        "{body}"
    );
    let line = server.next_line();
    assert_eq!(
        (line["type"].clone(), line["status"].clone()),
        (json!("rejected"), json!(413))
    );

    // A chunked body stops being read at the limit: 2 KiB sent, the connection left open.
    let head = "POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
    let (status, _) = raw_exchange(&server, head, chunk.repeat(2).as_bytes());
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    assert_eq!(server.next_line()["status"], 413);

    // Exactly at the limit is fine.
    let mut padded = BODY.to_vec();
    padded.resize(1024, b' ');
    let reply = request("POST", &server.url("/webhook"), &[], &padded);
    assert_eq!(reply.body, json!({"ok": true, "id": 1}));
    padded.push(b' ');
    assert_eq!(
        request("POST", &server.url("/webhook"), &[], &padded).status,
        413
    );
}

#[test]
fn wrong_methods_and_paths_are_405_and_404_and_healthz_counts() {
    let server = Server::start(&["--path", "/hooks/gitee"]);
    let url = server.url("/hooks/gitee");
    for method in ["GET", "PUT", "DELETE"] {
        let reply = request(method, &url, &[], b"");
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.allow.as_deref(), Some("POST"), "{method}");
        assert_eq!(
            reply.body["error"],
            format!("{method} is not allowed here; Gitee delivers with POST /hooks/gitee")
        );
        let line = server.next_line();
        assert_eq!(line["status"], 405);
    }

    let reply = request("POST", &server.url("/webhook"), &[], BODY);
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.body,
        json!({"ok": false, "error": "no webhook here; pipetop listens on POST /hooks/gitee"})
    );
    assert_eq!(server.next_line()["status"], 404);

    // A stray GET elsewhere is answered but not reported.
    assert_eq!(
        request("GET", &server.url("/favicon.ico"), &[], b"").status,
        404
    );
    server.assert_quiet();

    assert_eq!(request("POST", &url, &[], BODY).status, 200);
    assert_eq!(server.next_line()["type"], "accepted");
    let health = request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(health.status, 200);
    assert_eq!(health.body["ok"], true);
    assert_eq!(health.body["accepted"], 1);
    assert_eq!(health.body["rejected"], 4);
    assert_eq!(health.body["verification"], false);
    assert!(health.body["uptime_secs"].is_u64());
}

#[test]
fn concurrent_deliveries_all_arrive_with_distinct_ids_in_order() {
    let server = Server::start(&[]);
    let url = server.url("/webhook");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| {
                        request("POST", &url, &[], BODY).body["id"]
                            .as_u64()
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut answered: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, (1..=80).collect::<Vec<_>>());
    let printed: Vec<u64> = (0..80)
        .map(|_| server.next_line()["id"].as_u64().unwrap())
        .collect();
    assert_eq!(printed, (1..=80).collect::<Vec<_>>());
}

#[test]
fn sigterm_stops_cleanly_with_every_line_written() {
    let server = Server::start(&[]);
    for _ in 0..3 {
        assert_eq!(
            request("POST", &server.url("/webhook"), &[], BODY).status,
            200
        );
    }
    let (status, out, err) = server.terminate();
    assert!(status.success(), "{status:?} {err:?}");
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(err.iter().any(|line| line.contains("stopping")), "{err:?}");
}

#[test]
fn a_port_in_use_is_one_sentence_and_a_failed_start() {
    let first = Server::start(&[]);
    let addr = first.addr.to_string();
    let mut second = pipetop();
    second.args(["--listen", &addr, "--headless"]);
    let output = run(second);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("pipetop: cannot listen on {addr}: address already in use\n")
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn bad_flags_and_unreadable_secret_files_fail_before_listening() {
    let mut bad = pipetop();
    bad.args(["--listen", "127.0.0.1:0", "--max-body", "lots"]);
    let output = run(bad);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--max-body"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");

    let mut unknown = pipetop();
    unknown.arg("--frobnicate");
    assert_eq!(run(unknown).status.code(), Some(2));

    let missing = format!("{}/no-such-secret", env!("CARGO_TARGET_TMPDIR"));
    let mut unreadable = pipetop();
    unreadable.args([
        "--listen",
        "127.0.0.1:0",
        "--headless",
        "--secret-file",
        &missing,
    ]);
    let output = run(unreadable);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("pipetop: cannot read secret file {missing}: no such file or directory\n")
    );
}

#[test]
fn a_secret_file_and_the_environment_both_work() {
    let path = format!(
        "{}/secret-{}",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id()
    );
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    let server = Server::start(&["--secret-file", &path]);
    let url = server.url("/webhook");
    assert_eq!(post_signed(&url, SECRET, &now_ms(0), BODY).status, 200);
    assert_eq!(
        post_signed(&url, &format!("{SECRET}\n"), &now_ms(0), BODY).status,
        401
    );
    let _ = std::fs::remove_file(&path);

    let mut with_env = pipetop();
    with_env.env("PIPETOP_SECRET", "from-env");
    let server = Server::start_with(with_env, &[]);
    let url = server.url("/webhook");
    assert_eq!(post_signed(&url, "from-env", &now_ms(0), BODY).status, 200);
    assert_eq!(post_signed(&url, SECRET, &now_ms(0), BODY).status, 401);
}

/// What Gitee's "test" button sends for a repository push hook, cut down: no `job` object.
const PUSH_HOOK: &[u8] = br#"{"ref":"refs/heads/master","before":"0000000","after":"1a2b3c4","hook_name":"push_hooks","repository":{"full_name":"acme/app"},"sender":{"login":"someone"}}"#;

#[test]
fn a_test_delivery_is_answered_with_ping_and_stays_marked_after_a_restart() {
    let dir = scratch_dir("ping");
    let journal = dir.join("journal.jsonl");
    let journal = journal.to_str().unwrap();
    let server = Server::start(&["--secret", SECRET, "--journal", journal]);
    let url = server.url("/webhook");
    let ts = now_ms(0);
    let token = pipetop::gitee::sign(SECRET, &ts);
    let ping = [
        ("X-Gitee-Timestamp", ts.as_str()),
        ("X-Gitee-Token", token.as_str()),
        ("X-Gitee-Ping", "true"),
        ("X-Gitee-Event", "Push Hook"),
        ("X-Request-ID", "a3f1c2d4-0001"),
    ];
    let reply = request("POST", &url, &ping, PUSH_HOOK);
    assert_eq!(reply.body, json!({"ok": true, "id": 1, "ping": true}));
    let line = server.next_line();
    assert_eq!(line["type"], "accepted");
    assert_eq!(line["ping"], true);
    assert_eq!(line["gitee_event"], "Push Hook");
    assert_eq!(line["request_id"], "a3f1c2d4-0001");

    // A test delivery is signed like any other: without its signature it is refused.
    let reply = request("POST", &url, &[("X-Gitee-Ping", "true")], PUSH_HOOK);
    assert_eq!(reply.status, 401);
    assert_eq!(server.next_line()["type"], "rejected");

    // Only a ping is marked as one.
    let reply = post_signed(&url, SECRET, &now_ms(1), BODY);
    assert_eq!(reply.body, json!({"ok": true, "id": 2}));
    let line = server.next_line();
    assert!(line.get("ping").is_none(), "{line}");
    server.kill();

    let server = Server::start(&["--secret", SECRET, "--journal", journal, "--replay"]);
    let replayed = server.next_line();
    assert_eq!(replayed["id"], 1);
    assert_eq!(replayed["ping"], true);
    assert_eq!(replayed["gitee_event"], "Push Hook");
    assert_eq!(replayed["request_id"], "a3f1c2d4-0001");
    assert!(server.next_line().get("ping").is_none());
}

#[test]
fn bodies_that_are_not_job_notifications_are_accepted_each_with_its_own_id_and_headers() {
    let server = Server::start(&["--secret", SECRET]);
    let url = server.url("/webhook");
    let task = br#"{"task":{"pipelineId":7,"statusCode":"SUCCESS"},"taskName":"build","event":"task","action":"finish"}"#;
    let bodies: [&[u8]; 5] = [PUSH_HOOK, PUSH_HOOK, b"{}", b"{}", task];
    for (n, body) in bodies.iter().enumerate() {
        let ts = now_ms(n as i64);
        let token = pipetop::gitee::sign(SECRET, &ts);
        let request_id = format!("req-{n}");
        let headers = [
            ("X-Gitee-Timestamp", ts.as_str()),
            ("X-Gitee-Token", token.as_str()),
            ("X-Gitee-Event", "Push Hook"),
            ("X-Request-ID", request_id.as_str()),
        ];
        let reply = request("POST", &url, &headers, body);
        assert_eq!(reply.body, json!({"ok": true, "id": n + 1}), "body {n}");
        let line = server.next_line();
        assert_eq!(line["id"], n + 1);
        assert_eq!(line["gitee_event"], "Push Hook");
        assert_eq!(line["request_id"], request_id);
        assert!(line.get("ping").is_none(), "{line}");
    }
    let health = request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(health.body["accepted"], 5);
    assert_eq!(health.body["duplicates"], 0);
}

#[test]
fn kept_headers_are_cleaned_and_bounded_and_never_needed() {
    let server = Server::start(&[]);
    // Without them a delivery is accepted as ever, and its line has no such fields.
    let reply = request("POST", &server.url("/webhook"), &[], BODY);
    assert_eq!(reply.body, json!({"ok": true, "id": 1}));
    let line = server.next_line();
    for field in ["ping", "gitee_event", "request_id"] {
        assert!(line.get(field).is_none(), "{field}: {line}");
    }

    // UTF-8 in a header value: a bidi override and a C1 "clear screen" among ordinary text.
    let long = "r".repeat(1000);
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\
         X-Gitee-Event: Push\u{202e} Hook\u{9b}2J\r\nX-Request-ID: {long}\r\nX-Gitee-Ping: TRUE \r\n\r\n",
        BODY.len()
    );
    let (status, body) = raw_exchange(&server, &head, BODY);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ok": true, "id": 2, "ping": true})
    );
    let line = server.next_line();
    assert_eq!(line["gitee_event"], "Push Hook");
    let kept = line["request_id"].as_str().unwrap();
    assert_eq!(kept, format!("{}…", "r".repeat(127)));

    // A ping header that does not say true is no ping.
    let reply = request(
        "POST",
        &server.url("/webhook"),
        &[("X-Gitee-Ping", "false")],
        BODY,
    );
    assert_eq!(reply.body, json!({"ok": true, "id": 3}));
    assert!(server.next_line().get("ping").is_none());
}

#[test]
fn an_empty_token_says_the_gitee_webhook_has_no_key_set() {
    let server = Server::start(&["--secret", SECRET]);
    // Exactly what Gitee sends for a webhook without a key: the header, with nothing in it.
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nX-Gitee-Token: \r\nX-Gitee-Timestamp: {}\r\n\r\n",
        BODY.len(),
        now_ms(0)
    );
    let (status, body) = raw_exchange(&server, &head, BODY);
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    let reason = "X-Gitee-Token is empty: the Gitee webhook has no key set; set the same key there as pipetop's secret";
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ok": false, "error": reason})
    );
    let line = server.next_line();
    assert_eq!(line["reason"], reason);

    // A missing header still says missing.
    let reply = request("POST", &server.url("/webhook"), &[], BODY);
    assert_eq!(
        reply.body["error"],
        "missing X-Gitee-Token header; this receiver has a secret configured"
    );
}

#[test]
fn a_captured_token_spelled_anew_is_the_same_pair() {
    let server = Server::start(&["--secret", SECRET]);
    let url = server.url("/webhook");
    let ts = now_ms(0);
    let token = pipetop::gitee::sign(SECRET, &ts);
    assert_eq!(
        post_signed(&url, SECRET, &ts, BODY).body,
        json!({"ok": true, "id": 1})
    );
    assert_eq!(server.next_line()["id"], 1);

    // One character as `%XX`, in upper or lower case hex, or several in a mix. The token ends
    // with `=` (0x3D), so there is always a character whose hex has a letter.
    let first = token.as_bytes()[0];
    let spellings = [
        token.replacen('=', "%3D", 1),
        token.replacen('=', "%3d", 1),
        format!("%{first:02X}{}", &token[1..]),
        format!("%{first:02x}{}", &token[1..]).replacen('=', "%3D", 1),
    ];
    for spelled in &spellings {
        assert_ne!(spelled, &token);
        let headers = [
            ("X-Gitee-Timestamp", ts.as_str()),
            ("X-Gitee-Token", spelled),
        ];
        let forged = request(
            "POST",
            &url,
            &headers,
            br#"{"job":{"pipelineName":"forged"}}"#,
        );
        assert_eq!(
            (forged.status, &forged.body),
            (
                401,
                &json!({"ok": false, "error": "signature already used"})
            ),
            "{spelled}"
        );
        let line = server.next_line();
        assert_eq!(
            (line["status"].clone(), line["reason"].clone()),
            (json!(401), json!("signature already used"))
        );
        let again = request("POST", &url, &headers, BODY);
        assert_eq!(
            again.body,
            json!({"ok": true, "id": 1, "duplicate": true}),
            "{spelled}"
        );
    }
    let health = request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(
        (
            health.body["accepted"].clone(),
            health.body["duplicates"].clone()
        ),
        (json!(1), json!(spellings.len()))
    );
    server.assert_quiet();
}

#[test]
fn headless_lines_are_inert_on_a_terminal_and_read_back_as_sent() {
    let server = Server::start(&["--secret", SECRET]);
    let name =
        "ci\u{1b}]0;owned\u{7}-\u{7f}-\u{85}-\u{9b}2J-\u{202e}lmth.exe\u{202c}-\u{2028}-构建";
    let body = json!({"job": {"pipelineName": name, "statusCode": "FAIL"}}).to_string();
    let reply = post_signed(&server.url("/webhook"), SECRET, &now_ms(0), body.as_bytes());
    assert_eq!(reply.status, 200);
    let raw = server.next_raw_line();
    let acting: Vec<char> = raw
        .chars()
        .filter(|&c| {
            c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
        })
        .collect();
    assert!(acting.is_empty(), "{acting:?} in {raw}");
    assert!(raw.contains("构建"), "{raw}");
    let line: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(line["notification"]["job"]["pipelineName"], name);
}

/// `{`, then `//` comments, one a line, up to the default `--max-body` of 1 MiB, then `}`: the
/// shape that cost the tolerant parser most, and a delivery once its comments are gone.
fn comment_bomb() -> Vec<u8> {
    let lines = (1024 * 1024 - 2) / 3;
    [b"{".as_slice(), &b"//\n".repeat(lines), b"}"].concat()
}

/// Posts `body` on a connection of its own, signed with the pair (`timestamp`, `token`), and
/// says on `written` when the whole body is sent; the status line that came back.
fn post_raw(
    addr: std::net::SocketAddr,
    timestamp: &str,
    token: &str,
    body: &[u8],
    written: std::sync::mpsc::Sender<()>,
) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\
         X-Gitee-Timestamp: {timestamp}\r\nX-Gitee-Token: {token}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let _ = written.send(());
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    answer.lines().next().unwrap_or_default().to_owned()
}

/// GET /healthz on a fresh connection, waiting at most `patience` for the answer; its status
/// line, or what went wrong.
fn healthz_within(addr: std::net::SocketAddr, patience: std::time::Duration) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(patience)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        Err(err) => format!("no answer within {patience:?}: {err}"),
    }
}

#[test]
fn a_reused_signature_is_refused_before_its_body_is_parsed() {
    let server = Server::start(&["--secret", SECRET]);
    let url = server.url("/webhook");
    let ts = now_ms(0);
    assert_eq!(post_signed(&url, SECRET, &ts, BODY).status, 200);
    // Not JSON at all: parsing it first would make this a 400.
    let reply = post_signed(&url, SECRET, &ts, b"{,}");
    assert_eq!(
        (reply.status, reply.body["error"].clone()),
        (401, json!("signature already used"))
    );
}

#[test]
fn comment_bombs_hold_no_worker_while_healthz_is_asked() {
    let server = Server::start(&["--secret", SECRET]);
    let bomb = std::sync::Arc::new(comment_bomb());
    let used = now_ms(0);
    assert_eq!(
        post_signed(&server.url("/webhook"), SECRET, &used, BODY).status,
        200
    );
    let (written, all_written) = std::sync::mpsc::channel();
    let fresh = now_ms(1);
    // One signed anew, one with the pair already used.
    let bombs: Vec<_> = [fresh, used]
        .into_iter()
        .map(|ts| {
            let (addr, bomb, written) = (server.addr, bomb.clone(), written.clone());
            std::thread::spawn(move || {
                post_raw(
                    addr,
                    &ts,
                    &pipetop::gitee::sign(SECRET, &ts),
                    &bomb,
                    written,
                )
            })
        })
        .collect();
    for _ in 0..2 {
        all_written.recv_timeout(WAIT).expect("the bomb is sent");
    }
    let health = healthz_within(server.addr, std::time::Duration::from_secs(5));
    assert_eq!(health, "HTTP/1.1 200 OK", "while two bombs are in flight");
    let answers: Vec<String> = bombs.into_iter().map(|b| b.join().unwrap()).collect();
    assert_eq!(answers, ["HTTP/1.1 200 OK", "HTTP/1.1 401 Unauthorized"]);
}

/// A connection that pipelines `GET /healthz` until the receiver stops reading, because its
/// answers are never read and every buffer on the way is full.
fn pipeline_without_reading(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_write_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let batch = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    let deadline = std::time::Instant::now() + WAIT;
    while stream.write_all(batch.as_bytes()).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the receiver read requests whose answers were never taken for {WAIT:?}"
        );
    }
    stream
}

#[test]
fn clients_that_never_read_lose_their_slots_and_sigterm_does_not_wait_for_them() {
    // More of them than there are slots: before, the bound was reached for good.
    let server = Server::start(&["--max-connections", "2"]);
    let stalled: Vec<TcpStream> = (0..3)
        .map(|_| pipeline_without_reading(server.addr))
        .collect();
    let reply = try_request("POST", &server.url("/webhook"), &[], BODY);
    assert_eq!(reply.map(|r| r.status), Some(200), "a genuine delivery");
    let asked = std::time::Instant::now();
    let (status, _, err) = server.terminate();
    let took = asked.elapsed();
    assert!(status.success(), "{status:?} {err:?}");
    // The grace for requests in flight is 5 s; the writer and the printer each get as long
    // again, which is what a connection nobody reads used to cost.
    assert!(
        took < std::time::Duration::from_secs(7),
        "SIGTERM took {took:?}: {err:?}"
    );
    drop(stalled);
}

#[test]
fn a_client_that_stops_reading_is_cut_off_after_the_write_timeout() {
    let server = Server::start(&["--write-timeout", "1s", "--header-timeout", "60s"]);
    let mut stream = pipeline_without_reading(server.addr);
    // Once the receiver has closed the connection, a write fails; until then it is accepted
    // into the buffers (or times out on them).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match stream.write(b"GET /healthz HTTP/1.1\r\n\r\n") {
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                break;
            }
            _ => {}
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the connection was still open after {WAIT:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// What a hostile connection does with its slot.
#[derive(Clone, Copy)]
enum Hostile {
    /// One request answered, then nothing: an idle keep-alive connection.
    KeepAlive,
    /// Connected, and never a byte sent.
    Silent,
    /// A request head that never ends: one more byte every tick.
    Trickling,
}

impl Hostile {
    fn open(self, addr: std::net::SocketAddr) -> Option<TcpStream> {
        let patience = std::time::Duration::from_secs(1);
        let mut stream = TcpStream::connect_timeout(&addr, patience).ok()?;
        stream.set_read_timeout(Some(patience)).ok()?;
        match self {
            Hostile::KeepAlive => {
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    .ok()?;
                let mut answer = [0u8; 1024];
                let _ = stream.read(&mut answer).ok()?;
            }
            Hostile::Silent => {}
            Hostile::Trickling => stream.write_all(b"POST /webhook HTTP/1.1\r\nX-").ok()?,
        }
        stream.set_nonblocking(true).ok()?;
        Some(stream)
    }

    /// Keeps the connection going; `false` once the receiver has closed it.
    fn tick(self, stream: &mut TcpStream) -> bool {
        let mut byte = [0u8; 256];
        let open = match stream.read(&mut byte) {
            Ok(0) => false,
            Ok(_) => true,
            Err(err) => err.kind() == std::io::ErrorKind::WouldBlock,
        };
        match self {
            Hostile::Trickling if open => match stream.write(b"x") {
                Ok(_) => true,
                Err(err) => err.kind() == std::io::ErrorKind::WouldBlock,
            },
            _ => open,
        }
    }
}

/// Sets the flag when dropped, so the attack stops even when an assertion fails.
struct StopOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_genuine_delivery_gets_through_400_idle_and_trickling_connections() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    // The default bound of 256 connections, and 400 hostile ones from the same address, each
    // opened again as soon as the receiver closes it.
    let server = Server::start(&["--secret", SECRET]);
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let _stop = StopOnDrop(Arc::clone(&stop));
    let (ready, is_ready) = std::sync::mpsc::channel();
    let attack = std::thread::spawn(move || {
        let kinds = [Hostile::KeepAlive, Hostile::Silent, Hostile::Trickling];
        let mut hostile: Vec<(Hostile, Option<TcpStream>)> = (0..400)
            .map(|n| {
                let kind = kinds[n % kinds.len()];
                (kind, kind.open(addr))
            })
            .collect();
        let _ = ready.send(());
        while !stop.load(Ordering::Relaxed) {
            for (kind, stream) in &mut hostile {
                let open = stream.as_mut().is_some_and(|s| kind.tick(s));
                if !open {
                    *stream = kind.open(addr);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    is_ready
        .recv_timeout(WAIT * 4)
        .expect("the attack is set up");
    std::thread::sleep(Duration::from_millis(500));

    let started = Instant::now();
    let ts = now_ms(0);
    let (written, _) = std::sync::mpsc::channel();
    let token = pipetop::gitee::sign(SECRET, &ts);
    let status = post_raw(addr, &ts, &token, BODY, written);
    let took = started.elapsed();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    drop(_stop);
    attack.join().unwrap();
}

#[test]
fn headless_lines_escape_what_a_terminal_would_act_on_and_keep_the_data() {
    let server = Server::start(&["--secret", SECRET]);
    let url = server.url("/webhook");
    // Written raw into the body, as JSON allows for all but C0 controls.
    let name = "deploy\u{85}\u{9b}2J\u{9d}0;title\u{9c}\u{7f}\u{202e}gnp.exe\u{202c}\u{2066}x\u{2069}\
                \u{200f}\u{61c}\u{2028}\u{2029}\u{200b}\u{200d}\u{ad}\u{feff}\u{fe0f}\u{e0041}构建";
    let key = "key\u{202e}\u{85}";
    let body = serde_json::json!({
        "job": {"pipelineId": 9, "pipelineName": name, "statusCode": "RUNNING"},
        "globalParams": [{"key": key, "value": name}],
        key: name,
    })
    .to_string();
    assert!(
        body.contains('\u{9b}') && body.contains('\u{202e}'),
        "{body}"
    );
    assert_eq!(
        post_signed(&url, SECRET, &now_ms(0), body.as_bytes()).status,
        200
    );

    let line = server.next_raw_line();
    let raw: Vec<char> = line
        .chars()
        .filter(|&c| c.is_control() || pipetop::text::is_removed(c))
        .collect();
    assert!(raw.is_empty(), "raw {raw:?} in {line}");
    assert!(
        line.contains(r"deploy\u0085\u009b2J\u009d0;title\u009c\u007f\u202egnp.exe"),
        "{line}"
    );
    assert!(line.contains(r"\udb40\udc41构建"), "{line}");

    let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
    let notification = &parsed["notification"];
    assert_eq!(notification["job"]["pipelineName"], name);
    assert_eq!(notification["globalParams"][0]["key"], key);
    assert_eq!(notification["globalParams"][0]["value"], name);
    assert_eq!(notification[key], name);
}
