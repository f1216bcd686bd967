//! What applying one job update did: the fate the event log shows, and what the monitor needs
//! besides to keep its counts and ring the bell.

use serde::{Deserialize, Serialize};

/// What applying one [`JobUpdate`](super::JobUpdate) did to its pipeline;
/// [`Monitor::apply`](crate::monitor::Monitor::apply) turns it into the
/// [`Applied`](crate::monitor::Applied) of the whole delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UpdateApplied {
    pub fate: Fate,
    pub newly_failed: bool,
    /// The run's context (and so its checkouts) was just taken from this delivery.
    pub described: bool,
}

impl UpdateApplied {
    pub(super) fn dropped(fate: Fate) -> UpdateApplied {
        UpdateApplied {
            fate,
            newly_failed: false,
            described: false,
        }
    }
}

/// What became of an accepted event: it updated a job, or it was a duplicate, stale, or
/// dropped at a bound. The event log shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fate {
    /// The job's status changed (or the job is new).
    Updated,
    /// A failed job runs again in the same build: its `n`th re-run (`retry 1` is the second
    /// attempt). The failed attempt stays in the job's history.
    Retry(u32),
    /// Same status as already known: a resend.
    Duplicate,
    /// Older than what is known, so it did not overwrite anything: older by the sender's clock
    /// (`X-Gitee-Timestamp`), or an unfinished status (RUNNING, WAITING) after a success, a
    /// cancel or a skip, which can only be a late delivery. After a failure an unfinished status
    /// is a [`Fate::Retry`], not stale.
    Stale,
    /// Not stored because a bound was reached.
    Dropped(DropReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DropReason {
    /// The build is older than every run kept for the pipeline, which is full.
    OldBuild,
    TooManyStages,
    TooManyJobs,
}

impl Fate {
    /// The event changed the job: an update or a retry.
    pub fn changed(self) -> bool {
        matches!(self, Fate::Updated | Fate::Retry(_))
    }

    /// A word for the log, or `None` for a normal update.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Fate::Updated => None,
            Fate::Retry(_) => Some("retry"),
            Fate::Duplicate => Some("duplicate"),
            Fate::Stale => Some("stale"),
            Fate::Dropped(DropReason::OldBuild) => Some("dropped: build older than those kept"),
            Fate::Dropped(DropReason::TooManyStages) => Some("dropped: too many stages"),
            Fate::Dropped(DropReason::TooManyJobs) => Some("dropped: too many jobs"),
        }
    }
}
