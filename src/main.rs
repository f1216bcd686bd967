//! The `pipetop` binary: parse the command line, pick the command, turn outcomes into exit
//! codes (0 ok, 1 runtime error, 2 usage error from clap). The work lives in the library.

use clap::Parser as _;
use pipetop::cli::{Cli, Command, SecretArgs, SendArgs, WatchArgs};
use pipetop::delivery::{CHANNEL_CAPACITY, Progress};
use pipetop::gitee::Verifier;
use pipetop::gitee::signature::compact_duration;
use pipetop::monitor::{Limits, Monitor};
use pipetop::receiver::{self, ServerConfig};
use pipetop::send::{self, JobFields, Sender, TokenMode, notification_body};
use pipetop::store::guard::Guard;
use pipetop::store::handoff::{Handoff, Setup};
use pipetop::store::journal::{self, Journal};
use pipetop::store::replay;
use pipetop::store::screen;
use pipetop::text::clean_long;
use pipetop::tui::{self, theme::Theme};
use pipetop::{headless, io_reason};
use std::io::{IsTerminal as _, Read as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};

/// How long requests still in flight may take once a shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Send(args)) => send(args),
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
    let mut secret = secret(&args.secret)?;
    if args.demo && secret.is_none() {
        secret = Some(send::random_secret());
    }
    let verifier = secret.clone().map(|s| Verifier::new(s, args.tolerance));
    let config = ServerConfig {
        listen: args.listen,
        path: args.path,
        verifier,
        max_body: args.max_body,
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        write_timeout: args.write_timeout,
        max_connections: args.max_connections as usize,
    };
    // Bind before anything else, so a port in use is one sentence and nothing half-started.
    let bound = receiver::bind(config)?;

    // Open the journal before saying we listen: an unusable one is one sentence and exit 1.
    // It brings back every fingerprint the guard still needs, to hold across a restart.
    let window = args.tolerance;
    let since = Guard::recall_since(chrono::Utc::now(), window, args.body_timeout);
    // The demo's made-up pipelines stay out of the user's real history unless asked for.
    let opened = if args.no_journal || (args.demo && args.journal.is_none()) {
        None
    } else {
        let path = match args.journal {
            Some(path) => path,
            None => journal::default_path()?,
        };
        Some(Journal::open(&path, args.journal_max, since)?)
    };

    let interactive = !args.headless && std::io::stdout().is_terminal();
    match &opened {
        Some(opened) => {
            for warning in &opened.warnings {
                eprintln!("pipetop: {}", clean_long(warning));
            }
            eprintln!(
                "pipetop: journal {} (last id {}; rotates past {})",
                clean_long(&opened.journal.path().display().to_string()),
                opened.last_id,
                bytesize::ByteSize::b(opened.journal.max_size())
                    .display()
                    .iec()
            );
        }
        None => eprintln!("pipetop: no journal: deliveries are kept in memory only"),
    }
    let verification = match &bound.config().verifier {
        Some(v) => format!(
            "signature verification on (tolerance {})",
            compact_duration(v.tolerance())
        ),
        None => "verification OFF (no secret set): unsigned deliveries are accepted".to_owned(),
    };
    let exposure = if bound.local_addr().ip().is_loopback() {
        ""
    } else {
        "; reachable from other machines, not only through a tunnel"
    };
    eprintln!(
        "pipetop: listening on {}; webhook URL {}; {}{}",
        bound.local_addr(),
        bound.webhook_url(),
        verification,
        exposure
    );

    let context = tui::Context {
        webhook_url: bound.webhook_url(),
        public_url: args.public_url.clone(),
        verification: bound.config().verifier.is_some(),
        theme: Theme::from_env(args.no_color),
    };
    let mut options = tui::Options {
        bell: args.bell,
        snapshot: None,
    };
    let demo_stop = Arc::new(AtomicBool::new(false));
    if args.demo {
        let sender = Sender::new(bound.webhook_url(), secret, TokenMode::Signature);
        let stop = Arc::clone(&demo_stop);
        std::thread::spawn(move || send::feed_demo(&sender, &stop));
    }

    let runtime = tokio::runtime::Runtime::new()
        .map_err(|err| anyhow::anyhow!("cannot start the async runtime: {}", io_reason(&err)))?;
    let result = runtime.block_on(async move {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        // The screen is saved beside the journal when the TUI closes, and read back next time.
        let screen_path = opened
            .as_ref()
            .and_then(|opened| opened.journal.screen_path())
            .filter(|_| interactive);
        options.snapshot.clone_from(&screen_path);
        let (journal, history, first_id, recent) = match opened {
            Some(opened) => (
                Some(opened.journal),
                opened.history,
                opened.last_id + 1,
                opened.recent,
            ),
            None => (None, Default::default(), 1, Vec::new()),
        };
        // The screen always shows the history. Headless output is live deliveries only unless
        // --replay asks for the history too, so a script never sees a delivery twice.
        let mut loading = None;
        let mut starting = None;
        let out = if (interactive || args.replay) && !history.is_empty() {
            let (live_tx, live_rx) = mpsc::channel(CHANNEL_CAPACITY);
            let (progress_tx, progress_rx) = watch::channel(Progress::default());
            // The saved screen is read, and the journal found where it left off, while the receiver
            // already answers; live deliveries wait on the channel meanwhile.
            let screen_path = screen_path.clone();
            starting = Some(tokio::task::spawn_blocking(move || {
                let mut history = history;
                let resumed = match &screen_path {
                    Some(path) => screen::resume(path, &mut history, Limits::default()),
                    None => screen::Resumed {
                        monitor: Monitor::default(),
                        note: None,
                    },
                };
                progress_tx.send_modify(|progress| progress.note = resumed.note);
                replay::feed(history, live_rx, tx, progress_tx).map(|_| resumed.monitor)
            }));
            if interactive {
                loading = Some(progress_rx);
            } else {
                tokio::spawn(report_replay(progress_rx));
            }
            live_tx
        } else {
            tx
        };
        let (handoff, stopped) = Handoff::start(Setup {
            out,
            journal,
            first_id,
            window,
            recent,
        })
        .map_err(|err| {
            anyhow::anyhow!("cannot start the journal writer: {}", io_reason(&err))
        })?;

        let stop = Arc::new(Notify::new());
        let printer = tokio::spawn({
            let stop = Arc::clone(&stop);
            async move {
                let result = async {
                    let monitor = match starting {
                        Some(starting) => starting.await.map_err(std::io::Error::other)?.map_err(
                            |err| std::io::Error::other(format!("cannot start reading the journal: {}", io_reason(&err))),
                        )?,
                        None => Monitor::default(),
                    };
                    if interactive {
                        tui::run(context, options, monitor, rx, loading)
                            .await
                            .map(Some)
                            .map_err(std::io::Error::other)
                    } else {
                        headless::run(rx, tokio::io::stdout()).await.map(|()| None)
                    }
                }
                .await;
                stop.notify_one();
                // Saved while the receiver finishes its last requests, so a slow client cannot
                // hold it up; what arrives meanwhile is journaled, and read after it next time.
                match (result, screen_path) {
                    (Ok(Some(monitor)), Some(path)) => {
                        tokio::task::spawn_blocking(move || save_screen(&path, &monitor))
                            .await
                            .map_err(std::io::Error::other)
                    }
                    (result, _) => result.map(|_| ()),
                }
            }
        });
        let stopping = Arc::new(Notify::new());
        let shutdown = {
            let (stop, stopping) = (Arc::clone(&stop), Arc::clone(&stopping));
            async move {
                tokio::select! {
                    () = signalled() => eprintln!("pipetop: stopping; finishing requests in flight"),
                    () = stop.notified() => {}
                }
                stopping.notify_one();
            }
        };
        let serving = bound.serve(handoff, shutdown);
        tokio::pin!(serving);
        // A client that never finishes its request must not keep pipetop from exiting.
        let grace = async {
            stopping.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            served = &mut serving => served
                .map_err(|err| anyhow::anyhow!("the listener failed: {}", io_reason(&err)))?,
            () = grace => eprintln!(
                "pipetop: gave up on requests still open after {}s",
                SHUTDOWN_GRACE.as_secs()
            ),
        }
        // Every batch was synced before it was answered; waiting for the writer makes sure
        // the last one has been, and lets go of the channel so the printer can finish.
        let writer = tokio::task::spawn_blocking(move || stopped.wait());
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, writer).await;
        match tokio::time::timeout(SHUTDOWN_GRACE, printer).await {
            Ok(Ok(Err(err))) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                eprintln!("pipetop: stdout was closed; stopped");
            }
            Ok(Ok(Err(err))) if interactive => {
                return Err(anyhow::anyhow!("the terminal UI failed: {err}"));
            }
            Ok(Ok(Err(err))) => return Err(anyhow::anyhow!("cannot write to stdout: {err}")),
            Ok(Ok(Ok(()))) | Ok(Err(_)) | Err(_) => {}
        }
        Ok(ExitCode::SUCCESS)
    });
    demo_stop.store(true, Ordering::Relaxed);
    result
}

/// Saves the screen for the next start; a failure costs only that start's time, so it is said
/// and not fatal.
fn save_screen(path: &std::path::Path, monitor: &Monitor) {
    if let Err(err) = screen::save(path, monitor) {
        eprintln!(
            "pipetop: cannot save the screen to {} ({}); the next start reads the whole journal",
            clean_long(&path.display().to_string()),
            io_reason(&err)
        );
    }
}

/// Says on stderr how loading the history went, once it is done.
async fn report_replay(mut progress: watch::Receiver<Progress>) {
    let Ok(done) = progress.wait_for(|p| p.done).await else {
        return;
    };
    let done = done.clone();
    for reason in &done.skipped {
        eprintln!("pipetop: {}", clean_long(reason));
    }
    let unlisted = done.skipped_total.saturating_sub(done.skipped.len() as u64);
    if unlisted > 0 {
        eprintln!("pipetop: {unlisted} more journal lines could not be read; skipped them");
    }
    eprintln!(
        "pipetop: replayed {} deliveries from the journal",
        done.entries
    );
}

/// SIGINT or SIGTERM.
async fn signalled() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
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
