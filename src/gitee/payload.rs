//! The notification a Gitee Go job node sends on a status change, as PROTOCOL.md describes it.
//!
//! Every field may be missing or null in real traffic, so every field is optional and a missing
//! one is kept as missing rather than being a reason to refuse the event. Unknown status codes,
//! unknown source types and unknown fields are kept as received, so nothing is lost when Gitee
//! adds something; so is a known field whose value has another shape than documented (see
//! [`Notification::misfits`]).
//!
//! The types are read by hand-written visitors rather than derived code, for speed: the derived
//! code's `#[serde(flatten)]` buffers every object through serde's private `Content`, and
//! reading each object once with borrowed keys made parsing 0.76 × the time of building a
//! `serde_json::Value` of the same body (BENCHMARKS.md, "The ingest ratio"), which every request
//! and every journal line on start pays.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
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

impl Source {
    /// Reads a source from its fields, each key once.
    fn from_fields(mut fields: Fields<'_>) -> Source {
        let source_type = take_as(&mut fields, "sourceType", value_to_string);
        match source_type.as_deref() {
            Some("GITEE_GO") => Source::GiteeGo {
                repo_path: take_as(&mut fields, "repoPath", value_to_string),
                branch: take_as(&mut fields, "branch", value_to_string),
                commit_id: take_as(&mut fields, "commitId", value_to_string),
                extra: into_map(fields),
            },
            Some("PIPELINE") => Source::Pipeline {
                build_number: take_as(&mut fields, "buildNumber", value_to_u64),
                up_params: take_as(&mut fields, "upParams", UpParams::from_value),
                extra: into_map(fields),
            },
            Some("CODE_LEVEL_ARTIFACT") => Source::CodeLevelArtifact {
                artifact_repo: take_as(&mut fields, "artifactRepo", value_to_string),
                artifact_version: take_as(&mut fields, "artifactVersion", value_to_string),
                extra: into_map(fields),
            },
            _ => Source::Other {
                source_type,
                fields: into_map(fields),
            },
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

/// A source on its own must be an object (or null); in a notification's `sources`, any other
/// value is kept as received instead.
impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(ObjectOr(SourceVisitor))? {
            Ok(source) => Ok(source),
            Err(other) => Err(de::Error::custom(format!(
                "a source must be an object, found {}",
                json_kind(&other)
            ))),
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

    fn from_value(value: Value) -> Read<UpParams> {
        Ok(match value {
            Value::Null => None,
            Value::Object(mut map) => {
                if let Some(Value::Object(values)) = map.shift_remove(Self::REPAIRED_MARKER) {
                    return Ok(Some(UpParams {
                        form: UpParamsForm::Unescaped,
                        values,
                        text: None,
                    }));
                }
                Some(UpParams {
                    form: UpParamsForm::Object,
                    values: map,
                    text: None,
                })
            }
            Value::String(text) => Some(UpParams::from_string(text)),
            other => return Err(other),
        })
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

/// A field's value read into its type (`None` for null), or, when its shape does not fit the
/// type, the value as received, to be kept under the field's own name.
type Read<T> = Result<Option<T>, Value>;

/// Takes a source's field and reads it with `read`; a value that does not fit goes back among
/// the fields, so it is kept as received.
fn take_as<T>(fields: &mut Fields<'_>, key: &'static str, read: fn(Value) -> Read<T>) -> Option<T> {
    match read(take(fields, key)?) {
        Ok(value) => value,
        Err(raw) => {
            fields.push((Cow::Borrowed(key), raw));
            None
        }
    }
}

/// Strings as they are; numbers and booleans as their text (some senders quote nothing).
fn value_to_string(value: Value) -> Read<String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(other),
    }
}

/// Whole numbers, also when sent as a string of digits.
fn value_to_u64(value: Value) -> Read<u64> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_u64().map(Some).ok_or(Value::Number(n)),
        Value::String(text) => text_to_u64(text),
        other => Err(other),
    }
}

fn text_to_u64(text: String) -> Read<u64> {
    let digits = text.trim();
    if digits.is_empty() {
        return Ok(None);
    }
    match digits.parse() {
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(Value::String(text)),
    }
}

/// Reads a scalar field's value and converts it: strings with the second function, without a
/// `Value` around them; anything else with the first, from the `Value` it would have been.
struct Lenient<T, S>(fn(Value) -> Read<T>, S);

impl<'de, T, S: FnOnce(String) -> Read<T>> Visitor<'de> for Lenient<T, S> {
    type Value = Read<T>;

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

/// A scalar field of a known name, read leniently.
struct Field<T>(Read<T>);

impl<'de> Deserialize<'de> for Field<String> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(Lenient(value_to_string, |text| Ok(Some(text))))
            .map(Field)
    }
}

impl<'de> Deserialize<'de> for Field<u64> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(Lenient(value_to_u64, text_to_u64))
            .map(Field)
    }
}

/// The value of a field read as a [`Field`]; one that did not fit is put into `extra` under
/// its name.
fn fit<T>(read: Option<Field<T>>, name: &str, extra: &mut Map<String, Value>) -> Option<T> {
    match read?.0 {
        Ok(value) => value,
        Err(raw) => {
            extra.insert(name.to_owned(), raw);
            None
        }
    }
}

// Reading notifications by hand.
//
// The derived code did this with `#[serde(flatten)]` for the unknown fields, which routes every
// object through serde's private buffering, and read each source as a `Value` first, hashing
// and allocating every key; a journal of a million lines paid that a million times on start.
// These visitors read each object once and borrow keys from the input.
//
// What they read: any JSON object is a notification. A missing or null field is empty; a field
// that comes twice counts with its last value, as in a `Value`; unknown fields keep their
// arrival order (a repeated one its first place and last value, as `Map::insert` does). A known
// field whose value does not fit its type (a `buildNumber` of 3.5, `sources` as an object, a
// source that is a string) is kept as received, under its own name, in the `extra` of the
// object it belongs to, and its typed field stays empty; so writing the notification out gives
// back what was received, and reading that again gives the same notification. `sources` and
// `globalParams` keep the elements that fit, and the whole list as written when one does not;
// `globalParams` sent as an object is also read as its key/value pairs. [`Notification::misfits`]
// names every such field. The `model` tests check all of this against a plain reading of the
// same body as a `Value`, on generated input.

/// A value that should be an object: read by `T`'s visitor when it is one (null reads as
/// empty), kept as received when it is not.
struct Shaped<T>(Result<T, Value>);

/// Reads an object with the visitor it holds; any other value is handed back as received.
struct ObjectOr<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for ObjectOr<V>
where
    V::Value: Default,
{
    type Value = Result<V::Value, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(map).map(Ok)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(V::Value::default()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(V::Value::default()))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Err(Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Err(Value::from(n)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Err(Value::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Err(Value::from(n)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Err(Value::String(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Err(Value::String(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Err)
    }
}

impl<'de> Deserialize<'de> for Shaped<Job> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ObjectOr(JobVisitor))
            .map(Shaped)
    }
}

impl<'de> Deserialize<'de> for Shaped<Source> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ObjectOr(SourceVisitor))
            .map(Shaped)
    }
}

impl<'de> Deserialize<'de> for Shaped<GlobalParam> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ObjectOr(GlobalParamVisitor))
            .map(Shaped)
    }
}

/// A list field: the elements that fit, and the whole field as received when it, or one of
/// its elements, did not. The elements that fit are written there as they are written
/// anywhere, so the field reads back the same.
struct Listed<T> {
    items: Vec<T>,
    raw: Option<Value>,
}

/// An element of `sources` or `globalParams`.
trait Element: Serialize + Sized {
    /// What an object sent in place of the list is read as.
    fn from_object(_: &Map<String, Value>) -> Vec<Self> {
        Vec::new()
    }
}

impl Element for Source {}

impl Element for GlobalParam {
    /// The sister product's `{"key1": "aaa"}`: one parameter per key.
    fn from_object(object: &Map<String, Value>) -> Vec<GlobalParam> {
        object
            .iter()
            .map(|(key, value)| {
                let mut extra = Map::new();
                let value = fit(
                    Some(Field(value_to_string(value.clone()))),
                    "value",
                    &mut extra,
                );
                GlobalParam {
                    key: Some(key.clone()),
                    value,
                    extra,
                }
            })
            .collect()
    }
}

impl<T> Listed<T> {
    /// The elements; the field as received goes into `extra` under `name` if it is kept.
    fn keep(list: Option<Listed<T>>, name: &str, extra: &mut Map<String, Value>) -> Vec<T> {
        let Some(list) = list else {
            return Vec::new();
        };
        if let Some(raw) = list.raw {
            extra.insert(name.to_owned(), raw);
        }
        list.items
    }

    fn raw(raw: Value) -> Listed<T> {
        Listed {
            items: Vec::new(),
            raw: Some(raw),
        }
    }
}

impl<'de, T: Element> Deserialize<'de> for Listed<T>
where
    Shaped<T>: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

struct ListVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Element> Visitor<'de> for ListVisitor<T>
where
    Shaped<T>: Deserialize<'de>,
{
    type Value = Listed<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listed<T>, A::Error> {
        let mut items = Vec::new();
        let mut raw: Option<Vec<Value>> = None;
        while let Some(Shaped(element)) = seq.next_element::<Shaped<T>>()? {
            match (element, &mut raw) {
                (Ok(item), None) => items.push(item),
                (Ok(item), Some(raw)) => {
                    raw.push(written(&item));
                    items.push(item);
                }
                (Err(misfit), raw) => raw
                    .get_or_insert_with(|| items.iter().map(written).collect())
                    .push(misfit),
            }
        }
        Ok(Listed {
            items,
            raw: raw.map(Value::Array),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Listed<T>, A::Error> {
        let object = Map::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Listed {
            items: T::from_object(&object),
            raw: Some(Value::Object(object)),
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Listed<T>, E> {
        Ok(Listed {
            items: Vec::new(),
            raw: None,
        })
    }

    fn visit_none<E: de::Error>(self) -> Result<Listed<T>, E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Listed<T>, E> {
        Ok(Listed::raw(Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Listed<T>, E> {
        Ok(Listed::raw(Value::from(n)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Listed<T>, E> {
        Ok(Listed::raw(Value::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Listed<T>, E> {
        Ok(Listed::raw(Value::from(n)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Listed<T>, E> {
        Ok(Listed::raw(Value::String(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Listed<T>, E> {
        Ok(Listed::raw(Value::String(text)))
    }
}

/// An element as the notification writes it.
fn written<T: Serialize>(item: &T) -> Value {
    // Our types hold only strings, numbers and maps with string keys, which always convert.
    serde_json::to_value(item).unwrap_or_default()
}

impl<'de> Deserialize<'de> for Notification {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NotificationVisitor;
        impl<'de> Visitor<'de> for NotificationVisitor {
            type Value = Notification;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Notification, A::Error> {
                let mut job: Option<Shaped<Job>> = None;
                let mut sources: Option<Listed<Source>> = None;
                let mut global_params: Option<Listed<GlobalParam>> = None;
                let mut extra = read_fields(map, |key, map| match key {
                    "job" => last(map, &mut job),
                    "sources" => last(map, &mut sources),
                    "globalParams" => last(map, &mut global_params),
                    _ => Ok(false),
                })?;
                let job = match job {
                    None => Job::default(),
                    Some(Shaped(Ok(job))) => job,
                    Some(Shaped(Err(raw))) => {
                        extra.insert("job".to_owned(), raw);
                        Job::default()
                    }
                };
                Ok(Notification {
                    job,
                    sources: Listed::keep(sources, "sources", &mut extra),
                    global_params: Listed::keep(global_params, "globalParams", &mut extra),
                    extra,
                })
            }
        }
        deserializer.deserialize_map(NotificationVisitor)
    }
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

struct JobVisitor;

impl<'de> Visitor<'de> for JobVisitor {
    type Value = Job;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct Job")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Job, A::Error> {
        let mut pipeline_id: Option<Field<u64>> = None;
        let mut pipeline_name: Option<Field<String>> = None;
        let mut stage_name: Option<Field<String>> = None;
        let mut job_name: Option<Field<String>> = None;
        let mut build_number: Option<Field<u64>> = None;
        let mut status_code: Option<Field<String>> = None;
        let mut status_name: Option<Field<String>> = None;
        let mut pipeline_url: Option<Field<String>> = None;
        let mut extra = read_fields(map, |key, map| match key {
            "pipelineId" => last(map, &mut pipeline_id),
            "pipelineName" => last(map, &mut pipeline_name),
            "stageName" => last(map, &mut stage_name),
            "jobName" => last(map, &mut job_name),
            "buildNumber" => last(map, &mut build_number),
            "statusCode" => last(map, &mut status_code),
            "statusName" => last(map, &mut status_name),
            "pipelineUrl" => last(map, &mut pipeline_url),
            _ => Ok(false),
        })?;
        Ok(Job {
            pipeline_id: fit(pipeline_id, "pipelineId", &mut extra),
            pipeline_name: fit(pipeline_name, "pipelineName", &mut extra),
            stage_name: fit(stage_name, "stageName", &mut extra),
            job_name: fit(job_name, "jobName", &mut extra),
            build_number: fit(build_number, "buildNumber", &mut extra),
            status_code: fit(status_code, "statusCode", &mut extra).map(StatusCode),
            status_name: fit(status_name, "statusName", &mut extra),
            pipeline_url: fit(pipeline_url, "pipelineUrl", &mut extra),
            extra,
        })
    }
}

impl<'de> Deserialize<'de> for Job {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(JobVisitor)
    }
}

struct GlobalParamVisitor;

impl<'de> Visitor<'de> for GlobalParamVisitor {
    type Value = GlobalParam;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct GlobalParam")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<GlobalParam, A::Error> {
        let mut key: Option<Field<String>> = None;
        let mut value: Option<Field<String>> = None;
        let mut extra = read_fields(map, |name, map| match name {
            "key" => last(map, &mut key),
            "value" => last(map, &mut value),
            _ => Ok(false),
        })?;
        Ok(GlobalParam {
            key: fit(key, "key", &mut extra),
            value: fit(value, "value", &mut extra),
            extra,
        })
    }
}

impl<'de> Deserialize<'de> for GlobalParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
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

/// Reads a known field's value; one that comes again replaces it, as in a `Value`.
fn last<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
) -> Result<bool, A::Error> {
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

/// A source's fields in arrival order, before its `sourceType` says what they mean.
type Fields<'de> = Vec<(Cow<'de, str>, Value)>;

struct SourceVisitor;

impl<'de> Visitor<'de> for SourceVisitor {
    type Value = Source;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a source object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Source, A::Error> {
        let mut fields = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            fields.push((key, map.next_value()?));
        }
        Ok(Source::from_fields(distinct(fields)))
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
    fn a_field_of_another_shape_is_kept_as_received_and_the_rest_is_read() {
        let body = serde_json::json!({
            "job": {"pipelineId": [1], "jobName": "build", "buildNumber": 3.5, "x": 1},
            "sources": [{"sourceType": "PIPELINE", "buildNumber": "abc", "upParams": 5}, "s"],
            "globalParams": {"key1": "aaa", "key2": {"b": true}},
        });
        let read: Notification = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(read.job.job_name.as_deref(), Some("build"));
        assert_eq!((read.job.pipeline_id, read.job.build_number), (None, None));
        assert_eq!(read.job.extra["pipelineId"], serde_json::json!([1]));
        assert_eq!(read.job.extra["buildNumber"], 3.5);
        let Source::Pipeline {
            build_number,
            up_params,
            extra,
        } = &read.sources[0]
        else {
            panic!("a pipeline source: {:?}", read.sources);
        };
        assert_eq!((build_number, up_params), (&None, &None));
        assert_eq!(
            (&extra["buildNumber"], &extra["upParams"]),
            (&"abc".into(), &5.into())
        );
        assert_eq!(read.sources.len(), 1);
        let pairs: Vec<_> = read
            .global_params
            .iter()
            .map(|p| (p.key.as_deref(), p.value.as_deref()))
            .collect();
        assert_eq!(pairs, [(Some("key1"), Some("aaa")), (Some("key2"), None)]);
        // Written out, it is the body received: nothing was lost or reshaped.
        assert_eq!(serde_json::to_value(&read).unwrap(), body);
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

/// The reading rule, written plainly over a `serde_json::Value`, as the reference for the
/// hand-written visitors: on generated bodies with known, unknown, repeated, escaped, null and
/// wrongly shaped fields, both read the same notification, or both refuse the body.
#[cfg(test)]
mod model {
    use super::{
        GlobalParam, Job, Notification, Source, StatusCode, UpParams, restore_up_params_forms,
        up_params_forms, value_to_string, value_to_u64,
    };
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    /// What the visitors should read from `text`.
    fn read(text: &str) -> Option<Notification> {
        let Ok(Value::Object(body)) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        let mut notification = Notification::default();
        for (key, value) in body {
            match key.as_str() {
                "job" => match value {
                    Value::Object(fields) => notification.job = job(fields),
                    Value::Null => {}
                    other => {
                        notification.extra.insert(key, other);
                    }
                },
                "sources" => {
                    let (items, raw) = list(value, a_source, |_| Vec::new());
                    notification.sources = items;
                    if let Some(raw) = raw {
                        notification.extra.insert(key, raw);
                    }
                }
                "globalParams" => {
                    let (items, raw) = list(value, param, |object| {
                        object
                            .iter()
                            .map(|(k, v)| {
                                param(Map::from_iter([
                                    ("key".to_owned(), Value::String(k.clone())),
                                    ("value".to_owned(), v.clone()),
                                ]))
                            })
                            .collect()
                    });
                    notification.global_params = items;
                    if let Some(raw) = raw {
                        notification.extra.insert(key, raw);
                    }
                }
                _ => {
                    notification.extra.insert(key, value);
                }
            }
        }
        Some(notification)
    }

    /// A list's elements that are objects or null, and the list as written when it or an
    /// element is anything else.
    fn list<T: serde::Serialize + Default>(
        value: Value,
        element: fn(Map<String, Value>) -> T,
        from_object: fn(&Map<String, Value>) -> Vec<T>,
    ) -> (Vec<T>, Option<Value>) {
        match value {
            Value::Null => (Vec::new(), None),
            Value::Array(elements) => {
                let mut items = Vec::new();
                let mut written = Vec::new();
                let mut misfit = false;
                for value in elements {
                    let item = match value {
                        Value::Object(fields) => element(fields),
                        Value::Null => T::default(),
                        other => {
                            misfit = true;
                            written.push(other);
                            continue;
                        }
                    };
                    written.push(serde_json::to_value(&item).unwrap());
                    items.push(item);
                }
                (items, misfit.then_some(Value::Array(written)))
            }
            Value::Object(object) => (from_object(&object), Some(Value::Object(object))),
            other => (Vec::new(), Some(other)),
        }
    }

    /// Moves `key` out of `fields` read by `read`, or back into `fields` when it did not fit.
    fn take<T>(
        fields: &mut Map<String, Value>,
        key: &str,
        read: fn(Value) -> Result<Option<T>, Value>,
    ) -> Option<T> {
        match read(fields.shift_remove(key)?) {
            Ok(value) => value,
            Err(raw) => {
                fields.insert(key.to_owned(), raw);
                None
            }
        }
    }

    fn job(mut fields: Map<String, Value>) -> Job {
        Job {
            pipeline_id: take(&mut fields, "pipelineId", value_to_u64),
            pipeline_name: take(&mut fields, "pipelineName", value_to_string),
            stage_name: take(&mut fields, "stageName", value_to_string),
            job_name: take(&mut fields, "jobName", value_to_string),
            build_number: take(&mut fields, "buildNumber", value_to_u64),
            status_code: take(&mut fields, "statusCode", value_to_string).map(StatusCode),
            status_name: take(&mut fields, "statusName", value_to_string),
            pipeline_url: take(&mut fields, "pipelineUrl", value_to_string),
            extra: fields,
        }
    }

    fn a_source(mut fields: Map<String, Value>) -> Source {
        let source_type = take(&mut fields, "sourceType", value_to_string);
        match source_type.as_deref() {
            Some("GITEE_GO") => Source::GiteeGo {
                repo_path: take(&mut fields, "repoPath", value_to_string),
                branch: take(&mut fields, "branch", value_to_string),
                commit_id: take(&mut fields, "commitId", value_to_string),
                extra: fields,
            },
            Some("PIPELINE") => Source::Pipeline {
                build_number: take(&mut fields, "buildNumber", value_to_u64),
                up_params: take(&mut fields, "upParams", UpParams::from_value),
                extra: fields,
            },
            Some("CODE_LEVEL_ARTIFACT") => Source::CodeLevelArtifact {
                artifact_repo: take(&mut fields, "artifactRepo", value_to_string),
                artifact_version: take(&mut fields, "artifactVersion", value_to_string),
                extra: fields,
            },
            _ => Source::Other {
                source_type,
                fields,
            },
        }
    }

    fn param(mut fields: Map<String, Value>) -> GlobalParam {
        GlobalParam {
            key: take(&mut fields, "key", value_to_string),
            value: take(&mut fields, "value", value_to_string),
            extra: fields,
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

    fn as_the_model_reads(text: &str) -> Result<(), TestCaseError> {
        let read = serde_json::from_str::<Notification>(text).ok();
        prop_assert_eq!(read, self::read(text), "{}", text);
        Ok(())
    }

    #[test]
    fn repeated_fields_and_odd_shapes_read_as_the_model_reads() {
        for text in [
            r#"{"job":{},"job":{}}"#,
            r#"{"job":null,"job":{}}"#,
            r#"{"job":{},"job":"x"}"#,
            r#"{"x":1,"y":2,"x":3}"#,
            r#"{"job":{"jobName":"a","jobName":"b"}}"#,
            r#"{"job":{"pipelineId":[1, 2] ,"x":1}}"#,
            r#"{"job":{"pipelineId":[1],"pipelineId":2}}"#,
            r#"{"job":{"pipelineId":2,"pipelineId":[1]}}"#,
            r#"{"job":{"pipelineId":"7x"}}"#,
            r#"{"job":{"pipelineId":-1.5,"buildNumber":3.5,"statusCode":{"a":1}}}"#,
            r#"{"job":["a"]}"#,
            r#"{"sources":[{"sourceType":"GITEE_GO","branch":"a","branch":"b","x":1,"x":2}]}"#,
            r#"{"sources":[{"sourceType":"GITEE_GO","sourceType":"PIPELINE","buildNumber":"3"}]}"#,
            r#"{"sources":[{"sourceType":"PIPELINE","buildNumber":{"a":1}} ]}"#,
            r#"{"sources":[{"sourceType":["PIPELINE"]},{"sourceType":"PIPELINE","upParams":5}]}"#,
            r#"{"sources":[ [1, 2] , 3]}"#,
            r#"{"sources":[{"sourceType":"GITEE_GO"},true,{"sourceType":"PIPELINE"}]}"#,
            r#"{"sources":["s"]}"#,
            r#"{"sources":[null]}"#,
            r#"{"sources":{}}"#,
            r#"{"sources":{"sourceType":"GITEE_GO"}}"#,
            r#"{"sources":"s"}"#,
            r#"{"globalParams":[{"key":1,"value":true,"key":2}]}"#,
            r#"{"globalParams":{"key1":"aaa","key2":[1]}}"#,
            r#"{"globalParams":[null,"k=v",{"key":"a","value":{"b":1}}]}"#,
            r#"[1]"#,
            r#""text""#,
            r#"null"#,
        ] {
            as_the_model_reads(text).unwrap();
        }
        let many: Vec<String> = (0..40).map(|n| format!(r#""k{}":{n}"#, n % 30)).collect();
        as_the_model_reads(&format!(r#"{{"sources":[{{{}}}]}}"#, many.join(","))).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn the_visitors_read_what_the_model_reads(text in notification()) {
            as_the_model_reads(&text)?;
        }

        /// As the journal and the saved screen store a notification: written out, with how each
        /// `upParams` arrived kept beside it.
        #[test]
        fn what_is_read_is_written_back_and_reads_the_same(text in notification()) {
            if let Ok(read) = serde_json::from_str::<Notification>(&text) {
                let written = serde_json::to_string(&read).unwrap();
                let mut again: Notification = serde_json::from_str(&written).unwrap();
                restore_up_params_forms(&mut again.sources, up_params_forms(&read.sources));
                prop_assert_eq!(&again, &read);
                prop_assert_eq!(serde_json::to_string(&again).unwrap(), written);
                prop_assert_eq!(again.misfits(), read.misfits());
            }
        }
    }
}
