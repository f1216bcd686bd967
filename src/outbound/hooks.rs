//! `--on-fail CMD` and `--on-finish CMD`: the user's command, run with the event as environment
//! variables and the delivery's JSON line on stdin. The command line is split like a shell
//! would split it (quotes, backslashes) but no shell runs it, and nothing from the network is
//! ever put into it: network text reaches the command only as cleaned variables and as JSON.
//! One command runs at a time, from a bounded queue, each with a timeout; every run's outcome
//! goes to the event log.

use crate::delivery::{Action, Delivery, Ingest, Outcome};
use crate::gitee::Source;
use crate::text::clean;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

/// A command from the command line, split into its program and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCommand {
    pub argv: Vec<String>,
}

impl HookCommand {
    /// Splits `text` as a POSIX shell would, without running one.
    pub fn parse(text: &str) -> Result<HookCommand, String> {
        match shlex::split(text) {
            Some(argv) if !argv.is_empty() => Ok(HookCommand { argv }),
            Some(_) => Err("the command is empty".into()),
            None => Err("the command has an unclosed quote or a trailing backslash".into()),
        }
    }
}

/// One run waiting in the queue.
pub struct Run {
    pub action: Action,
    pub command: Arc<HookCommand>,
    pub delivery: Arc<Delivery>,
}

/// How many runs may wait; past that a run is dropped, and that is said in the log.
pub const QUEUE: usize = 32;

/// The widest a variable's value is, in columns.
const VALUE_WIDTH: usize = 1024;

/// Runs queued commands one at a time until the queue closes.
pub fn start(timeout: Duration, out: mpsc::Sender<Ingest>) -> mpsc::Sender<Run> {
    let (tx, mut rx) = mpsc::channel::<Run>(QUEUE);
    tokio::spawn(async move {
        while let Some(run) = rx.recv().await {
            let started = Instant::now();
            let (ok, detail) = execute(&run, timeout).await;
            let outcome = Outcome {
                delivery_id: run.delivery.id,
                at: chrono::Utc::now(),
                action: run.action,
                ok,
                status: None,
                elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                detail,
            };
            if out.send(Ingest::Outcome(outcome)).await.is_err() {
                break;
            }
        }
    });
    tx
}

/// The event as environment variables, each cleaned and bounded.
pub fn environment(delivery: &Delivery, action: Action) -> Vec<(&'static str, String)> {
    let job = &delivery.notification.job;
    let checkout = delivery
        .notification
        .sources
        .iter()
        .find_map(|source| match source {
            Source::GiteeGo {
                branch, commit_id, ..
            } => Some((branch.clone(), commit_id.clone())),
            _ => None,
        });
    let (branch, commit) = checkout.unwrap_or_default();
    let event = match action {
        Action::OnFinish => "finish",
        _ => "fail",
    };
    [
        ("PIPETOP_EVENT", Some(event.to_owned())),
        ("PIPETOP_DELIVERY", Some(delivery.id.to_string())),
        ("PIPETOP_PIPELINE", job.pipeline_name.clone()),
        ("PIPETOP_BUILD", job.build_number.map(|n| n.to_string())),
        ("PIPETOP_STAGE", job.stage_name.clone()),
        ("PIPETOP_JOB", job.job_name.clone()),
        (
            "PIPETOP_STATUS",
            job.status_code.as_ref().map(|c| c.as_str().to_owned()),
        ),
        ("PIPETOP_URL", job.pipeline_url.clone()),
        ("PIPETOP_BRANCH", branch),
        ("PIPETOP_COMMIT", commit),
    ]
    .into_iter()
    .map(|(name, value)| {
        let value = value.unwrap_or_default();
        (name, clean(&value, VALUE_WIDTH).into_owned())
    })
    .collect()
}

/// Runs one command; whether it succeeded, and what to say of it.
async fn execute(run: &Run, timeout: Duration) -> (bool, String) {
    let Some((program, args)) = run.command.argv.split_first() else {
        return (false, "the command is empty".into());
    };
    let mut command = tokio::process::Command::new(program);
    // pipetop's own variables are its configuration, not the command's: they hold the
    // shared secret, the forward secret, the viewer token and a NATS URL's password. The
    // command's `PIPETOP_…` variables are the event's alone.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PIPETOP_") {
            command.env_remove(&name);
        }
    }
    command
        .args(args)
        .envs(environment(&run.delivery, run.action))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            let reason = crate::io_reason(&err);
            return (
                false,
                format!("cannot run {}: {reason}", clean(program, 80)),
            );
        }
    };
    let mut line = crate::headless::line(&Ingest::Accepted(Arc::clone(&run.delivery)));
    line.push('\n');
    let stdin = child.stdin.take();
    let finished = tokio::time::timeout(timeout, async move {
        if let Some(mut stdin) = stdin {
            // A command that does not read its stdin is no failure.
            let _ = stdin.write_all(line.as_bytes()).await;
        }
        child.wait_with_output().await
    })
    .await;
    match finished {
        // Dropping the child on the timeout kills it.
        Err(_) => (false, format!("killed after {}s", timeout.as_secs_f32())),
        Ok(Err(err)) => (false, format!("failed: {}", crate::io_reason(&err))),
        Ok(Ok(output)) if output.status.success() => (true, "exit status 0".into()),
        Ok(Ok(output)) => {
            let said = String::from_utf8_lossy(&output.stderr);
            let said = said
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let status = match output.status.code() {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_owned(),
            };
            if said.is_empty() {
                (false, status)
            } else {
                (false, format!("{status}: {}", clean(said, 200)))
            }
        }
    }
}
