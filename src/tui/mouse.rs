//! The mouse: a click focuses the pane under the pointer and selects the row clicked, the
//! wheel scrolls the pane under the pointer. Where the panes are is worked out with the same
//! layout the frame is drawn with, for the terminal's size.

use super::view::{Focus, View};
use super::widgets::{self, Panes};
use crate::monitor::Monitor;
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

/// Rows one turn of the wheel moves.
const WHEEL: isize = 3;

/// Handles one mouse event on a terminal of `size`; whether the view changed.
pub fn handle(view: &mut View, event: MouseEvent, monitor: &Monitor, size: Rect) -> bool {
    if view.help || view.typing {
        return false;
    }
    let at = Position::new(event.column, event.row);
    let Some(body) = widgets::body(size) else {
        return false;
    };
    let panes = Panes::layout(body, view.focus, view.jobs(monitor).len());
    let Some((focus, area)) = [
        (Focus::Pipelines, panes.pipelines),
        (Focus::Jobs, panes.jobs),
        (Focus::Detail, panes.detail),
        (Focus::Log, panes.log),
    ]
    .into_iter()
    .find_map(|(focus, area)| area.filter(|a| a.contains(at)).map(|a| (focus, a))) else {
        return false;
    };
    match event.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            view.focus = focus;
            // The list panes' rows start under their border and column header.
            if let Some(row) = event.row.checked_sub(area.y + 2)
                && event.row < area.bottom().saturating_sub(1)
            {
                let height = usize::from(area.height.saturating_sub(3));
                view.select_row(monitor, focus, usize::from(row), height);
            }
            true
        }
        MouseEventKind::ScrollUp => {
            view.scroll(monitor, focus, -WHEEL);
            true
        }
        MouseEventKind::ScrollDown => {
            view.scroll(monitor, focus, WHEEL);
            true
        }
        _ => false,
    }
}
