//! Headless output: one JSON object per line on stdout for every delivery, for scripts and `jq`.
//!
//! Accepted: `{"type":"accepted","id":1,"received_at":"…","sent_at":"…","auth":"signature",
//! "repaired":false,"notification":{…}}` (`sent_at` only when the sender's timestamp parsed).
//! Rejected: `{"type":"rejected","received_at":"…","status":401,"reason":"…","peer":"…"}`.
//! Each line is flushed as soon as no other is queued behind it, so a pipe reader sees it while
//! the pipeline is still running.
//! Nothing else is written here; human messages go to stderr.
//!
//! A line printed to a terminal is inert: besides the C0 controls, quote and backslash that
//! JSON escapes anyway, every character the screen would remove ([`crate::text::is_removed`]:
//! DEL and C1 controls, bidirectional controls, U+2028/U+2029, zero-width and other invisible
//! or format characters) is written as a `\u` escape. A JSON parser reads back the very same
//! strings.

use crate::delivery::Ingest;
use serde::Serialize;
use std::io::Write;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// One line of output, without the newline.
pub fn line(ingest: &Ingest) -> String {
    let mut out = Vec::new();
    // `Ingest` holds only strings, numbers and maps with string keys, which always serialize.
    match write_json(&mut out, ingest) {
        Ok(()) => String::from_utf8(out)
            .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned()),
        Err(err) => serde_json::json!({ "type": "error", "reason": err.to_string() }).to_string(),
    }
}

fn write_json(out: &mut Vec<u8>, ingest: &Ingest) -> serde_json::Result<()> {
    ingest.serialize(&mut serde_json::Serializer::with_formatter(out, Inert))
}

/// serde_json's compact format, with the characters a terminal would act on, or show
/// otherwise than they are stored, written as `\u` escapes.
struct Inert;

impl serde_json::ser::Formatter for Inert {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let bytes = fragment.as_bytes();
        // ASCII but DEL, nearly every fragment, is written as it is after one scan with no
        // early exit, which runs many bytes a step: a byte from 0x7f up has the high bit set
        // in itself or in itself plus one, and a byte below in neither.
        if bytes
            .iter()
            .fold(0, |seen, &b| seen | b | b.wrapping_add(1))
            < 0x80
        {
            return writer.write_all(bytes);
        }
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if crate::text::is_removed(c) {
                writer.write_all(&bytes[start..at])?;
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = at + c.len_utf8();
            }
        }
        writer.write_all(&bytes[start..])
    }
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
        if let Ingest::Alert(alert) = &ingest {
            notify(alert);
            continue;
        }
        push_line(&mut batch, &ingest);
        // Letting the tasks that are ready run first costs nothing when there are none, and
        // under load gives them the chance to add their lines to this batch.
        tokio::task::yield_now().await;
        while batch.len() < BATCH_BYTES
            && let Ok(more) = rx.try_recv()
        {
            match &more {
                Ingest::Alert(alert) => notify(alert),
                _ => push_line(&mut batch, &more),
            }
        }
        out.write_all(&batch).await?;
        out.flush().await?;
        batch.clear();
    }
    Ok(())
}

/// A notification goes to the terminal on stderr, if there is one: stdout is for JSON.
fn notify(alert: &crate::delivery::Alert) {
    use std::io::IsTerminal as _;
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = err
            .write_all(alert.escape().as_bytes())
            .and_then(|()| err.flush());
    }
}

/// Past this many bytes a batch is written even if more lines are queued, so a reader is never
/// held back for long and the buffer stays small.
const BATCH_BYTES: usize = 64 * 1024;

/// Appends one line and its newline, serialized in place rather than through a `String`.
fn push_line(batch: &mut Vec<u8>, ingest: &Ingest) {
    let start = batch.len();
    if write_json(batch, ingest).is_err() {
        batch.truncate(start);
        batch.extend_from_slice(line(ingest).as_bytes());
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

    proptest::proptest! {
        #[test]
        fn escaped_strings_read_back_the_same(text in "(?s).{0,40}|\\PC{0,40}") {
            let mut out = Vec::new();
            text.serialize(&mut serde_json::Serializer::with_formatter(&mut out, Inert)).unwrap();
            let printed = String::from_utf8(out).unwrap();
            proptest::prop_assert!(!printed.chars().any(crate::text::is_removed), "{}", printed);
            proptest::prop_assert_eq!(serde_json::from_str::<String>(&printed).unwrap(), text);
        }
    }
}
