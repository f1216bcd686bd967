//! `pipetop resend`: which journaled deliveries to post again. They are read from the journal
//! and its previous file, oldest first, without taking the journal's lock, so a watcher may be
//! running on it meanwhile; posting is [`super::forward::post`]'s, as for `--forward-to`.

use crate::delivery::Delivery;
use crate::io_reason;
use crate::store::journal::{parse_line, previous_path};
use chrono::{DateTime, Utc};
use std::io::{BufRead as _, BufReader};
use std::path::Path;

/// Which deliveries: every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub ids: Vec<u64>,
    pub pipeline: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

impl Selection {
    fn matches(&self, delivery: &Delivery) -> bool {
        (self.ids.is_empty() || self.ids.contains(&delivery.id))
            && self
                .pipeline
                .as_deref()
                .is_none_or(|name| delivery.notification.job.pipeline_name.as_deref() == Some(name))
            && self.since.is_none_or(|since| delivery.received_at >= since)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the journal {}: {reason}", .path)]
pub struct ReadError {
    path: String,
    reason: String,
}

/// The deliveries `selection` names, oldest first, and a sentence for each line that did not
/// read.
pub fn select(
    journal: &Path,
    selection: &Selection,
) -> Result<(Vec<Delivery>, Vec<String>), ReadError> {
    let mut chosen = Vec::new();
    let mut skipped = Vec::new();
    for path in [previous_path(journal), journal.to_owned()] {
        let shown = crate::text::clean_long(&path.display().to_string()).into_owned();
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && path != journal => continue,
            Err(err) => {
                return Err(ReadError {
                    path: shown,
                    reason: io_reason(&err),
                });
            }
        };
        for (number, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line = line.map_err(|err| ReadError {
                path: shown.clone(),
                reason: io_reason(&err),
            })?;
            if line.is_empty() {
                continue;
            }
            match parse_line(&line) {
                Ok(delivery) if selection.matches(&delivery) => chosen.push(delivery),
                Ok(_) => {}
                Err(err) => skipped.push(format!("{shown} line {}: {err}", number + 1)),
            }
        }
    }
    Ok((chosen, skipped))
}
