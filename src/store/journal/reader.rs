//! The history reader that uses every core: one thread reads the files in chunks of whole lines
//! and deals them to parsing threads in turn, and takes the parsed chunks back in the same turn,
//! which keeps the entries in file order. A batch the consumer is done with is handed back to
//! the thread that parsed it, to be freed there ([`Reader::give_back`]).
//!
//! Both are kept because a start over a large journal waits for them. `examples/replay.rs
//! load` over 1,000,000 generated lines (800 MB), alternating builds, 2 December, load average
//! 3.5-4: this reader 4.3, 4.6, 4.9 s; parsing on the replay thread alone (`History::read(0)`)
//! 5.9, 6.2, 6.2, 6.8 s (+35 % at the median); parsing threads but every batch freed where it
//! was last used 12.4, 14.4 s (freeing on another thread than the allocating one makes both
//! queue on glibc's arena lock).

use super::Part;
use super::line::parse_line;
use crate::delivery::Delivery;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, mpsc};

/// How many threads parse history: every core, as loading history is what a start waits for,
/// but no more than a few, since the consumer applying the entries needs a core too.
pub fn parsers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// How much of a file one chunk holds: about a thousand lines, enough that handing a chunk
/// between threads costs nothing next to parsing it.
pub(super) const CHUNK: usize = 1 << 20;

/// An entry that could not be read back; shown as one sentence naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub(super) path: Arc<Path>,
    /// The line's number in its file (for [`Why::Unreadable`], the lines read before), counted
    /// from delivery `after`'s line when the file was read from there.
    pub(super) line: u64,
    pub(super) after: Option<u64>,
    pub(super) why: Why,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Why {
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

pub(super) struct Worker {
    jobs: mpsc::Sender<Chore>,
    parsed: mpsc::Receiver<ParsedChunk>,
}

impl Worker {
    pub(super) fn start(n: usize) -> io::Result<Worker> {
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

/// Reads [`History`](super::History) in batches; see [`History::read`](super::History::read).
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
    /// Reads `parts` in chunks of about `chunk` bytes, parsed on `workers` threads.
    pub(super) fn new(parts: Vec<Part>, workers: usize, chunk: usize) -> Reader {
        let workers = (0..workers)
            .filter_map(|n| Worker::start(n).ok())
            .collect::<Vec<_>>();
        Reader {
            parts: parts.into_iter(),
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

    /// Bytes of the entries handed out so far, for progress against [`History::total_bytes`](super::History::total_bytes).
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
