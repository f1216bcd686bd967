//! Filters and search: which pipelines, jobs and log entries the view shows.
//!
//! One [`Filter`] applies to the whole view. The status filter and the search must both match.
//! Search is a case-insensitive substring match (surrounding whitespace ignored) over pipeline
//! name, stage, job, repository (`repoPath`), branch and commit id; an empty search matches all.

use super::model::{Checkout, JobState, Pipeline, PipelineKey, Run, Stage};
use crate::gitee::Status;

/// The status half of the filter, in the order of the keys `0`..`5`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum StatusFilter {
    #[default]
    All,
    Failed,
    Success,
    Cancelled,
    Skipped,
    /// Running, waiting, cancelling and unknown codes: everything not covered above.
    Other,
}

impl StatusFilter {
    pub fn matches(self, status: Status) -> bool {
        match self {
            StatusFilter::All => true,
            StatusFilter::Failed => status == Status::Failed,
            StatusFilter::Success => status == Status::Success,
            StatusFilter::Cancelled => status == Status::Cancelled,
            StatusFilter::Skipped => status == Status::Skipped,
            StatusFilter::Other => matches!(
                status,
                Status::Running | Status::Waiting | Status::Cancelling | Status::Unknown
            ),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Failed => "FAIL",
            StatusFilter::Success => "SUCC",
            StatusFilter::Cancelled => "CANCEL",
            StatusFilter::Skipped => "SKIP",
            StatusFilter::Other => "other",
        }
    }
}

/// What the view shows: a status filter and a search text, and the pipelines' order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    pub status: StatusFilter,
    pub search: String,
    pub order: super::Order,
}

impl Filter {
    /// Shows everything: no status filter and no search.
    pub fn is_empty(&self) -> bool {
        self.status == StatusFilter::All && self.search.trim().is_empty()
    }

    /// A pipeline matches when its status (its latest run's) passes the status filter (or,
    /// for the FAIL filter, its last finished run failed while a newer one goes), and the
    /// search finds its name, its id, or any stage, job, repository, branch or commit of its
    /// latest run.
    pub fn matches_pipeline(&self, pipeline: &Pipeline) -> bool {
        Matcher::new(self).pipeline(pipeline)
    }
}

/// A filter prepared for many matches: the search lowered once rather than per field.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub status: StatusFilter,
    needle: Option<String>,
}

impl Matcher {
    pub fn new(filter: &Filter) -> Matcher {
        let search = filter.search.trim();
        Matcher {
            status: filter.status,
            needle: (!search.is_empty()).then(|| search.to_lowercase()),
        }
    }

    /// True without a search; otherwise whatever `found` says about this matcher's needle.
    pub fn search_any(&self, found: impl FnOnce(&Needle<'_>) -> bool) -> bool {
        match &self.needle {
            None => true,
            Some(needle) => found(&Needle(needle)),
        }
    }

    pub fn pipeline(&self, pipeline: &Pipeline) -> bool {
        (self.status.matches(pipeline.status())
            || (self.status == StatusFilter::Failed && pipeline.is_failing()))
            && self.search_any(|m| {
                m.pipeline(pipeline)
                    || pipeline.latest_run().is_some_and(|run| {
                        m.checkouts(run.checkouts())
                            || run.stages().iter().any(|stage| {
                                m.opt(stage.name())
                                    || stage.jobs().iter().any(|job| m.opt(job.name()))
                            })
                    })
            })
    }

    /// A job matches by its own status, and by search over its stage, its job name, its run's
    /// repository, branch and commit, or its pipeline's name (so a search that finds a pipeline
    /// by name shows all of that pipeline's jobs).
    pub fn job(&self, pipeline: &Pipeline, run: &Run, stage: &Stage, job: &JobState) -> bool {
        self.status.matches(job.status()) && self.job_searched(pipeline, run, stage, job)
    }

    /// The search half of [`Matcher::job`].
    pub fn job_searched(
        &self,
        pipeline: &Pipeline,
        run: &Run,
        stage: &Stage,
        job: &JobState,
    ) -> bool {
        self.search_any(|m| {
            m.pipeline(pipeline)
                || m.opt(stage.name())
                || m.opt(job.name())
                || m.checkouts(run.checkouts())
        })
    }
}

/// A lowercased search text.
pub(crate) struct Needle<'a>(&'a str);

impl Needle<'_> {
    pub fn text(&self, haystack: &str) -> bool {
        contains_ignore_case(haystack, self.0)
    }

    pub fn opt(&self, haystack: Option<&str>) -> bool {
        haystack.is_some_and(|h| self.text(h))
    }

    fn pipeline(&self, pipeline: &Pipeline) -> bool {
        self.opt(pipeline.name())
            || matches!(pipeline.key(), PipelineKey::Id(id) if id.to_string().contains(self.0))
    }

    pub fn checkouts(&self, checkouts: &[Checkout]) -> bool {
        checkouts.iter().any(|checkout| {
            self.opt(checkout.repo_path.as_deref())
                || self.opt(checkout.branch.as_deref())
                || self.opt(checkout.commit_id.as_deref())
        })
    }
}

/// Substring match ignoring case, without allocating when the needle is ASCII (the usual case:
/// an ASCII byte never equals part of a multi-byte character, so a byte window is exact).
fn contains_ignore_case(haystack: &str, lowered_needle: &str) -> bool {
    if lowered_needle.is_ascii() {
        let needle = lowered_needle.as_bytes();
        haystack
            .as_bytes()
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
    } else {
        haystack.to_lowercase().contains(lowered_needle)
    }
}
