//! The footer's key hints and the `?` overlay, both read from the one key table.

use super::keys::{BINDINGS, Section};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

/// The footer: the bindings the table marks for it, as many as fit.
pub fn footer(theme: Theme, width: u16) -> Line<'static> {
    let mut spans = Vec::new();
    let mut used = 0usize;
    for binding in BINDINGS {
        let Some((key, text)) = binding.footer else {
            continue;
        };
        let cost = key.chars().count() + text.chars().count() + 3;
        if used + cost > usize::from(width) {
            break;
        }
        used += cost;
        spans.push(Span::styled(format!(" {key}"), theme.key()));
        spans.push(Span::styled(format!(" {text} "), theme.label()));
    }
    Line::from(spans)
}

/// The help overlay, centred over whatever is behind it: two columns where the terminal is
/// wide enough, one otherwise.
pub fn overlay(frame: &mut Frame, theme: Theme) {
    let area = frame.area();
    let two_columns = area.width >= 100;
    let columns: Vec<Vec<Line>> = if two_columns {
        vec![
            section_lines(theme, &Section::ALL[..2]),
            section_lines(theme, &Section::ALL[2..]),
        ]
    } else {
        vec![section_lines(theme, &Section::ALL)]
    };
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0) as u16;
    let width = if two_columns {
        110.min(area.width)
    } else {
        72.min(area.width)
    };
    let popup = centered(area, width, (rows + 2).min(area.height));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.border(true))
        .title(" Keys ")
        .title_bottom(Line::from(" Esc or ? to close ").right_aligned());
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let constraints = vec![Constraint::Ratio(1, columns.len() as u32); columns.len()];
    let cells = Layout::horizontal(constraints).spacing(1).split(inner);
    for (lines, cell) in columns.into_iter().zip(cells.iter()) {
        frame.render_widget(Paragraph::new(lines), *cell);
    }
}

fn section_lines(theme: Theme, sections: &[Section]) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for section in sections {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::styled(format!(" {}", section.title()), theme.title()));
        for binding in BINDINGS.iter().filter(|b| b.section == *section) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<9}", binding.label), theme.key()),
                Span::raw(binding.help),
            ]));
        }
    }
    lines
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    cell
}
