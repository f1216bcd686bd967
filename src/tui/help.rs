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
        let Some(text) = binding.footer else { continue };
        let key = binding.label.split('/').next().unwrap_or(binding.label);
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

/// The help overlay, centred over whatever is behind it.
pub fn overlay(frame: &mut Frame, theme: Theme) {
    let mut lines = Vec::new();
    for section in Section::ALL {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::styled(section.title(), theme.title()));
        for binding in BINDINGS.iter().filter(|b| b.section == section) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<9}", binding.label), theme.key()),
                Span::raw(binding.help),
            ]));
        }
    }
    let height = (lines.len() as u16 + 2).min(frame.area().height);
    let width = 72.min(frame.area().width);
    let area = centered(frame.area(), width, height);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .border_type(BorderType::Rounded)
                .border_style(theme.border(true))
                .title(" Keys ")
                .title_bottom(Line::from(" Esc or ? to close ").right_aligned()),
        ),
        area,
    );
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
