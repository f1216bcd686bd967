//! The one step where an accepted delivery becomes the receiver's responsibility.
//!
//! Request handlers send their drafts to a single writer thread, which takes whatever has
//! queued up as one batch (group commit): it checks each against the duplicate guard, gives the
//! new ones consecutive ids, appends them to the journal with one `fdatasync`, puts them on the
//! channel in id order, and only then answers every waiter in the batch. So a 2xx always means
//! "on disk and on the channel", many concurrent deliveries share one sync, ids have no gaps
//! (a failed batch gives its ids back), and a redelivery that arrives in the same batch as its
//! original shares its fate.
//!
//! A thread rather than a task, because `fdatasync` blocks for as long as the disk takes.

use super::guard::{Fingerprint, Guard, Verdict};
use super::journal::{Journal, JournalError, Recent, Unnumbered};
use super::{Delivery, Ingest};
use crate::gitee::{Auth, Notification};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The most drafts written as one batch; enough that a burst shares few syncs, few enough that
/// the first waiter in a batch is not kept long.
const MAX_BATCH: usize = 1024;

/// An accepted delivery before it has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub received_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub auth: Auth,
    pub repaired: bool,
    pub notification: Notification,
}

/// A delivery that was handed on, or had been before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub id: u64,
    /// A redelivery of the delivery stored as `id`: not stored or sent on again.
    pub duplicate: bool,
}

/// Why a delivery was not handed on; each message is one sentence for the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    #[error("pipetop is shutting down and cannot take deliveries")]
    Closed,
    /// The same signature came before with another body.
    #[error("signature already used")]
    SignatureReused,
    #[error("{0}")]
    Store(String),
}

/// How the writer is set up.
pub struct Setup {
    /// Where deliveries go once stored.
    pub out: mpsc::Sender<Ingest>,
    /// `None` keeps nothing on disk.
    pub journal: Option<Journal>,
    /// The id the next stored delivery gets.
    pub first_id: u64,
    /// The signature tolerance: how long a fingerprint must be remembered.
    pub window: Duration,
    /// Fingerprints stored before this start, so a redelivery across a restart is caught.
    pub recent: Vec<Recent>,
}

/// The handlers' side of the writer thread.
pub struct Handoff {
    jobs: std_mpsc::Sender<Event>,
    /// Lines are serialized by [`Handoff::accept`], on the request's task.
    journaled: bool,
    out: mpsc::Sender<Ingest>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    last_id: AtomicU64,
}

/// Finishes when the writer thread has written its last batch and let go of the channel.
pub struct Stopped(std::thread::JoinHandle<()>);

impl Stopped {
    /// Blocks until the writer is done; it is done once every [`Handoff`] is dropped.
    pub fn wait(self) {
        let _ = self.0.join();
    }
}

struct Job {
    draft: Draft,
    fingerprint: Option<Fingerprint>,
    /// The journal line, when there is a journal.
    line: Option<Unnumbered>,
    reply: Reply,
}

type Reply = oneshot::Sender<Result<Accepted, HandoffError>>;

/// What the writer thread waits for.
enum Event {
    /// Boxed: a job is large, and the channel moves it twice.
    Job(Box<Job>),
    /// The syncer finished a sync of everything written up to `upto`.
    Synced { upto: u64, result: io::Result<()> },
    /// The [`Handoff`] is gone: finish what is pending and stop.
    Closed,
}

impl Handoff {
    /// Without a journal, from id `first_id`, for tests and `--no-journal`.
    pub fn new(out: mpsc::Sender<Ingest>, first_id: u64) -> Handoff {
        Handoff::start(Setup {
            out,
            journal: None,
            first_id,
            window: Duration::from_secs(300),
            recent: Vec::new(),
        })
        .0
    }

    /// Starts the writer thread.
    pub fn start(setup: Setup) -> (Handoff, Stopped) {
        let (jobs, queue) = std_mpsc::channel();
        let synced = jobs.clone();
        let counts = Arc::new(Counts::default());
        counts
            .last_id
            .store(setup.first_id.saturating_sub(1), Ordering::Relaxed);
        let mut guard = Guard::new(setup.window);
        for recent in &setup.recent {
            guard.record(recent.fingerprint, recent.id, recent.received_at);
        }
        let journaled = setup.journal.is_some();
        let writer = Writer {
            out: setup.out.clone(),
            journal: setup.journal,
            next_id: setup.first_id,
            guard,
            counts: Arc::clone(&counts),
            pending: VecDeque::new(),
            requested: 0,
            closing: false,
        };
        let thread = std::thread::Builder::new()
            .name("pipetop-journal".into())
            .spawn(move || writer.run(queue, synced))
            .unwrap_or_else(|err| panic!("cannot start the journal writer thread: {err}"));
        let handoff = Handoff {
            jobs,
            journaled,
            out: setup.out,
            counts,
        };
        (handoff, Stopped(thread))
    }

    /// Stores and hands on the delivery, and returns its id once both are done; waits while
    /// the channel is full rather than dropping anything. `fingerprint` (see
    /// [`Fingerprint::of`]) lets a redelivery be recognised.
    pub async fn accept(
        &self,
        draft: Draft,
        fingerprint: Option<Fingerprint>,
    ) -> Result<Accepted, HandoffError> {
        let line = if self.journaled {
            let line = Unnumbered::new(
                &draft.received_at,
                draft.sent_at.as_ref(),
                draft.auth,
                draft.repaired,
                &draft.notification,
                fingerprint.as_ref(),
            )
            .map_err(|err| HandoffError::Store(format!("cannot store the delivery: {err}")))?;
            Some(line)
        } else {
            None
        };
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Event::Job(Box::new(Job {
                draft,
                fingerprint,
                line,
                reply,
            })))
            .map_err(|_| HandoffError::Closed)?;
        answer.await.map_err(|_| HandoffError::Closed)?
    }

    /// Where refusals go, so they reach the same watcher in the same order.
    pub fn sender(&self) -> &mpsc::Sender<Ingest> {
        &self.out
    }

    /// How many deliveries were stored since the start.
    pub fn accepted(&self) -> u64 {
        self.counts.accepted.load(Ordering::Relaxed)
    }

    /// How many redeliveries were answered as duplicates since the start.
    pub fn duplicates(&self) -> u64 {
        self.counts.duplicates.load(Ordering::Relaxed)
    }

    /// The highest id stored, including before this start; 0 when there is none.
    pub fn last_id(&self) -> u64 {
        self.counts.last_id.load(Ordering::Relaxed)
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        // The syncer holds a sender too, so the queue never disconnects by itself.
        let _ = self.jobs.send(Event::Closed);
    }
}

/// Assigns ids, writes batches and puts them on the channel once synced.
///
/// Syncing is pipelined: while the syncer thread waits for the disk on what has been written,
/// the writer goes on checking, numbering and writing the deliveries that came meanwhile, and
/// the syncer's next sync, started as soon as the last one ends, covers all of those at once. A batch is answered and sent on only once a sync
/// that started after it was written has succeeded, and batches complete in the order they
/// were written, so ids still reach the channel in order.
struct Writer {
    out: mpsc::Sender<Ingest>,
    journal: Option<Journal>,
    /// The id the next new delivery gets; ahead of what is stored while batches are pending.
    next_id: u64,
    guard: Guard,
    counts: Arc<Counts>,
    /// Written but not yet known to be on disk, oldest first.
    pending: VecDeque<Batch>,
    /// The journal position the syncer was last asked to reach.
    requested: u64,
    closing: bool,
}

/// A batch of jobs, numbered and written, waiting for its sync.
struct Batch {
    /// The journal position a sync must reach to cover this batch.
    end: u64,
    /// The first id this batch gave out (if it stored anything).
    first_id: u64,
    /// The id after the last one it gave out.
    next_id: u64,
    seen: DateTime<Utc>,
    recorded: Vec<Fingerprint>,
    outcomes: Vec<Outcome>,
    replies: Vec<Reply>,
}

/// What becomes of one job in a batch.
enum Outcome {
    Stored(Box<Delivery>),
    Duplicate(u64),
    Refused(HandoffError),
}

impl Writer {
    fn run(mut self, queue: std_mpsc::Receiver<Event>, synced: std_mpsc::Sender<Event>) {
        std::thread::scope(|scope| {
            let (sync_requests, sync_queue) = std_mpsc::channel::<(Arc<File>, u64)>();
            if self.journal.is_some() {
                std::thread::Builder::new()
                    .name("pipetop-sync".into())
                    .spawn_scoped(scope, move || {
                        while let Ok(mut request) = sync_queue.recv() {
                            // What was written while the last sync ran is covered by one
                            // sync, started now: the newest request names the most.
                            while let Ok(newer) = sync_queue.try_recv() {
                                request = newer;
                            }
                            let (file, upto) = request;
                            let result = file.sync_data();
                            if synced.send(Event::Synced { upto, result }).is_err() {
                                break;
                            }
                        }
                    })
                    .unwrap_or_else(|err| panic!("cannot start the journal sync thread: {err}"));
            }
            while !(self.closing && self.pending.is_empty()) {
                let Ok(first) = queue.recv() else { break };
                let mut batch = Vec::new();
                let mut next = Some(first);
                while let Some(event) = next {
                    match event {
                        Event::Job(job) => batch.push(*job),
                        Event::Synced { upto, result } => self.synced(upto, result),
                        Event::Closed => self.closing = true,
                    }
                    next = if batch.len() < MAX_BATCH {
                        queue.try_recv().ok()
                    } else {
                        None
                    };
                }
                if !batch.is_empty() {
                    if self.must_settle(&batch) {
                        self.settle(&queue, &sync_requests, &mut batch);
                    }
                    self.commit(batch);
                }
                self.start_sync(&sync_requests);
            }
            // Dropping `sync_requests` here stops the syncer; the scope waits for it.
        });
    }

    /// Whether writing `batch` could rotate the journal while lines are still unsynced.
    fn must_settle(&self, batch: &[Job]) -> bool {
        let Some(journal) = &self.journal else {
            return false;
        };
        // A bound on the batch's size: each line, plus its id and the braces around it.
        let most: usize = batch
            .iter()
            .map(|job| job.line.as_ref().map_or(0, |line| line.byte_len() + 32))
            .sum();
        journal.unsynced() && journal.would_rotate(most as u64)
    }

    /// Syncs everything written so far and waits for it, keeping the jobs that arrive
    /// meanwhile.
    fn settle(
        &mut self,
        queue: &std_mpsc::Receiver<Event>,
        requests: &std_mpsc::Sender<(Arc<File>, u64)>,
        batch: &mut Vec<Job>,
    ) {
        while self.journal.as_ref().is_some_and(Journal::unsynced) {
            if !self.start_sync(requests) {
                return;
            }
            match queue.recv() {
                Ok(Event::Job(job)) => batch.push(*job),
                Ok(Event::Synced { upto, result }) => self.synced(upto, result),
                Ok(Event::Closed) => self.closing = true,
                Err(_) => return,
            }
        }
    }

    /// Asks for a sync of everything written so far, unless it was asked for already, and
    /// answers batches that wait for nothing. Returns whether a sync is to come.
    fn start_sync(&mut self, requests: &std_mpsc::Sender<(Arc<File>, u64)>) -> bool {
        let Some(journal) = &self.journal else {
            return false;
        };
        if !journal.unsynced() {
            // Only batches without lines wait, behind nothing: they are done.
            self.complete_through(journal.written());
            return false;
        }
        let upto = journal.written();
        if upto <= self.requested {
            return true;
        }
        if requests.send((journal.sync_handle(), upto)).is_ok() {
            self.requested = upto;
            true
        } else {
            let lost = io::Error::other("the journal sync thread stopped");
            self.synced(upto, Err(lost));
            false
        }
    }

    fn commit(&mut self, jobs: Vec<Job>) {
        let now = Utc::now();
        // Without a journal the channel is the only keeper: with no one listening there is
        // nowhere to put a delivery, and its id must not be used up.
        if self.journal.is_none() && self.out.is_closed() {
            for job in jobs {
                let _ = job.reply.send(Err(HandoffError::Closed));
            }
            return;
        }
        let first_id = self.next_id;
        let mut next_id = first_id;
        let mut lines = Vec::new();
        let mut recorded = Vec::new();
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            replies.push(job.reply);
            let verdict = match &job.fingerprint {
                Some(fingerprint) => self.guard.check(fingerprint, now),
                None => Verdict::New,
            };
            let outcome = match verdict {
                Verdict::Duplicate(id) => Outcome::Duplicate(id),
                Verdict::Replayed => Outcome::Refused(HandoffError::SignatureReused),
                Verdict::New => {
                    let draft = job.draft;
                    let delivery = Delivery {
                        id: next_id,
                        received_at: draft.received_at,
                        sent_at: draft.sent_at,
                        auth: draft.auth,
                        repaired: draft.repaired,
                        notification: draft.notification,
                    };
                    if let Some(line) = &job.line {
                        line.write_numbered(next_id, &mut lines);
                    }
                    if let Some(fingerprint) = job.fingerprint {
                        self.guard.record(fingerprint, next_id, now);
                        recorded.push(fingerprint);
                    }
                    next_id += 1;
                    Outcome::Stored(Box::new(delivery))
                }
            };
            outcomes.push(outcome);
        }
        let batch = Batch {
            end: 0,
            first_id,
            next_id,
            seen: now,
            recorded,
            outcomes,
            replies,
        };

        let end = match &mut self.journal {
            Some(journal) if !lines.is_empty() => journal.write(&lines),
            Some(journal) => Ok(journal.written()),
            None => Ok(0),
        };
        match end {
            Ok(end) => {
                self.next_id = next_id;
                self.pending.push_back(Batch { end, ..batch });
                if self.journal.is_none() {
                    self.complete_through(0);
                }
            }
            // Only this batch is lost: the ones before it are whole in the file.
            Err(err) => self.fail(vec![batch], &err),
        }
    }

    /// Handles the syncer's answer for everything written up to `upto`.
    fn synced(&mut self, upto: u64, result: io::Result<()>) {
        if let Some(journal) = &mut self.journal {
            journal.sync_done(upto, &result);
        }
        match result {
            Ok(()) => self.complete_through(upto),
            Err(err) => {
                // The journal cut off everything unsynced, so every pending batch is lost.
                let lost = std::mem::take(&mut self.pending).into();
                self.fail(lost, &JournalError::Write(crate::io_reason(&err)));
            }
        }
    }

    /// Answers, in order, the batches a journal position `upto` covers, sending their new
    /// deliveries on.
    fn complete_through(&mut self, upto: u64) {
        while self.pending.front().is_some_and(|batch| batch.end <= upto) {
            let Some(batch) = self.pending.pop_front() else {
                break;
            };
            self.complete(batch);
        }
    }

    fn complete(&mut self, batch: Batch) {
        self.counts
            .last_id
            .store(batch.next_id.saturating_sub(1), Ordering::Relaxed);
        for (reply, outcome) in batch.replies.into_iter().zip(batch.outcomes) {
            let answer = match outcome {
                Outcome::Stored(delivery) => {
                    let id = delivery.id;
                    // Stored is what counts; a watcher that has gone away will see it in the
                    // journal next time.
                    let sent = self
                        .out
                        .blocking_send(Ingest::Accepted(Arc::new(*delivery)))
                        .is_ok();
                    if sent || self.journal.is_some() {
                        self.counts.accepted.fetch_add(1, Ordering::Relaxed);
                        Ok(Accepted {
                            id,
                            duplicate: false,
                        })
                    } else {
                        Err(HandoffError::Closed)
                    }
                }
                Outcome::Duplicate(id) => {
                    self.counts.duplicates.fetch_add(1, Ordering::Relaxed);
                    Ok(Accepted {
                        id,
                        duplicate: true,
                    })
                }
                Outcome::Refused(err) => Err(err),
            };
            let _ = reply.send(answer);
        }
    }

    /// Answers lost batches (the newest ones, in order) with the reason, gives their ids back
    /// and forgets their fingerprints, so the senders' retries are new deliveries.
    fn fail(&mut self, lost: Vec<Batch>, err: &JournalError) {
        let reason = match err {
            JournalError::Write(_) => err.to_string(),
            other => format!("cannot store the delivery: {other}"),
        };
        let Some(first_lost) = lost.first().map(|batch| batch.first_id) else {
            return;
        };
        self.next_id = first_lost;
        // Ids from here on are lost or not yet known to be on disk.
        let unsure = self
            .pending
            .front()
            .map_or(first_lost, |batch| batch.first_id.min(first_lost));
        for batch in lost {
            for fingerprint in &batch.recorded {
                self.guard.forget(fingerprint, batch.seen);
            }
            for (reply, outcome) in batch.replies.into_iter().zip(batch.outcomes) {
                let answer = match outcome {
                    Outcome::Stored(_) => Err(HandoffError::Store(reason.clone())),
                    // A redelivery of something lost, or not yet stored for sure, is not
                    // answered as stored.
                    Outcome::Duplicate(id) if id >= unsure => {
                        Err(HandoffError::Store(reason.clone()))
                    }
                    Outcome::Duplicate(id) => Ok(Accepted {
                        id,
                        duplicate: true,
                    }),
                    Outcome::Refused(err) => Err(err),
                };
                let _ = reply.send(answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::journal;

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

    fn ok(id: u64) -> Result<Accepted, HandoffError> {
        Ok(Accepted {
            id,
            duplicate: false,
        })
    }

    #[tokio::test]
    async fn ids_resume_from_the_given_value_in_channel_order() {
        let (tx, mut rx) = mpsc::channel(8);
        let handoff = Handoff::new(tx, 41);
        assert_eq!(handoff.accept(draft(), None).await, ok(41));
        assert_eq!(handoff.accept(draft(), None).await, ok(42));
        assert_eq!(id_of(rx.recv().await), 41);
        assert_eq!(id_of(rx.recv().await), 42);
        assert_eq!(handoff.accepted(), 2);
        assert_eq!(handoff.last_id(), 42);
    }

    #[tokio::test]
    async fn a_full_channel_makes_the_delivery_wait_instead_of_dropping_it() {
        let (tx, mut rx) = mpsc::channel(1);
        let handoff = Arc::new(Handoff::new(tx, 1));
        assert_eq!(handoff.accept(draft(), None).await, ok(1));
        let waiting = tokio::spawn({
            let handoff = Arc::clone(&handoff);
            async move { handoff.accept(draft(), None).await }
        });
        let early = tokio::time::timeout(Duration::from_millis(100), async {
            while handoff.accepted() < 2 {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(early.is_err(), "the second delivery did not wait");
        assert_eq!(id_of(rx.recv().await), 1);
        assert_eq!(waiting.await.unwrap(), ok(2));
        assert_eq!(id_of(rx.recv().await), 2);
    }

    #[tokio::test]
    async fn a_closed_channel_is_reported_and_the_id_is_not_used_up() {
        let (tx, rx) = mpsc::channel(1);
        let handoff = Handoff::new(tx, 1);
        drop(rx);
        assert_eq!(
            handoff.accept(draft(), None).await,
            Err(HandoffError::Closed)
        );
        assert_eq!(handoff.last_id(), 0);
        assert_eq!(handoff.accepted(), 0);
    }

    #[tokio::test]
    async fn redeliveries_are_answered_with_the_first_id_and_sent_on_once() {
        let (tx, mut rx) = mpsc::channel(8);
        let handoff = Handoff::new(tx, 1);
        let fp = |body: &[u8]| Fingerprint::of(Some("1"), Some("sig"), body, true);
        assert_eq!(handoff.accept(draft(), fp(b"a")).await, ok(1));
        assert_eq!(
            handoff.accept(draft(), fp(b"a")).await,
            Ok(Accepted {
                id: 1,
                duplicate: true
            })
        );
        assert_eq!(
            handoff.accept(draft(), fp(b"b")).await,
            Err(HandoffError::SignatureReused)
        );
        assert_eq!(handoff.accept(draft(), None).await, ok(2));
        assert_eq!(id_of(rx.recv().await), 1);
        assert_eq!(id_of(rx.recv().await), 2);
        assert_eq!(handoff.duplicates(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_deliveries_keep_gapless_ids_in_journal_and_channel_order_across_rotations()
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let one = journal::line(
            &Delivery {
                id: 1000,
                received_at: Utc::now(),
                sent_at: None,
                auth: Auth::None,
                repaired: false,
                notification: Notification::default(),
            },
            None,
        )
        .unwrap()
        .len() as u64;
        // Room for a few lines only: the journal rotates again and again while syncs run.
        let opened = Journal::open(&path, one * 5, Utc::now()).unwrap();
        let (tx, mut rx) = mpsc::channel(1024);
        let (handoff, stopped) = Handoff::start(Setup {
            out: tx,
            journal: Some(opened.journal),
            first_id: 1,
            window: Duration::from_secs(300),
            recent: Vec::new(),
        });
        let handoff = Arc::new(handoff);
        let senders: Vec<_> = (0..16)
            .map(|_| {
                let handoff = Arc::clone(&handoff);
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for _ in 0..50 {
                        ids.push(handoff.accept(draft(), None).await.unwrap().id);
                    }
                    ids
                })
            })
            .collect();
        let mut answered = Vec::new();
        for sender in senders {
            answered.extend(sender.await.unwrap());
        }
        answered.sort_unstable();
        assert_eq!(answered, (1..=800).collect::<Vec<_>>());
        for id in 1..=800 {
            assert_eq!(id_of(rx.recv().await), id);
        }
        drop(handoff);
        tokio::task::spawn_blocking(move || stopped.wait())
            .await
            .unwrap();
        let opened = Journal::open(&path, one * 5, Utc::now()).unwrap();
        assert_eq!(opened.last_id, 800);
        let stored: Vec<u64> = opened
            .history
            .entries()
            .map(|entry| entry.unwrap().id)
            .collect();
        let first = stored[0];
        assert_eq!(stored, (first..=800).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_failed_write_answers_with_the_reason_and_gives_the_id_back() {
        let (tx, mut rx) = mpsc::channel(8);
        let opened = Journal::open(std::path::Path::new("/dev/full"), 1024, Utc::now()).unwrap();
        let (handoff, stopped) = Handoff::start(Setup {
            out: tx,
            journal: Some(opened.journal),
            first_id: 5,
            window: Duration::from_secs(300),
            recent: Vec::new(),
        });
        let fingerprint = Fingerprint::of(Some("1"), Some("sig"), b"a", true);
        let failed = handoff.accept(draft(), fingerprint).await;
        assert_eq!(
            failed,
            Err(HandoffError::Store(
                "cannot store the delivery: no space left on device".into()
            ))
        );
        // Not remembered either: the sender's retry is a new delivery, not a duplicate.
        let retried = handoff.accept(draft(), fingerprint).await;
        assert!(
            matches!(retried, Err(HandoffError::Store(_))),
            "{retried:?}"
        );
        assert_eq!(handoff.last_id(), 4);
        drop(handoff);
        stopped.wait();
        assert!(rx.recv().await.is_none());
    }
}
