//! Receiving deliveries: the HTTP listener, and the values it hands to whoever watches.
//!
//! Every request that reaches the webhook path, accepted or not, becomes one [`Ingest`] on a
//! single tokio channel. The TUI and the headless printer both consume that channel.
//!
//! On start, the journal's history can be put on that channel first ([`replay::feed`]), as
//! ordinary [`Ingest::Accepted`] values with the ids they were stored with: a consumer tells
//! history from live traffic by `id < first live id` if it cares, and needs no other case.

use crate::gitee::{Auth, Notification};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;

pub mod guard;
pub mod handoff;
pub mod journal;
pub mod replay;
pub mod server;

/// What the receiver hands on, in the order the requests were answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Ingest {
    Accepted(Arc<Delivery>),
    Rejected(Rejection),
}

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
    pub notification: Notification,
}

/// A request that was refused, with the status it was answered with and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    #[serde(with = "rfc3339")]
    pub received_at: DateTime<Utc>,
    pub status: u16,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<SocketAddr>,
}

/// RFC 3339 with milliseconds, in UTC: `2026-11-27T11:19:01.123Z`.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

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
            Option::<String>::deserialize(d)?
                .map(|text| {
                    DateTime::parse_from_rfc3339(&text)
                        .map(|at| at.with_timezone(&Utc))
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}
