//! The notification a Gitee Go job node sends on a status change, as PROTOCOL.md describes it.
//!
//! Every field may be missing or null in real traffic, so every field is optional and a missing
//! one is kept as missing rather than being a reason to refuse the event. Unknown status codes,
//! unknown source types and unknown fields are kept as received, so nothing is lost when Gitee
//! adds something.

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// One webhook notification: the job whose status changed, what it was built from, and the
/// pipeline's global parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    #[serde(default, deserialize_with = "null_as_default")]
    pub job: Job,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sources: Vec<Source>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub global_params: Vec<GlobalParam>,
    /// Top-level fields this version does not know, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    #[serde(
        default,
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub pipeline_id: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub pipeline_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub stage_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub job_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub build_number: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_code: Option<StatusCode>,
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
        match code.trim().to_ascii_uppercase().as_str() {
            "SUCC" | "SUCCESS" => Status::Success,
            "FAIL" | "FAILED" | "FAILURE" => Status::Failed,
            "CANCEL" | "CANCELED" | "CANCELLED" => Status::Cancelled,
            "SKIP" | "SKIPPED" => Status::Skipped,
            "RUNNING" => Status::Running,
            "WAITING" | "PENDING" => Status::Waiting,
            "CANCELLING" | "CANCELING" => Status::Cancelling,
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GlobalParam {
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub key: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
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

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = match Value::deserialize(deserializer)? {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(de::Error::custom(format!(
                    "a source must be an object, found {}",
                    json_kind(&other)
                )));
            }
        };
        let source_type = take_string::<D::Error>(&mut map, "sourceType")?;
        let source = match source_type.as_deref() {
            Some("GITEE_GO") => Source::GiteeGo {
                repo_path: take_string(&mut map, "repoPath")?,
                branch: take_string(&mut map, "branch")?,
                commit_id: take_string(&mut map, "commitId")?,
                extra: map,
            },
            Some("PIPELINE") => Source::Pipeline {
                build_number: take_u64(&mut map, "buildNumber")?,
                up_params: map.shift_remove("upParams").and_then(UpParams::from_value),
                extra: map,
            },
            Some("CODE_LEVEL_ARTIFACT") => Source::CodeLevelArtifact {
                artifact_repo: take_string(&mut map, "artifactRepo")?,
                artifact_version: take_string(&mut map, "artifactVersion")?,
                extra: map,
            },
            _ => Source::Other {
                source_type,
                fields: map,
            },
        };
        Ok(source)
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

    fn from_value(value: Value) -> Option<UpParams> {
        match value {
            Value::Null => None,
            Value::Object(mut map) => {
                if let Some(Value::Object(values)) = map.shift_remove(Self::REPAIRED_MARKER) {
                    return Some(UpParams {
                        form: UpParamsForm::Unescaped,
                        values,
                        text: None,
                    });
                }
                Some(UpParams {
                    form: UpParamsForm::Object,
                    values: map,
                    text: None,
                })
            }
            Value::String(text) => Some(UpParams::from_string(text)),
            other => Some(UpParams {
                form: UpParamsForm::Text,
                values: Map::new(),
                text: Some(other.to_string()),
            }),
        }
    }

    fn from_string(text: String) -> UpParams {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(values)) => UpParams {
                form: UpParamsForm::EncodedString,
                values,
                text: None,
            },
            _ => UpParams {
                form: UpParamsForm::Text,
                values: Map::new(),
                text: Some(text),
            },
        }
    }
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

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn take_string<E: de::Error>(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, E> {
    match map.shift_remove(key) {
        None => Ok(None),
        Some(value) => value_to_string(value)
            .map_err(|kind| E::custom(format!("{key}: expected a string, found {kind}"))),
    }
}

fn take_u64<E: de::Error>(map: &mut Map<String, Value>, key: &str) -> Result<Option<u64>, E> {
    match map.shift_remove(key) {
        None => Ok(None),
        Some(value) => value_to_u64(value)
            .map_err(|kind| E::custom(format!("{key}: expected a whole number, found {kind}"))),
    }
}

/// Strings as they are; numbers and booleans as their text (some senders quote nothing).
fn value_to_string(value: Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(json_kind(&other)),
    }
}

/// Whole numbers, also when sent as a string of digits.
fn value_to_u64(value: Value) -> Result<Option<u64>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("the number {n}")),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("the string {s:?}")),
        other => Err(json_kind(&other).to_owned()),
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    value_to_string(value)
        .map_err(|kind| de::Error::custom(format!("expected a string, found {kind}")))
}

fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    value_to_u64(value)
        .map_err(|kind| de::Error::custom(format!("expected a whole number, found {kind}")))
}

fn lenient_status<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<StatusCode>, D::Error> {
    Ok(lenient_string(deserializer)?.map(StatusCode))
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
        assert!(Status::Failed.is_final());
        assert!(!Status::Running.is_final());
        assert!(!Status::Unknown.is_final());
    }

    #[test]
    fn numbers_sent_as_strings_and_strings_sent_as_numbers_are_accepted() {
        let job: Job = serde_json::from_str(
            r#"{"pipelineId":"183","buildNumber":19,"pipelineName":42,"statusCode":null}"#,
        )
        .unwrap();
        assert_eq!(job.pipeline_id, Some(183));
        assert_eq!(job.build_number, Some(19));
        assert_eq!(job.pipeline_name.as_deref(), Some("42"));
        assert_eq!(job.status_code, None);
        assert_eq!(job.status(), Status::Unknown);
    }

    #[test]
    fn a_wrongly_typed_field_is_named_in_the_error() {
        let err = serde_json::from_str::<Job>(r#"{"pipelineId":[1]}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a whole number, found an array"),
            "{err}"
        );
    }

    #[test]
    fn unknown_source_keeps_every_field_and_serializes_back() {
        let raw = r#"{"sourceType":"SVN","url":"svn://x","rev":12}"#;
        let source: Source = serde_json::from_str(raw).unwrap();
        assert_eq!(source.kind(), SourceKind::Other);
        assert_eq!(source.source_type(), Some("SVN"));
        assert_eq!(source.extra().get("rev"), Some(&Value::from(12)));
        assert_eq!(serde_json::to_string(&source).unwrap(), raw);
    }

    #[test]
    fn up_params_as_encoded_string_object_and_text() {
        let encoded: Source = serde_json::from_str(
            r#"{"sourceType":"PIPELINE","upParams":"{\"A\":\"1\",\"B\":\"2\"}"}"#,
        )
        .unwrap();
        let object: Source =
            serde_json::from_str(r#"{"sourceType":"PIPELINE","upParams":{"A":"1","B":"2"}}"#)
                .unwrap();
        let text: Source =
            serde_json::from_str(r#"{"sourceType":"PIPELINE","upParams":"A=1"}"#).unwrap();
        let params = |s: &Source| match s {
            Source::Pipeline { up_params, .. } => up_params.clone().unwrap(),
            other => panic!("not a pipeline source: {other:?}"),
        };
        assert_eq!(params(&encoded).form, UpParamsForm::EncodedString);
        assert_eq!(params(&object).form, UpParamsForm::Object);
        assert_eq!(params(&encoded).values, params(&object).values);
        assert_eq!(params(&text).form, UpParamsForm::Text);
        assert_eq!(params(&text).text.as_deref(), Some("A=1"));
        assert_eq!(
            serde_json::to_string(&encoded).unwrap(),
            r#"{"sourceType":"PIPELINE","upParams":{"A":"1","B":"2"}}"#
        );
    }
}
