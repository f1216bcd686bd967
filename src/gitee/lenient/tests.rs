//! The reading rule as behaviour: odd shapes, repeated fields and refusals written out, and
//! properties of every generated body (read or refused, nothing lost, written back the same,
//! and read in one pass as it reads through a `Value`).

use super::*;
use crate::gitee::payload::{SourceKind, Status, restore_up_params_forms, up_params_forms};
use proptest::collection::vec;
use proptest::prelude::*;
use std::borrow::Cow;

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
    let encoded: Source =
        serde_json::from_str(r#"{"sourceType":"PIPELINE","upParams":"{\"A\":\"1\",\"B\":\"2\"}"}"#)
            .unwrap();
    let object: Source =
        serde_json::from_str(r#"{"sourceType":"PIPELINE","upParams":{"A":"1","B":"2"}}"#).unwrap();
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

#[test]
fn repeated_fields_and_odd_shapes_read_as_received() {
    // The body, and the notification read from it as written back (nothing for a refusal).
    for (text, written) in [
        (
            r#"{"job":{},"job":{}}"#,
            Some(r#"{"job":{},"sources":[],"globalParams":[]}"#),
        ),
        (
            r#"{"job":null,"job":{}}"#,
            Some(r#"{"job":{},"sources":[],"globalParams":[]}"#),
        ),
        (
            r#"{"job":{},"job":"x"}"#,
            Some(r#"{"sources":[],"globalParams":[],"job":"x"}"#),
        ),
        (
            r#"{"x":1,"y":2,"x":3}"#,
            Some(r#"{"job":{},"sources":[],"globalParams":[],"x":3,"y":2}"#),
        ),
        (
            r#"{"job":{"jobName":"a","jobName":"b"}}"#,
            Some(r#"{"job":{"jobName":"b"},"sources":[],"globalParams":[]}"#),
        ),
        (
            r#"{"job":{"pipelineId":[1, 2] ,"x":1}}"#,
            Some(r#"{"job":{"x":1,"pipelineId":[1,2]},"sources":[],"globalParams":[]}"#),
        ),
        (
            r#"{"job":{"pipelineId":[1],"pipelineId":2}}"#,
            Some(r#"{"job":{"pipelineId":2},"sources":[],"globalParams":[]}"#),
        ),
        (
            r#"{"job":{"pipelineId":2,"pipelineId":[1]}}"#,
            Some(r#"{"job":{"pipelineId":[1]},"sources":[],"globalParams":[]}"#),
        ),
        (
            r#"{"job":{"pipelineId":"7x"}}"#,
            Some(r#"{"job":{"pipelineId":"7x"},"sources":[],"globalParams":[]}"#),
        ),
        (
            r#"{"job":{"pipelineId":-1.5,"buildNumber":3.5,"statusCode":{"a":1}}}"#,
            Some(
                r#"{"job":{"pipelineId":-1.5,"buildNumber":3.5,"statusCode":{"a":1}},"sources":[],"globalParams":[]}"#,
            ),
        ),
        (
            r#"{"job":["a"]}"#,
            Some(r#"{"sources":[],"globalParams":[],"job":["a"]}"#),
        ),
        (
            r#"{"sources":[{"sourceType":"GITEE_GO","branch":"a","branch":"b","x":1,"x":2}]}"#,
            Some(
                r#"{"job":{},"sources":[{"sourceType":"GITEE_GO","branch":"b","x":2}],"globalParams":[]}"#,
            ),
        ),
        (
            r#"{"sources":[{"sourceType":"GITEE_GO","sourceType":"PIPELINE","buildNumber":"3"}]}"#,
            Some(
                r#"{"job":{},"sources":[{"sourceType":"PIPELINE","buildNumber":3}],"globalParams":[]}"#,
            ),
        ),
        (
            r#"{"sources":[{"sourceType":"PIPELINE","buildNumber":{"a":1}} ]}"#,
            Some(
                r#"{"job":{},"sources":[{"sourceType":"PIPELINE","buildNumber":{"a":1}}],"globalParams":[]}"#,
            ),
        ),
        (
            r#"{"sources":[{"sourceType":["PIPELINE"]},{"sourceType":"PIPELINE","upParams":5}]}"#,
            Some(
                r#"{"job":{},"sources":[{"sourceType":["PIPELINE"]},{"sourceType":"PIPELINE","upParams":5}],"globalParams":[]}"#,
            ),
        ),
        (
            r#"{"sources":[ [1, 2] , 3]}"#,
            Some(r#"{"job":{},"globalParams":[],"sources":[[1,2],3]}"#),
        ),
        (
            r#"{"sources":[{"sourceType":"GITEE_GO"},true,{"sourceType":"PIPELINE"}]}"#,
            Some(
                r#"{"job":{},"globalParams":[],"sources":[{"sourceType":"GITEE_GO"},true,{"sourceType":"PIPELINE"}]}"#,
            ),
        ),
        (
            r#"{"sources":["s"]}"#,
            Some(r#"{"job":{},"globalParams":[],"sources":["s"]}"#),
        ),
        (
            r#"{"sources":[null]}"#,
            Some(r#"{"job":{},"sources":[{}],"globalParams":[]}"#),
        ),
        (
            r#"{"sources":{}}"#,
            Some(r#"{"job":{},"globalParams":[],"sources":{}}"#),
        ),
        (
            r#"{"sources":{"sourceType":"GITEE_GO"}}"#,
            Some(r#"{"job":{},"globalParams":[],"sources":{"sourceType":"GITEE_GO"}}"#),
        ),
        (
            r#"{"sources":"s"}"#,
            Some(r#"{"job":{},"globalParams":[],"sources":"s"}"#),
        ),
        (
            r#"{"globalParams":[{"key":1,"value":true,"key":2}]}"#,
            Some(r#"{"job":{},"sources":[],"globalParams":[{"key":"2","value":"true"}]}"#),
        ),
        (
            r#"{"globalParams":{"key1":"aaa","key2":[1]}}"#,
            Some(r#"{"job":{},"sources":[],"globalParams":{"key1":"aaa","key2":[1]}}"#),
        ),
        (
            r#"{"globalParams":[null,"k=v",{"key":"a","value":{"b":1}}]}"#,
            Some(
                r#"{"job":{},"sources":[],"globalParams":[{},"k=v",{"key":"a","value":{"b":1}}]}"#,
            ),
        ),
        (
            r#"{"a":1,"job":"x","b":2,"sources":3,"c":4}"#,
            Some(r#"{"globalParams":[],"a":1,"b":2,"c":4,"job":"x","sources":3}"#),
        ),
        (r#"[1]"#, None),
        (r#""text""#, None),
        (r#"null"#, None),
    ] {
        let read = serde_json::from_str::<Notification>(text).ok();
        let read = read.map(|read| serde_json::to_string(&read).unwrap());
        assert_eq!(read.as_deref(), written, "{text}");
    }
    let many: Vec<String> = (0..40).map(|n| format!(r#""k{}":{n}"#, n % 30)).collect();
    let text = format!(r#"{{"sources":[{{{}}}]}}"#, many.join(","));
    let read: Notification = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = read.sources[0].extra().keys().map(String::as_str).collect();
    let first: Vec<String> = (0..30).map(|n| format!("k{n}")).collect();
    assert_eq!(keys, first);
    assert_eq!(read.sources[0].extra()["k0"], 30);
}

#[test]
fn what_is_not_an_object_is_refused_with_what_was_expected() {
    let err = |text| {
        serde_json::from_str::<Notification>(text)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("[1]"),
        "invalid type: sequence, expected a JSON object at line 1 column 0"
    );
    assert_eq!(
        err("null"),
        "invalid type: null, expected a JSON object at line 1 column 4"
    );
    let err = serde_json::from_str::<Vec<Source>>(r#"[{}, "s"]"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a source must be an object, found a string at line 1 column 9"
    );
    assert_eq!(
        serde_json::from_str::<Vec<Source>>("[null]").unwrap(),
        [Source::default()]
    );
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
                vec((prop::sample::select(&["\"a\"", "\"b\""][..]), inner), 0..3).prop_map(object),
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

/// Every field of the object `received` is in `written` under its name, but for a null or a
/// blank string for a whole number, which read as empty; one that `known` does not name, as
/// received.
fn kept(received: &Value, written: &Value, known: &[&str]) -> Result<(), TestCaseError> {
    let (Value::Object(received), Value::Object(written)) = (received, written) else {
        return Ok(());
    };
    for (key, value) in received {
        if !known.contains(&key.as_str()) {
            prop_assert_eq!(written.get(key), Some(value), "{}", key);
            continue;
        }
        let blank = matches!(value, Value::String(s) if s.trim().is_empty());
        let empty =
            value.is_null() || (blank && ["pipelineId", "buildNumber"].contains(&key.as_str()));
        prop_assert!(empty || written.contains_key(key), "{} was lost", key);
    }
    Ok(())
}

/// The elements of a list field received and written, when both are lists.
fn elements<'a>(
    received: &'a Value,
    written: &'a Value,
    name: &str,
) -> Vec<(&'a Value, &'a Value)> {
    match (&received[name], &written[name]) {
        (Value::Array(received), Value::Array(written)) => received.iter().zip(written).collect(),
        _ => Vec::new(),
    }
}

const SOURCE_FIELDS: &[&str] = &[
    "sourceType",
    "repoPath",
    "branch",
    "commitId",
    "buildNumber",
    "upParams",
    "artifactRepo",
    "artifactVersion",
];

/// The body read as a `Value` first, its parts then taken by the same rule: what the one-pass
/// reading in `visit` has to give, field order included.
fn through_a_value(text: &str) -> Option<Notification> {
    let Ok(Value::Object(mut extra)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let job = extra.shift_remove("job").map(|job| match job {
        Value::Object(fields) => Ok(known(fields, JOB, super::job)),
        Value::Null => Ok(Job::default()),
        other => Err(other),
    });
    let sources = extra.shift_remove("sources").map(|sources| {
        listed(
            sources,
            |_| Vec::new(),
            |fields| {
                Source::from(Fields::new(
                    fields
                        .into_iter()
                        .map(|(k, v)| (Cow::Owned(k), v))
                        .collect(),
                ))
            },
        )
    });
    let global_params = extra.shift_remove("globalParams").map(|params| {
        listed(params, params_of_object, |fields| {
            known(fields, PARAM, param)
        })
    });
    Some(super::notification(job, sources, global_params, extra))
}

/// An object read by `read` from its known fields' values, by their place in `names`, and the
/// others.
fn known<T, const N: usize>(
    mut fields: Map<String, Value>,
    names: [&str; N],
    read: fn([Option<Value>; N], Map<String, Value>) -> T,
) -> T {
    let known = names.map(|name| fields.shift_remove(name));
    read(known, fields)
}

fn listed<T: Serialize + Default>(
    value: Value,
    of_object: fn(&Map<String, Value>) -> Vec<T>,
    element: impl Fn(Map<String, Value>) -> T,
) -> Listed<T> {
    match value {
        Value::Array(elements) => {
            let mut list = Listed::new();
            for value in elements {
                list.push(match value {
                    Value::Object(fields) => Ok(element(fields)),
                    Value::Null => Ok(T::default()),
                    other => Err(other),
                });
            }
            list
        }
        Value::Object(object) => Listed::other(of_object(&object), Value::Object(object)),
        Value::Null => Listed::new(),
        other => Listed::other(Vec::new(), other),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn one_pass_reads_what_a_value_reads(text in notification()) {
        let read = serde_json::from_str::<Notification>(&text).ok();
        prop_assert_eq!(format!("{read:?}"), format!("{:?}", through_a_value(&text)), "{}", text);
    }

    #[test]
    fn any_object_is_a_notification_and_nothing_else_is(text in notification()) {
        let object = matches!(serde_json::from_str(&text), Ok(Value::Object(_)));
        prop_assert_eq!(serde_json::from_str::<Notification>(&text).is_ok(), object, "{}", text);
    }

    /// Unknown fields at every level, and the known ones of another shape, are written back
    /// as they were received; a list with an element of another shape keeps its length.
    #[test]
    fn nothing_received_is_lost(text in notification()) {
        if let Ok(read) = serde_json::from_str::<Notification>(&text) {
            let received: Value = serde_json::from_str(&text).unwrap();
            let written = serde_json::to_value(&read).unwrap();
            kept(&received, &written, &["job", "sources", "globalParams"])?;
            kept(&received["job"], &written["job"], &[
                "pipelineId", "pipelineName", "stageName", "jobName", "buildNumber",
                "statusCode", "statusName", "pipelineUrl",
            ])?;
            for name in ["sources", "globalParams"] {
                if let (Value::Array(received), Value::Array(written)) = (&received[name], &written[name]) {
                    prop_assert_eq!(received.len(), written.len());
                }
            }
            for (received, written) in elements(&received, &written, "sources") {
                kept(received, written, SOURCE_FIELDS)?;
            }
            for (received, written) in elements(&received, &written, "globalParams") {
                kept(received, written, &["key", "value"])?;
            }
            for misfit in read.misfits() {
                let raw = misfit.path.split(['.', '[', ']']).filter(|s| !s.is_empty()).try_fold(&received, |at, step| match step.parse::<usize>() {
                    Ok(i) => at.get(i),
                    Err(_) => at.get(step),
                });
                prop_assert_eq!(raw, Some(misfit.raw), "{}", misfit.path);
            }
        }
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
