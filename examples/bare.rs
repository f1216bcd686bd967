//! The limit of pipetop's HTTP stack: an axum handler that reads the whole body and answers
//! 200, and nothing else. It runs on the same axum, hyper and tokio versions as pipetop, with
//! the same multi-thread runtime, so `bench/compare.sh` can report pipetop's throughput as a
//! ratio of this one's: absolute numbers drift on a shared machine, ratios hold.
//!
//! `--parse` adds reading the body as JSON, to show what that alone costs on this stack
//! (BENCHMARKS.md, "The ingest ratio"): `validate` checks it and keeps nothing
//! (`serde::de::IgnoredAny`), `value` builds an untyped `serde_json::Value`, allocating each
//! string, array and object as any parser that keeps the fields does.
//!
//! `cargo run --release --example bare -- --listen 127.0.0.1:8788 --path /webhook [--parse value]`

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use clap::Parser;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "A bare axum receiver that reads the body and answers 200: the stack's limit")]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8788")]
    listen: SocketAddr,
    /// The path that accepts POSTs.
    #[arg(long, default_value = "/webhook")]
    path: String,
    /// Also read the body as JSON; 400 when it is not JSON.
    #[arg(long, value_enum)]
    parse: Option<Parse>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Parse {
    /// Check that it is JSON, keeping nothing.
    Validate,
    /// Build a `serde_json::Value` from it.
    Value,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if !args.path.starts_with('/') {
        eprintln!("bare: --path must start with '/', got {:?}", args.path);
        return ExitCode::FAILURE;
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("bare: cannot listen on {}: {err}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    // Report the bound address, which differs from --listen when it asked for port 0.
    let addr = listener.local_addr().unwrap_or(args.listen);
    eprintln!("bare: listening on http://{addr}{}", args.path);

    let app = match args.parse {
        None => Router::new().route(&args.path, post(receive)),
        Some(Parse::Validate) => Router::new().route(&args.path, post(receive_validated)),
        Some(Parse::Value) => Router::new().route(&args.path, post(receive_value)),
    };
    let shutdown = async {
        // If the signal handler cannot be installed, the process still ends on SIGTERM/SIGKILL.
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bare: the server stopped: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Taking `Bytes` makes axum read the whole body, as a real receiver must before answering.
async fn receive(_body: Bytes) -> StatusCode {
    StatusCode::OK
}

async fn receive_validated(body: Bytes) -> StatusCode {
    answer(serde_json::from_slice::<serde::de::IgnoredAny>(&body))
}

async fn receive_value(body: Bytes) -> StatusCode {
    answer(serde_json::from_slice::<serde_json::Value>(&body))
}

fn answer<T>(parsed: serde_json::Result<T>) -> StatusCode {
    match parsed {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::BAD_REQUEST,
    }
}
