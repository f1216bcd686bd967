//! Every reason the listener refuses a request, each with its status and its one sentence, and
//! the answer that carries them: `{"ok":false,"error":"<the sentence>"}`.
//!
//! Where the sentence belongs to the part that found the fault (the verifier, the parser, the
//! store), the refusal carries that part's error and says what it says, so each sentence is
//! written once. A refusal that is reported ([`Refusal::reported`]) also goes on the feed as a
//! [`Rejection`] with the same status and sentence; the handlers leave that to one place
//! (`Shared::refuse`).

use crate::delivery::Rejection;
use crate::gitee::signature::compact_duration;
use crate::gitee::{ParseError, VerifyError};
use crate::store::handoff::HandoffError;
use axum::Json;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytesize::ByteSize;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The body is over `--max-body`, by its `Content-Length` (refused before any of it is
    /// read) or as it was read.
    #[error("body is larger than the limit of {}", ByteSize::b(*limit as u64).display().iec())]
    TooLarge { limit: usize },
    /// Missing, wrong or stale credentials.
    #[error(transparent)]
    Credentials(#[from] VerifyError),
    /// The same timestamp and token came before with another body.
    #[error("{}", HandoffError::SignatureReused)]
    SignatureReused,
    /// The client broke off the body, or sent it in a way that cannot be read.
    #[error("the request body could not be read to its end")]
    BrokenBody,
    /// The body did not arrive within `--body-timeout` once the headers were in.
    #[error("the request body did not arrive within {}", compact_duration(*limit))]
    BodyTimeout { limit: Duration },
    /// The body is not JSON, or not a JSON object.
    #[error(transparent)]
    Malformed(#[from] ParseError),
    /// The journal could not take the delivery, or every id is used: the sender should retry.
    /// Never [`HandoffError::Closed`] or [`HandoffError::SignatureReused`], which have
    /// variants of their own; see the conversion from [`HandoffError`].
    #[error(transparent)]
    Unstored(HandoffError),
    /// pipetop is stopping; no one is left to watch, so this one is not reported.
    #[error("{}", HandoffError::Closed)]
    ShuttingDown,
    /// A request for a path that is neither the webhook nor `/healthz`.
    #[error("no webhook here; pipetop listens on POST {path}")]
    NotFound { method: Method, path: String },
    /// Anything but a POST on the webhook path.
    #[error("{method} is not allowed here; Gitee delivers with POST {path}")]
    MethodNotAllowed { method: Method, path: String },
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Credentials(_) | Refusal::SignatureReused => StatusCode::UNAUTHORIZED,
            Refusal::BrokenBody | Refusal::Malformed(_) => StatusCode::BAD_REQUEST,
            Refusal::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Refusal::Unstored(_) | Refusal::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::NotFound { .. } => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// Whether the refusal goes on the feed and counts in `/healthz`'s `rejected`.
    pub fn reported(&self) -> bool {
        match self {
            Refusal::ShuttingDown => false,
            // Only a POST elsewhere is worth showing: it is likely a misconfigured webhook URL,
            // while other stray requests (a browser's favicon) are noise.
            Refusal::NotFound { method, .. } => method == Method::POST,
            _ => true,
        }
    }

    /// The refusal as the feed shows it.
    pub fn rejection(&self, peer: Option<SocketAddr>, received_at: DateTime<Utc>) -> Rejection {
        Rejection {
            received_at,
            status: self.status().as_u16(),
            reason: self.to_string(),
            peer,
        }
    }
}

/// Keeps the store's own sentence for what only the store can say.
impl From<HandoffError> for Refusal {
    fn from(err: HandoffError) -> Refusal {
        match err {
            HandoffError::Closed => Refusal::ShuttingDown,
            HandoffError::SignatureReused => Refusal::SignatureReused,
            HandoffError::NoIdLeft | HandoffError::Write(_) | HandoffError::Encode(_) => {
                Refusal::Unstored(err)
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = Json(json!({ "ok": false, "error": self.to_string() }));
        let mut response = (self.status(), body).into_response();
        if let Refusal::MethodNotAllowed { .. } = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}
