//! A measurement hook: with `PIPETOP_FRAME_LOG=FILE` set, the TUI appends one line per frame it
//! has drawn and flushed to the terminal, `<unix micros flushed> <highest delivery id applied>
//! <unix micros started>`, so a benchmark can tell when each delivery became visible and how far
//! apart frames were started (see BENCHMARKS.md). Unset, nothing is opened and nothing is
//! written.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable naming the file.
pub const ENV: &str = "PIPETOP_FRAME_LOG";

/// The file named by [`ENV`] could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open {ENV} file {}: {}", path.display(), crate::io_reason(source))]
pub struct FrameLogError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

#[derive(Debug)]
pub struct FrameLog {
    out: BufWriter<File>,
}

impl FrameLog {
    /// The log named by [`ENV`], if it is set; an error names the file in one sentence.
    pub fn from_env() -> Result<Option<FrameLog>, FrameLogError> {
        match std::env::var_os(ENV) {
            Some(path) if !path.is_empty() => FrameLog::open(Path::new(&path)).map(Some),
            _ => Ok(None),
        }
    }

    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: &Path) -> Result<FrameLog, FrameLogError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| FrameLogError {
                path: path.to_owned(),
                source,
            })?;
        Ok(FrameLog {
            out: BufWriter::new(file),
        })
    }

    /// Records a frame, started at `started`, that has just reached the terminal. Written
    /// through at once, so the file is complete even if pipetop is killed, at one small write
    /// per frame.
    pub fn record(&mut self, highest_delivery: u64, started: SystemTime) -> std::io::Result<()> {
        let micros = |at: SystemTime| at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
        let flushed = micros(SystemTime::now());
        let started = micros(started);
        writeln!(self.out, "{flushed} {highest_delivery} {started}")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_frame_is_one_line_of_time_and_delivery_id_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frames.log");
        std::fs::write(&path, "1 0\n").unwrap();
        let mut log = FrameLog::open(&path).unwrap();
        let started = SystemTime::now();
        log.record(0, started).unwrap();
        log.record(42, SystemTime::now()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], "1 0");
        let fields: Vec<Vec<u128>> = lines[1..]
            .iter()
            .map(|line| line.split(' ').map(|f| f.parse().unwrap()).collect())
            .collect();
        assert_eq!(fields[0][1], 0);
        assert_eq!(fields[1][1], 42);
        assert!(fields[0][0] > 1_600_000_000_000_000, "{text}");
        assert!(fields[0][0] <= fields[1][0], "{text}");
        assert!(
            fields[0][2] <= fields[0][0],
            "started after it was flushed: {text}"
        );
        assert!(fields[0][2] <= fields[1][2], "{text}");
    }

    #[test]
    fn an_unopenable_file_is_one_sentence_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("frames.log");
        let err = FrameLog::open(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot open PIPETOP_FRAME_LOG file {}: no such file or directory",
                path.display()
            )
        );
    }
}
