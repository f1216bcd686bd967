//! What pipetop keeps: the journal of accepted deliveries (the file, its line format and its
//! history reader), the writer that numbers each delivery, checks it against the duplicate
//! guard and journals it before it is answered, the saved screen beside the journal, and the
//! replay that puts the journal's history on the feed at start.
//!
//! Numbering and the guard live here rather than in the receiver because they are properties
//! of the durable log: an id is a position in the journal, and a signature is refused because
//! the journal holds it. The receiver asks the writer ([`handoff::Handoff`]) and answers with
//! what it says.

pub mod guard;
pub mod handoff;
pub mod journal;
pub mod replay;
pub mod screen;

use guard::Guard;
use handoff::{Handoff, Setup, Stopped};
use journal::{History, Journal, JournalError, Recent};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where deliveries are kept, as the command line asked.
#[derive(Debug, Clone)]
pub struct Place {
    /// The journal's file; `None` keeps deliveries in memory only.
    pub journal: Option<PathBuf>,
    /// The size past which the journal is rotated.
    pub max_size: u64,
    /// How long a signature stays valid ([`Guard::recall_since`]).
    pub tolerance: Duration,
    /// How long a body may take to arrive ([`Guard::recall_since`]).
    pub body_timeout: Duration,
}

/// Everything the store opened at start: the journal, what it holds, and where the screen is
/// saved. The one call that opens it is [`Store::open`]; [`Store::start`] hands the journal to
/// its writer, and [`Stopped::wait`] closes it, once the writer's last batch is synced.
#[derive(Debug)]
pub struct Store {
    journal: Option<Journal>,
    /// The entries already journaled, to replay.
    history: History,
    /// The id the next delivery gets.
    pub first_id: u64,
    recent: Vec<Recent>,
    window: Duration,
    /// Things worth a warning, each one sentence (a cut-short last line).
    pub warnings: Vec<String>,
}

impl Store {
    /// Opens the journal, if there is to be one, and reads back the last id and the
    /// fingerprints the guard still needs, so it holds across a restart.
    pub fn open(place: &Place) -> Result<Store, JournalError> {
        let since = Guard::recall_since(chrono::Utc::now(), place.tolerance, place.body_timeout);
        let Some(path) = &place.journal else {
            return Ok(Store {
                journal: None,
                history: History::default(),
                first_id: 1,
                recent: Vec::new(),
                window: place.tolerance,
                warnings: Vec::new(),
            });
        };
        let opened = Journal::open(path, place.max_size, since)?;
        Ok(Store {
            journal: Some(opened.journal),
            history: opened.history,
            first_id: opened.last_id + 1,
            recent: opened.recent,
            window: place.tolerance,
            warnings: opened.warnings,
        })
    }

    /// The journal, when there is one.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Where the screen is saved beside the journal ([`screen`]), when there is one that can be
    /// read back.
    pub fn screen_path(&self) -> Option<PathBuf> {
        self.journal.as_ref().and_then(Journal::screen_path)
    }

    /// Takes the history out, for replaying it, leaving none behind.
    pub fn take_history(&mut self) -> History {
        std::mem::take(&mut self.history)
    }

    /// Starts the writer that numbers, guards and journals each delivery and sends it on to
    /// `out`; fails only if its thread cannot start.
    pub fn start(
        self,
        out: mpsc::Sender<crate::delivery::Ingest>,
    ) -> std::io::Result<(Handoff, Stopped)> {
        Handoff::start(Setup {
            out,
            journal: self.journal,
            first_id: self.first_id,
            window: self.window,
            recent: self.recent,
        })
    }
}
