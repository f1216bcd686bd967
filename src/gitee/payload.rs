//! The notification a Gitee Go job node sends on a status change, as PROTOCOL.md describes it.
//!
//! Every field may be missing or null in real traffic, so every field is optional and a missing
//! one is kept as missing rather than being a reason to refuse the event. Unknown status codes,
//! unknown source types and unknown fields are kept as received, so nothing is lost when Gitee
//! adds something; so is a known field whose value has another shape than documented (see
//! [`Notification::misfits`]). The rule for reading a body into these types is in `lenient`,
//! and `visit` reads it in one pass.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// One webhook notification: the job whose status changed, what it was built from, and the
/// pipeline's global parameters.
///
/// In every struct here, `extra` holds the fields this version does not know, and also the
/// known ones whose value did not fit their type, under their own names, as received; see
/// [`Notification::misfits`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notification {
    pub job: Job,
    pub sources: Vec<Source>,
    pub global_params: Vec<GlobalParam>,
    /// Top-level fields this version does not know, and `job`, `sources` or `globalParams`
    /// when they did not fit, kept as received.
    pub extra: Map<String, Value>,
}

/// A known field kept as received (it did not fit) is written from `extra`, in place of the
/// little or nothing its typed field could read of it.
impl Serialize for Notification {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(None)?;
        if !self.extra.contains_key("job") {
            out.serialize_entry("job", &self.job)?;
        }
        if !self.extra.contains_key("sources") {
            out.serialize_entry("sources", &self.sources)?;
        }
        if !self.extra.contains_key("globalParams") {
            out.serialize_entry("globalParams", &self.global_params)?;
        }
        for (key, value) in &self.extra {
            out.serialize_entry(key, value)?;
        }
        out.end()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_number: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<StatusCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Job {
    /// The job's status; a missing code counts as unknown.
    pub fn status(&self) -> Status {
        self.status_code
            .as_ref()
            .map_or(Status::Unknown, StatusCode::status)
    }
}

/// The `statusCode` exactly as Gitee sent it. [`StatusCode::status`] classifies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct StatusCode(pub String);

impl StatusCode {
    pub fn status(&self) -> Status {
        Status::from_code(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a status code means. The documentation lists SUCC, FAIL, CANCEL and SKIP; a sister
/// product with the same schema adds RUNNING, WAITING, CANCELLING and UNKOWN (sic). Anything
/// else is [`Status::Unknown`], and the raw code and `statusName` stay available for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Success,
    Failed,
    Cancelled,
    Skipped,
    Running,
    Waiting,
    Cancelling,
    Unknown,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Failed,
        Status::Running,
        Status::Cancelling,
        Status::Waiting,
        Status::Success,
        Status::Cancelled,
        Status::Skipped,
        Status::Unknown,
    ];

    pub fn from_code(code: &str) -> Status {
        // Upper-cased on the stack: every known code is short, and this runs for every event.
        let code = code.trim().as_bytes();
        let mut upper = [0u8; 10];
        let Some(upper) = upper.get_mut(..code.len()) else {
            return Status::Unknown;
        };
        upper.copy_from_slice(code);
        upper.make_ascii_uppercase();
        match &*upper {
            b"SUCC" | b"SUCCESS" => Status::Success,
            b"FAIL" | b"FAILED" | b"FAILURE" => Status::Failed,
            b"CANCEL" | b"CANCELED" | b"CANCELLED" => Status::Cancelled,
            b"SKIP" | b"SKIPPED" => Status::Skipped,
            b"RUNNING" => Status::Running,
            b"WAITING" | b"PENDING" => Status::Waiting,
            b"CANCELLING" | b"CANCELING" => Status::Cancelling,
            _ => Status::Unknown,
        }
    }

    /// A final status will not change again for this build of the job.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Success | Status::Failed | Status::Cancelled | Status::Skipped
        )
    }

    /// The code Gitee uses for this status.
    pub fn code(self) -> &'static str {
        match self {
            Status::Success => "SUCC",
            Status::Failed => "FAIL",
            Status::Cancelled => "CANCEL",
            Status::Skipped => "SKIP",
            Status::Running => "RUNNING",
            Status::Waiting => "WAITING",
            Status::Cancelling => "CANCELLING",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// A short English word for people.
    pub fn word(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
            Status::Running => "running",
            Status::Waiting => "waiting",
            Status::Cancelling => "cancelling",
            Status::Unknown => "unknown",
        }
    }
}

/// One `{ "key", "value" }` entry of `globalParams`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GlobalParam {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The kind of a source, from its `sourceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    GiteeGo,
    Pipeline,
    CodeLevelArtifact,
    Other,
}

/// One entry of `sources`: what the build was made from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A Gitee repository: `repoPath`, `branch`, `commitId`.
    GiteeGo {
        repo_path: Option<String>,
        branch: Option<String>,
        commit_id: Option<String>,
        extra: Map<String, Value>,
    },
    /// Triggered by an upstream pipeline: its `buildNumber` and the parameters it passed.
    Pipeline {
        build_number: Option<u64>,
        up_params: Option<UpParams>,
        extra: Map<String, Value>,
    },
    /// An artifact from the code-level artifact repository.
    CodeLevelArtifact {
        artifact_repo: Option<String>,
        artifact_version: Option<String>,
        extra: Map<String, Value>,
    },
    /// Any other `sourceType` (or none): every field kept as received.
    Other {
        source_type: Option<String>,
        fields: Map<String, Value>,
    },
}

impl Source {
    pub fn kind(&self) -> SourceKind {
        match self {
            Source::GiteeGo { .. } => SourceKind::GiteeGo,
            Source::Pipeline { .. } => SourceKind::Pipeline,
            Source::CodeLevelArtifact { .. } => SourceKind::CodeLevelArtifact,
            Source::Other { .. } => SourceKind::Other,
        }
    }

    /// The `sourceType` as Gitee names it.
    pub fn source_type(&self) -> Option<&str> {
        match self {
            Source::GiteeGo { .. } => Some("GITEE_GO"),
            Source::Pipeline { .. } => Some("PIPELINE"),
            Source::CodeLevelArtifact { .. } => Some("CODE_LEVEL_ARTIFACT"),
            Source::Other { source_type, .. } => source_type.as_deref(),
        }
    }

    /// Fields that are not part of this source type's documented set.
    pub fn extra(&self) -> &Map<String, Value> {
        match self {
            Source::GiteeGo { extra, .. }
            | Source::Pipeline { extra, .. }
            | Source::CodeLevelArtifact { extra, .. } => extra,
            Source::Other { fields, .. } => fields,
        }
    }
}

/// A source that says nothing: what a null in `sources` reads as.
impl Default for Source {
    fn default() -> Source {
        Source::Other {
            source_type: None,
            fields: Map::new(),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(None)?;
        if let Some(source_type) = self.source_type() {
            out.serialize_entry("sourceType", source_type)?;
        }
        match self {
            Source::GiteeGo {
                repo_path,
                branch,
                commit_id,
                ..
            } => {
                entry_opt(&mut out, "repoPath", repo_path)?;
                entry_opt(&mut out, "branch", branch)?;
                entry_opt(&mut out, "commitId", commit_id)?;
            }
            Source::Pipeline {
                build_number,
                up_params,
                ..
            } => {
                entry_opt(&mut out, "buildNumber", build_number)?;
                entry_opt(&mut out, "upParams", up_params)?;
            }
            Source::CodeLevelArtifact {
                artifact_repo,
                artifact_version,
                ..
            } => {
                entry_opt(&mut out, "artifactRepo", artifact_repo)?;
                entry_opt(&mut out, "artifactVersion", artifact_version)?;
            }
            Source::Other { .. } => {}
        }
        for (key, value) in self.extra() {
            out.serialize_entry(key, value)?;
        }
        out.end()
    }
}

/// How `upParams` arrived. The Chinese documentation encodes the object as a JSON string, the
/// English one prints it with unescaped quotes; a real object is also plausible. Which one was
/// seen is kept so the UI can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpParamsForm {
    /// A string holding JSON: `"{\"GITEE_REPO\":...}"`.
    EncodedString,
    /// A JSON object.
    Object,
    /// The English page's unescaped quotes, repaired by the tolerant parser.
    Unescaped,
    /// A string that does not hold a JSON object; kept as text.
    Text,
}

impl UpParamsForm {
    pub fn describe(self) -> &'static str {
        match self {
            UpParamsForm::EncodedString => "JSON in a string",
            UpParamsForm::Object => "JSON object",
            UpParamsForm::Unescaped => "unescaped quotes, repaired",
            UpParamsForm::Text => "plain text",
        }
    }
}

/// How each source's `upParams` arrived, in order, or nothing when no source has any. Sources
/// always serialize their parameters as an object, so whatever stores sources keeps this beside
/// them and gives it back to [`restore_up_params_forms`] when reading them.
pub fn up_params_forms(sources: &[Source]) -> Vec<Option<UpParamsForm>> {
    let forms: Vec<Option<UpParamsForm>> = sources
        .iter()
        .map(|source| match source {
            Source::Pipeline {
                up_params: Some(up),
                ..
            } => Some(up.form),
            _ => None,
        })
        .collect();
    if forms.iter().all(Option::is_none) {
        Vec::new()
    } else {
        forms
    }
}

/// Puts back the forms [`up_params_forms`] took from the same sources.
pub fn restore_up_params_forms(sources: &mut [Source], forms: Vec<Option<UpParamsForm>>) {
    for (source, form) in sources.iter_mut().zip(forms) {
        if let (
            Source::Pipeline {
                up_params: Some(up),
                ..
            },
            Some(form),
        ) = (source, form)
        {
            up.form = form;
        }
    }
}

/// The parameters an upstream pipeline passed down.
#[derive(Debug, Clone, PartialEq)]
pub struct UpParams {
    pub form: UpParamsForm,
    /// The parameters, in the order they arrived. For [`UpParamsForm::Text`] this is empty and
    /// `text` holds the string.
    pub values: Map<String, Value>,
    pub text: Option<String>,
}

impl UpParams {
    /// The tolerant parser wraps an object it recovered from unescaped quotes in an object with
    /// this single key, so the form it arrived in survives deserialization.
    pub(crate) const REPAIRED_MARKER: &'static str = "\u{0}pipetop-unescaped";
}

impl Serialize for UpParams {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.text {
            Some(text) if self.values.is_empty() => serializer.serialize_str(text),
            _ => self.values.serialize(serializer),
        }
    }
}

fn entry_opt<M: SerializeMap, T: Serialize>(
    out: &mut M,
    key: &str,
    value: &Option<T>,
) -> Result<(), M::Error> {
    match value {
        Some(value) => out.serialize_entry(key, value),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_classify_documented_and_sister_product_codes() {
        assert_eq!(Status::from_code("SUCC"), Status::Success);
        assert_eq!(Status::from_code("FAIL"), Status::Failed);
        assert_eq!(Status::from_code("CANCEL"), Status::Cancelled);
        assert_eq!(Status::from_code("SKIP"), Status::Skipped);
        assert_eq!(Status::from_code("RUNNING"), Status::Running);
        assert_eq!(Status::from_code("WAITING"), Status::Waiting);
        assert_eq!(Status::from_code("CANCELLING"), Status::Cancelling);
        assert_eq!(Status::from_code("UNKOWN"), Status::Unknown);
        assert_eq!(Status::from_code("BLOCKED_BY_POLICY"), Status::Unknown);
        assert_eq!(Status::from_code(" succ\n"), Status::Success);
        assert_eq!(Status::from_code("Cancelling"), Status::Cancelling);
        assert_eq!(Status::from_code("CANCELLINGS"), Status::Unknown);
        assert_eq!(Status::from_code("ſucc"), Status::Unknown);
        assert_eq!(Status::from_code(""), Status::Unknown);
        assert!(Status::Failed.is_final());
        assert!(!Status::Running.is_final());
        assert!(!Status::Unknown.is_final());
    }
}
