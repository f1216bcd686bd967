//! What the monitor knows: pipelines, their recent runs, each run's stages and jobs, and the
//! rule for what a run's status is.
//!
//! Everything here is bounded by [`Limits`](super::Limits) and mutated only through
//! [`Monitor::apply`](super::Monitor::apply); the TUI reads it through the getters.

use super::Limits;
use crate::delivery::{Delivery, Headers};
use crate::gitee::payload::{restore_up_params_forms, up_params_forms};
use crate::gitee::{Auth, GlobalParam, Source, Status, UpParamsForm};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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
        }
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
        if applied.fate == Fate::Updated {
            self.updated_at = delivery.received_at;
        }
        applied
    }
}

/// One build of a pipeline: its stages in the order they were first seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    build: Option<u64>,
    stages: Vec<Stage>,
    #[serde(skip)]
    jobs: StatusCounts,
    /// The sources and globalParams that describe this run. Jobs of one run share them rather
    /// than each keeping its own, which bounds memory by runs, not events; a copy of the monitor
    /// (saving it in the background) shares them too, which halves what copying costs.
    context: Arc<RunContext>,
    checkouts: Arc<[Checkout]>,
    /// When the first event of this run arrived, and when an event last changed it. Nothing
    /// shows them; they stay because saved monitors carry them.
    started_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Run {
    fn new(build: Option<u64>, delivery: &Delivery, limits: &Limits) -> Run {
        let at = delivery.received_at;
        Run {
            build,
            stages: Vec::new(),
            jobs: StatusCounts::default(),
            checkouts: checkouts(&delivery.notification.sources, limits.text),
            context: Arc::new(RunContext::of(delivery)),
            started_at: at,
            updated_at: at,
        }
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
    fn apply(
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
                let url = job.pipeline_url.take();
                *job = JobState::new(update, url, delivery, limits);
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
        let described = !new && describes_more(delivery, &self.context);
        if described {
            self.context = Arc::new(RunContext::of(delivery));
            self.checkouts = checkouts(&delivery.notification.sources, limits.text);
        }
        UpdateApplied {
            fate: Fate::Updated,
            newly_failed,
            described,
        }
    }
}

/// What a run keeps of the delivery that describes it: its sources and globalParams, and how
/// it arrived, for the detail pane.
///
/// A copy, made here: deliveries are allocated on the receiver's threads among thousands that
/// are freed right after they are applied, and a kept one would hold its allocator pages (and
/// whatever else is on them) for good. The copy sits with the monitor's other long-lived data,
/// so the pages of the short-lived ones can go back to the system; and it leaves out the job's
/// fields, which the run's jobs keep themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct RunContext {
    /// The delivery it was taken from.
    pub delivery_id: u64,
    pub auth: Auth,
    /// That delivery needed the tolerant parser.
    pub repaired: bool,
    /// That delivery's `X-Gitee-Event` and `X-Request-ID`, if sent: whether pipeline
    /// notifications send them is unknown, so the detail pane shows what arrived.
    pub headers: Headers,
    pub sources: Vec<Source>,
    pub global_params: Vec<GlobalParam>,
}

impl RunContext {
    fn of(delivery: &Delivery) -> RunContext {
        RunContext {
            delivery_id: delivery.id,
            auth: delivery.auth,
            repaired: delivery.repaired,
            headers: delivery.headers.clone(),
            sources: delivery.notification.sources.clone(),
            global_params: delivery.notification.global_params.clone(),
        }
    }
}

/// Sources always write `upParams` as an object, so how each arrived is kept beside them, as
/// the journal does.
impl Serialize for RunContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ContextOut {
            delivery_id: self.delivery_id,
            auth: self.auth,
            repaired: self.repaired,
            headers: &self.headers,
            sources: &self.sources,
            forms: up_params_forms(&self.sources),
            global_params: &self.global_params,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RunContext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut context = ContextIn::deserialize(deserializer)?;
        restore_up_params_forms(&mut context.sources, context.forms);
        Ok(RunContext {
            delivery_id: context.delivery_id,
            auth: context.auth,
            repaired: context.repaired,
            headers: context.headers,
            sources: context.sources,
            global_params: context.global_params,
        })
    }
}

#[derive(Serialize)]
struct ContextOut<'a> {
    delivery_id: u64,
    auth: Auth,
    repaired: bool,
    #[serde(skip_serializing_if = "is_default")]
    headers: &'a Headers,
    sources: &'a [Source],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forms: Vec<Option<UpParamsForm>>,
    global_params: &'a [GlobalParam],
}

#[derive(Deserialize)]
struct ContextIn {
    delivery_id: u64,
    auth: Auth,
    repaired: bool,
    #[serde(default)]
    headers: Headers,
    sources: Vec<Source>,
    #[serde(default)]
    forms: Vec<Option<UpParamsForm>>,
    global_params: Vec<GlobalParam>,
}

fn is_default(headers: &&Headers) -> bool {
    **headers == Headers::default()
}

/// Whether `delivery` should replace `context` as the run's description: it carries sources or
/// globalParams, and they differ (an event that lost them does not erase what is known).
fn describes_more(delivery: &Delivery, context: &RunContext) -> bool {
    let new = &delivery.notification;
    !(new.sources.is_empty() && new.global_params.is_empty())
        && (new.sources != context.sources || new.global_params != context.global_params)
}

/// What search looks at in a `GITEE_GO` source. Small, so a log entry can keep it after its
/// run is gone without keeping the whole delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Checkout {
    pub repo_path: Option<Box<str>>,
    pub branch: Option<Box<str>>,
    pub commit_id: Option<Box<str>>,
}

/// Repository, branch and commit of each `GITEE_GO` source, as received.
fn gitee_go(
    sources: &[Source],
) -> impl Iterator<Item = (&Option<String>, &Option<String>, &Option<String>)> {
    sources.iter().filter_map(|source| match source {
        Source::GiteeGo {
            repo_path,
            branch,
            commit_id,
            ..
        } => Some((repo_path, branch, commit_id)),
        _ => None,
    })
}

pub(crate) fn checkouts(sources: &[Source], max_chars: usize) -> Arc<[Checkout]> {
    let keep = |text: &Option<String>| text.as_deref().map(|t| bounded(t, max_chars).into());
    gitee_go(sources)
        .map(|(repo_path, branch, commit_id)| Checkout {
            repo_path: keep(repo_path),
            branch: keep(branch),
            commit_id: keep(commit_id),
        })
        .collect()
}

/// Checkouts read back from a saved monitor, each distinct list kept once, as runs and the log
/// entries of their events share them while events are applied.
#[derive(Default)]
pub(crate) struct Checkouts(foldhash::HashSet<Arc<[Checkout]>>);

impl Checkouts {
    pub fn share(&mut self, checkouts: &Arc<[Checkout]>) -> Arc<[Checkout]> {
        if let Some(known) = self.0.get(&**checkouts) {
            return Arc::clone(known);
        }
        self.0.insert(Arc::clone(checkouts));
        Arc::clone(checkouts)
    }
}

/// The jobs of one stage, in first-seen order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    name: Option<Arc<str>>,
    jobs: Vec<JobState>,
    #[serde(skip)]
    unfinished: usize,
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

/// A job's latest known status in one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobState {
    name: Option<Arc<str>>,
    status: Status,
    code: Option<Arc<str>>,
    status_name: Option<Arc<str>>,
    /// Shared with the job it replaced or the stage's first job when the text is the same.
    pipeline_url: Option<Arc<str>>,
    updated_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    delivery_id: u64,
    /// The fields of that delivery that arrived in another shape; nearly always none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    misfits: Option<Arc<Misfits>>,
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
                let note = bounded(&misfit.to_string(), limits.text).into();
                let raw = bounded(&misfit.raw.to_string(), limits.text).into();
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
    fn new(
        update: &JobUpdate,
        known: Option<Arc<str>>,
        delivery: &Delivery,
        limits: &Limits,
    ) -> JobState {
        let pipeline_url = update.pipeline_url.map(|url| match known {
            Some(known) if *known == *url => known,
            _ => Arc::from(bounded(url, limits.url)),
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
            misfits: Misfits::of(delivery, limits),
        }
    }

    /// Why an update must not replace this state, if it must not: it says nothing new, it is
    /// older by the sender's clock, or it would turn a final status back into an unfinished one.
    /// Without both sender timestamps, arrival order decides, and the update arrived later.
    fn supersedes(&self, update: &JobUpdate) -> Option<Fate> {
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
        if self.status.is_final() && !update.status.is_final() {
            return Some(Fate::Stale);
        }
        None
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

/// What applying one [`JobUpdate`] did to its pipeline; [`Monitor::apply`](super::Monitor::apply)
/// turns it into the [`Applied`](super::Applied) of the whole delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UpdateApplied {
    pub fate: Fate,
    pub newly_failed: bool,
    /// The run's context (and so its checkouts) was just taken from this delivery.
    pub described: bool,
}

impl UpdateApplied {
    fn dropped(fate: Fate) -> UpdateApplied {
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

/// Whether two names read the same. Names come from [`Names`], so equal ones are mostly the
/// same allocation: comparing the pointers first spares reading the text.
fn same(a: Option<&Arc<str>>, b: Option<&Arc<str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// Makes room for one more element, growing by a quarter instead of doubling: with hundreds of
/// thousands of small runs and stages, doubling's spare room would cost more than the data.
fn grow_tight<T>(items: &mut Vec<T>) {
    if items.len() == items.capacity() {
        items.reserve_exact((items.len() / 4).max(1));
    }
}

/// Shares the `Arc<str>` of names seen before, so a thousand runs of "Java Build" hold one
/// copy. Bounded: once full it stops remembering, and later names are simply not shared.
///
/// Hashed with foldhash rather than SipHash: five names are looked up for every event, and the
/// bound caps what keys chosen to collide could cost at a few thousand comparisons.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    set: foldhash::HashSet<Arc<str>>,
    max_chars: usize,
}

impl Names {
    const CAPACITY: usize = 4096;

    pub fn new(max_chars: usize) -> Names {
        Names {
            set: foldhash::HashSet::default(),
            max_chars,
        }
    }

    /// The raw text is looked up before it is cleaned: every name kept is already clean and
    /// within `max_chars`, and cleaning such text returns it unchanged, so a hit on the raw
    /// text is the name cleaning would have found. Only new or unsafe text pays for cleaning.
    pub fn get(&mut self, raw: &str) -> Arc<str> {
        if let Some(known) = self.set.get(raw) {
            return known.clone();
        }
        let clean = bounded(raw, self.max_chars);
        if let Some(known) = self.set.get(clean.as_ref()) {
            return known.clone();
        }
        let name: Arc<str> = Arc::from(clean.as_ref());
        if self.set.len() < Self::CAPACITY {
            self.set.insert(name.clone());
        }
        name
    }

    /// Replaces `name` with the copy this set shares, if it has one or can take it.
    pub fn share(&mut self, name: &mut Option<Arc<str>>) {
        if let Some(name) = name {
            *name = self.get(name);
        }
    }
}

/// Text from the network made safe to keep and show: escape sequences, control characters and
/// bidirectional overrides removed whole (see [`crate::text::clean`]), and anything wider than
/// `max_width` terminal columns cut with `…`.
pub fn bounded(raw: &str, max_width: usize) -> Cow<'_, str> {
    crate::text::clean(raw, max_width)
}
