//! `pipetop config`: the settings a bare `pipetop` would run with, and where each came from.
//! The secret is shown as set or unset only.

use super::{Settled, Source};
use crate::cli::{Cli, SECRET_ENV};
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory as _};
use std::fmt::Write as _;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    Environment(String),
    File { line: usize },
    Default,
    Unset,
}

/// One long flag of the top-level command, as settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    /// As TOML would write it; `set`/`unset` for the secret.
    pub value: String,
    pub origin: Origin,
}

/// Every long flag of the top-level command, in the order `--help` lists them.
pub fn settings(settled: &Settled) -> Vec<Setting> {
    let root = Cli::command();
    let secret_env = std::env::var_os(SECRET_ENV).is_some_and(|value| !value.is_empty());
    let mut settings = Vec::new();
    for arg in root.get_arguments() {
        let Some(key) = arg.get_long() else { continue };
        if super::file::long_flag(&root, key).is_none() {
            continue;
        }
        let id = arg.get_id().as_str();
        let applied = settled
            .applied
            .iter()
            .find(|entry| entry.command.is_none() && entry.key == key);
        let origin = match (applied, settled.matches.value_source(id)) {
            (Some(entry), _) => Origin::File { line: entry.line },
            (None, Some(ValueSource::CommandLine)) => Origin::CommandLine,
            (None, Some(ValueSource::EnvVariable)) => Origin::Environment(
                arg.get_env()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            (None, Some(ValueSource::DefaultValue)) => Origin::Default,
            (None, _) if key == "secret" && secret_env => Origin::Environment(SECRET_ENV.into()),
            (None, _) => Origin::Unset,
        };
        let raw: Vec<String> = settled
            .matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let value = if key.ends_with("secret") {
            if origin == Origin::Unset {
                "unset"
            } else {
                "set"
            }
            .to_owned()
        } else if key == "nats" && !raw.is_empty() {
            // A token or password in the URL is not shown.
            quoted(&crate::nats::shown(&raw.join(" ")))
        } else if matches!(arg.get_action(), ArgAction::SetTrue) {
            raw.first().cloned().unwrap_or_else(|| "false".into())
        } else if raw.is_empty() {
            "unset".to_owned()
        } else if matches!(arg.get_action(), ArgAction::Append) {
            format!(
                "[{}]",
                raw.iter().map(|v| quoted(v)).collect::<Vec<_>>().join(", ")
            )
        } else {
            quoted(&raw.join(" "))
        };
        settings.push(Setting {
            key: key.to_owned(),
            value,
            origin,
        });
    }
    settings
}

fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// What `pipetop config` prints: the file first, then one line per setting.
pub fn render(settled: &Settled) -> String {
    let mut out = String::new();
    let _ = match &settled.source {
        Source::Named(path) => writeln!(out, "# config file {} (named)", path.display()),
        Source::Default(path) if path.exists() => {
            writeln!(out, "# config file {}", path.display())
        }
        Source::Default(path) => writeln!(out, "# config file {} (none there)", path.display()),
        Source::None => writeln!(out, "# no config file (--no-config)"),
    };
    let settings = settings(settled);
    let width = settings
        .iter()
        .map(|s| s.key.len() + s.value.len() + 3)
        .max()
        .unwrap_or(0);
    for setting in &settings {
        let pair = format!("{} = {}", setting.key, setting.value);
        let origin = match &setting.origin {
            Origin::CommandLine => "command line".to_owned(),
            Origin::Environment(name) => format!("environment ({name})"),
            Origin::File { line } => format!("config file, line {line}"),
            Origin::Default => "default".to_owned(),
            Origin::Unset => "not set".to_owned(),
        };
        let _ = writeln!(out, "{pair:width$}  # {origin}");
    }
    out
}
