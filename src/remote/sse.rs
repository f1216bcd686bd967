//! One connection to a server's `/events`: the request with the token and `Last-Event-ID`,
//! the answer checked (a refusal, something that is not pipetop), and the server-sent
//! events read line by line, each line and event bounded.

use super::{Event, FeedError, READ_TIMEOUT, Server, cleaned_delivery, cleaned_rejection};
use crate::delivery::Ingest;
use crate::text::clean_long;
use std::io::{BufRead as _, BufReader, Read as _};
use std::time::Duration;

/// The longest line or event read: a delivery is at most `--max-body`, escaped.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An open event stream.
pub struct Stream {
    reader: BufReader<ureq::BodyReader<'static>>,
    server: String,
    line: Vec<u8>,
    event: String,
    data: String,
    /// What the server said last in a comment that explains an end (cut off, stopping).
    note: Option<String>,
}

pub(super) fn open(server: &Server, url: &str, after: Option<u64>) -> Result<Stream, FeedError> {
    let shown = server.shown();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(READ_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .build()
        .into();
    let mut request = agent
        .get(url)
        .header("Authorization", &format!("Bearer {}", server.token))
        .header("Accept", "text/event-stream");
    if let Some(after) = after {
        request = request.header("Last-Event-ID", &after.to_string());
    }
    let response = request
        .call()
        .map_err(|err| FeedError::Dropped(shown.clone(), clean_long(&err.to_string()).into()))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if status != 200 {
        let body = response
            .into_body()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let said = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|answer| {
                answer
                    .get("error")?
                    .as_str()
                    .map(|s| clean_long(s).into_owned())
            });
        return Err(match (status, said) {
            (401, said) => FeedError::Refused {
                server: shown,
                reason: format!(
                    "bad token ({})",
                    said.unwrap_or_else(|| "HTTP 401".to_owned())
                ),
            },
            (400, Some(reason)) => FeedError::Refused {
                server: shown,
                reason,
            },
            (404, _) => FeedError::NotPipetop(
                shown,
                "it has no /events (a pipetop serves it only with a viewer token)".into(),
            ),
            (502..=504, said) => FeedError::Dropped(
                shown,
                format!(
                    "HTTP {status}{}",
                    said.map(|s| format!(": {s}")).unwrap_or_default()
                ),
            ),
            (status, _) => FeedError::NotPipetop(shown, format!("it answered HTTP {status}")),
        });
    }
    if !content_type.starts_with("text/event-stream") {
        return Err(FeedError::NotPipetop(
            shown,
            format!(
                "it answered {} rather than an event stream",
                clean_long(&content_type)
            ),
        ));
    }
    Ok(Stream {
        reader: BufReader::new(response.into_body().into_reader()),
        server: shown,
        line: Vec::new(),
        event: String::new(),
        data: String::new(),
        note: None,
    })
}

impl Stream {
    fn dropped(&self, reason: &str) -> FeedError {
        FeedError::Dropped(self.server.clone(), reason.to_owned())
    }

    fn not_pipetop(&self, reason: String) -> FeedError {
        FeedError::NotPipetop(self.server.clone(), reason)
    }

    /// The next event, skipping comments and events of other kinds.
    pub fn next_event(&mut self) -> Result<Event, FeedError> {
        loop {
            self.line.clear();
            let read = (&mut self.reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut self.line)
                .map_err(|err| self.dropped(&crate::io_reason(&err)))?;
            if self.line.last() != Some(&b'\n') {
                return Err(if read >= MAX_LINE {
                    self.not_pipetop("it sent a line longer than 64 MiB".into())
                } else {
                    let note = self.note.take();
                    self.dropped(note.as_deref().unwrap_or("the server closed the stream"))
                });
            }
            self.line.pop();
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let Ok(line) = std::str::from_utf8(&self.line) else {
                return Err(self.not_pipetop("its stream is not UTF-8".into()));
            };
            if line.is_empty() {
                let event = std::mem::take(&mut self.event);
                let data = std::mem::take(&mut self.data);
                if event == "health" {
                    if let Some(backlog) = backlog(&data) {
                        return Ok(Event::Backlog(backlog));
                    }
                    continue;
                }
                if data.is_empty() || !matches!(event.as_str(), "accepted" | "rejected") {
                    continue;
                }
                let ingest: Ingest = serde_json::from_str(&data).map_err(|err| {
                    self.not_pipetop(format!(
                        "it sent an event that is not a pipetop delivery ({err})"
                    ))
                })?;
                let (kind, cleaned) = match ingest {
                    Ingest::Accepted(delivery) => ("accepted", cleaned_delivery(delivery)),
                    Ingest::Rejected(rejection) => ("rejected", cleaned_rejection(rejection)),
                    Ingest::Outcome(_) | Ingest::Alert(_) => {
                        return Err(self.not_pipetop(format!(
                            "it sent something other than a delivery as {event}"
                        )));
                    }
                };
                if kind != event {
                    return Err(self.not_pipetop(format!("it sent a {kind} delivery as {event}")));
                }
                return Ok(cleaned);
            }
            if let Some(comment) = line.strip_prefix(':') {
                let comment = comment.trim();
                if comment == "live" {
                    return Ok(Event::Live);
                }
                if comment != "keep-alive" {
                    self.note = Some(clean_long(comment).into_owned());
                }
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => value.clone_into(&mut self.event),
                "data" => {
                    if self.data.len() + value.len() > MAX_LINE {
                        return Err(self.not_pipetop("it sent an event larger than 64 MiB".into()));
                    }
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                }
                _ => {}
            }
        }
    }
}

/// The NATS backlog an `event: health` carries; a health event this version does not
/// understand is skipped.
fn backlog(data: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Health {
        nats_backlog: u64,
    }
    serde_json::from_str::<Health>(data)
        .ok()
        .map(|health| health.nats_backlog)
}
