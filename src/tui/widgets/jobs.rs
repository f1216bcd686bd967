//! The jobs of the selected pipeline's run, grouped by stage in the order stages were first
//! seen, each with how long it took, a retry or a flaky pass; the title holds the run's branch,
//! commit and timing. Under a status filter the run's other jobs stay, dimmed, around the ones
//! it picks. `[` and `]` step through the pipeline's older and newer runs.

use super::cells::{duration, fit};
use super::{Scene, pane, safe, safe_opt, scroll_offset};
use crate::gitee::Status;
use crate::monitor::{JobState, flaky};
use crate::tui::theme::glyph;
use crate::tui::view::Focus;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use unicode_width::UnicodeWidthStr as _;

pub fn draw(frame: &mut Frame, area: Rect, scene: &Scene) {
    let (monitor, view, context, clock) = scene.parts();
    let theme = context.theme;
    let focused = view.focus == Focus::Jobs;
    let Some((pipeline, run)) = view.run(monitor) else {
        let block = pane(Line::styled(" Jobs ", theme.title()), focused, context);
        frame.render_widget(
            Paragraph::new(Line::styled("No pipeline selected.", theme.label())).block(block),
            area,
        );
        return;
    };

    let runs = pipeline.runs().len();
    let position = pipeline
        .runs()
        .position(|r| r.build() == run.build())
        .map_or(runs, |i| i + 1);
    let build = run
        .build()
        .map_or_else(|| "no build number".to_owned(), |b| format!("#{b}"));
    let latest = pipeline.latest_run().map(|r| r.build()) == Some(run.build());
    let which = if latest {
        "latest".to_owned()
    } else {
        format!("run {position} of {runs}")
    };
    let timing = match run.duration() {
        Some(took) => format!("took {} ", duration(took)),
        None => format!("running {} ", duration(clock.now - run.started_at())),
    };
    let checkout = run.checkout().map_or_else(String::new, |c| {
        let branch = c.branch.as_deref().map(safe).unwrap_or_default();
        let commit: String = c
            .commit_id
            .as_deref()
            .map(safe)
            .unwrap_or_default()
            .chars()
            .take(7)
            .collect();
        format!("{}@{commit} ", fit(&branch, 16))
    });
    let mut spans = vec![
        Span::styled(" Jobs ", theme.title()),
        Span::raw(format!(
            "{} {build} ",
            fit(&safe(&pipeline.title()), usize::from(area.width / 3).max(8))
        )),
        Span::styled(
            format!("{} {which} ", glyph(run.status())),
            theme.status(run.status()),
        ),
        Span::styled(timing, theme.label()),
    ];
    let room = usize::from(area.width).saturating_sub(spans.iter().map(Span::width).sum());
    if !checkout.is_empty() && checkout.chars().count() + 9 <= room {
        spans.push(Span::styled(checkout, theme.label()));
    }
    if runs > 1 {
        spans.push(Span::styled("[ ] runs ", theme.label()));
    }
    let title = Line::from(spans);
    let block = pane(title, focused, context);

    let jobs = view.jobs(monitor);
    if jobs.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "No job of this run matches the filter.",
                theme.label(),
            ))
            .block(block),
            area,
        );
        return;
    }
    let height = usize::from(area.height.saturating_sub(3));
    let widths = Widths::of(usize::from(area.width.saturating_sub(2)));
    let selected = view.job_index(&jobs);
    let offset = scroll_offset(selected, height);
    let mut previous_stage = if offset == 0 {
        None
    } else {
        jobs.get(offset - 1).map(|(s, _, _)| s.name())
    };
    let rows =
        jobs.iter()
            .enumerate()
            .skip(offset)
            .take(height)
            .map(|(i, (stage, job, matches))| {
                let stage_cell = if previous_stage == Some(stage.name()) {
                    String::new()
                } else {
                    fit(&safe_opt(stage.name()), widths.stage)
                };
                previous_stage = Some(stage.name());
                let status = job.status();
                let code = safe_opt(job.code());
                // A retry or a flaky pass says so before the statusName, which the detail
                // pane shows anyway.
                let mark = attempt_mark(job, flaky(pipeline, run, stage, job).is_some());
                let status_text = match (mark, job.status_name()) {
                    (Some(mark), _) => format!("{} {code} · {mark}", glyph(status)),
                    (None, Some(name)) if !name.eq_ignore_ascii_case(&code) => {
                        format!("{} {code} {}", glyph(status), safe(name))
                    }
                    (None, _) => format!("{} {code}", glyph(status)),
                };
                // Where the column is too narrow for the name or the mark, the code alone
                // reads better than both cut in the middle.
                let status_text = if status_text.width() <= widths.status {
                    status_text
                } else {
                    format!("{} {code}", glyph(status))
                };
                let took = match (job.duration(), job.started_at()) {
                    (Some(took), _) => duration(took),
                    (None, Some(start)) if !status.is_final() => duration(clock.now - start),
                    _ => String::new(),
                };
                let row = Row::new(vec![
                    Cell::from(stage_cell).style(theme.label()),
                    Cell::from(fit(&safe_opt(job.name()), widths.job)),
                    Cell::from(fit(&status_text, widths.status)).style(theme.status(status)),
                    Cell::from(took).style(theme.label()),
                    Cell::from(clock.ago(job.updated_at())).style(theme.label()),
                ]);
                if i == selected {
                    row.style(theme.selected(focused))
                } else if !matches {
                    row.style(theme.dim())
                } else {
                    row
                }
            });
    let table = Table::new(
        rows,
        [
            Constraint::Length(widths.stage as u16),
            Constraint::Length(widths.job as u16),
            Constraint::Length(widths.status as u16),
            Constraint::Length(6),
            Constraint::Length(4),
        ],
    )
    .header(Row::new(["stage", "job", "status", "took", "upd"]).style(theme.label()))
    .block(block);
    frame.render_widget(table, area);
}

/// `retry 2` while a re-run goes or after it failed again, `flaky` once it passed after a
/// failure on the same commit.
pub(super) fn attempt_mark(job: &JobState, flaky: bool) -> Option<String> {
    if flaky {
        Some("flaky".to_owned())
    } else if job.retries() > 0 && job.status() != Status::Success {
        Some(format!("retry {}", job.retries() + 1))
    } else {
        None
    }
}

/// The stage, job and status columns' widths within `inner` columns, beside `took` (6) and
/// `upd` (4) and the four columns between them; names are cut to them with `…`.
struct Widths {
    stage: usize,
    job: usize,
    status: usize,
}

impl Widths {
    fn of(inner: usize) -> Widths {
        let free = inner.saturating_sub(6 + 4 + 4);
        let stage = free * 22 / 100;
        let status = free * 40 / 100;
        Widths {
            stage,
            job: free - stage - status,
            status,
        }
    }
}
