//! The terminal UI: terminal setup and restore, and the event loop that feeds the monitor and
//! the view and draws.
//!
//! The loop waits on three things: deliveries from the receiver, terminal input, and a clock.
//! It drains every queued delivery before drawing, draws at most once per frame interval, and
//! only when something changed; the clock only marks the screen dirty while ages are on it.
//! With `PIPETOP_FRAME_LOG` set it also records each frame for benchmarks ([`frame_log`]).

pub mod attached;
mod focus;
pub mod frame_log;
pub mod help;
pub mod keys;
pub mod mouse;
pub mod theme;
pub mod view;
pub mod widgets;

use crate::delivery::Progress;
use crate::delivery::{Action, Ingest};
use crate::monitor::{Monitor, Order};
use crossterm::event::{Event, EventStream, KeyEventKind};
use frame_log::FrameLog;
use futures_util::StreamExt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use theme::Theme;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use view::{Errand, View};

/// The shortest time between two frames: a burst of deliveries costs at most one frame per
/// interval.
pub const FRAME: Duration = Duration::from_millis(16);

/// What the screen says about the receiver, fixed for the session.
#[derive(Debug, Clone)]
pub struct Context {
    /// The local webhook URL.
    pub webhook_url: String,
    /// The URL to paste into Gitee, when the user gave one (a tunnel's address).
    pub public_url: Option<String>,
    /// Whether a secret is configured.
    pub verification: bool,
    pub theme: Theme,
    /// Fed from a server rather than a local receiver (`pipetop attach`).
    pub attached: Option<attached::Attached>,
    /// With `--nats`: how many journaled deliveries the stream has not acked yet.
    pub backlog: Option<Backlog>,
}

/// Reads a count when the header is drawn.
#[derive(Clone)]
pub struct Backlog(pub Arc<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for Backlog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Backlog({})", (self.0)())
    }
}

/// Writes the screen somewhere it is read back on the next start. Called on a blocking thread
/// with a copy of the monitor; a failure is the caller's to say when it saves on exit.
pub type SaveScreen = Arc<dyn Fn(&Monitor) + Send + Sync>;

#[derive(Clone, Default)]
pub struct Options {
    /// Ring the terminal bell when a job fails.
    pub bell: bool,
    /// Take the mouse: clicks and the wheel act on the panes (the terminal's own selection
    /// then needs Shift in most terminals).
    pub mouse: bool,
    /// The order the pipelines table starts in.
    pub order: Order,
    /// Saves the screen now and then while it changes, so a start after a crash reads only
    /// what the journal got since; the caller saves it once more after [`run`] returns.
    pub save: Option<SaveScreen>,
}

/// How often a changing screen is saved: at most this much journal is read again after a crash.
pub const SAVE_EVERY: Duration = Duration::from_secs(300);

/// Why the UI stopped early, in one sentence.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error(transparent)]
    FrameLog(#[from] frame_log::FrameLogError),
    #[error("the terminal UI failed: {}", crate::io_reason(.0))]
    Terminal(#[from] std::io::Error),
}

/// Restores the terminal when dropped: on quit, on error, and on unwinding. ratatui's own
/// panic hook restores it before a panic message is printed.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        // Harmless when the mouse was never taken.
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        ratatui::restore();
    }
}

/// Runs the UI until the user quits, SIGTERM, SIGINT or SIGHUP arrives, or the receiver stops,
/// and gives the monitor back, for saving. `loading` reports progress while the journal's
/// history arrives ahead of live deliveries.
pub async fn run(
    context: Context,
    options: Options,
    mut monitor: Monitor,
    mut rx: mpsc::Receiver<Ingest>,
    mut loading: Option<watch::Receiver<Progress>>,
) -> Result<Monitor, TuiError> {
    let mut frame_log = FrameLog::from_env()?;
    let mut terminal = ratatui::try_init()?;
    let _restore = Restore;
    if options.mouse {
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)?;
    }
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // A closed terminal window: stop as on `q`, so the screen is saved.
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut input = EventStream::new();
    let mut view = View::new();
    view.filter.order = options.order;
    view.history = loading.as_ref().map(|rx| rx.borrow().clone());
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut dirty = true;
    let mut last_frame = Instant::now() - FRAME;
    // Ids grow in channel order; the frame log reports the newest one each frame shows.
    let mut highest_delivery = monitor.last_delivery().map_or(0, |last| last.id);
    // Deliveries came and went since the heap was last trimmed.
    let mut applied_since_trim = false;
    let mut saving = Saving::new(&monitor);
    loop {
        if dirty && last_frame.elapsed() >= FRAME {
            // Frames are spaced from start to start, so drawing time does not add to latency.
            last_frame = Instant::now();
            let started = std::time::SystemTime::now();
            let clock = widgets::Clock::local();
            terminal.draw(|frame| widgets::draw(frame, &monitor, &view, &context, &clock))?;
            if let Some(log) = &mut frame_log {
                log.record(highest_delivery, started)?;
            }
            dirty = false;
        }
        let next_frame = last_frame + FRAME;
        tokio::select! {
            ingest = rx.recv() => {
                let Some(first) = ingest else { break };
                applied_since_trim = true;
                // Drain what is queued, but for one frame interval at most: while a large
                // history loads the queue never empties, and the screen and keys must not wait.
                let until = Instant::now() + FRAME;
                let mut next = Some(first);
                let mut drained = 0u32;
                let mut failed = false;
                let mut alerts = Vec::new();
                while let Some(ingest) = next {
                    match &ingest {
                        Ingest::Alert(alert) => alerts.push(alert.escape()),
                        Ingest::Outcome(outcome) if outcome.action == Action::Notify => {
                            view.flash(crate::text::clean(&outcome.detail, 100).into_owned());
                        }
                        _ => {}
                    }
                    highest_delivery = highest_delivery.max(delivery_id(&ingest));
                    let applied = monitor.apply(&ingest);
                    failed |= applied.newly_failed;
                    dirty |= applied.changed();
                    drained = drained.wrapping_add(1);
                    next = if drained.is_multiple_of(256) && Instant::now() >= until {
                        None
                    } else {
                        rx.try_recv().ok()
                    };
                }
                if failed && options.bell {
                    bell();
                }
                if !alerts.is_empty() {
                    notify(&alerts.concat());
                }
            }
            event = input.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    match view.key(key, &monitor) {
                        Errand::Quit => break,
                        Errand::Open(url) => view.flash(open_url(&url)),
                        Errand::Copy(key) => {
                            let clock = widgets::Clock::local();
                            let choices = widgets::copy::choices(&monitor, &view, &clock);
                            view.flash(match choices.iter().find(|c| c.key == key) {
                                Some(choice) => copy(choice.what, &choice.text),
                                None => format!("nothing copied: {key} is not in the menu"),
                            });
                        }
                        Errand::Hide(key) => {
                            if monitor.hide(&key) {
                                view.flash("hidden until its next delivery; X shows it again".into());
                            }
                        }
                        Errand::ShowHidden => {
                            view.flash(match monitor.show_hidden() {
                                0 => "no pipeline is hidden".to_owned(),
                                1 => "the hidden pipeline is shown again".to_owned(),
                                n => format!("{n} hidden pipelines are shown again"),
                            });
                        }
                        Errand::None => {}
                    }
                    dirty = true;
                }
                Some(Ok(Event::Mouse(event))) => {
                    let size = terminal.size()?;
                    let size = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                    dirty |= mouse::handle(&mut view, event, &monitor, size);
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err.into()),
                None => break,
            },
            progress = next_progress(&mut loading) => {
                if progress.done {
                    view.flash(replay_summary(&progress));
                    view.history = None;
                    // Saved at the next tick rather than in 5 minutes, so a crash soon after a
                    // long replay does not mean reading it all again.
                    if progress.entries > 0 {
                        saving.due_now();
                    }
                } else {
                    view.history = Some(progress);
                }
                dirty = true;
            }
            _ = clock.tick() => {
                // An attached header counts down to the next reconnection.
                dirty |= view.ages_visible(&monitor)
                    || view.expire_flash()
                    || context.attached.is_some();
                if std::mem::take(&mut applied_since_trim) {
                    crate::heap::trim();
                }
                if let Some(save) = &options.save {
                    saving.now_and_then(save, &monitor);
                }
            }
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    saving.finish().await;
    Ok(monitor)
}

/// Saving the screen in the background while it changes: a copy of the monitor is taken on the
/// loop's thread, and written on a blocking thread. One save at a time, so two never write the
/// same temporary file.
struct Saving {
    generation: u64,
    last: Instant,
    due: bool,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Saving {
    fn new(monitor: &Monitor) -> Saving {
        Saving {
            generation: monitor.generation(),
            last: Instant::now(),
            due: false,
            running: None,
        }
    }

    fn now_and_then(&mut self, save: &SaveScreen, monitor: &Monitor) {
        if (!self.due && self.last.elapsed() < SAVE_EVERY)
            || monitor.generation() == self.generation
            || self
                .running
                .as_ref()
                .is_some_and(|save| !save.is_finished())
        {
            return;
        }
        self.generation = monitor.generation();
        self.last = Instant::now();
        self.due = false;
        let (save, copy) = (Arc::clone(save), monitor.clone());
        self.running = Some(tokio::task::spawn_blocking(move || save(&copy)));
    }

    /// Lets the next [`Saving::now_and_then`] save a changed screen without waiting out
    /// [`SAVE_EVERY`].
    fn due_now(&mut self) {
        self.due = true;
    }

    /// Waits for the save being written, if one is.
    async fn finish(&mut self) {
        if let Some(save) = self.running.take() {
            let _ = save.await;
        }
    }
}

/// The next progress report while history loads; never, once there are no more.
async fn next_progress(loading: &mut Option<watch::Receiver<Progress>>) -> Progress {
    if let Some(rx) = loading
        && rx.changed().await.is_ok()
    {
        return rx.borrow_and_update().clone();
    }
    std::future::pending().await
}

/// One sentence for the footer once the history is in.
fn replay_summary(progress: &Progress) -> String {
    let replayed = format!("replayed {} deliveries from the journal", progress.entries);
    let mut summary = match &progress.note {
        Some(note) => format!("{note}; {replayed}"),
        None => replayed,
    };
    if progress.skipped_total > 0 {
        summary.push_str(&format!(
            "; skipped {} unreadable lines",
            progress.skipped_total
        ));
        if let Some(first) = progress.skipped.first() {
            summary.push_str(&format!(" (first: {})", crate::text::clean(first, 80)));
        }
    }
    summary
}

/// The id of an accepted delivery; 0 for anything else, which has none.
fn delivery_id(ingest: &Ingest) -> u64 {
    match ingest {
        Ingest::Accepted(delivery) => delivery.id,
        Ingest::Rejected(_) | Ingest::Outcome(_) | Ingest::Alert(_) => 0,
    }
}

/// Writes notification escapes between frames, so they never land inside a frame's own.
fn notify(escapes: &str) {
    let mut out = std::io::stdout();
    let _ = out.write_all(escapes.as_bytes()).and_then(|()| out.flush());
}

fn bell() {
    let mut out = std::io::stdout();
    let _ = out.write_all(b"\x07").and_then(|()| out.flush());
}

/// Opens an http(s) URL with the desktop's opener, detached and with its output discarded so
/// it cannot scribble over the screen.
fn open_url(url: &str) -> String {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return "not opened: the pipelineUrl is not an http(s) URL".into();
    }
    if cfg!(target_os = "linux")
        && ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .all(|name| std::env::var_os(name).is_none_or(|v| v.is_empty()))
    {
        return "not opened: no display (DISPLAY and WAYLAND_DISPLAY are unset); press y to copy the URL".into();
    }
    let mut failure = "not opened: no browser opener was found; press y to copy the URL".to_owned();
    for mut command in open::commands(url) {
        let opener = command.get_program().to_string_lossy().into_owned();
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let Ok(mut child) = command.spawn() else {
            continue;
        };
        // Openers hand the URL to the browser and exit at once; wait a moment for the verdict.
        let until = Instant::now() + Duration::from_millis(400);
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => {
                    return "opened the pipelineUrl in the browser".into();
                }
                Ok(Some(status)) => {
                    failure =
                        format!("not opened: {opener} failed ({status}); press y to copy the URL");
                    break;
                }
                Ok(None) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => return format!("asked {opener} to open the pipelineUrl"),
                Err(err) => {
                    failure = format!("not opened: {err}; press y to copy the URL");
                    break;
                }
            }
        }
    }
    failure
}

/// Copies through the terminal with OSC 52, which works over SSH, and inside tmux when tmux has
/// `set-clipboard on`. The terminal does not say whether it took it, so the message says what
/// was sent.
fn copy(what: &str, text: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    match write!(out, "\x1b]52;c;{encoded}\x07").and_then(|()| out.flush()) {
        Ok(()) => format!("sent the {what} to the terminal's clipboard (OSC 52)"),
        Err(err) => format!("could not copy: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{state, varied};

    fn apply(monitor: &mut Monitor, deliveries: &[crate::delivery::Delivery]) {
        for delivery in deliveries {
            monitor.apply(&Ingest::Accepted(Arc::new(delivery.clone())));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_changing_screen_is_saved_every_few_minutes_and_an_unchanged_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl.snapshot");
        let deliveries = varied(300);
        let saved = || {
            let bytes = std::fs::read(&path).ok()?;
            Some(Monitor::restore(&bytes, crate::monitor::Limits::default()).unwrap())
        };
        let mut monitor = Monitor::default();
        let mut saving = Saving::new(&monitor);
        let save: SaveScreen = {
            let path = path.clone();
            Arc::new(move |monitor: &Monitor| {
                monitor.save(std::fs::File::create(&path).unwrap()).unwrap();
            })
        };

        apply(&mut monitor, &deliveries[..100]);
        saving.now_and_then(&save, &monitor);
        tokio::time::advance(SAVE_EVERY - Duration::from_secs(1)).await;
        saving.now_and_then(&save, &monitor);
        saving.finish().await;
        assert!(saved().is_none(), "saved before {SAVE_EVERY:?} had passed");

        tokio::time::advance(Duration::from_secs(1)).await;
        saving.now_and_then(&save, &monitor);
        // What is applied while the copy is written is not in it.
        apply(&mut monitor, &deliveries[100..200]);
        saving.finish().await;
        let first = saved().expect("saved once the interval had passed");
        assert_eq!(first.last_delivery().unwrap().id, deliveries[99].id);

        tokio::time::advance(SAVE_EVERY).await;
        saving.now_and_then(&save, &monitor);
        saving.finish().await;
        assert_eq!(state(&saved().unwrap()), state(&monitor));

        std::fs::remove_file(&path).unwrap();
        tokio::time::advance(SAVE_EVERY * 2).await;
        saving.now_and_then(&save, &monitor);
        saving.finish().await;
        assert!(saved().is_none(), "saved a screen that had not changed");

        apply(&mut monitor, &deliveries[200..250]);
        saving.now_and_then(&save, &monitor);
        saving.finish().await;
        assert_eq!(state(&saved().unwrap()), state(&monitor));

        // Once history has loaded, the next tick saves.
        apply(&mut monitor, &deliveries[250..]);
        saving.now_and_then(&save, &monitor);
        saving.finish().await;
        assert_ne!(state(&saved().unwrap()), state(&monitor));
        saving.due_now();
        saving.now_and_then(&save, &monitor);
        saving.finish().await;
        assert_eq!(state(&saved().unwrap()), state(&monitor));
    }
}
