//! The event log: every delivery, accepted or rejected, newest at the bottom; a test delivery
//! or a body that is not a job notification says so, with the headers that tell what it was. It follows new
//! entries until the user scrolls up; `G` or `s` follows again.

use super::cells::clip;
use super::{Scene, pane, safe};
use crate::monitor::{Fate, LogEvent};
use crate::tui::theme::glyph;
use crate::tui::view::Focus;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, scene: &Scene) {
    let (monitor, view, context, clock) = scene.parts();
    let theme = context.theme;
    let focused = view.focus == Focus::Log;
    let state = if view.follows_log() {
        Span::styled("following ", theme.label())
    } else {
        Span::styled("paused · G to follow ", theme.warning())
    };
    let title = Line::from(vec![Span::styled(" Events ", theme.title()), state]);
    let block = pane(title, focused, context);

    let height = usize::from(area.height.saturating_sub(2));
    let width = usize::from(area.width.saturating_sub(2));
    let anchor = view.log_anchor();
    let mut entries: Vec<_> = monitor
        .log_entries(&view.filter)
        .rev()
        .skip_while(|e| anchor.is_some_and(|seq| e.seq > seq))
        .take(height)
        .collect();
    entries.reverse();
    // Near the top (after `g`) the page is filled with the entries after the anchored one.
    if let Some(seq) = anchor
        && entries.len() < height
    {
        let more = height - entries.len();
        entries.extend(
            monitor
                .log_entries(&view.filter)
                .filter(|e| e.seq > seq)
                .take(more),
        );
    }
    // The entry `Enter` opens: the anchored one, or the newest while following.
    let target = anchor.or_else(|| entries.last().map(|e| e.seq));

    let lines: Vec<Line> = entries
        .into_iter()
        .map(|entry| {
            let highlighted = focused && Some(entry.seq) == target;
            let time = Span::styled(format!(" {} ", clock.log_time(entry.at)), theme.label());
            let line = match &entry.event {
                LogEvent::Accepted(accepted) => {
                    let code = accepted.code.as_deref().unwrap_or("—");
                    let mut spans = vec![
                        time,
                        Span::styled(
                            format!("{} {:<7} ", glyph(accepted.status), safe(code)),
                            theme.status(accepted.status),
                        ),
                        Span::raw(safe(&accepted.path()).into_owned()),
                    ];
                    if let Some(build) = accepted.build {
                        spans.push(Span::styled(format!(" #{build}"), theme.label()));
                    }
                    if let Some(name) = accepted
                        .status_name
                        .as_deref()
                        .filter(|n| !n.eq_ignore_ascii_case(code))
                    {
                        spans.push(Span::styled(format!("  {}", safe(name)), theme.label()));
                    }
                    match accepted.fate {
                        Fate::Retry(n) => spans.push(Span::styled(
                            format!("  (retry {})", n + 1),
                            theme.warning(),
                        )),
                        fate => {
                            if let Some(note) = fate.note() {
                                spans.push(Span::styled(format!("  ({note})"), theme.label()));
                            }
                        }
                    }
                    Line::from(spans)
                }
                LogEvent::Noted(noted) => {
                    let mut spans = vec![
                        time,
                        Span::styled(format!("◦ {:<7} ", ""), theme.label()),
                        Span::raw(noted.kind.describe()),
                    ];
                    if let Some(event) = &noted.gitee_event {
                        spans.push(Span::styled("  X-Gitee-Event: ", theme.label()));
                        spans.push(Span::raw(safe(event).into_owned()));
                    }
                    if let Some(id) = &noted.request_id {
                        spans.push(Span::styled(
                            format!("  X-Request-ID: {}", safe(id)),
                            theme.label(),
                        ));
                    }
                    Line::from(spans)
                }
                LogEvent::Outcome(outcome) => {
                    let style = if outcome.ok {
                        theme.label()
                    } else {
                        theme.error()
                    };
                    Line::from(vec![
                        time,
                        Span::styled(
                            format!("↳ #{} {} ", outcome.delivery_id, outcome.action.describe()),
                            style,
                        ),
                        Span::styled(format!("{} ms: ", outcome.elapsed_ms), theme.label()),
                        Span::raw(safe(&outcome.detail).into_owned()),
                    ])
                }
                LogEvent::Rejected(rejected) => {
                    let mut spans = vec![
                        time,
                        Span::styled(format!("⚠ rejected {} ", rejected.status), theme.error()),
                        Span::raw(safe(&rejected.reason).into_owned()),
                    ];
                    if let Some(peer) = rejected.peer {
                        spans.push(Span::styled(format!("  from {peer}"), theme.label()));
                    }
                    Line::from(spans)
                }
            };
            let line = clip(line, width);
            if highlighted {
                line.style(theme.selected(true))
            } else {
                line
            }
        })
        .collect();
    let body = if lines.is_empty() {
        vec![Line::styled(
            " No deliveries yet: accepted and rejected requests appear here.",
            theme.label(),
        )]
    } else {
        lines
    };
    frame.render_widget(Paragraph::new(body).block(block), area);
}
