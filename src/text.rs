//! Making untrusted text safe to show on a terminal.
//!
//! Every string that came from the network (pipeline names, URLs, parameters, rejection
//! reasons that quote a header) passes through [`clean`] before it is drawn or printed to a
//! terminal. It removes whole escape sequences (CSI, OSC, DCS and the like, so their payload does
//! not leak out as stray text), C0 and C1 control characters, and the Unicode bidirectional
//! controls that can make text read differently from how it is stored. Line breaks (U+2028 and
//! U+2029 too) and tabs become spaces.
//!
//! It also keeps only characters whose width is not in doubt. pipetop measures text with
//! unicode-width, grapheme by grapheme as ratatui draws it; most terminals move the cursor by
//! each code point's own width, a few by whole graphemes. Where those disagree (a family emoji
//! is 2 columns to ratatui and 6 to xterm) every cell after it on the line moves, and a name
//! can push the border away or overwrite another row's cells. So:
//! - invisible and format characters go: every default-ignorable code point (soft hyphen,
//!   zero-width space and joiners, word joiner, variation selectors, tag characters, Hangul
//!   fillers, byte order mark), the other format (Cf) characters, regional indicators (flags)
//!   and emoji skin-tone modifiers, the halfwidth katakana sound marks (ratatui counts them a
//!   column more than unicode-width does), private-use code points, noncharacters, and anything
//!   unicode-width does not call 1 or 2 columns wide or a zero-width mark;
//! - a grapheme is kept whole when it starts with a 1- or 2-column character, carries at most
//!   [`MAX_MARKS`] zero-width marks, and is as wide as its characters added up, so a terminal
//!   that counts code points and one that counts graphemes both agree with pipetop. Otherwise
//!   only its first character is kept, or nothing when that is itself zero-width (a mark on
//!   nothing).
//!
//! Removed characters leave nothing behind: they were invisible, or their look depends on the
//! terminal, and a placeholder would need a width of its own (U+FFFD is two columns wide in an
//! East Asian terminal). A family emoji shows as its members side by side, `❤️` as `❤`, a flag
//! not at all; CJK text and accented letters, precomposed or not, stay as they are.
//!
//! The result is bounded in display width, with `…` where it was cut.

use std::borrow::Cow;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The widest any single field is shown outside the detail pane.
pub const FIELD_WIDTH: usize = 120;

/// The most zero-width marks one grapheme keeps: enough for a Vietnamese letter written with
/// separate accents or a Tibetan stack, not for the piles that spill into the rows around.
pub const MAX_MARKS: usize = 4;

/// Returns `text` without escape sequences, control characters or characters of doubtful
/// width, cut to at most `max_width` terminal columns. Borrows when nothing had to change.
pub fn clean(text: &str, max_width: usize) -> Cow<'_, str> {
    // Printable ASCII, one column a byte, is most of what arrives (URLs, names): one pass over
    // the bytes decides it.
    if text.len() <= max_width && text.bytes().all(|b| matches!(b, b' '..=b'~')) {
        return Cow::Borrowed(text);
    }
    if is_clean(text) && fits(text, max_width) {
        return Cow::Borrowed(text);
    }
    let mut kept = whole_graphemes(&strip(text));
    // A grapheme cut to its first character may join the next one (a Hangul leading consonant
    // and the syllable after it); checking again, and cutting again if need be, makes the
    // result its own cleaning whatever the segmentation rules hold.
    while !is_clean(&kept) {
        kept = whole_graphemes(&kept);
    }
    if fits(&kept, max_width) {
        return Cow::Owned(kept);
    }
    // Whole graphemes up to one column short of the bound, and `…` in that column.
    let room = max_width.saturating_sub(1);
    let mut out = String::with_capacity(kept.len().min(max_width * 4));
    let mut width = 0;
    for grapheme in kept.graphemes(true) {
        width += columns(grapheme);
        if width > room {
            break;
        }
        out.push_str(grapheme);
    }
    if max_width > 0 {
        out.push('…');
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
    // Most text beyond ASCII is letters that never join a neighbour into one grapheme (CJK,
    // kana, Hangul syllables, accented Latin, Greek, Cyrillic): such text is clean when each
    // letter is visible, which is a twentieth of the cost of segmenting it.
    text.chars()
        .all(|c| matches!(c, ' '..='~') || stands_alone(c))
        || text.graphemes(true).all(is_whole)
}

/// A visible character that is a grapheme of its own beside any other such character and
/// beside ASCII (a test checks every one of them). The blocks named hold no removed character
/// but the soft hyphen, and their marks are the zero-width characters among them.
fn stands_alone(c: char) -> bool {
    matches!(
        c,
        '\u{a0}'..='\u{24f}'
            | '\u{370}'..='\u{4ff}'
            | '\u{2010}'..='\u{2027}'
            | '\u{3000}'..='\u{30ff}'
            | '\u{3400}'..='\u{4dbf}'
            | '\u{4e00}'..='\u{9fff}'
            | '\u{ac00}'..='\u{d7a3}'
            | '\u{f900}'..='\u{faff}'
            | '\u{ff01}'..='\u{ff60}'
            | '\u{ffe0}'..='\u{ffe6}'
    ) && c != '\u{ad}'
        && matches!(c.width(), Some(1 | 2))
}

/// Within `max_width` columns, counted as a terminal counts them: code point by code point.
fn fits(text: &str, max_width: usize) -> bool {
    // Each char is at most two columns wide, so a short string needs no measuring.
    text.len() <= max_width / 2 || columns(text) <= max_width
}

/// The columns of text that [`is_clean`] accepts: the sum of its characters' widths, which is
/// also the sum of its graphemes' widths.
fn columns(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `text` without escape sequences and removed characters; line breaks and tabs as spaces.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{9d}' | '\u{9e}' | '\u{9f}' | '\u{98}' => skip_string(&mut chars),
            '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if is_removed(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Each grapheme of `text` whole when [`is_whole`], else its first character if that is
/// visible, else nothing.
fn whole_graphemes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for grapheme in text.graphemes(true) {
        if is_whole(grapheme) {
            out.push_str(grapheme);
        } else if let Some(first) = grapheme.chars().next()
            && is_visible(first)
        {
            out.push(first);
        }
    }
    out
}

/// A grapheme every terminal gives the width pipetop gives it: a visible first character, at
/// most [`MAX_MARKS`] zero-width marks after it, nothing removed, and no ligature that makes
/// the whole narrower or wider than its parts.
fn is_whole(grapheme: &str) -> bool {
    let mut chars = grapheme.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !is_visible(first) {
        return false;
    }
    if first.len_utf8() == grapheme.len() {
        return true;
    }
    let mut sum = first.width().unwrap_or(0);
    let mut marks = 0;
    for c in chars {
        if is_removed(c) {
            return false;
        }
        match c.width() {
            Some(0) => marks += 1,
            Some(w @ (1 | 2)) => sum += w,
            _ => return false,
        }
    }
    marks <= MAX_MARKS && grapheme.width() == sum
}

/// A character that takes one or two columns on its own.
fn is_visible(c: char) -> bool {
    !is_removed(c) && matches!(c.width(), Some(1 | 2))
}

/// A character [`clean`] removes: a control, or one whose width or look depends on the
/// terminal (see the module's first lines). Line breaks and tabs are controls.
pub fn is_removed(c: char) -> bool {
    if c < '\u{ad}' {
        return c.is_control();
    }
    // The two widest gaps of the table (most of CJK, kana and Hangul among them) need no search.
    if matches!(c, '\u{2070}'..='\u{3163}' | '\u{3165}'..='\u{d7ff}') {
        return false;
    }
    c.is_control()
        || u32::from(c) & 0xfffe == 0xfffe
        || REMOVED
            .binary_search_by(|&(low, high)| {
                if high < c {
                    std::cmp::Ordering::Less
                } else if low > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
}

/// Removed ranges, in order: the default-ignorable code points, the other format characters,
/// the characters whose width terminals disagree on, private use and noncharacters.
const REMOVED: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),        // soft hyphen
    ('\u{34f}', '\u{34f}'),      // combining grapheme joiner
    ('\u{600}', '\u{605}'),      // Arabic signs spanning numbers
    ('\u{61c}', '\u{61c}'),      // Arabic letter mark (bidirectional)
    ('\u{6dd}', '\u{6dd}'),      // Arabic end of ayah
    ('\u{70f}', '\u{70f}'),      // Syriac abbreviation mark
    ('\u{890}', '\u{891}'),      // Arabic pound and piastre marks above
    ('\u{8e2}', '\u{8e2}'),      // Arabic disputed end of ayah
    ('\u{115f}', '\u{1160}'),    // Hangul choseong and jungseong fillers
    ('\u{17b4}', '\u{17b5}'),    // Khmer inherent vowels
    ('\u{180b}', '\u{180f}'),    // Mongolian variation selectors, vowel separator
    ('\u{200b}', '\u{200f}'),    // zero-width space, non-joiner and joiner; LRM, RLM
    ('\u{2028}', '\u{202e}'),    // line and paragraph separators; bidi embeddings, overrides
    ('\u{2060}', '\u{206f}'),    // word joiner, invisible operators, bidi isolates
    ('\u{3164}', '\u{3164}'),    // Hangul filler
    ('\u{e000}', '\u{f8ff}'),    // private use
    ('\u{fdd0}', '\u{fdef}'),    // noncharacters
    ('\u{fe00}', '\u{fe0f}'),    // variation selectors
    ('\u{feff}', '\u{feff}'),    // zero-width no-break space, byte order mark
    ('\u{ff9e}', '\u{ff9f}'),    // halfwidth katakana voiced sound marks
    ('\u{ffa0}', '\u{ffa0}'),    // halfwidth Hangul filler
    ('\u{fff0}', '\u{fffb}'),    // reserved; interlinear annotation
    ('\u{110bd}', '\u{110bd}'),  // Kaithi number sign
    ('\u{110cd}', '\u{110cd}'),  // Kaithi number sign above
    ('\u{13430}', '\u{1343f}'),  // Egyptian hieroglyph format controls
    ('\u{1bca0}', '\u{1bca3}'),  // shorthand format controls
    ('\u{1d173}', '\u{1d17a}'),  // musical symbol format controls
    ('\u{1f1e6}', '\u{1f1ff}'),  // regional indicators
    ('\u{1f3fb}', '\u{1f3ff}'),  // emoji modifiers
    ('\u{e0000}', '\u{e0fff}'),  // tags, variation selectors supplement
    ('\u{f0000}', '\u{10ffff}'), // supplementary private use
];

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
    fn invisible_and_format_characters_are_removed() {
        assert_eq!(clean("ad\u{ad}min", 40), "admin");
        assert_eq!(
            clean("a\u{200b}b\u{200c}c\u{200d}d\u{2060}e\u{feff}f", 40),
            "abcdef"
        );
        assert_eq!(clean("a\u{2061}\u{2064}b\u{34f}c\u{180e}d", 40), "abcd");
        assert_eq!(clean("\u{600}12\u{6dd}3\u{fff9}x\u{fffb}", 40), "123x");
        assert_eq!(clean("a\u{1d173}b\u{13430}c\u{1bca0}d", 40), "abcd");
    }

    #[test]
    fn line_and_paragraph_separators_are_spaces() {
        assert_eq!(clean("one\u{2028}two\u{2029}three", 40), "one two three");
    }

    #[test]
    fn joined_emoji_show_as_their_parts() {
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        assert_eq!(clean(family, 40), "\u{1f468}\u{1f469}\u{1f467}");
        assert_eq!(columns(&clean(family, 40)), 6);
    }

    #[test]
    fn variation_selectors_are_removed() {
        assert_eq!(clean("\u{2764}\u{fe0f}", 40), "\u{2764}");
        assert_eq!(clean("\u{1f600}\u{fe0e}", 40), "\u{1f600}");
        assert_eq!(clean("1\u{fe0f}\u{20e3}", 40), "1\u{20e3}");
        assert_eq!(clean("\u{845b}\u{e0100}", 40), "\u{845b}");
        assert_eq!(clean("\u{1820}\u{180b}", 40), "\u{1820}");
    }

    #[test]
    fn tag_characters_are_removed() {
        let england = "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}";
        assert_eq!(clean(england, 40), "\u{1f3f4}");
        assert_eq!(clean("a\u{e0001}\u{e0041}b", 40), "ab");
    }

    #[test]
    fn hangul_fillers_are_removed_and_hangul_kept() {
        assert_eq!(clean("x\u{115f}\u{1160}\u{3164}\u{ffa0}y", 40), "xy");
        assert!(matches!(clean("한국어 빌드", 40), Cow::Borrowed(_)));
        // A syllable written as conjoining jamo is as wide everywhere.
        assert!(matches!(
            clean("\u{1100}\u{1161}\u{11a8}", 40),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn flags_and_skin_tones_are_removed() {
        assert_eq!(clean("\u{1f1e8}\u{1f1f3} cn", 40), " cn");
        assert_eq!(clean("\u{1f44d}\u{1f3fd}ok", 40), "\u{1f44d}ok");
        assert_eq!(clean("a\u{1f3ff}", 40), "a");
    }

    #[test]
    fn characters_whose_width_ratatui_or_terminals_count_otherwise_are_removed() {
        assert_eq!(
            clean("\u{ff76}\u{ff9e}\u{ff8a}\u{ff9f}", 40),
            "\u{ff76}\u{ff8a}"
        );
        assert_eq!(clean("a\u{17d8}b", 40), "ab");
        assert_eq!(clean("a\u{e000}\u{f8ff}\u{f0000}\u{10fffd}b", 40), "ab");
        assert_eq!(clean("a\u{fdd0}\u{fffe}\u{1ffff}b", 40), "ab");
    }

    #[test]
    fn marks_stay_on_a_letter_but_not_on_nothing_nor_in_piles() {
        assert!(matches!(
            clean("Cafe\u{301} Ren\u{e9}e", 40),
            Cow::Borrowed(_)
        ));
        assert!(matches!(clean("Vie\u{323}\u{302}t", 40), Cow::Borrowed(_)));
        assert_eq!(clean("\u{301}\u{302}abc", 40), "abc");
        assert_eq!(
            clean("za\u{301}\u{302}\u{303}\u{304}\u{305}\u{306}lgo", 40),
            "zalgo"
        );
        let four = "a\u{301}\u{302}\u{303}\u{304}";
        assert!(matches!(clean(four, 40), Cow::Borrowed(_)));
    }

    #[test]
    fn scripts_written_with_marks_and_ligatures_stay_intact() {
        for text in [
            "构建 流水线",
            "ビルド パイプライン",
            "Сборка",
            "Κατασκευή",
            "عُلا",
            "בִּנְיָן",
            "क्षत्रिय",
            "ภาษาไทย",
            "བོད་སྐད",
            "Ελληνικά ō ø ß",
        ] {
            assert!(matches!(clean(text, 40), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn the_cut_falls_between_graphemes() {
        assert_eq!(clean("abe\u{301}\u{302}cd", 4), "abe\u{301}\u{302}…");
        assert_eq!(clean("ab\u{200d}cdef", 4), "abc…");
        assert_eq!(
            clean("\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}", 5),
            "\u{1f468}\u{1f469}…"
        );
    }

    #[test]
    fn an_unterminated_sequence_swallows_only_itself() {
        assert_eq!(clean("ok\u{1b}]0;never ends", 40), "ok");
        assert_eq!(clean("ok\u{1b}", 40), "ok");
    }

    #[test]
    fn letters_taken_as_standing_alone_are_graphemes_of_their_own() {
        let alone: Vec<char> = ('\u{a0}'..='\u{ffff}')
            .filter(|&c| stands_alone(c))
            .collect();
        assert!(alone.len() > 40_000);
        // One of each grapheme break class found among them (other, LV and LVT syllables),
        // and ASCII.
        let neighbours = ['a', ' ', '~', '\u{e9}', '\u{4e2d}', '\u{ac00}', '\u{ac01}'];
        for &c in &alone {
            for n in neighbours {
                for pair in [format!("{c}{n}"), format!("{n}{c}")] {
                    assert_eq!(pair.graphemes(true).count(), 2, "{pair:?}");
                }
            }
            assert!(is_visible(c), "{c:?}");
        }
    }

    /// What ratatui draws (grapheme by grapheme, with unicode-width) and what a terminal does
    /// (code point by code point, or grapheme by grapheme) must agree on every grapheme kept.
    fn graphemes_measure_as_their_characters(text: &str) -> bool {
        text.graphemes(true)
            .all(|g| g.width() == columns(g) && g.chars().next().is_some_and(is_visible))
    }

    proptest::proptest! {
        #[test]
        fn cleaned_text_is_unambiguous_bounded_and_its_own_cleaning(
            text in "[a\u{301}\u{302}\u{20e3}\u{93e}\u{94d}\u{915}\u{937}\u{644}\u{627}\u{1100}\u{1161}\u{11a8}\u{ac00}\u{115f}\u{1160}\u{200d}\u{200b}\u{fe0f}\u{fe0e}\u{1f468}\u{1f469}\u{2764}\u{1f3fd}\u{1f1e8}\u{1f1f3}\u{e0067}\u{ff76}\u{ff9e}\u{17d2}\u{1780}\u{d4e}\u{600}\u{2028}\u{1b}\u{9b}\u{85}\n构 ]{0,24}|\\PC{0,24}|.{0,24}",
            width in 0usize..30,
        ) {
            let once = clean(&text, width);
            proptest::prop_assert!(columns(&once) <= width, "{:?} is wider than {}", once, width);
            proptest::prop_assert!(graphemes_measure_as_their_characters(&once), "{:?}", once);
            proptest::prop_assert!(!once.chars().any(|c| c.is_control() || is_removed(c)), "{:?}", once);
            let twice = clean(&once, width);
            proptest::prop_assert!(matches!(twice, Cow::Borrowed(_)), "{:?} cleaned again to {:?}", once, twice);
        }
    }
}
