//! The footer's key hints and the `?` overlay, both read from the one key table.

use super::keys::{Action, BINDINGS, Section};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

/// The footer: the bindings the table marks for it, as many as fit in table order; the way to
/// the help is always among them.
pub fn footer(theme: Theme, width: u16) -> Line<'static> {
    let cost = |(key, text): (&str, &str)| key.chars().count() + text.chars().count() + 3;
    let help = BINDINGS
        .iter()
        .find(|b| b.action == Action::Help)
        .and_then(|b| b.footer);
    let mut used = help.map_or(0, cost);
    let mut spans = Vec::new();
    for binding in BINDINGS {
        let Some(hint) = binding.footer else {
            continue;
        };
        if binding.action != Action::Help {
            if used + cost(hint) > usize::from(width) {
                continue;
            }
            used += cost(hint);
        }
        spans.push(Span::styled(format!(" {}", hint.0), theme.key()));
        spans.push(Span::styled(format!(" {} ", hint.1), theme.label()));
    }
    Line::from(spans)
}

/// The help overlay, centred over whatever is behind it: two columns where the terminal is
/// wide enough for both, one otherwise. When it is taller than the terminal it scrolls
/// (`scroll` rows down, kept within bounds) and says so. Returns the furthest it can scroll
/// on this screen.
pub fn overlay(frame: &mut Frame, theme: Theme, scroll: u16) -> u16 {
    let area = frame.area();
    let needed = BINDINGS
        .iter()
        .map(|b| LABEL + 2 + b.help.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let two_columns = usize::from(area.width) >= 2 * needed + 3;
    let columns: Vec<Vec<Line>> = if two_columns {
        vec![
            section_lines(theme, &Section::ALL[..2]),
            section_lines(theme, &Section::ALL[2..]),
        ]
    } else {
        vec![section_lines(theme, &Section::ALL)]
    };
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0) as u16;
    let wanted = u16::try_from(needed * columns.len() + columns.len() + 1).unwrap_or(u16::MAX);
    let popup = centered(area, wanted.min(area.width), (rows + 2).min(area.height));
    let visible = popup.height.saturating_sub(2);
    let limit = rows.saturating_sub(visible);
    let scroll = scroll.min(limit);
    frame.render_widget(Clear, popup);
    let bottom = if rows > visible {
        format!(
            " j/k scroll ({}/{rows}) · Esc or ? to close ",
            scroll + visible
        )
    } else {
        " Esc or ? to close ".to_owned()
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.border(true))
        .title(" Keys ")
        .title_bottom(Line::from(bottom).right_aligned());
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let constraints = vec![Constraint::Ratio(1, columns.len() as u32); columns.len()];
    let cells = Layout::horizontal(constraints).spacing(1).split(inner);
    for (lines, cell) in columns.into_iter().zip(cells.iter()) {
        frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), *cell);
    }
    limit
}

/// Columns given to a binding's keys in the overlay.
const LABEL: usize = 11;

fn section_lines(theme: Theme, sections: &[Section]) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for section in sections {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::styled(format!(" {}", section.title()), theme.title()));
        for binding in BINDINGS.iter().filter(|b| b.section == *section) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<LABEL$}", binding.label), theme.key()),
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
