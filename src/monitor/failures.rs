//! The way to a failure: which run of each pipeline is the failing one, every failed job in
//! display order (for the keys that jump from one to the next), whether a job is flaky, and
//! what changed since the pipeline last passed. Asked for one key press or one selected job at
//! a time, so nothing here is kept.

use super::model::{JobState, Pipeline, PipelineKey, Run, Stage};
use super::{Filter, Monitor};
use crate::gitee::{Source, Status};
use crate::text::clean;
use std::collections::BTreeMap;

/// Where a failed job is: enough for the view to select it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedJob {
    pub pipeline: PipelineKey,
    pub build: Option<u64>,
    pub stage: Option<String>,
    pub job: Option<String>,
}

/// The run a failure is shown from: the latest when it failed, else the last finished one when
/// that failed (a newer run going does not hide it).
pub fn failing_run(pipeline: &Pipeline) -> Option<&Run> {
    let latest = pipeline.latest_run()?;
    if latest.status() == Status::Failed {
        return Some(latest);
    }
    pipeline
        .last_finished_run()
        .filter(|run| run.status() == Status::Failed)
}

impl Monitor {
    /// Every failed job of every pipeline's failing run, pipelines in the filter's order, jobs
    /// stage by stage.
    pub fn failed_jobs(&self, filter: &Filter) -> Vec<FailedJob> {
        let mut out = Vec::new();
        for pipeline in self.pipelines(filter) {
            let Some(run) = failing_run(pipeline) else {
                continue;
            };
            for (stage, job) in run.jobs().filter(|(_, j)| j.status() == Status::Failed) {
                out.push(FailedJob {
                    pipeline: pipeline.key().clone(),
                    build: run.build(),
                    stage: stage.name().map(str::to_owned),
                    job: job.name().map(str::to_owned),
                });
            }
        }
        out
    }
}

/// Flaky: the job failed and then passed on the same commit, in a re-run within this build or
/// in an earlier build of the same commit. The failed attempt's build, if it was another one.
pub fn flaky(pipeline: &Pipeline, run: &Run, stage: &Stage, job: &JobState) -> Option<Flaky> {
    if job.status() != Status::Success {
        return None;
    }
    if job.is_flaky() {
        return Some(Flaky { failed_in: None });
    }
    let commit = run.checkout()?.commit_id.as_deref()?;
    pipeline
        .runs()
        .rev()
        .filter(|other| other.build() < run.build())
        .filter(|other| other.checkout().and_then(|c| c.commit_id.as_deref()) == Some(commit))
        .find(|other| {
            other.jobs().any(|(s, j)| {
                s.name() == stage.name() && j.name() == job.name() && j.status() == Status::Failed
            })
        })
        .map(|other| Flaky {
            failed_in: Some(other.build()),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flaky {
    /// `None`: an earlier attempt in the same run failed; `Some(build)`: that build's run of the
    /// same commit failed.
    pub failed_in: Option<Option<u64>>,
}

/// What changed since the pipeline last passed on this branch.
#[derive(Debug, Clone)]
pub struct SincePassed<'a> {
    /// The newest successful run before the failing one, on the same branch.
    pub passed: &'a Run,
    /// `globalParams` whose values differ, by key: (key, then, now).
    pub global_params: Vec<Change>,
    /// `upParams` of `PIPELINE` sources whose values differ, by key.
    pub up_params: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub then: Option<String>,
    pub now: Option<String>,
}

/// The last successful run of `pipeline` before `run` on `run`'s branch (any branch when it has
/// none), and the parameters that differ between the two; `None` when no such run is kept.
pub fn since_passed<'a>(pipeline: &'a Pipeline, run: &Run) -> Option<SincePassed<'a>> {
    let branch = run.checkout().and_then(|c| c.branch.as_deref());
    let passed = pipeline
        .runs()
        .rev()
        .filter(|other| other.build() < run.build() && other.status() == Status::Success)
        .find(|other| {
            branch.is_none() || other.checkout().and_then(|c| c.branch.as_deref()) == branch
        })?;
    let globals = |r: &Run| {
        r.global_params()
            .iter()
            .filter_map(|p| Some((p.key.clone()?, p.value.clone().unwrap_or_default())))
            .collect::<BTreeMap<_, _>>()
    };
    let ups = |r: &Run| {
        let mut all = BTreeMap::new();
        for source in r.sources() {
            if let Source::Pipeline {
                up_params: Some(up),
                ..
            } = source
            {
                for (key, value) in &up.values {
                    let text = match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    all.insert(key.clone(), text);
                }
            }
        }
        all
    };
    Some(SincePassed {
        passed,
        global_params: changes(&globals(passed), &globals(run)),
        up_params: changes(&ups(passed), &ups(run)),
    })
}

/// Keys whose values differ between `then` and `now`, cleaned for the screen.
fn changes(then: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> Vec<Change> {
    let keep = |v: Option<&String>| v.map(|v| clean(v, 128).into_owned());
    let mut keys: Vec<&String> = then.keys().chain(now.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| then.get(*key) != now.get(*key))
        .map(|key| Change {
            key: clean(key, 128).into_owned(),
            then: keep(then.get(key)),
            now: keep(now.get(key)),
        })
        .collect()
}
