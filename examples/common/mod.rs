//! What the measurement tools (`loadgen`, `replay`) share: a cheap repeatable generator, the
//! status codes weighted the way job changes arrive, and the notification body they send.

use std::fmt::Write as _;

/// Status codes weighted the way job changes arrive: most are a job starting or finishing well.
/// Each is (code, statusName, weight).
pub const STATUSES: &[(&str, &str, u64)] = &[
    ("RUNNING", "Running", 40),
    ("SUCC", "Success", 40),
    ("FAIL", "Failed", 8),
    ("WAITING", "Waiting", 5),
    ("CANCEL", "Cancelled", 3),
    ("SKIP", "Skipped", 3),
    ("UNKOWN", "未知", 1),
];

/// xorshift64*: good enough to spread choices, repeatable, and costs nothing next to the work
/// being measured.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    /// A (code, statusName) drawn with the weights of [`STATUSES`].
    pub fn status(&mut self) -> (&'static str, &'static str) {
        let total: u64 = STATUSES.iter().map(|s| s.2).sum();
        let mut roll = self.next() % total;
        STATUSES
            .iter()
            .find(|s| {
                let hit = roll < s.2;
                roll = roll.saturating_sub(s.2);
                hit
            })
            .map_or(("SUCC", "Success"), |s| (s.0, s.1))
    }
}

/// What varies from one generated notification to the next.
pub struct Event<'a> {
    pub pipeline: u64,
    pub stage: &'a str,
    pub job: &'a str,
    pub code: &'a str,
    pub name: &'a str,
    pub build: u64,
    /// The parts of a 40-digit commit id.
    pub commit: (u64, u64, u32),
    /// Also triggered by an upstream pipeline, with `upParams` as a JSON string.
    pub upstream: bool,
}

impl Event<'_> {
    /// The notification body, about 600 bytes, written over `body`: a job of pipeline
    /// `service-N-ci` (id 255000 + N) from a Gitee repository, and two global parameters.
    pub fn write_body(&self, body: &mut String) {
        let Event {
            pipeline, build, ..
        } = *self;
        let id = 255_000 + pipeline;
        body.clear();
        // Writing into a String cannot fail.
        let _ = write!(
            body,
            r#"{{"job":{{"pipelineId":{id},"pipelineName":"service-{pipeline}-ci","stageName":"{}","jobName":"{}","buildNumber":{build},"statusCode":"{}","statusName":"{}","pipelineUrl":"https://e.gitee.com/acme/projects/210455/pipelines/{id}/history/{build}"}},"sources":[{{"sourceType":"GITEE_GO","repoPath":"acme/service-{pipeline}","branch":"master","commitId":"{:016x}{:016x}{:08x}"}}"#,
            self.stage, self.job, self.code, self.name, self.commit.0, self.commit.1, self.commit.2,
        );
        if self.upstream {
            let _ = write!(
                body,
                r#",{{"sourceType":"PIPELINE","buildNumber":{up},"upParams":"{{\"GITEE_REPO\":\"acme/platform\",\"GITEE_BRANCH\":\"master\",\"GITEE_COMMIT\":\"{:016x}\"}}"}}"#,
                self.commit.0,
                up = build / 2,
            );
        }
        body.push_str(
            r#"],"globalParams":[{"key":"DEPLOY_ENV","value":"staging"},{"key":"REGION","value":"cn-east-2"}]}"#,
        );
    }
}
