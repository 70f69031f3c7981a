//! How many SMS segments a text costs, counted as carriers count them, and
//! the longest start of a text that stays within a limit. Pure.
//!
//! A text is GSM-7 when every character is in the GSM 03.38 basic set or its
//! extension table (`^{}\[~]|€` and form feed cost two septets: an escape
//! and the character); it fits one segment up to 160 septets, and is split
//! into segments of 153 when longer. One character outside GSM-7 makes the
//! whole text UCS-2: 70 UTF-16 units in one segment, 67 per segment when
//! split, a character outside the BMP costing two. A split never separates
//! an escape from its character or the two halves of a surrogate pair, so a
//! two-unit character that does not fit a segment starts the next one.
//!
//! Must not: know what the text says (that is `message`'s).

use unicode_segmentation::UnicodeSegmentation;

/// Twilio refuses a longer body (error 21617), whatever its segments.
pub const MAX_CHARS: usize = 1600;

/// How the text travels, and so what a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    /// Units in a text sent as one segment, and in each segment of a split one.
    fn capacity(self) -> (usize, usize) {
        match self {
            Encoding::Gsm7 => (160, 153),
            Encoding::Ucs2 => (70, 67),
        }
    }
}

/// The GSM 03.38 basic set, less what `septets` matches by range.
const GSM_BASIC_REST: &str = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà";

/// Septets `c` costs in GSM-7, or None when GSM-7 cannot carry it.
fn septets(c: char) -> Option<usize> {
    match c {
        'A'..='Z' | 'a'..='z' | '0'..='9' | ' ' | '\n' | '\r' => Some(1),
        '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' | '\u{c}' => Some(2),
        // GSM_BASIC_REST's ASCII part, matched here: every page's text is
        // counted, and a scan of that string per character showed up.
        '@' | '$' | '_' | '!' | '"' | '#' | '%' | '&' | '\'' | '('..='/' | ':'..='?' => Some(1),
        _ if c.is_ascii() => None,
        _ if GSM_BASIC_REST.contains(c) => Some(1),
        _ => None,
    }
}

/// GSM-7 when every character has a septet form, else UCS-2.
pub fn encoding(text: &str) -> Encoding {
    if text.chars().all(|c| septets(c).is_some()) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

fn units(c: char, encoding: Encoding) -> usize {
    match encoding {
        Encoding::Gsm7 => septets(c).unwrap_or(2),
        Encoding::Ucs2 => c.len_utf16(),
    }
}

/// The segments `text` is sent in (an empty text still costs one).
pub fn segments(text: &str) -> usize {
    let encoding = encoding(text);
    let (single, each) = encoding.capacity();
    let total: usize = text.chars().map(|c| units(c, encoding)).sum();
    if total <= single {
        return 1;
    }
    let (mut count, mut used) = (1, 0);
    for n in text.chars().map(|c| units(c, encoding)) {
        if used + n > each {
            count += 1;
            used = 0;
        }
        used += n;
    }
    count
}

/// Whether Twilio takes `text` in at most `max_segments` segments.
pub fn fits(text: &str, max_segments: usize) -> bool {
    text.chars().count() <= MAX_CHARS && segments(text) <= max_segments
}

/// The longest start of `text` made of whole grapheme clusters (never a
/// part of a character or of an emoji sequence) that `ok` accepts, or the
/// empty start. `ok` must accept every start shorter than one it accepts.
pub fn longest_start(text: &str, ok: impl Fn(&str) -> bool) -> &str {
    if ok(text) {
        return text;
    }
    let ends: Vec<usize> = text.grapheme_indices(true).map(|(i, _)| i).collect();
    // ends[k] is where the start of k clusters ends; the whole text failed.
    let (mut good, mut bad) = (0, ends.len());
    while bad - good > 1 {
        let mid = (good + bad) / 2;
        if ok(&text[..ends[mid]]) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    &text[..ends[good]]
}

/// The longest start of `text`, in whole grapheme clusters, of at most
/// `max_chars` characters.
pub fn cut(text: &str, max_chars: usize) -> &str {
    longest_start(text, |s| s.chars().count() <= max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: (Encoding, usize)) {
        assert_eq!(
            (encoding(text), segments(text)),
            expected,
            "{text:?} ({} chars)",
            text.chars().count()
        );
    }

    #[test]
    fn ascii_is_matched_as_the_basic_set_says() {
        for c in (0u8..128).map(char::from) {
            let slow = match c {
                'A'..='Z' | 'a'..='z' | '0'..='9' | ' ' | '\n' | '\r' => Some(1),
                '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '\u{c}' => Some(2),
                _ if GSM_BASIC_REST.contains(c) => Some(1),
                _ => None,
            };
            assert_eq!(septets(c), slow, "{c:?}");
        }
    }

    #[test]
    fn segments_as_carriers_count_them() {
        use Encoding::*;
        let a = |n: usize| "a".repeat(n);
        let cases: Vec<(String, (Encoding, usize))> = vec![
            (String::new(), (Gsm7, 1)),
            (a(160), (Gsm7, 1)),
            (a(161), (Gsm7, 2)),
            (a(306), (Gsm7, 2)),
            (a(307), (Gsm7, 3)),
            // The whole basic set, accents and Greek included, is one septet each.
            (
                "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà".into(),
                (Gsm7, 1),
            ),
            // Extension characters cost two septets.
            ("{".repeat(80), (Gsm7, 1)),
            ("{".repeat(81), (Gsm7, 2)),
            ("^{}\\[~]|€".repeat(8), (Gsm7, 1)),
            ("^{}\\[~]|€".repeat(9), (Gsm7, 2)),
            // An escape pair is not split: 152 septets, then `€` opens segment 2.
            (format!("{}€{}", a(152), a(151)), (Gsm7, 2)),
            (format!("{}€{}", a(152), a(152)), (Gsm7, 3)),
            // One character outside GSM-7 makes it all UCS-2.
            (format!("{}ç", a(69)), (Ucs2, 1)),
            (format!("{}ç", a(70)), (Ucs2, 2)),
            (format!("{}`", a(133)), (Ucs2, 2)),
            (format!("{}`", a(134)), (Ucs2, 3)),
            ("…".into(), (Ucs2, 1)),
            // Outside the BMP: two units, never split.
            ("🔥".repeat(35), (Ucs2, 1)),
            ("🔥".repeat(36), (Ucs2, 2)),
            (format!("{}🔥{}", a(66), a(66)), (Ucs2, 3)),
            (format!("{}🔥{}", a(65), a(66)), (Ucs2, 2)),
            // In UCS-2, GSM extension characters cost one unit like any other.
            (format!("{}ж", "{".repeat(69)), (Ucs2, 1)),
        ];
        for (text, expected) in &cases {
            check(text, *expected);
        }
    }

    #[test]
    fn fits_counts_segments_and_twilios_character_limit() {
        let cases = [
            ("a".repeat(459), 3, true),
            ("a".repeat(460), 3, false),
            ("ж".repeat(201), 3, true),
            ("ж".repeat(202), 3, false),
            ("a".repeat(160), 1, true),
            ("a".repeat(161), 1, false),
            ("a".repeat(1530), 10, true),
            ("a".repeat(1531), 10, false),
            // Over 1,600 characters is refused whatever the segments.
            ("a".repeat(1601), 11, false),
        ];
        for (text, max, expected) in cases {
            assert_eq!(fits(&text, max), expected, "{} chars, {max}", text.len());
        }
    }

    #[test]
    fn cuts_fall_between_grapheme_clusters() {
        let family = "👨\u{200d}👩\u{200d}👧"; // 5 chars, one cluster
        let flag = "🇩🇪"; // 2 chars, one cluster
        let e_acute = "e\u{301}"; // 2 chars, one cluster
        let cases: Vec<(String, usize, String)> = vec![
            ("disk full".into(), 4, "disk".into()),
            ("disk full".into(), 20, "disk full".into()),
            (String::new(), 3, String::new()),
            (format!("ab{family}"), 6, "ab".into()),
            (format!("ab{family}"), 7, format!("ab{family}")),
            (format!("{flag}{flag}"), 3, flag.into()),
            (format!("caf{e_acute}"), 4, "caf".into()),
            ("żółw".into(), 2, "żó".into()),
        ];
        for (text, max, expected) in &cases {
            assert_eq!(cut(text, *max), expected, "{text:?} to {max}");
        }
    }

    #[test]
    fn longest_start_is_the_longest_accepted() {
        let text = "x🔥".repeat(100);
        let got = longest_start(&text, |s| fits(&format!("head {s}"), 1));
        assert!(fits(&format!("head {got}"), 1));
        // "head " (5) + 21 × "x🔥" (63) + "x" = 69 units; one more 🔥 is 71.
        assert_eq!(got.chars().count(), 43);
        assert_eq!(longest_start("abc", |s| s.len() < 2), "a");
        assert_eq!(longest_start("abc", |_| true), "abc");
    }
}
