//! Making untrusted text safe to show on a terminal.
//!
//! Every string that came from the network (pipeline names, URLs, parameters, rejection
//! reasons that quote a header) passes through [`clean`] before it is drawn or printed to a
//! terminal. It removes whole escape sequences (CSI, OSC, DCS and the like, so their payload does
//! not leak out as stray text), C0 and C1 control characters, and the Unicode bidirectional
//! controls that can make text read differently from how it is stored. Line breaks and tabs
//! become spaces. The result is bounded in display width, with `…` where it was cut.

use std::borrow::Cow;
use unicode_width::UnicodeWidthChar;

/// The widest any single field is shown outside the detail pane.
pub const FIELD_WIDTH: usize = 120;

/// Returns `text` without escape sequences or control characters, cut to at most `max_width`
/// terminal columns. Borrows when nothing had to change.
pub fn clean(text: &str, max_width: usize) -> Cow<'_, str> {
    // Printable ASCII, one column a byte, is most of what arrives (URLs, names): one pass over
    // the bytes decides it.
    if text.len() <= max_width && text.bytes().all(|b| matches!(b, b' '..=b'~')) {
        return Cow::Borrowed(text);
    }
    if is_clean(text) && fits(text, max_width) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max_width * 4));
    let mut width = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let shown = match c {
            '\u{1b}' => {
                skip_escape(&mut chars);
                continue;
            }
            '\u{9b}' => {
                skip_csi(&mut chars);
                continue;
            }
            '\u{90}' | '\u{9d}' | '\u{9e}' | '\u{9f}' | '\u{98}' => {
                skip_string(&mut chars);
                continue;
            }
            '\t' | '\n' | '\r' => ' ',
            c if is_unsafe(c) => continue,
            c => c,
        };
        let w = shown.width().unwrap_or(0);
        if width + w > max_width {
            truncate_with_ellipsis(&mut out, &mut width, max_width);
            return Cow::Owned(out);
        }
        width += w;
        out.push(shown);
    }
    Cow::Owned(out)
}

/// The widest any single field is shown in the detail pane, which wraps long text.
pub const DETAIL_WIDTH: usize = 2048;

/// Like [`clean`], bounded for the detail pane, which wraps long text itself.
pub fn clean_long(text: &str) -> Cow<'_, str> {
    clean(text, DETAIL_WIDTH)
}

fn is_clean(text: &str) -> bool {
    !text
        .chars()
        .any(|c| is_unsafe(c) || matches!(c, '\t' | '\n' | '\r' | '\u{1b}'))
}

fn fits(text: &str, max_width: usize) -> bool {
    // Each char is at most two columns wide, so a short string needs no measuring.
    text.len() <= max_width / 2 || unicode_width::UnicodeWidthStr::width(text) <= max_width
}

/// C0 and C1 controls, DEL, and the bidirectional embedding, override and isolate controls.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}'
        )
}

fn truncate_with_ellipsis(out: &mut String, width: &mut usize, max_width: usize) {
    if max_width == 0 {
        out.clear();
        return;
    }
    while *width + 1 > max_width {
        match out.pop() {
            Some(c) => *width -= c.width().unwrap_or(0),
            None => break,
        }
    }
    out.push('…');
    *width += 1;
}

/// After ESC: a CSI (`ESC [`), a string sequence (`ESC ]`, `ESC P`, `ESC ^`, `ESC _`, `ESC X`),
/// or a two-character escape.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        Some(']' | 'P' | '^' | '_' | 'X') => skip_string(chars),
        Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
            // An intermediate byte: the sequence ends at the next final byte.
            for c in chars.by_ref() {
                if ('\u{30}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// Parameters and intermediates up to and including the final byte (`@` to `~`).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

/// Up to and including BEL, ST (`ESC \`) or the C1 string terminator.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(clean("Test Pipeline", 40), Cow::Borrowed(_)));
        assert!(matches!(clean("构建 流水线", 40), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_vanish_whole() {
        assert_eq!(clean("a\u{1b}]0;owned title\u{7}b", 40), "ab");
        assert_eq!(clean("a\u{1b}[2Jb\u{1b}[31mc", 40), "abc");
        assert_eq!(
            clean("a\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", 40),
            "alink"
        );
        assert_eq!(clean("a\u{1b}Pq#0;2;0;0;0\u{1b}\\b", 40), "ab");
        assert_eq!(clean("a\u{9b}31mb\u{9d}0;t\u{9c}c", 40), "abc");
        assert_eq!(clean("a\u{1b}(Bb\u{1b}7c", 40), "abc");
    }

    #[test]
    fn controls_and_bidi_overrides_are_removed() {
        assert_eq!(clean("a\u{0}b\u{7}c\u{7f}d\u{85}e", 40), "abcde");
        assert_eq!(clean("\u{202e}gnp.exe\u{202c}", 40), "gnp.exe");
        assert_eq!(clean("x\u{2066}y\u{2069}\u{200f}z", 40), "xyz");
        assert_eq!(clean("line one\nline\ttwo\r", 40), "line one line two ");
    }

    #[test]
    fn width_is_bounded_with_an_ellipsis() {
        assert_eq!(clean("abcdefghij", 5), "abcd…");
        assert_eq!(clean("abcde", 5), "abcde");
        assert_eq!(clean("构建流水线", 5), "构建…");
        assert_eq!(clean("abc", 0), "");
        let long = "x".repeat(10_000);
        assert_eq!(clean(&long, FIELD_WIDTH).chars().count(), FIELD_WIDTH);
    }

    #[test]
    fn an_unterminated_sequence_swallows_only_itself() {
        assert_eq!(clean("ok\u{1b}]0;never ends", 40), "ok");
        assert_eq!(clean("ok\u{1b}", 40), "ok");
    }
}
