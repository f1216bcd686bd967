//! The feed read from NATS JetStream (`pipetop attach nats://…`, `pipetop wait --url
//! nats://…`): the stream every receiver publishes to, read with an ordered consumer from the
//! start of the history asked for, then followed. The ids shown are the stream's sequence
//! numbers, so every viewer of the stream shows the same id for the same delivery, whichever
//! receiver took it.
//!
//! The consumer is ephemeral and ordered: the client recreates it where a message went
//! missing, and when that fails this reader connects again after a backoff and asks for the
//! messages after the last sequence it reported, so nothing is missed or reported twice.

use super::{Event, FeedError, MAX_BACKOFF, Update, cleaned_delivery};
use crate::delivery::Ingest;
use crate::nats::{self, NatsError};
use crate::text::clean_long;
use crate::tui::attached::Link;
use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull::OrderedConfig};
use futures_util::StreamExt as _;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Reads the stream of `link` (the history received within `since`, or all of it), then
/// live, until `each` breaks or NATS refuses for good.
///
/// The client runs on a runtime of its own and hands updates over a channel, so `each` runs
/// on the caller's thread, outside any runtime, and may block as it likes.
pub(super) fn follow(
    link: &nats::Link,
    since: Option<Duration>,
    mut each: impl FnMut(Update) -> ControlFlow<()>,
) -> Result<(), FeedError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|err| {
            FeedError::Dropped(
                link.shown(),
                format!("cannot start the async runtime: {}", crate::io_reason(&err)),
            )
        })?;
    let (tx, mut updates) = mpsc::channel(UPDATES);
    let task = runtime.spawn(read(link.clone(), since, tx));
    while let Some(update) = updates.blocking_recv() {
        if each(update).is_break() {
            task.abort();
            return Ok(());
        }
    }
    runtime.block_on(task).unwrap_or(Ok(()))
}

/// Updates read ahead of the caller: enough to read on while it draws.
const UPDATES: usize = 1024;

/// Hands `update` to the caller; `Break` when it has stopped listening.
async fn emit(tx: &mpsc::Sender<Update>, update: Update) -> ControlFlow<()> {
    match tx.send(update).await {
        Ok(()) => ControlFlow::Continue(()),
        Err(_) => ControlFlow::Break(()),
    }
}

async fn read(
    link: nats::Link,
    since: Option<Duration>,
    tx: mpsc::Sender<Update>,
) -> Result<(), FeedError> {
    let mut reader = Reader {
        link: &link,
        since,
        after: 0,
        backoff: Duration::from_secs(1),
    };
    loop {
        let failure = match reader.session(&tx).await {
            Ok(Session::Stopped) => return Ok(()),
            Ok(Session::Resume) => continue,
            Err(err) => err,
        };
        if !failure.is_transient() {
            let _ = emit(&tx, Update::Link(Link::Refused(failure.to_string()))).await;
            return Err(failure);
        }
        let at = Instant::now() + reader.backoff;
        let reason = match &failure {
            FeedError::Dropped(_, reason) | FeedError::Nats(NatsError::Unreachable(_, reason)) => {
                reason.clone()
            }
            other => other.to_string(),
        };
        if emit(&tx, Update::Link(Link::Reconnecting { at, reason }))
            .await
            .is_break()
        {
            return Ok(());
        }
        tokio::time::sleep(reader.backoff).await;
        reader.backoff = (reader.backoff * 2).min(MAX_BACKOFF);
    }
}

/// How a session ended, when not with an error.
enum Session {
    /// The caller stopped listening.
    Stopped,
    /// The connection came back after it was lost: read on at once with a new consumer,
    /// rather than waiting for the old one to notice its missed heartbeats.
    Resume,
}

struct Reader<'a> {
    link: &'a nats::Link,
    since: Option<Duration>,
    /// The last stream sequence reported; 0 before the first.
    after: u64,
    backoff: Duration,
}

impl Reader<'_> {
    fn dropped(&self, what: impl std::fmt::Display) -> FeedError {
        FeedError::Dropped(
            self.link.shown(),
            clean_long(&what.to_string()).into_owned(),
        )
    }

    /// Where the consumer starts: after the last message reported, or within `since`.
    fn deliver_policy(&self) -> DeliverPolicy {
        if self.after > 0 {
            return DeliverPolicy::ByStartSequence {
                start_sequence: self.after + 1,
            };
        }
        match self
            .since
            .and_then(|since| time::Duration::try_from(since).ok())
            .and_then(|since| time::OffsetDateTime::now_utc().checked_sub(since))
        {
            Some(start_time) => DeliverPolicy::ByStartTime { start_time },
            None => DeliverPolicy::All,
        }
    }

    /// One connection, until the caller stops listening, the connection comes back after it
    /// was lost, or the connection or the consumer fails.
    async fn session(&mut self, tx: &mpsc::Sender<Update>) -> Result<Session, FeedError> {
        let (state_tx, mut states) = tokio::sync::mpsc::unbounded_channel();
        let options = self.link.options().await?.event_callback(move |event| {
            let _ = state_tx.send(event);
            async {}
        });
        let client = self.link.connect_with(options).await?;
        let js = jetstream::new(client);
        let stream = js
            .get_stream(&self.link.stream)
            .await
            .map_err(|err| self.missing_stream(&err))?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: self.link.subjects(),
                deliver_policy: self.deliver_policy(),
                ..Default::default()
            })
            .await
            .map_err(|err| self.dropped(format!("cannot read the stream: {err}")))?;
        let mut live = consumer.cached_info().num_pending == 0;
        let mut lost = false;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|err| self.dropped(format!("cannot read the stream: {err}")))?;
        if emit(tx, Update::Link(Link::Catching)).await.is_break() {
            return Ok(Session::Stopped);
        }
        if live && self.go_live(tx).await.is_break() {
            return Ok(Session::Stopped);
        }
        loop {
            tokio::select! {
                message = messages.next() => {
                    let message = match message {
                        Some(Ok(message)) => message,
                        Some(Err(err)) => return Err(self.dropped(err)),
                        None => return Err(self.dropped("the stream's consumer ended")),
                    };
                    let (sequence, pending) = match message.info() {
                        Ok(info) => (info.stream_sequence, info.pending),
                        Err(err) => return Err(self.dropped(err)),
                    };
                    if sequence <= self.after {
                        continue;
                    }
                    self.after = sequence;
                    let event = event_of(&self.link.stream, sequence, &message.payload);
                    if emit(tx, Update::Event(event)).await.is_break() {
                        return Ok(Session::Stopped);
                    }
                    if !live && pending == 0 {
                        live = true;
                        if self.go_live(tx).await.is_break() {
                            return Ok(Session::Stopped);
                        }
                    }
                }
                Some(state) = states.recv() => {
                    let link = match state {
                        async_nats::Event::Disconnected => {
                            lost = true;
                            Link::Reconnecting {
                                at: Instant::now() + Duration::from_secs(1),
                                reason: "the connection to NATS was lost".into(),
                            }
                        }
                        async_nats::Event::Connected if lost => return Ok(Session::Resume),
                        _ => continue,
                    };
                    if emit(tx, Update::Link(link)).await.is_break() {
                        return Ok(Session::Stopped);
                    }
                }
            }
        }
    }

    async fn go_live(&mut self, tx: &mpsc::Sender<Update>) -> ControlFlow<()> {
        self.backoff = Duration::from_secs(1);
        emit(tx, Update::Link(Link::Live)).await?;
        emit(tx, Update::Event(Event::Live)).await
    }

    /// The stream is not there (no receiver has created it yet: worth another try) or NATS
    /// has no JetStream, or does not answer.
    fn missing_stream(&self, err: &jetstream::context::GetStreamError) -> FeedError {
        use jetstream::context::GetStreamErrorKind;
        match err.kind() {
            GetStreamErrorKind::JetStream(inner)
                if inner.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
            {
                self.dropped(format!(
                    "it has no stream {} yet; a receiver with --nats creates it, and --nats-stream names the receivers' one",
                    self.link.stream
                ))
            }
            GetStreamErrorKind::JetStream(inner) => FeedError::Nats(NatsError::Stream(format!(
                "NATS at {} cannot give the stream {}: {}",
                self.link.shown(),
                self.link.stream,
                clean_long(&inner.to_string())
            ))),
            _ => self.dropped(format!("JetStream does not answer ({err})")),
        }
    }
}

/// What message `sequence` of the stream is: a delivery, its id the sequence, or one sentence
/// saying it is not one.
fn event_of(stream: &str, sequence: u64, payload: &[u8]) -> Event {
    let foreign = |why: String| {
        Event::Foreign(format!(
            "message {sequence} of the stream {stream} is not a pipetop delivery: {why}"
        ))
    };
    match serde_json::from_slice::<Ingest>(payload) {
        Ok(Ingest::Accepted(delivery)) => {
            let mut delivery = Arc::unwrap_or_clone(delivery);
            delivery.id = sequence;
            cleaned_delivery(Arc::new(delivery))
        }
        Ok(_) => foreign("it is another kind of pipetop line".into()),
        Err(err) => foreign(clean_long(&err.to_string()).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_that_is_not_a_delivery_is_one_sentence_and_a_delivery_takes_its_sequence() {
        let published = Ingest::Accepted(Arc::new(crate::testing::delivery(3)));
        let line = crate::headless::line(&published);
        match event_of("PIPETOP", 42, line.as_bytes()) {
            Event::Accepted(delivery) => assert_eq!(delivery.id, 42),
            other => panic!("{other:?}"),
        }
        let Event::Foreign(sentence) = event_of("PIPETOP", 7, b"\x1b[2Jhello") else {
            panic!("not foreign");
        };
        assert!(
            sentence.starts_with("message 7 of the stream PIPETOP is not a pipetop delivery: "),
            "{sentence}"
        );
        assert!(!sentence.contains('\x1b'), "{sentence}");
        let Event::Foreign(sentence) = event_of(
            "PIPETOP",
            8,
            br#"{"type":"rejected","received_at":"2026-12-02T10:00:00Z","status":401,"reason":"x"}"#,
        ) else {
            panic!("not foreign");
        };
        assert!(
            sentence.ends_with("another kind of pipetop line"),
            "{sentence}"
        );
    }
}
