//! Which deliveries are triggers: a job that failed, or the last job of a run to finish. A run
//! is a pipeline's build; it counts as finished when every job pipetop has heard of in it has
//! a final status, so Gitee should notify on the statuses that mark a job as started too.

use crate::gitee::{Job, Status};
use std::collections::{HashMap, VecDeque};

/// What one delivery sets off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Triggers {
    pub failed: bool,
    pub finished: bool,
}

/// How many runs are remembered; the oldest is forgotten first.
const RUNS: usize = 512;

/// A pipeline (its id, or its name without one) and a build number.
type RunKey = (String, Option<u64>);

/// A stage and a job name.
type JobKey = (Option<String>, Option<String>);

/// The jobs seen of each recent run, and their latest status.
#[derive(Debug, Default)]
pub struct Runs {
    jobs: HashMap<RunKey, HashMap<JobKey, Status>>,
    order: VecDeque<RunKey>,
}

impl Runs {
    pub fn see(&mut self, job: &Job) -> Triggers {
        let pipeline = match (job.pipeline_id, &job.pipeline_name) {
            (Some(id), _) => id.to_string(),
            (None, Some(name)) => name.clone(),
            (None, None) => return Triggers::default(),
        };
        let status = job.status();
        let key = (pipeline, job.build_number);
        if !self.jobs.contains_key(&key) {
            if self.order.len() >= RUNS
                && let Some(old) = self.order.pop_front()
            {
                self.jobs.remove(&old);
            }
            self.order.push_back(key.clone());
        }
        let jobs = self.jobs.entry(key).or_default();
        let previous = jobs.insert((job.stage_name.clone(), job.job_name.clone()), status);
        // A redelivered final status sets nothing off twice.
        if previous == Some(status) {
            return Triggers::default();
        }
        Triggers {
            failed: status == Status::Failed,
            finished: status.is_final() && jobs.values().all(|s| s.is_final()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(stage: &str, name: &str, code: &str) -> Job {
        serde_json::from_value(serde_json::json!({
            "pipelineId": 7, "buildNumber": 3, "stageName": stage, "jobName": name,
            "statusCode": code,
        }))
        .unwrap()
    }

    #[test]
    fn a_run_finishes_when_every_job_heard_of_is_final_and_a_failure_fires_once() {
        let mut runs = Runs::default();
        assert_eq!(
            runs.see(&job("Build", "compile", "RUNNING")),
            Triggers::default()
        );
        assert_eq!(
            runs.see(&job("Test", "unit", "RUNNING")),
            Triggers::default()
        );
        let failed = runs.see(&job("Test", "unit", "FAIL"));
        assert!(failed.failed && !failed.finished);
        assert_eq!(runs.see(&job("Test", "unit", "FAIL")), Triggers::default());
        let done = runs.see(&job("Build", "compile", "SUCC"));
        assert!(done.finished && !done.failed);
    }
}
