//! pipetop and a real NATS JetStream server (see `tests/common/nats.rs` for where it comes
//! from): connecting, credentials, and the stream.

mod common;

use common::nats::NatsServer;
use pipetop::nats::{DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX, Link, NatsError};

fn link(url: String) -> Link {
    Link {
        url,
        creds: None,
        stream: DEFAULT_STREAM.into(),
        subject_prefix: DEFAULT_SUBJECT_PREFIX.into(),
    }
}

#[tokio::test]
async fn a_real_server_is_reached_and_a_wrong_password_is_refused_in_one_sentence() {
    let Some(server) = NatsServer::start_with(&["--user", "ci", "--pass", "right"]) else {
        return;
    };
    let port = server.port();
    let client = link(format!("nats://ci:right@127.0.0.1:{port}"))
        .connect()
        .await
        .expect("the right password connects");
    client.flush().await.expect("the server answers");
    let err = link(format!("nats://ci:wrong@127.0.0.1:{port}"))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err, NatsError::Refused(format!("nats://127.0.0.1:{port}")));
    assert_eq!(
        err.to_string(),
        format!("NATS at nats://127.0.0.1:{port} refused pipetop's credentials")
    );
}
