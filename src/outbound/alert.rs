//! Notifications: the text, cleaned since it came from the network, and the terminal escapes
//! that carry it (OSC 9 for iTerm2, kitty, WezTerm and Windows Terminal; OSC 777 for foot and
//! VTE terminals), wrapped for tmux's passthrough inside tmux. An escape goes through SSH like
//! any other output, so a notification reaches the desktop the terminal runs on.

use super::runs::Triggers;
use crate::delivery::{Action, Alert, Delivery, Escape, Ingest, Outcome};
use crate::text::clean;
use std::time::Instant;
use tokio::sync::mpsc;

impl Escape {
    /// The one the terminal is known to show: OSC 777 on foot and VTE terminals, OSC 9
    /// elsewhere.
    pub fn for_terminal() -> Escape {
        let term = std::env::var("TERM").unwrap_or_default();
        if term.starts_with("foot") || std::env::var_os("VTE_VERSION").is_some() {
            Escape::Osc777
        } else {
            Escape::Osc9
        }
    }
}

/// The longest a title or body is, in columns.
const WIDTH: usize = 160;

/// The notification for what `delivery` set off, if it set off anything.
pub fn alert(delivery: &Delivery, triggers: Triggers, escape: Escape) -> Alert {
    let job = &delivery.notification.job;
    let pipeline = job.pipeline_name.as_deref().unwrap_or("a pipeline");
    let build = job
        .build_number
        .map(|n| format!(" #{n}"))
        .unwrap_or_default();
    let what = if triggers.failed {
        "failed"
    } else {
        "finished"
    };
    let path = [job.stage_name.as_deref(), job.job_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" › ");
    let status = job
        .status_code
        .as_ref()
        .map(|code| code.as_str().to_owned())
        .unwrap_or_default();
    Alert {
        title: clean(&format!("pipetop: {pipeline}{build} {what}"), WIDTH).into_owned(),
        body: clean(&format!("{path} {status}"), WIDTH).trim().to_owned(),
        escape,
        tmux: std::env::var_os("TMUX").is_some(),
    }
}

/// How many desktop notifications may wait to be shown.
pub const QUEUE: usize = 16;

/// Shows queued alerts with the desktop's notification service, one at a time. Only a failure
/// (no service running, as over SSH or in a container) is said, once per failure, in the log
/// and the footer: it is no reason to stop.
pub fn desktop(out: mpsc::Sender<Ingest>) -> mpsc::Sender<(u64, Alert)> {
    let (tx, mut rx) = mpsc::channel::<(u64, Alert)>(QUEUE);
    tokio::spawn(async move {
        while let Some((delivery_id, alert)) = rx.recv().await {
            let started = Instant::now();
            let shown = tokio::task::spawn_blocking(move || {
                notify_rust::Notification::new()
                    .appname("pipetop")
                    .summary(&alert.title)
                    .body(&alert.body)
                    .show()
                    .map(drop)
            })
            .await;
            let reason = match shown {
                Ok(Ok(())) => continue,
                Ok(Err(err)) => clean(&err.to_string(), 200).into_owned(),
                Err(_) => "it stopped".to_owned(),
            };
            let outcome = Outcome {
                delivery_id,
                at: chrono::Utc::now(),
                action: Action::Notify,
                ok: false,
                status: None,
                elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                detail: format!("no desktop notification service answered: {reason}"),
            };
            if out.send(Ingest::Outcome(outcome)).await.is_err() {
                break;
            }
        }
    });
    tx
}

impl Alert {
    /// The bytes to write to the terminal. The text holds no control characters (it was
    /// cleaned); `;` would end an OSC 777 field early, so there it becomes `,`.
    pub fn escape(&self) -> String {
        let sequence = match self.escape {
            Escape::Osc9 => format!("\x1b]9;{}: {}\x1b\\", self.title, self.body),
            Escape::Osc777 => format!(
                "\x1b]777;notify;{};{}\x1b\\",
                self.title.replace(';', ","),
                self.body.replace(';', ",")
            ),
        };
        if self.tmux {
            // tmux passes a sequence on to the outer terminal when it is wrapped in its own
            // DCS, with every ESC inside doubled (and `allow-passthrough on`).
            format!("\x1bPtmux;{}\x1b\\", sequence.replace('\x1b', "\x1b\x1b"))
        } else {
            sequence
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Alert;

    fn sample(escape: Escape, tmux: bool) -> Alert {
        Alert {
            title: "pipetop: deploy #4 failed".into(),
            body: "Test › unit; FAIL".into(),
            escape,
            tmux,
        }
    }

    #[test]
    fn escapes_are_osc_9_or_777_and_wrapped_for_tmux() {
        assert_eq!(
            sample(Escape::Osc9, false).escape(),
            "\x1b]9;pipetop: deploy #4 failed: Test › unit; FAIL\x1b\\"
        );
        assert_eq!(
            sample(Escape::Osc777, false).escape(),
            "\x1b]777;notify;pipetop: deploy #4 failed;Test › unit, FAIL\x1b\\"
        );
        assert_eq!(
            sample(Escape::Osc9, true).escape(),
            "\x1bPtmux;\x1b\x1b]9;pipetop: deploy #4 failed: Test › unit; FAIL\x1b\x1b\\\x1b\\"
        );
    }

    #[test]
    fn network_text_is_cleaned_before_it_reaches_the_notification() {
        let body = br#"{"job":{"pipelineName":"evil\u001b]0;owned\u0007","buildNumber":2,"stageName":"S\u009b2J","jobName":"j","statusCode":"FAIL"}}"#;
        let parsed = crate::gitee::parse_notification(body).unwrap();
        let mut delivery = crate::testing::delivery(1);
        delivery.notification = parsed.notification;
        let triggers = Triggers {
            failed: true,
            finished: false,
        };
        let alert = alert(&delivery, triggers, Escape::Osc9);
        assert!(!alert.title.contains('\x1b') && !alert.title.contains('\x07'));
        assert!(!alert.body.chars().any(|c| c.is_control()));
        assert!(alert.title.starts_with("pipetop: evil"));
    }
}
