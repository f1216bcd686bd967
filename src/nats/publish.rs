//! The publisher: every journaled delivery goes to the stream, in journal order, exactly once.
//!
//! The journal is the buffer. The publisher reads it behind the writer ([`super::follow`]),
//! publishes up to [`WINDOW`] messages ahead of the stream's acks, and remembers the last id
//! acked in order in a small cursor file beside the journal, so a backlog (journaled, not yet
//! acked) survives a restart or a kill -9. Republishing what was in flight is harmless: each
//! message carries `Nats-Msg-Id`, the delivery's fingerprint.
//!
//! Order after a failure: one client is kept for the whole run (it reconnects by itself and
//! then sends what it had buffered). When an ack fails, the publisher waits until a flush
//! goes through on the reconnected client, so whatever it had buffered reached the server
//! first, collects the acks still to come, and then goes on from the first unacked id one
//! message at a time up to the highest id sent before, so nothing can overtake an earlier one.
//!
//! [`Gate`] is what the rest of pipetop sees: the handler waits on it for a delivery's ack
//! (bounded by `--nats-timeout`), `/healthz` and the header read the backlog from it.

use super::follow::{Follower, Message};
use super::{Link, NatsError, stream};
use crate::delivery::Ingest;
use async_nats::jetstream::{self, context::PublishErrorKind};
use serde_json::json;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};

/// Messages published ahead of the stream's acks.
pub const WINDOW: usize = 256;

/// How long the stream may take to ack one message before the publisher counts it as failed.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// An answer to Gitee waits for its delivery's ack only when at most this many are ahead of
/// it, so a long backlog being caught up does not hold every answer up to the timeout.
const WAIT_BEHIND: u64 = 4096;

/// How often the cursor is written while acks come.
const CURSOR_EVERY: Duration = Duration::from_millis(200);

/// The publisher's state, as the handler, `/healthz` and the header see it.
#[derive(Debug)]
pub struct Gate {
    acked: watch::Sender<u64>,
    journaled: AtomicU64,
    wake: Notify,
    connected: AtomicBool,
    /// The client's own word on its connection: false from the moment it loses it until it
    /// has reconnected, which it knows long before an ack times out.
    online: Arc<AtomicBool>,
    /// The last id acked when an answer last waited the whole `--nats-timeout` ([`NOT_STALLED`]
    /// when none has since the stream acked more).
    stalled_at: AtomicU64,
    timeout: Duration,
    wait: bool,
}

/// [`Gate::stalled_at`] when answers may wait.
const NOT_STALLED: u64 = u64::MAX;

impl Gate {
    /// `journaled`: the last id in the journal; `acked`: the last one the stream acked;
    /// `online`: the client's word on its connection, as [`connect`] keeps it.
    pub fn new(
        journaled: u64,
        acked: u64,
        timeout: Duration,
        wait: bool,
        online: Arc<AtomicBool>,
    ) -> Arc<Gate> {
        Arc::new(Gate {
            acked: watch::channel(acked.min(journaled)).0,
            journaled: AtomicU64::new(journaled),
            wake: Notify::new(),
            connected: AtomicBool::new(false),
            online,
            stalled_at: AtomicU64::new(NOT_STALLED),
            timeout,
            wait,
        })
    }

    /// Delivery `id` is in the journal.
    pub fn journaled(&self, id: u64) {
        self.journaled.fetch_max(id, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Waits until the stream has delivery `id`, at most `--nats-timeout`, and not at all
    /// with `--nats-async`, while NATS does not answer, or behind a long backlog.
    ///
    /// Once one answer has waited the whole timeout, the next ones do not wait until the
    /// stream acks something again: an outage costs one timeout, not one per answer until
    /// the client notices the connection is gone.
    pub async fn published(&self, id: u64) {
        if !self.wait || !self.connected() {
            return;
        }
        let mut acked = self.acked.subscribe();
        let now_acked = *acked.borrow();
        let stalled_at = self.stalled_at.load(Ordering::Relaxed);
        if stalled_at != NOT_STALLED {
            if now_acked <= stalled_at {
                return;
            }
            self.stalled_at.store(NOT_STALLED, Ordering::Relaxed);
        }
        if id.saturating_sub(now_acked) > WAIT_BEHIND {
            return;
        }
        let waited = tokio::time::timeout(self.timeout, acked.wait_for(|acked| *acked >= id)).await;
        if waited.is_err() {
            let acked = *self.acked.borrow();
            self.stalled_at.store(acked, Ordering::Relaxed);
        }
    }

    /// Deliveries journaled and not yet acked by the stream.
    pub fn backlog(&self) -> u64 {
        self.journaled
            .load(Ordering::Relaxed)
            .saturating_sub(*self.acked.borrow())
    }

    /// Publishing, on a connection the client holds.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed) && self.online.load(Ordering::Relaxed)
    }

    /// What `/healthz` says of NATS.
    pub fn health(&self) -> serde_json::Value {
        json!({
            "connected": self.connected(),
            "backlog": self.backlog(),
            "published_id": *self.acked.borrow(),
        })
    }
}

/// Passes everything on from `rx` to `out`, telling the publisher of each journaled delivery.
pub async fn tee(gate: Arc<Gate>, mut rx: mpsc::Receiver<Ingest>, out: mpsc::Sender<Ingest>) {
    let mut open = true;
    while let Some(ingest) = rx.recv().await {
        if let Ingest::Accepted(delivery) = &ingest {
            gate.journaled(delivery.id);
        }
        // Once the consumer is gone, deliveries are still published.
        if open && out.send(ingest).await.is_err() {
            open = false;
        }
    }
}

/// The cursor beside the journal: `<journal>.<stream>.published`, holding the last id acked.
pub fn cursor_path(journal: &Path, stream: &str) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{stream}.published"));
    journal.with_file_name(name)
}

/// The last id acked, from the cursor; `None` when there is no cursor yet.
pub fn read_cursor(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn write_cursor(path: &Path, id: u64) {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let temporary = PathBuf::from(temporary);
    // Best effort: a cursor behind only means a few messages published again, as duplicates.
    if std::fs::write(&temporary, format!("{id}\n")).is_ok() {
        let _ = std::fs::rename(&temporary, path);
    }
}

/// Connects, and checks or creates the stream; at start, only an unreachable server is
/// not the end (the deliveries wait in the journal). `online` follows the client's word on
/// its connection.
pub async fn connect(
    link: &Link,
    tolerance: Duration,
    online: &Arc<AtomicBool>,
) -> Result<jetstream::Context, NatsError> {
    let online = Arc::clone(online);
    let options = link.options().await?.event_callback(move |event| {
        match event {
            async_nats::Event::Disconnected => online.store(false, Ordering::Relaxed),
            async_nats::Event::Connected => online.store(true, Ordering::Relaxed),
            _ => {}
        }
        async {}
    });
    let client = link.connect_with(options).await?;
    let mut js = jetstream::new(client);
    js.set_timeout(ACK_TIMEOUT);
    stream::ensure(&js, link, tolerance).await?;
    Ok(js)
}

/// How publishing is set up at start.
pub struct Setup {
    pub link: Link,
    /// The signature tolerance, which the stream's duplicate window must cover.
    pub tolerance: Duration,
    pub journal: PathBuf,
    /// The last id in the journal at start.
    pub last_id: u64,
    /// `--nats-timeout`.
    pub timeout: Duration,
    /// Answers wait for the ack (no `--nats-async`).
    pub wait: bool,
}

/// Checks the link, connects and checks the stream, and starts publishing. A wrong URL,
/// refused credentials or a stream that cannot work end the start; a server that does not
/// answer is a warning, and deliveries wait in the journal until it does.
pub async fn start(setup: Setup) -> Result<Arc<Gate>, NatsError> {
    setup.link.checked()?;
    setup.link.options().await?;
    let mut said = None;
    let online = Arc::new(AtomicBool::new(true));
    let js = match connect(&setup.link, setup.tolerance, &online).await {
        Ok(js) => {
            eprintln!(
                "pipetop: publishing deliveries to NATS at {}, stream {}, subjects {}",
                setup.link.shown(),
                setup.link.stream,
                setup.link.subjects()
            );
            Some(js)
        }
        Err(err) if err.is_transient() => {
            eprintln!(
                "pipetop: {err}; deliveries wait in the journal and are published once it answers"
            );
            said = Some(err.to_string());
            None
        }
        Err(err) => return Err(err),
    };
    let cursor = cursor_path(&setup.journal, &setup.link.stream);
    // Without a cursor, publishing starts with the next delivery: the journal's history
    // predates the stream, and is not sent to it wholesale.
    let acked = match read_cursor(&cursor) {
        Some(acked) => acked,
        None => {
            write_cursor(&cursor, setup.last_id);
            setup.last_id
        }
    };
    let gate = Gate::new(setup.last_id, acked, setup.timeout, setup.wait, online);
    let publisher = Publisher {
        link: setup.link,
        tolerance: setup.tolerance,
        journal: setup.journal,
        gate: Arc::clone(&gate),
    };
    tokio::spawn(publisher.run(js, said));
    Ok(gate)
}

/// What the publisher needs.
pub struct Publisher {
    pub link: Link,
    pub tolerance: Duration,
    pub journal: PathBuf,
    pub gate: Arc<Gate>,
}

impl Publisher {
    /// Publishes until the runtime ends; `js` is the connection made at start, if it was,
    /// and `said` what was said about NATS so far.
    pub async fn run(self, mut js: Option<jetstream::Context>, mut said: Option<String>) {
        let cursor = cursor_path(&self.journal, &self.link.stream);
        // Ids up to this were sent before a failure: they go one at a time.
        let mut careful_until = 0;
        loop {
            let Some(context) = js.clone() else {
                match connect(&self.link, self.tolerance, &self.gate.online).await {
                    Ok(context) => js = Some(context),
                    Err(err) => {
                        self.say_once(&mut said, err.to_string());
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                continue;
            };
            if let Err(err) = stream::ensure(&context, &self.link, self.tolerance).await {
                self.say_once(&mut said, err.to_string());
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            if said.take().is_some() {
                eprintln!(
                    "pipetop: NATS at {} answers again; publishing a backlog of {}",
                    self.link.shown(),
                    self.gate.backlog()
                );
            }
            self.gate.connected.store(true, Ordering::Relaxed);
            let failed = self.publish(&context, &cursor, &mut careful_until).await;
            self.gate.connected.store(false, Ordering::Relaxed);
            self.say_once(&mut said, failed);
            settle(&context).await;
        }
    }

    fn say_once(&self, said: &mut Option<String>, reason: String) {
        if said.as_deref() != Some(reason.as_str()) {
            eprintln!(
                "pipetop: {}; deliveries wait in the journal ({} so far) and are published once it answers",
                crate::text::clean_long(&reason),
                self.gate.backlog()
            );
            *said = Some(reason);
        }
    }

    /// Publishes until something fails, and says what.
    async fn publish(
        &self,
        js: &jetstream::Context,
        cursor: &Path,
        careful_until: &mut u64,
    ) -> String {
        let mut acked = *self.gate.acked.borrow();
        let mut follower = match Follower::open(&self.journal) {
            Ok(follower) => follower,
            Err(err) => return format!("cannot read the journal: {}", crate::io_reason(&err)),
        };
        let mut sent = acked;
        let mut in_flight: VecDeque<(u64, jetstream::context::PublishAckFuture)> = VecDeque::new();
        let mut written = (acked, Instant::now());
        loop {
            let window = if sent < *careful_until { 1 } else { WINDOW };
            if in_flight.len() < window {
                let messages = match follower.next(&self.link, sent, window - in_flight.len()) {
                    Ok(messages) => messages,
                    Err(err) => {
                        return format!("cannot read the journal: {}", crate::io_reason(&err));
                    }
                };
                for reason in follower.skipped.drain(..) {
                    eprintln!("pipetop: {}", crate::text::clean_long(&reason));
                }
                for message in messages {
                    let id = message.id;
                    match send(js, message).await {
                        Ok(ack) => in_flight.push_back((id, ack)),
                        Err(reason) => {
                            *careful_until = (*careful_until).max(sent);
                            return reason;
                        }
                    }
                    sent = id;
                }
            }
            let Some((id, ack)) = in_flight.pop_front() else {
                // Caught up: the cursor is written at most every CURSOR_EVERY, as while acks
                // come (a busy feed catches up thousands of times a second).
                if written.0 < acked && written.1.elapsed() >= CURSOR_EVERY {
                    write_cursor(cursor, acked);
                    written = (acked, Instant::now());
                }
                let idle = if written.0 < acked {
                    CURSOR_EVERY.saturating_sub(written.1.elapsed())
                } else {
                    Duration::from_secs(1)
                };
                tokio::select! {
                    () = self.gate.wake.notified() => {}
                    () = tokio::time::sleep(idle) => {}
                }
                continue;
            };
            match ack.await {
                Ok(_) => {}
                Err(err) if err.kind() == PublishErrorKind::MaxPayloadExceeded => {
                    eprintln!(
                        "pipetop: delivery {id} is larger than NATS takes and is not published"
                    );
                }
                Err(err) => {
                    *careful_until = (*careful_until).max(sent);
                    // What was still in flight may yet be acked, in order.
                    for (later, ack) in in_flight.drain(..) {
                        if ack.await.is_err() {
                            break;
                        }
                        acked = later;
                    }
                    self.gate.acked.send_replace(acked);
                    write_cursor(cursor, acked);
                    return format!(
                        "NATS at {} does not ack: {}",
                        self.link.shown(),
                        crate::text::clean_long(&err.to_string())
                    );
                }
            }
            acked = id;
            self.gate.acked.send_replace(acked);
            if written.1.elapsed() >= CURSOR_EVERY {
                write_cursor(cursor, acked);
                written = (acked, Instant::now());
            }
        }
    }
}

/// Publishes one message; the ack is to be awaited.
async fn send(
    js: &jetstream::Context,
    message: Message,
) -> Result<jetstream::context::PublishAckFuture, String> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", message.msg_id.as_str());
    js.publish_with_headers(message.subject, headers, message.payload.into())
        .await
        .map_err(|err| format!("cannot publish to NATS: {err}"))
}

/// Waits until a flush goes through on the client, so whatever it buffered while
/// disconnected has reached the server before anything is published again.
async fn settle(js: &jetstream::Context) {
    loop {
        let flushed = tokio::time::timeout(ACK_TIMEOUT, js.client().flush()).await;
        if matches!(flushed, Ok(Ok(()))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    /// How long `published(id)` held its answer, in the test's paused time.
    async fn held(gate: &Gate, id: u64) -> Duration {
        let start = Instant::now();
        gate.published(id).await;
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn after_one_answer_waits_the_whole_timeout_the_next_do_not_until_the_stream_acks_again()
    {
        let timeout = Duration::from_millis(2000);
        let gate = Gate::new(10, 0, timeout, true, Arc::new(AtomicBool::new(true)));
        gate.connected.store(true, Ordering::Relaxed);
        assert_eq!(held(&gate, 1).await, timeout, "no ack: the whole timeout");
        assert_eq!(held(&gate, 2).await, Duration::ZERO, "stalled: no wait");
        assert_eq!(held(&gate, 3).await, Duration::ZERO);
        gate.acked.send_replace(3);
        assert_eq!(held(&gate, 3).await, Duration::ZERO, "acked already");
        assert_eq!(
            held(&gate, 4).await,
            timeout,
            "acks came again: answers wait again"
        );
        let acking = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                gate.acked.send_replace(5);
            })
        };
        assert_eq!(held(&gate, 5).await, Duration::ZERO, "still stalled at 3");
        acking.await.unwrap();
        let acking = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                gate.acked.send_replace(6);
            })
        };
        assert_eq!(
            held(&gate, 6).await,
            Duration::from_millis(30),
            "waits for its ack"
        );
        acking.await.unwrap();
        // The client has lost its connection: nobody waits, and /healthz says so at once.
        gate.online.store(false, Ordering::Relaxed);
        assert_eq!(held(&gate, 7).await, Duration::ZERO);
        assert_eq!(gate.health()["connected"], false);
    }
}
