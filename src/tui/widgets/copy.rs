//! The `y` menu, k9s style: what can be copied from the selected job (its pipelineUrl, commit,
//! branch, or its whole detail as text), each under one key, and the overlay that offers them.

use super::{Clock, detail, safe};
use crate::monitor::Monitor;
use crate::tui::theme::Theme;
use crate::tui::view::View;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

/// One thing the menu offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub key: char,
    /// What it is, for the menu and the footer's "copied the …".
    pub what: &'static str,
    pub text: String,
}

/// What the selected job offers, in menu order; empty when no job is selected.
pub fn choices(monitor: &Monitor, view: &View, clock: &Clock) -> Vec<Choice> {
    let Some((_, run, _, job)) = view.job(monitor) else {
        return Vec::new();
    };
    let checkout = run.checkout();
    let mut out = Vec::new();
    let mut offer = |key, what, text: Option<&str>| {
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            out.push(Choice {
                key,
                what,
                text: text.to_owned(),
            });
        }
    };
    offer('u', "pipelineUrl", job.pipeline_url());
    offer('c', "commit", checkout.and_then(|c| c.commit_id.as_deref()));
    offer('b', "branch", checkout.and_then(|c| c.branch.as_deref()));
    offer(
        'd',
        "job's detail",
        detail::text(monitor, view, clock).as_deref(),
    );
    out
}

/// The menu, centred: each choice's key, name and the start of its text.
pub fn overlay(frame: &mut Frame, choices: &[Choice], theme: Theme) {
    let area = frame.area();
    let mut lines: Vec<Line> = choices
        .iter()
        .map(|choice| {
            let first = choice.text.lines().next().unwrap_or_default();
            let preview = if choice.text.contains('\n') {
                format!("{first} …")
            } else {
                first.to_owned()
            };
            Line::from(vec![
                Span::styled(format!(" {} ", choice.key), theme.key()),
                Span::styled(format!("{:<13}", choice.what), theme.title()),
                Span::raw(super::cells::fit(&safe(&preview), 40)),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(
            " Nothing to copy: no job is selected.",
            theme.label(),
        ));
    }
    let width = 60.min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.border(true))
        .title(" Copy ")
        .title_bottom(Line::from(" key to copy · Esc to close ").right_aligned());
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
