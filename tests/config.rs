//! The config file, the environment and the command line through the real binary: each source
//! in its place, `pipetop config`'s report, a bad file's sentence and exit code, and the
//! completions and man page generated from the same definitions.

mod common;

use common::{Server, pipetop, run, scratch_dir};
use std::path::PathBuf;

/// A config file in the binary's default place (`$XDG_CONFIG_HOME/pipetop/config.toml`).
fn with_config(text: &str) -> (std::process::Command, PathBuf) {
    let home = scratch_dir("home");
    let path = home.join("pipetop").join("config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    let mut command = pipetop();
    command.env("XDG_CONFIG_HOME", &home);
    (command, path)
}

#[test]
fn each_source_wins_over_the_next_command_line_environment_file_default() {
    // The default alone.
    let server = Server::start(&[]);
    assert!(
        server.start_line.contains("/webhook;"),
        "{}",
        server.start_line
    );
    server.kill();
    // The file over the default.
    let (command, _) = with_config("path = \"/from-file\"\n");
    let server = Server::start_with(command, &[]);
    assert!(
        server.start_line.contains("/from-file;"),
        "{}",
        server.start_line
    );
    server.kill();
    // The environment over the file.
    let (mut command, _) = with_config("path = \"/from-file\"\n");
    command.env("PIPETOP_PATH", "/from-env");
    let server = Server::start_with(command, &[]);
    assert!(
        server.start_line.contains("/from-env;"),
        "{}",
        server.start_line
    );
    server.kill();
    // The command line over the environment.
    let (mut command, _) = with_config("path = \"/from-file\"\n");
    command.env("PIPETOP_PATH", "/from-env");
    let server = Server::start_with(command, &["--path", "/from-cli"]);
    assert!(
        server.start_line.contains("/from-cli;"),
        "{}",
        server.start_line
    );
    server.kill();
}

#[test]
fn pipetop_config_reports_each_setting_and_where_it_came_from() {
    let (mut command, path) = with_config("# mine\npath = \"/hooks\"\ntolerance = \"2m\"\n");
    command.env("PIPETOP_TOLERANCE", "90s").arg("config");
    let out = run(command);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |key: &str| {
        text.lines()
            .find(|line| line.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        text.starts_with(&format!("# config file {}\n", path.display())),
        "{text}"
    );
    assert_eq!(line("path"), "path = \"/hooks\" # config file, line 2");
    assert_eq!(
        line("tolerance"),
        "tolerance = \"90s\" # environment (PIPETOP_TOLERANCE)"
    );
    assert_eq!(line("listen"), "listen = \"127.0.0.1:8787\" # default");
    assert_eq!(line("secret"), "secret = unset # not set");

    let (mut command, _) = with_config("");
    command.env("PIPETOP_SECRET", "hunter2").arg("config");
    let out = run(command);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("secret = set"), "{text}");
    assert!(text.contains("# environment (PIPETOP_SECRET)"), "{text}");
    assert!(!text.contains("hunter2"));
}

#[test]
fn the_secret_in_the_environment_wins_over_the_file() {
    let (command, path) = with_config("secret = \"from-file\"\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut command = command;
    command.env("PIPETOP_SECRET", "from-env");
    let server = Server::start_with(command, &[]);
    let url = server.url("/webhook");
    let mut send = pipetop();
    send.args(["send", "--url", &url, "--secret", "from-env"]);
    let out = run(send);
    assert!(out.status.success(), "{out:?}");
    let mut send = pipetop();
    send.args(["send", "--url", &url, "--secret", "from-file"]);
    assert_eq!(run(send).status.code(), Some(1));
    server.kill();
}

#[test]
fn a_bad_key_is_one_sentence_naming_file_line_and_key_and_exit_2() {
    let (command, path) = with_config("listen = \"127.0.0.1:0\"\n\nheadles = true\n");
    let out = run(command);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "pipetop: the config file {}, line 3, key headles: pipetop has no such flag\n",
            path.display()
        )
    );
    let (mut command, path) = with_config("secret = \"hunter2\"\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    command.arg("config");
    let out = run(command);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("holds a secret but other users can read it"),
        "{stderr}"
    );
}

#[test]
fn help_shows_environment_variables_defaults_and_examples() {
    let mut command = pipetop();
    command.arg("--help");
    let out = run(command);
    // Words only: where clap wraps a line depends on the width it finds.
    let text = String::from_utf8(out.stdout).unwrap();
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("[env: PIPETOP_LISTEN=] [default: 127.0.0.1:8787]"),
        "{text}"
    );
    assert!(
        words.contains("[env: PIPETOP_MAX_CONNECTIONS=] [default: 256]"),
        "{text}"
    );
    assert!(
        text.contains("Examples:\n  PIPETOP_SECRET=123654 pipetop"),
        "{text}"
    );
}

#[test]
fn completions_are_generated_for_each_shell_and_a_man_page_from_the_same_definitions() {
    for (shell, marker) in [
        ("bash", "complete -F _pipetop"),
        ("zsh", "#compdef pipetop"),
        ("fish", "complete -c pipetop"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let mut command = pipetop();
        command.args(["completions", shell]);
        let out = run(command);
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("max-connections"), "{shell} lacks a flag");
        assert!(script.contains("send"), "{shell} lacks a subcommand");
    }
    let mut command = pipetop();
    command.arg("man");
    let out = run(command);
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains("\n.TH pipetop 1 "), "{page}");
    assert!(page.contains("\\-\\-max\\-connections"), "{page}");
    assert!(page.contains(".SH EXTRA\nExamples:"), "{page}");
}
