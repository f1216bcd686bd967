//! A pipeline's record, kept as events arrive rather than worked out per frame: the strip of its
//! latest runs' statuses, its last finished run, since when it has been red and when it was
//! last green. Remembered past the runs kept: a streak longer than the kept runs still starts
//! where it started.

use super::run::Run;
use crate::gitee::Status;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Runs shown in the history strip, at most.
pub const STRIP: usize = 20;

/// A finished run as the record remembers it: its build and when it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub build: Option<u64>,
    pub status: Status,
    pub at: DateTime<Utc>,
}

impl Mark {
    fn of(run: &Run) -> Option<Mark> {
        Some(Mark {
            build: run.build(),
            status: run.status(),
            at: run.ended_at()?,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The latest runs' statuses, oldest first, newest (the latest run, finished or not) last.
    strip: Vec<Status>,
    /// The newest run whose jobs are all final.
    last_finished: Option<Mark>,
    /// The first failed run after the last successful one, while the last finished run failed.
    red_since: Option<Mark>,
    /// The newest successful run.
    last_green: Option<Mark>,
}

impl Record {
    /// Statuses of the latest runs (at most [`STRIP`]), oldest first.
    pub fn strip(&self) -> &[Status] {
        &self.strip
    }

    pub fn last_finished(&self) -> Option<Mark> {
        self.last_finished
    }

    /// Where the current failing streak began, while the pipeline is red.
    pub fn red_since(&self) -> Option<Mark> {
        self.red_since
    }

    pub fn last_green(&self) -> Option<Mark> {
        self.last_green
    }

    /// The latest finished run failed, whether or not a newer run is going.
    pub fn is_failing(&self) -> bool {
        self.last_finished
            .is_some_and(|mark| mark.status == Status::Failed)
    }

    /// Made again from the runs kept (oldest first) after one of them changed. What the runs
    /// no longer show (a green run or a streak's start older than every kept run) is kept from
    /// before.
    pub(super) fn refresh(&mut self, runs: &[Run]) {
        self.strip.clear();
        let shown = runs.len().saturating_sub(STRIP);
        self.strip.extend(runs[shown..].iter().map(Run::status));

        let mut finished = runs.iter().rev().filter_map(Mark::of);
        self.last_finished = finished.clone().next();
        let green = finished.clone().find(|mark| mark.status == Status::Success);
        let red = finished
            .by_ref()
            .take_while(|mark| mark.status != Status::Success)
            .filter(|mark| mark.status == Status::Failed)
            .last();
        if green.is_some() {
            self.last_green = green;
            self.red_since = red;
        } else {
            // No green run is kept: the streak may have begun before the oldest kept run.
            self.red_since = match (self.red_since, red) {
                (Some(before), Some(now)) if before.build < now.build => Some(before),
                (_, now) => now,
            };
        }
        if !self.is_failing() {
            self.red_since = None;
        }
    }
}
