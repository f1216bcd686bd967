//! The `pipetop` binary: parse the command line, pick the command, turn outcomes into exit
//! codes (0 ok, 1 runtime error, 2 usage error from clap). The work lives in the library.

use clap::CommandFactory as _;
use pipetop::cli::{
    AttachArgs, Cli, Command, ResendArgs, SECRET_ENV, SecretArgs, SendArgs, StreamArgs, TokenArgs,
    WaitArgs, WatchArgs,
};
use pipetop::feed::token::{self, Origin};
use pipetop::options::{self, OptionsError, report};
use pipetop::outbound::forward;
use pipetop::outbound::resend::{Selection, select};
use pipetop::remote::{Feed, Server, attach, wait};
use pipetop::send::{JobFields, Sender, TokenMode, notification_body};
use pipetop::{app, io_reason};
use std::io::Read as _;
use std::process::ExitCode;

/// A bad flag, or a bad key or value in the config file; for `attach` and `wait`, also a
/// command that cannot work as given: no token, no scheme, a refused token, a server that is
/// not pipetop.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let settled = match options::settle(std::env::args_os().collect()) {
        Ok(settled) => settled,
        Err(OptionsError::CommandLine(err)) => err.exit(),
        Err(err) => {
            eprintln!("pipetop: {err}");
            return ExitCode::from(USAGE);
        }
    };
    let outcome = match settled.cli.command {
        Some(Command::Send(args)) => send(*args),
        Some(Command::Resend(args)) => resend(args),
        Some(Command::Config) => {
            print!("{}", report::render(&settled));
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "pipetop",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man) => man(),
        Some(Command::Serve(args)) => serve(*args),
        Some(Command::Attach(args)) => attach(args),
        Some(Command::Wait(args)) => wait(args),
        None => watch(settled.cli.watch),
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

fn resend(args: ResendArgs) -> anyhow::Result<ExitCode> {
    let secret = secret(&args.secret)?;
    let journal = match args.journal {
        Some(path) => path,
        None => pipetop::store::journal::default_path()?,
    };
    let since = match args.since {
        Some(back) => Some(chrono::Utc::now() - chrono::Duration::from_std(back)?),
        None => None,
    };
    let selection = Selection {
        ids: args.ids,
        pipeline: args.pipeline,
        since,
    };
    let (deliveries, skipped) = select(&journal, &selection)?;
    for reason in &skipped {
        eprintln!("pipetop: skipped {}", pipetop::text::clean_long(reason));
    }
    if deliveries.is_empty() {
        anyhow::bail!("no journaled delivery in {} matches", journal.display());
    }
    let target = forward::Target {
        url: args.to,
        secret,
        timeout: args.timeout,
    };
    let sender = target.sender();
    let mut failed = 0;
    for delivery in &deliveries {
        let started = std::time::Instant::now();
        let outcome = forward::outcome(delivery.id, &forward::post(&sender, delivery), started);
        println!(
            "#{} {} ({} ms)",
            delivery.id,
            pipetop::text::clean_long(&outcome.detail),
            outcome.elapsed_ms
        );
        if !outcome.ok {
            failed += 1;
        }
    }
    if failed > 0 {
        eprintln!(
            "pipetop: {failed} of {} deliveries were not accepted by {}",
            deliveries.len(),
            sender.url()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn man() -> anyhow::Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    std::io::Write::write_all(&mut std::io::stdout(), &page)?;
    Ok(ExitCode::SUCCESS)
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

/// The feed a client command names: the NATS stream for a nats:// or tls:// URL (no viewer
/// token: NATS has its own credentials), otherwise the server and its token.
fn feed(url: &str, args: &TokenArgs, stream: &StreamArgs) -> anyhow::Result<Feed> {
    if Feed::is_nats_url(url) {
        let link = stream.link(url.trim().to_owned());
        link.checked()?;
        return Ok(Feed::Nats(link));
    }
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
    Ok(Feed::Server(Server::new(url, token.expose().to_owned())?))
}

fn attach(args: AttachArgs) -> anyhow::Result<ExitCode> {
    let feed = match feed(&args.url, &args.token, &args.stream) {
        Ok(feed) => feed,
        Err(err) => {
            eprintln!("pipetop: {err}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    let headless = args.headless || !std::io::IsTerminal::is_terminal(&std::io::stdout());
    let options = attach::Options {
        feed,
        since: args.since,
        headless,
        replay: args.replay,
        no_color: args.no_color,
        bell: args.bell,
        mouse: !args.no_mouse,
        order: args.sort,
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
    let feed = match feed(&args.url, &args.token, &args.stream) {
        Ok(feed) => feed,
        Err(err) => {
            eprintln!("pipetop: {err}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    if let Some(warning) = feed.cleartext_warning() {
        eprintln!("pipetop: {warning}");
    }
    let options = wait::Options {
        feed,
        since: args.since,
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
            status_name: args.status_name,
            pipeline_url: args.pipeline_url,
            repo: args.repo,
            branch: args.branch,
            commit: args.commit,
            upstream_build: args.upstream_build,
            up_params: args.up_param,
            artifacts: args.artifact,
            params: args.param,
        }),
    };
    let mode = if args.password {
        TokenMode::Password
    } else {
        TokenMode::Signature
    };
    let sender = Sender::new(args.url, secret, mode);
    let ping: &[(&str, &str)] = if args.ping {
        &[("X-Gitee-Ping", "true")]
    } else {
        &[]
    };
    let reply = sender.post_with(&body, ping)?;
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
