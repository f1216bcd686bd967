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
//!
//! Without a journal there is nothing to wait for, so there is no thread either: each request's
//! task checks the guard, takes the next id and puts the delivery on the channel itself, under
//! one short lock. Its place on the channel is reserved before the lock is taken, so a full
//! channel makes the request wait without holding up anyone else, and channel order is still id
//! order.

use super::guard::{Fingerprint, Guard, Verdict};
use super::journal::{Journal, Recent, Unnumbered};
use crate::delivery::{Delivery, Headers, Ingest};
use crate::gitee::{Auth, Notification};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, PoisonError};
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
    pub headers: Headers,
    pub notification: Notification,
}

impl Draft {
    /// The delivery this draft becomes once it has an id.
    pub(crate) fn numbered(self, id: u64) -> Delivery {
        Delivery {
            id,
            received_at: self.received_at,
            sent_at: self.sent_at,
            auth: self.auth,
            repaired: self.repaired,
            headers: self.headers,
            notification: self.notification,
        }
    }
}

/// A delivery that was handed on, or had been before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub id: u64,
    /// A redelivery of the delivery stored as `id`: not stored or sent on again.
    pub duplicate: bool,
}

/// Why a delivery was not handed on; each message is one sentence for the sender.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandoffError {
    #[error("pipetop is shutting down and cannot take deliveries")]
    Closed,
    /// The same signature came before with another body.
    #[error("signature already used")]
    SignatureReused,
    /// Ids never wrap: once `u64::MAX` is given out, nothing more is stored.
    #[error(
        "cannot store the delivery: every delivery id up to {} is used",
        u64::MAX
    )]
    NoIdLeft,
    /// The journal could not be written; said to the sender with the 503, so it names no
    /// local path. Shared, as one failed write answers every delivery of its batch.
    #[error("cannot store the delivery: {}", crate::io_reason(.0))]
    Write(#[source] Arc<std::io::Error>),
    #[error("cannot store the delivery: {0}")]
    Encode(#[source] Arc<serde_json::Error>),
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

/// The handlers' side of the writer thread, or of the lock that stands in for it.
pub struct Handoff {
    route: Route,
    out: mpsc::Sender<Ingest>,
    counts: Arc<Counts>,
}

enum Route {
    /// To the writer thread, which stores a batch and then sends it on. Lines are serialized
    /// by [`Handoff::accept`], on the request's task. The writer decides with the guard; it is
    /// shared only so that [`Handoff::precheck`] can look at it.
    Journal {
        jobs: std_mpsc::Sender<Queued>,
        guard: Arc<Mutex<Guard>>,
    },
    /// Numbered and sent on by the request's task.
    Direct(Mutex<Numbering>),
}

/// What numbering a delivery needs when nothing is stored.
struct Numbering {
    /// `None` once every id is used.
    next_id: Option<u64>,
    guard: Guard,
}

#[derive(Default)]
struct Counts {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    last_id: AtomicU64,
}

/// Finishes when the writer thread, if there is one, has written its last batch and let go of
/// the channel.
pub struct Stopped(Option<std::thread::JoinHandle<()>>);

impl Stopped {
    /// Blocks until the writer is done; it is done once every [`Handoff`] is dropped.
    pub fn wait(self) {
        if let Some(thread) = self.0 {
            let _ = thread.join();
        }
    }
}

struct Queued {
    draft: Draft,
    fingerprint: Option<Fingerprint>,
    /// The journal line, serialized on the request's task.
    line: Unnumbered,
    reply: oneshot::Sender<Result<Accepted, HandoffError>>,
}

impl Handoff {
    /// Without a journal, from id `first_id`, for tests and `--no-journal`.
    pub fn new(out: mpsc::Sender<Ingest>, first_id: u64) -> Handoff {
        let guard = Guard::new(Duration::from_secs(300));
        Handoff::direct(out, first_id, guard, Arc::new(Counts::default()))
    }

    fn direct(
        out: mpsc::Sender<Ingest>,
        first_id: u64,
        guard: Guard,
        counts: Arc<Counts>,
    ) -> Handoff {
        counts
            .last_id
            .store(first_id.saturating_sub(1), Ordering::Relaxed);
        let numbering = Numbering {
            next_id: Some(first_id),
            guard,
        };
        Handoff {
            route: Route::Direct(Mutex::new(numbering)),
            out,
            counts,
        }
    }

    /// Starts the writer thread when there is a journal; fails only if the thread cannot start.
    pub fn start(setup: Setup) -> std::io::Result<(Handoff, Stopped)> {
        let counts = Arc::new(Counts::default());
        counts
            .last_id
            .store(setup.first_id.saturating_sub(1), Ordering::Relaxed);
        let mut guard = Guard::new(setup.window);
        for recent in &setup.recent {
            guard.record(recent.fingerprint, recent.id, recent.received_at);
        }
        let Some(journal) = setup.journal else {
            let handoff = Handoff::direct(setup.out, setup.first_id, guard, counts);
            return Ok((handoff, Stopped(None)));
        };
        let (jobs, queue) = std_mpsc::channel();
        let guard = Arc::new(Mutex::new(guard));
        let writer = Writer {
            out: setup.out.clone(),
            journal,
            next_id: Some(setup.first_id),
            guard: Arc::clone(&guard),
            counts: Arc::clone(&counts),
        };
        let thread = std::thread::Builder::new()
            .name("pipetop-journal".into())
            .spawn(move || writer.run(queue))?;
        let handoff = Handoff {
            route: Route::Journal { jobs, guard },
            out: setup.out,
            counts,
        };
        Ok((handoff, Stopped(Some(thread))))
    }

    /// Refuses a request whose signature was already used with another body, before anything
    /// is spent on its body. Only a look: [`Handoff::accept`] still decides, so a request let
    /// through here can be refused there, never the other way round.
    pub fn precheck(&self, fingerprint: Option<&Fingerprint>) -> Result<(), HandoffError> {
        let Some(fingerprint) = fingerprint.filter(|f| f.pair.is_some()) else {
            return Ok(());
        };
        let now = Utc::now();
        let verdict = match &self.route {
            Route::Journal { guard, .. } => guard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .peek(fingerprint, now),
            Route::Direct(numbering) => numbering
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .guard
                .peek(fingerprint, now),
        };
        match verdict {
            Verdict::Replayed => Err(HandoffError::SignatureReused),
            Verdict::New | Verdict::Duplicate(_) => Ok(()),
        }
    }

    /// Stores and hands on the delivery, and returns its id once both are done; waits while
    /// the channel is full rather than dropping anything. `fingerprint` (see
    /// [`Fingerprint::of`]) lets a redelivery be recognised.
    pub async fn accept(
        &self,
        draft: Draft,
        fingerprint: Option<Fingerprint>,
    ) -> Result<Accepted, HandoffError> {
        let jobs = match &self.route {
            Route::Journal { jobs, .. } => jobs,
            Route::Direct(numbering) => return self.send(numbering, draft, fingerprint).await,
        };
        let line = Unnumbered::new(
            &draft.received_at,
            draft.sent_at.as_ref(),
            draft.auth,
            draft.repaired,
            &draft.headers,
            &draft.notification,
            fingerprint.as_ref(),
        )
        .map_err(|err| HandoffError::Encode(Arc::new(err)))?;
        let (reply, answer) = oneshot::channel();
        jobs.send(Queued {
            draft,
            fingerprint,
            line,
            reply,
        })
        .map_err(|_| HandoffError::Closed)?;
        answer.await.map_err(|_| HandoffError::Closed)?
    }

    /// Without a journal: numbers the delivery and puts it on the channel, on this task.
    async fn send(
        &self,
        numbering: &Mutex<Numbering>,
        draft: Draft,
        fingerprint: Option<Fingerprint>,
    ) -> Result<Accepted, HandoffError> {
        // The channel is the only keeper: with no one listening there is nowhere to put a
        // delivery, and its id must not be used up.
        let permit = self.out.reserve().await.map_err(|_| HandoffError::Closed)?;
        let now = Utc::now();
        let mut delivery = draft.numbered(0);
        let mut numbering = numbering.lock().unwrap_or_else(PoisonError::into_inner);
        let verdict = match &fingerprint {
            Some(fingerprint) => numbering.guard.check(fingerprint, now),
            None => Verdict::New,
        };
        match verdict {
            Verdict::Duplicate(id) => {
                self.counts.duplicates.fetch_add(1, Ordering::Relaxed);
                Ok(Accepted {
                    id,
                    duplicate: true,
                })
            }
            Verdict::Replayed => Err(HandoffError::SignatureReused),
            Verdict::New => {
                let Some(id) = numbering.next_id else {
                    return Err(HandoffError::NoIdLeft);
                };
                delivery.id = id;
                numbering.next_id = id.checked_add(1);
                if let Some(fingerprint) = fingerprint {
                    numbering.guard.record(fingerprint, delivery.id, now);
                }
                let id = delivery.id;
                // Sent while the lock is held, so the channel sees ids in order.
                permit.send(Ingest::Accepted(Arc::new(delivery)));
                self.counts.last_id.store(id, Ordering::Relaxed);
                self.counts.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(Accepted {
                    id,
                    duplicate: false,
                })
            }
        }
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

struct Writer {
    out: mpsc::Sender<Ingest>,
    journal: Journal,
    /// `None` once every id is used.
    next_id: Option<u64>,
    guard: Arc<Mutex<Guard>>,
    counts: Arc<Counts>,
}

/// What becomes of one queued delivery in a batch.
enum Filing {
    Stored(Box<Delivery>),
    Duplicate(u64),
    Refused(HandoffError),
}

impl Writer {
    fn run(mut self, queue: std_mpsc::Receiver<Queued>) {
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    fn commit(&mut self, batch: Vec<Queued>) {
        let now = Utc::now();
        let mut next_id = self.next_id;
        let mut lines = Vec::new();
        let mut recorded = Vec::new();
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            replies.push(job.reply);
            // Held for one job at a time, and never while writing, so a precheck never waits
            // for the disk.
            let mut guard = self.guard.lock().unwrap_or_else(PoisonError::into_inner);
            let verdict = match &job.fingerprint {
                Some(fingerprint) => guard.check(fingerprint, now),
                None => Verdict::New,
            };
            if verdict == Verdict::New
                && let (Some(fingerprint), Some(id)) = (job.fingerprint, next_id)
            {
                guard.record(fingerprint, id, now);
                recorded.push(fingerprint);
            }
            drop(guard);
            let outcome = match verdict {
                Verdict::Duplicate(id) => Filing::Duplicate(id),
                Verdict::Replayed => Filing::Refused(HandoffError::SignatureReused),
                Verdict::New => match next_id {
                    None => Filing::Refused(HandoffError::NoIdLeft),
                    Some(id) => {
                        let delivery = job.draft.numbered(id);
                        job.line.write_numbered(id, &mut lines);
                        next_id = id.checked_add(1);
                        Filing::Stored(Box::new(delivery))
                    }
                },
            };
            outcomes.push(outcome);
        }

        let written = if lines.is_empty() {
            Ok(())
        } else {
            self.journal.append(&lines)
        };
        if let Err(err) = written {
            let err = HandoffError::Write(Arc::new(err));
            let mut guard = self.guard.lock().unwrap_or_else(PoisonError::into_inner);
            for fingerprint in &recorded {
                guard.forget(fingerprint, now);
            }
            drop(guard);
            let first_of_batch = self.next_id.unwrap_or(u64::MAX);
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let answer = match outcome {
                    Filing::Stored(_) => Err(err.clone()),
                    // A redelivery of something in this very batch shares its fate.
                    Filing::Duplicate(id) if id >= first_of_batch => Err(err.clone()),
                    Filing::Duplicate(id) => Ok(Accepted {
                        id,
                        duplicate: true,
                    }),
                    Filing::Refused(err) => Err(err),
                };
                let _ = reply.send(answer);
            }
            return;
        }
        self.next_id = next_id;
        let last_id = next_id.map_or(u64::MAX, |id| id.saturating_sub(1));
        self.counts.last_id.store(last_id, Ordering::Relaxed);

        let mut answers = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            answers.push(match outcome {
                Filing::Stored(delivery) => {
                    let id = delivery.id;
                    // Stored is what counts; a watcher that has gone away will see it in the
                    // journal next time.
                    let _ = self
                        .out
                        .blocking_send(Ingest::Accepted(Arc::new(*delivery)));
                    self.counts.accepted.fetch_add(1, Ordering::Relaxed);
                    Ok(Accepted {
                        id,
                        duplicate: false,
                    })
                }
                Filing::Duplicate(id) => {
                    self.counts.duplicates.fetch_add(1, Ordering::Relaxed);
                    Ok(Accepted {
                        id,
                        duplicate: true,
                    })
                }
                Filing::Refused(err) => Err(err),
            });
        }
        for (reply, answer) in replies.into_iter().zip(answers) {
            let _ = reply.send(answer);
        }
    }
}

#[cfg(test)]
mod tests;
