//! Unit tests of the monitor, one file per subject, named as sentences so the list reads as
//! the spec; the deliveries they feed are built here.

mod bounds;
mod detail;
mod failures;
mod filters;
mod hidden;
mod history;
mod noted;
mod order;
mod runs;
mod sharing;
mod status;

use super::*;
use crate::gitee::{Auth, GlobalParam, Job, Notification, Source, Status, StatusCode};
use chrono::{DateTime, Utc};

/// A delivery with sensible defaults, changed by builder methods.
struct Ev(Delivery);

fn ev(id: u64) -> Ev {
    Ev(Delivery {
        id,
        received_at: at(id as i64),
        sent_at: None,
        auth: Auth::None,
        repaired: false,
        headers: Default::default(),
        notification: Notification {
            job: Job {
                pipeline_id: Some(1),
                pipeline_name: Some("app".into()),
                stage_name: Some("Build".into()),
                job_name: Some("compile".into()),
                build_number: Some(1),
                status_code: Some(StatusCode("SUCC".into())),
                status_name: Some("Success".into()),
                pipeline_url: Some("https://gitee.example/p/1".into()),
                ..Job::default()
            },
            ..Notification::default()
        },
    })
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

impl Ev {
    fn job_mut(&mut self) -> &mut Job {
        &mut self.0.notification.job
    }
    fn pipeline(mut self, id: Option<u64>, name: Option<&str>) -> Ev {
        self.job_mut().pipeline_id = id;
        self.job_mut().pipeline_name = name.map(Into::into);
        self
    }
    fn stage(mut self, stage: Option<&str>) -> Ev {
        self.job_mut().stage_name = stage.map(Into::into);
        self
    }
    fn job(mut self, job: Option<&str>) -> Ev {
        self.job_mut().job_name = job.map(Into::into);
        self
    }
    fn build(mut self, build: Option<u64>) -> Ev {
        self.job_mut().build_number = build;
        self
    }
    fn code(mut self, code: &str) -> Ev {
        self.job_mut().status_code = Some(StatusCode(code.into()));
        self.job_mut().status_name = Some(format!("{code} name"));
        self
    }
    fn sent(mut self, seconds: i64) -> Ev {
        self.0.sent_at = Some(at(seconds));
        self
    }
    fn repo(mut self, repo: &str, branch: &str, commit: &str) -> Ev {
        self.0.notification.sources = vec![Source::GiteeGo {
            repo_path: Some(repo.into()),
            branch: Some(branch.into()),
            commit_id: Some(commit.into()),
            extra: Default::default(),
        }];
        self
    }
    fn param(mut self, key: &str, value: &str) -> Ev {
        self.0.notification.global_params.push(GlobalParam {
            key: Some(key.into()),
            value: Some(value.into()),
            ..GlobalParam::default()
        });
        self
    }
    fn ping(mut self) -> Ev {
        self.0.headers.ping = true;
        self
    }
    fn headers(mut self, event: &str, request_id: &str) -> Ev {
        self.0.headers.gitee_event = Some(event.into());
        self.0.headers.request_id = Some(request_id.into());
        self
    }
    /// The notification read from `body`, as the receiver reads it.
    fn body(mut self, body: &str) -> Ev {
        self.0.notification = crate::gitee::parse_notification(body.as_bytes())
            .unwrap()
            .notification;
        self
    }
    fn ingest(self) -> Ingest {
        Ingest::Accepted(Arc::new(self.0))
    }
}

fn rejected(status: u16, reason: &str) -> Ingest {
    Ingest::Rejected(Rejection {
        received_at: at(0),
        status,
        reason: reason.into(),
        peer: "127.0.0.1:9".parse().ok(),
    })
}

fn feed(monitor: &mut Monitor, events: impl IntoIterator<Item = Ev>) {
    for event in events {
        monitor.apply(&event.ingest());
    }
}

fn latest(monitor: &Monitor, id: u64) -> &Run {
    monitor
        .pipeline(&PipelineKey::Id(id))
        .and_then(Pipeline::latest_run)
        .unwrap()
}

fn job_status(run: &Run, job: &str) -> Status {
    run.jobs()
        .find(|(_, j)| j.name() == Some(job))
        .map(|(_, j)| j.status())
        .unwrap()
}

fn names(run: &Run) -> Vec<(Option<&str>, Option<&str>)> {
    run.jobs().map(|(s, j)| (s.name(), j.name())).collect()
}

fn search(text: &str) -> Filter {
    Filter {
        status: StatusFilter::All,
        search: text.into(),
        ..Filter::default()
    }
}

fn only(status: StatusFilter) -> Filter {
    Filter {
        status,
        ..Filter::default()
    }
}

fn titles(monitor: &Monitor, filter: &Filter) -> Vec<String> {
    monitor
        .pipelines(filter)
        .map(|p| p.title().into_owned())
        .collect()
}
