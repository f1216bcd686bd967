//! The HTTP listener: answers Gitee's webhook POSTs and hands every outcome to one channel.
//!
//! Starting is two steps, [`bind`] then [`Bound::serve`], so a port already in use is reported
//! before anything else starts, and `127.0.0.1:0` can be bound and its real port read back.
//!
//! A POST to the webhook path goes through, in order: the `Content-Length` limit (refused before
//! any body is read), the signature, reading the body up to the limit and within the body
//! timeout, the parser, the redaction of credentials in the body ([`Redactor`]: the parsed
//! notification is redacted, and the body itself is never stored), and [`Handoff::accept`],
//! which turns away redeliveries and reused signatures and answers only once the delivery is on
//! disk and on the channel. Each refusal is answered with a status and one sentence and is also
//! sent on as [`Ingest::Rejected`].
//!
//! `X-Gitee-Ping`, `X-Gitee-Event` and `X-Request-ID` are kept on the delivery when sent
//! ([`Headers`]) and change nothing about whether it is accepted; a test delivery (`X-Gitee-Ping:
//! true`) is verified, guarded and journaled like any other, and its answer says `"ping":true`.
//!
//! A request whose signature was already used with another body is refused before its body is
//! parsed ([`Handoff::precheck`]), and a large body is parsed off the async workers, a few at a
//! time, so no request holds up the others, `/healthz` included.
//!
//! Connections are served by hyper directly rather than `axum::serve`, for what a listener
//! facing the internet needs: a header read timeout (which also closes idle keep-alive
//! connections), a write timeout for clients that stop reading, a bound on concurrent
//! connections at which the ones between requests make room for new ones (see
//! [`connections`]), and a graceful stop that finishes the requests in
//! flight and closes the rest at once.

mod connections;

use crate::delivery::{Headers, Ingest, Rejection};
use crate::gitee::{Auth, ParseError, Parsed, Redactor, Verifier, parse_notification};
use crate::store::guard::Fingerprint;
use crate::store::handoff::{Accepted, Handoff, HandoffError};
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SubsecRound as _, Utc};
use connections::{Connections, WriteTimeout};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Semaphore, watch};
use tower_service::Service as _;

pub use crate::store::handoff::{Draft, Setup};

/// Bodies up to this size are parsed on the request's task: the slowest shape parses at some
/// 40 ms a MiB, so about 2.5 ms at this size (BENCHMARKS.md, "Hostile bodies"). Larger ones go
/// to the blocking pool.
const PARSE_INLINE_MAX: usize = 64 * 1024;

/// What hyper buffers per connection, each way: unread pipelined requests on one side, answers
/// the client has not taken on the other. It also bounds, roughly, how long a request head may
/// be.
const CONNECTION_BUFFER: usize = 64 * 1024;

const TOKEN_HEADER: &str = "x-gitee-token";
const TIMESTAMP_HEADER: &str = "x-gitee-timestamp";
const PING_HEADER: &str = "x-gitee-ping";
const EVENT_HEADER: &str = "x-gitee-event";
const REQUEST_ID_HEADER: &str = "x-request-id";

/// How the listener is set up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The webhook path, starting with `/`.
    pub path: String,
    /// `None` turns verification off: every delivery is accepted with [`Auth::None`].
    pub verifier: Option<Verifier>,
    /// Largest body accepted, in bytes.
    pub max_body: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection stays open.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body, once its headers are in.
    pub body_timeout: Duration,
    /// How long an answer may wait for the client to take any of it before the connection is
    /// closed.
    pub write_timeout: Duration,
    /// Connections served at once; at the bound, connections between requests are closed to
    /// make room, and while every one is in a request, further ones wait.
    pub max_connections: usize,
}

impl ServerConfig {
    pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

    /// The defaults of the command line, listening on `listen`.
    pub fn new(listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            listen,
            path: "/webhook".into(),
            verifier: None,
            max_body: Self::DEFAULT_MAX_BODY,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            write_timeout: Self::DEFAULT_WRITE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The listener could not be set up; the message is one sentence naming the address.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("the webhook path {0:?} must start with / and must not be /healthz")]
    Path(String),
}

/// A bound listener, not yet answering.
#[derive(Debug)]
pub struct Bound {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    config: ServerConfig,
}

/// Binds the listening socket. Nothing is served until [`Bound::serve`].
pub fn bind(config: ServerConfig) -> Result<Bound, BindError> {
    if !config.path.starts_with('/') || config.path == "/healthz" {
        return Err(BindError::Path(config.path));
    }
    let listen_error = |err: std::io::Error| BindError::Listen {
        addr: config.listen,
        reason: crate::io_reason(&err),
    };
    let listener = std::net::TcpListener::bind(config.listen).map_err(listen_error)?;
    // Tokio needs a non-blocking socket; the conversion happens in `serve`, inside the runtime.
    listener.set_nonblocking(true).map_err(listen_error)?;
    let local_addr = listener.local_addr().map_err(listen_error)?;
    Ok(Bound {
        listener,
        local_addr,
        config,
    })
}

impl Bound {
    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The URL to post to. An unspecified address (`0.0.0.0`) is shown as loopback, since that
    /// is a URL that works from this machine.
    pub fn webhook_url(&self) -> String {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{addr}{}", self.config.path)
    }

    /// Answers requests until `shutdown` completes, then finishes the requests in flight and
    /// closes every other connection. Dropping the future closes every connection at once.
    /// Accepted deliveries go through `handoff`; refusals are sent on its channel too.
    pub async fn serve(
        self,
        handoff: Handoff,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let config = self.config;
        let shared = Arc::new(Shared {
            redactor: config
                .verifier
                .as_ref()
                .map_or_else(Redactor::default, Verifier::redactor),
            verifier: config.verifier,
            max_body: config.max_body,
            body_timeout: config.body_timeout,
            path: config.path.clone(),
            started: Instant::now(),
            rejected: AtomicU64::new(0),
            parsers: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
            handoff,
        });
        let app = Router::new()
            .route(&config.path, post(webhook).fallback(method_not_allowed))
            .route("/healthz", get(healthz))
            .fallback(not_found)
            .with_state(shared);

        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.header_timeout)
            .max_buf_size(CONNECTION_BUFFER);
        let connections = Connections::new(config.max_connections);
        // `true` asks every connection to finish; the sender dropped closes them all.
        let (stopping, stop) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => {
                        // Out of file descriptors or a connection reset before it was
                        // accepted: wait a little rather than spin, and go on.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let admitted = tokio::select! {
                () = &mut shutdown => break,
                admitted = connections.admit() => admitted,
            };
            let app = app.clone();
            let tracked = Arc::clone(&admitted.connection);
            let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let in_request = tracked.request();
                let answer = app.clone().call(req);
                async move {
                    let answer = answer.await;
                    drop(in_request);
                    answer
                }
            });
            let io = WriteTimeout::new(
                stream,
                config.write_timeout,
                Arc::clone(&admitted.connection),
            );
            let connection = http.serve_connection(TokioIo::new(io), service);
            let mut stop = stop.clone();
            tokio::spawn(async move {
                tokio::pin!(connection);
                let tracked = &admitted.connection;
                loop {
                    tokio::select! {
                        // A client that hangs up or times out ends its connection; nothing to
                        // report.
                        _ = connection.as_mut() => break,
                        () = tracked.asked_to_close() => {
                            if tracked.may_drop() {
                                break;
                            }
                            connection.as_mut().graceful_shutdown();
                        }
                        changed = stop.changed() => {
                            if changed.is_err() || tracked.may_drop() {
                                break;
                            }
                            connection.as_mut().graceful_shutdown();
                        }
                    }
                }
                drop(admitted);
            });
        }
        drop(listener);
        let _ = stopping.send(true);
        connections.all_closed().await;
        Ok(())
    }
}

/// What every request handler shares.
struct Shared {
    verifier: Option<Verifier>,
    /// Knows the verifier's secret, if there is one.
    redactor: Redactor,
    max_body: usize,
    body_timeout: Duration,
    path: String,
    started: Instant,
    rejected: AtomicU64,
    /// Turns for parsing a large body off the async workers: one per core, so a flood of
    /// large bodies waits its turn instead of taking every core and its memory at once.
    parsers: Arc<Semaphore>,
    handoff: Handoff,
}

impl Shared {
    /// Parses a body; a large one on the blocking pool, so the worker stays free for others.
    /// `None` when the runtime is shutting down before the parse could run.
    async fn parse(&self, body: Bytes) -> Option<Result<Parsed, ParseError>> {
        if body.len() <= PARSE_INLINE_MAX {
            return Some(parse_notification(&body));
        }
        // The semaphore is never closed.
        let turn = Arc::clone(&self.parsers).acquire_owned().await.ok();
        let parsing = tokio::task::spawn_blocking(move || {
            let parsed = parse_notification(&body);
            drop(turn);
            parsed
        });
        match parsing.await {
            Ok(parsed) => Some(parsed),
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(_) => None,
        }
    }

    /// Answers a refusal and sends it on, so whoever watches sees it with its reason.
    async fn reject(
        &self,
        status: StatusCode,
        reason: String,
        peer: Option<SocketAddr>,
        received_at: DateTime<Utc>,
    ) -> Response {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        let body = error_body(&reason);
        let rejection = Rejection {
            received_at,
            status: status.as_u16(),
            reason,
            peer,
        };
        // A closed channel means the watcher is gone and we are shutting down; the sender
        // still gets its answer.
        let _ = self
            .handoff
            .sender()
            .send(Ingest::Rejected(rejection))
            .await;
        (status, body).into_response()
    }
}

fn error_body(reason: &str) -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "ok": false, "error": reason }))
}

fn peer_of(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

/// A header's text; bytes that are not UTF-8 are replaced rather than making the header look
/// missing, so the sender hears that the token is wrong instead.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<Cow<'a, str>> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()))
}

/// The headers kept on the delivery, cleaned and bounded as all network text is.
fn kept_headers(headers: &HeaderMap) -> Headers {
    let kept = |name| {
        let text = header_text(headers, name)?;
        let clean = crate::text::clean(text.trim(), Headers::MAX_WIDTH);
        let clean = clean.trim();
        (!clean.is_empty()).then(|| Box::from(clean))
    };
    Headers {
        ping: header_text(headers, PING_HEADER)
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true")),
        gitee_event: kept(EVENT_HEADER),
        request_id: kept(REQUEST_ID_HEADER),
    }
}

/// The sender's clock, when `X-Gitee-Timestamp` holds milliseconds since the epoch.
fn sent_at(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let text = header_text(headers, TIMESTAMP_HEADER)?;
    let millis: i64 = text.trim().parse().ok()?;
    DateTime::from_timestamp_millis(millis)
}

async fn webhook(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    // Milliseconds, as the journal and the JSON lines keep it, so a replayed delivery is the
    // same value as the live one was.
    let received_at = Utc::now().trunc_subsecs(3);
    let peer = peer_of(&req);
    let reject = |status, reason: String| shared.reject(status, reason, peer, received_at);

    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > shared.max_body as u64) {
        return reject(StatusCode::PAYLOAD_TOO_LARGE, too_large(shared.max_body)).await;
    }

    let token = header_text(headers, TOKEN_HEADER);
    let timestamp = header_text(headers, TIMESTAMP_HEADER);
    let verified = match &shared.verifier {
        None => None,
        // Checked at the instant the journal stamps, so that stamp bounds the timestamp
        // exactly, and the guard's recall after a restart can rely on it.
        Some(verifier) => match verifier.verify(
            token.as_deref(),
            timestamp.as_deref(),
            SystemTime::from(received_at),
        ) {
            Ok(verified) => Some(verified),
            Err(err) => return reject(StatusCode::UNAUTHORIZED, err.to_string()).await,
        },
    };
    let auth = verified
        .as_ref()
        .map_or(Auth::None, |verified| verified.auth);
    let sent_at = sent_at(headers);
    let kept = kept_headers(headers);

    let reading = read_limited(body, shared.max_body);
    let body = match tokio::time::timeout(shared.body_timeout, reading).await {
        Ok(Ok(body)) => body,
        Ok(Err(BodyError::TooLarge)) => {
            return reject(StatusCode::PAYLOAD_TOO_LARGE, too_large(shared.max_body)).await;
        }
        Ok(Err(BodyError::Broken)) => {
            let reason = "the request body could not be read to its end".to_owned();
            return reject(StatusCode::BAD_REQUEST, reason).await;
        }
        Err(_) => {
            let reason = format!(
                "the request body did not arrive within {}",
                crate::gitee::signature::compact_duration(shared.body_timeout)
            );
            return reject(StatusCode::REQUEST_TIMEOUT, reason).await;
        }
    };
    // The token as verified, so every spelling of one token is one pair; unchecked, as sent.
    let token = verified
        .as_ref()
        .map_or(token.as_deref(), |v| Some(v.token()));
    let fingerprint = Fingerprint::of(timestamp.as_deref(), token, &body, auth == Auth::Signature);
    // Before the parse, which is the costly part: a captured signature sent again with another
    // body gets no more than a look-up.
    if let Err(err) = shared.handoff.precheck(fingerprint.as_ref()) {
        return reject(StatusCode::UNAUTHORIZED, err.to_string()).await;
    }

    let mut parsed = match shared.parse(body).await {
        Some(Ok(parsed)) => parsed,
        Some(Err(err)) => return reject(StatusCode::BAD_REQUEST, err.to_string()).await,
        None => return closed(),
    };
    // Before the delivery goes anywhere: the journal, the feed and the screen only ever see
    // the redacted notification, and the body itself is kept by nothing but the fingerprint's
    // hash.
    shared.redactor.notification(&mut parsed.notification);
    let draft = Draft {
        received_at,
        sent_at,
        auth,
        repaired: parsed.repaired(),
        headers: kept,
        notification: parsed.notification,
    };
    let ping = draft.headers.ping;
    match shared.handoff.accept(draft, fingerprint).await {
        Ok(accepted) => accepted_body(accepted, ping),
        Err(HandoffError::Closed) => closed(),
        Err(err @ HandoffError::SignatureReused) => {
            reject(StatusCode::UNAUTHORIZED, err.to_string()).await
        }
        Err(err @ (HandoffError::NoIdLeft | HandoffError::Write(_) | HandoffError::Encode(_))) => {
            reject(StatusCode::SERVICE_UNAVAILABLE, err.to_string()).await
        }
    }
}

/// The answer while shutting down; not sent on, since no one is watching any more.
fn closed() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        error_body(&HandoffError::Closed.to_string()),
    )
        .into_response()
}

/// `{"ok":true,"id":N}`, with `"duplicate":true` for a redelivery and `"ping":true` for a test
/// delivery; written directly, since it is the answer to nearly every request.
fn accepted_body(accepted: Accepted, ping: bool) -> Response {
    let duplicate = if accepted.duplicate {
        ",\"duplicate\":true"
    } else {
        ""
    };
    let ping = if ping { ",\"ping\":true" } else { "" };
    let body = format!("{{\"ok\":true,\"id\":{}{duplicate}{ping}}}", accepted.id);
    let json = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, json)], body).into_response()
}

fn too_large(max_body: usize) -> String {
    format!(
        "body is larger than the limit of {}",
        bytesize::ByteSize::b(max_body as u64).display().iec()
    )
}

enum BodyError {
    TooLarge,
    Broken,
}

/// Reads the body frame by frame and stops as soon as it passes `limit`, so a chunked body
/// without a `Content-Length` costs at most the limit.
/// A body that arrives in one frame, as most do, is kept as that frame rather than copied.
async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut out = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let Some(frame) = frame else {
            return Ok(match first {
                Some(only) if out.is_empty() => only,
                _ => Bytes::from(out),
            });
        };
        let frame = frame.map_err(|_| BodyError::Broken)?;
        if let Ok(data) = frame.into_data() {
            let read = first.as_ref().map_or(0, Bytes::len) + out.len();
            if read + data.len() > limit {
                return Err(BodyError::TooLarge);
            }
            match first.take() {
                None if out.is_empty() => first = Some(data),
                None => out.extend_from_slice(&data),
                Some(earlier) => {
                    out.extend_from_slice(&earlier);
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}

async fn method_not_allowed(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let reason = format!(
        "{} is not allowed here; Gitee delivers with POST {}",
        req.method(),
        shared.path
    );
    let mut response = shared
        .reject(
            StatusCode::METHOD_NOT_ALLOWED,
            reason,
            peer_of(&req),
            Utc::now(),
        )
        .await;
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

async fn not_found(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let reason = format!("no webhook here; pipetop listens on POST {}", shared.path);
    // Only a POST elsewhere is worth showing: it is likely a misconfigured webhook URL, while
    // other stray requests (a browser's favicon) are noise.
    if req.method() == axum::http::Method::POST {
        shared
            .reject(StatusCode::NOT_FOUND, reason, peer_of(&req), Utc::now())
            .await
    } else {
        (StatusCode::NOT_FOUND, error_body(&reason)).into_response()
    }
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(json!({
        "ok": true,
        "uptime_secs": shared.started.elapsed().as_secs(),
        "accepted": shared.handoff.accepted(),
        "duplicates": shared.handoff.duplicates(),
        "rejected": shared.rejected.load(Ordering::Relaxed),
        "last_id": shared.handoff.last_id(),
        "verification": shared.verifier.is_some(),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_senders_clock_is_read_from_milliseconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(sent_at(&headers), None);
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from_static("1672135206524"));
        assert_eq!(
            sent_at(&headers),
            DateTime::from_timestamp_millis(1_672_135_206_524)
        );
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from_static("yesterday"));
        assert_eq!(sent_at(&headers), None);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use std::io::{Read as _, Write as _};
        use std::sync::OnceLock;
        use tokio::sync::mpsc;

        const SECRET: &str = "123654";

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
}
