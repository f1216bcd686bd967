//! Drawing: pure functions of the monitor, the view and the clock. They decide nothing; what
//! they show is computed by `monitor` and `view`.
//!
//! Every string that came from the network goes through [`safe`] before it reaches a cell.

mod cells;
pub mod copy;
mod detail;
mod header;
mod jobs;
mod log;
mod pipelines;

use super::Context;
use super::help;
use super::view::{Focus, View};
use crate::monitor::Monitor;
use crate::text;
use chrono::{DateTime, FixedOffset, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};
use std::borrow::Cow;

/// Below this the screen only says it is too small.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;

/// The time the frame is drawn at, and the offset local times are shown in.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: DateTime<Utc>,
    pub offset: FixedOffset,
}

impl Clock {
    pub fn local() -> Clock {
        let now = chrono::Local::now();
        Clock {
            now: now.with_timezone(&Utc),
            offset: *now.offset(),
        }
    }

    /// `HH:MM:SS` in local time.
    fn time_of_day(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.offset)
            .format("%H:%M:%S")
            .to_string()
    }

    /// `HH:MM:SS` today, `Nov 26 HH:MM:SS` on another day (local time).
    fn log_time(&self, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&self.offset);
        if local.date_naive() == self.now.with_timezone(&self.offset).date_naive() {
            local.format("%H:%M:%S").to_string()
        } else {
            local.format("%b %d %H:%M:%S").to_string()
        }
    }

    /// `just now`, `12s ago`: for sentences.
    fn ago_phrase(&self, at: DateTime<Utc>) -> String {
        match self.ago(at).as_str() {
            "now" => "just now".into(),
            short => format!("{short} ago"),
        }
    }

    /// `now`, `12s`, `5m`, `3h`, `2d`: how long ago.
    fn ago(&self, at: DateTime<Utc>) -> String {
        let secs = (self.now - at).num_seconds().max(0);
        match secs {
            0 => "now".into(),
            1..=59 => format!("{secs}s"),
            60..=3599 => format!("{}m", secs / 60),
            3600..=86_399 => format!("{}h", secs / 3600),
            _ => format!("{}d", secs / 86_400),
        }
    }
}

/// Where each pane goes for a given terminal size; `None` folds a pane away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Panes {
    pub pipelines: Option<Rect>,
    pub jobs: Option<Rect>,
    pub detail: Option<Rect>,
    pub log: Option<Rect>,
}

impl Panes {
    /// Wide terminals show all four panes; narrower ones stack fewer, always keeping the
    /// focused pane; the smallest show only the focused pane. The jobs pane is as tall as the
    /// run's `jobs` need (within bounds), so the detail pane gets the rest.
    pub fn layout(body: Rect, focus: Focus, jobs: usize) -> Panes {
        let wide = body.width >= 100;
        let tall = body.height >= 20;
        if wide && tall {
            let log_height = (body.height / 4).clamp(5, 12);
            let [top, log] =
                Layout::vertical([Constraint::Min(0), Constraint::Length(log_height)]).areas(body);
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(top);
            let most = if focus == Focus::Detail {
                right.height * 35 / 100
            } else {
                right.height * 60 / 100
            };
            let wanted = u16::try_from(jobs).unwrap_or(u16::MAX).saturating_add(3);
            let [jobs, detail] = Layout::vertical([
                Constraint::Length(wanted.clamp(5, most.max(5))),
                Constraint::Min(0),
            ])
            .areas(right);
            return Panes {
                pipelines: Some(left),
                jobs: Some(jobs),
                detail: Some(detail),
                log: Some(log),
            };
        }
        if body.height >= 16 {
            let second = match focus {
                Focus::Detail => Focus::Detail,
                Focus::Log if !tall => Focus::Log,
                _ => Focus::Jobs,
            };
            let mut panes = Panes::default();
            let show_log = tall && second != Focus::Log;
            let [a, b, c] = Layout::vertical([
                Constraint::Percentage(40),
                Constraint::Min(0),
                Constraint::Length(if show_log { 6 } else { 0 }),
            ])
            .areas(body);
            panes.pipelines = Some(a);
            panes.set(second, b);
            if show_log {
                panes.log = Some(c);
            }
            return panes;
        }
        let mut panes = Panes::default();
        panes.set(focus, body);
        panes
    }

    fn set(&mut self, focus: Focus, area: Rect) {
        let slot = match focus {
            Focus::Pipelines => &mut self.pipelines,
            Focus::Jobs => &mut self.jobs,
            Focus::Detail => &mut self.detail,
            Focus::Log => &mut self.log,
        };
        *slot = Some(area);
    }
}

/// What every pane draws from.
#[derive(Clone, Copy)]
pub struct Scene<'a> {
    pub monitor: &'a Monitor,
    pub view: &'a View,
    pub context: &'a Context,
    pub clock: &'a Clock,
}

impl<'a> Scene<'a> {
    fn parts(&self) -> (&'a Monitor, &'a View, &'a Context, &'a Clock) {
        (self.monitor, self.view, self.context, self.clock)
    }
}

/// Where the panes go on a screen of `area`: below the header, above the footer; `None` when
/// the terminal is too small for any.
pub fn body(area: Rect) -> Option<Rect> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let [_, body, _] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    Some(body)
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, monitor: &Monitor, view: &View, context: &Context, clock: &Clock) {
    let scene = Scene {
        monitor,
        view,
        context,
        clock,
    };
    let area = frame.area();
    let theme = context.theme;
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let message = format!(
            "Terminal too small: {}×{}; pipetop needs at least {MIN_WIDTH}×{MIN_HEIGHT}.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(message).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    // The same split as [`body`], which the mouse goes by.
    let [header_area, body, footer_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, header_area, monitor, view, context);

    let panes = Panes::layout(body, view.focus, view.jobs(monitor).len());
    if let Some(area) = panes.pipelines {
        pipelines::draw(frame, area, &scene);
    }
    if let Some(area) = panes.jobs {
        jobs::draw(frame, area, &scene);
    }
    if let Some(area) = panes.detail {
        detail::draw(frame, area, &scene);
    }
    if let Some(area) = panes.log {
        log::draw(frame, area, &scene);
    }
    draw_footer(frame, footer_area, view, context);
    if view.help {
        view.help_limit
            .set(help::overlay(frame, theme, view.help_scroll));
    }
    if view.copy_menu {
        copy::overlay(frame, &copy::choices(monitor, view, clock), theme);
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, view: &View, context: &Context) {
    let theme = context.theme;
    let line = if view.typing {
        Line::from(vec![
            Span::styled(" / ", theme.key()),
            Span::raw(safe(&view.filter.search).into_owned()),
            Span::styled("▏", theme.key()),
            Span::styled("   Enter keep · Esc clear", theme.label()),
        ])
    } else if let Some(message) = view.flash_message() {
        Line::styled(format!(" {message}"), theme.warning())
    } else {
        help::footer(theme, area.width)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// A pane's frame: rounded, highlighted when focused, with a title.
fn pane<'a>(title: Line<'a>, focused: bool, context: &Context) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(context.theme.border(focused))
        .title(title)
}

/// Network text made safe for a cell and bounded in width.
fn safe(text: &str) -> Cow<'_, str> {
    text::clean(text, text::FIELD_WIDTH)
}

/// Like [`safe`] for an optional field: a missing one reads as `—`.
fn safe_opt(text: Option<&str>) -> Cow<'_, str> {
    text.map_or(Cow::Borrowed("—"), safe)
}

/// The first row to draw so that `selected` stays within `height` rows.
pub(crate) fn scroll_offset(selected: usize, height: usize) -> usize {
    if height == 0 {
        return 0;
    }
    selected.saturating_sub(height - 1)
}

#[cfg(test)]
mod failure_screens;
#[cfg(test)]
mod tests;
