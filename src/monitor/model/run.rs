//! One build of a pipeline: its stages and their jobs in first-seen order, and the rule for
//! what a run's status is.

use super::context::{Checkout, RunContext, checkouts, describes_more, gitee_go};
use super::fate::{DropReason, Fate, UpdateApplied};
use super::job::{JobState, JobUpdate, event_time};
use super::shared::same;
use crate::delivery::Delivery;
use crate::gitee::{GlobalParam, Source, Status};
use crate::monitor::Limits;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// How many of each status: pipelines per derived status for the header, or jobs of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts([usize; Status::ALL.len()]);

impl StatusCounts {
    pub fn get(&self, status: Status) -> usize {
        self.0[slot(status)]
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    pub(crate) fn add(&mut self, status: Status) {
        self.0[slot(status)] += 1;
    }

    pub(crate) fn remove(&mut self, status: Status) {
        let count = &mut self.0[slot(status)];
        *count = count.saturating_sub(1);
    }
}

fn slot(status: Status) -> usize {
    status as usize
}

/// A run's status from its jobs' statuses.
///
/// - Any job failed: the run failed, even while others still run, so a failure shows at once.
/// - Else any job not final: the run is still going. `cancelling` if any job is cancelling;
///   else `running` if any job runs, or if some jobs are done and others wait (the run has
///   started and waits for its next stage); else `waiting` if jobs only wait; else `unknown`
///   (the only unfinished jobs have codes this version does not know).
/// - Else every job is final, and the run takes the one that needs most attention:
///   failed > cancelled > success > skipped. Skipped ranks below success because pipelines skip
///   jobs by design (a deploy on a feature branch): a run is `skipped` only when all its jobs
///   were.
/// - A run without jobs is `unknown`.
pub fn derive_status(jobs: &StatusCounts) -> Status {
    let has = |status| jobs.get(status) > 0;
    if has(Status::Failed) {
        return Status::Failed;
    }
    let finished: usize = Status::ALL
        .iter()
        .filter(|status| status.is_final())
        .map(|status| jobs.get(*status))
        .sum();
    if jobs.total() == 0 {
        Status::Unknown
    } else if finished < jobs.total() {
        if has(Status::Cancelling) {
            Status::Cancelling
        } else if has(Status::Running) || (has(Status::Waiting) && finished > 0) {
            Status::Running
        } else if has(Status::Waiting) {
            Status::Waiting
        } else {
            Status::Unknown
        }
    } else if has(Status::Cancelled) {
        Status::Cancelled
    } else if has(Status::Success) {
        Status::Success
    } else {
        Status::Skipped
    }
}

/// Stages whose jobs are all final, out of the stages seen: the `3/5` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageProgress {
    pub done: usize,
    pub total: usize,
}

impl fmt::Display for StageProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.done, self.total)
    }
}

/// One build of a pipeline: its stages in the order they were first seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    build: Option<u64>,
    pub(super) stages: Vec<Stage>,
    #[serde(skip)]
    pub(super) jobs: StatusCounts,
    /// The sources and globalParams that describe this run. Jobs of one run share them rather
    /// than each keeping its own, which bounds memory by runs, not events; a copy of the monitor
    /// (saving it in the background) shares them too, which halves what copying costs.
    context: Arc<RunContext>,
    pub(super) checkouts: Arc<[Checkout]>,
    /// The earliest event of this run, by the sender's clock when it sent one, else by arrival.
    started_at: DateTime<Utc>,
    /// When the event that made every job seen final happened; `None` while any job is
    /// unfinished (a retried job makes a finished run go on again).
    ended_at: Option<DateTime<Utc>>,
    /// When an event last changed it (arrival time).
    updated_at: DateTime<Utc>,
}

impl Run {
    pub(super) fn new(build: Option<u64>, delivery: &Delivery, limits: &Limits) -> Run {
        Run {
            build,
            stages: Vec::new(),
            jobs: StatusCounts::default(),
            checkouts: checkouts(&delivery.notification.sources, limits.text),
            context: Arc::new(RunContext::of(delivery)),
            started_at: event_time(delivery),
            ended_at: None,
            updated_at: delivery.received_at,
        }
    }

    /// When its first event happened (the sender's clock when it sent one).
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// When its last job became final, once every job seen is.
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.ended_at
    }

    /// Every job seen is final.
    pub fn is_finished(&self) -> bool {
        self.ended_at.is_some()
    }

    /// From its first event to the one that finished it, once finished.
    pub fn duration(&self) -> Option<chrono::TimeDelta> {
        self.ended_at.map(|end| end - self.started_at)
    }

    /// The branch and commit of its first `GITEE_GO` source, if it had one.
    pub fn checkout(&self) -> Option<&Checkout> {
        self.checkouts.first()
    }

    /// The `buildNumber`, or `None` for events that carried none.
    pub fn build(&self) -> Option<u64> {
        self.build
    }

    /// See [`derive_status`] for the rule.
    pub fn status(&self) -> Status {
        derive_status(&self.jobs)
    }

    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Every job with its stage, stage by stage in first-seen order.
    pub fn jobs(&self) -> impl Iterator<Item = (&Stage, &JobState)> {
        self.stages
            .iter()
            .flat_map(|stage| stage.jobs.iter().map(move |job| (stage, job)))
    }

    pub fn job_count(&self) -> usize {
        self.jobs.total()
    }

    pub fn stage_progress(&self) -> StageProgress {
        StageProgress {
            done: self.stages.iter().filter(|stage| stage.is_done()).count(),
            total: self.stages.len(),
        }
    }

    /// What describes this run: the sources and globalParams of its first delivery, or of
    /// the latest one whose sources or globalParams differed.
    pub fn context(&self) -> &RunContext {
        &self.context
    }

    pub fn sources(&self) -> &[Source] {
        &self.context.sources
    }

    pub fn global_params(&self) -> &[GlobalParam] {
        &self.context.global_params
    }

    /// Repository, branch and commit of each `GITEE_GO` source, cleaned and bounded.
    pub fn checkouts(&self) -> &Arc<[Checkout]> {
        &self.checkouts
    }

    /// Whether the delivery's `GITEE_GO` sources read the same as this run's, so a log entry
    /// can share the run's checkouts. Compares the raw repository, branch and commit only: the
    /// checkouts are made of nothing else, and most events share their run's sources, so this
    /// spares a deep comparison of every source and a fresh copy.
    pub(crate) fn has_checkouts_of(&self, delivery: &Delivery) -> bool {
        let mut ours = gitee_go(&self.context.sources);
        let mut theirs = gitee_go(&delivery.notification.sources);
        loop {
            match (ours.next(), theirs.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if a == b => {}
                _ => return false,
            }
        }
    }

    /// `new`: the run was just made from this delivery, so it describes the run already.
    pub(super) fn apply(
        &mut self,
        delivery: &Delivery,
        update: &JobUpdate,
        limits: &Limits,
        new: bool,
    ) -> UpdateApplied {
        let stage_index = match self
            .stages
            .iter()
            .position(|stage| same(stage.name.as_ref(), update.stage.as_ref()))
        {
            Some(index) => index,
            None if self.stages.len() >= limits.stages_per_run => {
                return UpdateApplied::dropped(Fate::Dropped(DropReason::TooManyStages));
            }
            None => {
                grow_tight(&mut self.stages);
                self.stages.push(Stage {
                    name: update.stage.clone(),
                    jobs: Vec::new(),
                    unfinished: 0,
                });
                self.stages.len() - 1
            }
        };
        let stage = &mut self.stages[stage_index];
        let status = update.status;
        let mut retry = None;
        let (previous, newly_failed) = match stage
            .jobs
            .iter()
            .position(|j| same(j.name.as_ref(), update.job.as_ref()))
        {
            None if stage.jobs.len() >= limits.jobs_per_stage => {
                return UpdateApplied::dropped(Fate::Dropped(DropReason::TooManyJobs));
            }
            None => {
                // Jobs of one run usually share the run's URL: keep one copy.
                let url = stage.jobs.first().and_then(|job| job.pipeline_url.clone());
                grow_tight(&mut stage.jobs);
                stage
                    .jobs
                    .push(JobState::new(update, url, delivery, limits));
                (None, status == Status::Failed)
            }
            Some(index) => {
                let job = &mut stage.jobs[index];
                if let Some(fate) = job.supersedes(update) {
                    return UpdateApplied::dropped(fate);
                }
                let previous = job.status;
                job.replace(update, delivery, limits);
                retry = (previous == Status::Failed && !status.is_final()).then(|| job.retries());
                (
                    Some(previous),
                    status == Status::Failed && previous != Status::Failed,
                )
            }
        };
        if let Some(previous) = previous {
            self.jobs.remove(previous);
            if !previous.is_final() {
                stage.unfinished -= 1;
            }
        }
        self.jobs.add(status);
        if !status.is_final() {
            stage.unfinished += 1;
        }
        self.updated_at = delivery.received_at;
        let at = event_time(delivery);
        self.started_at = self.started_at.min(at);
        self.ended_at = if self.stages.iter().all(|stage| stage.unfinished == 0) {
            Some(self.ended_at.map_or(at, |end| end.max(at)))
        } else {
            None
        };
        let described = !new && describes_more(delivery, &self.context);
        if described {
            self.context = Arc::new(RunContext::of(delivery));
            self.checkouts = checkouts(&delivery.notification.sources, limits.text);
        }
        UpdateApplied {
            fate: retry.map_or(Fate::Updated, Fate::Retry),
            newly_failed,
            described,
        }
    }
}

/// The jobs of one stage, in first-seen order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    pub(super) name: Option<Arc<str>>,
    pub(super) jobs: Vec<JobState>,
    #[serde(skip)]
    pub(super) unfinished: usize,
}

impl Stage {
    /// The `stageName`, or `None` when events did not carry one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn jobs(&self) -> &[JobState] {
        &self.jobs
    }

    /// Every job seen in this stage is final.
    pub fn is_done(&self) -> bool {
        !self.jobs.is_empty() && self.unfinished == 0
    }
}

/// Makes room for one more element, growing by a quarter instead of doubling: with hundreds of
/// thousands of small runs and stages, doubling's spare room would cost more than the data.
pub(super) fn grow_tight<T>(items: &mut Vec<T>) {
    if items.len() == items.capacity() {
        items.reserve_exact((items.len() / 4).max(1));
    }
}
