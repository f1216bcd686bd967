//! A pipeline and its most recent runs, and how one job update lands on the right run.

use super::fate::{DropReason, Fate, UpdateApplied};
use super::job::JobUpdate;
use super::record::Record;
use super::run::{Run, StatusCounts, grow_tight};
use super::shared::{Checkouts, Names, same};
use crate::delivery::Delivery;
use crate::gitee::Status;
use crate::monitor::Limits;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Which pipeline an event belongs to: Gitee's `pipelineId` when sent, else the pipeline's
/// name, else one shared bucket for events that name no pipeline at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PipelineKey {
    Id(u64),
    Name(Arc<str>),
    Unknown,
}

impl fmt::Display for PipelineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineKey::Id(id) => write!(f, "#{id}"),
            PipelineKey::Name(name) => f.write_str(name),
            PipelineKey::Unknown => f.write_str("unknown pipeline"),
        }
    }
}

/// One pipeline and its most recent runs, keyed by build number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pipeline {
    key: PipelineKey,
    name: Option<Arc<str>>,
    /// Sorted by build number; a missing build number is its own run, and sorts before every
    /// numbered run. A sorted `Vec` rather than a map: a map node holds room for eleven runs,
    /// and most pipelines have one or two.
    runs: Vec<Run>,
    #[serde(skip)]
    job_count: usize,
    updated_at: DateTime<Utc>,
    /// The monitor's event counter at this pipeline's last change: its place in display order.
    pub(crate) activity: u64,
    /// Hidden from the screen (`x`) until its next delivery.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) hidden: bool,
    record: Record,
}

impl Pipeline {
    pub(crate) fn new(key: PipelineKey, at: DateTime<Utc>, activity: u64) -> Pipeline {
        Pipeline {
            key,
            name: None,
            runs: Vec::new(),
            job_count: 0,
            updated_at: at,
            activity,
            hidden: false,
            record: Record::default(),
        }
    }

    /// Hidden from the screen (`x`) until its next delivery.
    pub fn is_hidden(&self) -> bool {
        self.hidden
    }

    /// The strip of latest runs, the last finished run, red since and last green.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The latest finished run failed: the pipeline stays red while a newer run goes.
    pub fn is_failing(&self) -> bool {
        self.record.is_failing()
    }

    /// The newest run whose jobs are all final.
    pub fn last_finished_run(&self) -> Option<&Run> {
        self.runs.iter().rev().find(|run| run.is_finished())
    }

    pub fn key(&self) -> &PipelineKey {
        &self.key
    }

    /// The `pipelineName` of the latest event that carried one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn name_arc(&self) -> Option<&Arc<str>> {
        self.name.as_ref()
    }

    /// What to call the pipeline: its name, else its key (`#183`, `unknown pipeline`).
    pub fn title(&self) -> Cow<'_, str> {
        match &self.name {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(self.key.to_string()),
        }
    }

    /// The run with the highest build number. An older build arriving late does not change it.
    pub fn latest_run(&self) -> Option<&Run> {
        self.runs.last()
    }

    /// The latest run's status, or `unknown` before any run is known.
    pub fn status(&self) -> Status {
        self.latest_run().map_or(Status::Unknown, Run::status)
    }

    /// Runs from oldest to newest (reverse it for newest first).
    pub fn runs(&self) -> impl DoubleEndedIterator<Item = &Run> + ExactSizeIterator {
        self.runs.iter()
    }

    pub fn run(&self, build: Option<u64>) -> Option<&Run> {
        self.find(build).ok().map(|index| &self.runs[index])
    }

    /// The run just before `build` (for `[`), if any.
    pub fn older_run(&self, build: Option<u64>) -> Option<&Run> {
        let index = self.find(build).unwrap_or_else(|at| at);
        index.checked_sub(1).and_then(|i| self.runs.get(i))
    }

    /// The run just after `build` (for `]`), if any.
    pub fn newer_run(&self, build: Option<u64>) -> Option<&Run> {
        match self.find(build) {
            Ok(index) => self.runs.get(index + 1),
            Err(at) => self.runs.get(at),
        }
    }

    fn find(&self, build: Option<u64>) -> Result<usize, usize> {
        self.runs.binary_search_by_key(&build, Run::build)
    }

    /// When an event last changed this pipeline (arrival time, on this machine's clock).
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// Jobs stored across all of this pipeline's runs.
    pub fn job_count(&self) -> usize {
        self.job_count
    }

    pub(crate) fn set_name(&mut self, name: Arc<str>) -> bool {
        if same(self.name.as_ref(), Some(&name)) {
            return false;
        }
        self.name = Some(name);
        true
    }

    /// After reading a saved monitor: the job counts made again from the jobs, and names,
    /// checkouts and URLs shared again as applying events shares them, so a restored monitor
    /// holds together and takes no more memory than the one that was saved.
    pub(crate) fn restored(&mut self, names: &mut Names, checkouts: &mut Checkouts) {
        if let PipelineKey::Name(name) = &mut self.key {
            *name = names.get(name);
        }
        names.share(&mut self.name);
        self.job_count = 0;
        for run in &mut self.runs {
            run.checkouts = checkouts.share(&run.checkouts);
            run.jobs = StatusCounts::default();
            for stage in &mut run.stages {
                names.share(&mut stage.name);
                stage.unfinished = 0;
                let first_url = stage.jobs.first().and_then(|job| job.pipeline_url.clone());
                for job in &mut stage.jobs {
                    run.jobs.add(job.status);
                    if !job.status.is_final() {
                        stage.unfinished += 1;
                    }
                    names.share(&mut job.name);
                    names.share(&mut job.code);
                    names.share(&mut job.status_name);
                    if let (Some(first), Some(url)) = (&first_url, &job.pipeline_url)
                        && first == url
                    {
                        job.pipeline_url = Some(Arc::clone(first));
                    }
                }
            }
            self.job_count += run.job_count();
        }
    }

    /// Drops the oldest run unless it is the only one; returns how many jobs went with it.
    pub(crate) fn drop_oldest_run(&mut self) -> Option<usize> {
        if self.runs.len() < 2 {
            return None;
        }
        let run = self.runs.remove(0);
        self.job_count -= run.job_count();
        self.record.refresh(&self.runs);
        Some(run.job_count())
    }

    /// Applies one job update to this pipeline, within the limits.
    pub(crate) fn apply(
        &mut self,
        delivery: &Arc<Delivery>,
        update: &JobUpdate,
        limits: &Limits,
    ) -> UpdateApplied {
        let build = delivery.notification.job.build_number;
        let (index, new) = match self.find(build) {
            Ok(index) => (index, false),
            Err(0) if self.runs.len() >= limits.runs_per_pipeline => {
                return UpdateApplied::dropped(Fate::Dropped(DropReason::OldBuild));
            }
            Err(at) => {
                grow_tight(&mut self.runs);
                self.runs.insert(at, Run::new(build, delivery, limits));
                let excess = self.runs.len().saturating_sub(limits.runs_per_pipeline);
                for old in self.runs.drain(..excess) {
                    self.job_count -= old.job_count();
                }
                (at - excess, true)
            }
        };
        let run = &mut self.runs[index];
        let before = run.job_count();
        let mut applied = run.apply(delivery, update, limits, new);
        applied.described |= new;
        self.job_count = self.job_count - before + run.job_count();
        if applied.fate.changed() || new {
            self.updated_at = delivery.received_at;
            self.record.refresh(&self.runs);
        }
        applied
    }
}
