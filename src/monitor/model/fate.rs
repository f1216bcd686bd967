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
    /// Same status as already known: a resend.
    Duplicate,
    /// Older than what is known (by the sender's clock, or a non-final status after a final
    /// one), so it did not overwrite anything.
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
    /// A word for the log, or `None` for a normal update.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Fate::Updated => None,
            Fate::Duplicate => Some("duplicate"),
            Fate::Stale => Some("stale"),
            Fate::Dropped(DropReason::OldBuild) => Some("dropped: build older than those kept"),
            Fate::Dropped(DropReason::TooManyStages) => Some("dropped: too many stages"),
            Fate::Dropped(DropReason::TooManyJobs) => Some("dropped: too many jobs"),
        }
    }
}
