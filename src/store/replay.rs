//! Putting the journal's history on the channel ahead of live traffic, while the receiver is
//! already answering.
//!
//! The writer sends live deliveries to an intermediate channel; [`feed`] first sends every
//! history entry to the real one, then forwards the live ones. So a consumer sees history, then
//! live traffic, in id order, and the sender of a live delivery gets its 2xx as soon as it is on
//! disk, even while a large journal is still loading (unless more than the intermediate
//! channel's capacity arrive meanwhile; then they wait, as with any full channel).
//!
//! Progress (bytes read of the total, entries sent, lines skipped with their reasons) is
//! published on a `watch` channel, for a progress line in the TUI or warnings on stderr.

use super::journal::{self, Batch, History};
use crate::delivery::{CHANNEL_CAPACITY, Ingest, MAX_REASONS, Progress};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// How many sent deliveries the thread keeps a reference to. Most deliveries are dropped by the
/// consumer as soon as it has applied them, and freeing memory on another thread than the one
/// that allocated it makes both threads queue on the allocator's lock: on a large journal that
/// doubled the time to load it. Holding each batch until twice the channel's capacity has been
/// sent after it makes the consumer almost always done with it by then, so it is handed back to
/// be freed by the thread that parsed it.
const KEPT: u64 = 2 * CHANNEL_CAPACITY as u64;

/// How much room on the channel the thread waits for before it sends on.
const ROOM: usize = CHANNEL_CAPACITY / 4;

/// How often progress is published, in entries: often enough for a smooth progress bar,
/// rarely enough to cost nothing.
const PROGRESS_EVERY: u64 = 16 * 1024;

/// Starts a thread that sends every entry of `history` to `out`, then forwards `live` to `out`
/// until `live` closes (the receiver has stopped) or `out` does (the watcher has gone). The
/// history is parsed on [`journal::parsers`] threads besides, and sent on in order.
pub fn feed(
    history: History,
    mut live: mpsc::Receiver<Ingest>,
    out: mpsc::Sender<Ingest>,
    progress: watch::Sender<Progress>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    // Only to wait for room on the channel; it runs nothing else.
    let waiter = tokio::runtime::Builder::new_current_thread().build()?;
    std::thread::Builder::new()
        .name("pipetop-replay".into())
        .spawn(move || {
            let total_bytes = history.total_bytes();
            progress.send_modify(|p| p.total_bytes = total_bytes);
            let mut reader = history.read(journal::parsers());
            let mut sent = 0u64;
            let mut published = 0u64;
            // Batches sent, with how many had been sent when each was.
            let mut kept: VecDeque<(Batch, u64)> = VecDeque::new();
            while let Some(batch) = reader.next_batch() {
                let mut deliveries = batch.entries.iter().filter_map(|entry| entry.as_ref().ok());
                let mut left =
                    batch.entries.len() - batch.entries.iter().filter(|e| e.is_err()).count();
                while left > 0 {
                    // Room for many at once: a consumer that is slower than the reading is
                    // woken, and wakes this thread, once per batch rather than per delivery.
                    let Ok(permits) = waiter.block_on(out.reserve_many(left.min(ROOM))) else {
                        return;
                    };
                    for (permit, delivery) in permits.zip(deliveries.by_ref()) {
                        permit.send(Ingest::Accepted(Arc::clone(delivery)));
                        sent += 1;
                        left -= 1;
                    }
                }
                for skipped in batch
                    .entries
                    .iter()
                    .filter_map(|entry| entry.as_ref().err())
                {
                    progress.send_modify(|p| {
                        p.skipped_total += 1;
                        if p.skipped.len() < MAX_REASONS {
                            p.skipped.push(skipped.to_string());
                        }
                    });
                }
                kept.push_back((batch, sent));
                while kept.front().is_some_and(|(_, at)| at + KEPT <= sent) {
                    if let Some((old, _)) = kept.pop_front() {
                        reader.give_back(old);
                    }
                }
                if sent - published >= PROGRESS_EVERY {
                    published = sent;
                    let bytes_read = reader.bytes_read();
                    progress.send_modify(|p| {
                        p.entries = sent;
                        p.bytes_read = bytes_read;
                    });
                }
            }
            for (old, _) in kept {
                reader.give_back(old);
            }
            let bytes_read = reader.bytes_read();
            drop(reader);
            progress.send_modify(|p| {
                p.entries = sent;
                p.bytes_read = bytes_read;
                p.done = true;
            });
            while let Some(ingest) = live.blocking_recv() {
                if out.blocking_send(ingest).is_err() {
                    return;
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::monitor::Monitor;
    use crate::store::journal::Journal;
    use crate::testing::{delivery, small_limits, state, varied};
    use chrono::Utc;

    #[test]
    fn history_read_back_on_many_threads_shows_what_applying_each_delivery_shows() {
        let limits = small_limits();
        let deliveries = varied(6000);
        let mut one_by_one = Monitor::new(limits.clone());
        for delivery in &deliveries {
            one_by_one.apply(&Ingest::Accepted(Arc::new(delivery.clone())));
        }

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path, u64::MAX, Utc::now()).unwrap().journal;
        let mut lines = Vec::new();
        for delivery in &deliveries {
            lines.extend(journal::line(delivery, None).unwrap());
        }
        // Several chunks, so several parsing threads take part.
        assert!(lines.len() > 2 << 20, "{}", lines.len());
        journal.append(&lines).unwrap();
        drop(journal);
        let history = Journal::open(&path, u64::MAX, Utc::now()).unwrap().history;
        let (live_tx, live_rx) = mpsc::channel(8);
        drop(live_tx);
        let (out_tx, mut out_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (progress_tx, _progress_rx) = watch::channel(Progress::default());
        let thread = feed(history, live_rx, out_tx, progress_tx).unwrap();
        let mut replayed = Monitor::new(limits);
        while let Some(ingest) = out_rx.blocking_recv() {
            replayed.apply(&ingest);
        }
        thread.join().unwrap();

        assert_eq!(
            replayed.totals().accepted + replayed.totals().repeated,
            6000
        );
        assert!(replayed.totals().duplicates > 0 && replayed.totals().stale > 0);
        assert!(
            replayed.totals().repeated > 0 && replayed.totals().dropped > 0,
            "{:?}",
            replayed.totals()
        );
        assert_eq!(state(&replayed), state(&one_by_one));
    }

    #[tokio::test]
    async fn history_comes_first_then_live_deliveries_and_progress_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path, journal::DEFAULT_MAX_SIZE, Utc::now())
            .unwrap()
            .journal;
        let mut lines = Vec::new();
        for id in 1..=3 {
            lines.extend(journal::line(&delivery(id), None).unwrap());
        }
        lines.extend(b"{\"id\":\n");
        journal.append(&lines).unwrap();
        drop(journal);
        let opened = Journal::open(&path, journal::DEFAULT_MAX_SIZE, Utc::now()).unwrap();

        let (live_tx, live_rx) = mpsc::channel(8);
        let (out_tx, mut out_rx) = mpsc::channel(8);
        let (progress_tx, mut progress_rx) = watch::channel(Progress::default());
        live_tx
            .send(Ingest::Accepted(Arc::new(delivery(4))))
            .await
            .unwrap();
        drop(live_tx);
        let thread = feed(opened.history, live_rx, out_tx, progress_tx).unwrap();
        let mut ids = Vec::new();
        while let Some(Ingest::Accepted(delivery)) = out_rx.recv().await {
            ids.push(delivery.id);
        }
        assert_eq!(ids, [1, 2, 3, 4]);
        thread.join().unwrap();
        let progress = progress_rx.borrow_and_update().clone();
        assert!(progress.done);
        assert_eq!(progress.entries, 3);
        assert_eq!(progress.bytes_read, progress.total_bytes);
        assert_eq!(progress.skipped.len(), 1);
        assert_eq!(progress.skipped_total, 1);
        assert!(progress.skipped[0].contains("line 4 is not a journal entry"));
    }
}
