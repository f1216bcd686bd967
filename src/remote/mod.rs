//! The client side of the feed: reading a server's `GET /events` for `pipetop attach` and
//! `pipetop wait`, reconnecting with backoff and `Last-Event-ID`, so nothing is missed or
//! seen twice; or the NATS JetStream stream several receivers publish to ([`nats`]).
//!
//! The stream is read over ureq, which `pipetop send` already uses: server-sent events are
//! lines of `field: value`, few enough rules that reading them by hand over a blocking
//! reader is simpler than an async client and an SSE crate. Everything read is network text:
//! a delivery's kept headers and a refusal's reason are cleaned again here, and the screens
//! and the JSON printer clean the rest as they do for a local receiver.
//!
//! [`Event`] is what a feed yields, whichever of the two it reads.

pub mod attach;
mod nats;
mod sse;
pub mod wait;

use crate::delivery::{Delivery, Headers, Rejection};
use crate::nats::NatsError;
use crate::text::{clean, clean_long};
use crate::tui::attached::Link;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use sse::Stream;

/// How long a read may wait: three keep-alives missed means the link is gone.
pub const READ_TIMEOUT: Duration = Duration::from_secs(45);

/// The longest wait between reconnections.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a feed yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Accepted(Arc<Delivery>),
    Rejected(Rejection),
    /// The history is in; what follows is live. Said again after each reconnection.
    Live,
    /// Something in the feed that is not a delivery, skipped: one sentence, cleaned.
    Foreign(String),
    /// The server's deliveries not yet acked by NATS (`event: health`), when it changed.
    Backlog(u64),
}

/// Why a feed could not be read; each message is one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error(
        "{0} is not a URL pipetop can attach to: it needs http://, https:// or nats://, e.g. https://pipetop.example.com"
    )]
    NoScheme(String),
    /// For good: a wrong token, a refused start.
    #[error("{server} refused the viewer: {reason}")]
    Refused { server: String, reason: String },
    #[error("{0} is not a pipetop server: {1}")]
    NotPipetop(String, String),
    /// Worth another try.
    #[error("lost {0}: {1}")]
    Dropped(String, String),
    #[error(transparent)]
    Nats(#[from] NatsError),
}

impl FeedError {
    /// Trying again could help.
    pub fn is_transient(&self) -> bool {
        match self {
            FeedError::Dropped(..) => true,
            FeedError::Nats(err) => err.is_transient(),
            _ => false,
        }
    }
}

/// Where a viewer reads deliveries: a pipetop server's feed, or the JetStream stream the
/// receivers publish to.
#[derive(Debug, Clone)]
pub enum Feed {
    Server(Server),
    Nats(crate::nats::Link),
}

impl Feed {
    /// A `nats://` or `tls://` URL is a stream, anything else a server.
    pub fn is_nats_url(url: &str) -> bool {
        let lower = url.trim().to_ascii_lowercase();
        lower.starts_with("nats://") || lower.starts_with("tls://")
    }

    /// The URL to show, without credentials.
    pub fn shown(&self) -> String {
        match self {
            Feed::Server(server) => server.shown(),
            Feed::Nats(link) => format!("{} ({})", link.shown(), link.stream),
        }
    }

    /// A warning when credentials would cross the network unencrypted.
    pub fn cleartext_warning(&self) -> Option<String> {
        match self {
            Feed::Server(server) => server.cleartext_warning(),
            Feed::Nats(link) => {
                let url = link.url.trim();
                let rest = url.get("nats://".len()..)?;
                let (credentials, host) = rest.split('/').next()?.rsplit_once('@')?;
                let far = url[..7].eq_ignore_ascii_case("nats://")
                    && !credentials.is_empty()
                    && !is_loopback(host);
                far.then(|| {
                    format!(
                        "warning: {} is plain nats:// to another machine; its credentials travel in the clear (use tls://)",
                        link.shown()
                    )
                })
            }
        }
    }
}

/// Whether the host of an authority (`host`, `host:port`, `[v6]:port`) is this machine.
fn is_loopback(authority: &str) -> bool {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A pipetop server's feed: where it is and the token to show it.
#[derive(Debug, Clone)]
pub struct Server {
    /// The URL as given, without a trailing `/` or `/events`.
    base: String,
    token: String,
}

impl Server {
    /// `url` is the server's address (`https://host`, `http://127.0.0.1:8787`), with or
    /// without `/events`.
    pub fn new(url: &str, token: String) -> Result<Server, FeedError> {
        let trimmed = url.trim();
        let lower = trimmed.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"));
        if rest.is_none_or(|rest| rest.is_empty() || rest.starts_with('/')) {
            return Err(FeedError::NoScheme(clean_long(trimmed).into_owned()));
        }
        let base = trimmed.trim_end_matches('/');
        let base = base.strip_suffix("/events").unwrap_or(base);
        Ok(Server {
            base: base.to_owned(),
            token,
        })
    }

    /// The URL to show.
    pub fn shown(&self) -> String {
        clean_long(&self.base).into_owned()
    }

    /// A warning when the token would cross the network unencrypted.
    pub fn cleartext_warning(&self) -> Option<String> {
        let rest = self.base.get("http://".len()..)?;
        if !self.base[..7].eq_ignore_ascii_case("http://") {
            return None;
        }
        let authority = rest.split('/').next().unwrap_or(rest);
        let authority = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        (!is_loopback(authority)).then(|| {
            format!(
                "warning: {} is plain http to another machine; the viewer token travels in the clear (use https)",
                self.shown()
            )
        })
    }

    /// Opens the stream after delivery `after` (its history first, then live), with only
    /// history received within `since` when there is no `after`.
    pub fn open(&self, after: Option<u64>, since: Option<&str>) -> Result<Stream, FeedError> {
        let mut url = format!("{}/events", self.base);
        if let (None, Some(since)) = (after, since) {
            url.push_str("?since=");
            url.push_str(since);
        }
        sse::open(self, &url, after)
    }
}

/// Cleans what a delivery from the network carries besides its notification, which the
/// screens and the printer clean themselves.
fn cleaned_delivery(delivery: Arc<Delivery>) -> Event {
    let mut delivery = Arc::unwrap_or_clone(delivery);
    let keep = |text: Option<Box<str>>| {
        text.map(|text| {
            clean(&text, Headers::MAX_WIDTH)
                .into_owned()
                .into_boxed_str()
        })
    };
    delivery.headers.gitee_event = keep(delivery.headers.gitee_event.take());
    delivery.headers.request_id = keep(delivery.headers.request_id.take());
    Event::Accepted(Arc::new(delivery))
}

/// Cleans a refusal's reason, which came from the network.
fn cleaned_rejection(mut rejection: Rejection) -> Event {
    rejection.reason = clean_long(&rejection.reason).into_owned();
    Event::Rejected(rejection)
}

/// What [`follow`] reports: the link's state, or an event in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Link(Link),
    Event(Event),
}

/// Reads `feed` from the start of its history (all of it, or what was received within
/// `since`), then live, until `each` breaks or the feed refuses for good; a dropped
/// connection is opened again after a backoff (1 s, doubling up to [`MAX_BACKOFF`]) after the
/// last id seen, so every delivery is reported once, in order.
pub fn follow(
    feed: &Feed,
    since: Option<Duration>,
    each: impl FnMut(Update) -> ControlFlow<()>,
) -> Result<(), FeedError> {
    match feed {
        Feed::Server(server) => {
            let since = since.map(|since| format!("{}s", since.as_secs().max(1)));
            follow_server(server, None, since.as_deref(), each)
        }
        Feed::Nats(link) => nats::follow(link, since, each),
    }
}

/// [`follow`] for a pipetop server, after delivery `after` when there is one.
fn follow_server(
    server: &Server,
    mut after: Option<u64>,
    since: Option<&str>,
    mut each: impl FnMut(Update) -> ControlFlow<()>,
) -> Result<(), FeedError> {
    let mut backoff = Duration::from_secs(1);
    loop {
        let failure = match server.open(after, since) {
            Ok(mut stream) => {
                if each(Update::Link(Link::Catching)).is_break() {
                    return Ok(());
                }
                loop {
                    match stream.next_event() {
                        Ok(Event::Accepted(delivery)) => {
                            if after.is_some_and(|after| delivery.id <= after) {
                                continue;
                            }
                            after = Some(delivery.id);
                            if each(Update::Event(Event::Accepted(delivery))).is_break() {
                                return Ok(());
                            }
                        }
                        Ok(Event::Live) => {
                            backoff = Duration::from_secs(1);
                            if each(Update::Link(Link::Live)).is_break()
                                || each(Update::Event(Event::Live)).is_break()
                            {
                                return Ok(());
                            }
                        }
                        Ok(event) => {
                            if each(Update::Event(event)).is_break() {
                                return Ok(());
                            }
                        }
                        Err(err) => break err,
                    }
                }
            }
            Err(err) => err,
        };
        if !failure.is_transient() {
            let reason = match &failure {
                FeedError::Refused { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            let _ = each(Update::Link(Link::Refused(reason)));
            return Err(failure);
        }
        let reason = match &failure {
            FeedError::Dropped(_, reason) => reason.clone(),
            other => other.to_string(),
        };
        let at = Instant::now() + backoff;
        if each(Update::Link(Link::Reconnecting { at, reason })).is_break() {
            return Ok(());
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_scheme_and_lose_their_events_path() {
        assert!(matches!(
            Server::new("pipetop.example.com", String::new()),
            Err(FeedError::NoScheme(_))
        ));
        assert!(Server::new("http://", String::new()).is_err());
        let server = Server::new("https://p.example.com/events", String::new()).unwrap();
        assert_eq!(server.shown(), "https://p.example.com");
        assert_eq!(server.cleartext_warning(), None);
        for loopback in [
            "http://127.0.0.1:8787",
            "http://localhost:8787/",
            "http://[::1]:8787",
        ] {
            let server = Server::new(loopback, String::new()).unwrap();
            assert_eq!(server.cleartext_warning(), None, "{loopback}");
        }
        let far = Server::new("http://10.0.0.5:8787", String::new()).unwrap();
        assert!(far.cleartext_warning().unwrap().contains("in the clear"));
    }

    #[test]
    fn nats_credentials_to_another_machine_in_plain_nats_get_a_warning() {
        let feed = |url: &str| {
            Feed::Nats(crate::nats::Link {
                url: url.into(),
                creds: None,
                stream: "PIPETOP".into(),
                subject_prefix: "pipetop".into(),
            })
        };
        let far = feed("nats://ci:pw@10.0.0.5:4222")
            .cleartext_warning()
            .unwrap();
        assert!(far.contains("in the clear") && !far.contains("pw"), "{far}");
        for quiet in [
            "nats://ci:pw@127.0.0.1:4222",
            "nats://10.0.0.5:4222",
            "tls://ci:pw@10.0.0.5:4222",
        ] {
            assert_eq!(feed(quiet).cleartext_warning(), None, "{quiet}");
        }
        assert!(Feed::is_nats_url(" NATS://h") && !Feed::is_nats_url("https://h"));
    }
}
