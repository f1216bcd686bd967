//! `--forward-to URL` and `pipetop resend`: a delivery posted again to the user's own receiver,
//! as Gitee would post it: the body as journaled (credentials already redacted, `upParams` in
//! the form it arrived in), Gitee's headers (`X-Gitee-Event`, `X-Request-ID`, `X-Gitee-Ping`),
//! a fresh timestamp, and a fresh signature when a forward secret is given. Forwards wait in a
//! bounded queue and are posted one at a time with a timeout, so a slow or dead target never
//! holds up the receiver; each answer goes to the event log.

use crate::delivery::{Action, Delivery, Ingest, Outcome};
use crate::gitee::Notification;
use crate::gitee::payload::{UpParamsForm, up_params_forms};
use crate::send::{Reply, SendError, Sender, TokenMode};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Where deliveries are forwarded.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub secret: Option<String>,
    pub timeout: Duration,
}

impl Target {
    pub fn sender(&self) -> Sender {
        Sender::new(self.url.clone(), self.secret.clone(), TokenMode::Signature)
            .with_timeout(self.timeout)
    }
}

/// How many forwards may wait; past that a delivery is not forwarded, and that is said in the
/// log (it is still journaled: `pipetop resend` can post it later).
pub const QUEUE: usize = 256;

/// The body as Gitee sent it, as near as the journal keeps it: an `upParams` that arrived as a
/// string holding JSON is a string again.
pub fn wire_body(notification: &Notification) -> Vec<u8> {
    let mut body = serde_json::to_value(notification).unwrap_or(Value::Null);
    let forms = up_params_forms(&notification.sources);
    if let Some(sources) = body.get_mut("sources").and_then(Value::as_array_mut) {
        for (source, form) in sources.iter_mut().zip(forms) {
            if matches!(
                form,
                Some(UpParamsForm::EncodedString | UpParamsForm::Unescaped)
            ) && let Some(params) = source.get_mut("upParams")
                && params.is_object()
            {
                *params = Value::String(params.to_string());
            }
        }
    }
    body.to_string().into_bytes()
}

/// Posts one delivery with its Gitee headers.
pub fn post(sender: &Sender, delivery: &Delivery) -> Result<Reply, SendError> {
    let headers = &delivery.headers;
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if headers.ping {
        extra.push(("X-Gitee-Ping", "true"));
    }
    if let Some(event) = &headers.gitee_event {
        extra.push(("X-Gitee-Event", event));
    }
    if let Some(id) = &headers.request_id {
        extra.push(("X-Request-ID", id));
    }
    sender.post_with(&wire_body(&delivery.notification), &extra)
}

/// What a post came to, for the log.
pub fn outcome(delivery_id: u64, result: &Result<Reply, SendError>, started: Instant) -> Outcome {
    let (ok, status, detail) = match result {
        Ok(reply) => (
            reply.is_success(),
            Some(reply.status),
            format!("HTTP {} {}", reply.status, reply.reason)
                .trim_end()
                .to_owned(),
        ),
        Err(err) => (false, None, err.to_string()),
    };
    Outcome {
        delivery_id,
        at: chrono::Utc::now(),
        action: Action::Forward,
        ok,
        status,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        detail,
    }
}

/// Forwards queued deliveries one at a time until the queue closes or `closing` is set.
pub fn start(
    target: &Target,
    out: mpsc::Sender<Ingest>,
    closing: Arc<AtomicBool>,
) -> mpsc::Sender<Arc<Delivery>> {
    let (tx, mut rx) = mpsc::channel::<Arc<Delivery>>(QUEUE);
    let sender = Arc::new(target.sender());
    tokio::spawn(async move {
        while let Some(delivery) = rx.recv().await {
            if closing.load(Ordering::Relaxed) {
                break;
            }
            let sender = Arc::clone(&sender);
            let started = Instant::now();
            let id = delivery.id;
            let result = tokio::task::spawn_blocking(move || post(&sender, &delivery)).await;
            let outcome = match result {
                Ok(result) => outcome(id, &result, started),
                Err(_) => continue,
            };
            if out.send(Ingest::Outcome(outcome)).await.is_err() {
                break;
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_params_go_back_in_the_form_they_arrived_in() {
        let body = br#"{"job":{"statusCode":"SUCC"},"sources":[{"sourceType":"PIPELINE","upParams":"{\"A\":\"1\"}"},{"sourceType":"PIPELINE","upParams":{"B":"2"}}]}"#;
        let parsed = crate::gitee::parse_notification(body).unwrap();
        let wire: Value = serde_json::from_slice(&wire_body(&parsed.notification)).unwrap();
        assert_eq!(wire["sources"][0]["upParams"], "{\"A\":\"1\"}");
        assert_eq!(wire["sources"][1]["upParams"]["B"], "2");
        assert_eq!(wire["job"]["statusCode"], "SUCC");
    }
}
