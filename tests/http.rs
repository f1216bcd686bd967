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

    let encoded = pipetop::gitee::sign(SECRET, &ts)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let headers = [
        ("X-Gitee-Timestamp", ts.as_str()),
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
