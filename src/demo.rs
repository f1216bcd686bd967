//! The `--demo` scenario: realistic pipeline activity for a newcomer, fed through the real,
//! signed HTTP endpoint so that everything on screen went the way real traffic goes.
//!
//! The scenario is scripted, not random, so the same run looks the same every time (which also
//! keeps the screenshots reproducible). A first burst replays one finished build of every
//! pipeline within about a second, so the screen is full at once; after that, builds start,
//! run their stages with parallel jobs, and finish over time, forever.

use serde_json::{Value, json};
use std::time::Duration;

/// One notification of the scenario and when to send it, from the scenario's start.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoEvent {
    pub at: Duration,
    pub body: Value,
}

/// How one scripted build goes: every job passes, or the named job fails or is cancelled (and
/// the stages after it are skipped or cancelled), or the named stage is skipped, or the named
/// job fails, is re-run and passes (a retry, and so a flaky job).
#[derive(Clone, Copy)]
enum Plot {
    Pass,
    Fail(&'static str),
    Cancel(&'static str),
    SkipStage(&'static str),
    Retry(&'static str),
}

#[derive(Clone, Copy)]
enum Sources {
    Repo(&'static str),
    Upstream,
    Artifact(&'static str),
}

struct PipelineScript {
    id: u64,
    name: &'static str,
    first_build: u64,
    stages: &'static [(&'static str, &'static [&'static str])],
    sources: Sources,
    chinese: bool,
    /// How the build at this index of a cycle goes (builds alternate through these).
    plots: &'static [Plot],
    /// How the builds before the live ones went, oldest first, the last being `first_build`:
    /// the opening burst, so the history strip has a pattern at once.
    past: &'static [Plot],
    /// When this pipeline's live build starts in each cycle.
    offset_ms: u64,
}

const PIPELINES: &[PipelineScript] = &[
    PipelineScript {
        id: 101,
        name: "api-gateway",
        first_build: 318,
        stages: &[
            ("Build", &["compile", "lint"]),
            ("Test", &["unit", "integration"]),
            ("Deploy", &["staging"]),
        ],
        sources: Sources::Repo("acme/api-gateway"),
        chinese: false,
        plots: &[Plot::Pass, Plot::Pass],
        past: &[
            Plot::Pass,
            Plot::Pass,
            Plot::Pass,
            Plot::Fail("unit"),
            Plot::Pass,
            Plot::Pass,
        ],
        offset_ms: 0,
    },
    PipelineScript {
        id: 102,
        name: "payment-service",
        first_build: 87,
        stages: &[
            ("Build", &["maven-build"]),
            ("Test", &["unit-tests", "contract-tests", "integration"]),
            ("Deploy", &["canary"]),
        ],
        sources: Sources::Repo("acme/payment-service"),
        chinese: false,
        plots: &[Plot::Fail("integration"), Plot::Pass],
        past: &[
            Plot::Pass,
            Plot::Pass,
            Plot::Fail("integration"),
            Plot::Pass,
            Plot::Fail("contract-tests"),
            Plot::Fail("integration"),
        ],
        offset_ms: 2_000,
    },
    PipelineScript {
        id: 103,
        name: "web-frontend",
        first_build: 1204,
        stages: &[
            ("Build", &["npm-ci", "vite-build"]),
            ("Test", &["vitest", "e2e-chromium", "e2e-firefox"]),
            ("Deploy", &["cdn-upload"]),
        ],
        sources: Sources::Repo("acme/web-frontend"),
        chinese: false,
        plots: &[Plot::Retry("e2e-firefox"), Plot::SkipStage("Deploy")],
        past: &[
            Plot::Pass,
            Plot::SkipStage("Deploy"),
            Plot::Pass,
            Plot::Pass,
            Plot::Pass,
        ],
        offset_ms: 5_000,
    },
    PipelineScript {
        id: 104,
        name: "mobile-release",
        first_build: 56,
        stages: &[
            ("Build", &["android", "ios"]),
            ("Test", &["device-farm"]),
            ("Publish", &["app-store", "play-store"]),
        ],
        sources: Sources::Repo("acme/mobile"),
        chinese: false,
        plots: &[Plot::Cancel("device-farm"), Plot::Pass],
        past: &[
            Plot::Pass,
            Plot::Cancel("device-farm"),
            Plot::Pass,
            Plot::Fail("ios"),
            Plot::Pass,
        ],
        offset_ms: 8_000,
    },
    PipelineScript {
        id: 105,
        name: "release-train",
        first_build: 23,
        stages: &[
            ("Verify", &["checksums"]),
            ("Deploy", &["prod-eu", "prod-us"]),
        ],
        sources: Sources::Upstream,
        chinese: false,
        plots: &[Plot::Pass],
        past: &[Plot::Pass, Plot::Pass, Plot::Pass],
        offset_ms: 12_000,
    },
    PipelineScript {
        id: 106,
        name: "数据迁移-nightly",
        first_build: 9,
        stages: &[("迁移", &["schema", "backfill"]), ("校验", &["row-counts"])],
        sources: Sources::Repo("acme/warehouse"),
        chinese: true,
        plots: &[Plot::Pass, Plot::Fail("backfill")],
        past: &[
            Plot::Pass,
            Plot::Fail("backfill"),
            Plot::Pass,
            Plot::Fail("backfill"),
        ],
        offset_ms: 15_000,
    },
    PipelineScript {
        id: 107,
        name: "docs-site",
        first_build: 640,
        stages: &[("Build", &["mdbook"]), ("Deploy", &["pages"])],
        sources: Sources::Repo("acme/docs"),
        chinese: false,
        plots: &[Plot::Pass],
        past: &[Plot::Pass, Plot::Pass, Plot::Pass, Plot::Pass],
        offset_ms: 18_000,
    },
    PipelineScript {
        id: 108,
        name: "infra-terraform",
        first_build: 212,
        stages: &[
            ("Plan", &["terraform-plan"]),
            ("Apply", &["terraform-apply"]),
        ],
        sources: Sources::Artifact("infra-modules"),
        chinese: false,
        plots: &[Plot::Pass, Plot::Pass],
        past: &[
            Plot::Pass,
            Plot::Fail("terraform-apply"),
            Plot::Pass,
            Plot::Pass,
        ],
        offset_ms: 21_000,
    },
];

/// How long one cycle of live builds lasts before the next starts.
pub const CYCLE: Duration = Duration::from_secs(30);

/// The finished builds shown at once: every pipeline's previous builds, within about a second.
pub fn history() -> Vec<DemoEvent> {
    let mut events = Vec::new();
    for (i, script) in PIPELINES.iter().enumerate() {
        let mut start = Duration::from_millis(40 * i as u64);
        let first = script.first_build + 1 - script.past.len() as u64;
        for (build, plot) in (first..).zip(script.past) {
            let from = events.len();
            build_events(script, build, *plot, start, 4, &mut events);
            let end = events[from..].iter().map(|e| e.at).max().unwrap_or(start);
            start = end + Duration::from_millis(4);
        }
    }
    sort(events)
}

/// The live builds of cycle `n` (from 0), with times relative to the cycle's start.
pub fn cycle(n: u64) -> Vec<DemoEvent> {
    let mut events = Vec::new();
    for script in PIPELINES {
        let plot = script.plots[n as usize % script.plots.len()];
        let build = script.first_build + 1 + n;
        let start = Duration::from_millis(script.offset_ms % CYCLE.as_millis() as u64);
        build_events(script, build, plot, start, 1_000, &mut events);
    }
    sort(events)
}

fn sort(mut events: Vec<DemoEvent>) -> Vec<DemoEvent> {
    events.sort_by_key(|e| e.at);
    events
}

/// Appends one build's notifications: stages in order, each stage's jobs in parallel, every job
/// first RUNNING and then final. `scale_ms` is the length of one time unit.
fn build_events(
    script: &PipelineScript,
    build: u64,
    plot: Plot,
    start: Duration,
    scale_ms: u64,
    out: &mut Vec<DemoEvent>,
) {
    let mut t = start;
    let mut stopped: Option<&'static str> = None;
    for (stage_index, (stage, jobs)) in script.stages.iter().enumerate() {
        if let Some(final_code) = stopped {
            for job in jobs.iter() {
                out.push(event(script, build, stage, job, final_code, t));
            }
            continue;
        }
        if matches!(plot, Plot::SkipStage(s) if s == *stage) {
            for job in jobs.iter() {
                out.push(event(script, build, stage, job, "SKIP", t));
            }
            continue;
        }
        let mut stage_end = t;
        for (job_index, job) in jobs.iter().enumerate() {
            out.push(event(script, build, stage, job, "RUNNING", t));
            let units = 2 + (script.id + stage_index as u64 * 3 + job_index as u64 * 2) % 5;
            let end = t + Duration::from_millis(units * scale_ms);
            let code = match plot {
                Plot::Fail(j) if j == *job => "FAIL",
                Plot::Cancel(j) if j == *job => "CANCEL",
                _ => "SUCC",
            };
            let end = match plot {
                Plot::Retry(j) if j == *job => {
                    out.push(event(script, build, stage, job, "FAIL", end));
                    let again = end + Duration::from_millis(scale_ms);
                    out.push(event(script, build, stage, job, "RUNNING", again));
                    again + Duration::from_millis(units * scale_ms)
                }
                _ => end,
            };
            match code {
                "FAIL" => stopped = Some("SKIP"),
                "CANCEL" => stopped = Some("CANCEL"),
                _ => {}
            }
            out.push(event(script, build, stage, job, code, end));
            stage_end = stage_end.max(end);
        }
        t = stage_end + Duration::from_millis(scale_ms / 2);
    }
}

fn status_name(code: &str, chinese: bool) -> &'static str {
    match (code, chinese) {
        ("SUCC", false) => "Success",
        ("FAIL", false) => "Failed",
        ("CANCEL", false) => "Cancelled",
        ("SKIP", false) => "Skipped",
        ("RUNNING", false) => "Running",
        ("SUCC", true) => "成功",
        ("FAIL", true) => "失败",
        ("CANCEL", true) => "已取消",
        ("SKIP", true) => "已跳过",
        _ => "运行中",
    }
}

fn event(
    script: &PipelineScript,
    build: u64,
    stage: &str,
    job: &str,
    code: &str,
    at: Duration,
) -> DemoEvent {
    let h = u128::from(script.id * 7_919 + build * 104_729)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    let commit = format!("{h:032x}{:08x}", (h >> 64) as u32);
    let sources = match script.sources {
        Sources::Repo(repo) => json!([{
            "sourceType": "GITEE_GO",
            "repoPath": repo,
            "branch": if build.is_multiple_of(3) { "release/2.4" } else { "master" },
            "commitId": &commit[..40],
        }]),
        Sources::Upstream => json!([
            {
                "sourceType": "PIPELINE",
                "buildNumber": 318 + build % 7,
                "upParams": json!({
                    "GITEE_REPO": "acme/api-gateway",
                    "GITEE_BRANCH": "master",
                    "GITEE_COMMIT": &commit[..40],
                    "IMAGE_TAG": format!("v2.4.{build}"),
                }).to_string(),
            },
            {
                "sourceType": "CODE_LEVEL_ARTIFACT",
                "artifactRepo": "release-bundles",
                "artifactVersion": format!("2.4.{build}"),
            }
        ]),
        Sources::Artifact(repo) => json!([{
            "sourceType": "CODE_LEVEL_ARTIFACT",
            "artifactRepo": repo,
            "artifactVersion": format!("1.{}.0", build % 20),
        }]),
    };
    let stage_no = script
        .stages
        .iter()
        .position(|(s, _)| *s == stage)
        .unwrap_or(0);
    DemoEvent {
        at,
        body: json!({
            "job": {
                "pipelineId": script.id,
                "pipelineName": script.name,
                "stageName": stage,
                "jobName": job,
                "buildNumber": build,
                "statusCode": code,
                "statusName": status_name(code, script.chinese),
                "pipelineUrl": format!(
                    "https://e.gitee.com/acme/projects/210455/pipelines/{}/history/{}/stages/{}/jobs/{}?buildNumber={}",
                    script.id, build, stage_no, job, build
                ),
            },
            "sources": sources,
            "globalParams": [
                { "key": "ENV", "value": if script.name.contains("release") { "production" } else { "staging" } },
                { "key": "TRIGGER", "value": if build.is_multiple_of(2) { "push" } else { "schedule" } },
            ],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitee::parse_notification;
    use std::collections::BTreeSet;

    fn all() -> Vec<DemoEvent> {
        let mut events = history();
        events.extend(cycle(0));
        events.extend(cycle(1));
        events
    }

    #[test]
    fn every_event_is_a_notification_the_receiver_accepts_strictly() {
        for event in all() {
            let body = serde_json::to_vec(&event.body).unwrap();
            let parsed = parse_notification(&body).unwrap();
            assert!(!parsed.repaired());
            assert!(parsed.notification.job.pipeline_id.is_some());
        }
    }

    #[test]
    fn the_scenario_covers_every_documented_status_and_source_type() {
        let events = all();
        let codes: BTreeSet<_> = events
            .iter()
            .map(|e| e.body["job"]["statusCode"].as_str().unwrap().to_owned())
            .collect();
        for code in ["SUCC", "FAIL", "CANCEL", "SKIP", "RUNNING"] {
            assert!(codes.contains(code), "{code} missing from {codes:?}");
        }
        let types: BTreeSet<_> = events
            .iter()
            .flat_map(|e| e.body["sources"].as_array().unwrap().clone())
            .map(|s| s["sourceType"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            ["CODE_LEVEL_ARTIFACT", "GITEE_GO", "PIPELINE"]
                .map(String::from)
                .into()
        );
    }

    #[test]
    fn history_fills_the_screen_within_two_seconds() {
        let history = history();
        let pipelines: BTreeSet<_> = history
            .iter()
            .map(|e| e.body["job"]["pipelineId"].as_u64().unwrap())
            .collect();
        assert_eq!(pipelines.len(), PIPELINES.len());
        assert!(history.last().unwrap().at < Duration::from_millis(1_500));
    }

    /// Applied as `feed_demo` sends them, the first minute shows a red pipeline with a newer
    /// run going, a retry, a flaky job, and history strips.
    #[test]
    fn the_first_minute_shows_every_state_a_failure_goes_through() {
        use crate::delivery::{Delivery, Ingest};
        use crate::monitor::{Filter, Monitor};
        let mut events: Vec<(Duration, Value)> =
            history().into_iter().map(|e| (e.at, e.body)).collect();
        for n in 0..2 {
            let offset = Duration::from_secs(2) + CYCLE * n as u32;
            events.extend(cycle(n).into_iter().map(|e| (offset + e.at, e.body)));
        }
        events.sort_by_key(|(at, _)| *at);
        let base = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut monitor = Monitor::default();
        let (mut red_and_going, mut retry, mut flaky, mut strip) = (false, false, false, false);
        for (id, (at, body)) in events
            .iter()
            .take_while(|(at, _)| *at < Duration::from_secs(60))
            .enumerate()
        {
            let when = base + chrono::Duration::from_std(*at).unwrap();
            let notification = parse_notification(body.to_string().as_bytes())
                .unwrap()
                .notification;
            monitor.apply(&Ingest::Accepted(std::sync::Arc::new(Delivery {
                id: id as u64 + 1,
                received_at: when,
                sent_at: Some(when),
                auth: crate::gitee::Auth::Signature,
                repaired: false,
                headers: Default::default(),
                notification,
            })));
            for pipeline in monitor.pipelines(&Filter::default()) {
                let going = pipeline.latest_run().is_some_and(|r| !r.is_finished());
                red_and_going |= going && pipeline.is_failing();
                strip |= pipeline.record().strip().len() >= 4;
                for run in pipeline.runs() {
                    for (_, job) in run.jobs() {
                        retry |= job.retries() > 0 && !job.status().is_final();
                        flaky |= job.is_flaky();
                    }
                }
            }
        }
        assert!(
            red_and_going && retry && flaky && strip,
            "{red_and_going} {retry} {flaky} {strip}"
        );
    }

    #[test]
    fn cycles_fit_their_length_and_are_in_time_order() {
        for n in 0..4 {
            let events = cycle(n);
            assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
            assert!(events.last().unwrap().at < CYCLE + Duration::from_secs(20));
        }
    }
}
