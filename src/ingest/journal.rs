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
//! Reading back is what a start waits for, so it uses every core: one thread reads the files
//! in chunks of whole lines and deals them to parsing threads in turn, and takes the parsed
//! chunks back in the same turn, which keeps the entries in file order ([`History::read`]).

use super::guard::{self, Fingerprint, Guard};
use crate::delivery::{Delivery, Headers, rfc3339};
use crate::gitee::payload::{restore_up_params_forms, up_params_forms};
use crate::gitee::{Auth, Notification, UpParamsForm};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

/// The size past which the journal is rotated, unless `--journal-max` says otherwise.
pub const DEFAULT_MAX_SIZE: u64 = 64 * 1024 * 1024;

/// Why the journal cannot be used; each message is one sentence.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "cannot find a state directory for the journal (no home directory); choose a file with --journal FILE or keep none with --no-journal"
    )]
    NoStateDir,
    #[error("cannot open the journal {}: {reason}", path.display())]
    Open { path: PathBuf, reason: String },
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
    /// Said to the sender with the 503, so it names no local path.
    #[error("cannot store the delivery: {0}")]
    Write(String),
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

/// The saved screen beside the journal, `<journal>.snapshot` ([`super::snapshot`]).
pub fn snapshot_path(path: &Path) -> PathBuf {
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
        let open_error = |err: io::Error| JournalError::Open {
            path: path.to_owned(),
            reason: crate::io_reason(&err),
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

    /// Where the screen is saved for this journal ([`super::snapshot`]); only beside a regular
    /// file, as only a regular file is read back.
    pub fn snapshot_path(&self) -> Option<PathBuf> {
        self.regular.then(|| snapshot_path(&self.path))
    }

    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Appends whole lines and syncs them to disk, rotating first when they would take the
    /// journal past its bound. On failure nothing of `lines` is left in the file (as far as
    /// the file system allows), so the next append starts on a line of its own.
    pub fn append(&mut self, lines: &[u8]) -> Result<(), JournalError> {
        let write_error = |err: io::Error| JournalError::Write(crate::io_reason(&err));
        if self.detached
            || (self.regular && self.len > 0 && self.len + lines.len() as u64 > self.max_size)
        {
            self.rotate().map_err(write_error)?;
        }
        let written = self
            .file
            .write_all(lines)
            .and_then(|()| self.file.sync_data());
        if let Err(err) = written {
            if self.regular {
                let _ = self.file.set_len(self.len);
            }
            return Err(write_error(err));
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
struct Part {
    path: PathBuf,
    file: File,
    len: u64,
    start: u64,
    after: Option<u64>,
}

/// Just what the start needs from a line; the notification is skipped unparsed.
#[derive(Deserialize)]
struct TailEntry {
    id: u64,
    #[serde(with = "rfc3339")]
    received_at: DateTime<Utc>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    pair: Option<String>,
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

/// The entries that were in the journal when it was opened: the previous file, then the
/// journal, each up to the length it had then, so deliveries stored since are never read twice.
#[derive(Debug, Default)]
pub struct History {
    parts: Vec<Part>,
}

impl History {
    /// How many bytes there are to read, for progress.
    pub fn total_bytes(&self) -> u64 {
        self.parts.iter().map(|part| part.len - part.start).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total_bytes() == 0
    }

    /// Leaves out delivery `id` and everything before it, for a monitor that has applied them
    /// (restored from a snapshot). Returns false, leaving the history whole, when the journal
    /// no longer holds that delivery as received at `received_at`: what came after it cannot
    /// be told apart then.
    ///
    /// Ids only grow along the journal, so the line is found by bisecting the files: a few
    /// dozen short reads, however long the journal is.
    pub fn skip_through(&mut self, id: u64, received_at: DateTime<Utc>) -> io::Result<bool> {
        for index in (0..self.parts.len()).rev() {
            if let Some(end) = line_end_of(&mut self.parts[index], id, received_at)? {
                self.parts.drain(..index);
                let part = &mut self.parts[0];
                part.start = end;
                part.after = Some(id);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The entries in order, one by one, parsed on [`parsers`] threads. Reading does blocking
    /// IO: use a thread of its own for a large journal.
    pub fn entries(self) -> Entries {
        Entries {
            reader: self.read(parsers()),
            batch: Vec::new().into_iter(),
        }
    }

    /// The entries in order, a batch at a time, parsed on `workers` threads of their own (none:
    /// on the caller's). The calling thread reads the files and hands whole lines out in chunks;
    /// the chunks are dealt to the workers in turn and taken back in the same turn, so entries
    /// come out in file order.
    pub fn read(self, workers: usize) -> Reader {
        self.read_in(workers, CHUNK)
    }

    fn read_in(self, workers: usize, chunk: usize) -> Reader {
        let workers = (0..workers)
            .filter_map(|n| Worker::start(n).ok())
            .collect::<Vec<_>>();
        Reader {
            parts: self.parts.into_iter(),
            current: None,
            in_flight: VecDeque::new(),
            max_in_flight: 4 * workers.len().max(1),
            chunk,
            next_worker: 0,
            workers,
            bytes_read: 0,
            lines: 0,
        }
    }
}

/// Below this many bytes, bisecting a file for a line gives way to reading it line by line.
const BISECT_UNTIL: u64 = 64 * 1024;

/// Where the line of delivery `id` ends in `part`, if the part has it and it was received at
/// `received_at`. Lines that do not read as entries are stepped over.
fn line_end_of(part: &mut Part, id: u64, received_at: DateTime<Utc>) -> io::Result<Option<u64>> {
    // The line, if the part has it, starts in [low, high); `low` is always a line's start.
    let (mut low, mut high) = (0, part.len);
    while high - low > BISECT_UNTIL {
        let middle = low + (high - low) / 2;
        match first_entry(part, middle, high)? {
            None => high = middle,
            Some((start, _, entry)) if entry.id > id => high = start,
            Some((_, end, entry)) if entry.id < id => low = end,
            Some((_, end, entry)) => return Ok((entry.received_at == received_at).then_some(end)),
        }
    }
    let mut at = low;
    while let Some((_, end, entry)) = first_entry(part, at, high)? {
        if entry.id >= id {
            return Ok((entry.id == id && entry.received_at == received_at).then_some(end));
        }
        at = end;
    }
    Ok(None)
}

/// The first line of `part` that starts at or after `from` and before `before` and reads as an
/// entry: where it starts and ends, and its id and arrival.
fn first_entry(
    part: &mut Part,
    from: u64,
    before: u64,
) -> io::Result<Option<(u64, u64, TailEntry)>> {
    // From the byte before, so a line starting exactly at `from` is not taken for the end of
    // the one before it.
    let mut at = from.saturating_sub(1);
    part.file.seek(SeekFrom::Start(at))?;
    let mut reader = BufReader::with_capacity(16 * 1024, (&part.file).take(part.len - at));
    let mut line = Vec::new();
    if from > 0 {
        at += reader.read_until(b'\n', &mut line)? as u64;
    }
    while at < before {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)? as u64;
        if read == 0 {
            break;
        }
        if line.ends_with(b"\n")
            && let Ok(entry) = serde_json::from_slice::<TailEntry>(&line)
        {
            return Ok(Some((at, at + read, entry)));
        }
        at += read;
    }
    Ok(None)
}

/// How many threads parse history: every core, as loading history is what a start waits for,
/// but no more than a few, since the consumer applying the entries needs a core too.
pub fn parsers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// How much of a file one chunk holds: about a thousand lines, enough that handing a chunk
/// between threads costs nothing next to parsing it.
const CHUNK: usize = 1 << 20;

/// An entry that could not be read back; shown as one sentence naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    path: Arc<Path>,
    /// The line's number in its file (for [`Why::Unreadable`], the lines read before), counted
    /// from delivery `after`'s line when the file was read from there.
    line: u64,
    after: Option<u64>,
    why: Why,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Why {
    CutShort,
    NotAnEntry(String),
    /// The file could not be read from its start.
    NoFile(String),
    /// The file could not be read past `line`.
    Unreadable(String),
    /// A thread reading the history back failed.
    Failed,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        let line = match self.after {
            Some(id) => format!("{} after delivery {id}", self.line),
            None => self.line.to_string(),
        };
        match &self.why {
            Why::CutShort => write!(
                f,
                "journal {path}: line {line} was cut short by a crash mid-write; skipped it"
            ),
            Why::NotAnEntry(err) => write!(
                f,
                "journal {path}: line {line} is not a journal entry ({err}); skipped it"
            ),
            Why::NoFile(reason) => {
                write!(
                    f,
                    "journal {path}: cannot read it ({reason}); skipped the file"
                )
            }
            Why::Unreadable(reason) => write!(
                f,
                "journal {path}: cannot read past line {line} ({reason}); skipped the rest of the file"
            ),
            Why::Failed => write!(
                f,
                "journal {path}: a thread reading it back failed; skipped the rest of the history"
            ),
        }
    }
}

/// One read-back entry: a delivery, or why a line was skipped.
pub type Entry = Result<Arc<Delivery>, Skipped>;

/// Entries of consecutive lines, in order.
#[derive(Debug)]
pub struct Batch {
    pub entries: Vec<Entry>,
    /// The worker that parsed (and allocated) these, if one did.
    worker: Option<usize>,
}

/// Whole lines of one file.
struct Chunk {
    path: Arc<Path>,
    after: Option<u64>,
    bytes: Vec<u8>,
}

/// A chunk's entries, with line numbers counted from the chunk's start.
struct ParsedChunk {
    entries: Vec<Entry>,
    lines: u64,
    skipped: bool,
}

enum Chore {
    Parse(Chunk),
    /// Entries the consumer is done with, dropped where they were allocated.
    Free(Vec<Entry>),
}

struct Worker {
    jobs: mpsc::Sender<Chore>,
    parsed: mpsc::Receiver<ParsedChunk>,
}

impl Worker {
    fn start(n: usize) -> io::Result<Worker> {
        let (jobs, job_rx) = mpsc::channel::<Chore>();
        let (parsed_tx, parsed) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("pipetop-parse-{n}"))
            .spawn(move || {
                for job in job_rx {
                    match job {
                        Chore::Parse(chunk) => {
                            if parsed_tx.send(parse_chunk(&chunk)).is_err() {
                                return;
                            }
                        }
                        Chore::Free(entries) => drop(entries),
                    }
                }
            })?;
        Ok(Worker { jobs, parsed })
    }
}

/// What was handed out and not yet taken back, in file order.
enum InFlight {
    Parsing {
        worker: usize,
        bytes: u64,
        first_of_file: bool,
    },
    Parsed(ParsedChunk, u64, bool),
    Skipped(Skipped),
}

/// Reads [`History`] in batches; see [`History::read`].
pub struct Reader {
    parts: std::vec::IntoIter<Part>,
    current: Option<Reading>,
    workers: Vec<Worker>,
    in_flight: VecDeque<InFlight>,
    max_in_flight: usize,
    /// How many bytes a chunk holds, about.
    chunk: usize,
    next_worker: usize,
    bytes_read: u64,
    /// Lines of the current file taken back so far.
    lines: u64,
}

struct Reading {
    path: Arc<Path>,
    file: io::Take<File>,
    /// The delivery whose line this file is read from just after, if not from its start.
    after: Option<u64>,
    first: bool,
    /// The start of a line whose end is not read yet.
    carry: Vec<u8>,
}

/// What reading the files gave next.
enum Next {
    Chunk(Chunk, bool),
    Skipped(Skipped),
    End,
}

impl Reader {
    /// Bytes of the entries handed out so far, for progress against [`History::total_bytes`].
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next entries in order, or `None` when every file has been read.
    pub fn next_batch(&mut self) -> Option<Batch> {
        while self.in_flight.len() < self.max_in_flight {
            match self.read_chunk() {
                Next::Chunk(chunk, first_of_file) => self.dispatch(chunk, first_of_file),
                Next::Skipped(skipped) => self.in_flight.push_back(InFlight::Skipped(skipped)),
                Next::End => break,
            }
        }
        let (parsed, worker, bytes, first_of_file) = match self.in_flight.pop_front()? {
            InFlight::Parsed(parsed, bytes, first) => (parsed, None, bytes, first),
            InFlight::Skipped(mut skipped) => {
                if matches!(skipped.why, Why::Unreadable(_)) {
                    skipped.line = self.lines;
                }
                return Some(Batch {
                    entries: vec![Err(skipped)],
                    worker: None,
                });
            }
            InFlight::Parsing {
                worker,
                bytes,
                first_of_file,
            } => match self.workers[worker].parsed.recv() {
                Ok(parsed) => (parsed, Some(worker), bytes, first_of_file),
                // A worker that is gone panicked: nothing after this point would come in
                // order, so the rest is not read.
                Err(_) => return Some(self.fail()),
            },
        };
        if first_of_file {
            self.lines = 0;
        }
        let mut entries = parsed.entries;
        if parsed.skipped {
            for skipped in entries.iter_mut().filter_map(|entry| entry.as_mut().err()) {
                skipped.line += self.lines;
            }
        }
        self.lines += parsed.lines;
        self.bytes_read += bytes;
        Some(Batch { entries, worker })
    }

    fn fail(&mut self) -> Batch {
        let path = match &self.current {
            Some(reading) => Arc::clone(&reading.path),
            None => Arc::from(Path::new("")),
        };
        self.parts = Vec::new().into_iter();
        self.current = None;
        self.in_flight.clear();
        let skipped = Skipped {
            path,
            line: 0,
            after: None,
            why: Why::Failed,
        };
        Batch {
            entries: vec![Err(skipped)],
            worker: None,
        }
    }

    /// Hands a batch back once its deliveries have been used, so they are freed on the thread
    /// that allocated them: freeing on another one makes both queue on the allocator's lock.
    pub fn give_back(&mut self, batch: Batch) {
        if let Some(worker) = batch.worker.and_then(|n| self.workers.get(n)) {
            // A worker that is gone cannot free them; they are dropped here instead.
            let _ = worker.jobs.send(Chore::Free(batch.entries));
        }
    }

    fn dispatch(&mut self, chunk: Chunk, first_of_file: bool) {
        let bytes = chunk.bytes.len() as u64;
        let parse_here = |chunk: &Chunk| InFlight::Parsed(parse_chunk(chunk), bytes, first_of_file);
        if self.workers.is_empty() {
            self.in_flight.push_back(parse_here(&chunk));
            return;
        }
        let worker = self.next_worker;
        self.next_worker = (worker + 1) % self.workers.len();
        let in_flight = match self.workers[worker].jobs.send(Chore::Parse(chunk)) {
            Ok(()) => InFlight::Parsing {
                worker,
                bytes,
                first_of_file,
            },
            Err(mpsc::SendError(Chore::Parse(chunk))) => parse_here(&chunk),
            Err(mpsc::SendError(Chore::Free(_))) => return,
        };
        self.in_flight.push_back(in_flight);
    }

    /// The next whole lines of the current file, up to about `chunk` bytes (more when one
    /// line is longer); at a file's end, whatever is left, which may be a line cut short.
    fn read_chunk(&mut self) -> Next {
        loop {
            let reading = match &mut self.current {
                Some(reading) => reading,
                None => {
                    let Some(mut part) = self.parts.next() else {
                        return Next::End;
                    };
                    let path: Arc<Path> = part.path.into();
                    if let Err(err) = part.file.seek(SeekFrom::Start(part.start)) {
                        return Next::Skipped(Skipped {
                            path,
                            line: 0,
                            after: None,
                            why: Why::NoFile(crate::io_reason(&err)),
                        });
                    }
                    self.current.insert(Reading {
                        path,
                        file: part.file.take(part.len - part.start),
                        after: part.after,
                        first: true,
                        carry: Vec::new(),
                    })
                }
            };
            let chunk = self.chunk;
            let mut bytes = Vec::with_capacity(chunk + chunk / 4);
            bytes.append(&mut reading.carry);
            let mut searched = 0;
            let end = loop {
                let want = (chunk + searched)
                    .saturating_sub(bytes.len())
                    .max(chunk / 4);
                match (&mut reading.file)
                    .take(want as u64)
                    .read_to_end(&mut bytes)
                {
                    Err(err) => {
                        let skipped = Skipped {
                            path: Arc::clone(&reading.path),
                            line: 0,
                            after: reading.after,
                            why: Why::Unreadable(crate::io_reason(&err)),
                        };
                        self.current = None;
                        return Next::Skipped(skipped);
                    }
                    Ok(0) => break None,
                    Ok(_) => {}
                }
                if let Some(pos) = memchr::memrchr(b'\n', &bytes[searched..]) {
                    break Some(searched + pos + 1);
                }
                searched = bytes.len();
            };
            match end {
                Some(end) => reading.carry = bytes.split_off(end),
                // The file's end: what is left is its last line, cut short, if anything.
                None if bytes.is_empty() => {
                    self.current = None;
                    continue;
                }
                None => {}
            }
            let path = Arc::clone(&reading.path);
            let after = reading.after;
            let first = std::mem::replace(&mut reading.first, false);
            if end.is_none() {
                self.current = None;
            }
            return Next::Chunk(Chunk { path, after, bytes }, first);
        }
    }
}

/// Every line of a chunk, in order: blank lines are passed over, the others become an entry.
fn parse_chunk(chunk: &Chunk) -> ParsedChunk {
    let mut parsed = ParsedChunk {
        entries: Vec::with_capacity(chunk.bytes.len() / 512 + 1),
        lines: 0,
        skipped: false,
    };
    let mut start = 0;
    while start < chunk.bytes.len() {
        let end = memchr::memchr(b'\n', &chunk.bytes[start..])
            .map_or(chunk.bytes.len(), |at| start + at + 1);
        let line = &chunk.bytes[start..end];
        start = end;
        parsed.lines += 1;
        let skipped = |why| Skipped {
            path: Arc::clone(&chunk.path),
            line: parsed.lines,
            after: chunk.after,
            why,
        };
        let entry = if line.last() != Some(&b'\n') {
            Err(skipped(Why::CutShort))
        } else if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        } else {
            parse_line(line)
                .map(Arc::new)
                .map_err(|err| skipped(Why::NotAnEntry(err.to_string())))
        };
        parsed.skipped |= entry.is_err();
        parsed.entries.push(entry);
    }
    parsed
}

/// Reads [`History`] entry by entry.
pub struct Entries {
    reader: Reader,
    batch: std::vec::IntoIter<Entry>,
}

impl Entries {
    /// Bytes of the entries handed out so far, a chunk at a time, for progress against
    /// [`History::total_bytes`].
    pub fn bytes_read(&self) -> u64 {
        self.reader.bytes_read()
    }
}

impl Iterator for Entries {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            if let Some(entry) = self.batch.next() {
                return Some(entry);
            }
            self.batch = self.reader.next_batch()?.entries.into_iter();
        }
    }
}

/// A journal line as written, but for the id, which comes first.
#[derive(Serialize)]
struct EntryOut<'a> {
    #[serde(serialize_with = "at")]
    received_at: &'a DateTime<Utc>,
    #[serde(serialize_with = "at_opt", skip_serializing_if = "Option::is_none")]
    sent_at: Option<&'a DateTime<Utc>>,
    auth: Auth,
    repaired: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ping: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    gitee_event: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pair: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    forms: Vec<Option<UpParamsForm>>,
    notification: &'a Notification,
}

fn at<S: Serializer>(at: &&DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    rfc3339::serialize(at, s)
}

fn at_opt<S: Serializer>(at: &Option<&DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339::serialize(at, s),
        None => s.serialize_none(),
    }
}

/// A journal line, as read.
#[derive(Deserialize)]
struct EntryIn {
    id: u64,
    #[serde(with = "rfc3339")]
    received_at: DateTime<Utc>,
    #[serde(default, with = "rfc3339::option")]
    sent_at: Option<DateTime<Utc>>,
    auth: Auth,
    #[serde(default)]
    repaired: bool,
    // Absent from lines written before they were kept, and from lines that did not have them.
    #[serde(default)]
    ping: bool,
    #[serde(default)]
    gitee_event: Option<Box<str>>,
    #[serde(default)]
    request_id: Option<Box<str>>,
    #[serde(default)]
    forms: Vec<Option<UpParamsForm>>,
    notification: Notification,
}

/// A journal line before its delivery has an id: everything but the id, serialized where the
/// delivery was received, so requests serialize in parallel and the one writer thread only puts
/// the id in front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unnumbered(Vec<u8>);

impl Unnumbered {
    /// The line for a delivery received at `received_at`; see [`line`].
    pub fn new(
        received_at: &DateTime<Utc>,
        sent_at: Option<&DateTime<Utc>>,
        auth: Auth,
        repaired: bool,
        headers: &Headers,
        notification: &Notification,
        fingerprint: Option<&Fingerprint>,
    ) -> serde_json::Result<Unnumbered> {
        let forms = up_params_forms(&notification.sources);
        let entry = EntryOut {
            received_at,
            sent_at,
            auth,
            repaired,
            ping: headers.ping,
            gitee_event: headers.gitee_event.as_deref(),
            request_id: headers.request_id.as_deref(),
            key: fingerprint.map(|f| guard::hex(&f.delivery)),
            pair: fingerprint.and_then(|f| f.pair.as_ref()).map(guard::hex),
            forms,
            notification,
        };
        serde_json::to_vec(&entry).map(Unnumbered)
    }

    /// Appends the whole line with `id` as its first field, and its newline, to `out`.
    pub fn write_numbered(&self, id: u64, out: &mut Vec<u8>) {
        // The rest is an object that always has `received_at`: its opening brace becomes
        // the comma after the id. Writing into a `Vec` cannot fail.
        let _ = write!(out, "{{\"id\":{id},");
        out.extend_from_slice(self.0.get(1..).unwrap_or_default());
        out.push(b'\n');
    }
}

/// The journal line for a delivery, with its newline.
pub fn line(delivery: &Delivery, fingerprint: Option<&Fingerprint>) -> serde_json::Result<Vec<u8>> {
    let unnumbered = Unnumbered::new(
        &delivery.received_at,
        delivery.sent_at.as_ref(),
        delivery.auth,
        delivery.repaired,
        &delivery.headers,
        &delivery.notification,
        fingerprint,
    )?;
    let mut out = Vec::new();
    unnumbered.write_numbered(delivery.id, &mut out);
    Ok(out)
}

/// Reads one journal line back into the delivery it was written from.
pub fn parse_line(line: &[u8]) -> serde_json::Result<Delivery> {
    // One check of the whole line is much cheaper than serde_json's check of every string
    // read from bytes; a line that is not UTF-8 gets the error reading it as bytes gives.
    let entry: EntryIn = match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text)?,
        Err(_) => serde_json::from_slice(line)?,
    };
    let mut notification = entry.notification;
    restore_up_params_forms(&mut notification.sources, entry.forms);
    Ok(Delivery {
        id: entry.id,
        received_at: entry.received_at,
        sent_at: entry.sent_at,
        auth: entry.auth,
        repaired: entry.repaired,
        headers: Headers {
            ping: entry.ping,
            gitee_event: entry.gitee_event,
            request_id: entry.request_id,
        },
        notification,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitee::parse_notification;
    use chrono::SubsecRound as _;

    fn delivery(id: u64, body: &[u8]) -> Delivery {
        let parsed = parse_notification(body).unwrap();
        Delivery {
            id,
            // The journal keeps milliseconds, as the receiver stamps them.
            received_at: Utc::now().trunc_subsecs(3),
            sent_at: DateTime::from_timestamp_millis(1_672_135_206_524),
            auth: Auth::Signature,
            repaired: parsed.repaired(),
            headers: Default::default(),
            notification: parsed.notification,
        }
    }

    fn sample(id: u64) -> Delivery {
        delivery(id, br#"{"job":{"pipelineId":1,"statusCode":"RUNNING"}}"#)
    }

    fn write(journal: &mut Journal, deliveries: &[Delivery]) {
        let mut lines = Vec::new();
        for d in deliveries {
            lines.extend(line(d, None).unwrap());
        }
        journal.append(&lines).unwrap();
    }

    fn ids(history: History) -> Vec<Result<u64, String>> {
        history
            .entries()
            .map(|e| e.map(|d| d.id).map_err(|s| s.to_string()))
            .collect()
    }

    #[test]
    fn kept_headers_survive_the_round_trip_and_lines_without_them_read_as_before() {
        let mut ping = sample(1);
        ping.headers = Headers {
            ping: true,
            gitee_event: Some("Push Hook".into()),
            request_id: Some("a3f1-0001".into()),
        };
        let written = line(&ping, None).unwrap();
        let text = std::str::from_utf8(&written).unwrap();
        assert!(
            text.contains(r#""ping":true,"gitee_event":"Push Hook","request_id":"a3f1-0001","#),
            "{text}"
        );
        assert_eq!(parse_line(&written).unwrap(), ping);

        let plain = sample(2);
        let written = line(&plain, None).unwrap();
        let text = std::str::from_utf8(&written).unwrap();
        assert!(
            !text.contains("ping") && !text.contains("gitee_event") && !text.contains("request_id"),
            "{text}"
        );
        // As a line was written before the headers were kept.
        let old = br#"{"id":3,"received_at":"2026-01-02T03:04:05.000Z","auth":"none","repaired":false,"notification":{"job":{}}}"#;
        assert_eq!(parse_line(old).unwrap().headers, Headers::default());
    }

    #[test]
    fn every_up_params_form_survives_the_round_trip() {
        let docs = include_bytes!("../../tests/fixtures/doc-sample.txt");
        for body in [
            &br#"{"sources":[{"sourceType":"PIPELINE","upParams":"{\"A\":\"1\"}"},{"sourceType":"GITEE_GO"},{"sourceType":"PIPELINE","upParams":"A=1"}]}"#[..],
            br#"{"sources":[{"sourceType":"PIPELINE","upParams":{"A":"1"}}]}"#,
            &docs[..],
        ] {
            let original = delivery(3, body);
            let text = line(&original, None).unwrap();
            assert_eq!(text.last(), Some(&b'\n'));
            assert_eq!(parse_line(&text).unwrap(), original);
        }
    }

    #[test]
    fn fields_of_another_shape_survive_the_round_trip_as_received() {
        let body = serde_json::json!({
            "job": {"pipelineId": 7, "buildNumber": 3.5, "jobName": ["a"]},
            "sources": [{"sourceType": "PIPELINE", "upParams": "{\"A\":\"1\"}"}, "s"],
            "globalParams": {"key1": "aaa"},
        });
        let original = delivery(4, body.to_string().as_bytes());
        assert_eq!(original.notification.misfits().len(), 4);
        let read = parse_line(&line(&original, None).unwrap()).unwrap();
        assert_eq!(read, original);
        assert_eq!(read.notification.misfits(), original.notification.misfits());
    }

    /// Lines exactly as the version before lenient shapes wrote them.
    #[test]
    fn lines_written_by_earlier_versions_still_read() {
        let old = concat!(
            r#"{"id":1,"received_at":"2026-12-01T22:06:38.274Z","sent_at":"2022-12-27T10:00:06.524Z","auth":"none","repaired":true,"key":"549ae82fd8c624f0dc549d68f9f67db3e1619cea981a8f1a23acc97987c443b6","forms":[null,"unescaped",null],"notification":{"job":{"pipelineId":183,"pipelineName":"Test Pipeline","stageName":"Build","jobName":"Java Build","buildNumber":19,"statusCode":"SUCC","statusName":"Success","pipelineUrl":"https://e.gitee.ru/oschina/projects/210455/pipelines/255039/history/426411/stages/741137/jobs/1018636?buildNumber=2"},"sources":[{"sourceType":"GITEE_GO","repoPath":"xiaoxuxuy/test","branch":"master","commitId":"123123"},{"sourceType":"PIPELINE","buildNumber":7,"upParams":{"GITEE_REPO":"git/test","GITEE_BRANCH":"master1","GITEE_COMMIT":"c2a64f66a9536200f9dc464427e793c3444b1113b"}},{"sourceType":"CODE_LEVEL_ARTIFACT","artifactRepo":"default","artifactVersion":"v1.0.0"}],"globalParams":[{"key":"test","value":"test1"},{"key":"test2","value":"test2"}]}}"#,
            "\n",
            r#"{"id":2,"received_at":"2026-12-01T22:06:38.294Z","auth":"none","repaired":false,"notification":{"job":{"pipelineId":7,"buildNumber":2,"statusCode":"FAIL","x":1},"sources":[{"sourceType":"SVN","rev":3}],"globalParams":[{"key":"A","value":"1"}],"hook":"push"}}"#,
        );
        let mut lines = old.lines();
        let docs = parse_line(lines.next().unwrap().as_bytes()).unwrap();
        let expected = parse_notification(include_bytes!("../../tests/fixtures/doc-sample.txt"));
        assert_eq!(docs.notification, expected.unwrap().notification);
        assert!(docs.repaired);
        let other = parse_line(lines.next().unwrap().as_bytes()).unwrap();
        assert_eq!(other.notification.job.pipeline_id, Some(7));
        assert_eq!(other.notification.extra["hook"], "push");
        assert_eq!(other.notification.misfits(), []);
        // Written again, each is the line it was but for the guard's fingerprint.
        let again = line(&other, None).unwrap();
        assert_eq!(
            String::from_utf8(again).unwrap().trim_end(),
            old.lines().nth(1).unwrap()
        );
    }

    #[test]
    fn entries_come_back_in_order_and_ids_resume_after_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/journal.jsonl");
        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
        assert_eq!(opened.last_id, 0);
        assert!(opened.history.is_empty());
        let mut journal = opened.journal;
        write(&mut journal, &[sample(1), sample(2)]);
        write(&mut journal, &[sample(3)]);
        drop(journal);
        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
        assert_eq!(opened.last_id, 3);
        assert!(opened.warnings.is_empty());
        assert_eq!(ids(opened.history), [Ok(1), Ok(2), Ok(3)]);
    }

    #[test]
    fn a_second_opener_is_refused_while_the_first_holds_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let first = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
        let err = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap_err();
        assert!(matches!(err, JournalError::InUse { .. }), "{err}");
        drop(first);
        assert!(Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).is_ok());
    }

    #[test]
    fn a_cut_short_last_line_is_dropped_and_a_bad_line_is_skipped_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut text = line(&sample(1), None).unwrap();
        text.extend(b"not json\n");
        text.extend(line(&sample(5), None).unwrap());
        let torn = line(&sample(6), None).unwrap();
        text.extend(&torn[..torn.len() / 2]);
        fs::write(&path, &text).unwrap();

        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
        assert_eq!(opened.last_id, 5);
        assert_eq!(opened.warnings.len(), 1, "{:?}", opened.warnings);
        assert!(opened.warnings[0].contains("cut short"));
        let read = ids(opened.history);
        assert_eq!(read.len(), 3);
        assert_eq!(read[0], Ok(1));
        let skipped = read[1].as_ref().unwrap_err();
        assert!(
            skipped.contains("line 2 is not a journal entry"),
            "{skipped}"
        );
        assert_eq!(read[2], Ok(5));
        // The next append starts on a line of its own.
        let mut journal = opened.journal;
        write(&mut journal, &[sample(6)]);
        drop(journal);
        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
        assert!(opened.warnings.is_empty());
        assert_eq!(opened.last_id, 6);
    }

    /// Every entry of `history` read on `workers` threads in chunks of about `chunk` bytes:
    /// ids, or the reason up to its parenthesis.
    fn read_in(history: History, workers: usize, chunk: usize) -> Vec<Result<u64, String>> {
        let total = history.total_bytes();
        let mut reader = history.read_in(workers, chunk);
        let mut read = Vec::new();
        while let Some(batch) = reader.next_batch() {
            read.extend(batch.entries.iter().map(|entry| match entry {
                Ok(delivery) => Ok(delivery.id),
                Err(skipped) => Err(skipped.to_string().split(" (").next().unwrap().to_owned()),
            }));
            reader.give_back(batch);
        }
        assert_eq!(reader.bytes_read(), total);
        read
    }

    #[test]
    fn chunks_on_any_number_of_threads_read_as_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let one = line(&sample(1), None).unwrap().len() as u64;
        let mut journal = Journal::open(&path, one * 3, Utc::now()).unwrap().journal;
        let mut first = line(&sample(1), None).unwrap();
        first.extend(b"not json\n");
        first.extend(line(&sample(2), None).unwrap());
        journal.append(&first).unwrap();
        // Rotated: the first batch is in `.1` now.
        let mut second = Vec::new();
        for id in 3..=6 {
            second.extend(line(&sample(id), None).unwrap());
        }
        second.extend(b"\n");
        let long = format!(r#"{{"job":{{"pipelineName":"{}"}}}}"#, "x".repeat(3000));
        second.extend(line(&delivery(7, long.as_bytes()), None).unwrap());
        second.extend(b"{}\n");
        for id in 8..=30 {
            second.extend(line(&sample(id), None).unwrap());
        }
        journal.append(&second).unwrap();
        drop(journal);

        let not_an_entry = |path: &Path, line: u64| {
            Err(format!(
                "journal {}: line {line} is not a journal entry",
                path.display()
            ))
        };
        let mut expected = vec![Ok(1), not_an_entry(&previous_path(&path), 2), Ok(2)];
        expected.extend((3..=7).map(Ok));
        expected.push(not_an_entry(&path, 7));
        expected.extend((8..=30).map(Ok));
        let history = || Journal::open(&path, one * 3, Utc::now()).unwrap().history;
        for workers in [0, 1, 2, 3] {
            for chunk in [1, 100, one as usize, 1000, 5000, CHUNK] {
                assert_eq!(
                    read_in(history(), workers, chunk),
                    expected,
                    "{workers} workers, chunks of {chunk}"
                );
            }
        }
    }

    #[test]
    fn rotation_keeps_one_previous_file_and_history_reads_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let one = line(&sample(1), None).unwrap().len() as u64;
        let mut journal = Journal::open(&path, one * 2, Utc::now()).unwrap().journal;
        for id in 1..=5 {
            write(&mut journal, &[sample(id)]);
        }
        drop(journal);
        // 1 2 | 3 4 | 5: the first file is gone, `.1` holds 3 and 4.
        assert!(previous_path(&path).exists());
        let opened = Journal::open(&path, one * 2, Utc::now()).unwrap();
        assert_eq!(opened.last_id, 5);
        assert_eq!(ids(opened.history), [Ok(3), Ok(4), Ok(5)]);
    }

    #[test]
    fn history_skips_through_a_delivery_in_either_file_and_only_that_very_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let deliveries: Vec<Delivery> = (1..=4000).map(sample).collect();
        let one = line(&deliveries[0], None).unwrap().len() as u64;
        let mut journal = Journal::open(&path, one * 2500, Utc::now())
            .unwrap()
            .journal;
        for batch in deliveries.chunks(100) {
            write(&mut journal, batch);
            if batch[0].id == 3501 {
                journal.append(b"not an entry\n").unwrap();
            }
        }
        drop(journal);
        let previous = fs::read(previous_path(&path)).unwrap();
        assert!(
            previous.len() as u64 > 8 * BISECT_UNTIL,
            "{}",
            previous.len()
        );
        let first_previous = parse_line(previous.split(|b| *b == b'\n').next().unwrap())
            .unwrap()
            .id;
        let first_current = first_previous + memchr::memchr_iter(b'\n', &previous).count() as u64;
        let resumed = |id: u64, received_at| {
            let mut history = Journal::open(&path, u64::MAX, Utc::now()).unwrap().history;
            let found = history.skip_through(id, received_at).unwrap();
            (found, ids(history))
        };

        for id in [
            1,
            2,
            1234,
            first_current - 1,
            first_current,
            3600,
            3999,
            4000,
        ] {
            let (found, after) = resumed(id, deliveries[id as usize - 1].received_at);
            assert!(found, "{id}");
            let mut expected: Vec<Result<u64, String>> = (id + 1..=4000).map(Ok).collect();
            if id <= 3600 {
                let at = expected.iter().position(|e| e == &Ok(3601)).unwrap();
                expected.insert(at, Err(String::new()));
            }
            assert_eq!(after.len(), expected.len(), "{id}");
            for (got, want) in after.iter().zip(&expected) {
                match (got, want) {
                    (Err(reason), Err(_)) => {
                        let resumed_in_this_file = id >= first_current;
                        assert_eq!(reason.contains(" after delivery "), resumed_in_this_file);
                        assert!(reason.contains("is not a journal entry"), "{reason}");
                    }
                    _ => assert_eq!(got, want, "{id}"),
                }
            }
        }
        let (found, after) = resumed(3600, deliveries[3599].received_at);
        assert!(found);
        assert_eq!(
            after[0],
            Err(format!(
                "journal {}: line 1 after delivery 3600 is not a journal entry (expected ident at line 1 column 2); skipped it",
                path.display()
            ))
        );

        let elsewhere = deliveries[0].received_at - chrono::TimeDelta::seconds(1);
        for (id, received_at) in [(2000, elsewhere), (4001, deliveries[3999].received_at)] {
            let (found, after) = resumed(id, received_at);
            assert!(!found, "{id}");
            assert_eq!(after.first(), Some(&Ok(first_previous)));
            assert_eq!(after.last(), Some(&Ok(4000)));
        }
    }

    #[test]
    fn history_is_what_was_there_at_open_whatever_is_appended_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now())
            .unwrap()
            .journal;
        write(&mut journal, &[sample(1)]);
        drop(journal);
        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
        let mut journal = opened.journal;
        write(&mut journal, &[sample(2)]);
        assert_eq!(ids(opened.history), [Ok(1)]);
    }

    #[test]
    fn recent_fingerprints_come_back_for_the_guard() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now())
            .unwrap()
            .journal;
        let fingerprint = Fingerprint::of(Some("1"), Some("t"), b"{}", true).unwrap();
        let mut old = sample(1);
        old.received_at = Utc::now() - chrono::TimeDelta::hours(1);
        let mut lines = line(&old, Some(&fingerprint)).unwrap();
        lines.extend(line(&sample(2), Some(&fingerprint)).unwrap());
        journal.append(&lines).unwrap();
        drop(journal);
        let since = Utc::now() - chrono::TimeDelta::minutes(10);
        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, since).unwrap();
        assert_eq!(opened.recent.len(), 1);
        assert_eq!(opened.recent[0].id, 2);
        assert_eq!(opened.recent[0].fingerprint, fingerprint);
    }

    #[test]
    fn lines_come_back_last_first_across_blocks_and_long_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines");
        let mut text = Vec::new();
        // Short lines straddling block boundaries at every offset, blank lines, lines longer
        // than a block and than what is held, and a last piece with no newline.
        for n in 0..3000 {
            text.extend(format!("{n}{}\n", "x".repeat(n * 7 % 113)).bytes());
            if n % 500 == 0 {
                text.extend(b"\n");
                text.extend("y".repeat(3 * BACK_BLOCK + n).bytes());
                text.extend(b"\n");
            }
        }
        text.extend(b"no newline");
        fs::write(&path, &text).unwrap();
        let file = File::open(&path).unwrap();
        for len in [text.len(), text.len() - 10, 1, 0] {
            let expected: Vec<&[u8]> = text[..len].split_inclusive(|&b| b == b'\n').rev().collect();
            let mut lines = LinesBack::new(&file, len as u64);
            let mut read = Vec::new();
            while let Some(line) = lines.next_line().unwrap() {
                read.push(line.to_vec());
            }
            assert_eq!(read, expected, "{len} bytes");
        }
    }

    /// A delivery received `ago` before now, with a signed fingerprint of its own.
    fn signed(id: u64, body: &[u8], ago: chrono::TimeDelta) -> (Vec<u8>, Recent) {
        let mut d = delivery(id, body);
        d.received_at -= ago;
        let fingerprint = Fingerprint::of(Some(&id.to_string()), Some("t"), body, true).unwrap();
        let recent = Recent {
            id,
            received_at: d.received_at,
            fingerprint,
        };
        (line(&d, Some(&fingerprint)).unwrap(), recent)
    }

    fn ten_minutes_ago() -> DateTime<Utc> {
        Utc::now() - chrono::TimeDelta::minutes(10)
    }

    #[test]
    fn recent_deliveries_come_back_behind_megabytes_of_bodies_and_from_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let big = format!(
            r#"{{"job":{{"pipelineId":1}},"padding":"{}"}}"#,
            "p".repeat(900 * 1024)
        );
        // Two small lines and six of 900 KiB, then two more: past 6 MiB, so the journal was
        // rotated, and 1 and 2 are in `.1` with over 4 MiB after them there, and more after
        // that in the journal.
        let mut journal = Journal::open(&path, 6 << 20, Utc::now()).unwrap().journal;
        let mut expected = Vec::new();
        for id in 1..=10 {
            let body: &[u8] = if id > 2 {
                big.as_bytes()
            } else {
                br#"{"job":{"pipelineId":1}}"#
            };
            let (line, recent) = signed(id, body, chrono::TimeDelta::zero());
            journal.append(&line).unwrap();
            expected.push(recent);
        }
        drop(journal);
        assert!(fs::metadata(previous_path(&path)).unwrap().len() > 5 << 20);
        let opened = Journal::open(&path, 6 << 20, ten_minutes_ago()).unwrap();
        assert_eq!(opened.last_id, 10);
        assert_eq!(opened.recent, expected);
        assert!(fs::metadata(&path).unwrap().len() > 1 << 20);
    }

    #[test]
    fn reading_back_stops_at_the_first_line_received_before_since() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let minutes = chrono::TimeDelta::minutes;
        // In `.1`: 1, recent by its stamp but behind an old line, so not read.
        fs::write(previous_path(&path), signed(1, b"{}", minutes(0)).0).unwrap();
        let mut text = Vec::new();
        let mut expected = Vec::new();
        for (id, ago) in [(2, 0), (3, 60), (4, 1), (5, 0)] {
            let (line, recent) = signed(id, b"{}", minutes(ago));
            text.extend(line);
            if id > 3 {
                expected.push(recent);
            }
        }
        text.extend(b"not an entry\n");
        fs::write(&path, text).unwrap();
        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, ten_minutes_ago()).unwrap();
        assert_eq!(opened.last_id, 5);
        assert_eq!(opened.recent, expected);
        drop(opened);
        // Nothing recent: the last id still comes back, from the previous file if need be.
        fs::write(&path, b"").unwrap();
        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now() + minutes(1)).unwrap();
        assert_eq!((opened.last_id, opened.recent), (1, Vec::new()));
    }

    #[test]
    fn no_more_fingerprints_come_back_than_the_guard_keeps_and_the_newest_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let total = Guard::MAX_ENTRIES as u64 + 10;
        let mut text = Vec::new();
        for id in 1..=total {
            text.extend(signed(id, b"{}", chrono::TimeDelta::zero()).0);
        }
        fs::write(&path, text).unwrap();
        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, ten_minutes_ago()).unwrap();
        assert_eq!(opened.last_id, total);
        let ids: Vec<u64> = opened.recent.iter().map(|recent| recent.id).collect();
        assert_eq!(ids, (11..=total).collect::<Vec<_>>());
    }

    #[test]
    fn a_journal_at_the_largest_id_is_refused_in_one_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        fs::write(&path, line(&sample(u64::MAX - 1), None).unwrap()).unwrap();
        let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
        assert_eq!(opened.last_id, u64::MAX - 1);
        drop(opened);
        let mut text = line(&sample(u64::MAX), None).unwrap();
        text.extend(b"not an entry\n");
        fs::write(&path, text).unwrap();
        let err = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the journal {} ends at delivery id 18446744073709551615, the largest id there is, so no id is left for the next delivery; move it aside or choose another with --journal FILE",
                path.display()
            )
        );
    }

    #[test]
    fn a_device_is_written_but_never_read_and_a_full_one_fails_cleanly() {
        let opened = Journal::open(Path::new("/dev/full"), 10, Utc::now()).unwrap();
        assert!(opened.history.is_empty());
        let mut journal = opened.journal;
        let err = journal.append(b"{}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot store the delivery: no space left on device"
        );
    }

    #[test]
    fn an_impossible_place_is_one_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        fs::write(&file, b"").unwrap();
        let path = file.join("journal.jsonl");
        let err = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot open the journal {}: not a directory",
                path.display()
            )
        );
    }
}
