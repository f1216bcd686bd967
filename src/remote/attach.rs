//! `pipetop attach URL`: the terminal UI, or the JSON-lines printer, fed from a server's feed
//! or the NATS stream instead of a local receiver. The feed is read on a thread of its own
//! ([`super::follow`]); the screen keeps working while it reconnects, and its header says how
//! the link is.

use super::{Event, Feed, FeedError, Update, follow};
use crate::delivery::{CHANNEL_CAPACITY, Ingest, Rejection};
use crate::monitor::Monitor;
use crate::tui::attached::{Attached, Link};
use crate::tui::{self, TuiError, theme::Theme};
use std::io::{self, Write as _};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How to attach.
#[derive(Debug, Clone)]
pub struct Options {
    pub feed: Feed,
    /// Only the history received this recently.
    pub since: Option<Duration>,
    /// JSON lines on stdout instead of the screen.
    pub headless: bool,
    /// With `headless`: the server's history before live deliveries.
    pub replay: bool,
    pub no_color: bool,
    pub bell: bool,
    /// Clicks and the wheel act on the panes.
    pub mouse: bool,
    pub order: crate::monitor::Order,
}

/// Why attaching stopped; each message is one sentence.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Tui(#[from] TuiError),
    #[error("cannot start the async runtime: {}", crate::io_reason(.0))]
    Runtime(#[source] io::Error),
    #[error("cannot write to stdout: {}", crate::io_reason(.0))]
    Stdout(#[source] io::Error),
}

/// What the screen shows of an event: a message of the stream that is not a delivery is in
/// the log as refused (422), with its one sentence.
fn ingest(event: Event) -> Option<Ingest> {
    match event {
        Event::Accepted(delivery) => Some(Ingest::Accepted(delivery)),
        Event::Rejected(rejection) => Some(Ingest::Rejected(rejection)),
        Event::Foreign(reason) => Some(Ingest::Rejected(Rejection {
            received_at: chrono::Utc::now(),
            status: 422,
            reason,
            peer: None,
        })),
        Event::Live | Event::Backlog(_) => None,
    }
}

/// Runs until the user quits (the screen), stdout closes (headless), or the server refuses
/// for good (headless; the screen stays, saying so in its header).
pub fn run(options: Options) -> Result<(), AttachError> {
    if let Some(warning) = options.feed.cleartext_warning() {
        eprintln!("pipetop: {warning}");
    }
    if options.headless {
        return headless(&options);
    }
    let runtime = tokio::runtime::Runtime::new().map_err(AttachError::Runtime)?;
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (link_tx, link) = watch::channel(Link::Connecting);
    let (feed, since) = (options.feed.clone(), options.since);
    let handle = runtime.handle().clone();
    // The server's NATS backlog, as its `event: health` says, for the header.
    let backlog = Arc::new(AtomicU64::new(0));
    let reported = Arc::clone(&backlog);
    std::thread::spawn(move || {
        let _ = follow(&feed, since, |update| match update {
            Update::Link(state) => {
                link_tx.send_replace(state);
                ControlFlow::Continue(())
            }
            Update::Event(Event::Backlog(count)) => {
                reported.store(count, Ordering::Relaxed);
                ControlFlow::Continue(())
            }
            Update::Event(event) => match ingest(event).map(|ingest| tx.blocking_send(ingest)) {
                Some(Err(_)) => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            },
        });
        // A refused link leaves the screen up, saying why, until the user quits.
        handle.spawn(async move { tx.closed().await });
    });
    let context = tui::Context {
        webhook_url: options.feed.shown(),
        public_url: None,
        verification: true,
        theme: Theme::from_env(options.no_color),
        attached: Some(Attached {
            server: options.feed.shown(),
            link,
        }),
        backlog: Some(tui::Backlog(Arc::new(move || {
            backlog.load(Ordering::Relaxed)
        }))),
    };
    let tui_options = tui::Options {
        bell: options.bell,
        save: None,
        mouse: options.mouse,
        order: options.order,
    };
    runtime.block_on(tui::run(context, tui_options, Monitor::default(), rx, None))?;
    Ok(())
}

/// The JSON lines of a local `--headless`, one per delivery, flushed per line; what the link
/// does goes to stderr.
fn headless(options: &Options) -> Result<(), AttachError> {
    let mut stdout = io::stdout().lock();
    let mut live = options.replay;
    let mut failed = None;
    let shown = options.feed.shown();
    follow(&options.feed, options.since, |update| {
        match update {
            Update::Link(Link::Reconnecting { at, reason }) => eprintln!(
                "pipetop: lost {shown} ({reason}); reconnecting in {}s",
                at.saturating_duration_since(std::time::Instant::now())
                    .as_secs_f64()
                    .ceil()
            ),
            Update::Link(_) => {}
            Update::Event(Event::Live) => live = true,
            Update::Event(Event::Foreign(sentence)) => eprintln!("pipetop: {sentence}"),
            Update::Event(event) => {
                if let Some(ingest) = ingest(event).filter(|_| live) {
                    let line = crate::headless::line(&ingest);
                    if let Err(err) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
                        failed = Some(err);
                        return ControlFlow::Break(());
                    }
                }
            }
        }
        ControlFlow::Continue(())
    })?;
    match failed {
        Some(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Some(err) => Err(AttachError::Stdout(err)),
        None => Ok(()),
    }
}
