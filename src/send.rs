//! The client side: build a notification like a Gitee Go job node sends, sign it with a fresh
//! timestamp, and post it. `pipetop send` uses this to test a setup or a tunnel, and a demo
//! feeder can reuse it.
//!
//! ureq is the HTTP client: a small blocking client is all a one-shot send needs, and it keeps
//! async out of the sending side.

use crate::gitee::sign;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The fields of a built notification: the job's, and every source and parameter a real
/// delivery can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFields {
    pub status: String,
    pub pipeline: String,
    pub stage: String,
    pub job: String,
    pub build: u64,
    /// `statusName`; by default the status's word (`Failed`), or the code when unknown.
    pub status_name: Option<String>,
    /// `pipelineUrl`; by default one derived from the pipeline and build.
    pub pipeline_url: Option<String>,
    /// A `GITEE_GO` source, when any of its three fields is given.
    pub repo: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// A `PIPELINE` source (the upstream run), when its build or any `upParams` is given.
    pub upstream_build: Option<u64>,
    pub up_params: Vec<(String, String)>,
    /// One `CODE_LEVEL_ARTIFACT` source per (repository, version).
    pub artifacts: Vec<(String, String)>,
    /// `globalParams`, in order.
    pub params: Vec<(String, String)>,
}

impl Default for JobFields {
    fn default() -> JobFields {
        JobFields {
            status: "SUCC".into(),
            pipeline: "pipetop-send".into(),
            stage: "Build".into(),
            job: "Build".into(),
            build: 1,
            status_name: None,
            pipeline_url: None,
            repo: None,
            branch: None,
            commit: None,
            upstream_build: None,
            up_params: Vec::new(),
            artifacts: Vec::new(),
            params: Vec::new(),
        }
    }
}

/// A notification body in Gitee's shape. The `pipelineId` is derived from the pipeline's
/// name, so the same name always lands on the same pipeline and different names never merge.
pub fn notification_body(fields: &JobFields) -> Vec<u8> {
    let status = crate::gitee::Status::from_code(&fields.status);
    let status_name = match (&fields.status_name, status) {
        (Some(name), _) => name.clone(),
        (None, crate::gitee::Status::Unknown) => fields.status.clone(),
        (None, known) => capitalized(known.word()),
    };
    let pipeline_id = pipeline_id(&fields.pipeline);
    let pipeline_url = fields.pipeline_url.clone().unwrap_or_else(|| {
        format!(
            "https://gitee.com/pipetop/send/gitee_go/pipelines/{pipeline_id}/history?buildNumber={}",
            fields.build
        )
    });
    let body = json!({
        "job": {
            "pipelineId": pipeline_id,
            "pipelineName": fields.pipeline,
            "stageName": fields.stage,
            "jobName": fields.job,
            "buildNumber": fields.build,
            "statusCode": fields.status,
            "statusName": status_name,
            "pipelineUrl": pipeline_url,
        },
        "sources": sources(fields),
        "globalParams": fields.params.iter().map(|(key, value)| json!({"key": key, "value": value})).collect::<Vec<_>>(),
    });
    body.to_string().into_bytes()
}

/// The sources in the order Gitee's documented sample lists them: the repository, the upstream
/// pipeline, then artifacts. Only the fields given are sent, as a partial source would arrive.
fn sources(fields: &JobFields) -> Vec<serde_json::Value> {
    let mut sources = Vec::new();
    if fields.repo.is_some() || fields.branch.is_some() || fields.commit.is_some() {
        let mut source = serde_json::Map::new();
        source.insert("sourceType".into(), "GITEE_GO".into());
        for (name, value) in [
            ("repoPath", &fields.repo),
            ("branch", &fields.branch),
            ("commitId", &fields.commit),
        ] {
            if let Some(value) = value {
                source.insert(name.into(), value.as_str().into());
            }
        }
        sources.push(source.into());
    }
    if fields.upstream_build.is_some() || !fields.up_params.is_empty() {
        let mut source = serde_json::Map::new();
        source.insert("sourceType".into(), "PIPELINE".into());
        if let Some(build) = fields.upstream_build {
            source.insert("buildNumber".into(), build.into());
        }
        // Gitee sends upParams as a string holding a JSON object.
        let params: serde_json::Map<String, serde_json::Value> = fields
            .up_params
            .iter()
            .map(|(key, value)| (key.clone(), value.as_str().into()))
            .collect();
        source.insert(
            "upParams".into(),
            serde_json::Value::Object(params).to_string().into(),
        );
        sources.push(source.into());
    }
    for (repo, version) in &fields.artifacts {
        sources.push(json!({
            "sourceType": "CODE_LEVEL_ARTIFACT",
            "artifactRepo": repo,
            "artifactVersion": version,
        }));
    }
    sources
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// FNV-1a of the name, kept to six digits like the ids Gitee shows.
fn pipeline_id(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    100_000 + hash % 900_000
}

/// What goes into `X-Gitee-Token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenMode {
    /// The HMAC signature of the timestamp (Gitee's "signature" setting).
    #[default]
    Signature,
    /// The secret itself (Gitee's "password" setting).
    Password,
}

/// The headers Gitee sends for `secret` at `timestamp_ms`. Without a secret only the timestamp
/// is sent, as an unsigned notification would.
pub fn gitee_headers(
    secret: Option<&str>,
    mode: TokenMode,
    timestamp_ms: u64,
) -> Vec<(&'static str, String)> {
    let timestamp = timestamp_ms.to_string();
    let token = secret.map(|secret| match mode {
        TokenMode::Signature => sign(secret, &timestamp),
        TokenMode::Password => secret.to_owned(),
    });
    let mut headers = vec![("X-Gitee-Timestamp", timestamp)];
    if let Some(token) = token {
        headers.push(("X-Gitee-Token", token));
    }
    headers
}

/// The receiver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub reason: String,
    /// As the server sent it: [`Reply::shown_body`] is what may reach a terminal.
    pub body: String,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body cleaned line by line (see [`crate::text::clean`]): whatever answered the URL
    /// may be anyone, and an answer holding escape sequences would otherwise retitle the
    /// window, write the clipboard or clear the screen of whoever ran `pipetop send`.
    pub fn shown_body(&self) -> String {
        self.body
            .trim_end()
            .lines()
            .map(crate::text::clean_long)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The notification never got an answer; one sentence naming the URL.
#[derive(Debug, thiserror::Error)]
#[error("cannot post to {url}: {reason}")]
pub struct SendError {
    url: String,
    reason: String,
    #[source]
    source: ureq::Error,
}

/// Posts notifications to one URL, each signed with a fresh timestamp.
pub struct Sender {
    agent: ureq::Agent,
    url: String,
    secret: Option<String>,
    mode: TokenMode,
    timeout: Duration,
    /// The last timestamp used, in milliseconds.
    last_timestamp: AtomicU64,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("mode", &self.mode)
            .finish()
    }
}

impl Sender {
    /// A timeout long enough for a tunnel on a slow link, short enough that a silent URL
    /// fails instead of hanging.
    pub const TIMEOUT: Duration = Duration::from_secs(15);

    pub fn new(url: impl Into<String>, secret: Option<String>, mode: TokenMode) -> Sender {
        Sender {
            agent: agent(Self::TIMEOUT),
            url: url.into(),
            secret,
            mode,
            timeout: Self::TIMEOUT,
            last_timestamp: AtomicU64::new(0),
        }
    }

    /// The same sender with another timeout for each post.
    pub fn with_timeout(mut self, timeout: Duration) -> Sender {
        self.agent = agent(timeout);
        self.timeout = timeout;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Now in milliseconds, or one past the last timestamp used when that is not earlier: a
    /// receiver accepts each signed timestamp once, since the signature covers nothing else,
    /// so two posts in the same millisecond (the demo's bursts) must not share one.
    fn next_timestamp(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let now = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
        let previous = self
            .last_timestamp
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(now.max(last.saturating_add(1)))
            })
            .unwrap_or_else(|last| last);
        now.max(previous.saturating_add(1))
    }

    /// Posts `body` as it is, with Gitee's headers for a timestamp of its own.
    pub fn post(&self, body: &[u8]) -> Result<Reply, SendError> {
        self.post_with(body, &[])
    }

    /// Posts `body` with `extra` headers too (`X-Gitee-Ping`, `X-Gitee-Event`, …).
    pub fn post_with(&self, body: &[u8], extra: &[(&str, &str)]) -> Result<Reply, SendError> {
        let timestamp_ms = self.next_timestamp();
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        for (name, value) in gitee_headers(self.secret.as_deref(), self.mode, timestamp_ms) {
            request = request.header(name, value);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let mut response = request.send(body).map_err(|err| self.error(err))?;
        let status = response.status();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|err| self.error(err))?;
        Ok(Reply {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_owned(),
            body,
        })
    }

    fn error(&self, err: ureq::Error) -> SendError {
        use std::io::ErrorKind;
        let reason = match &err {
            ureq::Error::Io(io) if io.kind() == ErrorKind::ConnectionRefused => {
                "connection refused; is anything listening there?".to_owned()
            }
            ureq::Error::Io(io) if io.kind() == ErrorKind::ConnectionReset => {
                "the connection was reset before an answer came".to_owned()
            }
            ureq::Error::HostNotFound => "host not found".to_owned(),
            ureq::Error::Timeout(_) => format!(
                "no answer within {}",
                humantime::format_duration(self.timeout)
            ),
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                "not a usable http:// or https:// URL".to_owned()
            }
            // Some of ureq's reasons quote what the server sent (a malformed header).
            other => crate::text::clean_long(&other.to_string()).into_owned(),
        };
        SendError {
            url: self.url.clone(),
            reason,
            source: err,
        }
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("pipetop/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Feeds the `--demo` scenario through `sender`, on time, until `stop` is set or the listener
/// goes away. Runs on its own thread: posting blocks, and the UI must never wait for it.
pub fn feed_demo(sender: &Sender, stop: &std::sync::atomic::AtomicBool) {
    use crate::demo;
    use std::sync::atomic::Ordering;
    let start = std::time::Instant::now();
    let cycles = (0u64..).map(|n| {
        let offset = Duration::from_secs(2) + demo::CYCLE * u32::try_from(n).unwrap_or(u32::MAX);
        (offset, demo::cycle(n))
    });
    let batches = std::iter::once((Duration::ZERO, demo::history())).chain(cycles);
    for (offset, events) in batches {
        for event in events {
            let due = start + offset + event.at;
            let wait = due.saturating_duration_since(std::time::Instant::now());
            std::thread::sleep(wait);
            if stop.load(Ordering::Relaxed) {
                return;
            }
            // An error means the listener is gone: nobody is left to watch the demo.
            if sender.post(event.body.to_string().as_bytes()).is_err() {
                return;
            }
        }
    }
}

/// A random secret for a demo session, so even the demo exercises signature verification.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 24];
    if getrandom::fill(&mut bytes).is_err() {
        // Without OS randomness, a time-derived secret still exercises the signing path.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes[..16].copy_from_slice(&nanos.to_le_bytes());
    }
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitee::{Auth, Verifier, parse_notification};

    #[test]
    fn posts_in_the_same_millisecond_get_timestamps_of_their_own() {
        let sender = Sender::new("http://127.0.0.1:9/webhook", None, TokenMode::Signature);
        let sender = std::sync::Arc::new(sender);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let sender = std::sync::Arc::clone(&sender);
                std::thread::spawn(move || {
                    (0..500)
                        .map(|_| sender.next_timestamp())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(all.iter().all(|&ts| ts + 60_000 > now), "close to now");
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 2000);
    }

    #[test]
    fn a_built_body_parses_back_to_its_fields() {
        let fields = JobFields {
            status: "FAIL".into(),
            pipeline: "deploy".into(),
            stage: "Test".into(),
            job: "unit".into(),
            build: 42,
            ..JobFields::default()
        };
        let parsed = parse_notification(&notification_body(&fields)).unwrap();
        assert!(!parsed.repaired());
        let job = parsed.notification.job;
        assert_eq!(job.pipeline_name.as_deref(), Some("deploy"));
        assert_eq!(job.stage_name.as_deref(), Some("Test"));
        assert_eq!(job.job_name.as_deref(), Some("unit"));
        assert_eq!(job.build_number, Some(42));
        assert_eq!(job.status_code.unwrap().as_str(), "FAIL");
        assert_eq!(job.status_name.as_deref(), Some("Failed"));
        assert_eq!(job.pipeline_id, Some(pipeline_id("deploy")));
        assert_ne!(pipeline_id("deploy"), pipeline_id("build"));
    }

    #[test]
    fn an_unknown_status_keeps_its_code_as_the_name() {
        let fields = JobFields {
            status: "QUEUED".into(),
            ..JobFields::default()
        };
        let parsed = parse_notification(&notification_body(&fields)).unwrap();
        assert_eq!(
            parsed.notification.job.status_name.as_deref(),
            Some("QUEUED")
        );
    }

    #[test]
    fn headers_verify_in_both_modes_and_carry_only_a_timestamp_without_a_secret() {
        let ts = 1_672_135_206_524;
        let now = UNIX_EPOCH + Duration::from_millis(ts);
        let verifier = Verifier::new("123654", Duration::from_secs(300));
        for (mode, auth) in [
            (TokenMode::Signature, Auth::Signature),
            (TokenMode::Password, Auth::Password),
        ] {
            let headers = gitee_headers(Some("123654"), mode, ts);
            let get = |name| {
                headers
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_str())
            };
            let verified = verifier.verify(get("X-Gitee-Token"), get("X-Gitee-Timestamp"), now);
            assert_eq!(verified.map(|v| v.auth), Ok(auth));
        }
        assert_eq!(
            gitee_headers(None, TokenMode::Signature, ts),
            vec![("X-Gitee-Timestamp", ts.to_string())]
        );
    }

    #[test]
    fn a_refused_connection_is_one_sentence_naming_the_url() {
        // Bind and release a port, so nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/webhook");
        let sender = Sender::new(url.clone(), Some("s3cret".into()), TokenMode::Signature);
        let err = sender.post(b"{}").unwrap_err().to_string();
        assert_eq!(
            err,
            format!("cannot post to {url}: connection refused; is anything listening there?")
        );
        assert!(!err.contains("s3cret"));
        assert!(!format!("{sender:?}").contains("s3cret"));
    }
}
