//! A job's latest known status in one run, its earlier attempts when it was re-run after a
//! failure, its timing, and the update an event brings it.

use super::fate::Fate;
use super::shared::same;
use crate::delivery::Delivery;
use crate::gitee::Status;
use crate::monitor::Limits;
use crate::text::clean;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A job's latest known status in one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobState {
    pub(super) name: Option<Arc<str>>,
    pub(super) status: Status,
    pub(super) code: Option<Arc<str>>,
    pub(super) status_name: Option<Arc<str>>,
    /// Shared with the job it replaced or the stage's first job when the text is the same.
    pub(super) pipeline_url: Option<Arc<str>>,
    updated_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    delivery_id: u64,
    /// When this attempt was first seen unfinished (RUNNING, WAITING…), by the sender's clock
    /// when it sent one: what the job's duration counts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
    /// Earlier attempts of this job in the same run, oldest first: each a failure that a re-run
    /// followed. Bounded by [`Attempt::KEPT`]; `retries` counts them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "is_zero")]
    retries: u32,
    /// The fields of that delivery that arrived in another shape; nearly always none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    misfits: Option<Arc<Misfits>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One finished attempt of a job that was run again in the same build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub status: Status,
    /// When it started (if an unfinished status was seen) and when it ended, by the sender's
    /// clock when it sent one.
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    pub delivery_id: u64,
}

impl Attempt {
    /// Earlier attempts kept per job; a job re-run more often keeps its latest ones.
    pub const KEPT: usize = 4;

    /// How long it ran, when its start was seen.
    pub fn duration(&self) -> Option<chrono::TimeDelta> {
        self.started_at.map(|start| self.ended_at - start)
    }
}

/// When an event happened: the sender's clock (`X-Gitee-Timestamp`) when it sent one, else
/// when it arrived.
pub(crate) fn event_time(delivery: &Delivery) -> DateTime<Utc> {
    delivery.sent_at.unwrap_or(delivery.received_at)
}

/// The fields of a delivery that arrived in a shape their type cannot hold
/// ([`Notification::misfits`](crate::gitee::Notification::misfits)), as the detail pane shows
/// them: each one's note and its value as received, in compact JSON, cleaned and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misfits {
    pub shown: Box<[(Box<str>, Box<str>)]>,
    /// How many more there were than are shown.
    pub more: usize,
}

impl Misfits {
    /// Kept per job: a body made of nothing but misfits costs a job no more than this many.
    const SHOWN: usize = 8;

    fn of(delivery: &Delivery, limits: &Limits) -> Option<Arc<Misfits>> {
        let all = delivery.notification.misfits();
        if all.is_empty() {
            return None;
        }
        let shown = all
            .iter()
            .take(Self::SHOWN)
            .map(|misfit| {
                let note = clean(&misfit.to_string(), limits.text).into();
                let raw = clean(&misfit.raw.to_string(), limits.text).into();
                (note, raw)
            })
            .collect();
        Some(Arc::new(Misfits {
            shown,
            more: all.len().saturating_sub(Self::SHOWN),
        }))
    }
}

impl JobState {
    /// `known` is a URL already stored nearby, reused when the update's raw URL reads the same:
    /// stored URLs are clean and bounded, and cleaning such text leaves it unchanged, so only
    /// a different URL is cleaned and copied.
    pub(super) fn new(
        update: &JobUpdate,
        known: Option<Arc<str>>,
        delivery: &Delivery,
        limits: &Limits,
    ) -> JobState {
        let pipeline_url = update.pipeline_url.map(|url| match known {
            Some(known) if *known == *url => known,
            _ => Arc::from(clean(url, limits.url)),
        });
        JobState {
            name: update.job.clone(),
            status: update.status,
            code: update.code.clone(),
            status_name: update.status_name.clone(),
            pipeline_url,
            updated_at: delivery.received_at,
            sent_at: delivery.sent_at,
            delivery_id: delivery.id,
            started_at: (!update.status.is_final()).then(|| event_time(delivery)),
            attempts: Vec::new(),
            retries: 0,
            misfits: Misfits::of(delivery, limits),
        }
    }

    /// Takes `update` in place of the current status: the start carries over while the
    /// attempt goes on, and a re-run after a failure files the failed attempt first.
    pub(super) fn replace(&mut self, update: &JobUpdate, delivery: &Delivery, limits: &Limits) {
        let url = self.pipeline_url.take();
        let retried = self.is_retried_by(update);
        let old = std::mem::replace(self, JobState::new(update, url, delivery, limits));
        self.attempts = old.attempts;
        self.retries = old.retries;
        if retried {
            self.attempts.push(Attempt {
                status: old.status,
                started_at: old.started_at,
                ended_at: old.sent_at.unwrap_or(old.updated_at),
                delivery_id: old.delivery_id,
            });
            if self.attempts.len() > Attempt::KEPT {
                self.attempts.remove(0);
            }
            self.retries = self.retries.saturating_add(1);
        } else {
            self.started_at = old.started_at.or(self.started_at);
        }
    }

    /// A failed job seen unfinished again: Gitee Go re-runs a failed job in the same build.
    fn is_retried_by(&self, update: &JobUpdate) -> bool {
        self.status == Status::Failed && !update.status.is_final()
    }

    /// Why an update must not replace this state, if it must not: it says nothing new, it is
    /// older by the sender's clock, or it would turn a final status back into an unfinished one.
    /// Without both sender timestamps, arrival order decides, and the update arrived later.
    pub(super) fn supersedes(&self, update: &JobUpdate) -> Option<Fate> {
        if same(self.code.as_ref(), update.code.as_ref())
            && same(self.status_name.as_ref(), update.status_name.as_ref())
        {
            return Some(Fate::Duplicate);
        }
        if let (Some(current), Some(new)) = (self.sent_at, update.sent_at)
            && new < current
        {
            return Some(Fate::Stale);
        }
        if self.status.is_final() && !update.status.is_final() && !self.is_retried_by(update) {
            return Some(Fate::Stale);
        }
        None
    }

    /// Earlier attempts of this job in this run, oldest first (at most [`Attempt::KEPT`]).
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// How many times this job was re-run after failing in this run; `retry 2` is the second
    /// attempt, so the attempt number is `retries + 1`.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Failed, then passed, in this run: a re-run made it pass.
    pub fn is_flaky(&self) -> bool {
        self.status == Status::Success && self.attempts.iter().any(|a| a.status == Status::Failed)
    }

    /// When this attempt was first seen unfinished, if it was.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.started_at
    }

    /// When its current status happened: the sender's clock when it sent one.
    pub fn status_at(&self) -> DateTime<Utc> {
        self.sent_at.unwrap_or(self.updated_at)
    }

    /// How long this attempt ran: from its first unfinished status to its final one, when both
    /// were seen.
    pub fn duration(&self) -> Option<chrono::TimeDelta> {
        match self.started_at {
            Some(start) if self.status.is_final() => Some(self.status_at() - start),
            _ => None,
        }
    }

    /// The `jobName`, or `None` when the event did not carry one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The `statusCode` as sent (so unknown codes can be shown).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The `statusName` as sent; it may be localised.
    pub fn status_name(&self) -> Option<&str> {
        self.status_name.as_deref()
    }

    pub fn pipeline_url(&self) -> Option<&str> {
        self.pipeline_url.as_deref()
    }

    /// When this status arrived (this machine's clock).
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// The delivery that set this status.
    pub fn delivery_id(&self) -> u64 {
        self.delivery_id
    }

    /// The fields of that delivery that arrived in another shape, if any did.
    pub fn misfits(&self) -> Option<&Misfits> {
        self.misfits.as_deref()
    }
}

/// One event's job fields, cleaned and bounded (the URL when stored), ready to store.
#[derive(Debug, Clone)]
pub(crate) struct JobUpdate<'a> {
    pub stage: Option<Arc<str>>,
    pub job: Option<Arc<str>>,
    pub status: Status,
    pub code: Option<Arc<str>>,
    pub status_name: Option<Arc<str>>,
    /// Raw, borrowed from the delivery: cleaned and copied only if a job stores it anew.
    pub pipeline_url: Option<&'a str>,
    pub sent_at: Option<DateTime<Utc>>,
}
