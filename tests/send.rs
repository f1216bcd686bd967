//! `pipetop send` end to end against the real receiver: exit codes, output, and what arrives.

mod common;

use common::*;
use serde_json::json;

fn send(server: &Server, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = pipetop();
    command
        .args(["send", "--url", &server.url("/webhook")])
        .args(args);
    let output = run(command);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_right_secret_is_accepted_with_the_given_fields() {
    let server = Server::start(&["--secret", SECRET]);
    let (code, out, err) = send(
        &server,
        &[
            "--secret",
            SECRET,
            "--status",
            "FAIL",
            "--pipeline",
            "deploy",
            "--stage",
            "Test",
            "--job",
            "unit",
            "--build",
            "42",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "HTTP 200 OK\n{\"ok\":true,\"id\":1}\n");
    assert!(err.is_empty(), "{err}");
    let line = server.next_line();
    assert_eq!(line["auth"], "signature");
    assert!(line["sent_at"].is_string());
    let job = &line["notification"]["job"];
    assert_eq!(job["statusCode"], "FAIL");
    assert_eq!(job["statusName"], "Failed");
    assert_eq!(job["pipelineName"], "deploy");
    assert_eq!(job["stageName"], "Test");
    assert_eq!(job["jobName"], "unit");
    assert_eq!(job["buildNumber"], 42);
    assert!(job["pipelineId"].is_u64());
}

#[test]
fn a_wrong_secret_prints_the_401_and_exits_non_zero() {
    let server = Server::start(&["--secret", SECRET]);
    let (code, out, err) = send(&server, &["--secret", "not-the-secret"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        "HTTP 401 Unauthorized\n{\"ok\":false,\"error\":\"X-Gitee-Token matches neither the signature nor the password for this secret\"}\n"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("answered HTTP 401"), "{err}");
    assert!(!err.contains("not-the-secret") && !out.contains("not-the-secret"));
    assert_eq!(server.next_line()["status"], 401);
}

#[test]
fn the_documented_sample_is_sent_byte_for_byte() {
    let server = Server::start(&["--secret", SECRET]);
    let (code, out, err) = send(
        &server,
        &[
            "--secret",
            SECRET,
            "--file",
            &fixture_path("doc-sample.txt"),
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let line = server.next_line();
    assert_eq!(line["repaired"], true);
    assert_eq!(
        line["notification"]["sources"][1]["upParams"]["GITEE_REPO"],
        "git/test"
    );
}

#[test]
fn password_mode_environment_secret_and_no_secret() {
    let server = Server::start(&["--secret", SECRET]);
    let (code, _, err) = send(&server, &["--secret", SECRET, "--password"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(server.next_line()["auth"], "password");

    let mut command = pipetop();
    command
        .env("PIPETOP_SECRET", SECRET)
        .args(["send", "--url", &server.url("/webhook")]);
    let output = run(command);
    assert!(output.status.success());
    assert_eq!(server.next_line()["auth"], "signature");

    let open = Server::start(&[]);
    let (code, out, _) = send(&open, &["--status", "WAITING"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.lines().nth(1),
        Some(json!({"ok": true, "id": 1}).to_string().as_str())
    );
    let line = open.next_line();
    assert_eq!(line["auth"], "none");
    assert_eq!(line["notification"]["job"]["statusCode"], "WAITING");
}

#[test]
fn no_listener_is_one_sentence_and_a_failure() {
    // Bind and release a port so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let mut command = pipetop();
    command.args(["send", "--url", &url, "--secret", SECRET]);
    let output = run(command);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        err,
        format!(
            "pipetop: cannot post to {url}: connection refused; is anything listening there?\n"
        )
    );

    let mut missing = pipetop();
    missing.args(["send", "--url", &url, "--file", "/no/such/payload.json"]);
    let output = run(missing);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "pipetop: cannot read /no/such/payload.json: no such file or directory\n"
    );
}

/// A listener that answers one request with `answer` as it is, bytes and all.
fn answer_once(answer: String) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

#[test]
fn a_hostile_answer_is_printed_without_its_escapes() {
    let body = "{\"ok\":false,\n\"error\":\"\u{1b}]0;pwned\u{7}\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\u{1b}[Hgone\u{9b}31m\u{202e}\"}";
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let url = answer_once(answer);
    let mut command = pipetop();
    command.args(["send", "--url", &url]);
    let output = run(command);
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(
        out,
        "HTTP 400 Bad Request\n{\"ok\":false,\n\"error\":\"gone\"}\n"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// Listens on a free port and gives `answer` to the first request, after reading it whole.
fn answering_once(answer: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        reader.read_exact(&mut vec![0; length]).unwrap();
        reader.get_mut().write_all(&answer).unwrap();
    });
    (url, server)
}

#[test]
fn an_answer_that_would_drive_the_terminal_is_printed_inert() {
    let body = "\u{1b}]0;owned title\u{7}{\"ok\":false,\u{1b}]52;c;cm0gLXJmIH4=\u{7}\"error\":\
                \"no\u{1b}[2J\u{1b}[H\u{9b}31m\u{202e}pe\u{200b}\u{85}\"}\r\nsecond\u{7f} line\r\n";
    let answer = format!(
        "HTTP/1.1 418 I'm a teapot\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let (url, server) = answering_once(answer.into_bytes());
    let mut command = pipetop();
    command.args(["send", "--url", &url]);
    let output = run(command);
    server.join().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8(output.stdout).unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    for text in [&out, &err] {
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && (c.is_control() || matches!(c, '\u{200b}' | '\u{202e}'))),
            "{text:?}"
        );
    }
    assert_eq!(
        out,
        "HTTP 418 I'm a teapot\n{\"ok\":false,\"error\":\"nope\"}\nsecond line\n"
    );
    assert_eq!(
        err,
        format!("pipetop: {url} answered HTTP 418; the notification was not accepted\n")
    );
}

#[test]
fn a_reason_that_quotes_the_server_is_printed_inert() {
    // A redirect to a location with bytes above ASCII, which spell C1 controls in UTF-8: ureq
    // refuses it and quotes the location in its reason.
    let mut answer = b"HTTP/1.1 302 Found\r\nLocation: /\xc2\x9b2J\xc2\x9d0;owned\xc2\x9c".to_vec();
    answer.extend_from_slice(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let (url, server) = answering_once(answer);
    let mut command = pipetop();
    command.args(["send", "--url", &url]);
    let output = run(command);
    server.join().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(!err.chars().any(|c| c != '\n' && c.is_control()), "{err:?}");
    assert_eq!(
        err,
        format!("pipetop: cannot post to {url}: protocol: location header is malformed: /\n")
    );
}

#[test]
fn every_field_a_real_delivery_carries_can_be_sent() {
    let server = Server::start(&["--secret", SECRET]);
    let (code, _, err) = send(
        &server,
        &[
            "--secret",
            SECRET,
            "--status",
            "FAIL",
            "--status-name",
            "失败",
            "--pipeline-url",
            "https://gitee.com/acme/api/gitee_go/pipelines/7",
            "--repo",
            "acme/api",
            "--branch",
            "release/2.4",
            "--commit",
            "c2a64f66a9536200f9dc464427e793c3444b1113",
            "--upstream-build",
            "318",
            "--up-param",
            "IMAGE_TAG=v2.4.1",
            "--up-param",
            "GITEE_BRANCH=master",
            "--artifact",
            "release-bundles:2.4.1",
            "--param",
            "ENV=staging",
            "--param",
            "EMPTY=",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let line = server.next_line();
    let notification = &line["notification"];
    assert_eq!(notification["job"]["statusName"], "失败");
    assert_eq!(
        notification["job"]["pipelineUrl"],
        "https://gitee.com/acme/api/gitee_go/pipelines/7"
    );
    assert_eq!(
        notification["sources"],
        json!([
            {"sourceType": "GITEE_GO", "repoPath": "acme/api", "branch": "release/2.4",
             "commitId": "c2a64f66a9536200f9dc464427e793c3444b1113"},
            {"sourceType": "PIPELINE", "buildNumber": 318,
             "upParams": {"IMAGE_TAG": "v2.4.1", "GITEE_BRANCH": "master"}},
            {"sourceType": "CODE_LEVEL_ARTIFACT", "artifactRepo": "release-bundles",
             "artifactVersion": "2.4.1"},
        ])
    );
    assert_eq!(
        notification["globalParams"],
        json!([{"key": "ENV", "value": "staging"}, {"key": "EMPTY", "value": ""}])
    );
}

#[test]
fn a_ping_is_a_test_delivery_and_a_malformed_pair_is_a_usage_error() {
    let server = Server::start(&[]);
    let (code, out, err) = send(&server, &["--ping"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "HTTP 200 OK\n{\"ok\":true,\"id\":1,\"ping\":true}\n");
    assert_eq!(server.next_line()["ping"], true);
    let (code, _, err) = send(&server, &["--param", "=x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("expected KEY=VALUE"), "{err}");
    let (code, _, err) = send(&server, &["--artifact", "no-version"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("expected REPO:VERSION"), "{err}");
    let (code, _, _) = send(&server, &["--file", "x", "--repo", "acme/api"]);
    assert_eq!(code, Some(2));
}
