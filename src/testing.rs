//! What several test modules share: deliveries varied enough to exercise every rule of the
//! monitor, and a way to compare two monitors by everything the screen can show.

use crate::delivery::Delivery;
use crate::gitee::Auth;
use crate::monitor::{Filter, Limits, Monitor};
use crate::store::handoff::Draft;
use chrono::DateTime;

/// An empty notification as the receiver hands it to the writer, received now.
pub fn draft() -> Draft {
    Draft {
        received_at: chrono::Utc::now(),
        sent_at: None,
        auth: Auth::None,
        repaired: false,
        headers: Default::default(),
        notification: Default::default(),
    }
}

/// An empty notification stored as delivery `id`, received now.
pub fn delivery(id: u64) -> Delivery {
    draft().numbered(id)
}

/// Bounds small enough that [`varied`] deliveries reach every one of them: pipelines, runs,
/// stages and jobs evicted or dropped, and the log wrapping round.
pub fn small_limits() -> Limits {
    Limits {
        pipelines: 5,
        runs_per_pipeline: 3,
        stages_per_run: 2,
        jobs_per_stage: 3,
        runs: 8,
        jobs: 40,
        log: 300,
        ..Limits::default()
    }
}

/// Everything the screen can show of a monitor, in a form two monitors can be compared by.
pub fn state(monitor: &Monitor) -> String {
    let everything = Filter::default();
    let pipelines: Vec<_> = monitor.pipelines(&everything).collect();
    let log: Vec<_> = monitor.log().entries().collect();
    format!(
        "{pipelines:#?}\n{log:#?}\n{:?} {:?} {} {} {}",
        monitor.totals(),
        monitor.pipeline_counts(),
        monitor.run_total(),
        monitor.job_total(),
        monitor.generation(),
    )
}

/// Varied deliveries: a few pipelines by id or by name only, builds that move on and come
/// back late, resends, sender clocks that go back, sources and parameters that change
/// within a run, upstream pipelines passing parameters as a JSON string or an object, and the
/// same id twice.
pub fn varied(count: u64) -> Vec<Delivery> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let codes = [
        "RUNNING", "SUCC", "FAIL", "WAITING", "CANCEL", "SKIP", "UNKOWN",
    ];
    let mut deliveries: Vec<Delivery> = Vec::new();
    for id in 1..=count {
        let pipeline = next(7);
        let key = match pipeline {
            0 => String::new(),
            1 => r#""pipelineName":"by name","#.to_owned(),
            n => format!(r#""pipelineId":{n},"pipelineName":"p{n}","#),
        };
        let build = id / 40 + next(3);
        let code = codes[next(codes.len() as u64) as usize];
        let sources = match next(5) {
            0 => String::new(),
            1 => format!(
                r#"{{"sourceType":"GITEE_GO","repoPath":"acme/p{pipeline}","branch":"main","commitId":"c{}"}}"#,
                build + next(2)
            ),
            2 => format!(
                r#"{{"sourceType":"PIPELINE","buildNumber":{build},"upParams":"{{\"A\":\"{}\"}}"}}"#,
                next(2)
            ),
            3 => format!(
                r#"{{"sourceType":"PIPELINE","buildNumber":{build},"upParams":{{"A":"{}"}}}}"#,
                next(2)
            ),
            _ => format!(
                r#"{{"sourceType":"GITEE_GO","repoPath":"acme/p{pipeline}","branch":"main","commitId":"c{build}"}}"#
            ),
        };
        let params = if next(3) == 0 {
            ""
        } else {
            r#"{"key":"ENV","value":"staging"}"#
        };
        let body = format!(
            r#"{{"job":{{{key}"stageName":"s{}","jobName":"j{}","buildNumber":{build},"statusCode":"{code}","statusName":"{code}","pipelineUrl":"https://e.example/{pipeline}/{build}"}},"sources":[{sources}],"globalParams":[{params}]}}"#,
            next(3),
            next(4),
        );
        let parsed = crate::gitee::parse_notification(body.as_bytes()).unwrap();
        let received_at =
            DateTime::from_timestamp_millis(1_700_000_000_000 + id as i64 * 1000).unwrap();
        let sent_back = next(3) as i64 * 5_000;
        deliveries.push(Delivery {
            // Now and then the same id comes twice.
            id: if next(50) == 0 {
                id.saturating_sub(1).max(1)
            } else {
                id
            },
            received_at,
            sent_at: (next(5) != 0)
                .then(|| received_at - chrono::TimeDelta::milliseconds(sent_back)),
            auth: Auth::Signature,
            repaired: false,
            headers: Default::default(),
            notification: parsed.notification,
        });
    }
    deliveries
}
