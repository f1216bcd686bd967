//! The reading rule, as plain code over what `visit` read a body's objects into.
//!
//! Any JSON object is a notification. A missing or null field is empty; a field that comes twice
//! counts with its last value, as in a `Value`; unknown fields keep their arrival order (a
//! repeated one its first place and last value). A known field whose value does not fit its type
//! (a `buildNumber` of 3.5, `sources` as an object, a source that is a string) is kept as
//! received, under its own name, after the unknown ones in the `extra` of the object it belongs
//! to, and its typed field stays empty; so writing the notification out gives back what was
//! received, and reading that again gives the same notification. `sources` and `globalParams`
//! keep the elements that fit, and the whole list as written when one does not; `globalParams`
//! sent as an object is also read as its key/value pairs. [`Notification::misfits`] names every
//! such field.

use super::payload::{GlobalParam, Job, Notification, Source, StatusCode, UpParams, UpParamsForm};
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// An object's fields in arrival order, each key once (first place, last value, as a `Map`
/// holds them), keys borrowed from the input when they needed no unescaping: a source's, whose
/// `sourceType` says which of them are known.
pub(super) struct Fields<'de>(Vec<(Cow<'de, str>, Value)>);

impl<'de> Fields<'de> {
    pub(super) fn new(fields: Vec<(Cow<'de, str>, Value)>) -> Fields<'de> {
        // A source has a handful of fields: compare them pairwise. A hostile one with
        // thousands goes through a map instead, so it cannot make this quadratic.
        const PAIRWISE: usize = 16;
        if fields.len() <= PAIRWISE
            && !fields
                .iter()
                .enumerate()
                .any(|(i, (key, _))| fields[..i].iter().any(|(earlier, _)| earlier == key))
        {
            return Fields(fields);
        }
        Fields(
            Fields(fields)
                .into_map()
                .into_iter()
                .map(|(key, value)| (Cow::Owned(key), value))
                .collect(),
        )
    }

    /// Takes `key` out and reads it; a value that does not fit goes back, after the fields
    /// still there, as received.
    fn take<T>(&mut self, key: &'static str, read: fn(Value) -> Read<T>) -> Option<T> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        match read(self.0.remove(at).1) {
            Ok(value) => value,
            Err(raw) => {
                self.0.push((Cow::Borrowed(key), raw));
                None
            }
        }
    }

    fn into_map(self) -> Map<String, Value> {
        self.0
            .into_iter()
            .map(|(key, value)| (key.into_owned(), value))
            .collect()
    }
}

/// The fields a job knows, in the order their misfits are kept.
pub(super) const JOB: [&str; 8] = [
    "pipelineId",
    "pipelineName",
    "stageName",
    "jobName",
    "buildNumber",
    "statusCode",
    "statusName",
    "pipelineUrl",
];

/// The job of an object whose known fields' last values are in `known`, by their place in
/// [`JOB`], and whose other fields went, in arrival order, into `extra`.
pub(super) fn job(known: [Option<Value>; 8], mut extra: Map<String, Value>) -> Job {
    let [id, name, stage, job, build, code, status, url] = known;
    Job {
        pipeline_id: fit(id, "pipelineId", &mut extra, whole),
        pipeline_name: fit(name, "pipelineName", &mut extra, text),
        stage_name: fit(stage, "stageName", &mut extra, text),
        job_name: fit(job, "jobName", &mut extra, text),
        build_number: fit(build, "buildNumber", &mut extra, whole),
        status_code: fit(code, "statusCode", &mut extra, text).map(StatusCode),
        status_name: fit(status, "statusName", &mut extra, text),
        pipeline_url: fit(url, "pipelineUrl", &mut extra, text),
        extra,
    }
}

pub(super) const PARAM: [&str; 2] = ["key", "value"];

/// A global parameter, read as [`job`] reads a job.
pub(super) fn param(known: [Option<Value>; 2], mut extra: Map<String, Value>) -> GlobalParam {
    let [key, value] = known;
    GlobalParam {
        key: fit(key, "key", &mut extra, text),
        value: fit(value, "value", &mut extra, text),
        extra,
    }
}

impl From<Fields<'_>> for Source {
    fn from(mut fields: Fields<'_>) -> Source {
        let source_type = fields.take("sourceType", text);
        match source_type.as_deref() {
            Some("GITEE_GO") => Source::GiteeGo {
                repo_path: fields.take("repoPath", text),
                branch: fields.take("branch", text),
                commit_id: fields.take("commitId", text),
                extra: fields.into_map(),
            },
            Some("PIPELINE") => Source::Pipeline {
                build_number: fields.take("buildNumber", whole),
                up_params: fields.take("upParams", up_params),
                extra: fields.into_map(),
            },
            Some("CODE_LEVEL_ARTIFACT") => Source::CodeLevelArtifact {
                artifact_repo: fields.take("artifactRepo", text),
                artifact_version: fields.take("artifactVersion", text),
                extra: fields.into_map(),
            },
            _ => Source::Other {
                source_type,
                fields: fields.into_map(),
            },
        }
    }
}

/// The sister product's `{"key1": "aaa"}`: one parameter per key.
pub(super) fn params_of_object(object: &Map<String, Value>) -> Vec<GlobalParam> {
    object
        .iter()
        .map(|(key, value)| {
            param(
                [Some(Value::String(key.clone())), Some(value.clone())],
                Map::new(),
            )
        })
        .collect()
}

/// The notification of an object whose known parts were read as `job`, `sources` and
/// `globalParams` (`Err` holding one that is not an object or a list, as received) and whose
/// other fields went, in arrival order, into `extra`.
pub(super) fn notification(
    job: Option<Result<Job, Value>>,
    sources: Option<Listed<Source>>,
    global_params: Option<Listed<GlobalParam>>,
    mut extra: Map<String, Value>,
) -> Notification {
    let job = match job {
        None => Job::default(),
        Some(Ok(job)) => job,
        Some(Err(raw)) => {
            extra.insert("job".to_owned(), raw);
            Job::default()
        }
    };
    Notification {
        job,
        sources: Listed::keep(sources, "sources", &mut extra),
        global_params: Listed::keep(global_params, "globalParams", &mut extra),
        extra,
    }
}

/// A list field as read: the elements that are objects (or null, read as empty), and the whole
/// field as received when it, or one of its elements, is anything else. The elements that fit
/// are written there as they are written anywhere, so the field reads back the same.
pub(super) struct Listed<T> {
    items: Vec<T>,
    raw: Option<Vec<Value>>,
    whole: Option<Value>,
}

impl<T: Serialize> Listed<T> {
    pub(super) fn new() -> Listed<T> {
        Listed {
            items: Vec::new(),
            raw: None,
            whole: None,
        }
    }

    /// The next element: read, or as received when it is not an object.
    pub(super) fn push(&mut self, element: Result<T, Value>) {
        match element {
            Ok(item) => {
                if let Some(raw) = &mut self.raw {
                    raw.push(written(&item));
                }
                self.items.push(item);
            }
            Err(misfit) => {
                let items = &self.items;
                self.raw
                    .get_or_insert_with(|| items.iter().map(written).collect())
                    .push(misfit);
            }
        }
    }

    /// A field that is not a list, kept as received, with what `items` read of it.
    pub(super) fn other(items: Vec<T>, raw: Value) -> Listed<T> {
        Listed {
            items,
            raw: None,
            whole: Some(raw),
        }
    }

    /// The elements; the field as received goes into `extra` under `name` if it is kept.
    fn keep(list: Option<Listed<T>>, name: &str, extra: &mut Map<String, Value>) -> Vec<T> {
        let Some(list) = list else {
            return Vec::new();
        };
        if let Some(raw) = list.whole.or(list.raw.map(Value::Array)) {
            extra.insert(name.to_owned(), raw);
        }
        list.items
    }
}

/// An element as the notification writes it.
fn written<T: Serialize>(item: &T) -> Value {
    // Our types hold only strings, numbers and maps with string keys, which always convert.
    serde_json::to_value(item).unwrap_or_default()
}

/// A field's value read into its type (`None` for null), or, when its shape does not fit the
/// type, the value as received.
type Read<T> = Result<Option<T>, Value>;

/// A known field's last value read into its type; one that does not fit goes into `extra`
/// under `key`.
fn fit<T>(
    value: Option<Value>,
    key: &str,
    extra: &mut Map<String, Value>,
    read: fn(Value) -> Read<T>,
) -> Option<T> {
    match read(value?) {
        Ok(value) => value,
        Err(raw) => {
            extra.insert(key.to_owned(), raw);
            None
        }
    }
}

/// Strings as they are; numbers and booleans as their text (some senders quote nothing).
fn text(value: Value) -> Read<String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(other),
    }
}

/// Whole numbers, also when sent as a string of digits.
fn whole(value: Value) -> Read<u64> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_u64().map(Some).ok_or(Value::Number(n)),
        Value::String(text) => {
            let digits = text.trim();
            if digits.is_empty() {
                return Ok(None);
            }
            match digits.parse() {
                Ok(n) => Ok(Some(n)),
                Err(_) => Err(Value::String(text)),
            }
        }
        other => Err(other),
    }
}

/// An object, the tolerant parser's repaired object, or a string holding JSON or not.
fn up_params(value: Value) -> Read<UpParams> {
    Ok(match value {
        Value::Null => None,
        Value::Object(mut map) => {
            if let Some(Value::Object(values)) = map.shift_remove(UpParams::REPAIRED_MARKER) {
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
        Value::String(text) => Some(match serde_json::from_str::<Value>(&text) {
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
        }),
        other => return Err(other),
    })
}

#[cfg(test)]
mod tests;
