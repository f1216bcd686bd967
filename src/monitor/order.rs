//! The orders of the pipelines table, which one key cycles through: most recent activity (the
//! default, free: the pipelines are kept in that order), failed first (two passes over that
//! order), name, and the last finished run's duration (sorted per call: only those orders pay
//! for a sort).

use super::Monitor;
use super::filter::{Filter, Matcher};
use super::model::Pipeline;
use std::cmp::Reverse;

/// Also `--sort`'s values: `recent`, `failed`, `name`, `duration`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Order {
    /// Most recent activity first.
    #[default]
    Recent,
    /// Pipelines whose latest run failed, or whose last finished run did while a newer one
    /// goes, first; each group most recent first.
    #[value(name = "failed")]
    FailedFirst,
    /// By name, ignoring case.
    Name,
    /// Longest last finished run first; pipelines without a finished run last.
    Duration,
}

impl Order {
    pub const ALL: [Order; 4] = [
        Order::Recent,
        Order::FailedFirst,
        Order::Name,
        Order::Duration,
    ];

    /// The order after this one, round.
    pub fn next(self) -> Order {
        let at = Order::ALL.iter().position(|o| *o == self).unwrap_or(0);
        Order::ALL[(at + 1) % Order::ALL.len()]
    }

    /// How the header names it.
    pub fn label(self) -> &'static str {
        match self {
            Order::Recent => "recent",
            Order::FailedFirst => "failed first",
            Order::Name => "name",
            Order::Duration => "duration",
        }
    }

    /// Sorts pipelines given most recent first; stable, so ties stay most recent first.
    pub(super) fn sort(self, pipelines: &mut [&Pipeline]) {
        match self {
            Order::Recent => {}
            Order::FailedFirst => pipelines.sort_by_key(|p| !is_red(p)),
            Order::Name => pipelines.sort_by_cached_key(|p| p.title().to_lowercase()),
            Order::Duration => pipelines.sort_by_cached_key(|p| {
                Reverse(p.last_finished_run().and_then(|run| run.duration()))
            }),
        }
    }
}

/// Red in the table: the latest run failed, or the last finished one did.
pub(super) fn is_red(pipeline: &Pipeline) -> bool {
    pipeline.status() == crate::gitee::Status::Failed || pipeline.is_failing()
}

impl Monitor {
    /// Pipelines that pass the filter, in the filter's order. Lazy in the default order (most
    /// recent activity first) and failed first: drawing a window is `.skip(offset).take(height)`,
    /// and costs what is visible when the filter is empty. By name or duration, every passing
    /// pipeline is sorted first.
    pub fn pipelines<'a>(&'a self, filter: &Filter) -> Box<dyn Iterator<Item = &'a Pipeline> + 'a> {
        let matcher = Matcher::new(filter);
        let everything = filter.is_empty();
        // Without hidden pipelines, skipping to a scrolled position touches no pipeline at all.
        let any_hidden = self.hidden > 0;
        let recent = self.pipelines.values().rev().filter(move |pipeline| {
            !(any_hidden && pipeline.hidden) && (everything || matcher.pipeline(pipeline))
        });
        match filter.order {
            Order::Recent => Box::new(recent),
            Order::FailedFirst => Box::new(
                recent
                    .clone()
                    .filter(|p| is_red(p))
                    .chain(recent.filter(|p| !is_red(p))),
            ),
            other => {
                let mut sorted: Vec<&Pipeline> = recent.collect();
                other.sort(&mut sorted);
                Box::new(sorted.into_iter())
            }
        }
    }
}
