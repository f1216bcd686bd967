//! Team mode's flags: the feed a receiver serves to viewers (`--viewer-token`), and what
//! `pipetop attach` and `pipetop wait` take to read it.

use super::nats::StreamArgs;
use super::{Secret, duration, secret};
use crate::monitor::Order;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The feed for viewers on GET /events.
#[derive(Args, Clone)]
pub struct ViewerArgs {
    /// Serve GET /events to viewers presenting this bearer token (distinct from the secret).
    /// `pipetop serve` also reads PIPETOP_VIEWER_TOKEN, and without either generates one and
    /// keeps it in the state directory.
    #[arg(long, value_name = "TOKEN", value_parser = secret)]
    pub viewer_token: Option<Secret>,

    /// Read the viewer token from FILE (a trailing newline is ignored).
    #[arg(long, value_name = "FILE", conflicts_with = "viewer_token")]
    pub viewer_token_file: Option<PathBuf>,

    /// Viewers served at once; they do not take the connection slots deliveries use.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_viewers: u32,
}

/// The viewer token a client presents.
#[derive(Args, Clone)]
pub struct TokenArgs {
    /// The server's viewer token; without it or --token-file, PIPETOP_VIEWER_TOKEN.
    #[arg(long, value_name = "TOKEN", value_parser = secret)]
    pub token: Option<Secret>,

    /// Read the viewer token from FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
}

/// `pipetop attach URL`.
#[derive(Args)]
pub struct AttachArgs {
    /// The server, e.g. https://pipetop.example.com or http://127.0.0.1:8787, or the NATS
    /// JetStream server the receivers publish to, e.g. nats://127.0.0.1:4222.
    #[arg(value_name = "URL")]
    pub url: String,

    #[command(flatten)]
    pub token: TokenArgs,

    #[command(flatten)]
    pub stream: StreamArgs,

    /// Only the history received this recently, e.g. 1h (default: all of it).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub since: Option<Duration>,

    /// JSON lines on stdout, as a local --headless prints them (chosen by itself when stdout
    /// is not a terminal).
    #[arg(long)]
    pub headless: bool,

    /// With --headless: the server's history before live deliveries.
    #[arg(long)]
    pub replay: bool,

    /// No colours (also when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,

    /// Ring the terminal bell when a job fails.
    #[arg(long)]
    pub bell: bool,

    /// Leave the mouse to the terminal (its own selection and copy) instead of clicks and the
    /// wheel acting on the panes.
    #[arg(long)]
    pub no_mouse: bool,

    /// The order the pipelines table starts in; `S` cycles through them on the screen.
    #[arg(long, value_name = "ORDER", value_enum, default_value_t = Order::Recent, env = "PIPETOP_SORT")]
    pub sort: Order,
}

/// `pipetop wait`.
#[derive(Args)]
pub struct WaitArgs {
    /// The server whose feed is read: a `pipetop serve`, or a pipetop with --viewer-token; or
    /// the NATS JetStream server the receivers publish to (nats://host:port).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8787")]
    pub url: String,

    #[command(flatten)]
    pub token: TokenArgs,

    #[command(flatten)]
    pub stream: StreamArgs,

    /// Only the history received this recently, e.g. 1h (default: all of it).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub since: Option<Duration>,

    /// The pipeline's name or id.
    #[arg(long, value_name = "NAME")]
    pub pipeline: String,

    /// The build number; without it, the next run to finish (or the latest with --latest).
    #[arg(long, value_name = "N")]
    pub build: Option<u64>,

    /// Only a run built from this branch.
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,

    /// Only a run built from this commit (or one starting with it).
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,

    /// Report the latest finished run from the history instead of waiting for the next.
    #[arg(long, conflicts_with = "build")]
    pub latest: bool,

    /// Give up after this long (exit 4).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<Duration>,

    /// A run whose jobs are all final counts as finished once nothing new came for it this
    /// long (Gitee sends no "run finished" notification).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = duration)]
    pub settle: Duration,

    /// Print nothing; only the exit code tells.
    #[arg(long)]
    pub quiet: bool,
}
