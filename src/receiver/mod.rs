//! The HTTP listener: answers Gitee's webhook POSTs and hands every outcome to one channel.
//!
//! Starting is two steps, [`bind`] then [`Bound::serve`], so a port already in use is reported
//! before anything else starts, and `127.0.0.1:0` can be bound and its real port read back.
//!
//! A POST to the webhook path goes through, in order: the `Content-Length` limit (refused before
//! any body is read), the signature, reading the body up to the limit and within the body
//! timeout, the parser, the redaction of credentials in the body ([`crate::gitee::Redactor`]:
//! the parsed notification is redacted, and the body itself is never stored), and
//! [`Handoff::accept`], which turns away redeliveries and reused signatures and answers only
//! once the delivery is on disk and on the channel. Each refusal is a [`Refusal`], which holds
//! its status and its one sentence, and is also sent on as
//! [`crate::delivery::Ingest::Rejected`].
//!
//! The routes are [`router`], apart from the socket, so they can be driven without one; the
//! handlers are in `handler.rs`.
//!
//! `X-Gitee-Ping`, `X-Gitee-Event` and `X-Request-ID` are kept on the delivery when sent
//! ([`crate::delivery::Headers`]) and change nothing about whether it is accepted; a test delivery (`X-Gitee-Ping:
//! true`) is verified, guarded and journaled like any other, and its answer says `"ping":true`.
//!
//! A request whose signature was already used with another body is refused before its body is
//! parsed ([`Handoff::precheck`]), and a large body is parsed off the async workers, a few at a
//! time, so no request holds up the others, `/healthz` included.
//!
//! Connections are served by hyper directly rather than `axum::serve`, for what a listener
//! facing the internet needs: a header read timeout (which also closes idle keep-alive
//! connections), a write timeout for clients that stop reading, a bound on concurrent
//! connections at which the ones between requests make room for new ones (see
//! `connections`), and a graceful stop that finishes the requests in
//! flight and closes the rest at once.

mod connections;
mod handler;
mod refusal;
#[cfg(test)]
mod tests;

use crate::feed::Hub;
use crate::gitee::Verifier;
use crate::nats::publish::Gate;
use crate::store::handoff::Handoff;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use connections::{Connections, Seat, WriteTimeout};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower_service::Service as _;

pub use crate::store::handoff::{Draft, Setup};
pub use handler::Shared;
pub use refusal::Refusal;

/// What hyper buffers per connection, each way: unread pipelined requests on one side, answers
/// the client has not taken on the other. It also bounds, roughly, how long a request head may
/// be.
const CONNECTION_BUFFER: usize = 64 * 1024;

/// How the listener is set up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The webhook path, starting with `/`.
    pub path: String,
    /// `None` turns verification off: every delivery is accepted with [`Auth::None`](crate::gitee::Auth::None).
    pub verifier: Option<Verifier>,
    /// Largest body accepted, in bytes.
    pub max_body: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection stays open.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body, once its headers are in.
    pub body_timeout: Duration,
    /// How long an answer may wait for the client to take any of it before the connection is
    /// closed.
    pub write_timeout: Duration,
    /// Connections served at once; at the bound, connections between requests are closed to
    /// make room, and while every one is in a request, further ones wait.
    pub max_connections: usize,
}

impl ServerConfig {
    pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

    /// The defaults of the command line, listening on `listen`.
    pub fn new(listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            listen,
            path: "/webhook".into(),
            verifier: None,
            max_body: Self::DEFAULT_MAX_BODY,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            write_timeout: Self::DEFAULT_WRITE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The listener could not be set up; the message is one sentence naming the address.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot listen on {addr}: {}", crate::io_reason(source))]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the webhook path {0:?} must start with / and must not be /healthz or /events")]
    Path(String),
}

/// The routes: POST on the webhook path, `GET /healthz`, `GET /events` when there is a feed,
/// and a refusal for anything else.
/// Requests carry the peer's address as [`ConnectInfo`] when there is one; without it, their
/// rejections say no peer.
pub fn router(shared: Shared) -> Router {
    let path = shared.path().to_owned();
    let mut router = Router::new()
        .route(
            &path,
            post(handler::webhook).fallback(handler::method_not_allowed),
        )
        .route("/healthz", get(handler::healthz));
    if shared.has_feed() {
        router = router.route("/events", get(handler::events));
    }
    router
        .fallback(handler::not_found)
        .with_state(Arc::new(shared))
}

/// A bound listener, not yet answering.
#[derive(Debug)]
pub struct Bound {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    config: ServerConfig,
    nats: Option<Arc<Gate>>,
}

/// Binds the listening socket. Nothing is served until [`Bound::serve`].
pub fn bind(config: ServerConfig) -> Result<Bound, BindError> {
    if !config.path.starts_with('/') || config.path == "/healthz" || config.path == "/events" {
        return Err(BindError::Path(config.path));
    }
    let listen_error = |source: std::io::Error| BindError::Listen {
        addr: config.listen,
        source,
    };
    let listener = std::net::TcpListener::bind(config.listen).map_err(listen_error)?;
    // Tokio needs a non-blocking socket; the conversion happens in `serve`, inside the runtime.
    listener.set_nonblocking(true).map_err(listen_error)?;
    let local_addr = listener.local_addr().map_err(listen_error)?;
    Ok(Bound {
        listener,
        local_addr,
        config,
        nats: None,
    })
}

impl Bound {
    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Answers once NATS JetStream has each delivery too (`--nats`), and `/healthz` says
    /// how publishing goes.
    pub fn publishing(mut self, gate: Arc<Gate>) -> Bound {
        self.nats = Some(gate);
        self
    }

    /// The URL to post to. An unspecified address (`0.0.0.0`) is shown as loopback, since that
    /// is a URL that works from this machine.
    pub fn webhook_url(&self) -> String {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{addr}{}", self.config.path)
    }

    /// Answers requests until `shutdown` completes, then finishes the requests in flight and
    /// closes every other connection. Dropping the future closes every connection at once.
    /// Accepted deliveries go through `handoff`; refusals are sent on its channel too.
    pub async fn serve(
        self,
        handoff: Handoff,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with_feed(handoff, None, shutdown).await
    }

    /// [`Bound::serve`], with `GET /events` served from `feed` when there is one; its
    /// viewers' streams end when the shutdown begins.
    pub async fn serve_with_feed(
        self,
        handoff: Handoff,
        feed: Option<Arc<Hub>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let config = self.config;
        let mut shared = Shared::new(&config, handoff);
        if let Some(hub) = &feed {
            shared = shared.with_feed(Arc::clone(hub));
        }
        if let Some(gate) = self.nats {
            shared = shared.with_nats(gate);
        }
        let app = router(shared);

        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.header_timeout)
            .max_buf_size(CONNECTION_BUFFER);
        let connections = Connections::new(config.max_connections);
        // `true` asks every connection to finish; the sender dropped closes them all.
        let (stopping, stop) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => {
                        // Out of file descriptors or a connection reset before it was
                        // accepted: wait a little rather than spin, and go on.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let admitted = tokio::select! {
                () = &mut shutdown => break,
                admitted = connections.admit() => admitted,
            };
            let app = app.clone();
            let tracked = Arc::clone(&admitted.connection);
            let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(Seat(Arc::clone(&tracked)));
                let in_request = tracked.request();
                let answer = app.clone().call(req);
                async move {
                    let answer = answer.await;
                    drop(in_request);
                    answer
                }
            });
            let io = WriteTimeout::new(
                stream,
                config.write_timeout,
                Arc::clone(&admitted.connection),
            );
            let connection = http.serve_connection(TokioIo::new(io), service);
            let mut stop = stop.clone();
            tokio::spawn(async move {
                tokio::pin!(connection);
                let tracked = &admitted.connection;
                loop {
                    tokio::select! {
                        // A client that hangs up or times out ends its connection; nothing to
                        // report.
                        _ = connection.as_mut() => break,
                        () = tracked.asked_to_close() => {
                            if tracked.may_drop() {
                                break;
                            }
                            connection.as_mut().graceful_shutdown();
                        }
                        changed = stop.changed() => {
                            if changed.is_err() || tracked.may_drop() {
                                break;
                            }
                            connection.as_mut().graceful_shutdown();
                        }
                    }
                }
                drop(admitted);
            });
        }
        drop(listener);
        if let Some(hub) = &feed {
            hub.close();
        }
        let _ = stopping.send(true);
        connections.all_closed().await;
        Ok(())
    }
}
