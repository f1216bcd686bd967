//! The notification a Gitee Go job node sends on a status change, as PROTOCOL.md describes it.
//!
//! Every field may be missing or null in real traffic, so every field is optional and a missing
//! one is kept as missing rather than being a reason to refuse the event. Unknown status codes,
//! unknown source types and unknown fields are kept as received, so nothing is lost when Gitee
//! adds something.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// One webhook notification: the job whose status changed, what it was built from, and the
/// pipeline's global parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub job: Job,
    pub sources: Vec<Source>,
    pub global_params: Vec<GlobalParam>,
    /// Top-level fields this version does not know, kept as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
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

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Errors are made here, once the value has been read whole, rather than inside the
        // visitor, so that they carry the same position as when a source was read as a `Value`.
        let mut fields = match deserializer.deserialize_any(RawSourceVisitor)? {
            RawSource::Object(fields) => distinct(fields),
            RawSource::Null => Vec::new(),
            RawSource::Not(kind) => {
                return Err(de::Error::custom(format!(
                    "a source must be an object, found {kind}"
                )));
            }
        };
        let source_type = take_string::<D::Error>(&mut fields, "sourceType")?;
        let source = match source_type.as_deref() {
            Some("GITEE_GO") => Source::GiteeGo {
                repo_path: take_string(&mut fields, "repoPath")?,
                branch: take_string(&mut fields, "branch")?,
                commit_id: take_string(&mut fields, "commitId")?,
                extra: into_map(fields),
            },
            Some("PIPELINE") => Source::Pipeline {
                build_number: take_u64(&mut fields, "buildNumber")?,
                up_params: take(&mut fields, "upParams").and_then(UpParams::from_value),
                extra: into_map(fields),
            },
            Some("CODE_LEVEL_ARTIFACT") => Source::CodeLevelArtifact {
                artifact_repo: take_string(&mut fields, "artifactRepo")?,
                artifact_version: take_string(&mut fields, "artifactVersion")?,
                extra: into_map(fields),
            },
            _ => Source::Other {
                source_type,
                fields: into_map(fields),
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

fn take_string<E: de::Error>(fields: &mut Fields, key: &str) -> Result<Option<String>, E> {
    match take(fields, key) {
        None => Ok(None),
        Some(value) => value_to_string(value)
            .map_err(|kind| E::custom(format!("{key}: expected a string, found {kind}"))),
    }
}

fn take_u64<E: de::Error>(fields: &mut Fields, key: &str) -> Result<Option<u64>, E> {
    match take(fields, key) {
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

/// [`value_to_string`] of the field's value, read without building the `Value` first. The
/// error is made after the value has been read, as it was when a `Value` was built, so it
/// reads the same and has the same position.
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer
        .deserialize_any(Lenient(value_to_string, |text| Ok(Some(text))))?
        .map_err(|kind| de::Error::custom(format!("expected a string, found {kind}")))
}

/// [`value_to_u64`] of the field's value, read as [`lenient_string`] reads.
fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    deserializer
        .deserialize_any(Lenient(value_to_u64, |text| {
            value_to_u64(Value::String(text))
        }))?
        .map_err(|kind| de::Error::custom(format!("expected a whole number, found {kind}")))
}

/// Reads a scalar field's value and converts it: strings with the second function, without a
/// `Value` around them; anything else with the first, from the `Value` it would have been.
struct Lenient<T, K, S>(fn(Value) -> Result<T, K>, S);

impl<'de, T, K, S: FnOnce(String) -> Result<T, K>> Visitor<'de> for Lenient<T, K, S> {
    type Value = Result<T, K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok((self.1)(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok((self.1)(text))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok((self.0)(Value::from(n)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok((self.0)(Value::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok((self.0)(Value::from(n)))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok((self.0)(Value::Bool(b)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((self.0)(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok((self.0)(value))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok((self.0)(value))
    }
}

// Reading notifications by hand.
//
// The derived code did this with `#[serde(flatten)]` for the unknown fields, which routes every
// object through serde's private buffering, and read each source as a `Value` first, hashing
// and allocating every key; a journal of a million lines paid that a million times on start.
// These visitors read each object once and borrow keys from the input, and keep the derived
// code's behaviour: a missing or null field is empty, a repeated known field is the same
// `duplicate field` error, unknown fields keep their arrival order (a repeated one its first
// place and last value, as `Map::insert` does), and errors read the same with the same position
// (the `derive_parity` tests compare both on generated input).

impl<'de> Deserialize<'de> for Notification {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NotificationVisitor;
        impl<'de> Visitor<'de> for NotificationVisitor {
            type Value = Notification;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("struct Notification")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Notification, A::Error> {
                let mut job: Option<Option<Job>> = None;
                let mut sources: Option<Option<Vec<Source>>> = None;
                let mut global_params: Option<Option<Vec<GlobalParam>>> = None;
                let extra = read_fields(map, |key, map| match key {
                    "job" => first(map, &mut job, "job"),
                    "sources" => first(map, &mut sources, "sources"),
                    "globalParams" => first(map, &mut global_params, "globalParams"),
                    _ => Ok(false),
                })?;
                Ok(Notification {
                    job: job.flatten().unwrap_or_default(),
                    sources: sources.flatten().unwrap_or_default(),
                    global_params: global_params.flatten().unwrap_or_default(),
                    extra,
                })
            }
        }
        deserializer.deserialize_map(NotificationVisitor)
    }
}

impl<'de> Deserialize<'de> for Job {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JobVisitor;
        impl<'de> Visitor<'de> for JobVisitor {
            type Value = Job;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("struct Job")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Job, A::Error> {
                let mut pipeline_id: Option<LenientU64> = None;
                let mut pipeline_name: Option<LenientString> = None;
                let mut stage_name: Option<LenientString> = None;
                let mut job_name: Option<LenientString> = None;
                let mut build_number: Option<LenientU64> = None;
                let mut status_code: Option<LenientString> = None;
                let mut status_name: Option<LenientString> = None;
                let mut pipeline_url: Option<LenientString> = None;
                let extra = read_fields(map, |key, map| match key {
                    "pipelineId" => first(map, &mut pipeline_id, "pipelineId"),
                    "pipelineName" => first(map, &mut pipeline_name, "pipelineName"),
                    "stageName" => first(map, &mut stage_name, "stageName"),
                    "jobName" => first(map, &mut job_name, "jobName"),
                    "buildNumber" => first(map, &mut build_number, "buildNumber"),
                    "statusCode" => first(map, &mut status_code, "statusCode"),
                    "statusName" => first(map, &mut status_name, "statusName"),
                    "pipelineUrl" => first(map, &mut pipeline_url, "pipelineUrl"),
                    _ => Ok(false),
                })?;
                Ok(Job {
                    pipeline_id: pipeline_id.and_then(|v| v.0),
                    pipeline_name: pipeline_name.and_then(|v| v.0),
                    stage_name: stage_name.and_then(|v| v.0),
                    job_name: job_name.and_then(|v| v.0),
                    build_number: build_number.and_then(|v| v.0),
                    status_code: status_code.and_then(|v| v.0).map(StatusCode),
                    status_name: status_name.and_then(|v| v.0),
                    pipeline_url: pipeline_url.and_then(|v| v.0),
                    extra,
                })
            }
        }
        deserializer.deserialize_map(JobVisitor)
    }
}

impl<'de> Deserialize<'de> for GlobalParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct GlobalParamVisitor;
        impl<'de> Visitor<'de> for GlobalParamVisitor {
            type Value = GlobalParam;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("struct GlobalParam")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<GlobalParam, A::Error> {
                let mut key: Option<LenientString> = None;
                let mut value: Option<LenientString> = None;
                let extra = read_fields(map, |name, map| match name {
                    "key" => first(map, &mut key, "key"),
                    "value" => first(map, &mut value, "value"),
                    _ => Ok(false),
                })?;
                Ok(GlobalParam {
                    key: key.and_then(|v| v.0),
                    value: value.and_then(|v| v.0),
                    extra,
                })
            }
        }
        deserializer.deserialize_map(GlobalParamVisitor)
    }
}

/// Reads an object's fields: `known` reads the value of a field it knows and says so; every
/// other field goes, as received, into the map returned.
fn read_fields<'de, A: MapAccess<'de>>(
    mut map: A,
    mut known: impl FnMut(&str, &mut A) -> Result<bool, A::Error>,
) -> Result<Map<String, Value>, A::Error> {
    let mut extra = Map::new();
    while let Some(Key(key)) = map.next_key()? {
        if !known(&key, &mut map)? {
            extra.insert(key.into_owned(), map.next_value()?);
        }
    }
    Ok(extra)
}

/// Reads a known field's value, unless the field came before.
fn first<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<bool, A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(true)
}

/// A field name, borrowed from the input when it needed no unescaping.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }

            fn visit_string<E: de::Error>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A field read by [`lenient_string`].
struct LenientString(Option<String>);

impl<'de> Deserialize<'de> for LenientString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        lenient_string(deserializer).map(LenientString)
    }
}

/// A field read by [`lenient_u64`].
struct LenientU64(Option<u64>);

impl<'de> Deserialize<'de> for LenientU64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        lenient_u64(deserializer).map(LenientU64)
    }
}

/// A source's fields in arrival order, before its `sourceType` says what they mean.
type Fields<'de> = Vec<(Cow<'de, str>, Value)>;

/// A source as read, before it is checked: the checks are made by the caller, once the whole
/// value has been read, so that an error has the position it had when sources were `Value`s.
enum RawSource<'de> {
    Object(Fields<'de>),
    Null,
    Not(&'static str),
}

struct RawSourceVisitor;

impl<'de> Visitor<'de> for RawSourceVisitor {
    type Value = RawSource<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawSource<'de>, E> {
        Ok(RawSource::Not("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawSource<'de>, E> {
        Ok(RawSource::Not("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawSource<'de>, E> {
        Ok(RawSource::Not("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawSource<'de>, E> {
        Ok(RawSource::Not("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawSource<'de>, E> {
        Ok(RawSource::Not("a string"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawSource<'de>, E> {
        Ok(RawSource::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<RawSource<'de>, E> {
        Ok(RawSource::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawSource<'de>, A::Error> {
        // Read as values, so the elements are checked as strictly as before.
        while seq.next_element::<Value>()?.is_some() {}
        Ok(RawSource::Not("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSource<'de>, A::Error> {
        let mut fields = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            fields.push((key, map.next_value()?));
        }
        Ok(RawSource::Object(fields))
    }
}

/// The fields with each key once, as a `Map` would hold them: first place, last value.
fn distinct(fields: Fields<'_>) -> Fields<'_> {
    // A source has a handful of fields: compare them pairwise. A hostile one with thousands
    // goes through a map instead, so it cannot make this quadratic.
    const PAIRWISE: usize = 16;
    if fields.len() <= PAIRWISE
        && !fields
            .iter()
            .enumerate()
            .any(|(i, (key, _))| fields[..i].iter().any(|(earlier, _)| earlier == key))
    {
        return fields;
    }
    into_map(fields)
        .into_iter()
        .map(|(key, value)| (Cow::Owned(key), value))
        .collect()
}

fn take(fields: &mut Fields<'_>, key: &str) -> Option<Value> {
    let at = fields.iter().position(|(k, _)| k == key)?;
    Some(fields.remove(at).1)
}

fn into_map(fields: Fields<'_>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(key, value)| (key.into_owned(), value))
        .collect()
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

/// The hand-written `Deserialize` impls against the derived code they replaced, kept here as
/// the reference: on generated bodies with known, unknown, repeated, escaped, null and wrongly
/// typed fields, both give the same value or the same error, position included.
#[cfg(test)]
mod derive_parity {
    use super::{UpParams, value_to_string, value_to_u64};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde::de::{self, Deserializer};
    use serde_json::{Map, Value};

    /// The derived types as they were, with the same names so their `Debug` text is comparable.
    mod reference {
        // Their fields are read only through `Debug`, which dead-code analysis does not count.
        #![allow(dead_code)]
        use super::*;

        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct Notification {
            #[serde(default, deserialize_with = "null_as_default")]
            pub job: Job,
            #[serde(default, deserialize_with = "null_as_default")]
            pub sources: Vec<Source>,
            #[serde(default, deserialize_with = "null_as_default")]
            pub global_params: Vec<GlobalParam>,
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        #[derive(Debug, Default, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct Job {
            #[serde(default, deserialize_with = "lenient_u64")]
            pub pipeline_id: Option<u64>,
            #[serde(default, deserialize_with = "lenient_string")]
            pub pipeline_name: Option<String>,
            #[serde(default, deserialize_with = "lenient_string")]
            pub stage_name: Option<String>,
            #[serde(default, deserialize_with = "lenient_string")]
            pub job_name: Option<String>,
            #[serde(default, deserialize_with = "lenient_u64")]
            pub build_number: Option<u64>,
            #[serde(default, deserialize_with = "lenient_status")]
            pub status_code: Option<StatusCode>,
            #[serde(default, deserialize_with = "lenient_string")]
            pub status_name: Option<String>,
            #[serde(default, deserialize_with = "lenient_string")]
            pub pipeline_url: Option<String>,
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        #[derive(Debug)]
        pub struct StatusCode(pub String);

        #[derive(Debug, Deserialize)]
        pub struct GlobalParam {
            #[serde(default, deserialize_with = "lenient_string")]
            pub key: Option<String>,
            #[serde(default, deserialize_with = "lenient_string")]
            pub value: Option<String>,
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        #[derive(Debug)]
        pub enum Source {
            GiteeGo {
                repo_path: Option<String>,
                branch: Option<String>,
                commit_id: Option<String>,
                extra: Map<String, Value>,
            },
            Pipeline {
                build_number: Option<u64>,
                up_params: Option<UpParams>,
                extra: Map<String, Value>,
            },
            CodeLevelArtifact {
                artifact_repo: Option<String>,
                artifact_version: Option<String>,
                extra: Map<String, Value>,
            },
            Other {
                source_type: Option<String>,
                fields: Map<String, Value>,
            },
        }

        impl<'de> Deserialize<'de> for Source {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let mut map = match Value::deserialize(deserializer)? {
                    Value::Object(map) => map,
                    Value::Null => Map::new(),
                    other => {
                        return Err(de::Error::custom(format!(
                            "a source must be an object, found {}",
                            super::super::json_kind(&other)
                        )));
                    }
                };
                let source_type = take_string::<D::Error>(&mut map, "sourceType")?;
                Ok(match source_type.as_deref() {
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
                })
            }
        }

        fn take_string<E: de::Error>(
            map: &mut Map<String, Value>,
            key: &str,
        ) -> Result<Option<String>, E> {
            match map.shift_remove(key) {
                None => Ok(None),
                Some(value) => value_to_string(value)
                    .map_err(|kind| E::custom(format!("{key}: expected a string, found {kind}"))),
            }
        }

        fn take_u64<E: de::Error>(
            map: &mut Map<String, Value>,
            key: &str,
        ) -> Result<Option<u64>, E> {
            match map.shift_remove(key) {
                None => Ok(None),
                Some(value) => value_to_u64(value).map_err(|kind| {
                    E::custom(format!("{key}: expected a whole number, found {kind}"))
                }),
            }
        }

        fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
        where
            D: Deserializer<'de>,
            T: Default + Deserialize<'de>,
        {
            Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
        }

        fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
            value_to_string(Value::deserialize(d)?)
                .map_err(|kind| de::Error::custom(format!("expected a string, found {kind}")))
        }

        fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
            value_to_u64(Value::deserialize(d)?)
                .map_err(|kind| de::Error::custom(format!("expected a whole number, found {kind}")))
        }

        fn lenient_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<StatusCode>, D::Error> {
            Ok(lenient_string(d)?.map(StatusCode))
        }
    }

    fn object(fields: Vec<(&'static str, String)>) -> String {
        let fields: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    /// Any JSON value, including the awkward ones for a lenient field.
    fn value() -> BoxedStrategy<String> {
        let scalar = prop_oneof![
            Just("null".to_owned()),
            Just("false".to_owned()),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            (-1e6f64..1e6).prop_map(|f| format!("{f:?}")),
            Just("1e300".to_owned()),
            "[a-z0-9 ]{0,6}".prop_map(|s| format!("\"{s}\"")),
            Just(r#"" 42 ""#.to_owned()),
            Just(r#""caf\u00e9\n""#.to_owned()),
            Just(r#""{\"A\":\"1\"}""#.to_owned()),
        ];
        scalar
            .prop_recursive(2, 8, 3, |inner| {
                prop_oneof![
                    vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
                    vec((prop::sample::select(&["\"a\"", "\"b\""][..]), inner), 0..3)
                        .prop_map(object),
                ]
            })
            .boxed()
    }

    /// An object whose keys come from `keys` (known ones, unknown ones, escaped spellings),
    /// possibly repeated, or now and then not an object at all.
    fn fields(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            8 => vec((prop::sample::select(keys), value()), 0..6).prop_map(object),
            1 => value(),
        ]
    }

    fn source() -> impl Strategy<Value = String> {
        let source_type = prop_oneof![
            Just(r#""GITEE_GO""#.to_owned()),
            Just(r#""PIPELINE""#.to_owned()),
            Just(r#""CODE_LEVEL_ARTIFACT""#.to_owned()),
            Just(r#""SVN""#.to_owned()),
            value(),
        ];
        let keys = &[
            r#""repoPath""#,
            r#""branch""#,
            r#""commitId""#,
            r#""buildNumber""#,
            r#""upParams""#,
            r#""artifactRepo""#,
            r#""artifactVersion""#,
            r#""source\u0054ype""#,
            r#""x""#,
        ][..];
        (source_type, fields(keys), any::<bool>()).prop_map(|(kind, rest, typed)| {
            match rest.strip_prefix('{') {
                Some(rest) if typed => {
                    let sep = if rest == "}" { "" } else { "," };
                    format!(r#"{{"sourceType":{kind}{sep}{rest}"#)
                }
                _ => rest.clone(),
            }
        })
    }

    fn notification() -> impl Strategy<Value = String> {
        let job = fields(&[
            r#""pipelineId""#,
            r#""pipelineName""#,
            r#""stageName""#,
            r#""jobName""#,
            r#""buildNumber""#,
            r#""statusCode""#,
            r#""statusName""#,
            r#""pipelineUrl""#,
            r#""job\u004eame""#,
            r#""x""#,
        ]);
        let param = fields(&[r#""key""#, r#""value""#, r#""x""#]);
        let part = prop_oneof![
            job.prop_map(|v| (r#""job""#, v)),
            vec(source(), 0..3).prop_map(|v| (r#""sources""#, format!("[{}]", v.join(",")))),
            vec(param, 0..3).prop_map(|v| (r#""globalParams""#, format!("[{}]", v.join(",")))),
            value().prop_map(|v| (r#""job""#, v)),
            value().prop_map(|v| (r#""sources""#, v)),
            value().prop_map(|v| (r#""glob\u0061lParams""#, v)),
            value().prop_map(|v| (r#""extra""#, v)),
            value().prop_map(|v| (r#""other""#, v)),
        ];
        prop_oneof![
            20 => vec(part, 0..5).prop_map(object),
            1 => value(),
        ]
    }

    fn same_as_derived(text: &str) -> Result<(), TestCaseError> {
        let new = serde_json::from_str::<super::Notification>(text);
        let old = serde_json::from_str::<reference::Notification>(text);
        let new = new.map(|n| format!("{n:?}")).map_err(|e| e.to_string());
        let old = old.map(|n| format!("{n:?}")).map_err(|e| e.to_string());
        prop_assert_eq!(new, old, "{}", text);
        Ok(())
    }

    #[test]
    fn repeated_fields_and_wrong_types_fail_or_pass_as_before() {
        for text in [
            r#"{"job":{},"job":{}}"#,
            r#"{"job":null,"job":{}}"#,
            r#"{"x":1,"y":2,"x":3}"#,
            r#"{"job":{"jobName":"a","jobName":"b"}}"#,
            r#"{"job":{"pipelineId":[1, 2] ,"x":1}}"#,
            r#"{"job":{"pipelineId":"7x"}}"#,
            r#"{"job":{"pipelineId":-1.5}}"#,
            r#"{"sources":[{"sourceType":"GITEE_GO","branch":"a","branch":"b","x":1,"x":2}]}"#,
            r#"{"sources":[{"sourceType":"GITEE_GO","sourceType":"PIPELINE","buildNumber":"3"}]}"#,
            r#"{"sources":[{"sourceType":"PIPELINE","buildNumber":{"a":1}} ]}"#,
            r#"{"sources":[ [1, 2] , 3]}"#,
            r#"{"sources":[true]}"#,
            r#"{"sources":["s"]}"#,
            r#"{"sources":[null]}"#,
            r#"{"sources":{}}"#,
            r#"{"globalParams":[{"key":1,"value":true,"key":2}]}"#,
            r#"[1]"#,
            r#""text""#,
        ] {
            same_as_derived(text).unwrap();
        }
        let many: Vec<String> = (0..40).map(|n| format!(r#""k{}":{n}"#, n % 30)).collect();
        same_as_derived(&format!(r#"{{"sources":[{{{}}}]}}"#, many.join(","))).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn same_value_or_same_error_as_the_derived_code(text in notification()) {
            same_as_derived(&text)?;
        }

        #[test]
        fn what_is_read_is_written_back_and_reads_the_same(text in notification()) {
            if let Ok(read) = serde_json::from_str::<super::Notification>(&text) {
                let written = serde_json::to_string(&read).unwrap();
                let again: super::Notification = serde_json::from_str(&written).unwrap();
                prop_assert_eq!(&again, &read);
                prop_assert_eq!(serde_json::to_string(&again).unwrap(), written);
            }
        }
    }
}
