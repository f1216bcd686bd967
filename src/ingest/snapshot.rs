//! The screen saved beside the journal, so a restart shows it at once and reads only what was
//! journaled after it, however long the journal has grown.
//!
//! The TUI's monitor is written to `<journal>.snapshot` when the TUI closes. On the next start
//! it is read back ([`Monitor::restore`]), and the journal is read from just after the last
//! delivery it had applied ([`History::skip_through`]), so the start costs what the screen
//! holds plus what arrived since, not every line the journal keeps. Rejected requests, which
//! the journal does not keep, stay in the event log this way too.
//!
//! A snapshot is only a shortcut: when it is missing, unreadable, from another version, or of a
//! delivery the journal no longer holds, the whole journal is read as before, and the reason is
//! said once. It is written to a temporary file and renamed over the old one, so a crash
//! mid-write leaves the old snapshot or none, never half of one; it is not synced, since losing
//! it costs only the time to read the journal.

use super::journal::History;
use crate::monitor::{Limits, Monitor};
use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

/// `<journal>.snapshot`, beside the journal.
pub fn path_for(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_owned();
    name.push(".snapshot");
    journal.with_file_name(name)
}

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

/// The monitor a start begins with, and what became of the snapshot, if there was one.
#[derive(Debug)]
pub struct Resumed {
    pub monitor: Monitor,
    /// One sentence: the screen was restored, or why the snapshot was not used.
    pub note: Option<String>,
}

/// The monitor saved at `path`, with `history` cut to the deliveries journaled after it; or a
/// new monitor with `history` left whole when there is no snapshot or it cannot be used.
pub fn resume(path: &Path, history: &mut History, limits: Limits) -> Resumed {
    let fresh = |note: Option<String>| Resumed {
        monitor: Monitor::new(limits.clone()),
        note: note.map(|note| format!("{note}; read the whole journal")),
    };
    let shown = crate::text::clean_long(&path.display().to_string()).into_owned();
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return fresh(None),
        Err(err) => {
            let reason = crate::io_reason(&err);
            return fresh(Some(format!("cannot read the snapshot {shown} ({reason})")));
        }
    };
    let monitor = match Monitor::restore(&bytes, limits.clone()) {
        Ok(monitor) => monitor,
        Err(err) => return fresh(Some(format!("did not use the snapshot {shown}: {err}"))),
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
            "did not use the snapshot {shown}: the journal no longer holds delivery {}, which it was taken at",
            last.id
        ))),
        Err(err) => fresh(Some(format!(
            "cannot look for delivery {} in the journal ({})",
            last.id,
            crate::io_reason(&err)
        ))),
    }
}
