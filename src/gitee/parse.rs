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
///
/// Linear in the body, whatever it holds: the line of each repair is counted on from the
/// previous one, and the end of every candidate object comes from one table (see
/// [`ObjectEnds`]) rather than from a scan of its own, so a body made of comments or of
/// candidates that never close costs no more than any other of its size.
fn repair(text: &str) -> (String, Vec<Repair>) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    let mut repairs = Vec::new();
    let mut lines = Lines::default();
    let mut ends: Option<ObjectEnds> = None;
    let marker = UpParams::REPAIRED_MARKER.replace('\0', "\\u0000");
    let mut last_token: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                if last_token == Some(b':')
                    && let Some(close) = unescaped_object_end(bytes, i, &mut ends)
                {
                    repairs.push(Repair::UnescapedQuotes {
                        line: lines.at(bytes, i),
                    });
                    out.push_str("{\"");
                    out.push_str(&marker);
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
                    line: lines.at(bytes, i),
                });
                i = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                repairs.push(Repair::Comment {
                    line: lines.at(bytes, i),
                });
                i = memchr::memmem::find(&bytes[i + 2..], b"*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
                out.push(' ');
            }
            _ => {
                let end = memchr::memchr2(b'"', b'/', &bytes[i..])
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

/// The 1-based line of a position, counted on from the position asked about before, so asking
/// about every comment of a body costs one pass over it.
#[derive(Default)]
struct Lines {
    counted_to: usize,
    newlines: usize,
}

impl Lines {
    /// The line of `index`; `index` never goes back.
    fn at(&mut self, bytes: &[u8], index: usize) -> usize {
        self.newlines += bytes[self.counted_to..index]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.counted_to = index;
        1 + self.newlines
    }
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
/// when the object is balanced, closes before a newline outside its strings, and is followed
/// at once by the closing quote. `ends` is built on the first candidate and reused for the rest.
fn unescaped_object_end(
    bytes: &[u8],
    start: usize,
    ends: &mut Option<ObjectEnds>,
) -> Option<usize> {
    if bytes.get(start + 1) != Some(&b'{') {
        return None;
    }
    let first = bytes[start + 2..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())?;
    if *first != b'"' && *first != b'}' {
        return None;
    }
    if ends.is_none() {
        *ends = Some(ObjectEnds::new(bytes, start + 2)?);
    }
    let close = ends.as_ref()?.close_from(start + 2)?;
    (bytes.get(close + 1) == Some(&b'"')).then_some(close)
}

/// Where the bracket open just before each position closes, for every position from `base` on,
/// computed in one pass from the end.
///
/// Scanning each candidate on its own is quadratic: a line of `"{"x":"{"x":...` that never
/// closes is rescanned to its end from every candidate. But where a scan goes next depends only
/// on where it is (past a plain byte, past a bracket, or past a string, whose end is the next
/// quote after an even run of backslashes), so the answer for a position follows from answers
/// for later positions, and every candidate's answer is one look-up.
struct ObjectEnds {
    base: usize,
    /// Per position from `base`: 0 when a newline outside strings or the end comes first,
    /// otherwise 1 + the index of the bracket that brings the depth back to that of the
    /// position's own bracket.
    close: Vec<u32>,
}

impl ObjectEnds {
    /// `None` for a body too large for the table's indices (4 GiB), which is then not repaired.
    fn new(bytes: &[u8], base: usize) -> Option<ObjectEnds> {
        let len = bytes.len();
        u32::try_from(len + 1).ok()?;
        let mut close = vec![0u32; len + 1 - base];
        // Past the closing quote of a string that starts at the current position.
        let mut past_string = len;
        for i in (base..len).rev() {
            let answer = match bytes[i] {
                b'"' => {
                    let answer = close[past_string - base];
                    let backslashes = bytes[..i].iter().rev().take_while(|&&b| b == b'\\');
                    if backslashes.count() % 2 == 0 {
                        past_string = i + 1;
                    }
                    answer
                }
                b'{' | b'[' => match close[i + 1 - base] {
                    0 => 0,
                    inner => close[inner as usize - base],
                },
                // Cannot overflow: `len + 1` fits in a u32.
                b'}' | b']' => i as u32 + 1,
                b'\n' => 0,
                _ => close[i + 1 - base],
            };
            close[i - base] = answer;
        }
        Some(ObjectEnds { base, close })
    }

    /// Scanning from `index` one level inside a bracket: the index of the bracket that closes
    /// it, or `None` when a newline outside strings or the end comes first.
    fn close_from(&self, index: usize) -> Option<usize> {
        match *self.close.get(index.checked_sub(self.base)?)? {
            0 => None,
            close => Some(close as usize - 1),
        }
    }
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

        /// Text built from the pieces the repair path reacts to, so candidates, strings, escapes,
        /// comments and newlines overlap in every way; often shaped as a candidate that may or
        /// may not close, so both outcomes are common.
        fn repairable() -> impl Strategy<Value = String> {
            let piece = || {
                prop_oneof![
                    Just("\""),
                    Just("\\"),
                    Just("{"),
                    Just("}"),
                    Just("["),
                    Just("]"),
                    Just(":"),
                    Just(" "),
                    Just("\n"),
                    Just("//"),
                    Just("/*"),
                    Just("*/"),
                    Just("a"),
                    Just("值"),
                ]
            };
            let pieces =
                |most| proptest::collection::vec(piece(), 0..most).prop_map(|p| p.concat());
            let opener = prop_oneof![Just(":\"{\""), Just(":\"{}"), Just(": \"{ \"")];
            let candidate = (opener, pieces(12), pieces(3))
                .prop_map(|(open, inside, after)| format!("{open}{inside}}}\"{after}"));
            let segment = prop_oneof![2 => candidate, 1 => pieces(8)];
            proptest::collection::vec(segment, 0..12).prop_map(|segments| segments.concat())
        }

        /// The repair as it was before it was made linear: every candidate scanned on its own
        /// and every line counted from the start. Kept as the definition the fast one must
        /// match, byte for byte and line for line.
        fn reference(text: &str) -> (String, Vec<Repair>) {
            fn object_end(bytes: &[u8], start: usize) -> Option<usize> {
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
            let line_of = |bytes: &[u8], index: usize| {
                1 + bytes[..index].iter().filter(|&&b| b == b'\n').count()
            };
            let bytes = text.as_bytes();
            let mut out = String::new();
            let mut repairs = Vec::new();
            let mut last_token: Option<u8> = None;
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        if last_token == Some(b':')
                            && let Some(close) = object_end(bytes, i)
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

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn the_linear_repair_matches_the_scan_it_replaced(text in repairable()) {
                prop_assert_eq!(repair(&text), reference(&text));
            }

            #[test]
            fn the_linear_repair_matches_on_arbitrary_text(text in any::<String>()) {
                prop_assert_eq!(repair(&text), reference(&text));
            }

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
