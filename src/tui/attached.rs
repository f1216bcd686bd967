//! What the header says when the screen is fed from a server (`pipetop attach`) rather than
//! a local receiver: which server, and how the link to it is.

use std::time::Instant;
use tokio::sync::watch;

/// The server a screen is attached to and the state of the link, updated by the client.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The server's URL, as the user gave it (cleaned).
    pub server: String,
    pub link: watch::Receiver<Link>,
}

/// How the link to the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    /// Following the server's live deliveries.
    Live,
    /// Catching up on the journal's history.
    Catching,
    /// Connection lost; the next try is at `at`.
    Reconnecting {
        at: Instant,
        reason: String,
    },
    /// The server said no for good (a wrong token, not a pipetop server): one sentence.
    Refused(String),
}

impl Link {
    /// A few words for the header.
    pub fn describe(&self, now: Instant) -> String {
        match self {
            Link::Connecting => "connecting".into(),
            Link::Live => "live".into(),
            Link::Catching => "catching up".into(),
            Link::Reconnecting { at, reason } => format!(
                "reconnecting in {}s ({reason})",
                at.saturating_duration_since(now).as_secs_f64().ceil() as u64
            ),
            Link::Refused(reason) => format!("refused: {reason}"),
        }
    }
}
