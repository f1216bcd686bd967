//! The journal's line format: one JSON object per accepted delivery, written with its id first,
//! and read back whole ([`parse_line`]) or only as far as a start needs ([`TailEntry`]).

use crate::delivery::{Delivery, Headers, rfc3339};
use crate::gitee::payload::{restore_up_params_forms, up_params_forms};
use crate::gitee::{Auth, Notification, UpParamsForm};
use crate::store::guard::{self, Fingerprint};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use std::io::Write as _;

/// Just what the start needs from a line; the notification is skipped unparsed.
#[derive(Deserialize)]
pub(super) struct TailEntry {
    pub(super) id: u64,
    #[serde(with = "rfc3339")]
    pub(super) received_at: DateTime<Utc>,
    #[serde(default)]
    pub(super) key: Option<String>,
    #[serde(default)]
    pub(super) pair: Option<String>,
}

/// A journal line as written, but for the id, which comes first.
#[derive(Serialize)]
struct EntryOut<'a> {
    #[serde(serialize_with = "at")]
    received_at: &'a DateTime<Utc>,
    #[serde(serialize_with = "at_opt", skip_serializing_if = "Option::is_none")]
    sent_at: Option<&'a DateTime<Utc>>,
    auth: Auth,
    repaired: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ping: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    gitee_event: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pair: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forms: Vec<Option<UpParamsForm>>,
    notification: &'a Notification,
}

fn at<S: Serializer>(at: &&DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    rfc3339::serialize(at, s)
}

fn at_opt<S: Serializer>(at: &Option<&DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339::serialize(at, s),
        None => s.serialize_none(),
    }
}

/// A journal line, as read.
#[derive(Deserialize)]
struct EntryIn {
    id: u64,
    #[serde(with = "rfc3339")]
    received_at: DateTime<Utc>,
    #[serde(default, with = "rfc3339::option")]
    sent_at: Option<DateTime<Utc>>,
    auth: Auth,
    #[serde(default)]
    repaired: bool,
    // Absent from lines written before they were kept, and from lines that did not have them.
    #[serde(default)]
    ping: bool,
    #[serde(default)]
    gitee_event: Option<Box<str>>,
    #[serde(default)]
    request_id: Option<Box<str>>,
    #[serde(default)]
    forms: Vec<Option<UpParamsForm>>,
    notification: Notification,
}

/// A journal line before its delivery has an id: everything but the id, serialized where the
/// delivery was received, so requests serialize in parallel and the one writer thread only puts
/// the id in front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unnumbered(Vec<u8>);

impl Unnumbered {
    /// The line for a delivery received at `received_at`; see [`line()`].
    pub fn new(
        received_at: &DateTime<Utc>,
        sent_at: Option<&DateTime<Utc>>,
        auth: Auth,
        repaired: bool,
        headers: &Headers,
        notification: &Notification,
        fingerprint: Option<&Fingerprint>,
    ) -> serde_json::Result<Unnumbered> {
        let forms = up_params_forms(&notification.sources);
        let entry = EntryOut {
            received_at,
            sent_at,
            auth,
            repaired,
            ping: headers.ping,
            gitee_event: headers.gitee_event.as_deref(),
            request_id: headers.request_id.as_deref(),
            key: fingerprint.map(|f| guard::hex(&f.delivery)),
            pair: fingerprint.and_then(|f| f.pair.as_ref()).map(guard::hex),
            forms,
            notification,
        };
        serde_json::to_vec(&entry).map(Unnumbered)
    }

    /// Appends the whole line with `id` as its first field, and its newline, to `out`.
    pub fn write_numbered(&self, id: u64, out: &mut Vec<u8>) {
        // The rest is an object that always has `received_at`: its opening brace becomes
        // the comma after the id. Writing into a `Vec` cannot fail.
        let _ = write!(out, "{{\"id\":{id},");
        out.extend_from_slice(self.0.get(1..).unwrap_or_default());
        out.push(b'\n');
    }
}

/// The journal line for a delivery, with its newline.
pub fn line(delivery: &Delivery, fingerprint: Option<&Fingerprint>) -> serde_json::Result<Vec<u8>> {
    let unnumbered = Unnumbered::new(
        &delivery.received_at,
        delivery.sent_at.as_ref(),
        delivery.auth,
        delivery.repaired,
        &delivery.headers,
        &delivery.notification,
        fingerprint,
    )?;
    let mut out = Vec::new();
    unnumbered.write_numbered(delivery.id, &mut out);
    Ok(out)
}

/// Reads one journal line back into the delivery it was written from.
pub fn parse_line(line: &[u8]) -> serde_json::Result<Delivery> {
    // One check of the whole line is much cheaper than serde_json's check of every string
    // read from bytes; a line that is not UTF-8 gets the error reading it as bytes gives.
    let entry: EntryIn = match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text)?,
        Err(_) => serde_json::from_slice(line)?,
    };
    let mut notification = entry.notification;
    restore_up_params_forms(&mut notification.sources, entry.forms);
    Ok(Delivery {
        id: entry.id,
        received_at: entry.received_at,
        sent_at: entry.sent_at,
        auth: entry.auth,
        repaired: entry.repaired,
        headers: Headers {
            ping: entry.ping,
            gitee_event: entry.gitee_event,
            request_id: entry.request_id,
        },
        notification,
    })
}
