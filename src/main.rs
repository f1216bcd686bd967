//! The `pipetop` binary: parse the command line, pick the command, turn outcomes into exit
//! codes (0 ok, 1 runtime error, 2 usage error from clap). The work lives in the library.

use clap::Parser as _;
use pipetop::cli::{
    AttachArgs, Cli, Command, SecretArgs, SendArgs, TokenArgs, WaitArgs, WatchArgs,
};
use pipetop::feed::token::{self, Origin};
use pipetop::remote::{Server, attach, wait};
use pipetop::send::{JobFields, Sender, TokenMode, notification_body};
use pipetop::{app, io_reason};
use std::io::Read as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Send(args)) => send(args),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Attach(args)) => attach(args),
        Some(Command::Wait(args)) => wait(args),
        None => watch(cli.watch),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            // Every error is one sentence that already says why; its sources are for debugging.
            eprintln!("pipetop: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Read by hand rather than by clap, so a secret in the environment does not clash with an
/// explicit `--secret-file`.
const SECRET_ENV: &str = "PIPETOP_SECRET";

/// The secret from `--secret`, `--secret-file` or `PIPETOP_SECRET`, in that order, if any.
fn secret(args: &SecretArgs) -> anyhow::Result<Option<String>> {
    if let Some(secret) = &args.secret {
        return Ok(Some(secret.expose().to_owned()));
    }
    let Some(path) = &args.secret_file else {
        return match std::env::var(SECRET_ENV) {
            Ok(secret) if secret.is_empty() => {
                anyhow::bail!("{SECRET_ENV} is set but empty; unset it to turn verification off")
            }
            Ok(secret) => Ok(Some(secret)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                anyhow::bail!("{SECRET_ENV} is not valid UTF-8")
            }
        };
    };
    let text = std::fs::read_to_string(path).map_err(|err| {
        anyhow::anyhow!(
            "cannot read secret file {}: {}",
            path.display(),
            io_reason(&err)
        )
    })?;
    // Editors and `echo` end files with a newline; it is never part of the key Gitee shows.
    let secret = text.strip_suffix('\n').unwrap_or(&text);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.is_empty() {
        anyhow::bail!("secret file {} is empty", path.display());
    }
    Ok(Some(secret.to_owned()))
}

fn watch(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let secret = secret(&args.secret)?;
    // A local pipetop serves viewers only when asked on its command line.
    let viewers = match (&args.viewers.viewer_token, &args.viewers.viewer_token_file) {
        (None, None) => None,
        (flag, file) => token::given(flag.as_ref().map(|t| t.expose()), file.as_deref())?,
    }
    .map(|token| app::Viewers {
        token,
        max: args.viewers.max_viewers as usize,
    });
    app::watch(args, secret, viewers)?;
    Ok(ExitCode::SUCCESS)
}

/// `pipetop serve`: the receiver, headless, always with a feed; without a token given, the
/// one kept in the state directory (generated and said once, on the first start).
fn serve(mut args: WatchArgs) -> anyhow::Result<ExitCode> {
    args.headless = true;
    let secret = secret(&args.secret)?;
    let given = token::given(
        args.viewers.viewer_token.as_ref().map(|t| t.expose()),
        args.viewers.viewer_token_file.as_deref(),
    )?;
    let token = match given {
        Some(token) => token,
        None => {
            let dir = match &args.journal {
                Some(journal) => journal
                    .parent()
                    .filter(|dir| !dir.as_os_str().is_empty())
                    .map_or_else(|| std::path::PathBuf::from("."), Into::into),
                None => pipetop::store::journal::default_path()?
                    .parent()
                    .map(Into::into)
                    .unwrap_or_default(),
            };
            let (token, origin) = token::stored_or_generated(&dir)?;
            match origin {
                Origin::Generated(path) => eprintln!(
                    "pipetop: viewer token (generated, kept in {} for the next start): {}",
                    path.display(),
                    token.expose()
                ),
                Origin::Stored(path) => {
                    eprintln!("pipetop: viewer token: the one kept in {}", path.display());
                }
            }
            token
        }
    };
    let viewers = app::Viewers {
        token,
        max: args.viewers.max_viewers as usize,
    };
    app::watch(args, secret, Some(viewers))?;
    Ok(ExitCode::SUCCESS)
}

/// The server and token a client command names.
fn server(url: &str, args: &TokenArgs) -> anyhow::Result<Server> {
    let Some(token) = token::given(
        args.token.as_ref().map(|t| t.expose()),
        args.token_file.as_deref(),
    )?
    else {
        anyhow::bail!(
            "no viewer token: give --token, --token-file or {}",
            token::TOKEN_ENV
        );
    };
    Ok(Server::new(url, token.expose().to_owned())?)
}

/// Clients exit 2 when the command cannot work as given: no token, no scheme, a refused token,
/// a server that is not pipetop.
const USAGE: u8 = 2;

fn attach(args: AttachArgs) -> anyhow::Result<ExitCode> {
    let server = match server(&args.url, &args.token) {
        Ok(server) => server,
        Err(err) => {
            eprintln!("pipetop: {err}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    let headless = args.headless || !std::io::IsTerminal::is_terminal(&std::io::stdout());
    let options = attach::Options {
        server,
        headless,
        replay: args.replay,
        no_color: args.no_color,
        bell: args.bell,
    };
    match attach::run(options) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(attach::AttachError::Feed(err)) => {
            eprintln!("pipetop: {err}");
            Ok(ExitCode::from(USAGE))
        }
        Err(err) => Err(err.into()),
    }
}

fn wait(args: WaitArgs) -> anyhow::Result<ExitCode> {
    let server = match server(&args.url, &args.token) {
        Ok(server) => server,
        Err(err) => {
            eprintln!("pipetop: {err}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    if let Some(warning) = server.cleartext_warning() {
        eprintln!("pipetop: {warning}");
    }
    let options = wait::Options {
        server,
        pipeline: args.pipeline,
        build: args.build,
        branch: args.branch,
        commit: args.commit,
        latest: args.latest,
        timeout: args.timeout,
        settle: args.settle,
        quiet: args.quiet,
    };
    match wait::run(&options) {
        Ok(outcome) => {
            if outcome == wait::Outcome::TimedOut && !options.quiet {
                eprintln!("pipetop: no matching run finished in time");
            }
            Ok(ExitCode::from(outcome.exit_code()))
        }
        Err(err) => {
            eprintln!("pipetop: {err}");
            Ok(ExitCode::from(USAGE))
        }
    }
}

fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let secret = secret(&args.secret)?;
    if args.password && secret.is_none() {
        anyhow::bail!("--password needs a secret (--secret, PIPETOP_SECRET or --secret-file)");
    }
    let body = match &args.file {
        Some(path) if path.as_os_str() == "-" => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body).map_err(|err| {
                anyhow::anyhow!("cannot read the payload from stdin: {}", io_reason(&err))
            })?;
            body
        }
        Some(path) => std::fs::read(path).map_err(|err| {
            anyhow::anyhow!("cannot read {}: {}", path.display(), io_reason(&err))
        })?,
        None => notification_body(&JobFields {
            status: args.status,
            pipeline: args.pipeline,
            stage: args.stage,
            job: args.job,
            build: args.build,
        }),
    };
    let mode = if args.password {
        TokenMode::Password
    } else {
        TokenMode::Signature
    };
    let sender = Sender::new(args.url, secret, mode);
    let reply = sender.post(&body)?;
    // The answer comes from whatever listens at the URL: cleaned like all network text.
    println!("HTTP {} {}", reply.status, reply.reason);
    println!("{}", reply.shown_body());
    if reply.is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "pipetop: {} answered HTTP {}; the notification was not accepted",
            sender.url(),
            reply.status
        );
        Ok(ExitCode::FAILURE)
    }
}
