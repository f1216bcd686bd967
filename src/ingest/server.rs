//! The HTTP listener: answers Gitee's webhook POSTs and hands every outcome to one channel.
//!
//! Starting is two steps, [`bind`] then [`Bound::serve`], so a port already in use is reported
//! before anything else starts, and `127.0.0.1:0` can be bound and its real port read back.
//!
//! A POST to the webhook path goes through, in order: the `Content-Length` limit (refused before
//! any body is read), the signature, reading the body up to the limit, and the parser. Each
//! refusal is answered with a status and one sentence and is also sent on as
//! [`Ingest::Rejected`]. An accepted delivery is answered 200 only after [`Handoff::accept`]
//! has put it on the channel: that is the one place where it becomes the receiver's
//! responsibility.

use super::{Delivery, Ingest, Rejection};
use crate::gitee::{Auth, Notification, Verifier, parse_notification};
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};
use tokio::sync::{Mutex, mpsc};

/// Enough room that a burst of notifications never waits on a busy consumer; when it is full,
/// requests wait (they are never dropped).
pub const CHANNEL_CAPACITY: usize = 4096;

const TOKEN_HEADER: &str = "x-gitee-token";
const TIMESTAMP_HEADER: &str = "x-gitee-timestamp";

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
    /// The id the next accepted delivery gets; a journal that replays earlier deliveries
    /// resumes after the last id it holds.
    pub first_id: u64,
}

impl ServerConfig {
    pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

    /// The defaults of the command line, listening on `listen`.
    pub fn new(listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            listen,
            path: "/webhook".into(),
            verifier: None,
            max_body: Self::DEFAULT_MAX_BODY,
            first_id: 1,
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

    /// Answers requests until `shutdown` completes, then finishes the requests in flight.
    /// Every outcome is sent on `tx`; an accepted delivery is answered only once it is there.
    pub async fn serve(
        self,
        tx: mpsc::Sender<Ingest>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let shared = Arc::new(Shared {
            verifier: self.config.verifier,
            max_body: self.config.max_body,
            path: self.config.path.clone(),
            started: Instant::now(),
            rejected: AtomicU64::new(0),
            handoff: Handoff::new(tx, self.config.first_id),
        });
        let app = Router::new()
            .route(
                &self.config.path,
                post(webhook).fallback(method_not_allowed),
            )
            .route("/healthz", get(healthz))
            .fallback(not_found)
            .with_state(shared);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// What every request handler shares.
struct Shared {
    verifier: Option<Verifier>,
    max_body: usize,
    path: String,
    started: Instant,
    rejected: AtomicU64,
    handoff: Handoff,
}

impl Shared {
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
        let _ = self.handoff.tx.send(Ingest::Rejected(rejection)).await;
        (status, body).into_response()
    }
}

/// An accepted delivery before it has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub received_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub auth: Auth,
    pub repaired: bool,
    pub notification: Notification,
}

/// The watcher has gone away, so a delivery can no longer be handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("pipetop is shutting down and cannot take deliveries")]
pub struct HandoffClosed;

/// Gives accepted deliveries their ids and puts them on the channel, one at a time, so ids
/// are in channel order. The lock is held across the send: the next step (a durable journal
/// write before the 2xx, and a duplicate guard before that) belongs inside it too.
pub struct Handoff {
    tx: mpsc::Sender<Ingest>,
    next_id: Mutex<u64>,
    accepted: AtomicU64,
}

impl Handoff {
    pub fn new(tx: mpsc::Sender<Ingest>, first_id: u64) -> Handoff {
        Handoff {
            tx,
            next_id: Mutex::new(first_id),
            accepted: AtomicU64::new(0),
        }
    }

    /// Hands the delivery on and returns its id; waits while the channel is full rather than
    /// dropping anything.
    pub async fn accept(&self, draft: Draft) -> Result<u64, HandoffClosed> {
        let mut next_id = self.next_id.lock().await;
        let id = *next_id;
        let delivery = Delivery {
            id,
            received_at: draft.received_at,
            sent_at: draft.sent_at,
            auth: draft.auth,
            repaired: draft.repaired,
            notification: draft.notification,
        };
        self.tx
            .send(Ingest::Accepted(Arc::new(delivery)))
            .await
            .map_err(|_| HandoffClosed)?;
        *next_id += 1;
        self.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(id)
    }

    /// How many deliveries were handed on since the start.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
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

/// The sender's clock, when `X-Gitee-Timestamp` holds milliseconds since the epoch.
fn sent_at(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let text = header_text(headers, TIMESTAMP_HEADER)?;
    let millis: i64 = text.trim().parse().ok()?;
    DateTime::from_timestamp_millis(millis)
}

async fn webhook(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let received_at = Utc::now();
    let peer = peer_of(&req);
    let reject = |status, reason: String| shared.reject(status, reason, peer, received_at);

    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > shared.max_body as u64) {
        return reject(StatusCode::PAYLOAD_TOO_LARGE, too_large(shared.max_body)).await;
    }

    let auth = match &shared.verifier {
        None => Auth::None,
        Some(verifier) => {
            let headers = req.headers();
            let token = header_text(headers, TOKEN_HEADER);
            let timestamp = header_text(headers, TIMESTAMP_HEADER);
            match verifier.verify(token.as_deref(), timestamp.as_deref(), SystemTime::now()) {
                Ok(auth) => auth,
                Err(err) => return reject(StatusCode::UNAUTHORIZED, err.to_string()).await,
            }
        }
    };
    let sent_at = sent_at(req.headers());

    let body = match read_limited(req.into_body(), shared.max_body).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return reject(StatusCode::PAYLOAD_TOO_LARGE, too_large(shared.max_body)).await;
        }
        Err(BodyError::Broken) => {
            let reason = "the request body could not be read to its end".to_owned();
            return reject(StatusCode::BAD_REQUEST, reason).await;
        }
    };

    let parsed = match parse_notification(&body) {
        Ok(parsed) => parsed,
        Err(err) => return reject(StatusCode::BAD_REQUEST, err.to_string()).await,
    };
    let draft = Draft {
        received_at,
        sent_at,
        auth,
        repaired: parsed.repaired(),
        notification: parsed.notification,
    };
    match shared.handoff.accept(draft).await {
        Ok(id) => axum::Json(json!({ "ok": true, "id": id })).into_response(),
        Err(closed) => (
            StatusCode::SERVICE_UNAVAILABLE,
            error_body(&closed.to_string()),
        )
            .into_response(),
    }
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
async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut out = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let Some(frame) = frame else {
            return Ok(Bytes::from(out));
        };
        let frame = frame.map_err(|_| BodyError::Broken)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&data);
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
        "rejected": shared.rejected.load(Ordering::Relaxed),
        "verification": shared.verifier.is_some(),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn draft() -> Draft {
        Draft {
            received_at: Utc::now(),
            sent_at: None,
            auth: Auth::None,
            repaired: false,
            notification: Notification::default(),
        }
    }

    fn id_of(ingest: Option<Ingest>) -> u64 {
        match ingest {
            Some(Ingest::Accepted(delivery)) => delivery.id,
            other => panic!("expected an accepted delivery, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn ids_resume_from_the_given_value_in_channel_order() {
        let (tx, mut rx) = mpsc::channel(8);
        let handoff = Handoff::new(tx, 41);
        assert_eq!(handoff.accept(draft()).await, Ok(41));
        assert_eq!(handoff.accept(draft()).await, Ok(42));
        assert_eq!(id_of(rx.recv().await), 41);
        assert_eq!(id_of(rx.recv().await), 42);
        assert_eq!(handoff.accepted(), 2);
    }

    #[tokio::test]
    async fn a_full_channel_makes_the_delivery_wait_instead_of_dropping_it() {
        let (tx, mut rx) = mpsc::channel(1);
        let handoff = Arc::new(Handoff::new(tx, 1));
        assert_eq!(handoff.accept(draft()).await, Ok(1));
        let waiting = tokio::spawn({
            let handoff = Arc::clone(&handoff);
            async move { handoff.accept(draft()).await }
        });
        let early = tokio::time::timeout(Duration::from_millis(100), async {
            while handoff.accepted() < 2 {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(early.is_err(), "the second delivery did not wait");
        assert_eq!(id_of(rx.recv().await), 1);
        assert_eq!(waiting.await.unwrap(), Ok(2));
        assert_eq!(id_of(rx.recv().await), 2);
    }

    #[tokio::test]
    async fn a_closed_channel_is_reported_and_the_id_is_not_used_up() {
        let (tx, rx) = mpsc::channel(1);
        let handoff = Handoff::new(tx, 1);
        drop(rx);
        assert_eq!(handoff.accept(draft()).await, Err(HandoffClosed));
        assert_eq!(*handoff.next_id.lock().await, 1);
        assert_eq!(handoff.accepted(), 0);
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
}
