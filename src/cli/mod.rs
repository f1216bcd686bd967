//! The command line, as a contract: scripts, docs and later work rely on these names.
//!
//! Only clap definitions and the value parsers for their types live here; `main.rs` decides
//! what to do with them.

use crate::monitor::Order;
use crate::outbound::hooks::HookCommand;
use crate::outbound::{NotifyVia, NotifyWhen};
use clap::{Args, Parser, Subcommand};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

mod nats;
mod team;
pub use nats::{NatsArgs, StreamArgs};
pub use team::{AttachArgs, TokenArgs, ViewerArgs, WaitArgs};

/// The secret's environment variable. Read by hand rather than by clap, so a secret in the
/// environment does not clash with an explicit `--secret-file`.
pub const SECRET_ENV: &str = "PIPETOP_SECRET";

/// Shown at the end of `--help`, as `gh` does.
const EXAMPLES: &str = "\
Examples:
  PIPETOP_SECRET=123654 pipetop                 watch, verifying signatures
  pipetop --demo                                try it with made-up pipelines, nothing kept
  pipetop --headless | jq .notification.job     JSON lines for scripts
  pipetop send --secret 123654 --status FAIL    post a test notification
  pipetop config                                the settings in force, and where each came from

Any long flag is also a key of the config file ($XDG_CONFIG_HOME/pipetop/config.toml), e.g.
  listen = \"127.0.0.1:9000\"
  [send]
  pipeline = \"deploy\"
";

/// Watch Gitee Go pipelines live: an embedded webhook receiver that verifies each pipeline
/// notification and shows it in the terminal, or as JSON lines without one.
#[derive(Parser)]
#[command(
    name = "pipetop",
    version,
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub watch: WatchArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Post one signed notification, to test a setup or a tunnel.
    Send(Box<SendArgs>),
    /// Post journaled deliveries again (by id, --pipeline or --since), e.g. to replay
    /// yesterday's traffic against a receiver you are writing.
    Resend(ResendArgs),
    /// Print the settings pipetop would run with, and where each came from (command line,
    /// environment, config file, default); the secret shows only as set or unset.
    Config,
    /// Print a shell completion script, e.g. `pipetop completions bash > ~/.local/share/bash-completion/completions/pipetop`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `pipetop man > ~/.local/share/man/man1/pipetop.1`.
    Man,
    /// The receiver for a team: headless, with its journal, and a feed on GET /events that
    /// `pipetop attach` and `pipetop wait` read. Takes every flag of the receiver.
    Serve(Box<WatchArgs>),
    /// The terminal UI (or --headless JSON lines), fed from a `pipetop serve` at URL.
    Attach(AttachArgs),
    /// Wait until a matching run finishes; exit 0 success, 1 failed, 3 cancelled, 4 timed
    /// out, 2 usage (also a refused token or a server that is not pipetop).
    Wait(WaitArgs),
}

/// Which config file is read: any long flag is a key there.
#[derive(Args)]
pub struct ConfigArgs {
    /// Read settings from FILE instead of $XDG_CONFIG_HOME/pipetop/config.toml (the
    /// platform's config directory elsewhere). The command line and the environment win over it.
    #[arg(long, value_name = "FILE", global = true, env = "PIPETOP_CONFIG")]
    pub config: Option<PathBuf>,

    /// Read no config file.
    #[arg(long, global = true, conflicts_with = "config")]
    pub no_config: bool,
}

/// Receiving and showing notifications (the default command).
#[derive(Args)]
pub struct WatchArgs {
    /// Address to listen on; loopback unless you ask otherwise (use a tunnel to expose it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787", value_parser = listen_addr, env = "PIPETOP_LISTEN")]
    pub listen: SocketAddr,

    /// URL path that receives the webhook POSTs.
    #[arg(long, value_name = "PATH", default_value = "/webhook", value_parser = webhook_path, env = "PIPETOP_PATH")]
    pub path: String,

    #[command(flatten)]
    pub secret: SecretArgs,

    /// How far X-Gitee-Timestamp may be from now, either way.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration, env = "PIPETOP_TOLERANCE")]
    pub tolerance: Duration,

    /// Largest request body accepted, e.g. 1MiB, 512KiB or 1000000 (bytes).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = body_size, env = "PIPETOP_MAX_BODY")]
    pub max_body: usize,

    /// Print one JSON line per delivery on stdout instead of the terminal UI (chosen by
    /// itself when stdout is not a terminal).
    #[arg(long, env = "PIPETOP_HEADLESS")]
    pub headless: bool,

    /// Feed realistic demo activity through the real, signed endpoint (with the secret given,
    /// or a random one generated for the session). Keeps no journal unless --journal is given.
    #[arg(long, env = "PIPETOP_DEMO")]
    pub demo: bool,

    /// The public address of this listener, e.g. a tunnel's URL: shown in the header as the
    /// URL to paste into Gitee's webhook notification form.
    #[arg(long, value_name = "URL", env = "PIPETOP_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Ring the terminal bell when a job fails.
    #[arg(long, env = "PIPETOP_BELL")]
    pub bell: bool,

    /// Leave the mouse to the terminal (its own selection and copy) instead of clicks and the
    /// wheel acting on the panes.
    #[arg(long, env = "PIPETOP_NO_MOUSE")]
    pub no_mouse: bool,

    /// The order the pipelines table starts in; `S` cycles through them on the screen.
    #[arg(long, value_name = "ORDER", value_enum, default_value_t = Order::Recent, env = "PIPETOP_SORT")]
    pub sort: Order,

    /// No colours (also when the NO_COLOR environment variable is set); glyphs still tell
    /// statuses apart.
    #[arg(long, env = "PIPETOP_NO_COLOR")]
    pub no_color: bool,

    /// With --headless: print the journal's history as JSON lines before live deliveries.
    /// Without it, headless output is live deliveries only, so a script never sees one twice.
    #[arg(long, conflicts_with = "no_journal", env = "PIPETOP_REPLAY")]
    pub replay: bool,

    /// Journal file: every accepted delivery is appended and synced before it is answered, and
    /// read back on start. Default: journal.jsonl in the user's state directory
    /// (~/.local/state/pipetop on Linux).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "no_journal",
        env = "PIPETOP_JOURNAL"
    )]
    pub journal: Option<PathBuf>,

    /// Past this size the journal is renamed to FILE.1 (replacing the older one) and a new one
    /// is started, so at most about twice this is kept.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = journal_size, env = "PIPETOP_JOURNAL_MAX")]
    pub journal_max: u64,

    /// Keep nothing on disk: deliveries live in memory only and a restart starts empty.
    #[arg(long, env = "PIPETOP_NO_JOURNAL")]
    pub no_journal: bool,

    /// How long a client may take to send its request headers; also how long an idle
    /// connection stays open.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration, env = "PIPETOP_HEADER_TIMEOUT")]
    pub header_timeout: Duration,

    /// How long a client may take to send a request body once its headers are in.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration, env = "PIPETOP_BODY_TIMEOUT")]
    pub body_timeout: Duration,

    /// How long an answer may wait for the client to read any of it; a client that stops
    /// reading is disconnected after this.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration, env = "PIPETOP_WRITE_TIMEOUT")]
    pub write_timeout: Duration,

    /// Connections served at once. When all are taken, connections between requests are
    /// closed to make room for new ones; further ones wait only while every connection is in
    /// the middle of a request.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..), env = "PIPETOP_MAX_CONNECTIONS")]
    pub max_connections: u32,

    #[command(flatten)]
    pub outbound: OutboundArgs,

    #[command(flatten)]
    pub viewers: ViewerArgs,

    #[command(flatten)]
    pub nats: NatsArgs,
}

/// What pipetop does with each live delivery besides showing it.
#[derive(Args)]
pub struct OutboundArgs {
    /// Notify when a job fails (fail), when a run finishes (finish), or both (always), with a
    /// terminal notification escape that also works over SSH.
    #[arg(long, value_name = "WHEN", value_enum, env = "PIPETOP_NOTIFY")]
    pub notify: Option<NotifyWhen>,

    /// How to notify.
    #[arg(
        long,
        value_name = "HOW",
        value_enum,
        default_value_t,
        env = "PIPETOP_NOTIFY_VIA"
    )]
    pub notify_via: NotifyVia,

    /// Run CMD when a job fails, with the event in PIPETOP_* variables and the delivery's JSON
    /// line on stdin. Split like a shell command, but no shell runs it.
    #[arg(long, value_name = "CMD", value_parser = HookCommand::parse, env = "PIPETOP_ON_FAIL")]
    pub on_fail: Option<HookCommand>,

    /// Run CMD when a run finishes (every job heard of in it has a final status), as --on-fail.
    #[arg(long, value_name = "CMD", value_parser = HookCommand::parse, env = "PIPETOP_ON_FINISH")]
    pub on_finish: Option<HookCommand>,

    /// How long a --on-fail or --on-finish command may run before it is killed.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration, env = "PIPETOP_HOOK_TIMEOUT")]
    pub hook_timeout: Duration,

    /// Post every accepted delivery again to URL (e.g. a receiver you are writing), with its
    /// body and Gitee headers; the answer shows beside it in the event log.
    #[arg(long, value_name = "URL", env = "PIPETOP_FORWARD_TO")]
    pub forward_to: Option<String>,

    /// Sign forwarded deliveries with this secret (a fresh signature each); without it they
    /// go unsigned.
    #[arg(long, value_name = "SECRET", value_parser = secret, env = "PIPETOP_FORWARD_SECRET", hide_env_values = true)]
    pub forward_secret: Option<Secret>,

    /// How long a forward may wait for its answer.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration, env = "PIPETOP_FORWARD_TIMEOUT")]
    pub forward_timeout: Duration,
}

/// Where the shared secret comes from. With none, verification is off.
#[derive(Args, Clone)]
pub struct SecretArgs {
    /// Shared secret (the "key" in Gitee's notification settings). Without this flag or
    /// --secret-file, the PIPETOP_SECRET environment variable is used; prefer it or the file,
    /// since command lines are visible to other local users.
    #[arg(long, value_name = "SECRET", value_parser = secret)]
    pub secret: Option<Secret>,

    /// Read the secret from FILE (one trailing newline is ignored); it wins over
    /// PIPETOP_SECRET.
    #[arg(long, value_name = "FILE", conflicts_with = "secret")]
    pub secret_file: Option<PathBuf>,
}

/// `pipetop send`: one notification, signed with a fresh timestamp.
#[derive(Args)]
pub struct SendArgs {
    /// Where to post.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8787/webhook"
    )]
    pub url: String,

    #[command(flatten)]
    pub secret: SecretArgs,

    /// Send the secret itself as X-Gitee-Token (Gitee's password mode) instead of a signature.
    #[arg(long)]
    pub password: bool,

    /// The job's statusCode: SUCC, FAIL, CANCEL, SKIP, RUNNING, or anything else.
    #[arg(long, value_name = "CODE", default_value = "SUCC")]
    pub status: String,

    /// The pipelineName (its pipelineId is derived from the name).
    #[arg(long, value_name = "NAME", default_value = "pipetop-send")]
    pub pipeline: String,

    /// The stageName.
    #[arg(long, value_name = "NAME", default_value = "Build")]
    pub stage: String,

    /// The jobName.
    #[arg(long, value_name = "NAME", default_value = "Build")]
    pub job: String,

    /// The buildNumber.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub build: u64,

    /// The statusName (Gitee may localise it); by default the status's word, e.g. Failed.
    #[arg(long, value_name = "NAME")]
    pub status_name: Option<String>,

    /// The pipelineUrl; by default one made up from the pipeline and build.
    #[arg(long, value_name = "URL")]
    pub pipeline_url: Option<String>,

    /// The GITEE_GO source's repoPath, e.g. acme/api.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,

    /// The GITEE_GO source's branch.
    #[arg(long, value_name = "NAME")]
    pub branch: Option<String>,

    /// The GITEE_GO source's commitId.
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,

    /// The PIPELINE source's buildNumber: the upstream run that triggered this one.
    #[arg(long, value_name = "N")]
    pub upstream_build: Option<u64>,

    /// One of the PIPELINE source's upParams (repeatable); sent as Gitee does, a string
    /// holding a JSON object.
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    pub up_param: Vec<(String, String)>,

    /// A CODE_LEVEL_ARTIFACT source (repeatable).
    #[arg(long, value_name = "REPO:VERSION", value_parser = artifact)]
    pub artifact: Vec<(String, String)>,

    /// One of the globalParams (repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    pub param: Vec<(String, String)>,

    /// Send it as Gitee's test delivery (X-Gitee-Ping: true): journaled and logged, no
    /// pipeline row.
    #[arg(long)]
    pub ping: bool,

    /// Send this file's bytes as they are instead of a built notification ("-" for stdin).
    #[arg(
        long,
        value_name = "PAYLOAD",
        conflicts_with_all = [
            "status", "pipeline", "stage", "job", "build", "status_name", "pipeline_url",
            "repo", "branch", "commit", "upstream_build", "up_param", "artifact", "param",
        ]
    )]
    pub file: Option<PathBuf>,
}

/// `pipetop resend`: journaled deliveries posted again as `--forward-to` posts them.
#[derive(Args)]
pub struct ResendArgs {
    /// Delivery ids, as the event log and headless output show them.
    #[arg(value_name = "ID", required_unless_present_any = ["pipeline", "since"])]
    pub ids: Vec<u64>,

    /// Where to post them.
    #[arg(long, value_name = "URL")]
    pub to: String,

    /// Only deliveries of the pipeline of this name.
    #[arg(long, value_name = "NAME")]
    pub pipeline: Option<String>,

    /// Only deliveries received within this long before now, e.g. 2h or 1d.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub since: Option<Duration>,

    /// The journal to read (with its previous file, FILE.1). Default: the watcher's default.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Sign each one afresh with this secret (or --secret-file, PIPETOP_SECRET); without one
    /// they go unsigned.
    #[command(flatten)]
    pub secret: SecretArgs,

    /// How long each may wait for its answer.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub timeout: Duration,
}

/// A secret that never shows itself in Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

// The messages below never repeat the secret: clap prints them after "invalid value".
fn secret(text: &str) -> Result<Secret, String> {
    if text.is_empty() {
        Err("the secret is empty; leave it unset to turn verification off".into())
    } else {
        Ok(Secret::new(text))
    }
}

/// `KEY=VALUE`, split at the first `=`; the value may be empty, the key may not.
fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE, e.g. IMAGE_TAG=v1.2".into()),
    }
}

/// `REPO:VERSION`, split at the first `:`.
fn artifact(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((repo, version)) if !repo.is_empty() && !version.is_empty() => {
            Ok((repo.to_owned(), version.to_owned()))
        }
        _ => Err("expected REPO:VERSION, e.g. release-bundles:2.4.1".into()),
    }
}

/// `IP:PORT`, or `localhost:PORT` as a convenience for the loopback address.
fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    if let Some(port) = text.strip_prefix("localhost:")
        && let Ok(port) = port.parse()
    {
        return Ok(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)));
    }
    Err("expected IP:PORT, e.g. 127.0.0.1:8787 or [::1]:8787".into())
}

fn webhook_path(text: &str) -> Result<String, String> {
    if !text.starts_with('/') {
        Err("the path must start with /".into())
    } else if text == "/healthz" || text == "/events" {
        Err(format!("{text} is pipetop's own; choose another path"))
    } else if text
        .chars()
        .any(|c| c.is_whitespace() || c == '?' || c == '#')
    {
        Err("the path must not contain spaces, ? or #".into())
    } else {
        Ok(text.to_owned())
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|err| format!("{err}; e.g. 5m, 90s or 1h"))
}

fn journal_size(text: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = text
        .trim()
        .parse()
        .map_err(|_| "expected a size such as 64MiB, 1GiB or 1000000".to_owned())?;
    match size.as_u64() {
        0 => Err("the size must be at least one byte".into()),
        bytes => Ok(bytes),
    }
}

fn body_size(text: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = text
        .trim()
        .parse()
        .map_err(|_| "expected a size such as 1MiB, 512KiB or 1000000".to_owned())?;
    match usize::try_from(size.as_u64()) {
        Ok(0) => Err("the limit must be at least one byte".into()),
        Ok(bytes) => Ok(bytes),
        Err(_) => Err("the limit is larger than this machine can address".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_read_as_binary_units_or_plain_bytes() {
        assert_eq!(body_size("1MiB"), Ok(1024 * 1024));
        assert_eq!(body_size("512KiB"), Ok(512 * 1024));
        assert_eq!(body_size("1000000"), Ok(1_000_000));
        assert!(body_size("0").is_err());
        assert!(body_size("lots").is_err());
    }

    #[test]
    fn durations_and_addresses_read_as_people_write_them() {
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert!(duration("soon").is_err());
        assert_eq!(
            listen_addr("localhost:9000"),
            Ok("127.0.0.1:9000".parse().unwrap())
        );
        assert_eq!(listen_addr("[::1]:0"), Ok("[::1]:0".parse().unwrap()));
        assert!(listen_addr("8787").is_err());
    }

    #[test]
    fn the_webhook_path_is_checked() {
        assert_eq!(webhook_path("/hooks/gitee"), Ok("/hooks/gitee".into()));
        assert!(webhook_path("webhook").is_err());
        assert!(webhook_path("/healthz").is_err());
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
        assert!(secret("").is_err());
    }

    #[test]
    fn defaults_match_the_documented_contract() {
        let cli = Cli::try_parse_from(["pipetop"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.watch.listen, "127.0.0.1:8787".parse().unwrap());
        assert_eq!(cli.watch.path, "/webhook");
        assert_eq!(cli.watch.tolerance, Duration::from_secs(300));
        assert_eq!(cli.watch.max_body, 1024 * 1024);
        assert_eq!(cli.watch.journal_max, 64 * 1024 * 1024);
        assert_eq!(cli.watch.header_timeout, Duration::from_secs(10));
        assert_eq!(cli.watch.body_timeout, Duration::from_secs(30));
        assert_eq!(cli.watch.write_timeout, Duration::from_secs(10));
        assert_eq!(cli.watch.max_connections, 256);
        assert!(!cli.watch.replay && !cli.watch.no_journal);
        assert!(Cli::try_parse_from(["pipetop", "--no-journal", "--journal", "x"]).is_err());
        assert!(Cli::try_parse_from(["pipetop", "--no-journal", "--replay"]).is_err());
        assert!(Cli::try_parse_from(["pipetop", "--max-connections", "0"]).is_err());
        let cli = Cli::try_parse_from(["pipetop", "send"]).unwrap();
        let Some(Command::Send(send)) = cli.command else {
            panic!("expected send");
        };
        assert_eq!(send.url, "http://127.0.0.1:8787/webhook");
        assert_eq!(send.status, "SUCC");
        assert!(
            Cli::try_parse_from(["pipetop", "send", "--file", "x", "--status", "FAIL"]).is_err()
        );
    }
}
