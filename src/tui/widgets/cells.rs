//! What goes into a table cell: text cut to its column with `…` (in the middle, so two long
//! names that differ only at the end stay apart), a row cut at its end with `…`, durations as
//! people read them, and the columns a table shows at a given width.

use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// `text` within `width` columns: as it is when it fits, else its start and end around `…`.
pub fn fit(text: &str, width: usize) -> String {
    let total: usize = text.chars().map(char_width).sum();
    if total <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let room = width - 1;
    let tail_room = room / 2;
    let head_room = room - tail_room;
    let mut head = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + char_width(c) > head_room {
            break;
        }
        used += char_width(c);
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in text.chars().rev() {
        if used + char_width(c) > tail_room {
            break;
        }
        used += char_width(c);
        tail.push(c);
    }
    head.push('…');
    head.extend(tail.into_iter().rev());
    head
}

/// `line` within `width` columns: as it is when it fits, else cut at its end with `…`, so a
/// row wider than its pane says that it goes on.
pub fn clip(line: Line<'_>, width: usize) -> Line<'_> {
    if line.width() <= width {
        return line;
    }
    let style = line.style;
    let mut room = width.saturating_sub(1);
    let mut spans = Vec::new();
    for span in line.spans {
        let span_width = span.width();
        if span_width <= room {
            room -= span_width;
            spans.push(span);
            continue;
        }
        let mut cut = String::new();
        for c in span.content.chars() {
            if char_width(c) > room {
                break;
            }
            room -= char_width(c);
            cut.push(c);
        }
        if width > 0 {
            cut.push('…');
        }
        spans.push(Span::styled(cut, span.style));
        break;
    }
    Line::from(spans).style(style)
}

fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// `45s`, `4m12s`, `1h03m`, `2d04h`.
pub fn duration(delta: chrono::TimeDelta) -> String {
    let secs = delta.num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// The columns that fit in `width`: the `always` ones, then each optional one in order while
/// it fits beside `name_min` columns for the name (one column between each).
pub fn fitting<T: Copy>(
    width: usize,
    name_min: usize,
    always: usize,
    optional: &[(T, usize)],
) -> Vec<T> {
    let mut used = name_min + always;
    let mut shown = Vec::new();
    for (column, need) in optional {
        if used + need < width {
            used += need + 1;
            shown.push(*column);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_name_ends_its_start_with_an_ellipsis_and_keeps_its_end() {
        assert_eq!(fit("backend-ci", 10), "backend-ci");
        assert_eq!(fit("release-pipeline-eu-west", 12), "releas…-west");
        assert_ne!(
            fit("release-pipeline-eu-west", 12),
            fit("release-pipeline-eu-east", 12)
        );
        assert_eq!(fit("流水线流水线", 7), "流…线");
    }

    #[test]
    fn a_row_too_wide_is_cut_at_its_end_with_an_ellipsis() {
        let line = || Line::from(vec![Span::raw("09:12 "), Span::raw("web › Test › e2e")]);
        assert_eq!(clip(line(), 40).to_string(), "09:12 web › Test › e2e");
        assert_eq!(clip(line(), 22).to_string(), "09:12 web › Test › e2e");
        assert_eq!(clip(line(), 12).to_string(), "09:12 web ›…");
        assert_eq!(clip(line(), 6).to_string(), "09:12…");
        let wide = Line::from("流水线流水线");
        assert_eq!(clip(wide, 6).to_string(), "流水…");
        assert_eq!(clip(line(), 0).to_string(), "");
        assert_eq!(fit("abc", 0), "");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(chrono::TimeDelta::seconds(45)), "45s");
        assert_eq!(duration(chrono::TimeDelta::seconds(252)), "4m12s");
        assert_eq!(duration(chrono::TimeDelta::seconds(3780)), "1h03m");
        assert_eq!(duration(chrono::TimeDelta::seconds(-5)), "0s");
    }

    #[test]
    fn optional_columns_come_in_order_while_they_fit() {
        let optional = [("red", 12), ("took", 7), ("strip", 20)];
        assert_eq!(fitting(40, 12, 10, &optional), ["red"]);
        assert_eq!(fitting(60, 12, 10, &optional), ["red", "took"]);
        assert_eq!(fitting(64, 12, 10, &optional), ["red", "took", "strip"]);
        assert_eq!(fitting(20, 12, 10, &optional), Vec::<&str>::new());
    }
}
