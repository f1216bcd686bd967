//! The routes driven through `oneshot`, without a socket, over a real journal: every answer the
//! listener gives, word for word, and what reaches the feed with it. Then the listener on real
//! sockets: binding, the URL it gives, and the shape of any answer.

use super::*;
use crate::delivery::{Ingest, Rejection};
use crate::gitee::{Auth, sign};
use crate::store::handoff::Stopped;
use crate::store::journal::Journal;
use axum::body::{Body, Bytes};
use axum::http::{Request, Response, StatusCode, header};
use chrono::Utc;
use futures_util::stream;
use serde_json::json;
use std::time::SystemTime;
use tokio::sync::mpsc;
use tower::ServiceExt as _;

const SECRET: &str = "123654";
const BODY: &[u8] = br#"{"job":{"id":7,"statusCode":"SUCC"}}"#;
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5555);

/// A router over a journal in a directory of its own, and the feed it hands on to.
struct Desk {
    router: Router,
    feed: mpsc::Receiver<Ingest>,
    _stopped: Stopped,
    _dir: tempfile::TempDir,
}

impl Desk {
    /// Signature checking on, a 2 KiB limit, the webhook at `/webhook`.
    fn new() -> Desk {
        Desk::with(config(), 1)
    }

    fn with(config: ServerConfig, first_id: u64) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let opened = Journal::open(&dir.path().join("journal.jsonl"), 1 << 20, Utc::now()).unwrap();
        Desk::over(config, opened.journal, first_id, dir)
    }

    fn over(config: ServerConfig, journal: Journal, first_id: u64, dir: tempfile::TempDir) -> Desk {
        let (out, feed) = mpsc::channel(64);
        let (handoff, stopped) = Handoff::start(Setup {
            out,
            journal: Some(journal),
            first_id,
            window: Duration::from_secs(300),
            recent: Vec::new(),
        })
        .unwrap();
        Desk {
            router: router(Shared::new(&config, handoff)),
            feed,
            _stopped: stopped,
            _dir: dir,
        }
    }

    /// Answers `request`, as from [`PEER`].
    async fn send(&self, mut request: Request<Body>) -> Response<Body> {
        request.extensions_mut().insert(ConnectInfo(PEER));
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// What the feed holds now; every answer is given after its line is on the feed.
    fn next(&mut self) -> Option<Ingest> {
        self.feed.try_recv().ok()
    }

    /// Checks the answer to a refusal, and the rejection on the feed that goes with it.
    async fn refused(&mut self, response: Response<Body>, status: StatusCode, reason: &str) {
        let got = response.status();
        let body = text(response).await;
        assert_eq!((got, body.as_str()), (status, answer(reason).as_str()));
        match self.next() {
            Some(Ingest::Rejected(Rejection {
                status: on_feed,
                reason: said,
                peer,
                ..
            })) => {
                assert_eq!((on_feed, said.as_str()), (status.as_u16(), reason));
                assert_eq!(peer, Some(PEER));
            }
            other => panic!("expected a rejection on the feed, got {other:?}"),
        }
        self.quiet();
    }

    fn quiet(&mut self) {
        if let Some(more) = self.next() {
            panic!("nothing more expected on the feed, got {more:?}");
        }
    }

    async fn health(&self) -> serde_json::Value {
        let request = Request::get("/healthz").body(Body::empty()).unwrap();
        let response = self.send(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        serde_json::from_str(&text(response).await).unwrap()
    }
}

fn config() -> ServerConfig {
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    config.verifier = Some(Verifier::new(SECRET, Duration::from_secs(300)));
    config.max_body = 2048;
    config
}

/// The refusal's body exactly, keys in order.
fn answer(reason: &str) -> String {
    json!({ "ok": false, "error": reason }).to_string()
}

async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn now_ms(ago: Duration) -> String {
    (SystemTime::now() - ago)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string()
}

/// A POST to `/webhook` signed as Gitee signs, at `timestamp`.
fn signed(timestamp: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post("/webhook")
        .header("X-Gitee-Timestamp", timestamp)
        .header("X-Gitee-Token", sign(SECRET, timestamp))
        .body(body.into())
        .unwrap()
}

/// A body that never ends and never sends a byte.
fn endless() -> Body {
    Body::from_stream(stream::pending::<Result<Bytes, std::io::Error>>())
}

fn accepted_id(ingest: Option<Ingest>) -> u64 {
    match ingest {
        Some(Ingest::Accepted(delivery)) => delivery.id,
        other => panic!("expected an accepted delivery, got {other:?}"),
    }
}

#[tokio::test]
async fn a_verified_delivery_is_200_with_its_id_once_it_is_on_the_feed() {
    let mut desk = Desk::new();
    let response = desk.send(signed(&now_ms(Duration::ZERO), BODY)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(text(response).await, r#"{"ok":true,"id":1}"#);
    match desk.next() {
        Some(Ingest::Accepted(delivery)) => {
            assert_eq!((delivery.id, delivery.auth), (1, Auth::Signature));
            assert!(!delivery.headers.ping);
        }
        other => panic!("expected an accepted delivery, got {other:?}"),
    }
    desk.quiet();
}

#[tokio::test]
async fn a_redelivery_is_200_with_the_first_id_and_duplicate_and_is_not_sent_on_again() {
    let mut desk = Desk::new();
    let ts = now_ms(Duration::ZERO);
    let first = desk.send(signed(&ts, BODY)).await;
    assert_eq!(text(first).await, r#"{"ok":true,"id":1}"#);
    let again = desk.send(signed(&ts, BODY)).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(text(again).await, r#"{"ok":true,"id":1,"duplicate":true}"#);
    assert_eq!(accepted_id(desk.next()), 1);
    desk.quiet();
    let health = desk.health().await;
    assert_eq!(
        (
            &health["accepted"],
            &health["duplicates"],
            &health["rejected"]
        ),
        (&json!(1), &json!(1), &json!(0))
    );
}

#[tokio::test]
async fn a_test_delivery_is_200_with_ping_and_marked_on_the_feed() {
    let mut desk = Desk::new();
    let mut request = signed(&now_ms(Duration::ZERO), BODY);
    request
        .headers_mut()
        .insert("X-Gitee-Ping", "true".parse().unwrap());
    let response = desk.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, r#"{"ok":true,"id":1,"ping":true}"#);
    match desk.next() {
        Some(Ingest::Accepted(delivery)) => assert!(delivery.headers.ping),
        other => panic!("expected an accepted delivery, got {other:?}"),
    }
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_413_before_any_body_is_read() {
    let mut desk = Desk::new();
    // The body never comes: only the header can have refused it.
    let request = Request::post("/webhook")
        .header(header::CONTENT_LENGTH, "2049")
        .body(endless())
        .unwrap();
    let response = desk.send(request).await;
    let reason = "body is larger than the limit of 2.0 KiB";
    desk.refused(response, StatusCode::PAYLOAD_TOO_LARGE, reason)
        .await;
}

#[tokio::test]
async fn a_body_that_grows_past_the_limit_is_413_once_it_does() {
    let mut desk = Desk::new();
    let chunks = (0..3).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 1024])));
    let request = signed(
        &now_ms(Duration::ZERO),
        Body::from_stream(stream::iter(chunks)),
    );
    let response = desk.send(request).await;
    let reason = "body is larger than the limit of 2.0 KiB";
    desk.refused(response, StatusCode::PAYLOAD_TOO_LARGE, reason)
        .await;
}

#[tokio::test]
async fn missing_wrong_and_stale_credentials_are_401_with_the_verifiers_sentence() {
    let mut desk = Desk::new();
    let bare = Request::post("/webhook").body(Body::from(BODY)).unwrap();
    let response = desk.send(bare).await;
    let reason = "missing X-Gitee-Token header; this receiver has a secret configured";
    desk.refused(response, StatusCode::UNAUTHORIZED, reason)
        .await;

    let mut wrong = signed(&now_ms(Duration::ZERO), BODY);
    wrong
        .headers_mut()
        .insert("X-Gitee-Token", "not-it".parse().unwrap());
    let response = desk.send(wrong).await;
    let reason = "X-Gitee-Token matches neither the signature nor the password for this secret";
    desk.refused(response, StatusCode::UNAUTHORIZED, reason)
        .await;

    let stale = signed(&now_ms(Duration::from_secs(6 * 60)), BODY);
    let response = desk.send(stale).await;
    let reason = "timestamp is 6m old; tolerance is 5m";
    desk.refused(response, StatusCode::UNAUTHORIZED, reason)
        .await;
}

#[tokio::test]
async fn a_signature_used_before_with_another_body_is_401_signature_already_used() {
    let mut desk = Desk::new();
    let ts = now_ms(Duration::ZERO);
    assert_eq!(desk.send(signed(&ts, BODY)).await.status(), StatusCode::OK);
    assert_eq!(accepted_id(desk.next()), 1);
    let response = desk.send(signed(&ts, &b"{}"[..])).await;
    desk.refused(response, StatusCode::UNAUTHORIZED, "signature already used")
        .await;
}

#[tokio::test]
async fn a_body_broken_off_is_400_and_says_so() {
    let mut desk = Desk::new();
    let pieces = [
        Ok(Bytes::from_static(b"{")),
        Err(std::io::Error::other("reset")),
    ];
    let request = signed(
        &now_ms(Duration::ZERO),
        Body::from_stream(stream::iter(pieces)),
    );
    let response = desk.send(request).await;
    let reason = "the request body could not be read to its end";
    desk.refused(response, StatusCode::BAD_REQUEST, reason)
        .await;
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_400_with_the_parsers_sentence() {
    let mut desk = Desk::new();
    let response = desk
        .send(signed(&now_ms(Duration::ZERO), &b"[1]"[..]))
        .await;
    let reason = "body is JSON but not a notification: expected a JSON object, found an array";
    desk.refused(response, StatusCode::BAD_REQUEST, reason)
        .await;
}

#[tokio::test(start_paused = true)]
async fn a_body_that_does_not_arrive_within_the_timeout_is_408() {
    let mut desk = Desk::new();
    let response = desk.send(signed(&now_ms(Duration::ZERO), endless())).await;
    let reason = "the request body did not arrive within 30s";
    desk.refused(response, StatusCode::REQUEST_TIMEOUT, reason)
        .await;
}

#[tokio::test]
async fn a_journal_that_cannot_be_written_is_503_with_the_stores_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let full = Journal::open(std::path::Path::new("/dev/full"), 1024, Utc::now()).unwrap();
    let mut desk = Desk::over(config(), full.journal, 1, dir);
    let response = desk.send(signed(&now_ms(Duration::ZERO), BODY)).await;
    let reason = "cannot store the delivery: no space left on device";
    desk.refused(response, StatusCode::SERVICE_UNAVAILABLE, reason)
        .await;
}

#[tokio::test]
async fn once_every_id_is_used_a_delivery_is_503_and_ids_never_wrap() {
    let mut desk = Desk::with(config(), u64::MAX);
    let last = desk.send(signed(&now_ms(Duration::ZERO), BODY)).await;
    assert_eq!(
        text(last).await,
        format!(r#"{{"ok":true,"id":{}}}"#, u64::MAX)
    );
    assert_eq!(accepted_id(desk.next()), u64::MAX);
    // Another timestamp, so the guard has no say: only the numbering refuses it.
    let other = signed(&now_ms(Duration::from_secs(1)), &b"{}"[..]);
    let response = desk.send(other).await;
    let reason = "cannot store the delivery: every delivery id up to 18446744073709551615 is used";
    desk.refused(response, StatusCode::SERVICE_UNAVAILABLE, reason)
        .await;
}

#[tokio::test]
async fn while_shutting_down_a_delivery_is_503_and_not_counted_as_refused() {
    // With no one left on the feed there is nowhere to put a delivery.
    let (out, feed) = mpsc::channel(1);
    drop(feed);
    let router = router(Shared::new(&config(), Handoff::new(out, 1)));
    let request = signed(&now_ms(Duration::ZERO), BODY);
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let reason = "pipetop is shutting down and cannot take deliveries";
    assert_eq!(text(response).await, answer(reason));
    let health = Request::get("/healthz").body(Body::empty()).unwrap();
    let health: serde_json::Value =
        serde_json::from_str(&text(router.oneshot(health).await.unwrap()).await).unwrap();
    assert_eq!(health["rejected"], 0);
}

#[tokio::test]
async fn another_method_on_the_webhook_path_is_405_with_allow_post() {
    let mut config = config();
    config.path = "/hooks/gitee".into();
    let mut desk = Desk::with(config, 1);
    for method in ["GET", "PUT", "DELETE"] {
        let request = Request::builder()
            .method(method)
            .uri("/hooks/gitee")
            .body(Body::empty())
            .unwrap();
        let response = desk.send(request).await;
        assert_eq!(response.headers()[header::ALLOW], "POST", "{method}");
        let reason = format!("{method} is not allowed here; Gitee delivers with POST /hooks/gitee");
        desk.refused(response, StatusCode::METHOD_NOT_ALLOWED, &reason)
            .await;
    }
    assert_eq!(desk.health().await["rejected"], 3);
}

#[tokio::test]
async fn a_post_elsewhere_is_404_and_reported_while_other_stray_requests_are_only_answered() {
    let mut config = config();
    config.path = "/hooks/gitee".into();
    let mut desk = Desk::with(config, 1);
    let reason = "no webhook here; pipetop listens on POST /hooks/gitee";
    let post = Request::post("/webhook").body(Body::from(BODY)).unwrap();
    let response = desk.send(post).await;
    desk.refused(response, StatusCode::NOT_FOUND, reason).await;

    let stray = Request::get("/favicon.ico").body(Body::empty()).unwrap();
    let response = desk.send(stray).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(text(response).await, answer(reason));
    desk.quiet();
    assert_eq!(desk.health().await["rejected"], 1);
}

#[tokio::test]
async fn healthz_counts_since_the_start_and_says_whether_it_verifies() {
    let mut desk = Desk::with(ServerConfig::new("127.0.0.1:0".parse().unwrap()), 1);
    let response = desk
        .send(Request::post("/webhook").body(Body::from(BODY)).unwrap())
        .await;
    assert_eq!(text(response).await, r#"{"ok":true,"id":1}"#);
    match desk.next() {
        Some(Ingest::Accepted(delivery)) => assert_eq!(delivery.auth, Auth::None),
        other => panic!("expected an accepted delivery, got {other:?}"),
    }
    let health = desk.health().await;
    assert!(health["uptime_secs"].is_u64());
    let mut health = health.as_object().unwrap().clone();
    health.remove("uptime_secs");
    assert_eq!(
        serde_json::Value::Object(health),
        json!({"ok": true, "accepted": 1, "duplicates": 0, "rejected": 0, "last_id": 1,
               "verification": false})
    );
}

#[test]
fn binding_a_port_in_use_names_the_address() {
    let first = bind(ServerConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    let addr = first.local_addr();
    assert_ne!(addr.port(), 0);
    let err = bind(ServerConfig::new(addr)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot listen on {addr}: address already in use")
    );
}

#[test]
fn the_webhook_url_is_usable_from_this_machine() {
    let mut config = ServerConfig::new("0.0.0.0:0".parse().unwrap());
    config.path = "/hook".into();
    let bound = bind(config).unwrap();
    let port = bound.local_addr().port();
    assert_eq!(bound.webhook_url(), format!("http://127.0.0.1:{port}/hook"));
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    config.path = "/healthz".into();
    assert!(matches!(bind(config), Err(BindError::Path(_))));
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::io::{Read as _, Write as _};
    use std::sync::OnceLock;

    /// A receiver on its own thread and runtime, shared by every case.
    fn start(verifier: Option<Verifier>) -> SocketAddr {
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
        config.verifier = verifier;
        config.max_body = 2048;
        let bound = bind(config).unwrap();
        let addr = bound.local_addr();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let (tx, mut rx) = mpsc::channel(64);
                tokio::spawn(async move { while rx.recv().await.is_some() {} });
                let _ = bound
                    .serve(Handoff::new(tx, 1), std::future::pending())
                    .await;
            });
        });
        addr
    }

    fn signed() -> SocketAddr {
        static ADDR: OnceLock<SocketAddr> = OnceLock::new();
        *ADDR.get_or_init(|| start(Some(Verifier::new(SECRET, Duration::from_secs(300)))))
    }

    fn open() -> SocketAddr {
        static ADDR: OnceLock<SocketAddr> = OnceLock::new();
        *ADDR.get_or_init(|| start(None))
    }

    /// Posts `body` with `headers` over a fresh connection; the status and the body.
    fn post(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut head = format!(
            "POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        // Refused early (413) the server may close before reading it all.
        let _ = stream.write_all(body);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (status, body)
    }

    fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
        let name = prop_oneof![
            Just("X-Gitee-Token"),
            Just("X-Gitee-Timestamp"),
            Just("Content-Type"),
            Just("User-Agent"),
            Just("X-Gitee-Event"),
        ];
        let value = prop_oneof!["[!-~][ -~]{0,40}", "[0-9]{1,15}", "[A-Za-z0-9+/=%]{40,48}"];
        let random = proptest::collection::vec((name, value), 0..5)
            .prop_map(|h| h.into_iter().map(|(n, v)| (n.to_owned(), v)).collect());
        // Valid credentials now and then, so the parser behind them is reached too.
        let valid = Just(()).prop_map(|()| {
            let ts = SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                .to_string();
            vec![
                ("X-Gitee-Token".to_owned(), crate::gitee::sign(SECRET, &ts)),
                ("X-Gitee-Timestamp".to_owned(), ts),
            ]
        });
        prop_oneof![3 => random, 1 => valid]
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..3000),
            r#"\{"job":\{[ -~]{0,80}\}\}"#.prop_map(String::into_bytes),
            r#"[{}\[\]":,/ a-z0-9]{0,200}"#.prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn any_request_gets_2xx_or_4xx_with_one_json_sentence(
            verify in any::<bool>(),
            headers in headers(),
            body in body(),
        ) {
            let addr = if verify { signed() } else { open() };
            let (status, answer) = post(addr, &headers, &body);
            prop_assert!(matches!(status, 200 | 400 | 401 | 413), "{} {}", status, answer);
            let answer: serde_json::Value = serde_json::from_str(&answer)
                .map_err(|err| TestCaseError::fail(format!("not JSON ({err}): {answer}")))?;
            if status == 200 {
                prop_assert_eq!(&answer["ok"], true);
                prop_assert!(answer["id"].is_u64());
            } else {
                prop_assert_eq!(&answer["ok"], false);
                let reason = answer["error"].as_str().unwrap_or_default();
                prop_assert!(!reason.is_empty() && !reason.contains('\n'), "{}", reason);
            }
        }
    }
}
