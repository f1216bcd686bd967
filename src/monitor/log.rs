//! The event log: a bounded ring of every delivery, accepted or rejected, oldest first.
//!
//! Every entry of an accepted delivery is keyed by that delivery's id, never by what it says,
//! so two deliveries that read the same are two entries.

use super::filter::{Matcher, StatusFilter};
use super::model::{Checkout, Fate, PipelineKey};
use crate::gitee::Status;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

/// One line of the event log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    /// Increases by one per entry, so the TUI can keep its scroll anchored while entries arrive
    /// and old ones fall off the front.
    pub seq: u64,
    /// When the request arrived (this machine's clock).
    pub at: DateTime<Utc>,
    pub event: LogEvent,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LogEvent {
    Accepted(AcceptedEntry),
    Rejected(RejectedEntry),
    /// Accepted, but not a job's status, so no pipeline was touched.
    Noted(NotedEntry),
    /// What became of a forward or a hook for an earlier entry's delivery.
    Outcome(crate::delivery::Outcome),
}

impl LogEvent {
    /// The accepted delivery this entry shows, if it shows one.
    fn delivery_id(&self) -> Option<u64> {
        match self {
            LogEvent::Accepted(entry) => Some(entry.delivery_id),
            LogEvent::Noted(entry) => Some(entry.delivery_id),
            LogEvent::Rejected(_) | LogEvent::Outcome(_) => None,
        }
    }
}

/// An accepted delivery, as it read and what it did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptedEntry {
    pub delivery_id: u64,
    pub pipeline: PipelineKey,
    pub pipeline_name: Option<Arc<str>>,
    pub stage: Option<Arc<str>>,
    pub job: Option<Arc<str>>,
    pub build: Option<u64>,
    pub status: Status,
    /// The `statusCode` as sent.
    pub code: Option<Arc<str>>,
    pub status_name: Option<Arc<str>>,
    /// Written as `effect`, its name before, so a saved monitor reads the same as it did.
    #[serde(rename = "effect")]
    pub fate: Fate,
    /// The event's repositories, branches and commits, shared with its run where they are the
    /// same, so search reaches them without a copy per entry or keeping the delivery alive.
    pub checkouts: Arc<[Checkout]>,
}

impl AcceptedEntry {
    /// `pipeline › stage › job`, with missing parts shown as `?`.
    pub fn path(&self) -> String {
        let pipeline = match &self.pipeline_name {
            Some(name) => name.to_string(),
            None => self.pipeline.to_string(),
        };
        format!(
            "{pipeline} › {} › {}",
            self.stage.as_deref().unwrap_or("?"),
            self.job.as_deref().unwrap_or("?")
        )
    }
}

/// An accepted delivery that changes no pipeline: a test delivery, or a body that is not a
/// Gitee Go job notification (a repository hook's, the sister product's, `{}`). Its headers are
/// what tells the user what it was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotedEntry {
    pub delivery_id: u64,
    pub kind: Noted,
    /// `X-Gitee-Event`, cleaned and bounded.
    pub gitee_event: Option<Box<str>>,
    /// `X-Request-ID`, cleaned and bounded.
    pub request_id: Option<Box<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Noted {
    /// `X-Gitee-Ping: true`, whatever the body says.
    Ping,
    /// Its `job` object is missing or empty.
    NotAJob,
}

impl Noted {
    /// What the log says of it.
    pub fn describe(self) -> &'static str {
        match self {
            Noted::Ping => "test delivery (X-Gitee-Ping)",
            Noted::NotAJob => "not a Gitee Go job notification",
        }
    }
}

/// A refused request: the HTTP status it was answered with, why, and who sent it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectedEntry {
    pub status: u16,
    pub reason: Box<str>,
    pub peer: Option<SocketAddr>,
}

impl LogEntry {
    /// Status filter and search on one entry.
    ///
    /// Accepted entries go by their own event's status (not the run's) and by pipeline name,
    /// stage, job, repository, branch and commit. Rejected entries have no job status: they
    /// count as `Other` (shown under All and Other), and a search matches their reason, so
    /// searching for `signature` finds refused signatures. Noted entries have no job status
    /// either, and a search matches what the log says of them and their headers.
    pub(crate) fn matches(&self, matcher: &Matcher) -> bool {
        match &self.event {
            LogEvent::Accepted(entry) => {
                matcher.status.matches(entry.status)
                    && matcher.search_any(|m| {
                        m.opt(entry.pipeline_name.as_deref())
                            || m.opt(entry.stage.as_deref())
                            || m.opt(entry.job.as_deref())
                            || m.checkouts(&entry.checkouts)
                    })
            }
            LogEvent::Rejected(entry) => {
                matches!(matcher.status, StatusFilter::All | StatusFilter::Other)
                    && matcher.search_any(|m| m.text(&entry.reason))
            }
            LogEvent::Outcome(outcome) => {
                matches!(matcher.status, StatusFilter::All | StatusFilter::Other)
                    && matcher.search_any(|m| {
                        m.text(outcome.action.describe()) || m.text(&outcome.detail)
                    })
            }
            LogEvent::Noted(entry) => {
                matches!(matcher.status, StatusFilter::All | StatusFilter::Other)
                    && matcher.search_any(|m| {
                        m.text(entry.kind.describe())
                            || m.opt(entry.gitee_event.as_deref())
                            || m.opt(entry.request_id.as_deref())
                    })
            }
        }
    }
}

/// The ring itself, plus the delivery ids it holds so the same delivery is never logged twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventLog {
    entries: VecDeque<LogEntry>,
    capacity: usize,
    /// Made again from the entries when a saved log is read back.
    #[serde(skip)]
    delivery_ids: HashSet<u64, BuildHasherDefault<IdHasher>>,
    next_seq: u64,
}

impl EventLog {
    pub(crate) fn new(capacity: usize) -> EventLog {
        EventLog {
            entries: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            delivery_ids: HashSet::default(),
            next_seq: 1,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// All entries, oldest first; `.rev()` walks from the newest.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &LogEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    pub(crate) fn contains_delivery(&self, id: u64) -> bool {
        self.delivery_ids.contains(&id)
    }

    /// A log read back from a saved monitor, knowing its delivery ids again. Its names and
    /// checkouts go through `share`, so they are shared as a live log's are.
    pub(crate) fn restored(mut self, mut share: impl FnMut(&mut AcceptedEntry)) -> EventLog {
        self.delivery_ids.clear();
        for entry in &mut self.entries {
            if let Some(id) = entry.event.delivery_id() {
                self.delivery_ids.insert(id);
            }
            if let LogEvent::Accepted(accepted) = &mut entry.event {
                share(accepted);
            }
        }
        self
    }

    pub(crate) fn push(&mut self, at: DateTime<Utc>, event: LogEvent) {
        if self.entries.len() >= self.capacity
            && let Some(old) = self.entries.pop_front()
            && let Some(id) = old.event.delivery_id()
        {
            self.delivery_ids.remove(&id);
        }
        if let Some(id) = event.delivery_id() {
            self.delivery_ids.insert(id);
        }
        self.entries.push_back(LogEntry {
            seq: self.next_seq,
            at,
            event,
        });
        self.next_seq += 1;
    }
}

/// Hashes a delivery id with one multiplication. Ids are numbered here, one after another, not
/// chosen by the network, so the default hasher's defence against chosen keys buys nothing and
/// costs a SipHash round on every accepted delivery, twice.
#[derive(Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        // The high bits pick the bucket group and the top seven the control byte in hashbrown:
        // a multiply by an odd constant spreads consecutive ids over both.
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
