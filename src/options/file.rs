//! Reading `config.toml` into one entry per key, each with its line, and checking every key
//! and value against the command line's own definitions, so any long flag is a key and a flag
//! added later needs nothing here.

use super::OptionsError;
use clap::{Arg, ArgAction, Command};
use std::path::Path;
use toml::de::{DeTable, DeValue};

/// One key of the file: a long flag of `command` (`None`: the top-level command) and the
/// arguments it stands for (`--listen=…`, or `--headless` for `headless = true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub command: Option<String>,
    pub key: String,
    pub line: usize,
    pub args: Vec<String>,
}

/// Keys that choose or describe the file itself, or print and exit: meaningless inside it.
const NOT_KEYS: &[&str] = &["config", "no-config", "help", "version"];

/// Reads `text` (the contents of `path`) against `root`'s definitions. A top-level key is a
/// long flag of the top-level command or of any subcommand that has it (so `secret` serves
/// both watching and `send`); a `[send]` table holds keys for that subcommand only.
pub fn read(path: &Path, text: &str, root: &Command) -> Result<Vec<Entry>, OptionsError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let table = DeTable::parse(text).map_err(|err| OptionsError::Syntax {
        path: path.to_owned(),
        line: err.span().map_or(1, |span| line_of(span.start)),
        reason: first_sentence(err.message()),
    })?;
    let mut entries = Vec::new();
    for (key, value) in table.get_ref() {
        let line = line_of(key.span().start);
        let bad = |reason: String| OptionsError::Value {
            path: path.to_owned(),
            line,
            key: key.get_ref().to_string(),
            reason,
        };
        if let DeValue::Table(inner) = value.get_ref() {
            let command = root
                .find_subcommand(key.get_ref().as_ref())
                .filter(|sub| sub.get_arguments().any(|arg| arg.get_long().is_some()))
                .ok_or_else(|| bad("no subcommand of that name takes flags".into()))?;
            for (key, value) in inner {
                let line = line_of(key.span().start);
                let arg = long_flag(command, key.get_ref()).ok_or_else(|| OptionsError::Value {
                    path: path.to_owned(),
                    line,
                    key: key.get_ref().to_string(),
                    reason: format!("pipetop {} has no such flag", command.get_name()),
                })?;
                let args =
                    arguments(arg, value.get_ref()).map_err(|reason| OptionsError::Value {
                        path: path.to_owned(),
                        line,
                        key: key.get_ref().to_string(),
                        reason,
                    })?;
                entries.push(Entry {
                    command: Some(command.get_name().to_owned()),
                    key: key.get_ref().to_string(),
                    line,
                    args,
                });
            }
            continue;
        }
        // The top-level command's definition is the one checked; otherwise the first
        // subcommand's that has the flag.
        let arg = long_flag(root, key.get_ref())
            .or_else(|| {
                root.get_subcommands()
                    .find_map(|sub| long_flag(sub, key.get_ref()))
            })
            .ok_or_else(|| bad("pipetop has no such flag".into()))?;
        let args = arguments(arg, value.get_ref()).map_err(bad)?;
        entries.push(Entry {
            command: None,
            key: key.get_ref().to_string(),
            line,
            args,
        });
    }
    Ok(entries)
}

/// The flag named `--key` of `command`, if it is one a file may set.
pub fn long_flag<'c>(command: &'c Command, key: &str) -> Option<&'c Arg> {
    if NOT_KEYS.contains(&key) {
        return None;
    }
    command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(key))
}

/// The command-line arguments a value stands for, each checked by the flag's own parser.
fn arguments(arg: &Arg, value: &DeValue<'_>) -> Result<Vec<String>, String> {
    let long = arg.get_long().unwrap_or_default();
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return match value {
            DeValue::Boolean(true) => Ok(vec![format!("--{long}")]),
            DeValue::Boolean(false) => Ok(Vec::new()),
            _ => Err("expected true or false".into()),
        };
    }
    let texts = match value {
        DeValue::Array(items) if matches!(arg.get_action(), ArgAction::Append) => items
            .iter()
            .map(|item| scalar(item.get_ref()))
            .collect::<Result<Vec<_>, _>>()?,
        DeValue::Array(_) => return Err("takes one value, not a list".into()),
        other => vec![scalar(other)?],
    };
    texts
        .into_iter()
        .map(|text| {
            check(arg, &text)?;
            Ok(format!("--{long}={text}"))
        })
        .collect()
}

fn scalar(value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(text) => Ok(text.to_string()),
        DeValue::Integer(number) => Ok(number.as_str().to_owned()),
        DeValue::Float(number) => Ok(number.as_str().to_owned()),
        DeValue::Boolean(flag) => Ok(flag.to_string()),
        DeValue::Datetime(datetime) => Ok(datetime.to_string()),
        DeValue::Array(_) | DeValue::Table(_) => Err("expected a single value".into()),
    }
}

/// Runs the flag's value parser on `text` alone, as the command line would.
fn check(arg: &Arg, text: &str) -> Result<(), String> {
    let probe = Arg::new("value")
        .long("value")
        .value_parser(arg.get_value_parser().clone())
        .action(ArgAction::Set);
    let probe = Command::new("pipetop")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([format!("--value={text}")]);
    match probe {
        Ok(_) => Ok(()),
        Err(err) => Err(reason(&err)),
    }
}

/// The part of a clap error that says why, without its `error:` and usage lines.
pub fn reason(err: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    if let Some(source) = std::error::Error::source(err) {
        return source.to_string();
    }
    if let Some(ContextValue::Strings(valid)) = err.get(ContextKind::ValidValue) {
        return format!("expected one of {}", valid.join(", "));
    }
    let rendered = err.render().to_string();
    let line = rendered.lines().next().unwrap_or_default();
    first_sentence(line.strip_prefix("error: ").unwrap_or(line))
}

fn first_sentence(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_owned()
}
