//! What the user is looking at: focus, selection, filter, search input, log scroll, overlay.
//!
//! Selections are kept by key (pipeline key, build, stage and job name), not by row, so rows
//! moving as deliveries arrive never move the selection to another pipeline. When a selected
//! item is filtered out or evicted, the first visible one stands in for it. Keys change the view
//! and return an [`Errand`] for the loop to carry out; nothing here touches the terminal.

pub use super::focus::Focus;
use super::focus::moved;
use super::keys::{self, Action};
use crate::delivery::Progress;
use crate::monitor::{
    FailedJob, Filter, JobState, LogEvent, Monitor, Pipeline, PipelineKey, Run, Stage,
    StatusFilter, failing_run,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a message such as "copied" stays in the footer.
const FLASH: Duration = Duration::from_secs(3);
/// Rows moved by PageUp and PageDown.
const PAGE: usize = 10;

/// What the loop must do after a key, on the view's behalf: quit, or go out to the browser or
/// the clipboard, which the view never touches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Errand {
    None,
    Quit,
    Open(String),
    /// The key pressed in the `y` menu: copy what it stands for.
    Copy(char),
    /// Hide this pipeline until its next delivery.
    Hide(PipelineKey),
    ShowHidden,
}

/// A job's identity within a run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JobKey {
    stage: Option<Arc<str>>,
    job: Option<Arc<str>>,
}

impl JobKey {
    fn of(stage: &Stage, job: &JobState) -> JobKey {
        JobKey {
            stage: stage.name().map(Arc::from),
            job: job.name().map(Arc::from),
        }
    }

    fn is(&self, stage: &Stage, job: &JobState) -> bool {
        self.stage.as_deref() == stage.name() && self.job.as_deref() == job.name()
    }
}

/// A job of the shown run as the jobs pane lists it: `matches` is false for a job shown only
/// as context around the ones the status filter picks (drawn dimmed).
pub type ShownJob<'m> = (&'m Stage, &'m JobState, bool);

#[derive(Debug)]
pub struct View {
    pub focus: Focus,
    pub help: bool,
    pub filter: Filter,
    /// The search box has the keyboard.
    pub typing: bool,
    pipeline: Option<PipelineKey>,
    /// `None` follows the latest run; `Some(build)` stays on that run.
    run: Option<Option<u64>>,
    job: Option<JobKey>,
    /// `None` follows the newest entry; `Some(seq)` keeps that entry at the bottom.
    log_anchor: Option<u64>,
    pub detail_scroll: u16,
    /// First row of the help overlay shown, when it does not fit.
    pub help_scroll: u16,
    /// The furthest each of the two can scroll, as the last frame drew them: only the draw
    /// knows how many rows the text wraps to on this screen.
    pub detail_limit: Cell<u16>,
    pub help_limit: Cell<u16>,
    /// The `y` menu is open: the next letter picks what to copy.
    pub copy_menu: bool,
    flash: Option<(String, Instant)>,
    /// How far the journal's history has loaded, while it loads.
    pub history: Option<Progress>,
}

impl Default for View {
    fn default() -> View {
        View::new()
    }
}

impl View {
    pub fn new() -> View {
        View {
            focus: Focus::Pipelines,
            help: false,
            filter: Filter::default(),
            typing: false,
            pipeline: None,
            run: None,
            job: None,
            log_anchor: None,
            detail_scroll: 0,
            help_scroll: 0,
            detail_limit: Cell::new(u16::MAX),
            help_limit: Cell::new(u16::MAX),
            copy_menu: false,
            flash: None,
            history: None,
        }
    }

    /// The selected pipeline: the chosen one while it is visible, else the first visible.
    pub fn pipeline<'m>(&self, monitor: &'m Monitor) -> Option<&'m Pipeline> {
        self.pipeline
            .as_ref()
            .and_then(|key| monitor.pipeline(key))
            .filter(|p| !p.is_hidden())
            .filter(|p| self.filter.is_empty() || self.filter.matches_pipeline(p))
            .or_else(|| monitor.pipelines(&self.filter).next())
    }

    /// The selected pipeline's row in the filtered list.
    pub fn pipeline_index(&self, monitor: &Monitor) -> usize {
        self.pipeline(monitor)
            .and_then(|p| monitor.pipeline_position(&self.filter, p.key()))
            .unwrap_or(0)
    }

    /// The run shown in the jobs pane: the pinned one while it is kept, else the latest; under
    /// the FAIL filter, the failing run when a newer one is going.
    pub fn run<'m>(&self, monitor: &'m Monitor) -> Option<(&'m Pipeline, &'m Run)> {
        let pipeline = self.pipeline(monitor)?;
        let failing = || {
            (self.filter.status == StatusFilter::Failed)
                .then(|| failing_run(pipeline))
                .flatten()
        };
        let run = self
            .run
            .and_then(|build| pipeline.run(build))
            .or_else(failing)
            .or_else(|| pipeline.latest_run())?;
        Some((pipeline, run))
    }

    /// Whether the jobs pane follows the latest run.
    pub fn follows_latest_run(&self) -> bool {
        self.run.is_none()
    }

    /// The jobs of the shown run that the search finds, stage by stage; those the status
    /// filter leaves out are there too, marked, as context.
    pub fn jobs<'m>(&self, monitor: &'m Monitor) -> Vec<ShownJob<'m>> {
        match self.run(monitor) {
            Some((pipeline, run)) => monitor
                .jobs_in_context(pipeline, run, &self.filter)
                .collect(),
            None => Vec::new(),
        }
    }

    /// The selected job's row among [`View::jobs`]: the chosen one, else the first the status
    /// filter picks.
    pub fn job_index(&self, jobs: &[ShownJob]) -> usize {
        self.job
            .as_ref()
            .and_then(|key| jobs.iter().position(|(s, j, _)| key.is(s, j)))
            .or_else(|| jobs.iter().position(|(_, _, matches)| *matches))
            .unwrap_or(0)
    }

    /// The selected job, with its pipeline and run.
    pub fn job<'m>(
        &self,
        monitor: &'m Monitor,
    ) -> Option<(&'m Pipeline, &'m Run, &'m Stage, &'m JobState)> {
        let (pipeline, run) = self.run(monitor)?;
        let jobs = self.jobs(monitor);
        let (stage, job, _) = *jobs.get(self.job_index(&jobs))?;
        Some((pipeline, run, stage, job))
    }

    /// The sequence number of the log entry at the bottom of the log pane, or `None` when the
    /// pane follows new entries.
    pub fn log_anchor(&self) -> Option<u64> {
        self.log_anchor
    }

    pub fn follows_log(&self) -> bool {
        self.log_anchor.is_none()
    }

    /// Anything on screen shows an age that the clock changes.
    pub fn ages_visible(&self, monitor: &Monitor) -> bool {
        monitor.pipeline_total() > 0
    }

    pub fn flash(&mut self, message: String) {
        self.flash = Some((message, Instant::now()));
    }

    pub fn flash_message(&self) -> Option<&str> {
        self.flash.as_ref().map(|(m, _)| m.as_str())
    }

    /// Drops an expired message; says whether the screen changed.
    pub fn expire_flash(&mut self) -> bool {
        let expired = self
            .flash
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() >= FLASH);
        if expired {
            self.flash = None;
        }
        expired
    }

    /// Handles one key press.
    pub fn key(&mut self, key: KeyEvent, monitor: &Monitor) -> Errand {
        if self.typing && self.type_key(key) {
            return Errand::None;
        }
        if self.copy_menu {
            self.copy_menu = false;
            return match key.code {
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    Errand::Copy(c)
                }
                _ => Errand::None,
            };
        }
        match keys::action(&key) {
            Some(action) => self.act(action, monitor),
            None => Errand::None,
        }
    }

    /// Keys for the search box; returns false for keys it leaves to the key table.
    fn type_key(&mut self, key: KeyEvent) -> bool {
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            return false;
        }
        match key.code {
            KeyCode::Char(c) => self.filter.search.push(c),
            KeyCode::Backspace => {
                self.filter.search.pop();
            }
            KeyCode::Enter => self.typing = false,
            KeyCode::Esc => {
                self.typing = false;
                self.filter.search.clear();
            }
            _ => return false,
        }
        true
    }

    pub fn act(&mut self, action: Action, monitor: &Monitor) -> Errand {
        if self.help {
            match action {
                Action::Help | Action::Back => {
                    self.help = false;
                    self.help_scroll = 0;
                }
                Action::Down => self.help_scroll = self.help_scroll.saturating_add(1),
                Action::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
                Action::PageDown => self.help_scroll = self.help_scroll.saturating_add(10),
                Action::PageUp => self.help_scroll = self.help_scroll.saturating_sub(10),
                Action::Top => self.help_scroll = 0,
                Action::Bottom => self.help_scroll = self.help_limit.get(),
                _ => {}
            }
            self.help_scroll = self.help_scroll.min(self.help_limit.get());
            return match action {
                Action::Quit => Errand::Quit,
                _ => Errand::None,
            };
        }
        match action {
            Action::Quit => return Errand::Quit,
            Action::Help => self.help = true,
            Action::Up => self.step(monitor, -1),
            Action::Down => self.step(monitor, 1),
            Action::PageUp => self.step(monitor, -(PAGE as isize)),
            Action::PageDown => self.step(monitor, PAGE as isize),
            Action::Top => self.step(monitor, isize::MIN),
            Action::Bottom => {
                if self.focus == Focus::Log {
                    self.log_anchor = None;
                } else {
                    self.step(monitor, isize::MAX);
                }
            }
            Action::FocusNext => self.focus = self.focus.step(true),
            Action::FocusPrev => self.focus = self.focus.step(false),
            Action::Enter => {
                self.focus = match self.focus {
                    Focus::Pipelines => {
                        self.pin_pipeline(monitor);
                        Focus::Jobs
                    }
                    Focus::Jobs => {
                        self.pin_job(monitor);
                        Focus::Detail
                    }
                    Focus::Log => self.select_logged(monitor),
                    other => other,
                }
            }
            Action::NextFailure => self.jump_to_failure(monitor, true),
            Action::PreviousFailure => self.jump_to_failure(monitor, false),
            Action::Sort => self.filter.order = self.filter.order.next(),
            Action::Back => self.back(),
            Action::OlderRun | Action::NewerRun => self.step_run(monitor, action),
            Action::Filter(status) => self.filter.status = status,
            Action::Search => self.typing = true,
            Action::ToggleFollow => {
                self.log_anchor = match self.log_anchor {
                    Some(_) => None,
                    None => monitor.log_entries(&self.filter).next_back().map(|e| e.seq),
                }
            }
            Action::Hide => {
                return match self.pipeline(monitor) {
                    Some(pipeline) => {
                        let key = pipeline.key().clone();
                        if self.pipeline.as_ref() == Some(&key) {
                            self.pipeline = None;
                            self.run = None;
                            self.job = None;
                        }
                        Errand::Hide(key)
                    }
                    None => Errand::None,
                };
            }
            Action::ShowHidden => return Errand::ShowHidden,
            Action::Copy => {
                if self.job(monitor).is_some() {
                    self.copy_menu = true;
                } else {
                    self.flash("no job is selected: nothing to copy".into());
                }
            }
            Action::Open => {
                let url = self
                    .job(monitor)
                    .and_then(|(_, _, _, job)| job.pipeline_url())
                    .map(str::to_owned);
                return match url {
                    Some(url) => Errand::Open(url),
                    None => {
                        self.flash("no job with a pipelineUrl is selected".into());
                        Errand::None
                    }
                };
            }
        }
        Errand::None
    }

    /// Selects the pipeline, run and job of the log entry at the bottom of the log pane (the
    /// highlighted one), and opens its detail; an entry without a pipeline leaves the focus.
    fn select_logged(&mut self, monitor: &Monitor) -> Focus {
        let entry = monitor
            .log_entries(&self.filter)
            .rev()
            .find(|e| self.log_anchor.is_none_or(|seq| e.seq <= seq));
        let Some(LogEvent::Accepted(accepted)) = entry.map(|e| &e.event) else {
            self.flash("this entry belongs to no pipeline".into());
            return Focus::Log;
        };
        let Some(pipeline) = monitor.pipeline(&accepted.pipeline) else {
            self.flash("that pipeline is no longer kept".into());
            return Focus::Log;
        };
        if !self.filter.matches_pipeline(pipeline) {
            self.filter.status = StatusFilter::All;
        }
        self.select(
            monitor,
            &FailedJob {
                pipeline: accepted.pipeline.clone(),
                build: accepted.build,
                stage: accepted.stage.as_deref().map(str::to_owned),
                job: accepted.job.as_deref().map(str::to_owned),
            },
        );
        Focus::Detail
    }

    /// Selects a pipeline, run and job.
    fn select(&mut self, monitor: &Monitor, at: &FailedJob) {
        self.pipeline = Some(at.pipeline.clone());
        let latest = monitor
            .pipeline(&at.pipeline)
            .and_then(Pipeline::latest_run)
            .map(Run::build);
        self.run = (Some(at.build) != latest).then_some(at.build);
        self.job = Some(JobKey {
            stage: at.stage.as_deref().map(Arc::from),
            job: at.job.as_deref().map(Arc::from),
        });
        self.detail_scroll = 0;
    }

    /// Jumps to the next (or previous) failed job across all pipelines, round, and opens it.
    fn jump_to_failure(&mut self, monitor: &Monitor, forward: bool) {
        let failures = monitor.failed_jobs(&self.filter);
        if failures.is_empty() {
            self.flash("no failed job".into());
            return;
        }
        let current = self
            .job(monitor)
            .map(|(pipeline, run, stage, job)| FailedJob {
                pipeline: pipeline.key().clone(),
                build: run.build(),
                stage: stage.name().map(str::to_owned),
                job: job.name().map(str::to_owned),
            });
        let here = current.and_then(|c| failures.iter().position(|f| *f == c));
        let n = failures.len();
        let to = match (here, forward) {
            (Some(i), true) => (i + 1) % n,
            (Some(i), false) => (i + n - 1) % n,
            (None, true) => 0,
            (None, false) => n - 1,
        };
        self.select(monitor, &failures[to]);
        self.focus = Focus::Detail;
        self.flash(format!("failed job {} of {n}", to + 1));
    }

    fn back(&mut self) {
        match self.focus {
            Focus::Detail => self.focus = Focus::Jobs,
            Focus::Jobs | Focus::Log => self.focus = Focus::Pipelines,
            Focus::Pipelines if !self.filter.search.is_empty() => self.filter.search.clear(),
            Focus::Pipelines => self.filter.status = StatusFilter::All,
        }
    }

    fn pin_pipeline(&mut self, monitor: &Monitor) {
        if self.pipeline.is_none() {
            self.pipeline = self.pipeline(monitor).map(|p| p.key().clone());
        }
    }

    fn pin_job(&mut self, monitor: &Monitor) {
        if self.job.is_none() {
            self.job = self.job(monitor).map(|(_, _, s, j)| JobKey::of(s, j));
        }
    }

    /// Moves the focused pane's selection or scroll by `delta` rows (saturating at the ends).
    fn step(&mut self, monitor: &Monitor, delta: isize) {
        match self.focus {
            Focus::Pipelines => {
                let count = monitor.pipeline_count(&self.filter);
                let to = moved(self.pipeline_index(monitor), delta, count);
                let key = monitor
                    .pipelines(&self.filter)
                    .nth(to)
                    .map(|p| p.key().clone());
                if key.is_some() && key != self.pipeline {
                    self.pipeline = key;
                    self.run = None;
                    self.job = None;
                    self.detail_scroll = 0;
                }
            }
            Focus::Jobs => {
                let jobs = self.jobs(monitor);
                let to = moved(self.job_index(&jobs), delta, jobs.len());
                if let Some((stage, job, _)) = jobs.get(to) {
                    self.job = Some(JobKey::of(stage, job));
                    self.detail_scroll = 0;
                }
            }
            Focus::Detail => {
                let limit = self.detail_limit.get();
                let to = moved(
                    usize::from(self.detail_scroll),
                    delta,
                    usize::from(limit) + 1,
                );
                self.detail_scroll = u16::try_from(to).unwrap_or(limit);
            }
            Focus::Log => self.scroll_log(monitor, delta),
        }
    }

    /// Selects the `row`th row shown of a list pane `height` rows high (a click), scrolled as
    /// the pane draws itself.
    pub(super) fn select_row(
        &mut self,
        monitor: &Monitor,
        focus: Focus,
        row: usize,
        height: usize,
    ) {
        let selected = match focus {
            Focus::Pipelines => self.pipeline_index(monitor),
            Focus::Jobs => self.job_index(&self.jobs(monitor)),
            Focus::Detail | Focus::Log => return,
        };
        let index = super::widgets::scroll_offset(selected, height) + row;
        let delta = index as isize - selected as isize;
        let shown = match focus {
            Focus::Pipelines => monitor.pipeline_count(&self.filter),
            _ => self.jobs(monitor).len(),
        };
        if index < shown {
            let focused = std::mem::replace(&mut self.focus, focus);
            self.step(monitor, delta);
            self.focus = focused;
        }
    }

    /// Scrolls `focus`'s pane by `delta` rows without moving the keyboard's focus (the wheel).
    pub(super) fn scroll(&mut self, monitor: &Monitor, focus: Focus, delta: isize) {
        let focused = std::mem::replace(&mut self.focus, focus);
        self.step(monitor, delta);
        self.focus = focused;
    }

    fn scroll_log(&mut self, monitor: &Monitor, delta: isize) {
        let entries: Vec<u64> = monitor.log_entries(&self.filter).map(|e| e.seq).collect();
        let Some(&newest) = entries.last() else {
            return;
        };
        let at = self.log_anchor.map_or(entries.len() - 1, |seq| {
            entries.partition_point(|s| *s < seq)
        });
        let to = moved(at.min(entries.len() - 1), delta, entries.len());
        self.log_anchor = (entries[to] != newest || delta < 0).then_some(entries[to]);
    }

    fn step_run(&mut self, monitor: &Monitor, action: Action) {
        let Some((pipeline, run)) = self.run(monitor) else {
            return;
        };
        let next = match action {
            Action::OlderRun => pipeline.older_run(run.build()),
            _ => pipeline.newer_run(run.build()),
        };
        if let Some(next) = next {
            self.pipeline = Some(pipeline.key().clone());
            let latest = pipeline.latest_run().map(Run::build);
            self.run = (Some(next.build()) != latest).then_some(next.build());
            self.detail_scroll = 0;
        }
    }
}
