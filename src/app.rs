//! Start-up and shut-down of a watching pipetop, in the order they happen:
//!
//! 1. [`listen`]: bind the port before anything else, so a port in use is one sentence and
//!    nothing is half-started.
//! 2. [`Store::open`]: open the journal before saying we listen, so an unusable one is one
//!    sentence and exit 1; it brings back every fingerprint the guard still needs.
//! 3. [`announce`]: say on stderr where deliveries go and how they are checked.
//! 4. `Feed::start`: the channel, with the journal's history put on it ahead of live
//!    deliveries, and the saved screen read back, while the receiver already answers.
//! 5. [`Store::start`]: the writer that numbers, guards and journals each delivery; with a
//!    viewer token, its output goes through [`Hub::tee`] to the viewers of `GET /events`.
//! 6. `consume`: the TUI or the JSON-lines printer, until the user quits or stdout closes.
//! 7. Serve until a signal or the consumer stops, with [`SHUTDOWN_GRACE`] for requests in
//!    flight; then `close`: the writer's last sync, the consumer's end, and the saved screen.

use crate::cli::WatchArgs;
use crate::delivery::{CHANNEL_CAPACITY, Ingest, Progress};
use crate::feed::{Hub, ViewerToken};
use crate::gitee::Verifier;
use crate::gitee::signature::compact_duration;
use crate::monitor::{Limits, Monitor};
use crate::nats::{NatsError, publish};
use crate::receiver::{self, BindError, Bound, ServerConfig};
use crate::send::{self, Sender, TokenMode};
use crate::store::handoff::Stopped;
use crate::store::journal::{self, JournalError};
use crate::store::{Place, Store, replay, screen};
use crate::text::clean_long;
use crate::tui::{self, TuiError, theme::Theme};
use crate::{headless, io_reason, outbound};
use std::io::{self, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

/// How long requests still in flight may take once a shutdown was asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why pipetop could not start or stopped early; each message is one sentence.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("cannot start the async runtime: {}", io_reason(.0))]
    Runtime(#[source] io::Error),
    #[error("cannot start the journal writer: {}", io_reason(.0))]
    Writer(#[source] io::Error),
    #[error("the listener failed: {}", io_reason(.0))]
    Listener(#[source] io::Error),
    #[error("cannot start reading the journal: {}", io_reason(.0))]
    History(#[source] io::Error),
    #[error(transparent)]
    Tui(#[from] TuiError),
    #[error("cannot write to stdout: {}", io_reason(.0))]
    Stdout(#[source] io::Error),
    #[error(transparent)]
    Nats(#[from] NatsError),
    #[error(
        "--nats needs the journal, which holds deliveries until NATS has them; drop --no-journal (with --demo, name one with --journal FILE)"
    )]
    NatsWithoutJournal,
}

/// The feed for viewers, when there is to be one.
#[derive(Debug, Clone)]
pub struct Viewers {
    pub token: ViewerToken,
    pub max: usize,
}

/// Runs pipetop until it is stopped; `secret` is the one the command line settled on, and
/// `viewers` says whether `GET /events` is served.
pub fn watch(
    args: WatchArgs,
    mut secret: Option<String>,
    viewers: Option<Viewers>,
) -> Result<(), AppError> {
    if args.demo && secret.is_none() {
        secret = Some(send::random_secret());
    }
    let place = place(&args)?;
    if args.nats.nats.is_some() && place.journal.is_none() {
        return Err(AppError::NatsWithoutJournal);
    }
    let bound = listen(&args, secret.clone())?;
    let store = Store::open(&place)?;
    if viewers.is_some() {
        let webhook = bound.webhook_url();
        let base = webhook
            .strip_suffix(bound.config().path.as_str())
            .unwrap_or(&webhook);
        eprintln!("pipetop: viewers attach to {base} (GET /events with the viewer token)");
    }
    announce(&store, &bound);
    let interactive = !args.headless && io::stdout().is_terminal();

    let demo_stop = Arc::new(AtomicBool::new(false));
    if args.demo {
        let sender = Sender::new(bound.webhook_url(), secret, TokenMode::Signature);
        let stop = Arc::clone(&demo_stop);
        std::thread::spawn(move || send::feed_demo(&sender, &stop));
    }
    let runtime = tokio::runtime::Runtime::new().map_err(AppError::Runtime)?;
    let result = runtime.block_on(run(args, interactive, bound, store, viewers));
    demo_stop.store(true, Ordering::Relaxed);
    result
}

/// Step 1: binds the listening socket.
pub fn listen(args: &WatchArgs, secret: Option<String>) -> Result<Bound, BindError> {
    receiver::bind(ServerConfig {
        listen: args.listen,
        path: args.path.clone(),
        verifier: secret.map(|s| Verifier::new(s, args.tolerance)),
        max_body: args.max_body,
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        write_timeout: args.write_timeout,
        max_connections: args.max_connections as usize,
    })
}

/// Where the command line says deliveries are kept. The demo's made-up pipelines stay out of
/// the user's real history unless asked for.
fn place(args: &WatchArgs) -> Result<Place, JournalError> {
    let journal = if args.no_journal || (args.demo && args.journal.is_none()) {
        None
    } else {
        match &args.journal {
            Some(path) => Some(path.clone()),
            None => Some(journal::default_path()?),
        }
    };
    Ok(Place {
        journal,
        max_size: args.journal_max,
        tolerance: args.tolerance,
        body_timeout: args.body_timeout,
    })
}

/// Publishing to NATS JetStream, when `--nats` asks for it and there is a journal to publish
/// from (see [`AppError::NatsWithoutJournal`]).
fn nats_setup(args: &WatchArgs, store: &Store) -> Option<publish::Setup> {
    let nats = &args.nats;
    let url = nats.nats.clone()?;
    let journal = store.journal()?.path().to_path_buf();
    Some(publish::Setup {
        link: nats.stream.link(url),
        tolerance: args.tolerance,
        journal,
        last_id: store.first_id - 1,
        timeout: nats.nats_timeout,
        wait: !nats.nats_async,
    })
}

/// What the command line asks to be done with each live delivery.
fn outbound_plan(args: &WatchArgs) -> outbound::Plan {
    let out = &args.outbound;
    outbound::Plan {
        notify: out.notify,
        notify_via: out.notify_via,
        on_fail: out.on_fail.clone(),
        on_finish: out.on_finish.clone(),
        hook_timeout: out.hook_timeout,
        forward: out.forward_to.clone().map(|url| outbound::forward::Target {
            url,
            secret: out.forward_secret.as_ref().map(|s| s.expose().to_owned()),
            timeout: out.forward_timeout,
        }),
    }
}

/// Step 3: says on stderr what was opened and where to send deliveries.
pub fn announce(store: &Store, bound: &Bound) {
    for warning in &store.warnings {
        eprintln!("pipetop: {}", clean_long(warning));
    }
    match store.journal() {
        Some(journal) => eprintln!(
            "pipetop: journal {} (last id {}; rotates past {})",
            clean_long(&journal.path().display().to_string()),
            store.first_id - 1,
            bytesize::ByteSize::b(journal.max_size()).display().iec()
        ),
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
}

/// Steps 4 to 7, on the runtime.
async fn run(
    args: WatchArgs,
    interactive: bool,
    mut bound: Bound,
    mut store: Store,
    viewers: Option<Viewers>,
) -> Result<(), AppError> {
    // The screen is saved beside the journal when the TUI closes, and read back next time.
    let screen_path = store.screen_path().filter(|_| interactive);
    // The screen always shows the history. Headless output is live deliveries only unless
    // --replay asks for the history too, so a script never sees a delivery twice.
    let history = if interactive || args.replay {
        store.take_history()
    } else {
        Default::default()
    };
    let feed = Feed::start(history, screen_path.clone(), interactive);
    let plan = outbound_plan(&args);
    let out = if plan.is_empty() {
        feed.out
    } else {
        // Live deliveries only: the history is not forwarded or notified again.
        let (tap_tx, tap_rx) = mpsc::channel(CHANNEL_CAPACITY);
        tokio::spawn(outbound::tap(tap_rx, feed.out, plan));
        tap_tx
    };
    // Viewers get each delivery once it is journaled, before the local consumer does.
    let (out, hub) = match viewers {
        Some(viewers) => {
            let journal = store.journal().map(|journal| journal.path().to_path_buf());
            let hub = Hub::new(journal, viewers.token, viewers.max);
            let (tee, teed) = mpsc::channel(CHANNEL_CAPACITY);
            tokio::spawn(Arc::clone(&hub).tee(teed, out));
            (tee, Some(hub))
        }
        None => (out, None),
    };
    // The publisher hears of each delivery first, as soon as it is journaled.
    let (out, nats) = match nats_setup(&args, &store) {
        Some(setup) => {
            let gate = publish::start(setup).await?;
            let (tee, teed) = mpsc::channel(CHANNEL_CAPACITY);
            tokio::spawn(publish::tee(Arc::clone(&gate), teed, out));
            bound = bound.publishing(Arc::clone(&gate));
            if let Some(hub) = &hub {
                hub.publishing(Arc::clone(&gate));
            }
            (tee, Some(gate))
        }
        None => (out, None),
    };
    let (handoff, stopped) = store.start(out).map_err(AppError::Writer)?;

    let consumer = Consumer {
        context: tui::Context {
            webhook_url: bound.webhook_url(),
            public_url: args.public_url.clone(),
            verification: bound.config().verifier.is_some(),
            theme: Theme::from_env(args.no_color),
            attached: None,
            backlog: nats.map(|gate| tui::Backlog(Arc::new(move || gate.backlog()))),
        },
        options: tui::Options {
            bell: args.bell,
            mouse: !args.no_mouse,
            order: args.sort,
            save: screen_path.clone().map(|path| -> tui::SaveScreen {
                // A failure is said when the screen is saved on exit, which meets it again.
                Arc::new(move |monitor: &Monitor| {
                    let _ = screen::save(&path, monitor);
                })
            }),
        },
        interactive,
    };
    let stop = Arc::new(Notify::new());
    let consuming = tokio::spawn(consume(
        consumer,
        feed.rx,
        feed.loading,
        feed.starting,
        screen_path,
        Arc::clone(&stop),
    ));
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
    let serving = bound.serve_with_feed(handoff, hub, shutdown);
    tokio::pin!(serving);
    // A client that never finishes its request must not keep pipetop from exiting.
    let grace = async {
        stopping.notified().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = &mut serving => served.map_err(AppError::Listener)?,
        () = grace => eprintln!(
            "pipetop: gave up on requests still open after {}s",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    close(stopped, consuming).await
}

/// The channel the consumer reads, and what loads the history onto it.
struct Feed {
    /// Where the writer sends deliveries: the channel itself, or, while history loads, a
    /// channel of its own that is forwarded after the history.
    out: mpsc::Sender<Ingest>,
    rx: mpsc::Receiver<Ingest>,
    /// How loading goes, for the TUI's header.
    loading: Option<watch::Receiver<Progress>>,
    /// The monitor to begin with: the saved screen, once read back.
    starting: Option<JoinHandle<io::Result<Monitor>>>,
}

impl Feed {
    /// Step 4: the saved screen is read, and the journal found where it left off, while the
    /// receiver already answers; live deliveries wait on the channel meanwhile.
    fn start(history: journal::History, screen_path: Option<PathBuf>, interactive: bool) -> Feed {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        if history.is_empty() {
            return Feed {
                out: tx,
                rx,
                loading: None,
                starting: None,
            };
        }
        let (live_tx, live_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (progress_tx, progress_rx) = watch::channel(Progress::default());
        let starting = tokio::task::spawn_blocking(move || {
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
        });
        let loading = if interactive {
            Some(progress_rx)
        } else {
            tokio::spawn(report_replay(progress_rx));
            None
        };
        Feed {
            out: live_tx,
            rx,
            loading,
            starting: Some(starting),
        }
    }
}

/// What the consumer of the feed needs besides the feed.
struct Consumer {
    context: tui::Context,
    options: tui::Options,
    interactive: bool,
}

/// Step 6: runs the TUI or the printer until it ends, then tells the receiver to stop and
/// saves the screen, while the receiver finishes its last requests, so a slow client cannot
/// hold the save up; what arrives meanwhile is journaled, and read after it next time.
async fn consume(
    consumer: Consumer,
    rx: mpsc::Receiver<Ingest>,
    loading: Option<watch::Receiver<Progress>>,
    starting: Option<JoinHandle<io::Result<Monitor>>>,
    screen_path: Option<PathBuf>,
    stop: Arc<Notify>,
) -> Result<(), AppError> {
    let result = async {
        let monitor = match starting {
            Some(starting) => starting
                .await
                .map_err(io::Error::other)
                .and_then(|read| read)
                .map_err(AppError::History)?,
            None => Monitor::default(),
        };
        if consumer.interactive {
            let monitor =
                tui::run(consumer.context, consumer.options, monitor, rx, loading).await?;
            Ok(Some(monitor))
        } else {
            headless::run(rx, tokio::io::stdout())
                .await
                .map_err(AppError::Stdout)?;
            Ok(None)
        }
    }
    .await;
    stop.notify_one();
    match (result, screen_path) {
        (Ok(Some(monitor)), Some(path)) => {
            let _ = tokio::task::spawn_blocking(move || save_screen(&path, &monitor)).await;
            Ok(())
        }
        (result, _) => result.map(|_| ()),
    }
}

/// Step 7's end: every batch was synced before it was answered; waiting for the writer makes
/// sure the last one has been, and lets go of the channel so the consumer can finish.
async fn close(
    stopped: Stopped,
    consuming: JoinHandle<Result<(), AppError>>,
) -> Result<(), AppError> {
    let writer = tokio::task::spawn_blocking(move || stopped.wait());
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, writer).await;
    match tokio::time::timeout(SHUTDOWN_GRACE, consuming).await {
        Ok(Ok(Err(AppError::Stdout(err)))) if err.kind() == io::ErrorKind::BrokenPipe => {
            eprintln!("pipetop: stdout was closed; stopped");
            Ok(())
        }
        Ok(Ok(Err(err))) => Err(err),
        Ok(Ok(Ok(()))) | Ok(Err(_)) | Err(_) => Ok(()),
    }
}

/// Saves the screen for the next start; a failure costs only that start's time, so it is said
/// and not fatal.
fn save_screen(path: &Path, monitor: &Monitor) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::store::journal::Journal;
    use crate::testing::{draft, varied};
    use clap::Parser as _;

    fn args(line: &[&str]) -> WatchArgs {
        let cli = Cli::try_parse_from(std::iter::once("pipetop").chain(line.iter().copied()));
        cli.unwrap().watch
    }

    #[test]
    fn the_demo_keeps_no_journal_unless_one_is_named() {
        assert_eq!(place(&args(&["--demo"])).unwrap().journal, None);
        let named = place(&args(&["--demo", "--journal", "j.jsonl"])).unwrap();
        assert_eq!(named.journal, Some(PathBuf::from("j.jsonl")));
        assert_eq!(place(&args(&["--no-journal"])).unwrap().journal, None);
    }

    #[test]
    fn a_port_in_use_is_refused_before_anything_is_opened() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let err = listen(&args(&["--listen", &addr]), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot listen on {addr}: address already in use")
        );
    }

    #[tokio::test]
    async fn the_feed_starts_from_the_saved_screen_then_the_rest_of_the_history_then_live() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let deliveries = varied(60);
        {
            let mut journal = Journal::open(&path, u64::MAX, chrono::Utc::now())
                .unwrap()
                .journal;
            let mut lines = Vec::new();
            for delivery in &deliveries {
                lines.extend(journal::line(delivery, None).unwrap());
            }
            journal.append(&lines).unwrap();
        }
        let mut saved = Monitor::default();
        for delivery in &deliveries[..40] {
            saved.apply(&Ingest::Accepted(Arc::new(delivery.clone())));
        }
        let screen_path = journal::screen_path(&path);
        screen::save(&screen_path, &saved).unwrap();

        let place = Place {
            journal: Some(path),
            max_size: u64::MAX,
            tolerance: Duration::from_secs(300),
            body_timeout: Duration::from_secs(10),
        };
        let mut store = Store::open(&place).unwrap();
        assert_eq!(store.screen_path(), Some(screen_path.clone()));
        let feed = Feed::start(store.take_history(), Some(screen_path), true);
        let monitor = feed.starting.unwrap().await.unwrap().unwrap();
        assert_eq!(monitor.last_delivery().unwrap().id, deliveries[39].id);

        let (handoff, stopped) = store.start(feed.out).unwrap();
        let live = handoff.accept(draft(), None).await.unwrap();
        assert_eq!(live.id, 61);
        drop(handoff);
        tokio::task::spawn_blocking(move || stopped.wait())
            .await
            .unwrap();
        let mut rx = feed.rx;
        let mut ids = Vec::new();
        while let Some(ingest) = rx.recv().await {
            if let Ingest::Accepted(delivery) = ingest {
                ids.push(delivery.id);
            }
        }
        let rest: Vec<u64> = deliveries[40..].iter().map(|d| d.id).collect();
        assert_eq!(ids, [rest, vec![61]].concat());
        let progress = feed.loading.unwrap().borrow().clone();
        assert!(progress.done, "{progress:?}");
        assert_eq!(progress.entries, 20);
    }
}
