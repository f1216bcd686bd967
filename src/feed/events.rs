//! `GET /events`: the token check, where the stream starts (`Last-Event-ID`, `?after=`,
//! `?since=`), and each viewer's task: history from the journal, then the live ring.

use super::{Frame, HEALTH_EVERY, Hub, KEEP_ALIVE, history};
use crate::delivery::Ingest;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, broadcast, mpsc};

/// Writes waiting for one viewer's connection to take them, each a batch of at most
/// [`BATCH_BYTES`]; the ring behind them is what bounds how far a viewer may fall behind.
const QUEUED: usize = 4;

/// Where a viewer's stream starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Start {
    /// After this delivery id: from `Last-Event-ID` or `?after=`.
    pub after: Option<u64>,
    /// Only history received this recently: `?since=`.
    pub since: Option<Duration>,
}

/// A start that cannot be served; each message is one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("{0} must be a delivery id (a whole number)")]
    BadId(&'static str),
    #[error(
        "{what} {after} is beyond the last delivery id {last}; this server's journal is not the one that id came from"
    )]
    Beyond {
        what: &'static str,
        after: u64,
        last: u64,
    },
    #[error("since must be a duration such as 90s, 10m or 24h")]
    BadSince,
    #[error("the query string does not read: {0}")]
    Query(String),
}

#[derive(Deserialize)]
struct Params {
    after: Option<String>,
    since: Option<String>,
}

impl Start {
    /// Reads the start from the request; `last_id` is the highest id stored.
    pub fn of(headers: &HeaderMap, uri: &Uri, last_id: u64) -> Result<Start, StartError> {
        let params = axum::extract::Query::<Params>::try_from_uri(uri)
            .map_err(|err| StartError::Query(crate::text::clean_long(&err.body_text()).into()))?
            .0;
        let header = headers
            .get("last-event-id")
            .map(|value| ("Last-Event-ID", value.to_str().unwrap_or("?").to_owned()));
        let query = params.after.map(|after| ("after", after));
        let after = match header.or(query) {
            Some((what, text)) => {
                let after: u64 = text.trim().parse().map_err(|_| StartError::BadId(what))?;
                if after > last_id {
                    return Err(StartError::Beyond {
                        what,
                        after,
                        last: last_id,
                    });
                }
                Some(after)
            }
            None => None,
        };
        let since = match params.since {
            Some(text) => Some(humantime::parse_duration(&text).map_err(|_| StartError::BadSince)?),
            None => None,
        };
        Ok(Start { after, since })
    }
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    let body = serde_json::json!({ "ok": false, "error": reason }).to_string();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Answers `GET /events`: `401` without the viewer token, `400` for a start that cannot be
/// served, `503` when every viewer slot is taken; otherwise the stream. `last_id` is the
/// highest id stored.
pub async fn events(hub: Arc<Hub>, headers: &HeaderMap, uri: &Uri, last_id: u64) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !hub.token().authorizes(authorization) {
        let reason = if authorization.is_some() {
            "wrong viewer token"
        } else {
            "missing Authorization: Bearer <viewer token>"
        };
        return refuse(StatusCode::UNAUTHORIZED, reason);
    }
    let start = match Start::of(headers, uri, last_id) {
        Ok(start) => start,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, &err.to_string()),
    };
    let Ok(slot) = Arc::clone(&hub.viewers).try_acquire_owned() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "every viewer slot is taken ({} viewers); try again later",
                hub.max_viewers
            ),
        );
    };
    // Subscribed before the history is read, so nothing journaled meanwhile is missed.
    let live = hub.live.subscribe();
    let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUED);
    tokio::spawn(follow(hub, start, live, tx, slot));
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|frame| frame.map(Ok::<_, Infallible>))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // nginx: pass each event on at once rather than buffering the stream.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// One viewer: the history after its start, `: live`, then the ring, until the viewer goes,
/// falls behind, or the server stops.
async fn follow(
    hub: Arc<Hub>,
    start: Start,
    mut live: broadcast::Receiver<Frame>,
    tx: mpsc::Sender<Bytes>,
    _slot: OwnedSemaphorePermit,
) {
    let after = start.after.unwrap_or(0);
    let mut last = after;
    if let Some(path) = hub.journal.clone() {
        let since = start
            .since
            .and_then(|since| chrono::Duration::from_std(since).ok())
            .and_then(|since| Utc::now().checked_sub_signed(since));
        let history_tx = tx.clone();
        let read = tokio::task::spawn_blocking(move || {
            history::read(&path, after, since, |delivery| {
                let Some(frame) = Frame::of(&Ingest::Accepted(Arc::new(delivery))) else {
                    return ControlFlow::Continue(());
                };
                match history_tx.blocking_send(frame.bytes) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            })
        })
        .await;
        match read {
            Ok(Ok(read)) => last = last.max(read),
            Ok(Err(err)) => {
                let reason = format!("cannot read the journal: {}", crate::io_reason(&err));
                let _ = tx.send(Frame::comment(&reason)).await;
                return;
            }
            Err(_) => return,
        }
    }
    if tx.send(Frame::comment("live")).await.is_err() {
        return;
    }
    let mut closing = hub.closing.subscribe();
    let mut keep_alive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    let mut health = tokio::time::interval(HEALTH_EVERY);
    let mut backlog_sent = 0;
    loop {
        let first = tokio::select! {
            frame = live.recv() => frame,
            _ = health.tick(), if hub.publisher.get().is_some() => {
                let backlog = hub.publisher.get().map_or(0, |gate| gate.backlog());
                if backlog != backlog_sent {
                    backlog_sent = backlog;
                    if tx.send(Frame::health(backlog)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
            _ = keep_alive.tick() => {
                if tx.send(Frame::comment("keep-alive")).await.is_err() {
                    return;
                }
                continue;
            }
            () = stopping(&mut closing) => {
                let _ = tx.send(Frame::comment("pipetop is stopping")).await;
                return;
            }
            () = tx.closed() => return,
        };
        // What is already on the ring goes out in one write, so a busy feed costs a viewer
        // one write per batch rather than one per delivery.
        let mut batch = Vec::new();
        let mut batched = 0;
        let mut next = Some(first);
        let mut end = None;
        while let Some(received) = next.take() {
            match received {
                Ok(frame) => {
                    if let Some(id) = frame.id {
                        if id <= last {
                            next = more(&mut live, batched);
                            continue;
                        }
                        if hub.journal.is_some() && id != last + 1 {
                            // The journal rotated while it was read: start again from it.
                            end = Some(format!(
                                "history moved while it was read; reconnect with Last-Event-ID: {last}"
                            ));
                            break;
                        }
                        last = id;
                    }
                    batched += frame.bytes.len();
                    batch.push(frame.bytes);
                    next = more(&mut live, batched);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    end = Some(format!(
                        "disconnected: this viewer fell more than {} events behind; reconnect with Last-Event-ID: {last} to catch up from the journal",
                        super::VIEWER_BUFFER
                    ));
                }
                Err(broadcast::error::RecvError::Closed) => {
                    end = Some("pipetop is stopping".to_owned());
                }
            }
        }
        let out = match batch.len() {
            0 => None,
            1 => batch.pop(),
            _ => Some(Bytes::from(batch.concat())),
        };
        if let Some(out) = out
            && tx.send(out).await.is_err()
        {
            return;
        }
        if let Some(end) = end {
            let _ = tx.send(Frame::comment(&end)).await;
            return;
        }
        // A viewer that has caught up with the ring sits out a moment before it waits on it
        // again, so a busy feed wakes each viewer once per COALESCE rather than once per
        // delivery; a quiet one still gets each delivery at once. A full batch goes on at once.
        if batched < BATCH_BYTES {
            tokio::time::sleep(COALESCE).await;
        }
    }
}

/// How long a caught-up viewer lets deliveries gather before it writes again: what it adds
/// to a busy feed's latency, at most.
const COALESCE: Duration = Duration::from_millis(5);

/// The most bytes sent to a viewer as one write.
const BATCH_BYTES: usize = 64 * 1024;

/// The next frame already on the ring, while the batch has room.
fn more(
    live: &mut broadcast::Receiver<Frame>,
    batched: usize,
) -> Option<Result<Frame, broadcast::error::RecvError>> {
    use broadcast::error::{RecvError, TryRecvError};
    if batched >= BATCH_BYTES {
        return None;
    }
    match live.try_recv() {
        Ok(frame) => Some(Ok(frame)),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
        Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
    }
}

/// Resolves once the hub is closed.
async fn stopping(closing: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::ViewerToken;
    use crate::testing::delivery;
    use http_body_util::BodyExt as _;

    fn authorized() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer t0ken"),
        );
        headers
    }

    #[tokio::test]
    async fn a_viewer_that_falls_behind_the_ring_is_told_why_and_let_go() {
        let hub = Hub::new(None, ViewerToken::new("t0ken").unwrap(), 4);
        let (tx, rx) = mpsc::channel(16);
        let (out, mut consumer) = mpsc::channel(16);
        tokio::spawn(Arc::clone(&hub).tee(rx, out));
        tokio::spawn(async move { while consumer.recv().await.is_some() {} });
        let answer = events(
            Arc::clone(&hub),
            &authorized(),
            &"/events".parse().unwrap(),
            0,
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(hub.viewers(), 1);
        // The body is not read while far more than the ring and the queued writes hold goes by.
        let total = 4 * super::super::VIEWER_BUFFER as u64;
        for id in 1..=total {
            tx.send(Ingest::Accepted(Arc::new(delivery(id))))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let body = tokio::time::timeout(Duration::from_secs(10), answer.into_body().collect())
            .await
            .expect("the stream ends")
            .unwrap()
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(": live\n\nid: 1\n"), "{}", &text[..80]);
        let seen = text.matches("\nevent: accepted").count() as u64;
        assert!(seen < total, "{seen}");
        assert!(
            text.trim_end().ends_with(&format!(
                ": disconnected: this viewer fell more than {} events behind; reconnect with Last-Event-ID: {seen} to catch up from the journal",
                super::super::VIEWER_BUFFER
            )),
            "{}",
            &text[text.len().saturating_sub(300)..]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(hub.viewers(), 0);
    }

    #[tokio::test]
    async fn viewers_past_the_bound_and_without_the_token_are_refused() {
        let hub = Hub::new(None, ViewerToken::new("t0ken").unwrap(), 1);
        let uri: Uri = "/events".parse().unwrap();
        let first = events(Arc::clone(&hub), &authorized(), &uri, 0).await;
        assert_eq!(first.status(), StatusCode::OK);
        let second = events(Arc::clone(&hub), &authorized(), &uri, 0).await;
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        let anonymous = events(Arc::clone(&hub), &HeaderMap::new(), &uri, 0).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer");
        hub.close();
        let body = tokio::time::timeout(Duration::from_secs(10), first.into_body().collect())
            .await
            .expect("the stream ends")
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], b": live\n\n: pipetop is stopping\n\n");
    }

    fn start(headers: &[(&'static str, &str)], uri: &str) -> Result<Start, StartError> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        Start::of(&map, &uri.parse().unwrap(), 10)
    }

    #[test]
    fn the_start_reads_from_the_header_or_the_query_and_is_checked() {
        assert_eq!(start(&[], "/events"), Ok(Start::default()));
        assert_eq!(
            start(&[("last-event-id", "7")], "/events").unwrap().after,
            Some(7)
        );
        assert_eq!(start(&[], "/events?after=3").unwrap().after, Some(3));
        assert_eq!(
            start(&[("last-event-id", "4")], "/events?after=3")
                .unwrap()
                .after,
            Some(4)
        );
        assert_eq!(
            start(&[], "/events?since=10m").unwrap().since,
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            start(&[("last-event-id", "x1")], "/events"),
            Err(StartError::BadId("Last-Event-ID"))
        );
        assert_eq!(
            start(&[], "/events?after=-1"),
            Err(StartError::BadId("after"))
        );
        assert!(matches!(
            start(&[], "/events?after=11"),
            Err(StartError::Beyond {
                after: 11,
                last: 10,
                ..
            })
        ));
        assert_eq!(start(&[], "/events?since=soon"), Err(StartError::BadSince));
    }
}
