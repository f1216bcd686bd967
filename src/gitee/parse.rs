//! Reading a notification body: strict JSON first, then the documented quirks.
//!
//! Gitee's own documentation prints its sample with a `//` comment and with `upParams` holding
//! an object between unescaped quotes (`"upParams":"{"GITEE_REPO":...}"`). Senders that copied
//! the sample may send exactly that, so when strict parsing fails the body is repaired for those
//! two quirks only, and the event is marked as repaired. Anything else is refused with the strict
//! parser's reason and position.
//!
//! Any JSON object is a notification, whatever the shape of its fields (see `payload`): only a
//! body that is not JSON, or is JSON but not an object, is refused.

use super::payload::{Notification, UpParams};
use serde_json::error::Category;
use std::fmt;

/// A notification and what, if anything, had to be repaired to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub notification: Notification,
    pub repairs: Vec<Repair>,
}

impl Parsed {
    pub fn repaired(&self) -> bool {
        !self.repairs.is_empty()
    }
}

/// One documented quirk that the tolerant parser repaired, with the 1-based line it was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    Comment { line: usize },
    UnescapedQuotes { line: usize },
}

/// Why a body is not a notification, in one sentence with the position where it applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ParseError {
    /// Said of valid JSON that is not an object. serde's own message would quote the value,
    /// which may be anything the sender put there, a credential included.
    fn not_an_object(body: &[u8]) -> ParseError {
        let found = match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => "an array",
            Some(b'"') => "a string",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            _ => "a number",
        };
        ParseError(format!(
            "body is JSON but not a notification: expected a JSON object, found {found}"
        ))
    }

    fn from_json(err: &serde_json::Error) -> ParseError {
        let what = match err.classify() {
            Category::Data => "body is JSON but not a notification",
            Category::Eof => "body ends too early",
            Category::Syntax | Category::Io => "body is not valid JSON",
        };
        ParseError(format!("{what}: {err}"))
    }
}

/// Parses a webhook body, whatever its content type said.
pub fn parse_notification(body: &[u8]) -> Result<Parsed, ParseError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError(
            "body is empty; expected a JSON notification".into(),
        ));
    }
    let strict_err = match serde_json::from_slice::<Notification>(body) {
        Ok(notification) => {
            return Ok(Parsed {
                notification,
                repairs: Vec::new(),
            });
        }
        Err(err) => err,
    };
    if strict_err.classify() == Category::Data {
        return Err(ParseError::not_an_object(body));
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(ParseError::from_json(&strict_err));
    };
    let (repaired, repairs) = repair(text);
    if repairs.is_empty() {
        return Err(ParseError::from_json(&strict_err));
    }
    match serde_json::from_str::<Notification>(&repaired) {
        Ok(notification) => Ok(Parsed {
            notification,
            repairs,
        }),
        Err(_) => Err(ParseError::from_json(&strict_err)),
    }
}

/// Removes `//` and `/* */` comments outside strings, and wraps an object that stands between
/// unescaped quotes as a string value (`"key":"{"a":"b"}"`) so it parses and stays marked.
fn repair(text: &str) -> (String, Vec<Repair>) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    let mut repairs = Vec::new();
    let mut last_token: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                if last_token == Some(b':')
                    && let Some(close) = unescaped_object_end(bytes, i)
                {
                    repairs.push(Repair::UnescapedQuotes {
                        line: line_of(bytes, i),
                    });
                    out.push_str("{\"");
                    out.push_str(&UpParams::REPAIRED_MARKER.replace('\0', "\\u0000"));
                    out.push_str("\":");
                    out.push_str(&text[i + 1..=close]);
                    out.push('}');
                    i = close + 2;
                    last_token = Some(b'}');
                    continue;
                }
                let end = string_end(bytes, i);
                out.push_str(&text[i..end]);
                last_token = Some(b'"');
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                repairs.push(Repair::Comment {
                    line: line_of(bytes, i),
                });
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                repairs.push(Repair::Comment {
                    line: line_of(bytes, i),
                });
                i = bytes[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
                out.push(' ');
            }
            _ => {
                let end = bytes[i..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'/')
                    .map_or(bytes.len(), |n| i + n)
                    .max(i + 1);
                let run = &text[i..end];
                if let Some(&b) = run
                    .as_bytes()
                    .iter()
                    .rev()
                    .find(|b| !b.is_ascii_whitespace())
                {
                    last_token = Some(b);
                }
                out.push_str(run);
                i = end;
            }
        }
    }
    (out, repairs)
}

/// The index just past the JSON string that starts at `start` (a `"`), or the end of input.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// For `"{"key":...}"` starting at the quote `start`: the index of the object's closing brace,
/// when the object is balanced and followed at once by the closing quote.
fn unescaped_object_end(bytes: &[u8], start: usize) -> Option<usize> {
    if bytes.get(start + 1) != Some(&b'{') {
        return None;
    }
    let first = bytes[start + 2..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())?;
    if *first != b'"' && *first != b'}' {
        return None;
    }
    let mut depth = 0usize;
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (bytes.get(i + 1) == Some(&b'"')).then_some(i);
                }
            }
            b'\n' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

fn line_of(bytes: &[u8], index: usize) -> usize {
    1 + bytes[..index].iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitee::payload::{Source, UpParamsForm};

    #[test]
    fn strict_json_needs_no_repair() {
        let parsed = parse_notification(br#"{"job":{"statusCode":"FAIL"}}"#).unwrap();
        assert!(!parsed.repaired());
        assert_eq!(
            parsed.notification.job.status_code.unwrap().as_str(),
            "FAIL"
        );
    }

    #[test]
    fn comments_outside_strings_are_removed_and_urls_are_kept() {
        let body =
            b"{\"job\":{ // a comment\n\"pipelineUrl\":\"https://e.gitee.ru/x\" /* and */ }}";
        let parsed = parse_notification(body).unwrap();
        assert_eq!(
            parsed.repairs,
            vec![Repair::Comment { line: 1 }, Repair::Comment { line: 2 }]
        );
        assert_eq!(
            parsed.notification.job.pipeline_url.as_deref(),
            Some("https://e.gitee.ru/x")
        );
    }

    #[test]
    fn unescaped_up_params_are_read_as_an_object_and_marked() {
        let body = br#"{"sources":[{"sourceType":"PIPELINE","buildNumber":7,
            "upParams":"{"GITEE_REPO":"git/test","N":{"x":[1,2]}}"}]}"#;
        let parsed = parse_notification(body).unwrap();
        assert_eq!(parsed.repairs, vec![Repair::UnescapedQuotes { line: 2 }]);
        let Source::Pipeline { up_params, .. } = &parsed.notification.sources[0] else {
            panic!("expected a pipeline source");
        };
        let up = up_params.as_ref().unwrap();
        assert_eq!(up.form, UpParamsForm::Unescaped);
        assert_eq!(up.values["GITEE_REPO"], "git/test");
        assert_eq!(up.values["N"]["x"][1], 2);
    }

    #[test]
    fn broken_json_is_refused_with_the_strict_position() {
        let err = parse_notification(b"{\n  \"job\": {\"a\": 1,,}\n}").unwrap_err();
        assert!(
            err.to_string().starts_with("body is not valid JSON:"),
            "{err}"
        );
        assert!(err.to_string().contains("line 2 column"), "{err}");
    }

    #[test]
    fn empty_and_truncated_bodies_say_so() {
        assert!(
            parse_notification(b"  ")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let err = parse_notification(br#"{"job":{"#).unwrap_err();
        assert!(err.to_string().starts_with("body ends too early"), "{err}");
    }

    #[test]
    fn a_json_value_that_is_not_an_object_is_refused() {
        let err = parse_notification(b"[1,2]").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("body is JSON but not a notification"),
            "{err}"
        );
    }

    #[test]
    fn any_json_object_is_a_notification_whatever_its_fields_hold() {
        for body in [
            &br#"{"globalParams":{"key1":"aaa"}}"#[..],
            br#"{"sources":{"sourceType":"GITEE_GO"}}"#,
            br#"{"job":{"buildNumber":3.5}}"#,
            br#"{"job":{"buildNumber":"abc","pipelineId":true,"statusCode":{"a":1}}}"#,
            br#"{"job":"build","sources":["s"],"globalParams":7}"#,
            br#"{"job":{"jobName":"a","jobName":"b"}}"#,
            b"{\"job\":{\"buildNumber\":[1]} // a comment\n}",
        ] {
            let parsed = parse_notification(body);
            assert!(
                parsed.is_ok(),
                "{}: {parsed:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn json_that_is_not_an_object_is_refused_without_quoting_it() {
        for (body, found) in [
            (&br#""hunter2""#[..], "a string"),
            (b" [\"hunter2\"]", "an array"),
            (b"42", "a number"),
            (b"true", "a boolean"),
            (b"null", "null"),
        ] {
            let err = parse_notification(body).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "body is JSON but not a notification: expected a JSON object, found {found}"
                )
            );
        }
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let parsed = parse_notification(b"\xEF\xBB\xBF{\"job\":null}").unwrap();
        assert!(!parsed.repaired());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Bytes that look like JSON often enough to reach the repair path.
        fn jsonish() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..512),
                r#"[{}\[\]":,/* \n\\a-zA-Z0-9.\-]{0,256}"#.prop_map(String::into_bytes),
                r#"\{"(job|sources|upParams|globalParams)":[{}\[\]":,/ \na-z0-9]{0,128}\}"#
                    .prop_map(String::into_bytes),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_bytes_give_a_notification_or_one_sentence(body in jsonish()) {
                match parse_notification(&body) {
                    Ok(_) => {}
                    Err(err) => {
                        let text = err.to_string();
                        prop_assert!(!text.is_empty());
                        prop_assert!(!text.contains('\n'), "{}", text);
                    }
                }
            }
        }
    }
}
