//! Reads the journal behind the writer, for the publisher: each line after a given id, as the
//! message it becomes (subject, `Nats-Msg-Id`, headless JSON line), through the previous file
//! and then the journal, and on across a rotation. The journal is the publisher's only source,
//! so a delivery published live and one published from a backlog after a restart are the very
//! same message.

use super::Link;
use crate::delivery::Ingest;
use crate::store::guard;
use crate::store::journal::{parse_line, previous_path};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One delivery as it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u64,
    pub subject: String,
    /// The delivery's fingerprint in hex, as duplicate detection has it; for a delivery
    /// without one (no timestamp), the hash of its line, so republishing it is still one.
    pub msg_id: String,
    pub payload: Vec<u8>,
}

/// What the id and fingerprint of a line are, without the rest.
#[derive(Deserialize)]
struct Keyed {
    id: u64,
    #[serde(default)]
    key: Option<String>,
}

/// Where the follower reads.
pub struct Follower {
    path: PathBuf,
    /// The previous file, still to read, then the journal.
    files: Vec<File>,
    /// Read but not yet a whole line.
    partial: Vec<u8>,
    /// Lines of journals this follower could not read, one sentence each, to be said once.
    pub skipped: Vec<String>,
}

impl Follower {
    /// Reads from the start of the previous file; lines up to the id asked for are skipped
    /// by [`Follower::next`].
    pub fn open(path: &Path) -> io::Result<Follower> {
        let mut files = Vec::new();
        if let Ok(previous) = File::open(previous_path(path)) {
            files.push(previous);
        }
        match File::open(path) {
            Ok(file) => files.push(file),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        files.reverse();
        Ok(Follower {
            path: path.to_owned(),
            files,
            partial: Vec::new(),
            skipped: Vec::new(),
        })
    }

    /// Up to `max` messages of the lines after id `after` that are on disk now.
    pub fn next(&mut self, link: &Link, after: u64, max: usize) -> io::Result<Vec<Message>> {
        let mut out = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        while out.len() < max {
            let taken = self.take_lines(link, after, max - out.len(), &mut out);
            if taken {
                continue;
            }
            let Some(file) = self.files.last_mut() else {
                self.reopen()?;
                if self.files.is_empty() {
                    break;
                }
                continue;
            };
            let read = file.read(&mut chunk)?;
            if read > 0 {
                self.partial.extend_from_slice(&chunk[..read]);
                continue;
            }
            if self.files.len() > 1 {
                self.files.pop();
                self.partial.clear();
                continue;
            }
            if !self.rotated()? {
                break;
            }
            // Whatever the writer put in the old file came before it renamed it.
            if let Some(file) = self.files.last_mut() {
                file.read_to_end(&mut self.partial)?;
            }
            self.take_lines(link, after, usize::MAX, &mut out);
            self.files.clear();
            self.partial.clear();
        }
        Ok(out)
    }

    /// Moves whole lines from `partial` to `out`, at most `max` more messages; false when
    /// there was none.
    fn take_lines(&mut self, link: &Link, after: u64, max: usize, out: &mut Vec<Message>) -> bool {
        let full = out.len().saturating_add(max);
        let mut start = 0;
        let mut any = false;
        while out.len() < full {
            let Some(end) = self.partial[start..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let line = &self.partial[start..start + end];
            start += end + 1;
            any = true;
            if let Some(message) = message(link, line, after, &mut self.skipped) {
                out.push(message);
            }
        }
        self.partial.drain(..start);
        any
    }
}

/// The message of a journal line after id `after`; a line that does not read is said in
/// `skipped`.
fn message(link: &Link, line: &[u8], after: u64, skipped: &mut Vec<String>) -> Option<Message> {
    let keyed: Keyed = serde_json::from_slice(line).ok()?;
    if keyed.id <= after {
        return None;
    }
    let delivery = match parse_line(line) {
        Ok(delivery) => delivery,
        Err(err) => {
            skipped.push(format!(
                "journal line of delivery {} cannot be published: {err}",
                keyed.id
            ));
            return None;
        }
    };
    let pipeline = delivery
        .notification
        .job
        .pipeline_id
        .map_or_else(String::new, |id| id.to_string());
    let payload = crate::headless::line(&Ingest::Accepted(Arc::new(delivery))).into_bytes();
    let msg_id = match keyed.key.as_deref().and_then(guard::from_hex) {
        Some(digest) => guard::hex(&digest),
        None => guard::hex(&Sha256::digest(&payload).into()),
    };
    Some(Message {
        id: keyed.id,
        subject: link.subject(&pipeline),
        msg_id,
        payload,
    })
}

impl Follower {
    /// The journal at the path is another file than the one being read.
    fn rotated(&self) -> io::Result<bool> {
        let Some(file) = self.files.last() else {
            return Ok(true);
        };
        match std::fs::metadata(&self.path) {
            Ok(now) => Ok(!same_file(&file.metadata()?, &now)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn reopen(&mut self) -> io::Result<()> {
        match File::open(&self.path) {
            Ok(file) => self.files.push(file),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        Ok(())
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Elsewhere a rotation is not seen while running; the next start reads on from the cursor.
#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn link() -> Link {
        Link {
            url: "nats://127.0.0.1:4222".into(),
            creds: None,
            stream: "PIPETOP".into(),
            subject_prefix: "pipetop".into(),
        }
    }

    fn write_lines(path: &Path, ids: std::ops::RangeInclusive<u64>) {
        let mut file = File::create(path).unwrap();
        for id in ids {
            let line = crate::store::journal::line(&crate::testing::delivery(id), None).unwrap();
            file.write_all(&line).unwrap();
        }
    }

    #[test]
    fn a_backlog_across_a_rotation_is_read_whole_in_batches() {
        // Many 64 KiB reads of the previous file, batches of every size the publisher asks
        // for, and a start in the middle of the previous file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        write_lines(&previous_path(&path), 1..=3000);
        write_lines(&path, 3001..=3500);
        for batch in [1, 2, 7, 256] {
            let mut follower = Follower::open(&path).unwrap();
            let mut after = 100;
            loop {
                let messages = follower.next(&link(), after, batch).unwrap();
                if messages.is_empty() {
                    break;
                }
                assert!(messages.len() <= batch);
                for message in messages {
                    assert_eq!(message.id, after + 1, "batches of {batch}");
                    after = message.id;
                }
            }
            assert_eq!(after, 3500, "batches of {batch}");
        }
    }
}
