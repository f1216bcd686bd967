//! What pipetop does with a live delivery besides showing it: notify the user when a job
//! fails or a run finishes ([`alert`]), run the user's commands ([`hooks`]), and post it again
//! to the user's own receiver ([`forward`]).
//!
//! [`tap`] sits between the journal's writer and the consumer: it passes every message on as
//! it came, and hands work to bounded queues with `try_send`, so neither the receiver nor the
//! screen ever waits for a command or a slow URL. What became of the work comes back on the
//! consumer's channel as [`Ingest::Outcome`], after the delivery it belongs to.

pub mod alert;
pub mod forward;
pub mod hooks;
pub mod resend;
pub mod runs;

use crate::delivery::{Action, Delivery, Escape, Ingest, Outcome};
use hooks::{HookCommand, Run};
use runs::{Runs, Triggers};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::{self, error::TrySendError};

/// When to notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NotifyWhen {
    /// When a job fails, and when a run finishes.
    Always,
    /// When a job fails.
    Fail,
    /// When a run finishes, whichever way.
    Finish,
}

impl NotifyWhen {
    fn wants(self, triggers: Triggers) -> bool {
        match self {
            NotifyWhen::Always => triggers.failed || triggers.finished,
            NotifyWhen::Fail => triggers.failed,
            NotifyWhen::Finish => triggers.finished,
        }
    }
}

/// How to notify.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum NotifyVia {
    /// The escape the terminal is known to show: OSC 777 on foot and VTE, OSC 9 elsewhere.
    #[default]
    Terminal,
    /// OSC 9 (iTerm2, kitty, WezTerm, Windows Terminal).
    Osc9,
    /// OSC 777 (foot, VTE terminals, WezTerm).
    Osc777,
    /// The desktop's own notification service (D-Bus on Linux and the BSDs, Notification
    /// Center on macOS, toasts on Windows), on the machine pipetop runs on.
    Desktop,
}

/// Everything the tap was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub notify: Option<NotifyWhen>,
    pub notify_via: NotifyVia,
    pub on_fail: Option<HookCommand>,
    pub on_finish: Option<HookCommand>,
    pub hook_timeout: Duration,
    pub forward: Option<forward::Target>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.notify.is_none()
            && self.on_fail.is_none()
            && self.on_finish.is_none()
            && self.forward.is_none()
    }
}

/// Passes every message from `rx` on to `out`, and sets off what `plan` asks for each live
/// accepted delivery, until `rx` closes or `out` does.
pub async fn tap(mut rx: mpsc::Receiver<Ingest>, out: mpsc::Sender<Ingest>, plan: Plan) {
    let closing = Arc::new(AtomicBool::new(false));
    let forwards = plan
        .forward
        .as_ref()
        .map(|target| forward::start(target, out.clone(), Arc::clone(&closing)));
    let hooks = (plan.on_fail.is_some() || plan.on_finish.is_some())
        .then(|| hooks::start(plan.hook_timeout, out.clone()));
    let on_fail = plan.on_fail.clone().map(Arc::new);
    let on_finish = plan.on_finish.clone().map(Arc::new);
    let escape = match plan.notify_via {
        NotifyVia::Terminal | NotifyVia::Desktop => Escape::for_terminal(),
        NotifyVia::Osc9 => Escape::Osc9,
        NotifyVia::Osc777 => Escape::Osc777,
    };
    let desktop = (plan.notify.is_some() && plan.notify_via == NotifyVia::Desktop)
        .then(|| alert::desktop(out.clone()));
    let mut runs = Runs::default();
    while let Some(ingest) = rx.recv().await {
        let delivery = match &ingest {
            Ingest::Accepted(delivery) => Some(Arc::clone(delivery)),
            _ => None,
        };
        if out.send(ingest).await.is_err() {
            break;
        }
        let Some(delivery) = delivery else { continue };
        let mut later = Vec::new();
        if let Some(forwards) = &forwards
            && let Err(TrySendError::Full(_)) = forwards.try_send(Arc::clone(&delivery))
        {
            later.push(dropped(&delivery, Action::Forward, forward::QUEUE));
        }
        let triggers = runs.see(&delivery.notification.job);
        if plan.notify.is_some_and(|when| when.wants(triggers)) {
            let alert = alert::alert(&delivery, triggers, escape);
            match &desktop {
                Some(desktop) => {
                    if let Err(TrySendError::Full(_)) = desktop.try_send((delivery.id, alert)) {
                        later.push(dropped(&delivery, Action::Notify, alert::QUEUE));
                    }
                }
                None => later.push(Ingest::Alert(alert)),
            }
        }
        if let Some(hooks) = &hooks {
            for (fired, command, action) in [
                (triggers.failed, &on_fail, Action::OnFail),
                (triggers.finished, &on_finish, Action::OnFinish),
            ] {
                let Some(command) = command.as_ref().filter(|_| fired) else {
                    continue;
                };
                let run = Run {
                    action,
                    command: Arc::clone(command),
                    delivery: Arc::clone(&delivery),
                };
                if let Err(TrySendError::Full(_)) = hooks.try_send(run) {
                    later.push(dropped(&delivery, action, hooks::QUEUE));
                }
            }
        }
        for message in later {
            if out.send(message).await.is_err() {
                break;
            }
        }
    }
    closing.store(true, Ordering::Relaxed);
}

fn dropped(delivery: &Delivery, action: Action, queue: usize) -> Ingest {
    Ingest::Outcome(Outcome {
        delivery_id: delivery.id,
        at: chrono::Utc::now(),
        action,
        ok: false,
        status: None,
        elapsed_ms: 0,
        detail: format!("not done: {queue} are already waiting"),
    })
}
