//! The saved monitor: the monitor written out whole and read back, so a restart can show the
//! screen as it was without applying every delivery in the journal again. Reading it costs
//! what the monitor holds (bounded by [`Limits`]), not what the journal holds.
//!
//! A saved monitor is one JSON document. Everything that can be derived is left out and made
//! again on reading: the index of pipelines, every count of jobs and runs (per stage, run,
//! pipeline and in all), the log's delivery ids, and the sharing of names, URLs and checkouts.
//! So a saved monitor edited by hand can show something untrue, but cannot make the counts
//! disagree with what they count.
//!
//! The errors still say "snapshot": they end up in the footer about the file beside the
//! journal, `<journal>.snapshot`, which keeps its name.

use super::log::EventLog;
use super::model::{Checkouts, Names, Pipeline};
use super::{LastDelivery, Limits, Monitor, StatusCounts, Totals};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Changes whenever what a saved monitor holds changes, in shape or in meaning (a field counted
/// differently); a saved monitor of another format is not read. A change of shape alone would also
/// fail to read, but only a new format says so plainly.
///
/// 2: test deliveries and bodies that are not job notifications are log entries of their own,
/// where format 1 filed them under an "unknown pipeline".
/// 3: runs keep when they ended and start by the sender's clock, jobs their start and earlier
/// attempts, pipelines their record (history strip, red since, last green).
const SAVED_FORMAT: u32 = 3;

/// Why a saved monitor was not used, short enough for the TUI's footer.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The footer shows only this error's own words, so they say the cause too; `source()`
    /// still hands it to whatever walks the chain.
    #[error("not a snapshot this version reads: {0}")]
    Unreadable(#[source] serde_json::Error),
    #[error("snapshot format {found}; this pipetop reads {SAVED_FORMAT}")]
    Format { found: u32 },
    #[error("made with other limits")]
    Limits,
    #[error("pipeline {0} is out of place")]
    Inconsistent(u64),
}

#[derive(Serialize)]
struct Out<'a> {
    format: u32,
    limits: &'a Limits,
    last_delivery: Option<LastDelivery>,
    totals: &'a Totals,
    clock: u64,
    generation: u64,
    pipelines: &'a BTreeMap<u64, Pipeline>,
    log: &'a EventLog,
}

#[derive(Deserialize)]
struct In {
    limits: Limits,
    last_delivery: Option<LastDelivery>,
    totals: Totals,
    clock: u64,
    generation: u64,
    pipelines: BTreeMap<u64, Pipeline>,
    log: EventLog,
}

/// Just the format, read first, so a saved monitor from another version is named as such rather
/// than as whatever field it lacks.
#[derive(Deserialize)]
struct Format {
    format: u32,
}

impl Monitor {
    /// Writes everything the monitor knows as one JSON document.
    pub fn save(&self, out: impl std::io::Write) -> serde_json::Result<()> {
        serde_json::to_writer(
            out,
            &Out {
                format: SAVED_FORMAT,
                limits: &self.limits,
                last_delivery: self.last_delivery,
                totals: &self.totals,
                clock: self.clock,
                generation: self.generation,
                pipelines: &self.pipelines,
                log: &self.log,
            },
        )
    }

    /// Reads back what [`Monitor::save`] wrote, for a monitor with these `limits`: the same
    /// monitor, which applying further deliveries changes as it would have changed the saved one.
    pub fn restore(bytes: &[u8], limits: Limits) -> Result<Monitor, RestoreError> {
        let format: Format = serde_json::from_slice(bytes).map_err(RestoreError::Unreadable)?;
        if format.format != SAVED_FORMAT {
            return Err(RestoreError::Format {
                found: format.format,
            });
        }
        let saved: In = serde_json::from_slice(bytes).map_err(RestoreError::Unreadable)?;
        let limits = limits.sane();
        if saved.limits != limits {
            return Err(RestoreError::Limits);
        }
        let mut monitor = Monitor::new(limits);
        let mut names = Names::new(monitor.limits.text);
        let mut checkouts = Checkouts::default();
        let mut pipelines = saved.pipelines;
        if let Some((&activity, _)) = pipelines
            .iter()
            .find(|(activity, pipeline)| **activity != pipeline.activity)
        {
            return Err(RestoreError::Inconsistent(activity));
        }
        let mut counts = StatusCounts::default();
        for (&activity, pipeline) in &mut pipelines {
            pipeline.restored(&mut names, &mut checkouts);
            monitor.index.insert(pipeline.key().clone(), activity);
            monitor.runs += pipeline.runs().len();
            monitor.jobs += pipeline.job_count();
            counts.add(pipeline.status());
            monitor.hidden += usize::from(pipeline.hidden);
            monitor.red += usize::from(super::order::is_red(pipeline));
        }
        monitor.log = saved.log.restored(|entry| {
            if let super::PipelineKey::Name(name) = &mut entry.pipeline {
                *name = names.get(name);
            }
            names.share(&mut entry.pipeline_name);
            names.share(&mut entry.stage);
            names.share(&mut entry.job);
            names.share(&mut entry.code);
            names.share(&mut entry.status_name);
            entry.checkouts = checkouts.share(&entry.checkouts);
        });
        monitor.pipelines = pipelines;
        monitor.pipeline_counts = counts;
        monitor.names = names;
        monitor.totals = saved.totals;
        monitor.clock = saved.clock;
        monitor.generation = saved.generation;
        monitor.last_delivery = saved.last_delivery;
        Ok(monitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{Ingest, Rejection};
    use crate::testing::{small_limits as limits, state, varied};
    use std::sync::Arc;

    /// Accepted deliveries with a rejection now and then, as the screen sees them.
    fn traffic(count: u64) -> Vec<Ingest> {
        let mut traffic = Vec::new();
        for delivery in varied(count) {
            if delivery.id % 97 == 0 {
                traffic.push(Ingest::Rejected(Rejection {
                    received_at: delivery.received_at,
                    status: 401,
                    reason: "X-Gitee-Token is not the signature of X-Gitee-Timestamp".into(),
                    peer: Some("127.0.0.1:4242".parse().unwrap()),
                }));
            }
            traffic.push(Ingest::Accepted(Arc::new(delivery)));
        }
        traffic
    }

    fn saved(monitor: &Monitor) -> Vec<u8> {
        let mut bytes = Vec::new();
        monitor.save(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn a_restored_monitor_shows_what_was_saved_and_goes_on_as_the_saved_one_would() {
        let traffic = traffic(4000);
        let (before, after) = traffic.split_at(traffic.len() / 2);
        let mut live = Monitor::new(limits());
        for ingest in before {
            live.apply(ingest);
        }
        let mut restored = Monitor::restore(&saved(&live), limits()).unwrap();
        assert_eq!(state(&restored), state(&live));
        assert_eq!(restored.last_delivery(), live.last_delivery());
        assert_eq!(saved(&restored), saved(&live));

        for ingest in after {
            let (a, b) = (live.apply(ingest), restored.apply(ingest));
            assert_eq!(a, b, "{ingest:?}");
        }
        assert_eq!(state(&restored), state(&live));
        let totals = live.totals();
        assert!(
            totals.duplicates > 0 && totals.stale > 0 && totals.dropped > 0 && totals.repeated > 0,
            "{totals:?}"
        );
        assert!(totals.rejected > 0 && live.run_total() > 1 && live.job_total() > 1);
    }

    /// Saved by pipetop in format 2 (100 of the varied deliveries, small limits), before runs
    /// kept their timing and pipelines their record: refused in one sentence, so the screen is
    /// made again from the journal instead.
    #[test]
    fn a_monitor_saved_in_the_format_before_is_refused_in_one_sentence() {
        let earlier = include_bytes!("../../tests/fixtures/saved-monitor-format-2.json");
        let err = Monitor::restore(earlier, limits()).unwrap_err();
        assert_eq!(err.to_string(), "snapshot format 2; this pipetop reads 3");
    }

    #[test]
    fn restored_names_and_checkouts_are_shared_as_applied_ones_are() {
        let mut live = Monitor::new(Limits::default());
        for ingest in traffic(600) {
            live.apply(&ingest);
        }
        let restored = Monitor::restore(&saved(&live), Limits::default()).unwrap();
        let everything = crate::monitor::Filter::default();
        // Shared names are one allocation: the same text at the same address.
        let mut stage_names: Vec<&str> = Vec::new();
        let mut run_checkouts = Vec::new();
        for pipeline in restored.pipelines(&everything) {
            for run in pipeline.runs() {
                run_checkouts.push(Arc::clone(run.checkouts()));
                stage_names.extend(run.stages().iter().filter_map(|stage| stage.name()));
            }
        }
        assert!(stage_names.len() > 3);
        for name in &stage_names {
            let mut same_text = stage_names.iter().filter(|other| *other == name);
            assert!(same_text.clone().count() > 1, "{name}");
            assert!(same_text.all(|other| std::ptr::eq(other.as_ptr(), name.as_ptr())));
        }
        let logged = restored
            .log()
            .entries()
            .filter_map(|entry| match &entry.event {
                crate::monitor::LogEvent::Accepted(accepted) => Some(&accepted.checkouts),
                _ => None,
            })
            .filter(|checkouts| !checkouts.is_empty())
            .filter(|checkouts| run_checkouts.iter().any(|run| Arc::ptr_eq(run, checkouts)))
            .count();
        assert!(logged > 0);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use serde_json::Value;

        /// Every leaf of a JSON document, as a JSON pointer.
        fn leaves(value: &Value, path: String, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, value) in map {
                        leaves(
                            value,
                            format!("{path}/{}", key.replace('~', "~0").replace('/', "~1")),
                            out,
                        );
                    }
                }
                Value::Array(items) => {
                    for (index, value) in items.iter().enumerate() {
                        leaves(value, format!("{path}/{index}"), out);
                    }
                }
                _ => out.push(path),
            }
        }

        fn replacement() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<u64>().prop_map(Value::from),
                (0u64..4).prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                "[a-z_]{0,8}".prop_map(Value::from),
                Just(Value::from("2026-01-02T03:04:05.678Z")),
                Just(serde_json::json!([])),
                Just(serde_json::json!({})),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// A saved monitor edited by hand, anywhere, is refused in one sentence or restored
            /// into a monitor that takes further deliveries like any other.
            #[test]
            fn a_saved_monitor_edited_by_hand_is_refused_or_goes_on_working(
                edits in proptest::collection::vec((any::<prop::sample::Index>(), replacement()), 1..6)
            ) {
                let traffic = traffic(400);
                let (before, after) = traffic.split_at(200);
                let mut live = Monitor::new(limits());
                for ingest in before {
                    live.apply(ingest);
                }
                let mut document: Value = serde_json::from_slice(&saved(&live)).unwrap();
                let mut paths = Vec::new();
                leaves(&document, String::new(), &mut paths);
                for (index, value) in edits {
                    if let Some(leaf) = document.pointer_mut(index.get(&paths).as_str()) {
                        *leaf = value;
                    }
                }
                match Monitor::restore(&serde_json::to_vec(&document).unwrap(), limits()) {
                    Err(err) => {
                        let text = err.to_string();
                        prop_assert!(!text.is_empty() && !text.contains('\n'), "{}", text);
                    }
                    Ok(mut restored) => {
                        for ingest in after {
                            restored.apply(ingest);
                        }
                        let everything = crate::monitor::Filter::default();
                        let jobs: usize = restored.pipelines(&everything).map(|p| p.job_count()).sum();
                        prop_assert_eq!(jobs, restored.job_total());
                    }
                }
            }
        }
    }

    #[test]
    fn another_format_other_limits_or_garbage_is_refused_in_a_few_words() {
        let mut live = Monitor::new(limits());
        for ingest in traffic(50) {
            live.apply(&ingest);
        }
        let bytes = saved(&live);

        let other = String::from_utf8(bytes.clone()).unwrap().replacen(
            "{\"format\":3,",
            "{\"format\":99,",
            1,
        );
        let err = Monitor::restore(other.as_bytes(), limits()).unwrap_err();
        assert_eq!(err.to_string(), "snapshot format 99; this pipetop reads 3");
        let err = Monitor::restore(&bytes, Limits::default()).unwrap_err();
        assert_eq!(err.to_string(), "made with other limits");
        let err = Monitor::restore(&bytes[..bytes.len() / 2], limits()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("not a snapshot this version reads: EOF"),
            "{err}"
        );
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert!(
            cause.is_some_and(|cause| cause.starts_with("EOF")),
            "{err:?}"
        );
    }
}
