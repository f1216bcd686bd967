//! The request handlers: the webhook's steps from headers to [`Handoff::accept`], `/healthz`,
//! and the answers to other methods and paths. Each step that refuses returns a [`Refusal`];
//! [`Shared::refuse`] is the one place a refusal is counted, put on the feed and answered.

use super::ServerConfig;
use super::connections::Seat;
use super::refusal::Refusal;
use crate::delivery::{Headers, Ingest};
use crate::feed::Hub;
use crate::gitee::{Auth, ParseError, Parsed, Redactor, Verifier, parse_notification};
use crate::nats::publish::Gate;
use crate::store::guard::Fingerprint;
use crate::store::handoff::{Accepted, Draft, Handoff};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SubsecRound as _, Utc};
use serde_json::json;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Semaphore;

/// Bodies up to this size are parsed on the request's task: the slowest shape parses at some
/// 40 ms a MiB, so about 2.5 ms at this size (BENCHMARKS.md, "Hostile bodies"). Larger ones go
/// to the blocking pool.
const PARSE_INLINE_MAX: usize = 64 * 1024;

const TOKEN_HEADER: &str = "x-gitee-token";
const TIMESTAMP_HEADER: &str = "x-gitee-timestamp";
const PING_HEADER: &str = "x-gitee-ping";
const EVENT_HEADER: &str = "x-gitee-event";
const REQUEST_ID_HEADER: &str = "x-request-id";

/// What every request handler shares: the verifier, the limits, the redactor and the handoff.
pub struct Shared {
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
    /// The feed for viewers on `GET /events`, when a viewer token is set.
    feed: Option<Arc<Hub>>,
    /// The publisher to NATS JetStream, with `--nats`.
    nats: Option<Arc<Gate>>,
}

impl Shared {
    /// What the handlers of `config` need; the connection settings (timeouts of the head and
    /// of writes, the bound on connections) are the listener's, not theirs.
    pub fn new(config: &ServerConfig, handoff: Handoff) -> Shared {
        Shared {
            redactor: config
                .verifier
                .as_ref()
                .map_or_else(Redactor::default, Verifier::redactor),
            verifier: config.verifier.clone(),
            max_body: config.max_body,
            body_timeout: config.body_timeout,
            path: config.path.clone(),
            started: Instant::now(),
            rejected: AtomicU64::new(0),
            parsers: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            )),
            handoff,
            feed: None,
            nats: None,
        }
    }

    /// Serves `GET /events` from `hub` too.
    pub fn with_feed(mut self, hub: Arc<Hub>) -> Shared {
        self.feed = Some(hub);
        self
    }

    /// Answers once the stream has each delivery too, as [`Gate::published`] says.
    pub fn with_nats(mut self, gate: Arc<Gate>) -> Shared {
        self.nats = Some(gate);
        self
    }

    pub(super) fn has_feed(&self) -> bool {
        self.feed.is_some()
    }

    /// The webhook path, starting with `/`.
    pub(super) fn path(&self) -> &str {
        &self.path
    }

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

    /// Answers a refusal and, when it is one to report, counts it and sends it on, so whoever
    /// watches sees it with its reason.
    async fn refuse(
        &self,
        refusal: Refusal,
        peer: Option<SocketAddr>,
        received_at: DateTime<Utc>,
    ) -> Response {
        if refusal.reported() {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            // A closed channel means the watcher is gone and we are shutting down; the sender
            // still gets its answer.
            let _ = self
                .handoff
                .sender()
                .send(Ingest::Rejected(refusal.rejection(peer, received_at)))
                .await;
        }
        refusal.into_response()
    }
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

pub(super) async fn webhook(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    // Milliseconds, as the journal and the JSON lines keep it, so a replayed delivery is the
    // same value as the live one was.
    let received_at = Utc::now().trunc_subsecs(3);
    let peer = peer_of(&req);
    match receive(&shared, req, received_at).await {
        Ok(answer) => answer.into_response(),
        Err(refusal) => shared.refuse(refusal, peer, received_at).await,
    }
}

/// The webhook's steps, in order; the first that refuses ends the request.
async fn receive(
    shared: &Shared,
    req: Request,
    received_at: DateTime<Utc>,
) -> Result<Answer, Refusal> {
    let too_large = || Refusal::TooLarge {
        limit: shared.max_body,
    };
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > shared.max_body as u64) {
        return Err(too_large());
    }

    let token = header_text(headers, TOKEN_HEADER);
    let timestamp = header_text(headers, TIMESTAMP_HEADER);
    let verified = match &shared.verifier {
        None => None,
        // Checked at the instant the journal stamps, so that stamp bounds the timestamp
        // exactly, and the guard's recall after a restart can rely on it.
        Some(verifier) => Some(verifier.verify(
            token.as_deref(),
            timestamp.as_deref(),
            SystemTime::from(received_at),
        )?),
    };
    let auth = verified
        .as_ref()
        .map_or(Auth::None, |verified| verified.auth);
    let sent_at = sent_at(headers);
    let kept = kept_headers(headers);

    let reading = read_limited(body, shared.max_body);
    let body = tokio::time::timeout(shared.body_timeout, reading)
        .await
        .map_err(|_| Refusal::BodyTimeout {
            limit: shared.body_timeout,
        })?
        .map_err(|broken| match broken {
            BodyError::TooLarge => too_large(),
            BodyError::Broken => Refusal::BrokenBody,
        })?;
    // The token as verified, so every spelling of one token is one pair; unchecked, as sent.
    let token = verified
        .as_ref()
        .map_or(token.as_deref(), |v| Some(v.token()));
    let fingerprint = Fingerprint::of(timestamp.as_deref(), token, &body, auth == Auth::Signature);
    // Before the parse, which is the costly part: a captured signature sent again with another
    // body gets no more than a look-up.
    shared.handoff.precheck(fingerprint.as_ref())?;

    let mut parsed = shared.parse(body).await.ok_or(Refusal::ShuttingDown)??;
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
    let accepted = shared.handoff.accept(draft, fingerprint).await?;
    if let Some(gate) = &shared.nats {
        gate.published(accepted.id).await;
    }
    Ok(Answer { accepted, ping })
}

/// A delivery handed on, or recognised as handed on before.
struct Answer {
    accepted: Accepted,
    /// The request was a test delivery (`X-Gitee-Ping: true`).
    ping: bool,
}

/// `{"ok":true,"id":N}`, with `"duplicate":true` for a redelivery and `"ping":true` for a test
/// delivery; written directly, since it is the answer to nearly every request.
impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let duplicate = if self.accepted.duplicate {
            ",\"duplicate\":true"
        } else {
            ""
        };
        let ping = if self.ping { ",\"ping\":true" } else { "" };
        let body = format!(
            "{{\"ok\":true,\"id\":{}{duplicate}{ping}}}",
            self.accepted.id
        );
        let json = HeaderValue::from_static("application/json");
        ([(header::CONTENT_TYPE, json)], body).into_response()
    }
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

pub(super) async fn method_not_allowed(
    State(shared): State<Arc<Shared>>,
    req: Request,
) -> Response {
    let refusal = Refusal::MethodNotAllowed {
        method: req.method().clone(),
        path: shared.path.clone(),
    };
    shared.refuse(refusal, peer_of(&req), Utc::now()).await
}

pub(super) async fn not_found(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let refusal = Refusal::NotFound {
        method: req.method().clone(),
        path: shared.path.clone(),
    };
    shared.refuse(refusal, peer_of(&req), Utc::now()).await
}

pub(super) async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let mut health = json!({
        "ok": true,
        "uptime_secs": shared.started.elapsed().as_secs(),
        "accepted": shared.handoff.accepted(),
        "duplicates": shared.handoff.duplicates(),
        "rejected": shared.rejected.load(Ordering::Relaxed),
        "last_id": shared.handoff.last_id(),
        "verification": shared.verifier.is_some(),
    });
    if let Some(hub) = &shared.feed {
        health["viewers"] = json!(hub.viewers());
    }
    if let Some(gate) = &shared.nats {
        health["nats"] = gate.health();
    }
    axum::Json(health).into_response()
}

/// `GET /events`: the feed for viewers. A connection that gets the stream leaves the
/// listener's slots for the feed's own.
pub(super) async fn events(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let Some(hub) = shared.feed.clone() else {
        return not_found(State(shared), req).await;
    };
    let answer = crate::feed::events(hub, req.headers(), req.uri(), shared.handoff.last_id()).await;
    if answer.status().is_success()
        && let Some(seat) = req.extensions().get::<Seat>()
    {
        seat.leave();
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

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
