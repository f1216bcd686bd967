//! NATS JetStream: where deliveries go when a team runs more than one receiver, and where
//! `pipetop attach nats://…` and `pipetop wait --url nats://…` read them back.
//!
//! pipetop keeps no replication scheme of its own: each receiver journals a delivery, then
//! publishes it to one JetStream stream, which stores it once whichever receiver took it
//! (the `Nats-Msg-Id` header carries the delivery's fingerprint). This room holds what both
//! sides share: where the stream is ([`Link`]), connecting to it, and the subject names.

pub mod follow;
pub mod publish;
pub mod stream;

use async_nats::{Client, ConnectErrorKind, ConnectOptions, ServerAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The stream used when none is named.
pub const DEFAULT_STREAM: &str = "PIPETOP";

/// The subject prefix used when none is named: deliveries go on `pipetop.delivery.<id>`.
pub const DEFAULT_SUBJECT_PREFIX: &str = "pipetop";

/// How long connecting may take before the server counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest wait between a lost connection's reconnection attempts. The client's own
/// backoff grows to 4 s, which was most of the catch-up after a long outage (BENCHMARKS.md).
pub const RECONNECT_MAX: Duration = Duration::from_secs(1);

/// Where the stream is and how to reach it.
#[derive(Clone)]
pub struct Link {
    /// `nats://host:port` or `tls://host:port`, a token or user and password in it if the
    /// server wants them.
    pub url: String,
    /// A `.creds` file (a JWT and an nkey seed), NATS's own way of carrying credentials.
    pub creds: Option<PathBuf>,
    pub stream: String,
    pub subject_prefix: String,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("url", &shown(&self.url))
            .field("creds", &self.creds)
            .field("stream", &self.stream)
            .field("subject_prefix", &self.subject_prefix)
            .finish()
    }
}

/// Why NATS could not be used; each message is one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatsError {
    #[error("{0} is not a NATS URL: it needs nats:// or tls://, e.g. nats://127.0.0.1:4222")]
    BadUrl(String),
    #[error("cannot read the NATS credentials file {path}: {reason}")]
    Creds { path: String, reason: String },
    #[error("NATS at {0} refused pipetop's credentials")]
    Refused(String),
    #[error("NATS at {0} does not answer: {1}")]
    Unreachable(String, String),
    #[error("{0}")]
    Stream(String),
}

impl NatsError {
    /// Trying again later could help.
    pub fn is_transient(&self) -> bool {
        matches!(self, NatsError::Unreachable(..))
    }
}

impl Link {
    /// Checks the URL without connecting.
    pub fn checked(&self) -> Result<ServerAddr, NatsError> {
        let bad = || NatsError::BadUrl(shown(&self.url));
        let lower = self.url.trim().to_ascii_lowercase();
        if !(lower.starts_with("nats://") || lower.starts_with("tls://")) {
            return Err(bad());
        }
        ServerAddr::from_str(self.url.trim()).map_err(|_| bad())
    }

    /// The server's address as it may be shown: without a password or token.
    pub fn shown(&self) -> String {
        shown(&self.url)
    }

    /// The options every pipetop connection uses: its name, the credentials file, the
    /// connect timeout and the reconnection backoff.
    pub async fn options(&self) -> Result<ConnectOptions, NatsError> {
        let options = ConnectOptions::new()
            .name("pipetop")
            .connection_timeout(CONNECT_TIMEOUT)
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(250u64.saturating_mul(attempts as u64)).min(RECONNECT_MAX)
            });
        match &self.creds {
            Some(path) => {
                let creds_error = |reason: String| NatsError::Creds {
                    path: crate::text::clean_long(&path.display().to_string()).into_owned(),
                    reason,
                };
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|err| creds_error(crate::io_reason(&err)))?;
                options
                    .credentials(&text)
                    .map_err(|_| creds_error("it holds no JWT and nkey seed".into()))
            }
            None => Ok(options),
        }
    }

    /// Connects once, with `options` (from [`Link::options`], adjusted by the caller).
    pub async fn connect_with(&self, options: ConnectOptions) -> Result<Client, NatsError> {
        let addr = self.checked()?;
        // The client reads the host from the URL but not the credentials in it.
        let options = match (addr.username(), addr.password()) {
            (Some(user), Some(password)) => options.user_and_password(user.into(), password.into()),
            (Some(token), None) => options.token(token.into()),
            _ => options,
        };
        options.connect(addr).await.map_err(|err| {
            let server = self.shown();
            match err.kind() {
                ConnectErrorKind::ServerParse => NatsError::BadUrl(server),
                ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                    NatsError::Refused(server)
                }
                ConnectErrorKind::TimedOut => {
                    NatsError::Unreachable(server, "connecting timed out".into())
                }
                ConnectErrorKind::Tls => NatsError::Unreachable(server, "TLS failed".into()),
                ConnectErrorKind::Dns => {
                    NatsError::Unreachable(server, "its host name does not resolve".into())
                }
                ConnectErrorKind::Io | ConnectErrorKind::MaxReconnects => {
                    NatsError::Unreachable(server, "the connection was refused or lost".into())
                }
            }
        })
    }

    /// Connects once with the usual options.
    pub async fn connect(&self) -> Result<Client, NatsError> {
        let options = self.options().await?;
        self.connect_with(options).await
    }

    /// The subject a delivery of `pipeline_id` is published on: `<prefix>.delivery.<token>`.
    pub fn subject(&self, pipeline_id: &str) -> String {
        format!(
            "{}.delivery.{}",
            self.subject_prefix,
            subject_token(pipeline_id)
        )
    }

    /// The subjects the stream must take: every pipeline's.
    pub fn subjects(&self) -> String {
        format!("{}.delivery.>", self.subject_prefix)
    }
}

/// A pipeline id as one subject token: what NATS does not allow in a token (`.`, `*`, `>`,
/// whitespace, control characters) becomes `_`, and an empty id is `_`. Ids come from the
/// network, so nothing in them may reach into another subject.
pub fn subject_token(id: &str) -> String {
    let token: String = id
        .chars()
        .take(64)
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() || c.is_control() => '_',
            c => c,
        })
        .collect();
    if token.is_empty() { "_".into() } else { token }
}

/// `url` without what comes before an `@` in its authority (a token, or user and password).
pub fn shown(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let cleaned = crate::text::clean_long(&format!("{host}{path}")).into_owned();
    match scheme {
        Some(scheme) => format!("{}://{cleaned}", crate::text::clean_long(scheme)),
        None => cleaned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(url: &str) -> Link {
        Link {
            url: url.into(),
            creds: None,
            stream: DEFAULT_STREAM.into(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.into(),
        }
    }

    #[test]
    fn a_url_is_shown_without_its_credentials() {
        assert_eq!(
            link("nats://alice:s3cret@nats.example.com:4222").shown(),
            "nats://nats.example.com:4222"
        );
        assert_eq!(link("nats://t0ken@127.0.0.1").shown(), "nats://127.0.0.1");
        assert_eq!(link("tls://host:4222").shown(), "tls://host:4222");
        assert!(!format!("{:?}", link("nats://a:pw@h")).contains("pw"));
    }

    #[test]
    fn only_nats_and_tls_urls_are_taken() {
        assert!(link("nats://127.0.0.1:4222").checked().is_ok());
        assert!(link("tls://nats.example.com").checked().is_ok());
        assert_eq!(
            link("http://127.0.0.1:4222")
                .checked()
                .unwrap_err()
                .to_string(),
            "http://127.0.0.1:4222 is not a NATS URL: it needs nats:// or tls://, e.g. nats://127.0.0.1:4222"
        );
        assert!(matches!(
            link("127.0.0.1:4222").checked(),
            Err(NatsError::BadUrl(_))
        ));
    }

    #[test]
    fn pipeline_ids_cannot_reach_into_other_subjects() {
        let link = link("nats://127.0.0.1");
        assert_eq!(link.subject("4821"), "pipetop.delivery.4821");
        assert_eq!(link.subject("a.b.>"), "pipetop.delivery.a_b__");
        assert_eq!(link.subject("x y\n*"), "pipetop.delivery.x_y__");
        assert_eq!(link.subject(""), "pipetop.delivery._");
        assert_eq!(link.subjects(), "pipetop.delivery.>");
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable_and_worth_another_try() {
        let port = {
            let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            socket.local_addr().unwrap().port()
        };
        let err = link(&format!("nats://127.0.0.1:{port}"))
            .connect()
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(
            err.to_string().starts_with("NATS at nats://127.0.0.1:"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_creds_file_that_is_missing_or_not_one_is_one_sentence() {
        let mut link = link("nats://127.0.0.1:4222");
        link.creds = Some("/nonexistent/pipetop.creds".into());
        let err = link.options().await.err().unwrap();
        assert_eq!(
            err.to_string(),
            "cannot read the NATS credentials file /nonexistent/pipetop.creds: no such file or directory"
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "not a creds file").unwrap();
        link.creds = Some(file.path().into());
        let err = link.options().await.err().unwrap();
        assert!(
            err.to_string().ends_with(": it holds no JWT and nkey seed"),
            "{err}"
        );
    }
}
