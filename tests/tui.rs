//! End to end: the real binary in a pseudo-terminal, real signed POSTs to its real port, and
//! the screen read back through a terminal emulator.

mod common;

use common::fresh_timestamp;
use pipetop::gitee::sign;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "e2e-secret";
const COLS: u16 = 120;
const ROWS: u16 = 36;
/// A listener on a free port, verifying with [`SECRET`], keeping no journal.
const SIGNED: &[&str] = &[
    "--listen",
    "127.0.0.1:0",
    "--secret",
    SECRET,
    "--no-journal",
];

struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte the program wrote, as the terminal received it.
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Screen {
    fn start(args: &[&str]) -> Screen {
        Screen::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Screen {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_pipetop"));
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        // The user's own settings stay out of the tests: no config file, no token from outside.
        cmd.env_remove("PIPETOP_CONFIG");
        cmd.env_remove("PIPETOP_VIEWER_TOKEN");
        cmd.env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join(format!("pipetop-tui-tests-{}", std::process::id())),
        );
        for (name, value) in env {
            cmd.env(name, value);
        }
        let child = pty.slave.spawn_command(cmd).expect("spawn pipetop");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let writer = pty.master.take_writer().expect("pty writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 0)));
        let feed = Arc::clone(&parser);
        let raw = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&raw);
        std::thread::spawn(move || {
            // Keep the master alive for as long as the reader runs.
            let _master = pty.master;
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                feed.lock().unwrap().process(&buf[..n]);
                record.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Screen {
            parser,
            raw,
            writer,
            child,
        }
    }

    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Every cell's text, row by row, with digits read as `0` so that ages and clock times do
    /// not tell two runs apart. A blank cell reads as a space, a wide character's second cell
    /// as nothing, so a row's cells joined are the row as seen.
    fn cells(&self) -> Vec<Vec<String>> {
        let parser = self.parser.lock().unwrap();
        let screen = parser.screen();
        (0..ROWS)
            .map(|row| {
                (0..COLS)
                    .map(|col| match screen.cell(row, col) {
                        Some(cell) if cell.is_wide_continuation() => String::new(),
                        Some(cell) if cell.has_contents() => cell
                            .contents()
                            .chars()
                            .map(|c| if c.is_ascii_digit() { '0' } else { c })
                            .collect(),
                        _ => " ".to_owned(),
                    })
                    .collect()
            })
            .collect()
    }

    fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, |s| s.contains(needle))
    }

    fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.text();
            if done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what:?}; the screen shows:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// The webhook URL from the header, where pipetop shows the address it listens on. Waits
    /// for the whole URL, port and path: a header caught half drawn holds only part of it.
    fn webhook_url(&self) -> String {
        let text = self.wait_until("the whole webhook URL", |text| whole_url(text).is_some());
        whole_url(&text).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let pid = self.child.process_id().expect("pipetop's pid");
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    fn exit_code(&mut self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.exit_code();
            }
            assert!(Instant::now() < deadline, "pipetop did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
    }
}

/// The header's count of accepted deliveries.
/// `http://127.0.0.1:PORT/webhook` as the header shows it, once it is all there.
fn whole_url(screen: &str) -> Option<String> {
    let start = screen.find("http://127.0.0.1:")?;
    let url = screen[start..].split_whitespace().next()?;
    let port = url
        .strip_prefix("http://127.0.0.1:")?
        .strip_suffix("/webhook")?;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then(|| url.to_owned())
}

fn accepted(screen: &str) -> u64 {
    screen
        .split("accepted ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

/// Signed deliveries kept in the journal at `path`.
fn journaled(path: &std::path::Path) -> [&str; 6] {
    let path = path.to_str().expect("a UTF-8 temporary path");
    [
        "--listen",
        "127.0.0.1:0",
        "--secret",
        SECRET,
        "--journal",
        path,
    ]
}

/// Posts with a token that is not the signature; returns the status answered.
fn post_forged(url: &str) -> u16 {
    let response = ureq::post(url)
        .config()
        .http_status_as_error(false)
        .build()
        .header("X-Gitee-Timestamp", "1")
        .header("X-Gitee-Token", "forged")
        .send("{}")
        .unwrap();
    response.status().as_u16()
}

fn post(url: &str, pipeline: &str, job: &str, status: &str) {
    let id = pipeline.len() as u64 * 1000 + job.len() as u64;
    post_job(url, id, pipeline, "Build", job, status);
}

fn post_job(url: &str, id: u64, pipeline: &str, stage: &str, job: &str, status: &str) {
    let ts = fresh_timestamp();
    let body = serde_json::json!({
        "job": {
            "pipelineId": id,
            "pipelineName": pipeline,
            "stageName": stage,
            "jobName": job,
            "buildNumber": 7,
            "statusCode": status,
            "statusName": status,
            "pipelineUrl": "https://e.gitee.com/acme/pipelines/1"
        },
        "sources": [{"sourceType": "GITEE_GO", "repoPath": "acme/app", "branch": "main", "commitId": "abc123"}]
    });
    let response = ureq::post(url)
        .header("X-Gitee-Timestamp", &ts)
        .header("X-Gitee-Token", &sign(SECRET, &ts))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .expect("post to pipetop");
    assert_eq!(response.status(), 200);
}

/// Posts `body` signed, with `headers` added, at a timestamp no other call has used.
fn post_with(url: &str, headers: &[(&str, &str)], body: &str) {
    let ts = fresh_timestamp();
    let mut request = ureq::post(url)
        .header("X-Gitee-Timestamp", &ts)
        .header("X-Gitee-Token", &sign(SECRET, &ts))
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send(body).expect("post to pipetop");
    assert_eq!(response.status(), 200);
}

#[test]
fn signed_posts_appear_filters_and_help_work_and_q_exits_cleanly() {
    let mut screen = Screen::start(SIGNED);
    let url = screen.webhook_url();
    screen.wait_for("Waiting for the first webhook");

    post(&url, "checkout-service", "compile", "SUCC");
    post(&url, "billing-service", "unit-tests", "FAIL");
    screen.wait_for("checkout-service");
    screen.wait_for("billing-service");

    screen.keys("1");
    let filtered = screen.wait_until("only the failed pipeline", |s| {
        s.contains("billing-service") && !s.contains("checkout-service")
    });
    assert!(filtered.contains("FAIL"), "{filtered}");

    screen.keys("0?");
    let help = screen.wait_for("Filter and search");
    assert!(help.contains("j/k scroll"), "{help}");
    // The key table is taller than 36 rows: its last key is a scroll away.
    screen.keys("jjjj");
    screen.wait_for("q/Ctrl-C");
    screen.keys("\x1b");
    screen.wait_until("help closed", |s| !s.contains("Filter and search"));

    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
}

/// The failure a newer run must not hide: `backend-ci #44` fails, `#45` starts, and the row
/// and the FAIL filter still show #44's failure.
#[test]
fn a_failed_run_stays_on_the_row_and_under_the_fail_filter_while_a_newer_run_goes() {
    let mut screen = Screen::start(SIGNED);
    let url = screen.webhook_url();
    let post_build = |build: u64, job: &str, status: &str| {
        let body = serde_json::json!({
            "job": {
                "pipelineId": 44, "pipelineName": "backend-ci", "stageName": "Test",
                "jobName": job, "buildNumber": build, "statusCode": status,
            },
        });
        post_with(&url, &[], &body.to_string());
    };
    post(&url, "docs-site", "mdbook", "SUCC");
    post_build(44, "unit", "RUNNING");
    post_build(44, "unit", "FAIL");
    screen.wait_for("since #44");
    post_build(45, "unit", "RUNNING");
    let row = screen.wait_for("last ✗ #44");
    assert!(row.contains("#45"), "{row}");

    screen.keys("1");
    let filtered = screen.wait_until("only the red pipeline", |s| {
        s.contains("backend-ci") && !s.contains("docs-site") && s.contains("✗ FAIL")
    });
    assert!(filtered.contains("Pipelines 1"), "{filtered}");
    assert!(filtered.contains("#44"), "{filtered}");

    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
}

#[test]
fn a_forged_post_shows_as_rejected_with_its_reason() {
    let screen = Screen::start(SIGNED);
    let url = screen.webhook_url();
    assert_eq!(post_forged(&url), 401);
    let text = screen.wait_for("rejected 401");
    assert!(text.contains("401"), "{text}");
}

#[test]
fn the_demo_fills_the_screen_at_once() {
    let mut screen = Screen::start(&["--listen", "127.0.0.1:0", "--demo", "--no-journal"]);
    let text = screen.wait_until("every demo pipeline", |s| {
        [
            "api-gateway",
            "payment-service",
            "release-train",
            "infra-terraform",
        ]
        .iter()
        .all(|name| s.contains(name))
    });
    assert!(text.contains("signatures verified"), "{text}");
    // Past the demo's opening bursts, where posts share a millisecond.
    let text = screen.wait_until("40 demo deliveries", |s| accepted(s) >= 40);
    assert!(
        text.contains("rejected 0") && !text.contains("rejected 401"),
        "the demo's own posts were refused:\n{text}"
    );
    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
}

#[test]
fn sort_failed_starts_the_pipelines_table_failed_first() {
    let mut screen = Screen::start(&[
        "--listen",
        "127.0.0.1:0",
        "--demo",
        "--no-journal",
        "--sort",
        "failed",
    ]);
    screen.wait_for("by failed first");
    screen.keys("S");
    screen.wait_for("by name");
    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
}

#[test]
fn sigterm_restores_the_terminal_and_exits_cleanly() {
    let mut screen = Screen::start(&["--listen", "127.0.0.1:0", "--no-journal"]);
    screen.wait_for("Waiting for the first webhook");
    assert!(screen.parser.lock().unwrap().screen().alternate_screen());
    screen.signal("TERM");
    assert_eq!(screen.exit_code(), 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while screen.parser.lock().unwrap().screen().alternate_screen() {
        assert!(
            Instant::now() < deadline,
            "the terminal was left in the alternate screen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn history_is_back_on_screen_after_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let args = journaled(&journal);
    let mut first = Screen::start(&args);
    let url = first.webhook_url();
    post(&url, "inventory-service", "compile", "SUCC");
    post(&url, "search-indexer", "e2e", "FAIL");
    first.wait_for("search-indexer");
    first.signal("KILL");
    first.exit_code();

    let second = Screen::start(&args);
    let text = second.wait_until("both pipelines from the journal", |s| {
        s.contains("inventory-service") && s.contains("search-indexer")
    });
    assert!(text.contains("accepted 2"), "{text}");
}

#[test]
fn the_screen_saved_on_quit_comes_back_with_what_was_journaled_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let args = journaled(&journal);
    let mut first = Screen::start(&args);
    let url = first.webhook_url();
    post(&url, "inventory-service", "compile", "SUCC");
    // The journal keeps accepted deliveries only; the saved screen keeps this too.
    assert_eq!(post_forged(&url), 401);
    first.wait_until("the delivery and the rejection", |s| {
        s.contains("inventory-service") && s.contains("rejected 1")
    });
    first.keys("q");
    assert_eq!(first.exit_code(), 0);
    let snapshot = dir.path().join("journal.jsonl.snapshot");
    let mode = std::os::unix::fs::PermissionsExt::mode(&snapshot.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // A run that ends without saving: its delivery is only in the journal.
    let mut second = Screen::start(&args);
    let url = second.webhook_url();
    post(&url, "search-indexer", "e2e", "FAIL");
    second.wait_for("search-indexer");
    second.signal("KILL");
    second.exit_code();

    let third = Screen::start(&args);
    let text = third.wait_until("the saved screen and the delivery after it", |s| {
        s.contains("restored the screen saved at delivery 1; replayed 1 deliveries")
            && s.contains("search-indexer")
    });
    assert!(text.contains("inventory-service"), "{text}");
    assert!(
        text.contains("rejected 1") && text.contains("401"),
        "{text}"
    );
}

#[test]
fn closing_the_terminal_saves_the_screen_as_q_does() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let args = journaled(&journal);
    let mut first = Screen::start(&args);
    let url = first.webhook_url();
    post(&url, "inventory-service", "compile", "SUCC");
    first.wait_for("inventory-service");
    first.signal("HUP");
    assert_eq!(first.exit_code(), 0);

    let second = Screen::start(&args);
    let text = second.wait_for("restored the screen saved at delivery 1; replayed 0 deliveries");
    assert!(text.contains("inventory-service"), "{text}");
}

#[test]
fn the_frame_log_records_every_frame_with_the_newest_delivery_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.log");
    let mut screen =
        Screen::start_with_env(SIGNED, &[("PIPETOP_FRAME_LOG", path.to_str().unwrap())]);
    let url = screen.webhook_url();
    post(&url, "checkout-service", "compile", "SUCC");
    post(&url, "billing-service", "unit-tests", "FAIL");
    screen.wait_for("billing-service");

    // The line is written just after the frame reaches the terminal, so it may trail the screen.
    let deadline = Instant::now() + Duration::from_secs(15);
    let frames = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let frames: Vec<(u64, u64)> = text
            .lines()
            .map(|line| {
                let fields: Vec<u64> = line.split(' ').map(|f| f.parse().unwrap()).collect();
                assert_eq!(fields.len(), 3, "flushed, id, started: {line}");
                assert!(
                    fields[2] <= fields[0],
                    "started after it was flushed: {line}"
                );
                (fields[0], fields[1])
            })
            .collect();
        if frames.last().is_some_and(|&(_, id)| id == 2) {
            break frames;
        }
        assert!(
            Instant::now() < deadline,
            "no frame showed delivery 2:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(30));
    };
    assert_eq!(
        frames[0].1, 0,
        "the first frame is drawn before any delivery"
    );
    assert!(
        frames
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1),
        "{frames:?}"
    );
    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
}

#[test]
fn test_deliveries_and_other_hooks_show_in_the_log_without_a_pipeline_row() {
    let screen = Screen::start(SIGNED);
    let url = screen.webhook_url();
    let push = r#"{"ref":"refs/heads/main","hook_name":"push_hooks","repository":{"full_name":"acme/app"}}"#;
    let event = ("X-Gitee-Event", "Push Hook");
    post_with(&url, &[("X-Gitee-Ping", "true"), event], push);
    post_with(&url, &[event], push);
    post_with(&url, &[event], push);
    post_with(&url, &[], "{}");
    post_with(&url, &[], "{}");
    // A real notification last: once it shows, everything before it has been drawn.
    post(&url, "checkout-service", "compile", "SUCC");
    let text = screen.wait_for("checkout-service");
    assert!(text.contains("test delivery"), "{text}");
    assert_eq!(
        text.matches("not a Gitee Go job notification").count(),
        4,
        "{text}"
    );
    assert!(text.contains("Push Hook"), "{text}");
    assert!(!text.contains("unknown pipeline"), "{text}");
    assert!(!text.contains("(duplicate)"), "{text}");
    assert!(text.contains(" Pipelines 1 "), "{text}");
    assert!(text.contains("accepted 6"), "{text}");
}

/// Names built from every character a terminal and pipetop could measure differently, and what
/// is left of each once cleaned. vt100 moves the cursor by each code point's width, as xterm,
/// VTE and tmux do: on it the screen with the first must be the screen with the second, cell for
/// cell, and have its borders where plain ASCII names leave them.
const HOSTILE: [(&str, &str); 3] = [
    (
        // Zero-width-joiner sequences, emoji and keycap presentation selectors, a soft hyphen,
        // a line separator, Hangul fillers, a halfwidth voiced sound mark, a three-column sign.
        "evil\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\
         \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\u{2764}\u{fe0f}1\u{fe0f}\u{20e3}ad\u{ad}min\
         \u{2028}x\u{115f}\u{1160}\u{3164}\u{ffa0}y\u{ff76}\u{ff9e}\u{17d8}z",
        "evil\u{1f468}\u{1f469}\u{1f467}\u{1f468}\u{1f469}\u{1f467}\u{1f468}\u{1f469}\u{1f467}\
         \u{2764}1\u{20e3}admin xy\u{ff76}z",
    ),
    (
        // A mark on nothing, a tag sequence, an ideographic variation selector, a flag, and
        // zero-width spaces, joiners and a byte order mark.
        "\u{301}stage\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}\u{845b}\
         \u{e0100}\u{1f1e8}\u{1f1f3}\u{200b}\u{2060}\u{feff}!",
        "stage\u{1f3f4}\u{845b}!",
    ),
    (
        // Emoji modifiers, a paragraph separator, a decomposed accent (kept), a pile of marks
        // on one letter, a text presentation selector.
        "job\u{1f44d}\u{1f3fd}\u{1f44d}\u{1f3ff}\u{2029}e\u{301}a\u{301}\u{302}\u{303}\u{304}\
         \u{305}\u{2764}\u{fe0e}",
        "job\u{1f44d}\u{1f44d} e\u{301}a\u{2764}",
    ),
];

/// Three pipelines, the middle one named by `names`, with its job selected.
fn screen_with_names(names: [&str; 3]) -> Vec<Vec<String>> {
    let [pipeline, stage, job] = names;
    let mut screen = Screen::start(SIGNED);
    let url = screen.webhook_url();
    post_job(&url, 1, "gamma-service", "Build", "compile", "SUCC");
    post_job(&url, 2, pipeline, stage, job, "FAIL");
    post_job(&url, 3, "alpha-service", "Build", "compile", "RUNNING");
    screen.wait_until("three deliveries", |s| accepted(s) == 3);
    screen.keys("j");
    screen.wait_until("the middle pipeline's job selected", |s| s.contains("FAIL"));
    // Every age past "now" (a second on), so the three screens read their ages alike.
    screen.wait_until("every age past now", |s| !s.contains("now"));
    std::thread::sleep(Duration::from_millis(200));
    let cells = screen.cells();
    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
    cells
}

fn borders(row: &[String]) -> Vec<usize> {
    row.iter()
        .enumerate()
        .filter(|(_, cell)| matches!(cell.as_str(), "│" | "╭" | "╮" | "╰" | "╯"))
        .map(|(col, _)| col)
        .collect()
}

#[test]
fn hostile_names_leave_every_border_and_every_other_cell_where_it_was() {
    let hostile = screen_with_names(HOSTILE.map(|(raw, _)| raw));
    let plain = screen_with_names(HOSTILE.map(|(_, cleaned)| cleaned));
    let ascii = screen_with_names(["evil-pipeline", "stage", "job"]);
    let show = |screen: &[Vec<String>]| {
        screen
            .iter()
            .map(|row| row.concat())
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (line, (h, a)) in hostile.iter().zip(&ascii).enumerate() {
        assert_eq!(
            borders(h),
            borders(a),
            "line {line} has its borders elsewhere; hostile:\n{}\nASCII names:\n{}",
            show(&hostile),
            show(&ascii)
        );
    }
    for (line, (h, p)) in hostile.iter().zip(&plain).enumerate() {
        assert_eq!(
            h,
            p,
            "line {line} differs; hostile:\n{}\nplain:\n{}",
            show(&hostile),
            show(&plain)
        );
    }
}

/// Waits until the program's output stream holds `needle`.
fn wait_for_bytes(screen: &Screen, needle: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if screen
            .raw
            .lock()
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "no {:?} in the output stream: {}",
        String::from_utf8_lossy(needle),
        String::from_utf8_lossy(&screen.raw.lock().unwrap())
    );
}

#[test]
fn a_failure_is_notified_with_a_terminal_escape_and_inside_tmux_wrapped_for_it() {
    let args: Vec<&str> = SIGNED
        .iter()
        .copied()
        .chain(["--notify", "fail", "--notify-via", "osc9"])
        .collect();
    let screen = Screen::start_with_env(&args, &[("TMUX", "")]);
    let url = screen.webhook_url();
    screen.wait_for("Waiting for the first webhook");
    post(&url, "quiet-service", "compile", "SUCC");
    post(
        &url,
        "billing\x1b]0;owned\x07-service",
        "unit-tests",
        "FAIL",
    );
    screen.wait_for("unit-tests");
    // OSC 9 inside tmux's passthrough, every ESC of it doubled; the escape in the name removed.
    wait_for_bytes(
        &screen,
        b"\x1bPtmux;\x1b\x1b]9;pipetop: billing-service #7 failed: Build \xe2\x80\xba unit-tests FAIL\x1b\x1b\\\x1b\\",
    );
    let raw = screen.raw.lock().unwrap().clone();
    let notifications = raw.windows(5).filter(|w| w == b"]9;pi").count();
    assert_eq!(notifications, 1, "only the failure is notified");
}

#[test]
fn an_outcome_shows_in_the_event_log_beside_its_delivery() {
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let target = format!("http://{down}/hook");
    let args: Vec<&str> = SIGNED
        .iter()
        .copied()
        .chain(["--forward-to", &target])
        .collect();
    let screen = Screen::start(&args);
    let url = screen.webhook_url();
    post(&url, "forwarded-service", "compile", "SUCC");
    let text = screen.wait_for("↳ #1 forwarded ");
    assert!(text.contains("connection refused"), "{text}");
}

#[test]
fn a_click_selects_the_row_under_it_and_the_wheel_scrolls_the_pane_under_the_pointer() {
    let mut screen = Screen::start(SIGNED);
    let url = screen.webhook_url();
    post(&url, "alpha-service", "compile", "SUCC");
    post(&url, "beta-service", "lint", "SUCC");
    post(&url, "gamma-service", "unit", "FAIL");
    // The jobs pane's title names the selected pipeline's run.
    screen.wait_for("gamma-service #7 ✗ latest");
    // Newest first: gamma, beta, alpha; the first row is under the border and the column
    // header, on screen row 5. SGR mouse reports count from 1.
    screen.keys("\x1b[<0;10;7M\x1b[<0;10;7m");
    screen.wait_for("alpha-service #7 ✓ latest");
    screen.keys("\x1b[<0;10;6M\x1b[<0;10;6m");
    screen.wait_for("beta-service #7 ✓ latest");
    // The wheel over the event log scrolls it, wherever the keyboard's focus is.
    screen.keys("\x1b[<64;60;30M");
    screen.wait_for("paused · G to follow");
    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
}

#[test]
fn no_mouse_leaves_the_mouse_to_the_terminal() {
    let args: Vec<&str> = SIGNED.iter().copied().chain(["--no-mouse"]).collect();
    let mut screen = Screen::start(&args);
    screen.wait_for("Waiting for the first webhook");
    let raw = screen.raw.lock().unwrap().clone();
    assert!(
        !raw.windows(8).any(|w| w == b"\x1b[?1000h"),
        "mouse reporting was turned on"
    );
    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
    let mut screen = Screen::start(SIGNED);
    screen.wait_for("Waiting for the first webhook");
    wait_for_bytes(&screen, b"\x1b[?1000h");
    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
    // Turned off again on the way out.
    wait_for_bytes(&screen, b"\x1b[?1000l");
}

#[test]
fn x_hides_a_pipeline_until_its_next_delivery_and_big_x_shows_them_again() {
    let mut screen = Screen::start(SIGNED);
    let url = screen.webhook_url();
    post(&url, "kept-service", "compile", "SUCC");
    post(&url, "noisy-service", "lint", "FAIL");
    screen.wait_for("noisy-service #7 ✗ latest");
    screen.keys("x");
    let hidden = screen.wait_for("1 hidden (X shows)");
    assert!(hidden.contains("kept-service #7 ✓ latest"), "{hidden}");
    // Its next delivery brings it back.
    post(&url, "noisy-service", "lint", "SUCC");
    screen.wait_until("shown again by its delivery", |s| {
        !s.contains("hidden (X shows)") && s.contains("noisy-service #7 ✓ latest")
    });
    screen.keys("x");
    screen.wait_for("1 hidden (X shows)");
    screen.keys("X");
    screen.wait_until("all shown", |s| !s.contains("hidden (X shows)"));
    screen.keys("q");
    assert_eq!(screen.exit_code(), 0);
}

/// Every row but the header's two is the same on both screens, cell for cell.
fn assert_same_below_the_header(local: &Screen, attached: &Screen) {
    let (mine, theirs) = (local.cells(), attached.cells());
    for row in 2..usize::from(ROWS) {
        assert_eq!(
            mine[row].concat(),
            theirs[row].concat(),
            "row {row} differs; local:\n{}\nattached:\n{}",
            local.text(),
            attached.text()
        );
    }
}

#[test]
fn attach_shows_the_same_screen_as_the_local_tui_for_the_same_deliveries() {
    let token = "pty-viewer-token";
    // With a journal, so the delivery from before the viewer came is in the feed's history.
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let local = Screen::start(&[
        "--listen",
        "127.0.0.1:0",
        "--secret",
        SECRET,
        "--journal",
        journal.to_str().unwrap(),
        "--viewer-token",
        token,
    ]);
    let url = local.webhook_url();
    let base = url.strip_suffix("/webhook").unwrap_or(&url).to_owned();
    post(&url, "checkout-service", "compile", "SUCC");
    let attached = Screen::start(&["attach", &base, "--token", token]);
    attached.wait_for("● live");
    assert!(attached.text().contains(&format!("attached {base}")));
    post(&url, "billing-service", "unit-tests", "FAIL");
    post_job(&url, 77, "deploy", "Deploy", "prod", "RUNNING");
    assert_eq!(post_forged(&url), 401);
    for screen in [&local, &attached] {
        screen.wait_until("every delivery", |s| {
            s.contains("deploy") && s.contains("rejected 401")
        });
    }
    // Give both a frame to settle, then compare everything below the header.
    std::thread::sleep(Duration::from_millis(300));
    assert_same_below_the_header(&local, &attached);
}

#[test]
fn attach_to_the_nats_stream_shows_the_same_screen_as_the_receiver_publishing_to_it() {
    let Some(nats) = common::nats::Nats::any() else {
        return;
    };
    let (stream, prefix) = common::nats::unique("tui");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let nats_url = nats.url();
    let on_stream = [
        "--nats-stream",
        stream.as_str(),
        "--nats-subject-prefix",
        prefix.as_str(),
    ];
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--secret",
        SECRET,
        "--journal",
        journal.to_str().unwrap(),
        "--nats",
        nats_url.as_str(),
    ];
    args.extend(on_stream);
    let local = Screen::start(&args);
    let url = local.webhook_url();
    post(&url, "checkout-service", "compile", "SUCC");
    let mut args = vec!["attach", nats_url.as_str()];
    args.extend(on_stream);
    let attached = Screen::start(&args);
    attached.wait_for("● live");
    assert!(
        attached
            .text()
            .contains(&format!("attached {nats_url} ({stream})"))
    );
    post(&url, "billing-service", "unit-tests", "FAIL");
    post_job(&url, 77, "deploy", "Deploy", "prod", "RUNNING");
    for screen in [&local, &attached] {
        screen.wait_until("every delivery", |s| s.contains("deploy"));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_same_below_the_header(&local, &attached);
}

#[test]
fn attach_says_a_bad_token_in_its_header_and_keeps_the_screen_until_quit() {
    let mut args = SIGNED.to_vec();
    args.extend(["--viewer-token", "the-right-one"]);
    let local = Screen::start(&args);
    let url = local.webhook_url();
    let base = url.strip_suffix("/webhook").unwrap_or(&url).to_owned();
    let mut attached = Screen::start(&["attach", &base, "--token", "a-wrong-one"]);
    attached.wait_for("refused: bad token");
    attached.keys("q");
    assert_eq!(attached.exit_code(), 0);
}
