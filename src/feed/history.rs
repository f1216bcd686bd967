//! A viewer's history: the journal's deliveries after an id (and since a time), read from the
//! files themselves, the previous rotation first, while the writer goes on appending.
//!
//! A line is skipped by its id, read from the `{"id":N,` the writer puts first, without
//! parsing the rest, so a reconnect near the end of a large journal costs a scan, not a
//! parse. A last line without its newline is being written: it is left for the live feed,
//! which carries it once it is synced. A line that does not read is skipped, as at start.

use crate::delivery::Delivery;
use crate::store::journal::{parse_line, previous_path};
use chrono::{DateTime, Utc};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read as _};
use std::ops::ControlFlow;
use std::path::Path;

/// The longest line read; the journal's lines are bodies of at most `--max-body`, a few times
/// over at worst after escaping.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// Calls `each` with every delivery in the journal at `path` (and its previous rotation)
/// whose id is above `after` and which was received at or after `since`, in order, until it
/// breaks. Returns the highest id read, whether sent or skipped (0 for none).
pub fn read(
    path: &Path,
    after: u64,
    since: Option<DateTime<Utc>>,
    mut each: impl FnMut(Delivery) -> ControlFlow<()>,
) -> io::Result<u64> {
    let mut last = 0;
    for file in [previous_path(path), path.to_path_buf()] {
        let file = match File::open(&file) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        if read_file(file, after, since, &mut last, &mut each)?.is_break() {
            break;
        }
    }
    Ok(last)
}

fn read_file(
    file: File,
    after: u64,
    since: Option<DateTime<Utc>>,
    last: &mut u64,
    each: &mut impl FnMut(Delivery) -> ControlFlow<()>,
) -> io::Result<ControlFlow<()>> {
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if read == 0 || line.last() != Some(&b'\n') {
            return Ok(ControlFlow::Continue(()));
        }
        let Some(id) = leading_id(&line) else {
            continue;
        };
        if id <= *last {
            continue;
        }
        if id <= after {
            *last = id;
            continue;
        }
        let Ok(delivery) = parse_line(&line) else {
            continue;
        };
        *last = id;
        if since.is_some_and(|since| delivery.received_at < since) {
            continue;
        }
        if each(delivery).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
}

/// The id of a line as the writer puts it: `{"id":N,`.
fn leading_id(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"id\":")?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::journal::line;
    use crate::testing::delivery;
    use std::io::Write as _;

    fn journal_of(dir: &Path, ids: std::ops::RangeInclusive<u64>) -> std::path::PathBuf {
        let path = dir.join("journal.jsonl");
        let mut file = File::create(&path).unwrap();
        for id in ids {
            file.write_all(&line(&delivery(id), None).unwrap()).unwrap();
        }
        path
    }

    fn ids(path: &Path, after: u64) -> (Vec<u64>, u64) {
        let mut seen = Vec::new();
        let last = read(path, after, None, |d| {
            seen.push(d.id);
            ControlFlow::Continue(())
        })
        .unwrap();
        (seen, last)
    }

    #[test]
    fn history_after_an_id_is_what_follows_it_in_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_of(dir.path(), 1..=5);
        std::fs::rename(&path, previous_path(&path)).unwrap();
        journal_of(dir.path(), 6..=9);
        assert_eq!(ids(&path, 0), ((1..=9).collect(), 9));
        assert_eq!(ids(&path, 4), ((5..=9).collect(), 9));
        assert_eq!(ids(&path, 9), (vec![], 9));
    }

    #[test]
    fn a_line_still_being_written_and_a_damaged_one_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_of(dir.path(), 1..=3);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"{\"id\":4,\"received_at\":\"garbage\"}\n")
            .unwrap();
        let five = line(&delivery(5), None).unwrap();
        file.write_all(&five[..five.len() / 2]).unwrap();
        assert_eq!(ids(&path, 0), (vec![1, 2, 3], 3));
    }

    #[test]
    fn since_bounds_the_history_by_time_and_the_id_still_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_of(dir.path(), 1..=3);
        let mut seen = 0;
        let last = read(
            &path,
            0,
            Some(Utc::now() + chrono::Duration::hours(1)),
            |_| {
                seen += 1;
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!((seen, last), (0, 3));
    }
}
