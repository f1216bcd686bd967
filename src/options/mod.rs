//! The settings pipetop runs with: the command line, then the environment, then the config
//! file, then clap's defaults. The file is read against clap's own definitions ([`file`]), so
//! every long flag is a key without a list kept by hand; what the file settles is handed to
//! clap as arguments, so each value goes through the same parser as on the command line.
//! [`report`] says where each setting came from, for `pipetop config`.

pub mod file;
pub mod report;
#[cfg(test)]
mod tests;

use crate::cli::{Cli, SECRET_ENV};
use crate::io_reason;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _};
use file::Entry;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Why the settings could not be settled; each is one sentence, and exit 2.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// The command line itself is wrong, or asks for help: clap prints and exits.
    #[error("{0}")]
    CommandLine(#[source] clap::Error),
    #[error("cannot read the config file {}: {reason}", .path.display())]
    Read { path: PathBuf, reason: String },
    #[error("the config file {} is not valid TOML at line {line}: {reason}", .path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("the config file {}, line {line}, key {key}: {reason}", .path.display())]
    Value {
        path: PathBuf,
        line: usize,
        key: String,
        reason: String,
    },
    #[error(
        "the config file {} holds a secret but other users can read it; run chmod 600 on it, or name a secret-file instead", .path.display()
    )]
    Exposed { path: PathBuf },
    #[error("the config file {} does not fit the command line: {reason}", .path.display())]
    Conflict { path: PathBuf, reason: String },
}

/// Which file is read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--config FILE` or `PIPETOP_CONFIG`: it must exist.
    Named(PathBuf),
    /// The platform's config directory; a missing file is no file.
    Default(PathBuf),
    /// `--no-config`, or no config directory on this platform.
    None,
}

impl Source {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Named(path) | Source::Default(path) => Some(path),
            Source::None => None,
        }
    }
}

/// The settled command line, and what the file contributed to it.
pub struct Settled {
    pub cli: Cli,
    pub source: Source,
    /// The file's entries that were used, in the order they were handed to clap.
    pub applied: Vec<Entry>,
    /// The matches the command line was settled into, for [`report`].
    pub matches: ArgMatches,
}

/// `$XDG_CONFIG_HOME/pipetop/config.toml` on Linux, the platform's config directory elsewhere.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "pipetop")
        .map(|dirs| dirs.config_dir().join("config.toml"))
}

/// Settles `argv` (with the program name first) against the config file it names.
pub fn settle(argv: Vec<OsString>) -> Result<Settled, OptionsError> {
    let root = Cli::command();
    let matches = root
        .clone()
        .try_get_matches_from(&argv)
        .map_err(OptionsError::CommandLine)?;
    let source = source(&matches);
    let (target, target_matches) = match matches.subcommand() {
        Some((name, sub)) => (Some(name), sub),
        None => (None, &matches),
    };
    if let Some(name) = target {
        refuse_watch_flags(&root, &matches, name)?;
    }
    // `pipetop config` reports the watching settings, as `pipetop` alone would run.
    if target == Some("config") {
        let entries = load(&source, &root)?;
        let bare = vec![argv.first().cloned().unwrap_or_else(|| "pipetop".into())];
        let bare_matches = root
            .clone()
            .try_get_matches_from(&bare)
            .map_err(OptionsError::CommandLine)?;
        let applied = applicable(&root, None, &bare_matches, &entries);
        let (_, settled) = reparse(&source, bare, &applied)?;
        let cli = Cli::from_arg_matches(&matches).map_err(OptionsError::CommandLine)?;
        return Ok(Settled {
            cli,
            source,
            applied,
            matches: settled,
        });
    }
    let command = match target {
        Some(name) => root.find_subcommand(name).unwrap_or(&root),
        None => &root,
    };
    let settable = command
        .get_arguments()
        .any(|arg| file::long_flag(command, arg.get_long().unwrap_or_default()).is_some());
    let entries = if settable {
        load(&source, &root)?
    } else {
        Vec::new()
    };
    let applied = applicable(command, target, target_matches, &entries);
    let (cli, matches) = reparse(&source, argv, &applied)?;
    Ok(Settled {
        cli,
        source,
        applied,
        matches,
    })
}

/// The watcher's flags mean nothing to a subcommand; given before one, they are a mistake to say
/// rather than ignore. (The config file's own flags are global: they may come anywhere.)
fn refuse_watch_flags(
    root: &clap::Command,
    matches: &ArgMatches,
    name: &str,
) -> Result<(), OptionsError> {
    let given = root.get_arguments().find(|arg| {
        !arg.is_global_set()
            && matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
    });
    match given.and_then(|arg| arg.get_long()) {
        Some(long) => Err(OptionsError::CommandLine(root.clone().error(
            clap::error::ErrorKind::ArgumentConflict,
            format!("--{long} is a flag of pipetop itself, not of pipetop {name}"),
        ))),
        None => Ok(()),
    }
}

fn source(matches: &ArgMatches) -> Source {
    if matches.get_flag("no_config") {
        return Source::None;
    }
    match matches.get_one::<PathBuf>("config") {
        Some(path) => Source::Named(path.clone()),
        None => default_path().map_or(Source::None, Source::Default),
    }
}

/// Reads and checks the file, if there is one.
fn load(source: &Source, root: &clap::Command) -> Result<Vec<Entry>, OptionsError> {
    let (path, must_exist) = match source {
        Source::Named(path) => (path, true),
        Source::Default(path) => (path, false),
        Source::None => return Ok(Vec::new()),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if !must_exist && err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(err) => {
            return Err(OptionsError::Read {
                path: path.clone(),
                reason: io_reason(&err),
            });
        }
    };
    let entries = file::read(path, &text, root)?;
    if entries.iter().any(|entry| entry.key.ends_with("secret")) && readable_by_others(path) {
        return Err(OptionsError::Exposed { path: path.clone() });
    }
    Ok(entries)
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o044 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}

/// The entries the file decides for `command`: those the command line and the environment
/// leave open, and that conflict with nothing given there. A subcommand's own table wins over
/// the top-level keys.
fn applicable(
    command: &clap::Command,
    target: Option<&str>,
    matches: &ArgMatches,
    entries: &[Entry],
) -> Vec<Entry> {
    let given = |id: &str| {
        matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let mut chosen: Vec<Entry> = Vec::new();
    let own = entries
        .iter()
        .filter(|entry| entry.command.as_deref() == target && target.is_some());
    let shared = entries.iter().filter(|entry| entry.command.is_none());
    for entry in own.chain(shared) {
        if chosen.iter().any(|c| c.key == entry.key) {
            continue;
        }
        let Some(arg) = file::long_flag(command, &entry.key) else {
            continue;
        };
        let hand_read = HAND_READ_ENV.contains(&entry.key.as_str())
            && std::env::var_os(SECRET_ENV).is_some_and(|value| !value.is_empty());
        let conflicting = command
            .get_arg_conflicts_with(arg)
            .iter()
            .any(|other| given(other.get_id().as_str()));
        if !given(arg.get_id().as_str()) && !hand_read && !conflicting {
            chosen.push(entry.clone());
        }
    }
    chosen
}

/// Flags whose environment variable is read by pipetop rather than by clap (so that it does not
/// clash with `--secret-file`); the environment still wins over the file for them.
pub const HAND_READ_ENV: &[&str] = &["secret", "secret-file"];

/// Parses the command line again with the file's arguments added (before any `--`).
fn reparse(
    source: &Source,
    mut argv: Vec<OsString>,
    applied: &[Entry],
) -> Result<(Cli, ArgMatches), OptionsError> {
    let at = argv
        .iter()
        .position(|arg| arg == "--")
        .unwrap_or(argv.len());
    let extra = applied
        .iter()
        .flat_map(|entry| entry.args.iter().map(OsString::from));
    argv.splice(at..at, extra);
    let conflict = |err: clap::Error| match source.path() {
        Some(path) if !applied.is_empty() => OptionsError::Conflict {
            path: path.to_owned(),
            reason: file::reason(&err),
        },
        _ => OptionsError::CommandLine(err),
    };
    let matches = Cli::command()
        .try_get_matches_from(&argv)
        .map_err(conflict)?;
    let cli = Cli::from_arg_matches(&matches).map_err(conflict)?;
    Ok((cli, matches))
}
