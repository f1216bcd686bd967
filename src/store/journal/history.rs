//! Reading the history back: which lines a start reads (bisecting to the saved screen's last
//! delivery), and the entries they hold, one by one or as batches from [`Reader`].

use super::Part;
use super::line::TailEntry;
use super::reader::{CHUNK, Entry, Reader, parsers};
use chrono::{DateTime, Utc};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

/// The entries that were in the journal when it was opened: the previous file, then the
/// journal, each up to the length it had then, so deliveries stored since are never read twice.
#[derive(Debug, Default)]
pub struct History {
    pub(super) parts: Vec<Part>,
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
    /// (restored from the saved screen). Returns false, leaving the history whole, when the journal
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
        Reader::new(self.parts, workers, CHUNK)
    }
}

/// Below this many bytes, bisecting a file for a line gives way to reading it line by line.
pub(super) const BISECT_UNTIL: u64 = 64 * 1024;

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

/// Reads [`History`] entry by entry.
pub struct Entries {
    pub(super) reader: Reader,
    pub(super) batch: std::vec::IntoIter<Entry>,
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
