//! The feed for viewers: every delivery once it is journaled, and every refusal, as
//! server-sent events on `GET /events`, for `pipetop attach` and `pipetop wait`.
//!
//! The writer hands each journaled delivery to [`Hub::tee`], which renders it once as an SSE
//! frame ([`Frame`]), puts the frame on a broadcast ring shared by every viewer, and passes
//! the delivery on to the local consumer. A viewer ([`events`]) subscribes to the ring
//! first, then reads the journal's history after the id it asked for, then follows the ring,
//! skipping the ids the journal already gave it: nothing falls between the two, since a
//! delivery is on the ring only after it is in the journal, and nothing comes twice.
//!
//! The ring is each viewer's bounded buffer: a viewer more than [`VIEWER_BUFFER`] frames
//! behind is told so in a final comment and disconnected, and catches up from the journal
//! when it reconnects with `Last-Event-ID`. Sending on the ring never waits, so no viewer
//! slows the receiver or another viewer.

mod events;
pub mod history;
pub mod token;

use crate::delivery::Ingest;
use crate::nats::publish::Gate;
use axum::body::Bytes;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{Semaphore, broadcast, mpsc, watch};

pub use events::{Start, StartError, events};
pub use token::{TokenError, ViewerToken};

/// How often an idle stream gets a comment, so proxies and clients know it is alive.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How often a viewer's stream looks at the receiver's NATS backlog, to send it when it
/// changed (`event: health`).
pub const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// How many frames a viewer may fall behind the newest before it is cut off.
pub const VIEWER_BUFFER: usize = 4096;

/// Viewers served at once by default.
pub const DEFAULT_MAX_VIEWERS: usize = 256;

/// One event as it goes on the wire, rendered once for every viewer.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The delivery's id; `None` for a refusal.
    pub id: Option<u64>,
    pub bytes: Bytes,
}

impl Frame {
    /// `id: N`, `event: accepted`, `data: <the headless line>`; a refusal has no id. What a
    /// local pipetop did besides (forwards, commands, notifications) is its own, not the
    /// feed's: `None`.
    pub fn of(ingest: &Ingest) -> Option<Frame> {
        let line = crate::headless::line(ingest);
        match ingest {
            Ingest::Accepted(delivery) => Some(Frame {
                id: Some(delivery.id),
                bytes: Bytes::from(format!(
                    "id: {}\nevent: accepted\ndata: {line}\n\n",
                    delivery.id
                )),
            }),
            Ingest::Rejected(_) => Some(Frame {
                id: None,
                bytes: Bytes::from(format!("event: rejected\ndata: {line}\n\n")),
            }),
            Ingest::Outcome(_) | Ingest::Alert(_) => None,
        }
    }

    /// `event: health` with the receiver's NATS backlog: what an attached screen's header
    /// shows, as the receiver's own does.
    pub fn health(backlog: u64) -> Bytes {
        Bytes::from(format!(
            "event: health\ndata: {{\"nats_backlog\":{backlog}}}\n\n"
        ))
    }

    /// A comment line: ignored by clients, read by people.
    pub fn comment(text: &str) -> Bytes {
        Bytes::from(format!(": {text}\n\n"))
    }
}

/// What every viewer shares: the ring, the journal to read history from, the token and the
/// viewer slots.
pub struct Hub {
    live: broadcast::Sender<Frame>,
    journal: Option<PathBuf>,
    token: ViewerToken,
    viewers: Arc<Semaphore>,
    max_viewers: usize,
    closing: watch::Sender<bool>,
    /// The publisher whose backlog viewers are told (`--nats`), once it has started.
    publisher: OnceLock<Arc<Gate>>,
}

impl Hub {
    /// A hub reading history from `journal` (none: live only), admitting `max_viewers`.
    pub fn new(journal: Option<PathBuf>, token: ViewerToken, max_viewers: usize) -> Arc<Hub> {
        let (live, _) = broadcast::channel(VIEWER_BUFFER);
        Arc::new(Hub {
            live,
            journal,
            token,
            viewers: Arc::new(Semaphore::new(max_viewers)),
            max_viewers,
            closing: watch::channel(false).0,
            publisher: OnceLock::new(),
        })
    }

    /// The publisher whose NATS backlog viewers are told; the first call counts.
    pub fn publishing(&self, gate: Arc<Gate>) {
        let _ = self.publisher.set(gate);
    }

    pub fn token(&self) -> &ViewerToken {
        &self.token
    }

    /// Viewers attached now.
    pub fn viewers(&self) -> usize {
        self.max_viewers - self.viewers.available_permits()
    }

    /// Puts every value from `rx` (the writer's output: journaled deliveries and refusals) on
    /// the ring, then hands it to `out`, until `rx` closes. Viewers see the end as the
    /// server stopping.
    pub async fn tee(self: Arc<Self>, mut rx: mpsc::Receiver<Ingest>, out: mpsc::Sender<Ingest>) {
        while let Some(ingest) = rx.recv().await {
            // No viewer attached is not an error: the journal keeps everything.
            if let Some(frame) = Frame::of(&ingest) {
                let _ = self.live.send(frame);
            }
            // A consumer that has gone away (stdout closed) stops pipetop by itself.
            let _ = out.send(ingest).await;
        }
        self.close();
    }

    /// Ends every viewer's stream with a comment saying the server is stopping, so a graceful
    /// stop is not held up by connections that never end by themselves.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }
}
