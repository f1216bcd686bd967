//! The config file's precedence against the command line and the defaults, its errors, and its
//! reach into subcommands. The environment's place is tested through the binary
//! (`tests/config.rs`), since a test cannot change its own process's environment safely.

use super::*;
use crate::cli::Command;
use std::time::Duration;

fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    (dir, path)
}

fn settle_with(path: &Path, line: &[&str]) -> Result<Settled, OptionsError> {
    let mut argv: Vec<OsString> = vec!["pipetop".into(), "--config".into(), path.into()];
    argv.extend(line.iter().map(OsString::from));
    settle(argv)
}

fn refusal(path: &Path) -> String {
    match settle_with(path, &[]) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(err) => err.to_string(),
    }
}

#[test]
fn the_command_line_beats_the_file_and_the_file_beats_the_default() {
    let (_dir, path) = config("listen = \"127.0.0.1:9001\"\ntolerance = \"1m\"\nheadless = true\n");
    let settled = settle_with(&path, &["--listen", "127.0.0.1:9002"]).unwrap();
    let watch = &settled.cli.watch;
    assert_eq!(watch.listen, "127.0.0.1:9002".parse().unwrap());
    assert_eq!(watch.tolerance, Duration::from_secs(60));
    assert!(watch.headless);
    assert_eq!(watch.body_timeout, Duration::from_secs(30));
    let mut keys: Vec<&str> = settled.applied.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["headless", "tolerance"]);
}

#[test]
fn the_starting_order_comes_from_the_file_or_the_flag() {
    use crate::monitor::Order;
    let (_dir, path) = config("sort = \"failed\"\n");
    assert_eq!(
        settle_with(&path, &[]).unwrap().cli.watch.sort,
        Order::FailedFirst
    );
    assert_eq!(
        settle_with(&path, &["--sort", "duration"])
            .unwrap()
            .cli
            .watch
            .sort,
        Order::Duration
    );
    let (_dir, bad) = config("sort = \"loudest\"\n");
    assert!(refusal(&bad).contains("sort"), "{}", refusal(&bad));
}

#[test]
fn a_flag_given_on_the_command_line_sets_aside_the_file_keys_it_conflicts_with() {
    let (_dir, path) = config("journal = \"/tmp/j.jsonl\"\n");
    let settled = settle_with(&path, &["--no-journal"]).unwrap();
    assert!(settled.cli.watch.no_journal);
    assert_eq!(settled.cli.watch.journal, None);
}

#[test]
fn a_subcommand_takes_the_shared_keys_and_its_own_table_wins_over_them() {
    let (dir, path) = config(
        "url = \"http://a/webhook\"\npipeline = \"shared\"\n[send]\npipeline = \"own\"\nbuild = 7\n",
    );
    // `url` is no flag of the watcher, yet a top-level key: it is `send`'s.
    let settled = settle_with(&path, &["send"]).unwrap();
    let Some(Command::Send(send)) = settled.cli.command else {
        panic!("expected send");
    };
    assert_eq!(send.url, "http://a/webhook");
    assert_eq!(send.pipeline, "own");
    assert_eq!(send.build, 7);
    drop(dir);
}

#[test]
fn a_flag_of_the_watcher_before_a_subcommand_is_refused() {
    let (_dir, path) = config("");
    let Err(OptionsError::CommandLine(err)) =
        settle_with(&path, &["--listen", "127.0.0.1:1", "send"])
    else {
        panic!("accepted");
    };
    assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    assert!(
        err.to_string()
            .contains("--listen is a flag of pipetop itself, not of pipetop send"),
        "{err}"
    );
}

#[test]
fn a_bad_key_or_value_names_the_file_the_line_and_the_key() {
    let (_dir, path) = config("# pipetop\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n");
    let err = refusal(&path);
    assert_eq!(
        err,
        format!(
            "the config file {}, line 3, key lisen: pipetop has no such flag",
            path.display()
        )
    );
    let (_dir, path) = config("\n\nmax-connections = 0\n");
    let err = refusal(&path);
    assert!(
        err.starts_with(&format!(
            "the config file {}, line 3, key max-connections: ",
            path.display()
        )),
        "{err}"
    );
    let (_dir, path) = config("headless = \"yes\"\n");
    let err = refusal(&path);
    assert!(
        err.ends_with("line 1, key headless: expected true or false"),
        "{err}"
    );
    let (_dir, path) = config("[send]\nlisten = \"127.0.0.1:1\"\n");
    let err = refusal(&path);
    assert!(
        err.ends_with("line 2, key listen: pipetop send has no such flag"),
        "{err}"
    );
    let (_dir, path) = config("listen = [\"127.0.0.1:1\"]\n");
    let err = refusal(&path);
    assert!(
        err.ends_with("key listen: takes one value, not a list"),
        "{err}"
    );
    let (_dir, path) = config("config = \"other.toml\"\n");
    assert!(settle_with(&path, &[]).is_err());
}

#[test]
fn a_file_that_is_not_toml_names_its_line() {
    let (_dir, path) = config("listen = \"127.0.0.1:1\"\nheadless = \n");
    let err = refusal(&path);
    assert!(
        err.starts_with(&format!(
            "the config file {} is not valid TOML at line 2: ",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn a_named_file_must_exist_and_no_config_reads_none() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let err = refusal(&missing);
    assert_eq!(
        err,
        format!(
            "cannot read the config file {}: no such file or directory",
            missing.display()
        )
    );
    let (_dir, path) = config("listen = \"nope\"\n");
    let settled = settle(vec!["pipetop".into(), "--no-config".into()]).unwrap();
    assert_eq!(settled.source, Source::None);
    assert!(settled.applied.is_empty());
    drop(path);
}

#[cfg(unix)]
#[test]
fn a_secret_is_refused_in_a_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt as _;
    let (_dir, path) = config("secret = \"hunter2\"\n");
    assert_eq!(
        settle_with(&path, &[])
            .unwrap()
            .cli
            .watch
            .secret
            .secret
            .unwrap()
            .expose(),
        "hunter2"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refusal(&path);
    assert!(
        err.contains("holds a secret but other users can read it"),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
}

#[test]
fn the_report_says_where_each_setting_came_from_and_hides_the_secret() {
    let (_dir, path) = config("\nsecret = \"hunter2\"\nlisten = \"127.0.0.1:9003\"\n");
    let settled = settle_with(&path, &["config"]).unwrap();
    let settings = report::settings(&settled);
    let find = |key: &str| settings.iter().find(|s| s.key == key).unwrap().clone();
    assert_eq!(find("listen").value, "\"127.0.0.1:9003\"");
    assert_eq!(find("listen").origin, report::Origin::File { line: 3 });
    assert_eq!(find("secret").value, "set");
    assert_eq!(find("secret").origin, report::Origin::File { line: 2 });
    assert_eq!(find("tolerance").origin, report::Origin::Default);
    assert_eq!(find("journal").origin, report::Origin::Unset);
    assert!(!report::render(&settled).contains("hunter2"));
}
