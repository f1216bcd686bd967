//! Which known fields of a notification arrived in a shape their type cannot hold.
//!
//! Such a field is never a reason to refuse a delivery. The parser keeps its value as received,
//! under its own name, in the `extra` of the object it belongs to (the notification's, for
//! `job`, `sources` and `globalParams`), and leaves the typed field empty or with what it could
//! read (`globalParams` sent as an object is read as its key/value pairs). So the notification
//! written to the journal is the one received, and reading it back finds the same misfits: this
//! module finds them again from there, for whoever shows the delivery.

use super::payload::{GlobalParam, Notification, Source};
use serde_json::{Map, Value};
use std::fmt;

/// One known field whose value did not fit its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Misfit<'a> {
    /// Where it is: `job.buildNumber`, `sources[1]`, `globalParams.key1`, `globalParams`.
    pub path: String,
    /// What the field should hold: `a whole number`, `a list of {key, value}`.
    pub expected: &'static str,
    /// Its value as received.
    pub raw: &'a Value,
    /// What was read of it anyway, when something was.
    pub read_as: Option<&'static str>,
}

/// `job.buildNumber: expected a whole number, got the number 3.5; shown raw`
impl fmt::Display for Misfit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: expected {}, got ", self.path, self.expected)?;
        match self.raw {
            Value::Null => f.write_str("null")?,
            Value::Bool(_) => f.write_str("a boolean")?,
            Value::Number(n) => write!(f, "the number {n}")?,
            Value::String(_) => f.write_str("a string")?,
            Value::Array(_) => f.write_str("a list")?,
            Value::Object(_) => f.write_str("an object")?,
        }
        write!(f, "; {}", self.read_as.unwrap_or("shown raw"))
    }
}

const WHOLE: &str = "a whole number";
const TEXT: &str = "a string";
const OBJECT: &str = "an object";

type Known = &'static [(&'static str, &'static str)];

const JOB: Known = &[
    ("pipelineId", WHOLE),
    ("pipelineName", TEXT),
    ("stageName", TEXT),
    ("jobName", TEXT),
    ("buildNumber", WHOLE),
    ("statusCode", TEXT),
    ("statusName", TEXT),
    ("pipelineUrl", TEXT),
];
const GITEE_GO: Known = &[("repoPath", TEXT), ("branch", TEXT), ("commitId", TEXT)];
const PIPELINE: Known = &[
    ("buildNumber", WHOLE),
    ("upParams", "an object or a string holding one"),
];
const ARTIFACT: Known = &[("artifactRepo", TEXT), ("artifactVersion", TEXT)];
const OTHER: Known = &[("sourceType", TEXT)];
const PARAM: Known = &[("key", TEXT), ("value", TEXT)];

impl Notification {
    /// Every known field that did not fit, in the order of the notification's parts (job,
    /// sources, globalParams). Empty for nearly every delivery, and then it costs a look at
    /// each part's `extra`.
    pub fn misfits(&self) -> Vec<Misfit<'_>> {
        let mut out = Vec::new();
        match self.extra.get("job") {
            Some(raw) => out.push(Misfit {
                path: "job".to_owned(),
                expected: OBJECT,
                raw,
                read_as: None,
            }),
            None => found(&mut out, "job", &self.job.extra, JOB),
        }
        list(
            &mut out,
            ("sources", "a list of sources", None),
            self.extra.get("sources"),
            &self.sources,
            source_fields,
        );
        list(
            &mut out,
            (
                "globalParams",
                "a list of {key, value}",
                Some("read as its key/value pairs"),
            ),
            self.extra.get("globalParams"),
            &self.global_params,
            param_fields,
        );
        out
    }
}

fn source_fields(source: &Source) -> (&Map<String, Value>, Known) {
    match source {
        Source::GiteeGo { extra, .. } => (extra, GITEE_GO),
        Source::Pipeline { extra, .. } => (extra, PIPELINE),
        Source::CodeLevelArtifact { extra, .. } => (extra, ARTIFACT),
        Source::Other { fields, .. } => (fields, OTHER),
    }
}

fn param_fields(param: &GlobalParam) -> (&Map<String, Value>, Known) {
    (&param.extra, PARAM)
}

/// The known fields of one object that were kept as received, at `path`.
fn found<'a>(out: &mut Vec<Misfit<'a>>, path: &str, extra: &'a Map<String, Value>, known: Known) {
    if extra.is_empty() {
        return;
    }
    for (name, expected) in known {
        if let Some(raw) = extra.get(*name) {
            out.push(Misfit {
                path: format!("{path}.{name}"),
                expected,
                raw,
                read_as: None,
            });
        }
    }
}

/// The misfits of a list field: the field itself when it was not a list, else each element
/// that was not an object, and the fields of those that were.
fn list<'a, T>(
    out: &mut Vec<Misfit<'a>>,
    (name, expected, from_object): (&str, &'static str, Option<&'static str>),
    raw: Option<&'a Value>,
    items: &'a [T],
    fields: fn(&T) -> (&Map<String, Value>, Known),
) {
    let item = |out: &mut Vec<Misfit<'a>>, i: usize, item: &'a T| {
        let (extra, known) = fields(item);
        if !extra.is_empty() {
            found(out, &format!("{name}[{i}]"), extra, known);
        }
    };
    match raw {
        None => {
            for (i, each) in items.iter().enumerate() {
                item(out, i, each);
            }
        }
        Some(Value::Array(elements)) => {
            let mut items = items.iter();
            for (i, element) in elements.iter().enumerate() {
                if element.is_object() || element.is_null() {
                    if let Some(each) = items.next() {
                        item(out, i, each);
                    }
                } else {
                    out.push(Misfit {
                        path: format!("{name}[{i}]"),
                        expected: OBJECT,
                        raw: element,
                        read_as: None,
                    });
                }
            }
        }
        Some(raw) => {
            let read_as = if raw.is_object() { from_object } else { None };
            out.push(Misfit {
                path: name.to_owned(),
                expected,
                raw,
                read_as,
            });
            // The elements read from an object, one per key, have that key as their name.
            if let (Value::Object(object), Some(_)) = (raw, read_as) {
                for (key, each) in object.keys().zip(items) {
                    let (extra, _) = fields(each);
                    if let Some(raw) = extra.get("value") {
                        out.push(Misfit {
                            path: format!("{name}.{key}"),
                            expected: TEXT,
                            raw,
                            read_as: None,
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notes(body: Value) -> Vec<String> {
        let read: Notification = serde_json::from_value(body).unwrap();
        read.misfits().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_notification_that_fits_has_none() {
        let sample = include_str!("../../tests/fixtures/doc-sample.json");
        let read: Notification = serde_json::from_str(sample).unwrap();
        assert_eq!(read.misfits(), []);
        let loose = json!({"job": {"pipelineId": "183", "buildNumber": null, "jobName": 7}});
        assert_eq!(notes(loose), Vec::<String>::new());
    }

    #[test]
    fn each_misfit_is_named_by_its_place_and_says_what_was_expected() {
        assert_eq!(
            notes(json!({
                "job": {"pipelineId": "abc", "buildNumber": 3.5, "statusCode": {"a": 1}},
                "sources": [
                    {"sourceType": "GITEE_GO", "branch": ["main"]},
                    "a string",
                    {"sourceType": "PIPELINE", "buildNumber": true, "upParams": 5},
                    {"sourceType": {"kind": "GITEE_GO"}},
                ],
                "globalParams": [{"key": "A", "value": [1]}, 7],
            })),
            [
                "job.pipelineId: expected a whole number, got a string; shown raw",
                "job.buildNumber: expected a whole number, got the number 3.5; shown raw",
                "job.statusCode: expected a string, got an object; shown raw",
                "sources[0].branch: expected a string, got a list; shown raw",
                "sources[1]: expected an object, got a string; shown raw",
                "sources[2].buildNumber: expected a whole number, got a boolean; shown raw",
                "sources[2].upParams: expected an object or a string holding one, got the number 5; shown raw",
                "sources[3].sourceType: expected a string, got an object; shown raw",
                "globalParams[0].value: expected a string, got a list; shown raw",
                "globalParams[1]: expected an object, got the number 7; shown raw",
            ]
        );
    }

    #[test]
    fn whole_parts_of_another_shape_and_global_params_as_an_object() {
        assert_eq!(
            notes(json!({"job": "x", "sources": {"a": 1}, "globalParams": {"key1": "aaa"}})),
            [
                "job: expected an object, got a string; shown raw",
                "sources: expected a list of sources, got an object; shown raw",
                "globalParams: expected a list of {key, value}, got an object; read as its key/value pairs",
            ]
        );
        assert_eq!(
            notes(json!({"job": [1], "globalParams": {"k": [2]}, "sources": 3})),
            [
                "job: expected an object, got a list; shown raw",
                "sources: expected a list of sources, got the number 3; shown raw",
                "globalParams: expected a list of {key, value}, got an object; read as its key/value pairs",
                "globalParams.k: expected a string, got a list; shown raw",
            ]
        );
    }

    #[test]
    fn the_raw_value_is_the_one_received() {
        let read: Notification =
            serde_json::from_value(json!({"job": {"buildNumber": {"n": 3}}})).unwrap();
        assert_eq!(read.misfits()[0].raw, &json!({"n": 3}));
    }
}
