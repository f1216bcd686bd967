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

use crate::ingest::Ingest;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// One line of output, without the newline.
pub fn line(ingest: &Ingest) -> String {
    // `Ingest` holds only strings, numbers and maps with string keys, which always serialize.
    serde_json::to_string(ingest).unwrap_or_else(|err| {
        serde_json::json!({ "type": "error", "reason": err.to_string() }).to_string()
    })
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
    let start = batch.len();
    if serde_json::to_writer(&mut *batch, ingest).is_err() {
        batch.truncate(start);
        batch.extend_from_slice(line(ingest).as_bytes());
    }
    batch.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitee::{Auth, parse_notification};
    use crate::ingest::{Delivery, Rejection};
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
}
