//! Durable history and hardening, end to end: the real binary, real ports, real files. A crash
//! under load, a restart, a damaged journal, a full disk, redeliveries, reused signatures, slow
//! clients and the connection bound.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The entries in a journal file, by line; a last line without its newline is left out.
fn journal_entries(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("read the journal");
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .map(|line| serde_json::from_str(line).expect("a journal line"))
        .collect()
}

fn body(tag: &str) -> Vec<u8> {
    format!(r#"{{"job":{{"pipelineId":1,"pipelineName":"{tag}","statusCode":"RUNNING"}}}}"#)
        .into_bytes()
}

#[test]
fn a_kill_under_load_loses_no_acknowledged_delivery_and_stores_none_twice() {
    let dir = scratch_dir("kill");
    let path = dir.join("journal.jsonl");
    let journal = path.to_str().unwrap();
    let server = Server::start(&["--journal", journal]);
    let url = server.url("/webhook");

    // Four senders, each with its own bodies, until the server goes away under them.
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let (url, stop) = (url.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for n in 0..2000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let tag = format!("s{sender}-{n}");
                    match try_request("POST", &url, &[], &body(&tag)) {
                        Some(reply) if reply.status == 200 => {
                            acknowledged.push((reply.body["id"].as_u64().unwrap(), tag));
                        }
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    // Kill it mid-stream, once a fair number have been answered.
    let health = server.url("/healthz");
    while request("GET", &health, &[], b"").body["accepted"].as_u64() < Some(200) {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let acknowledged: Vec<(u64, String)> = senders
        .into_iter()
        .flat_map(|sender| sender.join().unwrap())
        .collect();
    assert!(acknowledged.len() >= 200);

    // Every acknowledged delivery is in the journal exactly once, under its id.
    let entries = journal_entries(&path);
    let stored: HashMap<u64, String> = entries
        .iter()
        .map(|e| {
            let name = e["notification"]["job"]["pipelineName"].as_str().unwrap();
            (e["id"].as_u64().unwrap(), name.to_owned())
        })
        .collect();
    assert_eq!(stored.len(), entries.len(), "an id was stored twice");
    let names: BTreeSet<&String> = stored.values().collect();
    assert_eq!(names.len(), entries.len(), "a delivery was stored twice");
    for (id, tag) in &acknowledged {
        assert_eq!(stored.get(id), Some(tag), "acknowledged id {id} is missing");
    }
    let last_id = *stored.keys().max().unwrap();
    assert_eq!(stored.len() as u64, last_id, "ids have gaps");

    // After a restart the same history comes back, and new ids follow it.
    let server = Server::start(&["--journal", journal, "--replay"]);
    let replayed: Vec<u64> = (0..entries.len())
        .map(|_| server.next_line()["id"].as_u64().unwrap())
        .collect();
    assert_eq!(replayed, (1..=last_id).collect::<Vec<_>>());
    let health = request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(health.body["last_id"], last_id);
    assert_eq!(health.body["accepted"], 0);
    let reply = request("POST", &server.url("/webhook"), &[], &body("after"));
    assert_eq!(reply.body, json!({"ok": true, "id": last_id + 1}));
    assert_eq!(server.next_line()["id"], last_id + 1);
}

#[test]
fn a_cut_short_line_and_a_malformed_line_are_reported_and_skipped() {
    let dir = scratch_dir("torn");
    let path = dir.join("journal.jsonl");
    let journal = path.to_str().unwrap();
    // Written by a real run, then damaged by hand.
    let server = Server::start(&["--journal", journal]);
    for n in 0..3 {
        let reply = request("POST", &server.url("/webhook"), &[], &body(&n.to_string()));
        assert_eq!(reply.status, 200);
    }
    let (status, _, _) = server.terminate();
    assert!(status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let torn = &lines[2][..lines[2].len() / 2];
    std::fs::write(
        &path,
        format!("{}\ngarbage\n{}\n{torn}", lines[0], lines[1]),
    )
    .unwrap();

    let server = Server::start(&["--journal", journal, "--replay"]);
    assert_eq!(server.notices.len(), 2, "{:?}", server.notices);
    assert!(
        server.notices[0].contains("was cut short by a crash mid-write"),
        "{:?}",
        server.notices
    );
    assert!(
        server.notices[1].contains("last id 2"),
        "{:?}",
        server.notices
    );
    assert_eq!(server.next_line()["id"], 1);
    assert_eq!(server.next_line()["id"], 2);
    assert_eq!(
        server.next_notice(),
        format!(
            "pipetop: journal {journal}: line 2 is not a journal entry (expected value at line 1 column 1); skipped it"
        )
    );
    assert_eq!(
        server.next_notice(),
        "pipetop: replayed 2 deliveries from the journal"
    );
    let reply = request("POST", &server.url("/webhook"), &[], &body("new"));
    assert_eq!(reply.body, json!({"ok": true, "id": 3}));
    assert_eq!(server.next_line()["id"], 3);
    drop(server);
    // The new line stands on its own; only the malformed line remains unreadable.
    let ids: Vec<Option<u64>> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).ok()?["id"].as_u64())
        .collect();
    assert_eq!(ids, [Some(1), None, Some(2), Some(3)]);
}

#[test]
fn an_unusable_journal_is_one_sentence_and_exit_1_before_listening() {
    let dir = scratch_dir("unusable");
    let plain = dir.join("plain");
    std::fs::write(&plain, b"").unwrap();
    let cases = [
        (plain.join("journal.jsonl"), "not a directory".to_owned()),
        (dir.clone(), "is a directory".to_owned()),
    ];
    for (path, reason) in cases {
        let mut command = pipetop();
        command.args(["--listen", "127.0.0.1:0", "--headless", "--journal"]);
        command.arg(&path);
        let output = run(command);
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!(
                "pipetop: cannot open the journal {}: {reason}\n",
                path.display()
            )
        );
    }

    // One journal, one pipetop.
    let path = dir.join("journal.jsonl");
    let journal = path.to_str().unwrap();
    let _first = Server::start(&["--journal", journal]);
    let mut second = pipetop();
    second.args([
        "--listen",
        "127.0.0.1:0",
        "--headless",
        "--journal",
        journal,
    ]);
    let output = run(second);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr,
        format!(
            "pipetop: the journal {journal} is in use by another pipetop; choose another with --journal FILE or keep none with --no-journal\n"
        )
    );
}

#[test]
fn a_full_disk_is_503_with_the_reason_and_is_shown() {
    let server = Server::start(&["--journal", "/dev/full"]);
    let reply = request("POST", &server.url("/webhook"), &[], BODY);
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.body,
        json!({"ok": false, "error": "cannot store the delivery: no space left on device"})
    );
    let line = server.next_line();
    assert_eq!(
        (
            line["type"].clone(),
            line["status"].clone(),
            line["reason"].clone()
        ),
        (
            json!("rejected"),
            json!(503),
            json!("cannot store the delivery: no space left on device")
        )
    );
    let health = request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(health.body["accepted"], 0);
    assert_eq!(health.body["last_id"], 0);
}

#[test]
fn a_redelivery_is_a_duplicate_and_a_reused_signature_is_refused_across_restarts() {
    let dir = scratch_dir("dup");
    let path = dir.join("journal.jsonl");
    let journal = path.to_str().unwrap();
    let ts = now_ms(0);
    for round in 0..2 {
        let server = Server::start(&["--secret", SECRET, "--journal", journal]);
        let url = server.url("/webhook");
        let first = post_signed(&url, SECRET, &ts, BODY);
        if round == 0 {
            assert_eq!(first.body, json!({"ok": true, "id": 1}));
            assert_eq!(server.next_line()["id"], 1);
        } else {
            assert_eq!(first.body, json!({"ok": true, "id": 1, "duplicate": true}));
        }
        let again = post_signed(&url, SECRET, &ts, BODY);
        assert_eq!(again.status, 200);
        assert_eq!(again.body, json!({"ok": true, "id": 1, "duplicate": true}));
        let forged = post_signed(&url, SECRET, &ts, &body("forged"));
        assert_eq!(forged.status, 401);
        assert_eq!(
            forged.body,
            json!({"ok": false, "error": "signature already used"})
        );
        let line = server.next_line();
        assert_eq!(
            (line["status"].clone(), line["reason"].clone()),
            (json!(401), json!("signature already used"))
        );
        let health = request("GET", &server.url("/healthz"), &[], b"");
        assert_eq!(health.body["duplicates"], 2 - (1 - round));
        let (status, out, _) = server.terminate();
        assert!(status.success());
        assert!(out.is_empty(), "a duplicate was shown: {out:?}");
    }
    assert_eq!(journal_entries(&path).len(), 1);
}

/// Writes `data`, then reads whatever comes back until the server closes the connection.
fn exchange_and_wait(server: &Server, data: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(data).unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the server closes the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn slow_clients_are_cut_off() {
    let server = Server::start(&["--header-timeout", "1s", "--body-timeout", "1s"]);
    // Headers that never end: the connection is closed without an answer.
    let answer = exchange_and_wait(&server, b"POST /webhook HTTP/1.1\r\nHost: x\r\n");
    assert_eq!(answer, "");
    // A body that never ends: 408 with the reason, and shown.
    let answer = exchange_and_wait(
        &server,
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"job\"",
    );
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"ok":false,"error":"the request body did not arrive within 1s"}"#),
        "{answer}"
    );
    assert_eq!(server.next_line()["status"], 408);
    // An idle connection is closed too.
    assert_eq!(exchange_and_wait(&server, b""), "");
}

#[test]
fn connections_beyond_the_bound_wait_for_a_free_slot() {
    let server = Server::start(&["--max-connections", "1"]);
    // In the middle of a request, whose body has not all come: an idle connection would be
    // closed to make room instead.
    let mut holder = TcpStream::connect(server.addr).unwrap();
    holder
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    // Let the server accept the holder before the next connection asks.
    std::thread::sleep(Duration::from_millis(100));
    let url = server.url("/webhook");
    let waiting = std::thread::spawn(move || request("POST", &url, &[], BODY).status);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiting.is_finished(), "served beyond the bound");
    drop(holder);
    assert_eq!(waiting.join().unwrap(), 200);
}

#[test]
fn sigterm_leaves_every_answered_delivery_in_the_journal() {
    let dir = scratch_dir("term");
    let path = dir.join("journal.jsonl");
    let server = Server::start(&["--journal", path.to_str().unwrap()]);
    for n in 0..5 {
        let reply = request("POST", &server.url("/webhook"), &[], &body(&n.to_string()));
        assert_eq!(reply.status, 200);
    }
    let (status, out, _) = server.terminate();
    assert!(status.success());
    assert_eq!(out.len(), 5);
    let ids: Vec<u64> = journal_entries(&path)
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
}

#[test]
fn without_replay_headless_prints_live_deliveries_only_and_the_default_journal_is_used() {
    let state = scratch_dir("default");
    for expected in [1, 2] {
        let mut command = pipetop();
        command.env("XDG_STATE_HOME", &state);
        let server = Server::start_with(command, &[]);
        let journal = state.join("pipetop/journal.jsonl");
        assert!(
            server.notices[0].starts_with(&format!("pipetop: journal {}", journal.display())),
            "{:?}",
            server.notices
        );
        let reply = request("POST", &server.url("/webhook"), &[], BODY);
        assert_eq!(reply.body, json!({"ok": true, "id": expected}));
        assert_eq!(server.next_line()["id"], expected);
        let (status, out, _) = server.terminate();
        assert!(status.success());
        assert!(out.is_empty(), "history was printed: {out:?}");
    }
}

/// After a restart on `args`, the delivery signed at `ts` with [`BODY`] and stored as id 1 is
/// still remembered: its pair with another body is refused, and the very same request again is
/// a duplicate of id 1, stored once.
fn remembered_after_a_restart(args: &[&str], ts: &str) {
    let server = Server::start(args);
    let url = server.url("/webhook");
    let forged = post_signed(&url, SECRET, ts, &body("forged"));
    assert_eq!(
        (forged.status, forged.body),
        (401, json!({"ok": false, "error": "signature already used"}))
    );
    assert_eq!(server.next_line()["reason"], "signature already used");
    let again = post_signed(&url, SECRET, ts, BODY);
    assert_eq!(again.body, json!({"ok": true, "id": 1, "duplicate": true}));
    let health = request("GET", &server.url("/healthz"), &[], b"");
    assert_eq!(
        (
            health.body["accepted"].clone(),
            health.body["duplicates"].clone()
        ),
        (json!(0), json!(1))
    );
    server.assert_quiet();
}

/// Posts `BODY` signed at `ts` (id 1), then `later` more deliveries signed a millisecond apart,
/// each with `body`, and stops the server.
fn deliver_then_more(args: &[&str], ts: &str, later: u64, body: &[u8]) {
    let server = Server::start(args);
    let url = server.url("/webhook");
    let first = post_signed(&url, SECRET, ts, BODY);
    assert_eq!(first.body, json!({"ok": true, "id": 1}));
    let ts: u64 = ts.parse().unwrap();
    for n in 1..=later {
        let reply = post_signed(&url, SECRET, &(ts + n).to_string(), body);
        assert_eq!(reply.body, json!({"ok": true, "id": n + 1}));
    }
    let (status, _, _) = server.terminate();
    assert!(status.success());
}

#[test]
fn a_delivery_behind_megabytes_of_later_ones_is_remembered_after_a_restart() {
    let dir = scratch_dir("behind");
    let path = dir.join("journal.jsonl");
    let args = ["--secret", SECRET, "--journal", path.to_str().unwrap()];
    let ts = now_ms(0);
    let large = format!(
        r#"{{"job":{{"pipelineId":2,"pipelineName":"large"}},"padding":"{}"}}"#,
        "p".repeat(900 * 1024)
    );
    deliver_then_more(&args, &ts, 6, large.as_bytes());
    let text = std::fs::read(&path).unwrap();
    let first_line = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(text.len() - first_line > 5 << 20, "{}", text.len());
    remembered_after_a_restart(&args, &ts);
}

#[test]
fn a_delivery_in_the_rotated_file_is_remembered_after_a_restart() {
    let dir = scratch_dir("rotated");
    let path = dir.join("journal.jsonl");
    let journal = path.to_str().unwrap();
    let args = [
        "--secret",
        SECRET,
        "--journal",
        journal,
        "--journal-max",
        "1KiB",
    ];
    let ts = now_ms(0);
    deliver_then_more(&args, &ts, 3, BODY);
    let ids = |path: &Path| -> Vec<u64> {
        journal_entries(path)
            .iter()
            .map(|e| e["id"].as_u64().unwrap())
            .collect()
    };
    let previous = dir.join("journal.jsonl.1");
    assert_eq!(ids(&previous).first(), Some(&1));
    assert!(!ids(&path).is_empty());
    remembered_after_a_restart(&args, &ts);
}

#[test]
fn ids_never_wrap_and_a_journal_at_the_largest_id_is_refused_at_start() {
    let dir = scratch_dir("last-id");
    let path = dir.join("journal.jsonl");
    let journal = path.to_str().unwrap();
    let server = Server::start(&["--journal", journal]);
    assert_eq!(
        request("POST", &server.url("/webhook"), &[], BODY).body,
        json!({"ok": true, "id": 1})
    );
    let (status, _, _) = server.terminate();
    assert!(status.success());
    // Edited to one short of the largest id.
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen(r#"{"id":1,"#, r#"{"id":18446744073709551614,"#, 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();

    let server = Server::start(&["--journal", journal]);
    let url = server.url("/webhook");
    let last = request("POST", &url, &[], &body("last"));
    assert_eq!(last.body, json!({"ok": true, "id": u64::MAX}));
    assert_eq!(server.next_line()["id"], u64::MAX);
    let refused = request("POST", &url, &[], &body("one too many"));
    assert_eq!(
        (refused.status, refused.body),
        (
            503,
            json!({"ok": false, "error": "cannot store the delivery: every delivery id up to 18446744073709551615 is used"})
        )
    );
    let (status, _, _) = server.terminate();
    assert!(status.success());

    let mut again = pipetop();
    again.args([
        "--listen",
        "127.0.0.1:0",
        "--headless",
        "--journal",
        journal,
    ]);
    let output = run(again);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "pipetop: the journal {journal} ends at delivery id 18446744073709551615, the largest id there is, so no id is left for the next delivery; move it aside or choose another with --journal FILE\n"
        )
    );
    assert_eq!(journal_entries(&path).len(), 2);
}
