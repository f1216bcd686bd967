//! The feed's message: what the receiver hands on, in the order requests were answered, to
//! every consumer (the TUI, the headless printer, the saved screen, the journal's history).
//!
//! Every request that reaches the webhook path, accepted or not, becomes one [`Ingest`]. On
//! start, the journal's history comes first, as ordinary [`Ingest::Accepted`] values with the ids
//! they were stored with: a consumer tells history from live traffic by `id < first live id` if
//! it cares, and needs no other case. This room knows the wire protocol (`gitee`) and nothing
//! else of pipetop's, so the state and the screens depend on it without depending on HTTP.

use crate::gitee::{Auth, Notification};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;

/// What the receiver hands on, in the order the requests were answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Ingest {
    Accepted(Arc<Delivery>),
    Rejected(Rejection),
    /// What became of a forward or a hook run for an accepted delivery.
    Outcome(Outcome),
    /// A notification for the user, written by whichever consumer owns the terminal.
    #[serde(skip)]
    Alert(Alert),
}

/// What became of something pipetop did for an accepted delivery: re-posting it
/// (`--forward-to`), running a command (`--on-fail`, `--on-finish`) or notifying the desktop.
/// Shown in the event log beside the delivery, and in headless output as a line of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub delivery_id: u64,
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub action: Action,
    pub ok: bool,
    /// The HTTP status of a forward's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    /// What happened, in a few words: `HTTP 200 OK`, `exit status 1`, `no answer within 10s`.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Forward,
    OnFail,
    OnFinish,
    Notify,
}

impl Action {
    /// How the event log names it.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Forward => "forwarded",
            Action::OnFail => "--on-fail",
            Action::OnFinish => "--on-finish",
            Action::Notify => "notification",
        }
    }
}

/// A notification's text, already cleaned (it came from the network), and how the terminal
/// is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub title: String,
    pub body: String,
    pub escape: Escape,
    /// Inside tmux: the escape is wrapped for its passthrough.
    pub tmux: bool,
}

/// The terminal escape a notification is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Osc9,
    Osc777,
}

/// Enough room that a burst of notifications never waits on a busy consumer; when it is full,
/// requests wait (they are never dropped).
pub const CHANNEL_CAPACITY: usize = 4096;

/// How far loading the history has come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub total_bytes: u64,
    pub bytes_read: u64,
    /// Entries sent on.
    pub entries: u64,
    /// Lines that could not be read back, one sentence each (file and line number); the
    /// first [`MAX_REASONS`] only, so a journal full of garbage costs no memory.
    pub skipped: Vec<String>,
    /// How many lines could not be read back, all told.
    pub skipped_total: u64,
    /// Every entry was sent on; live deliveries follow.
    pub done: bool,
    /// What became of the saved screen, in one sentence, when there was one: restored, so the
    /// entries are only those journaled after it, or why it was not used.
    pub note: Option<String>,
}

/// How many reasons for skipped lines are kept.
pub const MAX_REASONS: usize = 100;

/// An accepted notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Increases by one per accepted delivery, from 1.
    pub id: u64,
    #[serde(with = "rfc3339")]
    pub received_at: DateTime<Utc>,
    /// The sender's clock, from `X-Gitee-Timestamp`, when it sent one that parses. Ordering of
    /// a job's statuses prefers this over arrival order, since retries can arrive late.
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub sent_at: Option<DateTime<Utc>>,
    pub auth: Auth,
    /// The body needed the tolerant parser (a `//` comment or unescaped `upParams`).
    pub repaired: bool,
    /// Written as fields of the delivery itself, each only when it was sent.
    #[serde(flatten)]
    pub headers: Headers,
    pub notification: Notification,
}

/// What the request's other Gitee headers said, as far as it sent them. Kept to be shown and
/// searched; acceptance never depends on them, since whether pipeline notifications send them
/// is unknown (PROTOCOL.md). Text is cleaned and bounded when it is read off the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    /// `X-Gitee-Ping: true`: a test delivery sent from the webhook's settings page, which
    /// changes no pipeline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ping: bool,
    /// `X-Gitee-Event`, such as `Push Hook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitee_event: Option<Box<str>>,
    /// `X-Request-ID`, to find the delivery in Gitee's own log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Box<str>>,
}

impl Headers {
    /// The widest a kept header is, in terminal columns.
    pub const MAX_WIDTH: usize = 128;
}

/// A request that was refused, with the status it was answered with and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    #[serde(with = "rfc3339")]
    pub received_at: DateTime<Utc>,
    pub status: u16,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<SocketAddr>,
}

/// RFC 3339 with milliseconds, in UTC: `2026-11-27T11:19:01.123Z`; any RFC 3339 time reads.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;
    use serde::de::{self, Deserializer, Visitor};
    use std::fmt;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        d.deserialize_str(At)
    }

    /// Reads the text in place, without a copy.
    struct At;

    impl Visitor<'_> for At {
        type Value = DateTime<Utc>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 date and time")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<DateTime<Utc>, E> {
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc))
                .map_err(E::custom)
        }
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;
        use serde::de::{self, Deserializer, Visitor};
        use std::fmt;

        pub fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            d.deserialize_option(MaybeAt)
        }

        struct MaybeAt;

        impl<'de> Visitor<'de> for MaybeAt {
            type Value = Option<DateTime<Utc>>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 date and time or null")
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                super::deserialize(d).map(Some)
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn parse(text: &str) -> serde_json::Result<DateTime<Utc>> {
            deserialize(&mut serde_json::Deserializer::from_str(&format!(
                "\"{text}\""
            )))
        }

        #[test]
        fn the_written_form_reads_back_as_written() {
            for text in [
                "2026-11-27T11:19:01.123Z",
                "1970-01-01T00:00:00.000Z",
                "2024-02-29T23:59:59.999Z",
            ] {
                let at = parse(text).unwrap();
                assert_eq!(at, DateTime::parse_from_rfc3339(text).unwrap());
                assert_eq!(at.to_rfc3339_opts(SecondsFormat::Millis, true), text);
            }
        }

        #[test]
        fn other_rfc3339_forms_still_read_and_nonsense_does_not() {
            let at = parse("2026-11-27T19:19:01.5+08:00").unwrap();
            assert_eq!(at, parse("2026-11-27T11:19:01.500Z").unwrap());
            assert!(parse("2026-11-27T11:19:01Z").is_ok());
            for bad in [
                "2026-02-30T11:19:01.123Z",
                "2026-11-27T25:19:01.123Z",
                "2026-11-27T11:19:01.12xZ",
                "yesterday",
            ] {
                assert!(parse(bad).is_err(), "{bad}");
            }
        }
    }
}
