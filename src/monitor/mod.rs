//! The domain model the TUI draws from: pipelines → runs → stages → jobs, the bounded event
//! log, and the filters over both. Pure and synchronous: no IO, no async, no terminal.
//!
//! Feed every [`Ingest`] to [`Monitor::apply`]; read through the views. Display order of
//! pipelines is most recent activity first, where activity is an event that changed the
//! pipeline (a duplicate or stale event does not move it). Everything is bounded by [`Limits`].
//!
//! Only a job notification reaches the pipelines: a delivery whose `job` object carries at
//! least one field. A test delivery (`X-Gitee-Ping: true`) and any other body (a repository
//! hook's, the sister product's `task`-shaped one, `{}`) are only logged, as [`LogEvent::Noted`].

mod failures;
mod filter;
mod hidden;
mod log;
mod model;
mod order;
mod saved;

pub use failures::{Change, FailedJob, Flaky, SincePassed, failing_run, flaky, since_passed};
pub use filter::{Filter, StatusFilter};
pub use log::{AcceptedEntry, EventLog, LogEntry, LogEvent, Noted, NotedEntry, RejectedEntry};
pub use model::{
    Attempt, Checkout, DropReason, Fate, JobState, Mark, Misfits, Pipeline, PipelineKey, Record,
    Run, RunContext, STRIP, Stage, StageProgress, StatusCounts, derive_status,
};
pub use order::Order;
pub use saved::RestoreError;

use crate::delivery::{Delivery, Ingest, Rejection};
use crate::gitee::{Job, Status};
use chrono::{DateTime, Utc};
use filter::Matcher;
use model::{JobUpdate, Names};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every bound the monitor keeps.
///
/// Memory follows the budgets, not the number of events. Measured with the documented sample
/// payload (about 2 KiB a delivery), 1,000,000 events leave 16 MB of live heap spread over 40
/// pipelines, 37 MB over 1,000, and 56 MB over 10,000 with budgets twice the defaults below.
///
/// The defaults hold 5,000 runs and 50,000 jobs because the process's resident memory, not the
/// live heap, is what a user sees: deliveries are parsed on whichever worker thread took the
/// request, the few a run keeps stay among many that were freed, and glibc's per-thread arenas
/// then held 105 MiB resident for 45 MB in use with 10,000 runs and 100,000 jobs. With these
/// defaults the TUI stays near 52 MiB after 1,000,000 events over 10,000 pipelines
/// (BENCHMARKS.md). The cost: past 5,000 busy pipelines the least recently active ones are
/// forgotten. Showing 10,000 pipelines with 20-job runs at once needs `pipelines` and `runs`
/// raised to 10,000 and `jobs` to 200,000.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Pipelines kept; a new one evicts the least recently active.
    pub pipelines: usize,
    /// Runs kept per pipeline; a new build evicts the oldest.
    pub runs_per_pipeline: usize,
    pub stages_per_run: usize,
    pub jobs_per_stage: usize,
    /// Runs kept across all pipelines. Each holds the sources and globalParams describing it
    /// (about 0.5 to 2 KiB), so this bounds memory as much as `jobs` does. Past
    /// either, the least recently active pipeline loses its oldest run, or itself when it has
    /// only one.
    pub runs: usize,
    /// Jobs kept across all runs of all pipelines (about 250 bytes each).
    pub jobs: usize,
    /// Event log entries, accepted and rejected alike.
    pub log: usize,
    /// Characters kept of a name, status name or rejection reason.
    pub text: usize,
    /// Characters kept of a `pipelineUrl`.
    pub url: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            pipelines: 5_000,
            runs_per_pipeline: 50,
            stages_per_run: 64,
            jobs_per_stage: 128,
            runs: 5_000,
            jobs: 50_000,
            log: 10_000,
            text: 128,
            url: 1024,
        }
    }
}

impl Limits {
    /// Every bound at least 1, so a zero in a config cannot make the model refuse everything.
    fn sane(self) -> Limits {
        Limits {
            pipelines: self.pipelines.max(1),
            runs_per_pipeline: self.runs_per_pipeline.max(1),
            stages_per_run: self.stages_per_run.max(1),
            jobs_per_stage: self.jobs_per_stage.max(1),
            runs: self.runs.max(1),
            jobs: self.jobs.max(1),
            log: self.log.max(1),
            text: self.text.max(1),
            url: self.url.max(1),
        }
    }
}

/// What one [`Monitor::apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// A log entry was added.
    pub logged: bool,
    /// Pipelines, runs or jobs changed.
    pub model_changed: bool,
    /// A job's status became FAIL (it was not FAIL before): ring the bell.
    pub newly_failed: bool,
}

impl Applied {
    /// Something on screen may differ: redraw.
    pub fn changed(&self) -> bool {
        self.logged || self.model_changed
    }
}

/// Counters since the monitor began (kept across a restart that restores a saved screen), for
/// the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Every accepted delivery, test deliveries and bodies that are not job notifications too.
    pub accepted: u64,
    pub rejected: u64,
    /// Accepted deliveries that said nothing new (same status as known).
    pub duplicates: u64,
    /// Accepted deliveries older than what was known.
    pub stale: u64,
    /// Accepted deliveries not stored because a bound was reached.
    pub dropped: u64,
    /// The same delivery id handed over again; ignored and not logged.
    pub repeated: u64,
}

/// The state behind the screen.
#[derive(Debug, Clone)]
pub struct Monitor {
    limits: Limits,
    /// Keyed by activity, so iterating from the back is display order at no cost.
    pipelines: BTreeMap<u64, Pipeline>,
    /// Hashed with foldhash, as [`Names`] is; bounded by `Limits::pipelines`.
    index: foldhash::HashMap<PipelineKey, u64>,
    log: EventLog,
    names: Names,
    pipeline_counts: StatusCounts,
    runs: usize,
    jobs: usize,
    totals: Totals,
    clock: u64,
    generation: u64,
    last_delivery: Option<LastDelivery>,
    /// How many pipelines are hidden.
    hidden: usize,
    /// How many pipelines are red ([`order::is_red`]): the FAIL filter's count of pipelines.
    red: usize,
}

/// The accepted delivery with the highest id applied: every delivery up to it has been, in
/// id order, so a journal read from just after it brings the monitor up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastDelivery {
    pub id: u64,
    pub received_at: DateTime<Utc>,
}

impl Default for Monitor {
    fn default() -> Monitor {
        Monitor::new(Limits::default())
    }
}

impl Monitor {
    pub fn new(limits: Limits) -> Monitor {
        let limits = limits.sane();
        let names = Names::new(limits.text);
        Monitor {
            log: EventLog::new(limits.log),
            limits,
            pipelines: BTreeMap::new(),
            index: foldhash::HashMap::default(),
            names,
            pipeline_counts: StatusCounts::default(),
            runs: 0,
            jobs: 0,
            totals: Totals::default(),
            clock: 0,
            generation: 0,
            last_delivery: None,
            hidden: 0,
            red: 0,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The accepted delivery with the highest id applied, if any was.
    pub fn last_delivery(&self) -> Option<LastDelivery> {
        self.last_delivery
    }

    /// Takes in one accepted or rejected delivery. Rejections only add to the log.
    pub fn apply(&mut self, ingest: &Ingest) -> Applied {
        let applied = match ingest {
            Ingest::Accepted(delivery) => self.accept(delivery),
            Ingest::Rejected(rejection) => self.reject(rejection),
            Ingest::Outcome(outcome) => self.outcome(outcome),
            Ingest::Alert(_) => Applied::default(),
        };
        if applied.changed() {
            self.generation += 1;
        }
        applied
    }

    fn reject(&mut self, rejection: &Rejection) -> Applied {
        self.totals.rejected += 1;
        let entry = RejectedEntry {
            status: rejection.status,
            reason: crate::text::clean(&rejection.reason, self.limits.text).into(),
            peer: rejection.peer,
        };
        self.log
            .push(rejection.received_at, LogEvent::Rejected(entry));
        Applied {
            logged: true,
            ..Applied::default()
        }
    }

    fn outcome(&mut self, outcome: &crate::delivery::Outcome) -> Applied {
        let mut outcome = outcome.clone();
        outcome.detail = crate::text::clean(&outcome.detail, self.limits.text).into_owned();
        self.log.push(outcome.at, LogEvent::Outcome(outcome));
        Applied {
            logged: true,
            ..Applied::default()
        }
    }

    fn accept(&mut self, delivery: &Arc<Delivery>) -> Applied {
        if self.last_delivery.is_none_or(|last| delivery.id > last.id) {
            self.last_delivery = Some(LastDelivery {
                id: delivery.id,
                received_at: delivery.received_at,
            });
        }
        if self.log.contains_delivery(delivery.id) {
            self.totals.repeated += 1;
            return Applied::default();
        }
        self.totals.accepted += 1;
        if let Some(kind) = noted(delivery) {
            return self.note(delivery, kind);
        }
        self.clock += 1;
        let job = &delivery.notification.job;
        let text = self.limits.text;
        let key = match (job.pipeline_id, job.pipeline_name.as_deref()) {
            (Some(id), _) => PipelineKey::Id(id),
            (None, Some(name)) if !name.trim().is_empty() => {
                PipelineKey::Name(self.names.get(name))
            }
            _ => PipelineKey::Unknown,
        };
        let update = JobUpdate {
            stage: job.stage_name.as_deref().map(|s| self.names.get(s)),
            job: job.job_name.as_deref().map(|s| self.names.get(s)),
            status: job.status(),
            code: job
                .status_code
                .as_ref()
                .map(|code| self.names.get(code.as_str())),
            status_name: job.status_name.as_deref().map(|s| self.names.get(s)),
            pipeline_url: job.pipeline_url.as_deref(),
            sent_at: delivery.sent_at,
        };
        let name = job
            .pipeline_name
            .as_deref()
            .filter(|name| !name.trim().is_empty())
            .map(|name| self.names.get(name));

        let activity = self.find_or_create(&key);
        let clock = self.clock;
        let pipeline = self
            .pipelines
            .entry(activity)
            .or_insert_with(|| Pipeline::new(key.clone(), delivery.received_at, clock));
        if std::mem::take(&mut pipeline.hidden) {
            self.hidden -= 1;
        }
        let status_before = pipeline.status();
        let red_before = order::is_red(pipeline);
        let renamed = name.is_some_and(|name| pipeline.set_name(name));
        let (runs_before, jobs_before) = (pipeline.runs().len(), pipeline.job_count());
        let applied = pipeline.apply(delivery, &update, &self.limits);
        self.runs = self.runs - runs_before + pipeline.runs().len();
        self.jobs = self.jobs - jobs_before + pipeline.job_count();
        let model_changed = renamed || applied.fate.changed();
        self.pipeline_counts.remove(status_before);
        self.pipeline_counts.add(pipeline.status());
        self.red = self.red + usize::from(order::is_red(pipeline)) - usize::from(red_before);
        match applied.fate {
            Fate::Updated | Fate::Retry(_) => {}
            Fate::Duplicate => self.totals.duplicates += 1,
            Fate::Stale => self.totals.stale += 1,
            Fate::Dropped(_) => self.totals.dropped += 1,
        }
        let checkouts = match pipeline.run(job.build_number) {
            Some(run) if applied.described || run.has_checkouts_of(delivery) => {
                run.checkouts().clone()
            }
            _ => model::checkouts(&delivery.notification.sources, text),
        };
        let entry = AcceptedEntry {
            delivery_id: delivery.id,
            pipeline: key.clone(),
            pipeline_name: pipeline.name_arc().cloned(),
            stage: update.stage,
            job: update.job,
            build: job.build_number,
            status: update.status,
            code: update.code,
            status_name: update.status_name,
            fate: applied.fate,
            checkouts,
        };
        // Only a change moves the pipeline in display order; a duplicate or stale event leaves
        // the ordered map and the index as they are.
        if model_changed && activity != clock {
            self.move_to(&key, activity, clock);
        }
        self.enforce_budgets(&key);
        self.log
            .push(delivery.received_at, LogEvent::Accepted(entry));
        Applied {
            logged: true,
            model_changed,
            newly_failed: applied.newly_failed,
        }
    }

    /// Logs a delivery that is no job's status, and touches no pipeline.
    fn note(&mut self, delivery: &Delivery, kind: Noted) -> Applied {
        let text = self.limits.text;
        let kept = |header: &Option<Box<str>>| {
            header
                .as_deref()
                .map(|h| crate::text::clean(h, text).into())
        };
        let entry = NotedEntry {
            delivery_id: delivery.id,
            kind,
            gitee_event: kept(&delivery.headers.gitee_event),
            request_id: kept(&delivery.headers.request_id),
        };
        self.log.push(delivery.received_at, LogEvent::Noted(entry));
        Applied {
            logged: true,
            ..Applied::default()
        }
    }

    /// The activity a pipeline is filed under. A new one is indexed under the current clock,
    /// evicting the least recently active pipeline when full; the caller inserts it.
    fn find_or_create(&mut self, key: &PipelineKey) -> u64 {
        if let Some(activity) = self.index.get(key) {
            return *activity;
        }
        while self.index.len() >= self.limits.pipelines {
            let Some((_, evicted)) = self.pipelines.pop_first() else {
                break;
            };
            self.forget(&evicted);
        }
        // A pipeline without runs counts as unknown until its first event is applied.
        self.pipeline_counts.add(Status::Unknown);
        self.index.insert(key.clone(), self.clock);
        self.clock
    }

    /// Refiles a changed pipeline under the current clock: most recent first in display order.
    fn move_to(&mut self, key: &PipelineKey, from: u64, to: u64) {
        if let Some(mut pipeline) = self.pipelines.remove(&from) {
            pipeline.activity = to;
            self.pipelines.insert(to, pipeline);
            self.index.insert(key.clone(), to);
        }
    }

    fn forget(&mut self, pipeline: &Pipeline) {
        self.index.remove(pipeline.key());
        self.pipeline_counts.remove(pipeline.status());
        self.red -= usize::from(order::is_red(pipeline));
        self.runs -= pipeline.runs().len();
        self.jobs -= pipeline.job_count();
    }

    /// Past the run or job budget, the least recently active pipeline gives up its oldest run,
    /// or itself when it has only one; the pipeline just updated is never removed.
    fn enforce_budgets(&mut self, current: &PipelineKey) {
        while self.jobs > self.limits.jobs || self.runs > self.limits.runs {
            let Some(mut entry) = self.pipelines.first_entry() else {
                return;
            };
            let red_before = order::is_red(entry.get());
            if let Some(removed) = entry.get_mut().drop_oldest_run() {
                self.red =
                    self.red + usize::from(order::is_red(entry.get())) - usize::from(red_before);
                self.runs -= 1;
                self.jobs -= removed;
            } else if entry.get().key() != current {
                let evicted = entry.remove();
                self.forget(&evicted);
            } else {
                return;
            }
        }
    }

    /// Increases whenever something visible changed; a cache keyed on it is current while it
    /// stays the same.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Pipelines per derived status (each pipeline counted by its latest run).
    pub fn pipeline_counts(&self) -> &StatusCounts {
        &self.pipeline_counts
    }

    /// Pipelines whose latest run failed, or whose last finished one did while a newer one
    /// goes: what the FAIL filter lists.
    pub fn red_count(&self) -> usize {
        self.red
    }

    pub fn pipeline_total(&self) -> usize {
        self.pipelines.len()
    }

    /// Runs stored across all pipelines.
    pub fn run_total(&self) -> usize {
        self.runs
    }

    /// Jobs stored across all runs.
    pub fn job_total(&self) -> usize {
        self.jobs
    }

    pub fn pipeline(&self, key: &PipelineKey) -> Option<&Pipeline> {
        self.index
            .get(key)
            .and_then(|activity| self.pipelines.get(activity))
    }

    /// How many pipelines pass the filter; constant time for the empty filter.
    pub fn pipeline_count(&self, filter: &Filter) -> usize {
        if filter.is_empty() {
            self.pipelines.len() - self.hidden
        } else {
            self.pipelines(filter).count()
        }
    }

    /// Where a pipeline is in the filtered display order, if it passes the filter.
    pub fn pipeline_position(&self, filter: &Filter, key: &PipelineKey) -> Option<usize> {
        let activity = *self.index.get(key)?;
        if filter.is_empty() && filter.order == Order::Recent && self.hidden == 0 {
            return Some(self.pipelines.range(activity + 1..).count());
        }
        self.pipelines(filter)
            .position(|pipeline| pipeline.key() == key)
    }

    /// The jobs of one run of a pipeline that pass the filter, stage by stage in first-seen
    /// order, each with its stage so the TUI can draw a stage row where the stage changes.
    pub fn jobs<'a>(
        &'a self,
        pipeline: &'a Pipeline,
        run: &'a Run,
        filter: &Filter,
    ) -> impl Iterator<Item = (&'a Stage, &'a JobState)> + 'a {
        let matcher = Matcher::new(filter);
        run.jobs()
            .filter(move |(stage, job)| matcher.job(pipeline, run, stage, job))
    }

    /// Every job of one run that passes the search, stage by stage, each with whether it also
    /// passes the status filter: under a status filter the others are shown dimmed around it,
    /// so a failure is seen among its stage.
    pub fn jobs_in_context<'a>(
        &'a self,
        pipeline: &'a Pipeline,
        run: &'a Run,
        filter: &Filter,
    ) -> impl Iterator<Item = (&'a Stage, &'a JobState, bool)> + 'a {
        let matcher = Matcher::new(filter);
        let status = filter.status;
        run.jobs()
            .filter(move |(stage, job)| matcher.job_searched(pipeline, run, stage, job))
            .map(move |(stage, job)| (stage, job, status.matches(job.status())))
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Log entries that pass the filter, oldest first (`.rev()` for newest first).
    pub fn log_entries<'a>(
        &'a self,
        filter: &Filter,
    ) -> impl DoubleEndedIterator<Item = &'a LogEntry> + 'a {
        let matcher = Matcher::new(filter);
        let everything = filter.is_empty();
        self.log
            .entries()
            .filter(move |entry| everything || entry.matches(&matcher))
    }
}

/// Why a delivery is only logged, if it is: a test delivery never changes a pipeline, whatever
/// its body; nor does a body whose `job` object is missing or empty.
fn noted(delivery: &Delivery) -> Option<Noted> {
    if delivery.headers.ping {
        Some(Noted::Ping)
    } else if is_empty(&delivery.notification.job) {
        Some(Noted::NotAJob)
    } else {
        None
    }
}

/// No field at all, known or not. Every field is named, so a field added to [`Job`] has to be
/// decided on here.
fn is_empty(job: &Job) -> bool {
    let Job {
        pipeline_id,
        pipeline_name,
        stage_name,
        job_name,
        build_number,
        status_code,
        status_name,
        pipeline_url,
        extra,
    } = job;
    pipeline_id.is_none()
        && pipeline_name.is_none()
        && stage_name.is_none()
        && job_name.is_none()
        && build_number.is_none()
        && status_code.is_none()
        && status_name.is_none()
        && pipeline_url.is_none()
        && extra.is_empty()
}

#[cfg(test)]
mod tests;
