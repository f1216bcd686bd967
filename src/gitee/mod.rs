//! The Gitee Go webhook wire protocol: the notification's shape, the tolerant parser for the
//! documented quirks, the fields that arrived in another shape, the credentials a body may
//! carry, and the `X-Gitee-Token` signature. No IO lives here.

mod lenient;
pub mod misfit;
pub mod parse;
pub mod payload;
pub mod redact;
pub mod signature;
mod visit;

pub use misfit::Misfit;
pub use parse::{ParseError, Parsed, parse_notification};
pub use payload::{
    GlobalParam, Job, Notification, Source, SourceKind, Status, StatusCode, UpParams, UpParamsForm,
};
pub use redact::Redactor;
pub use signature::{Auth, Verified, Verifier, VerifyError, sign};
