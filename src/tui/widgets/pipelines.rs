//! The pipelines table: each pipeline's latest run at a glance, failures standing out. Only the
//! visible rows are built, so the cost follows the screen, not the number of pipelines.

use super::{Scene, pane, safe, scroll_offset};
use crate::gitee::Status;
use crate::tui::theme::glyph;
use crate::tui::view::Focus;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, scene: &Scene) {
    let (monitor, view, context, clock) = scene.parts();
    let theme = context.theme;
    let focused = view.focus == Focus::Pipelines;
    let count = monitor.pipeline_count(&view.filter);
    let title = Line::from(vec![
        Span::styled(" Pipelines ", theme.title()),
        Span::styled(format!("{count} "), theme.label()),
    ]);
    let block = pane(title, focused, context);

    if count == 0 {
        let lines = if monitor.pipeline_total() == 0 {
            // Test deliveries and other hooks make no pipeline; say they came, or a user who
            // pressed "test" in Gitee's settings reads the screen as "nothing arrived".
            let accepted = monitor.totals().accepted;
            let mut lines = if accepted == 0 {
                vec![Line::styled(
                    "Waiting for the first webhook…",
                    theme.title(),
                )]
            } else {
                vec![
                    Line::styled("Waiting for the first job notification…", theme.title()),
                    Line::styled(
                        format!(
                            "{accepted} {}, none from a Gitee Go job.",
                            if accepted == 1 {
                                "delivery"
                            } else {
                                "deliveries"
                            }
                        ),
                        theme.label(),
                    ),
                ]
            };
            lines.extend([
                Line::default(),
                Line::raw("Paste this URL into a Gitee Go job's"),
                Line::raw("webhook notification (through a tunnel):"),
                Line::styled(format!("  {}", context.webhook_url), theme.key()),
                Line::default(),
                Line::styled("Or send a test notification:", theme.label()),
                Line::styled(
                    format!("  pipetop send --url {}", context.webhook_url),
                    theme.label(),
                ),
            ]);
            if context.verification {
                lines.push(Line::styled(
                    "    --secret <the same secret>",
                    theme.label(),
                ));
            }
            lines
        } else {
            vec![Line::styled(
                "No pipeline matches the filter. Press 0 for all, Esc to clear the search.",
                theme.label(),
            )]
        };
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(block),
            area,
        );
        return;
    }

    let height = usize::from(area.height.saturating_sub(3));
    let selected = view.pipeline_index(monitor);
    let offset = scroll_offset(selected, height);
    let rows = monitor
        .pipelines(&view.filter)
        .skip(offset)
        .take(height)
        .enumerate()
        .map(|(i, pipeline)| {
            let status = pipeline.status();
            let run = pipeline.latest_run();
            let build = run
                .and_then(|r| r.build())
                .map_or_else(|| "—".to_owned(), |b| format!("#{b}"));
            let progress = run.map_or_else(String::new, |r| r.stage_progress().to_string());
            let name_style = if status == Status::Failed {
                theme.failed_row()
            } else {
                ratatui::style::Style::new()
            };
            let row = Row::new(vec![
                Cell::from(format!("{} {}", glyph(status), status.word()))
                    .style(theme.status(status)),
                Cell::from(safe(&pipeline.title()).into_owned()).style(name_style),
                Cell::from(build),
                Cell::from(progress),
                Cell::from(clock.ago(pipeline.updated_at())).style(theme.label()),
            ]);
            if offset + i == selected {
                row.style(theme.selected(focused))
            } else {
                row
            }
        });
    let table = Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Fill(1),
            Constraint::Length(7),
            Constraint::Length(5),
            Constraint::Length(4),
        ],
    )
    .header(Row::new(["status", "pipeline", "build", "stage", "upd"]).style(theme.label()))
    .block(block);
    frame.render_widget(table, area);
}
