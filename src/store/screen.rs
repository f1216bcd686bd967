//! The screen saved beside the journal, so a restart shows it at once and reads only what was
//! journaled after it, however long the journal has grown.
//!
//! The TUI's monitor is written to `<journal>.snapshot` when the TUI closes. On the next start
//! it is read back ([`Monitor::restore`]), and the journal is read from just after the last
//! delivery it had applied ([`History::skip_through`]), so the start costs what the screen
//! holds plus what arrived since, not every line the journal keeps. Rejected requests, which
//! the journal does not keep, stay in the event log this way too.
//!
//! A saved screen is only a shortcut: when it is missing, unreadable, from another version, or of a
//! delivery the journal no longer holds, the whole journal is read as before, and the reason is
//! said once. It is written to a temporary file and renamed over the old one, so a crash
//! mid-write leaves the old file or none, never half of one; it is not synced, since losing
//! it costs only the time to read the journal.

use super::journal::History;
use crate::monitor::{Limits, Monitor};
use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

/// Writes `monitor` to `path`, whole or not at all.
pub fn save(path: &Path, monitor: &Monitor) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // The same private repositories and parameters as the journal: the user's only.
        options.mode(0o600);
    }
    let mut out = BufWriter::with_capacity(256 * 1024, options.open(&temporary)?);
    let written = monitor
        .save(&mut out)
        .map_err(io::Error::other)
        .and_then(|()| out.flush());
    drop(out);
    match written.and_then(|()| fs::rename(&temporary, path)) {
        Ok(()) => Ok(()),
        Err(err) => {
            let _ = fs::remove_file(&temporary);
            Err(err)
        }
    }
}

/// The monitor a start begins with, and what became of the saved screen, if there was one.
#[derive(Debug)]
pub struct Resumed {
    pub monitor: Monitor,
    /// A few words for the footer: the screen was restored, or why it was not used.
    pub note: Option<String>,
}

/// The monitor saved at `path`, with `history` cut to the deliveries journaled after it; or a
/// new monitor with `history` left whole when there is no saved screen or it cannot be used.
pub fn resume(path: &Path, history: &mut History, limits: Limits) -> Resumed {
    // Said in the footer, next to how many deliveries were then read: short, and without the
    // path, which is the journal's with `.snapshot` added.
    let fresh = |why: Option<String>| Resumed {
        monitor: Monitor::new(limits.clone()),
        note: why.map(|why| format!("saved screen not used ({why})")),
    };
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return fresh(None),
        Err(err) => return fresh(Some(format!("cannot read it: {}", crate::io_reason(&err)))),
    };
    let monitor = match Monitor::restore(&bytes, limits.clone()) {
        Ok(monitor) => monitor,
        Err(err) => return fresh(Some(err.to_string())),
    };
    let Some(last) = monitor.last_delivery() else {
        return fresh(None);
    };
    match history.skip_through(last.id, last.received_at) {
        Ok(true) => Resumed {
            monitor,
            note: Some(format!("restored the screen saved at delivery {}", last.id)),
        },
        Ok(false) => fresh(Some(format!(
            "the journal no longer holds delivery {}",
            last.id
        ))),
        Err(err) => fresh(Some(format!(
            "cannot search the journal: {}",
            crate::io_reason(&err)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{Delivery, Ingest};
    use crate::store::journal::{self, Journal};
    use crate::testing::{state, varied};
    use chrono::Utc;
    use std::sync::Arc;

    fn ids(history: History) -> Vec<u64> {
        history
            .entries()
            .filter_map(Result::ok)
            .map(|d| d.id)
            .collect()
    }

    /// A journal of `deliveries` (their ids made distinct and growing, as a journal's are).
    fn journal_of(path: &Path, deliveries: &mut [Delivery]) {
        let mut journal = Journal::open(path, u64::MAX, Utc::now()).unwrap().journal;
        let mut lines = Vec::new();
        for (index, delivery) in deliveries.iter_mut().enumerate() {
            delivery.id = index as u64 + 1;
            lines.extend(journal::line(delivery, None).unwrap());
        }
        journal.append(&lines).unwrap();
    }

    fn history(path: &Path) -> History {
        Journal::open(path, u64::MAX, Utc::now()).unwrap().history
    }

    #[test]
    fn a_saved_screen_is_restored_and_only_later_deliveries_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.jsonl");
        let saved = journal::screen_path(&journal);
        assert_eq!(saved, dir.path().join("journal.jsonl.snapshot"));
        let mut deliveries = varied(500);
        journal_of(&journal, &mut deliveries);

        let mut whole = history(&journal);
        let resumed = resume(&saved, &mut whole, Limits::default());
        assert!(resumed.note.is_none());
        assert_eq!(ids(whole), (1..=500).collect::<Vec<_>>());

        let mut screen = Monitor::default();
        for delivery in &deliveries[..300] {
            screen.apply(&Ingest::Accepted(Arc::new(delivery.clone())));
        }
        save(&saved, &screen).unwrap();
        let mut rest = history(&journal);
        let resumed = resume(&saved, &mut rest, Limits::default());
        assert_eq!(
            resumed.note.as_deref(),
            Some("restored the screen saved at delivery 300")
        );
        assert_eq!(state(&resumed.monitor), state(&screen));
        assert_eq!(ids(rest), (301..=500).collect::<Vec<_>>());
    }

    #[test]
    fn a_saved_screen_that_cannot_be_used_leaves_the_history_whole_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.jsonl");
        let saved = journal::screen_path(&journal);
        let mut deliveries = varied(50);
        journal_of(&journal, &mut deliveries);
        let mut elsewhere = Monitor::default();
        let mut other = varied(80);
        other[79].id = 80;
        elsewhere.apply(&Ingest::Accepted(Arc::new(other[79].clone())));

        let cases: [(&[u8], &str); 2] = [
            (
                b"{\"format\":1,",
                "saved screen not used (not a snapshot this version reads: EOF",
            ),
            (
                b"",
                "saved screen not used (not a snapshot this version reads: EOF",
            ),
        ];
        for (bytes, note) in cases {
            fs::write(&saved, bytes).unwrap();
            let mut whole = history(&journal);
            let resumed = resume(&saved, &mut whole, Limits::default());
            assert!(
                resumed.note.as_deref().unwrap().starts_with(note),
                "{resumed:?}"
            );
            assert_eq!(ids(whole).len(), 50);
        }

        save(&saved, &elsewhere).unwrap();
        let mut whole = history(&journal);
        let resumed = resume(&saved, &mut whole, Limits::default());
        assert_eq!(
            resumed.note.as_deref(),
            Some("saved screen not used (the journal no longer holds delivery 80)")
        );
        assert_eq!(resumed.monitor.totals().accepted, 0);
        assert_eq!(ids(whole).len(), 50);
    }
}
