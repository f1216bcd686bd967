//! Headless output: one JSON object per line on stdout for every delivery, for scripts and `jq`.
//!
//! Accepted: `{"type":"accepted","id":1,"received_at":"…","sent_at":"…","auth":"signature",
//! "repaired":false,"ping":true,"gitee_event":"…","request_id":"…","notification":{…}}`
//! (`sent_at` only when the sender's timestamp parsed; `ping`, `gitee_event` and `request_id`
//! only when `X-Gitee-Ping: true`, `X-Gitee-Event` and `X-Request-ID` were sent).
//! Rejected: `{"type":"rejected","received_at":"…","status":401,"reason":"…","peer":"…"}`.
//! Each line is flushed as soon as no other is queued behind it, so a pipe reader sees it while
//! the pipeline is still running.
//! Nothing else is written here; human messages go to stderr.
//!
//! A line is inert on a terminal: besides the C0 controls that JSON always escapes, DEL, the C1
//! controls, the bidirectional controls and U+2028/U+2029 are written as `\uXXXX` escapes
//! ([`Inert`]), so `pipetop --headless` printed straight to a terminal cannot move its cursor,
//! retitle it or reorder what it shows. A JSON reader gets back exactly the strings received.

use crate::delivery::Ingest;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// One line of output, without the newline.
pub fn line(ingest: &Ingest) -> String {
    let mut out = Vec::new();
    push_line(&mut out, ingest);
    out.pop();
    // Serialized from `&str`s and escapes of ASCII only, so it is UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// JSON as `serde_json` writes it, with the characters that act on a terminal escaped too.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inert;

impl serde_json::ser::Formatter for Inert {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        // Nearly every fragment is printable ASCII, which needs no look at its characters.
        if fragment.bytes().all(|b| b.is_ascii() && b != 0x7f) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut plain = 0;
        for (at, c) in fragment.char_indices() {
            if acts_on_a_terminal(c) {
                writer.write_all(&fragment.as_bytes()[plain..at])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                plain = at + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[plain..])
    }
}

/// DEL, C1 controls, bidirectional controls and the line and paragraph separators. Every one
/// of them is in the Basic Multilingual Plane, so one `\uXXXX` escape writes it.
fn acts_on_a_terminal(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Writes every value from `rx` until the channel closes (the server has stopped and every
/// value it sent is written), or until writing fails.
///
/// Whatever is already queued when a line is due goes out in the same write and flush: a
/// reader still sees each line as soon as nothing is waiting behind it, and a burst costs one
/// write per batch instead of one per line (tokio's stdout hands every write to a blocking
/// thread, which at tens of thousands of lines a second is most of the receiver's CPU).
pub async fn run<W: AsyncWrite + Unpin>(
    mut rx: mpsc::Receiver<Ingest>,
    mut out: W,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    while let Some(ingest) = rx.recv().await {
        push_line(&mut batch, &ingest);
        // Letting the tasks that are ready run first costs nothing when there are none, and
        // under load gives them the chance to add their lines to this batch.
        tokio::task::yield_now().await;
        while batch.len() < BATCH_BYTES
            && let Ok(more) = rx.try_recv()
        {
            push_line(&mut batch, &more);
        }
        out.write_all(&batch).await?;
        out.flush().await?;
        batch.clear();
    }
    Ok(())
}

/// Past this many bytes a batch is written even if more lines are queued, so a reader is never
/// held back for long and the buffer stays small.
const BATCH_BYTES: usize = 64 * 1024;

/// Appends one line and its newline, serialized in place rather than through a `String`.
fn push_line(batch: &mut Vec<u8>, ingest: &Ingest) {
    use serde::Serialize as _;
    let start = batch.len();
    let mut json = serde_json::Serializer::with_formatter(&mut *batch, Inert);
    // `Ingest` holds only strings, numbers and maps with string keys, which always serialize.
    if let Err(err) = ingest.serialize(&mut json) {
        batch.truncate(start);
        let error = serde_json::json!({ "type": "error", "reason": err.to_string() });
        batch.extend_from_slice(error.to_string().as_bytes());
    }
    batch.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{Delivery, Rejection};
    use crate::gitee::{Auth, parse_notification};
    use chrono::{TimeZone, Utc};
    use serde_json::Value;
    use std::sync::Arc;

    #[test]
    fn characters_that_act_on_a_terminal_are_escaped_and_read_back_the_same() {
        let reason =
            "a\u{1b}]0;t\u{7}b\u{7f}c\u{85}d\u{9b}2Je\u{202e}f\u{2066}g\u{2028}h\u{2029}i 构建 ✓";
        let rejected = Ingest::Rejected(Rejection {
            received_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            status: 400,
            reason: reason.into(),
            peer: None,
        });
        let text = line(&rejected);
        assert!(
            text.chars()
                .all(|c| !c.is_control() && !acts_on_a_terminal(c)),
            "{text:?}"
        );
        assert!(
            text.contains(
                r#"a\u001b]0;t\u0007b\u007fc\u0085d\u009b2Je\u202ef\u2066g\u2028h\u2029i 构建 ✓"#
            ),
            "{text}"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["reason"], reason);
    }

    #[tokio::test]
    async fn lines_have_the_documented_shape_and_order() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let body = br#"{"job":{"statusCode":"FAIL"},"sources":[{"sourceType":"PIPELINE","upParams":"{\"GITEE_REPO\":\"git/test\"}"}]}"#;
        let parsed = parse_notification(body).unwrap();
        let accepted = Ingest::Accepted(Arc::new(Delivery {
            id: 7,
            received_at: at,
            sent_at: None,
            auth: Auth::None,
            repaired: false,
            headers: Default::default(),
            notification: parsed.notification,
        }));
        let rejected = Ingest::Rejected(Rejection {
            received_at: at,
            status: 401,
            reason: "missing X-Gitee-Timestamp header".into(),
            peer: Some("127.0.0.1:5555".parse().unwrap()),
        });

        let (tx, rx) = mpsc::channel(4);
        tx.send(accepted).await.unwrap();
        tx.send(rejected).await.unwrap();
        drop(tx);
        let mut out = Vec::new();
        run(rx, &mut out).await.unwrap();

        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with(
                r#"{"type":"accepted","id":7,"received_at":"2026-01-02T03:04:05.000Z","auth":"none","repaired":false,"notification":{"job":{"statusCode":"FAIL"}"#
            ),
            "{}",
            lines[0]
        );
        let first: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(
            first["notification"]["sources"][0]["upParams"]["GITEE_REPO"],
            "git/test"
        );
        assert_eq!(
            lines[1],
            r#"{"type":"rejected","received_at":"2026-01-02T03:04:05.000Z","status":401,"reason":"missing X-Gitee-Timestamp header","peer":"127.0.0.1:5555"}"#
        );
    }
}
