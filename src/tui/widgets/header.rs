//! The two header lines: where to send webhooks and whether they are verified; then counts per
//! status, the active filter and search, and the totals.

use super::{Context, safe};
use crate::gitee::Status;
use crate::monitor::{Monitor, StatusFilter};
use crate::tui::attached::Link;
use crate::tui::theme::glyph;
use crate::tui::view::View;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, area: Rect, monitor: &Monitor, view: &View, context: &Context) {
    let theme = context.theme;
    let mut first = vec![Span::styled(" pipetop ", theme.title())];
    match &context.attached {
        Some(attached) => {
            let link = attached.link.borrow().clone();
            first.push(Span::styled(" attached ", theme.label()));
            first.push(Span::raw(safe(&attached.server).into_owned()));
            let said = safe(&link.describe(std::time::Instant::now())).into_owned();
            first.push(match link {
                Link::Live => Span::styled(format!("  ● {said}"), theme.ok()),
                Link::Refused(_) => Span::styled(format!("  ✗ {said}"), theme.error()),
                _ => Span::styled(format!("  ⟳ {said}"), theme.warning()),
            });
        }
        None => {
            first.push(Span::styled(" POST ", theme.label()));
            first.push(Span::raw(context.webhook_url.clone()));
            if let Some(public) = &context.public_url {
                first.push(Span::styled("  public ", theme.label()));
                first.push(Span::raw(safe(public).into_owned()));
            }
            if context.verification {
                first.push(Span::styled("  ✓ signatures verified", theme.ok()));
            } else {
                first.push(Span::styled(
                    "  ⚠ verification off: no secret",
                    theme.warning(),
                ));
            }
        }
    }

    let counts = monitor.pipeline_counts();
    let mut second = vec![Span::raw(" ")];
    if let Some(progress) = &view.history {
        let percent = (progress.bytes_read * 100)
            .checked_div(progress.total_bytes)
            .unwrap_or(0);
        second.push(Span::styled(
            format!(
                "⟳ loading history {percent}% ({} deliveries)  ",
                progress.entries
            ),
            theme.warning(),
        ));
    }
    for status in [
        Status::Failed,
        Status::Running,
        Status::Waiting,
        Status::Success,
        Status::Cancelled,
        Status::Skipped,
        Status::Unknown,
    ] {
        // A red pipeline stays counted as failed while a newer run goes, as the FAIL filter
        // still lists it.
        let n = match status {
            Status::Failed => monitor.red_count(),
            other => counts.get(other),
        };
        if n == 0 && !matches!(status, Status::Failed | Status::Success | Status::Running) {
            continue;
        }
        second.push(Span::styled(
            format!("{} {n} {}", glyph(status), status.word()),
            if n == 0 {
                theme.dim()
            } else {
                theme.status(status)
            },
        ));
        second.push(Span::raw("  "));
    }
    if view.filter.status != StatusFilter::All {
        second.push(Span::styled("filter ", theme.label()));
        second.push(Span::styled(view.filter.status.label(), theme.key()));
        second.push(Span::raw("  "));
    }
    if !view.filter.search.is_empty() {
        second.push(Span::styled("search ", theme.label()));
        second.push(Span::styled(
            format!("/{}", safe(&view.filter.search)),
            theme.key(),
        ));
        second.push(Span::raw("  "));
    }
    let backlog = context.backlog.as_ref().map_or(0, |backlog| (backlog.0)());
    if backlog > 0 {
        second.push(Span::styled(
            format!("⟳ NATS backlog {backlog}"),
            theme.warning(),
        ));
        second.push(Span::raw("  "));
    }
    if monitor.hidden_count() > 0 {
        second.push(Span::styled(
            format!("{} hidden (X shows)", monitor.hidden_count()),
            theme.warning(),
        ));
        second.push(Span::raw("  "));
    }
    let totals = monitor.totals();
    second.push(Span::styled(
        format!("accepted {}", totals.accepted),
        theme.label(),
    ));
    second.push(Span::styled(" · ", theme.label()));
    second.push(Span::styled(
        format!("rejected {}", totals.rejected),
        if totals.rejected > 0 {
            theme.warning()
        } else {
            theme.label()
        },
    ));
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}
