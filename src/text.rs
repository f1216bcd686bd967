//! Making untrusted text safe to show on a terminal.
//!
//! Every string that came from the network (pipeline names, URLs, parameters, rejection
//! reasons that quote a header) passes through [`clean`] before it is drawn or printed to a
//! terminal. It removes whole escape sequences (CSI, OSC, DCS and the like, so their payload does
//! not leak out as stray text), C0 and C1 control characters, and the Unicode bidirectional
//! controls that can make text read differently from how it is stored. Line breaks and tabs
//! become spaces. The result is bounded in display width, with `…` where it was cut.
//!
//! What is left is reduced to characters whose width every terminal agrees on, so that what
//! pipetop measures is what the terminal draws and no name can push a border or write over
//! another cell: the rule is on `shown`, below.

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
            c => match shown(c) {
                Shown::Kept => c,
                Shown::As(other) => other,
                Shown::Dropped => continue,
            },
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

/// Like [`clean_long`] for text of several lines (a server's answer): each line is cleaned on
/// its own and the line breaks are kept.
pub fn clean_lines(text: &str) -> String {
    text.lines().map(clean_long).collect::<Vec<_>>().join("\n")
}

fn is_clean(text: &str) -> bool {
    text.chars().all(|c| shown(c) == Shown::Kept)
}

/// What becomes of one character outside an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Kept,
    As(char),
    Dropped,
}

/// The rule: a character is shown as it is only when it takes one or two columns and no
/// terminal draws it otherwise.
/// - Tabs and line breaks (`\n`, `\r`, U+2028, U+2029) become a space.
/// - Dropped: controls, DEL, bidirectional controls; every character of no width (combining
///   marks, zero-width spaces and joiners, word joiners, the byte order mark); format characters
///   that some terminals draw and others do not (soft hyphen U+00AD, Arabic and other
///   prepended marks, tag characters U+E0000–U+E007F); variation selectors (they switch an
///   emoji between one and two columns); emoji skin-tone modifiers (joined to the emoji before
///   them by some terminals only); Hangul fillers (U+115F, U+1160, U+3164, U+FFA0, drawn blank
///   at differing widths).
/// - Regional indicators (two of them draw a flag, one or two columns wide by terminal) become
///   their ASCII letter: 🇨🇳 reads `CN`.
/// - Private-use characters (icons whose width depends on the font) become `�`.
///
/// So a zero-width-joiner sequence such as a family emoji is shown as its separate emoji, each
/// two columns, which is what every terminal can agree to draw.
fn shown(c: char) -> Shown {
    match c {
        ' '..='~' => Shown::Kept,
        '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => Shown::As(' '),
        c if is_unsafe(c) || is_unsteady(c) => Shown::Dropped,
        '\u{1f1e6}'..='\u{1f1ff}' => {
            let letter = u32::from(c) - 0x1f1e6 + u32::from(b'A');
            char::from_u32(letter).map_or(Shown::Dropped, Shown::As)
        }
        '\u{e000}'..='\u{f8ff}' | '\u{f0000}'..='\u{ffffd}' | '\u{100000}'..='\u{10fffd}' => {
            Shown::As('\u{fffd}')
        }
        c => match c.width() {
            Some(1 | 2) => Shown::Kept,
            _ => Shown::Dropped,
        },
    }
}

/// Characters with a width of their own that terminals draw differently: see [`shown`].
fn is_unsteady(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{115f}'..='\u{11ff}'
            | '\u{3164}'
            | '\u{ffa0}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{e0100}'..='\u{e01ef}'
            | '\u{e0000}'..='\u{e007f}'
            | '\u{1f3fb}'..='\u{1f3ff}'
            | '\u{200b}'..='\u{200d}'
            | '\u{2060}'..='\u{2064}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
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
    fn characters_of_disputed_width_are_reduced_to_ones_every_terminal_draws_alike() {
        assert_eq!(clean("soft\u{ad}hyphen", 40), "softhyphen");
        // A family: man, ZWJ, woman, ZWJ, girl. Each emoji stays, two columns each.
        assert_eq!(
            clean("a\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}b", 40),
            "a👨👩👧b"
        );
        assert_eq!(
            clean("\u{2764}\u{fe0f} \u{263a}\u{fe0e}", 40),
            "\u{2764} \u{263a}"
        );
        assert_eq!(clean("x\u{e0067}\u{e0062}\u{e007f}y", 40), "xy");
        assert_eq!(clean("\u{115f}\u{1160}\u{3164}\u{ffa0}ㅤ!", 40), "!");
        assert_eq!(clean("\u{1f44d}\u{1f3fd}", 40), "\u{1f44d}");
        assert_eq!(clean("a\u{200b}b\u{2060}c\u{feff}d", 40), "abcd");
        assert_eq!(clean("e\u{301}", 40), "e");
        assert_eq!(clean("\u{1f1e8}\u{1f1f3}", 40), "CN");
        assert_eq!(clean("\u{e0b0} icon", 40), "\u{fffd} icon");
        assert_eq!(clean("\u{600}12", 40), "12");
    }

    #[test]
    fn several_lines_keep_their_breaks_and_lose_their_escapes() {
        assert_eq!(
            clean_lines("{\n  \"a\": \"\u{1b}]52;c;aGk=\u{7}x\"\r\n}\u{1b}[2J"),
            "{\n  \"a\": \"x\"\n}"
        );
    }

    #[test]
    fn line_and_paragraph_separators_are_spaces() {
        assert_eq!(clean("one\u{2028}two\u{2029}three", 40), "one two three");
    }

    #[test]
    fn what_is_kept_measures_as_the_sum_of_its_characters() {
        use unicode_width::UnicodeWidthStr as _;
        for text in [
            "a\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}b",
            "\u{2764}\u{fe0f}\u{1f3f3}\u{fe0f}\u{200d}\u{1f308}",
            "\u{1f1e8}\u{1f1f3}\u{1f1fa}",
            "é\u{301}ü\u{308}\u{ad}构建",
        ] {
            let cleaned = clean(text, 40);
            let by_char: usize = cleaned.chars().map(|c| c.width().unwrap_or(0)).sum();
            assert_eq!(cleaned.width(), by_char, "{cleaned:?}");
        }
    }

    #[test]
    fn an_unterminated_sequence_swallows_only_itself() {
        assert_eq!(clean("ok\u{1b}]0;never ends", 40), "ok");
        assert_eq!(clean("ok\u{1b}", 40), "ok");
    }
}
