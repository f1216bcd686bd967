//! The stream deliveries go to: created with pipetop's settings when it is missing, used as it
//! is when it exists, and refused in one sentence when its settings cannot work (it does not
//! take pipetop's subjects, or forgets message ids sooner than a redelivery can come).

use super::{Link, NatsError};
use async_nats::jetstream::{self, context::GetStreamErrorKind, stream};
use std::time::Duration;

/// How long a new stream keeps deliveries.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// How many bytes a new stream keeps at most; the oldest go first.
pub const MAX_BYTES: i64 = 1024 * 1024 * 1024;

/// The settings of a stream pipetop creates: `tolerance` is the signature tolerance, and a
/// redelivery is recognised for two of them, as the receiver's own guard does.
pub fn config(link: &Link, tolerance: Duration) -> stream::Config {
    stream::Config {
        name: link.stream.clone(),
        subjects: vec![link.subjects()],
        storage: stream::StorageType::File,
        max_age: MAX_AGE,
        max_bytes: MAX_BYTES,
        discard: stream::DiscardPolicy::Old,
        duplicate_window: duplicate_window(tolerance),
        ..Default::default()
    }
}

fn duplicate_window(tolerance: Duration) -> Duration {
    (tolerance * 2).max(Duration::from_secs(120))
}

/// Makes sure the stream exists and can take pipetop's deliveries.
pub async fn ensure(
    js: &jetstream::Context,
    link: &Link,
    tolerance: Duration,
) -> Result<(), NatsError> {
    let unreachable =
        |what: String| NatsError::Unreachable(link.shown(), crate::text::clean_long(&what).into());
    match js.get_stream(&link.stream).await {
        Ok(found) => check(&found.cached_info().config, link, tolerance),
        Err(err) => match err.kind() {
            GetStreamErrorKind::JetStream(inner)
                if inner.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
            {
                match js.create_stream(config(link, tolerance)).await {
                    Ok(_) => Ok(()),
                    // Another receiver created it meanwhile: it must fit all the same.
                    Err(_) => match js.get_stream(&link.stream).await {
                        Ok(found) => check(&found.cached_info().config, link, tolerance),
                        Err(err) => Err(unreachable(format!(
                            "cannot create the stream {}: {err}",
                            link.stream
                        ))),
                    },
                }
            }
            GetStreamErrorKind::JetStream(inner) => Err(NatsError::Stream(format!(
                "NATS at {} cannot give the stream {}: {}",
                link.shown(),
                link.stream,
                crate::text::clean_long(&inner.to_string())
            ))),
            _ => Err(unreachable(format!("JetStream does not answer ({err})"))),
        },
    }
}

/// Whether an existing stream's settings work for pipetop.
pub fn check(config: &stream::Config, link: &Link, tolerance: Duration) -> Result<(), NatsError> {
    let ours = link.subjects();
    if !config.subjects.iter().any(|subject| covers(subject, &ours)) {
        return Err(NatsError::Stream(format!(
            "the stream {} takes {}, not {ours}; name another with --nats-stream or add {ours} to its subjects",
            link.stream,
            crate::text::clean_long(&config.subjects.join(", "))
        )));
    }
    if config.duplicate_window < tolerance {
        return Err(NatsError::Stream(format!(
            "the stream {} recognises a message id for {}s, less than the signature tolerance of {}s, so a redelivery could be stored twice; raise its duplicate window",
            link.stream,
            config.duplicate_window.as_secs(),
            tolerance.as_secs()
        )));
    }
    Ok(())
}

/// Whether the subject filter `filter` takes every subject `subject` (itself maybe ending
/// in `>`) takes.
fn covers(filter: &str, subject: &str) -> bool {
    let mut filter = filter.split('.');
    let mut subject = subject.split('.');
    loop {
        match (filter.next(), subject.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(token)) if token != ">" => {}
            (Some(f), Some(s)) if f == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Link {
        Link {
            url: "nats://127.0.0.1".into(),
            creds: None,
            stream: "PIPETOP".into(),
            subject_prefix: "pipetop".into(),
        }
    }

    #[test]
    fn a_stream_takes_our_subjects_when_one_of_its_own_covers_them() {
        assert!(covers("pipetop.delivery.>", "pipetop.delivery.>"));
        assert!(covers("pipetop.>", "pipetop.delivery.>"));
        assert!(covers(">", "pipetop.delivery.>"));
        assert!(covers("*.delivery.>", "pipetop.delivery.>"));
        assert!(!covers("pipetop.delivery.*", "pipetop.delivery.>"));
        assert!(!covers("pipetop.delivery", "pipetop.delivery.>"));
        assert!(!covers("other.>", "pipetop.delivery.>"));
    }

    #[test]
    fn a_stream_that_cannot_work_is_one_sentence() {
        let tolerance = Duration::from_secs(300);
        let mut config = config(&link(), tolerance);
        assert!(check(&config, &link(), tolerance).is_ok());
        config.duplicate_window = Duration::from_secs(60);
        let err = check(&config, &link(), tolerance).unwrap_err().to_string();
        assert!(
            err.contains("for 60s, less than the signature tolerance of 300s"),
            "{err}"
        );
        config.subjects = vec!["orders.>".into()];
        let err = check(&config, &link(), tolerance).unwrap_err().to_string();
        assert_eq!(
            err,
            "the stream PIPETOP takes orders.>, not pipetop.delivery.>; name another with --nats-stream or add pipetop.delivery.> to its subjects"
        );
    }
}
