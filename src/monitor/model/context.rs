//! What describes a run besides its jobs: the sources and globalParams of a delivery, kept as
//! a copy, and the repository, branch and commit that search looks at.

use crate::delivery::{Delivery, Headers};
use crate::gitee::payload::{restore_up_params_forms, up_params_forms};
use crate::gitee::{Auth, GlobalParam, Source, UpParamsForm};
use crate::text::clean;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// What a run keeps of the delivery that describes it: its sources and globalParams, and how
/// it arrived, for the detail pane.
///
/// A copy, made here: deliveries are allocated on the receiver's threads among thousands that
/// are freed right after they are applied, and a kept one would hold its allocator pages (and
/// whatever else is on them) for good. The copy sits with the monitor's other long-lived data,
/// so the pages of the short-lived ones can go back to the system; and it leaves out the job's
/// fields, which the run's jobs keep themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct RunContext {
    /// The delivery it was taken from.
    pub delivery_id: u64,
    pub auth: Auth,
    /// That delivery needed the tolerant parser.
    pub repaired: bool,
    /// That delivery's `X-Gitee-Event` and `X-Request-ID`, if sent: whether pipeline
    /// notifications send them is unknown, so the detail pane shows what arrived.
    pub headers: Headers,
    pub sources: Vec<Source>,
    pub global_params: Vec<GlobalParam>,
}

impl RunContext {
    pub(super) fn of(delivery: &Delivery) -> RunContext {
        RunContext {
            delivery_id: delivery.id,
            auth: delivery.auth,
            repaired: delivery.repaired,
            headers: delivery.headers.clone(),
            sources: delivery.notification.sources.clone(),
            global_params: delivery.notification.global_params.clone(),
        }
    }
}

/// Sources always write `upParams` as an object, so how each arrived is kept beside them, as
/// the journal does.
impl Serialize for RunContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ContextOut {
            delivery_id: self.delivery_id,
            auth: self.auth,
            repaired: self.repaired,
            headers: &self.headers,
            sources: &self.sources,
            forms: up_params_forms(&self.sources),
            global_params: &self.global_params,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RunContext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut context = ContextIn::deserialize(deserializer)?;
        restore_up_params_forms(&mut context.sources, context.forms);
        Ok(RunContext {
            delivery_id: context.delivery_id,
            auth: context.auth,
            repaired: context.repaired,
            headers: context.headers,
            sources: context.sources,
            global_params: context.global_params,
        })
    }
}

#[derive(Serialize)]
struct ContextOut<'a> {
    delivery_id: u64,
    auth: Auth,
    repaired: bool,
    #[serde(skip_serializing_if = "is_default")]
    headers: &'a Headers,
    sources: &'a [Source],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forms: Vec<Option<UpParamsForm>>,
    global_params: &'a [GlobalParam],
}

#[derive(Deserialize)]
struct ContextIn {
    delivery_id: u64,
    auth: Auth,
    repaired: bool,
    #[serde(default)]
    headers: Headers,
    sources: Vec<Source>,
    #[serde(default)]
    forms: Vec<Option<UpParamsForm>>,
    global_params: Vec<GlobalParam>,
}

fn is_default(headers: &&Headers) -> bool {
    **headers == Headers::default()
}

/// Whether `delivery` should replace `context` as the run's description: it carries sources or
/// globalParams, and they differ (an event that lost them does not erase what is known).
pub(super) fn describes_more(delivery: &Delivery, context: &RunContext) -> bool {
    let new = &delivery.notification;
    !(new.sources.is_empty() && new.global_params.is_empty())
        && (new.sources != context.sources || new.global_params != context.global_params)
}

/// What search looks at in a `GITEE_GO` source. Small, so a log entry can keep it after its
/// run is gone without keeping the whole delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Checkout {
    pub repo_path: Option<Box<str>>,
    pub branch: Option<Box<str>>,
    pub commit_id: Option<Box<str>>,
}

/// Repository, branch and commit of each `GITEE_GO` source, as received.
pub(super) fn gitee_go(
    sources: &[Source],
) -> impl Iterator<Item = (&Option<String>, &Option<String>, &Option<String>)> {
    sources.iter().filter_map(|source| match source {
        Source::GiteeGo {
            repo_path,
            branch,
            commit_id,
            ..
        } => Some((repo_path, branch, commit_id)),
        _ => None,
    })
}

pub(crate) fn checkouts(sources: &[Source], max_chars: usize) -> Arc<[Checkout]> {
    let keep = |text: &Option<String>| text.as_deref().map(|t| clean(t, max_chars).into());
    gitee_go(sources)
        .map(|(repo_path, branch, commit_id)| Checkout {
            repo_path: keep(repo_path),
            branch: keep(branch),
            commit_id: keep(commit_id),
        })
        .collect()
}
