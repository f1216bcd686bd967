//! The listener on real sockets: binding, the URL it gives, and the shape of any answer.

use super::*;
use std::time::SystemTime;

#[test]
fn binding_a_port_in_use_names_the_address() {
    let first = bind(ServerConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    let addr = first.local_addr();
    assert_ne!(addr.port(), 0);
    let err = bind(ServerConfig::new(addr)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot listen on {addr}: address already in use")
    );
}

#[test]
fn the_webhook_url_is_usable_from_this_machine() {
    let mut config = ServerConfig::new("0.0.0.0:0".parse().unwrap());
    config.path = "/hook".into();
    let bound = bind(config).unwrap();
    let port = bound.local_addr().port();
    assert_eq!(bound.webhook_url(), format!("http://127.0.0.1:{port}/hook"));
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    config.path = "/healthz".into();
    assert!(matches!(bind(config), Err(BindError::Path(_))));
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::io::{Read as _, Write as _};
    use std::sync::OnceLock;
    use tokio::sync::mpsc;

    const SECRET: &str = "123654";

    /// A receiver on its own thread and runtime, shared by every case.
    fn start(verifier: Option<Verifier>) -> SocketAddr {
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
        config.verifier = verifier;
        config.max_body = 2048;
        let bound = bind(config).unwrap();
        let addr = bound.local_addr();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let (tx, mut rx) = mpsc::channel(64);
                tokio::spawn(async move { while rx.recv().await.is_some() {} });
                let _ = bound
                    .serve(Handoff::new(tx, 1), std::future::pending())
                    .await;
            });
        });
        addr
    }

    fn signed() -> SocketAddr {
        static ADDR: OnceLock<SocketAddr> = OnceLock::new();
        *ADDR.get_or_init(|| start(Some(Verifier::new(SECRET, Duration::from_secs(300)))))
    }

    fn open() -> SocketAddr {
        static ADDR: OnceLock<SocketAddr> = OnceLock::new();
        *ADDR.get_or_init(|| start(None))
    }

    /// Posts `body` with `headers` over a fresh connection; the status and the body.
    fn post(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut head = format!(
            "POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        // Refused early (413) the server may close before reading it all.
        let _ = stream.write_all(body);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (status, body)
    }

    fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
        let name = prop_oneof![
            Just("X-Gitee-Token"),
            Just("X-Gitee-Timestamp"),
            Just("Content-Type"),
            Just("User-Agent"),
            Just("X-Gitee-Event"),
        ];
        let value = prop_oneof!["[!-~][ -~]{0,40}", "[0-9]{1,15}", "[A-Za-z0-9+/=%]{40,48}"];
        let random = proptest::collection::vec((name, value), 0..5)
            .prop_map(|h| h.into_iter().map(|(n, v)| (n.to_owned(), v)).collect());
        // Valid credentials now and then, so the parser behind them is reached too.
        let valid = Just(()).prop_map(|()| {
            let ts = SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                .to_string();
            vec![
                ("X-Gitee-Token".to_owned(), crate::gitee::sign(SECRET, &ts)),
                ("X-Gitee-Timestamp".to_owned(), ts),
            ]
        });
        prop_oneof![3 => random, 1 => valid]
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..3000),
            r#"\{"job":\{[ -~]{0,80}\}\}"#.prop_map(String::into_bytes),
            r#"[{}\[\]":,/ a-z0-9]{0,200}"#.prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn any_request_gets_2xx_or_4xx_with_one_json_sentence(
            verify in any::<bool>(),
            headers in headers(),
            body in body(),
        ) {
            let addr = if verify { signed() } else { open() };
            let (status, answer) = post(addr, &headers, &body);
            prop_assert!(matches!(status, 200 | 400 | 401 | 413), "{} {}", status, answer);
            let answer: serde_json::Value = serde_json::from_str(&answer)
                .map_err(|err| TestCaseError::fail(format!("not JSON ({err}): {answer}")))?;
            if status == 200 {
                prop_assert_eq!(&answer["ok"], true);
                prop_assert!(answer["id"].is_u64());
            } else {
                prop_assert_eq!(&answer["ok"], false);
                let reason = answer["error"].as_str().unwrap_or_default();
                prop_assert!(!reason.is_empty() && !reason.contains('\n'), "{}", reason);
            }
        }
    }
}
