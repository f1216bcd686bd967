//! The pipelines table: each pipeline's latest run at a glance, failures standing out and
//! staying out while a newer run goes. Columns are added as the width allows (red since, how
//! long the run took, the history strip, status word, stage progress, branch, commit). Only the
//! visible rows are built, so the cost follows the screen, not the number of pipelines.

use super::cells::{duration, fit, fitting};
use super::{Clock, Scene, pane, safe, safe_opt, scroll_offset};
use crate::gitee::Status;
use crate::monitor::{Pipeline, Run, STRIP};
use crate::tui::theme::{Theme, glyph};
use crate::tui::view::Focus;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
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
        Span::styled(
            format!("· by {} (S) ", view.filter.order.label()),
            theme.label(),
        ),
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
    let inner = usize::from(area.width.saturating_sub(2));
    let shown: Vec<&Pipeline> = monitor
        .pipelines(&view.filter)
        .skip(offset)
        .take(height)
        .collect();
    let longest_strip = shown
        .iter()
        .map(|p| p.record().strip().len())
        .max()
        .unwrap_or(0);
    // Always: glyph, name, build and age, one column apart.
    let always = 1 + 6 + 4 + 3;
    let name_min = 14;
    let optional = [
        (Column::Red, RED),
        (Column::Strip, longest_strip.clamp(4, 6)),
        (Column::Took, 6),
        (Column::Word, 9),
        (Column::Stage, 5),
        (Column::Branch, 12),
        (Column::Commit, 7),
    ];
    let columns = fitting(inner, name_min, always, &optional);
    let has = |column| columns.contains(&column);
    // Room left once the columns are placed widens the strip (up to 20 runs) before the name.
    let used: usize = always
        + optional
            .iter()
            .filter(|(c, _)| has(*c))
            .map(|(_, w)| w + 1)
            .sum::<usize>();
    let spare = inner.saturating_sub(used + name_min);
    let strip_width = if has(Column::Strip) {
        let base = longest_strip.clamp(4, 6);
        base + spare.min(longest_strip.min(STRIP).saturating_sub(base))
    } else {
        0
    };
    let name_width = inner
        .saturating_sub(used + strip_width.saturating_sub(longest_strip.clamp(4, 6)))
        .max(name_min);

    let rows = shown.iter().enumerate().map(|(i, pipeline)| {
        let status = pipeline.status();
        let run = pipeline.latest_run();
        let record = pipeline.record();
        let build = run
            .and_then(|r| r.build())
            .map_or_else(|| "—".to_owned(), |b| format!("#{b}"));
        let red = pipeline.is_failing() || status == Status::Failed;
        let name_style = if red {
            theme.failed_row()
        } else {
            Style::new()
        };
        let mut cells = vec![
            Cell::from(glyph(status)).style(theme.status(status)),
            Cell::from(fit(&safe(&pipeline.title()), name_width)).style(name_style),
            Cell::from(build),
        ];
        for column in &columns {
            cells.push(match column {
                Column::Red => red_cell(pipeline, clock, theme),
                Column::Took => Cell::from(run.map_or_else(String::new, |r| took(r, clock)))
                    .style(theme.label()),
                Column::Strip => strip_cell(record.strip(), strip_width, theme),
                Column::Word => Cell::from(status.word()).style(theme.status(status)),
                Column::Stage => {
                    Cell::from(run.map_or_else(String::new, |r| r.stage_progress().to_string()))
                }
                Column::Branch => Cell::from(fit(
                    &safe_opt(
                        run.and_then(|r| r.checkout())
                            .and_then(|c| c.branch.as_deref()),
                    ),
                    12,
                ))
                .style(theme.label()),
                Column::Commit => Cell::from(short_commit(run)).style(theme.label()),
            });
        }
        cells.push(Cell::from(clock.ago(pipeline.updated_at())).style(theme.label()));
        let row = Row::new(cells);
        if offset + i == selected {
            row.style(theme.selected(focused))
        } else {
            row
        }
    });
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(6),
    ];
    let mut header = vec!["", "pipeline", "build"];
    for column in &columns {
        let (width, name) = match column {
            Column::Red => (RED, "red since"),
            Column::Took => (6, "took"),
            Column::Strip => (strip_width, "runs"),
            Column::Word => (9, "status"),
            Column::Stage => (5, "stage"),
            Column::Branch => (12, "branch"),
            Column::Commit => (7, "commit"),
        };
        widths.push(Constraint::Length(width as u16));
        header.push(name);
    }
    widths.push(Constraint::Length(4));
    header.push("upd");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.label()))
        .block(block);
    frame.render_widget(table, area);
}

/// Width of the `red since` column: `#1204 15m` and `last ✗ #1204` fit.
const RED: usize = 12;

/// The optional columns, in the order they are given room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    /// `#41 2h` (the first failed build since the last green one, and when) while red,
    /// `last ✗ #44` while a newer run goes after a failure.
    Red,
    /// How long the latest run took, or has been going.
    Took,
    /// The latest runs' glyphs, newest on the right.
    Strip,
    Word,
    Stage,
    Branch,
    Commit,
}

fn red_cell<'a>(pipeline: &Pipeline, clock: &Clock, theme: Theme) -> Cell<'a> {
    let record = pipeline.record();
    let latest_failed = pipeline.status() == Status::Failed;
    let text = match (record.red_since(), record.last_finished()) {
        (_, Some(last)) if !latest_failed && pipeline.is_failing() => {
            format!("last ✗ {}", build_name(last.build))
        }
        (Some(since), _) if latest_failed || pipeline.is_failing() => {
            format!("{} {}", build_name(since.build), clock.ago(since.at))
        }
        _ if latest_failed => "failing".to_owned(),
        _ => String::new(),
    };
    if text.is_empty() {
        return Cell::from("");
    }
    Cell::from(fit(&text, RED)).style(theme.status(Status::Failed))
}

fn build_name(build: Option<u64>) -> String {
    build.map_or_else(|| "—".to_owned(), |b| format!("#{b}"))
}

/// `4m12s` for a finished run; a running one's elapsed time, from its first event.
fn took(run: &Run, clock: &Clock) -> String {
    match run.duration() {
        Some(took) => duration(took),
        None => duration(clock.now - run.started_at()),
    }
}

fn short_commit(run: Option<&Run>) -> String {
    run.and_then(|r| r.checkout())
        .and_then(|c| c.commit_id.as_deref())
        .map_or_else(|| "—".to_owned(), |c| safe(c).chars().take(7).collect())
}

/// The last `width` statuses of the strip, oldest first, each a coloured glyph.
fn strip_cell<'a>(strip: &[Status], width: usize, theme: Theme) -> Cell<'a> {
    let from = strip.len().saturating_sub(width);
    let spans: Vec<Span> = strip[from..]
        .iter()
        .map(|status| Span::styled(glyph(*status), theme.status(*status)))
        .collect();
    Cell::from(Line::from(spans))
}
