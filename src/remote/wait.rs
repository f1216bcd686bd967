//! `pipetop wait`: blocks until a matching run finishes and says how it went, for scripts.
//!
//! The feed's history comes first, so a run that finished just before `wait` started is
//! found there. Gitee sends no "run finished" notification, only each job's status, so a run
//! counts as finished once every job seen is final and nothing new has arrived for it for
//! `--settle` (a later stage's first job would have arrived by then).

use super::{Event, Feed, FeedError, Update, follow};
use crate::delivery::Delivery;
use crate::gitee::{Source, Status};
use crate::monitor::{StatusCounts, derive_status};
use crate::text::clean;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How often the settle time is looked at while nothing arrives.
const TICK: Duration = Duration::from_millis(200);

/// Which run to wait for, and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub feed: Feed,
    /// Only the history received this recently.
    pub since: Option<Duration>,
    /// A pipeline's name or id.
    pub pipeline: String,
    pub build: Option<u64>,
    pub branch: Option<String>,
    /// A commit, or the start of one.
    pub commit: Option<String>,
    /// Without a build: the latest finished run from the history, rather than the next one.
    pub latest: bool,
    pub timeout: Option<Duration>,
    pub settle: Duration,
    pub quiet: bool,
}

/// How the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Finished {
        pipeline: String,
        build: Option<u64>,
        status: Status,
    },
    TimedOut,
}

impl Outcome {
    /// `0` success (or every job skipped), `1` failed, `3` cancelled, `4` timed out.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Finished {
                status: Status::Failed,
                ..
            } => 1,
            Outcome::Finished {
                status: Status::Cancelled,
                ..
            } => 3,
            Outcome::Finished { .. } => 0,
            Outcome::TimedOut => 4,
        }
    }
}

/// One run seen in the feed.
#[derive(Debug, Default)]
struct Run {
    name: String,
    build: Option<u64>,
    /// Stage, job, status, printed: in first-seen order.
    jobs: Vec<(String, String, Status, bool)>,
    last_change: Option<DateTime<Utc>>,
    branches: HashSet<String>,
    commits: HashSet<String>,
}

impl Run {
    fn status(&self) -> Status {
        let mut counts = StatusCounts::default();
        for (_, _, status, _) in &self.jobs {
            counts.add(*status);
        }
        derive_status(&counts)
    }

    fn finished(&self, settle: Duration, now: DateTime<Utc>) -> bool {
        self.status().is_final()
            && self.last_change.is_some_and(|at| {
                now.signed_duration_since(at)
                    .to_std()
                    .is_ok_and(|since| since >= settle)
                    || settle.is_zero()
            })
    }

    fn title(&self) -> String {
        match self.build {
            Some(build) => format!("{} #{build}", self.name),
            None => self.name.clone(),
        }
    }
}

/// What the runs of the feed look like, as far as the options care.
struct Runs<'a> {
    options: &'a Options,
    runs: HashMap<(String, Option<u64>), Run>,
    live: bool,
    /// Without a build: runs already finished when the history was in, which are not "the
    /// next one".
    before: HashSet<(String, Option<u64>)>,
}

impl<'a> Runs<'a> {
    fn new(options: &'a Options) -> Runs<'a> {
        Runs {
            options,
            runs: HashMap::new(),
            live: false,
            before: HashSet::new(),
        }
    }

    fn apply(&mut self, delivery: &Delivery) {
        let job = &delivery.notification.job;
        let id = job.pipeline_id.map(|id| id.to_string());
        let name = job.pipeline_name.as_deref();
        if name != Some(self.options.pipeline.as_str())
            && id.as_deref() != Some(self.options.pipeline.as_str())
        {
            return;
        }
        if self.options.build.is_some() && job.build_number != self.options.build {
            return;
        }
        let key = (
            id.unwrap_or_else(|| name.unwrap_or_default().to_owned()),
            job.build_number,
        );
        let run = self.runs.entry(key).or_default();
        run.name = clean(name.unwrap_or(&self.options.pipeline), 120).into_owned();
        run.build = job.build_number;
        for source in &delivery.notification.sources {
            if let Source::GiteeGo {
                branch, commit_id, ..
            } = source
            {
                run.branches.extend(branch.clone());
                run.commits.extend(commit_id.clone());
            }
        }
        let stage = clean(job.stage_name.as_deref().unwrap_or("?"), 120).into_owned();
        let name = clean(job.job_name.as_deref().unwrap_or("?"), 120).into_owned();
        let status = job.status();
        run.last_change = Some(delivery.received_at);
        match run
            .jobs
            .iter_mut()
            .find(|(s, j, ..)| *s == stage && *j == name)
        {
            // A late non-final status never undoes a final one.
            Some((_, _, known, _)) if known.is_final() && !status.is_final() => {}
            Some((_, _, known, printed)) => {
                if *known != status {
                    *printed = false;
                }
                *known = status;
            }
            None => run.jobs.push((stage, name, status, false)),
        }
    }

    fn matches(&self, run: &Run) -> bool {
        let branch = self
            .options
            .branch
            .as_ref()
            .is_none_or(|branch| run.branches.contains(branch));
        let commit = self.options.commit.as_ref().is_none_or(|commit| {
            run.commits
                .iter()
                .any(|seen| seen.starts_with(commit.as_str()))
        });
        branch && commit
    }

    /// Prints each final job not printed yet, of the runs this wait cares about.
    fn print_finished_jobs(&mut self) {
        if self.options.quiet || (!self.live && self.options.build.is_none()) {
            return;
        }
        let wanted: Vec<_> = self
            .runs
            .iter()
            .filter(|(key, run)| self.matches(run) && !self.before.contains(*key))
            .map(|(key, _)| key.clone())
            .collect();
        for key in wanted {
            let Some(run) = self.runs.get_mut(&key) else {
                continue;
            };
            let title = run.title();
            for (stage, job, status, printed) in &mut run.jobs {
                if status.is_final() && !*printed {
                    println!("{title} {stage} / {job}: {}", status.word());
                    *printed = true;
                }
            }
        }
    }

    /// The run this wait ends with, if it has finished.
    fn done(&self, now: DateTime<Utc>) -> Option<&Run> {
        let settle = self.options.settle;
        let finished = self
            .runs
            .iter()
            .filter(|(_, run)| self.matches(run) && run.finished(settle, now));
        if !self.live {
            return None;
        }
        if self.options.build.is_some() {
            return finished.map(|(_, run)| run).next();
        }
        finished
            .filter(|(key, _)| !self.before.contains(*key))
            .map(|(_, run)| run)
            .max_by_key(|run| run.build)
    }

    /// The history is in: with `--latest`, the latest run finished in it; otherwise a run
    /// whose jobs are all final already is not the next run.
    fn history_done(&mut self, now: DateTime<Utc>) -> Option<&Run> {
        // A reconnection says so again: runs that finished meanwhile are not "before".
        if self.live {
            return self.done(now);
        }
        self.live = true;
        let settle = self.options.settle;
        if self.options.build.is_some() {
            return self.done(now);
        }
        if self.options.latest {
            return self
                .runs
                .values()
                .filter(|run| self.matches(run) && run.finished(settle, now))
                .max_by_key(|run| run.build);
        }
        let before: Vec<_> = self
            .runs
            .iter()
            .filter(|(_, run)| self.matches(run) && run.status().is_final())
            .map(|(key, _)| key.clone())
            .collect();
        self.before.extend(before);
        None
    }
}

/// Waits as `options` say. Connection trouble is retried until the timeout; a refusal (a
/// wrong token, not a pipetop server) ends the wait at once.
pub fn run(options: &Options) -> Result<Outcome, FeedError> {
    let deadline = options.timeout.map(|timeout| Instant::now() + timeout);
    let (tx, rx) = mpsc::channel();
    let (feed, since) = (options.feed.clone(), options.since);
    std::thread::spawn(move || {
        let ended = follow(&feed, since, |update| match update {
            Update::Event(event) => match tx.send(Ok(event)) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            },
            Update::Link(_) => ControlFlow::Continue(()),
        });
        if let Err(err) = ended {
            let _ = tx.send(Err(err));
        }
    });
    let mut runs = Runs::new(options);
    loop {
        let wait = match deadline {
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) => left.min(TICK),
                None => return Ok(Outcome::TimedOut),
            },
            None => TICK,
        };
        let found = match rx.recv_timeout(wait) {
            Ok(Ok(Event::Accepted(delivery))) => {
                runs.apply(&delivery);
                runs.print_finished_jobs();
                runs.done(Utc::now())
            }
            Ok(Ok(Event::Live)) => match runs.history_done(Utc::now()) {
                Some(run) => Some(run),
                None => runs.done(Utc::now()),
            },
            Ok(Ok(Event::Rejected(_) | Event::Backlog(_))) => None,
            Ok(Ok(Event::Foreign(sentence))) => {
                if !options.quiet {
                    eprintln!("pipetop: {sentence}");
                }
                None
            }
            Ok(Err(err)) => return Err(err),
            Err(RecvTimeoutError::Timeout) => runs.done(Utc::now()),
            Err(RecvTimeoutError::Disconnected) => return Ok(Outcome::TimedOut),
        };
        if let Some(run) = found {
            let outcome = Outcome::Finished {
                pipeline: run.name.clone(),
                build: run.build,
                status: run.status(),
            };
            if !options.quiet {
                for (stage, job, status, printed) in &run.jobs {
                    if !printed {
                        println!("{} {stage} / {job}: {}", run.title(), status.word());
                    }
                }
                println!("{}: {}", run.title(), run.status().word());
            }
            return Ok(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitee::StatusCode;

    fn options() -> Options {
        let server = crate::remote::Server::new("http://127.0.0.1:1", String::new()).unwrap();
        Options {
            feed: Feed::Server(server),
            since: None,
            pipeline: "deploy".into(),
            build: None,
            branch: None,
            commit: None,
            latest: false,
            timeout: None,
            settle: Duration::from_secs(15),
            quiet: true,
        }
    }

    fn job(id: u64, status: &str) -> Delivery {
        let mut delivery = crate::testing::delivery(id);
        let job = &mut delivery.notification.job;
        job.pipeline_name = Some("deploy".into());
        job.build_number = Some(7);
        job.status_code = Some(StatusCode(status.into()));
        delivery
    }

    #[test]
    fn a_run_that_finishes_while_the_feed_reconnects_is_still_the_next_run() {
        let options = options();
        let mut runs = Runs::new(&options);
        let now = Utc::now();
        assert!(runs.history_done(now).is_none());
        runs.apply(&job(1, "FAIL"));
        // The feed reconnected before the run settled: its history is in again.
        assert!(runs.history_done(now).is_none());
        let later = now + chrono::Duration::seconds(20);
        let run = runs.done(later).expect("the run is found once it settles");
        assert_eq!((run.build, run.status()), (Some(7), Status::Failed));
    }
}
