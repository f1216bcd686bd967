//! The flags that hand every journaled delivery to NATS JetStream (`--nats` and the ones
//! that go with it), for a team running several receivers, and the ones viewers reading the
//! stream share with them.

use super::duration;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Publishing to NATS JetStream.
#[derive(Args, Clone)]
pub struct NatsArgs {
    /// Publish every journaled delivery to the NATS JetStream server at URL (nats://host:port
    /// or tls://host:port; a token or user:password may come before the host).
    #[arg(long, value_name = "URL", env = "PIPETOP_NATS_URL")]
    pub nats: Option<String>,

    #[command(flatten)]
    pub stream: StreamArgs,

    /// How long the answer to Gitee waits for the stream's ack once the journal is synced;
    /// past it, the journal alone answers and the delivery is published later.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration, env = "PIPETOP_NATS_TIMEOUT")]
    pub nats_timeout: Duration,

    /// Answer Gitee once the journal is synced, without waiting for the stream.
    #[arg(long, requires = "nats", env = "PIPETOP_NATS_ASYNC")]
    pub nats_async: bool,
}

/// Which stream, and how to reach it: what receivers publishing and viewers reading share.
#[derive(Args, Clone)]
pub struct StreamArgs {
    /// A NATS credentials file (a JWT and an nkey seed).
    #[arg(long, value_name = "FILE", env = "PIPETOP_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,

    /// Deliveries are published on PREFIX.delivery.<pipelineId>.
    #[arg(long, value_name = "PREFIX", default_value = crate::nats::DEFAULT_SUBJECT_PREFIX, value_parser = subject_prefix, env = "PIPETOP_NATS_SUBJECT_PREFIX")]
    pub nats_subject_prefix: String,

    /// The JetStream stream; a receiver creates it if missing and uses it as it is if it
    /// exists.
    #[arg(long, value_name = "NAME", default_value = crate::nats::DEFAULT_STREAM, value_parser = stream_name, env = "PIPETOP_NATS_STREAM")]
    pub nats_stream: String,
}

impl StreamArgs {
    /// The stream at `url`.
    pub fn link(&self, url: String) -> crate::nats::Link {
        crate::nats::Link {
            url,
            creds: self.nats_creds.clone(),
            stream: self.nats_stream.clone(),
            subject_prefix: self.nats_subject_prefix.clone(),
        }
    }
}

/// Subject tokens joined by dots, without wildcards or whitespace.
fn subject_prefix(text: &str) -> Result<String, String> {
    let fits = !text.is_empty()
        && text.split('.').all(|token| {
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| !c.is_whitespace() && !c.is_control() && c != '*' && c != '>')
        });
    if fits {
        Ok(text.to_owned())
    } else {
        Err("a subject prefix is tokens joined by dots, e.g. pipetop or ci.pipetop, without spaces, * or >".into())
    }
}

/// A JetStream stream name: letters, digits, `-` and `_`.
fn stream_name(text: &str) -> Result<String, String> {
    if !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(text.to_owned())
    } else {
        Err("a stream name is up to 64 letters, digits, - and _, e.g. PIPETOP".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_stream_names_that_nats_would_refuse_are_refused_here() {
        assert!(subject_prefix("ci.pipetop").is_ok());
        assert!(subject_prefix("a.*").is_err());
        assert!(subject_prefix("a..b").is_err());
        assert!(subject_prefix("a b").is_err());
        assert!(stream_name("PIPETOP_2").is_ok());
        assert!(stream_name("a.b").is_err());
        assert!(stream_name("").is_err());
    }
}
