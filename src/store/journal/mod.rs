//! The journal: every accepted delivery, one JSON line each, appended and synced to disk before
//! the sender hears 2xx, and read back on start so a restart shows the same history.
//!
//! A line holds the delivery as the headless output shows it (`id`, `received_at`, `sent_at`,
//! `auth`, `repaired`, `ping`, `gitee_event`, `request_id`, `notification`; the three headers
//! only when sent, so lines written before they were kept read as ever), plus what the receiver
//! needs to stay correct across a restart: `key` and `pair`, the guard's fingerprint (hashes,
//! never the token itself), and `forms`, how each source's `upParams` arrived, since the
//! notification always writes them as an object.
//!
//! Files: the journal itself, and `<journal>.1`, the previous file. When a write would take the
//! journal past its size bound it is renamed to `.1` (replacing the older one) and a new one is
//! started, so the disk holds at most about twice the bound. History is read from `.1`, then
//! the journal.
//!
//! Crash safety: appends are whole batches followed by one `fdatasync`, so a crash can leave
//! at most one cut-short last line, which was never acknowledged. [`Journal::open`] drops it
//! with a warning; any other line that does not read is reported with its number and skipped.
//! A lock on the file keeps a second pipetop from interleaving its lines with ours.
//!
//! Only a regular file is read back, locked and rotated: pointing the journal at a device
//! (`/dev/full` simulates a full disk) writes to it and nothing else.
//!
//! This file holds the journal file itself: opening, locking, rotating, appending and syncing,
//! and the backwards read a start makes for the last id and the guard's fingerprints. The line
//! format is in `line`, which lines a start reads back in `history`, and the reading on
//! every core in `reader`.

mod history;
mod line;
mod reader;

pub use history::{Entries, History};
pub use line::{Unnumbered, line, parse_line};
pub use reader::{Batch, Entry, Reader, Skipped, parsers};
#[cfg(test)]
mod tests;

use super::guard::{self, Fingerprint, Guard};
use chrono::{DateTime, Utc};
use line::TailEntry;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The size past which the journal is rotated, unless `--journal-max` says otherwise.
pub const DEFAULT_MAX_SIZE: u64 = 64 * 1024 * 1024;

/// Why the journal cannot be used; each message is one sentence.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "cannot find a state directory for the journal (no home directory); choose a file with --journal FILE or keep none with --no-journal"
    )]
    NoStateDir,
    #[error("cannot open the journal {}: {}", path.display(), crate::io_reason(source))]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the journal {} is in use by another pipetop; choose another with --journal FILE or keep none with --no-journal",
        path.display()
    )]
    InUse { path: PathBuf },
    #[error(
        "the journal {} ends at delivery id {id}, the largest id there is, so no id is left for the next delivery; move it aside or choose another with --journal FILE",
        path.display()
    )]
    NoIdLeft { path: PathBuf, id: u64 },
}

/// `journal.jsonl` in the user's state directory: `$XDG_STATE_HOME/pipetop` (by default
/// `~/.local/state/pipetop`) on Linux, the local application data directory elsewhere.
pub fn default_path() -> Result<PathBuf, JournalError> {
    let dirs = directories::ProjectDirs::from("", "", "pipetop").ok_or(JournalError::NoStateDir)?;
    let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
    Ok(dir.join("journal.jsonl"))
}

/// The previous file, `<journal>.1`.
pub fn previous_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// The saved screen beside the journal, `<journal>.snapshot` ([`super::screen`]).
pub fn screen_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".snapshot");
    path.with_file_name(name)
}

/// A journal opened for appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Bytes known to be whole lines on disk; a failed write is cut back to this.
    len: u64,
    max_size: u64,
    regular: bool,
    /// The journal was renamed to `.1` but no new file could be opened yet.
    detached: bool,
}

/// What [`Journal::open`] found.
#[derive(Debug)]
pub struct Opened {
    pub journal: Journal,
    /// The entries already there, to replay.
    pub history: History,
    /// The highest id stored; new deliveries continue after it. Never `u64::MAX`: a journal
    /// that ends there is refused, as the next id would wrap.
    pub last_id: u64,
    /// For the duplicate guard, in file order: the fingerprints of the deliveries received
    /// since the `since` given to `open` (see [`Journal::open`]).
    pub recent: Vec<Recent>,
    /// Things worth a warning, each one sentence (a cut-short last line).
    pub warnings: Vec<String>,
}

/// A recently stored delivery's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recent {
    pub id: u64,
    pub received_at: DateTime<Utc>,
    pub fingerprint: Fingerprint,
}

impl Journal {
    /// Opens (creating it and its directory if needed) and locks the journal at `path`, drops a
    /// cut-short last line, and finds the last id and the recent fingerprints.
    ///
    /// Those are read from the newest line back, through the journal and then the previous
    /// file, up to the first line received before `since`: every line after that one comes
    /// back, however many bytes or files lie between, and nothing before it is read. So the cost
    /// follows how many deliveries came since `since`, not the journal's size, and is bounded
    /// by the [`Guard::MAX_ENTRIES`](super::guard::Guard::MAX_ENTRIES) newest fingerprints,
    /// which is all the guard keeps.
    pub fn open(path: &Path, max_size: u64, since: DateTime<Utc>) -> Result<Opened, JournalError> {
        let open_error = |source: io::Error| JournalError::Open {
            path: path.to_owned(),
            source,
        };
        let file = match open_append(path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    fs::create_dir_all(parent).map_err(open_error)?;
                }
                open_append(path)
            }
            opened => opened,
        }
        .map_err(open_error)?;
        let regular = file.metadata().map_err(open_error)?.is_file();
        let mut journal = Journal {
            path: path.to_owned(),
            file,
            len: 0,
            max_size,
            regular,
            detached: false,
        };
        let mut warnings = Vec::new();
        if !regular {
            return Ok(Opened {
                journal,
                history: History::default(),
                last_id: 0,
                recent: Vec::new(),
                warnings,
            });
        }
        match journal.file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(JournalError::InUse {
                    path: path.to_owned(),
                });
            }
            // A file system without locks still gets a journal; only the guard is lost.
            Err(fs::TryLockError::Error(_)) => {}
        }
        journal.len = journal.file.metadata().map_err(open_error)?.len();
        let whole = whole_lines_len(&mut journal.file, journal.len).map_err(open_error)?;
        if whole < journal.len {
            warnings.push(format!(
                "journal {}: the last line ({} bytes) was cut short by a crash mid-write and was never acknowledged; dropped it",
                path.display(),
                journal.len - whole
            ));
            journal.file.set_len(whole).map_err(open_error)?;
            journal.file.sync_all().map_err(open_error)?;
            journal.len = whole;
        }
        sync_parent(path).map_err(open_error)?;

        let mut parts = Vec::new();
        let previous = previous_path(path);
        if let Ok(file) = File::open(&previous)
            && let Ok(meta) = file.metadata()
            && meta.is_file()
        {
            parts.push(Part {
                path: previous,
                file,
                len: meta.len(),
                start: 0,
                after: None,
            });
        }
        // A handle of its own, so reading never moves the appending handle's offset, and
        // a rotation while history loads does not pull the file away.
        let reader = File::open(path).map_err(open_error)?;
        parts.push(Part {
            path: path.to_owned(),
            file: reader,
            len: journal.len,
            start: 0,
            after: None,
        });

        let (last_id, recent) = recall(&mut parts, since).map_err(open_error)?;
        if last_id == u64::MAX {
            return Err(JournalError::NoIdLeft {
                path: path.to_owned(),
                id: last_id,
            });
        }
        Ok(Opened {
            journal,
            history: History { parts },
            last_id,
            recent,
            warnings,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the screen is saved for this journal ([`super::screen`]); only beside a regular
    /// file, as only a regular file is read back.
    pub fn screen_path(&self) -> Option<PathBuf> {
        self.regular.then(|| screen_path(&self.path))
    }

    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Appends whole lines and syncs them to disk, rotating first when they would take the
    /// journal past its bound. On failure nothing of `lines` is left in the file (as far as
    /// the file system allows), so the next append starts on a line of its own.
    pub fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        if self.detached
            || (self.regular && self.len > 0 && self.len + lines.len() as u64 > self.max_size)
        {
            self.rotate()?;
        }
        let written = self
            .file
            .write_all(lines)
            .and_then(|()| self.file.sync_data());
        if let Err(err) = written {
            if self.regular {
                let _ = self.file.set_len(self.len);
            }
            return Err(err);
        }
        self.len += lines.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if !self.detached {
            fs::rename(&self.path, previous_path(&self.path))?;
            self.detached = true;
        }
        let file = open_append(&self.path)?;
        // Best effort: the old file's lock stays held until this handle replaces it.
        let _ = file.try_lock();
        sync_parent(&self.path)?;
        self.file = file;
        self.len = 0;
        self.detached = false;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    // Read too, to find where the last whole line ends.
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Deliveries may name private repositories: readable by the user only.
        options.mode(0o600);
    }
    options.open(path)
}

/// Makes a file's creation or renaming durable: its directory entry lives in the parent.
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// The length of the file up to and including its last newline.
fn whole_lines_len(file: &mut File, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(buf)?;
        if let Some(pos) = buf.iter().rposition(|&b| b == b'\n') {
            return Ok(start + pos as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// One file of history, read up to the length it had when the journal was opened, from
/// `start`: its beginning, or the end of delivery `after`'s line.
#[derive(Debug)]
pub(super) struct Part {
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) len: u64,
    pub(super) start: u64,
    pub(super) after: Option<u64>,
}
/// The highest id in `parts` (0 when none), and the fingerprints of the deliveries after the
/// last line received before `since`, in file order; see [`Journal::open`]. Lines that do not
/// read as entries are stepped over.
fn recall(parts: &mut [Part], since: DateTime<Utc>) -> io::Result<(u64, Vec<Recent>)> {
    let mut last_id = None;
    let mut recent = Vec::new();
    'files: for part in parts.iter_mut().rev() {
        let mut lines = LinesBack::new(&part.file, part.len);
        while let Some(line) = lines.next_line()? {
            let Ok(entry) = serde_json::from_slice::<TailEntry>(line) else {
                continue;
            };
            last_id = Some(last_id.map_or(entry.id, |id: u64| id.max(entry.id)));
            if entry.received_at < since {
                break 'files;
            }
            if let Some(delivery) = entry.key.as_deref().and_then(guard::from_hex) {
                recent.push(Recent {
                    id: entry.id,
                    received_at: entry.received_at,
                    fingerprint: Fingerprint {
                        delivery,
                        pair: entry.pair.as_deref().and_then(guard::from_hex),
                    },
                });
                if recent.len() == Guard::MAX_ENTRIES {
                    break 'files;
                }
            }
        }
    }
    recent.reverse();
    Ok((last_id.unwrap_or(0), recent))
}

/// How much [`LinesBack`] reads at a time, at least.
const BACK_BLOCK: usize = 64 * 1024;

/// A file's lines from its end back to its start, each with its newline if it has one. Reads
/// go back a block at a time, and a line longer than what is held doubles the read, so a long
/// line costs its length and not its length squared.
struct LinesBack<'a> {
    file: &'a File,
    /// The file offset of `buf[0]`.
    offset: u64,
    buf: Vec<u8>,
    /// `buf[..end]` is not handed out yet.
    end: usize,
}

impl<'a> LinesBack<'a> {
    /// The lines of `file`'s first `len` bytes.
    fn new(file: &'a File, len: u64) -> LinesBack<'a> {
        LinesBack {
            file,
            offset: len,
            buf: Vec::new(),
            end: 0,
        }
    }

    /// The line before those handed out so far; `None` once the file's start is passed.
    fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            // The line's own newline, if it has one, is its last byte: the one before ends
            // the line ahead of it.
            let before = self.end.saturating_sub(1);
            if let Some(at) = memchr::memrchr(b'\n', &self.buf[..before]) {
                let line = at + 1..self.end;
                self.end = at + 1;
                return Ok(Some(&self.buf[line]));
            }
            if self.offset == 0 {
                let line = 0..std::mem::take(&mut self.end);
                return Ok((!line.is_empty()).then(|| &self.buf[line]));
            }
            let want = (BACK_BLOCK.max(self.end) as u64).min(self.offset);
            let from = self.offset - want;
            // A block or what is held already, either of which is a usize.
            let want = want as usize;
            let mut buf = vec![0; want + self.end];
            let mut file = self.file;
            file.seek(SeekFrom::Start(from))?;
            file.read_exact(&mut buf[..want])?;
            buf[want..].copy_from_slice(&self.buf[..self.end]);
            self.end = buf.len();
            self.buf = buf;
            self.offset = from;
        }
    }
}
