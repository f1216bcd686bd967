//! What the monitor knows: pipelines, their recent runs, each run's stages and jobs, and the
//! rule for what a run's status is.
//!
//! Everything here is bounded by [`Limits`](super::Limits) and mutated only through
//! [`Monitor::apply`](super::Monitor::apply); the TUI reads it through the getters. Fields
//! that one part of the model sets for another are `pub(super)`: seen within the model, not by
//! the rest of the monitor.

mod context;
mod fate;
mod job;
mod pipeline;
mod record;
mod run;
mod shared;

pub(crate) use context::checkouts;
pub use context::{Checkout, RunContext};
pub use fate::{DropReason, Fate};
pub(crate) use job::JobUpdate;
pub use job::{Attempt, JobState, Misfits};
pub use pipeline::{Pipeline, PipelineKey};
pub use record::{Mark, Record, STRIP};
pub use run::{Run, Stage, StageProgress, StatusCounts, derive_status};
pub(crate) use shared::{Checkouts, Names};
