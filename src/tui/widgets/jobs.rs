//! The jobs of the selected pipeline's run, grouped by stage in the order stages were first
//! seen. `[` and `]` step through the pipeline's older and newer runs.

use super::{Scene, pane, safe, safe_opt, scroll_offset};
use crate::tui::theme::glyph;
use crate::tui::view::Focus;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

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
    let which = if view.follows_latest_run() {
        "latest".to_owned()
    } else {
        format!("run {position} of {runs}")
    };
    let title = Line::from(vec![
        Span::styled(" Jobs ", theme.title()),
        Span::raw(format!("{} {build} ", safe(&pipeline.title()))),
        Span::styled(
            format!("{} {which} ", glyph(run.status())),
            theme.status(run.status()),
        ),
        Span::styled(if runs > 1 { "[ ] runs " } else { "" }, theme.label()),
    ]);
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
    let selected = view.job_index(&jobs);
    let offset = scroll_offset(selected, height);
    let mut previous_stage = if offset == 0 {
        None
    } else {
        jobs.get(offset - 1).map(|(s, _)| s.name())
    };
    let rows = jobs
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, (stage, job))| {
            let stage_cell = if previous_stage == Some(stage.name()) {
                String::new()
            } else {
                safe_opt(stage.name()).into_owned()
            };
            previous_stage = Some(stage.name());
            let status = job.status();
            let code = safe_opt(job.code());
            let status_text = match job.status_name() {
                Some(name) if !name.eq_ignore_ascii_case(&code) => {
                    format!("{} {code} {}", glyph(status), safe(name))
                }
                _ => format!("{} {code}", glyph(status)),
            };
            let row = Row::new(vec![
                Cell::from(stage_cell).style(theme.label()),
                Cell::from(safe_opt(job.name()).into_owned()),
                Cell::from(status_text).style(theme.status(status)),
                Cell::from(clock.ago(job.updated_at())).style(theme.label()),
            ]);
            if i == selected {
                row.style(theme.selected(focused))
            } else {
                row
            }
        });
    let table = Table::new(
        rows,
        [
            Constraint::Percentage(22),
            Constraint::Fill(1),
            Constraint::Percentage(32),
            Constraint::Length(4),
        ],
    )
    .header(Row::new(["stage", "job", "status", "upd"]).style(theme.label()))
    .block(block);
    frame.render_widget(table, area);
}
