//! Plain aligned text tables and the small formatting helpers the client
//! verbs share (truncation, ages, timestamps). Pure: no I/O, no clock reads
//! (`now` and the reader's zone are parameters), no dependency beyond chrono.

use chrono::{DateTime, Utc};

/// A table of left-aligned columns separated by two spaces. Widths count
/// `char`s, which is right for the ASCII and Latin text tocsin shows.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells render empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// True when no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The header line and every row, each ending in a newline, with no
    /// trailing spaces (the last column is not padded).
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::new();
            for (i, (cell, w)) in line.iter().zip(&widths).enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', w - width(cell)));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// `s` cut to at most `max` chars, ending in `…` when cut; line breaks
/// become spaces so a cell stays on one line.
pub fn truncate(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if width(&flat) <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A compact age (`45s`, `12m`, `3h`, `2d`) for the last week; older
/// instants, and instants in the future, as a timestamp in `tz`.
pub fn age(at: DateTime<Utc>, now: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let secs = (now - at).num_seconds();
    match secs {
        s if !(0..7 * 86_400).contains(&s) => local_timestamp(at, tz),
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// `Wed 25 Nov 10:00 CET`: the one way the CLI prints an instant, in the
/// reader's zone `tz` ([`crate::when::local`]).
pub fn local_timestamp(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    crate::when::local(at, tz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn check(headers: &[&str], rows: &[&[&str]], expected: &str) {
        let mut t = Table::new(headers);
        for r in rows {
            t.row(r.iter().map(|c| (*c).to_string()).collect());
        }
        assert_eq!(t.render(), expected, "headers {headers:?}, rows {rows:?}");
    }

    #[test]
    fn renders_aligned_columns() {
        check(&["A", "B"], &[], "A  B\n");
        check(
            &["#", "STATE", "TITLE"],
            &[&["1", "triggered", "Disk full"], &["12", "ok", ""]],
            "#   STATE      TITLE\n1   triggered  Disk full\n12  ok\n",
        );
        // Short rows are padded with empty cells, long rows cut.
        check(
            &["X", "Y", "Z"],
            &[&["a"], &["b", "c", "d", "e"]],
            "X  Y  Z\na\nb  c  d\n",
        );
        // Width counts chars, not bytes.
        check(&["N", "M"], &[&["é…", "x"]], "N   M\né…  x\n");
    }

    #[test]
    fn empty_tables_report_it() {
        let mut t = Table::new(&["A"]);
        assert!(t.is_empty());
        t.row(vec!["x".into()]);
        assert!(!t.is_empty());
    }

    #[test]
    fn truncates_by_chars() {
        for (input, max, expected) in [
            ("short", 10, "short"),
            ("exactly10!", 10, "exactly10!"),
            ("a longer title", 8, "a longe…"),
            ("two\nlines", 20, "two lines"),
            ("ééééé", 3, "éé…"),
            ("abc", 0, "…"),
        ] {
            assert_eq!(truncate(input, max), expected, "{input:?} to {max}");
        }
    }

    #[test]
    fn ages_are_compact_then_absolute() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
            .single()
            .expect("valid");
        for (secs_ago, expected) in [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3599, "59m"),
            (3600, "1h"),
            (86_399, "23h"),
            (86_400, "1d"),
            (6 * 86_400, "6d"),
            (7 * 86_400, "Wed 18 Nov 13:00 CET"),
            (-60, "Wed 25 Nov 13:01 CET"),
        ] {
            let at = now - chrono::Duration::seconds(secs_ago);
            assert_eq!(
                age(at, now, chrono_tz::Europe::Berlin),
                expected,
                "{secs_ago}s ago"
            );
        }
    }

    #[test]
    fn timestamps_are_in_the_readers_zone() {
        for (at, tz, expected) in [
            (
                (2026, 11, 25, 9, 0),
                chrono_tz::Europe::Berlin,
                "Wed 25 Nov 10:00 CET",
            ),
            (
                (2026, 7, 1, 8, 5),
                chrono_tz::Europe::Berlin,
                "Wed 01 Jul 10:05 CEST",
            ),
            (
                (2026, 11, 26, 2, 0),
                chrono_tz::America::New_York,
                "Wed 25 Nov 21:00 EST",
            ),
            ((2026, 11, 25, 9, 0), chrono_tz::UTC, "Wed 25 Nov 09:00 UTC"),
        ] {
            let (y, mo, d, h, mi) = at;
            let at = Utc
                .with_ymd_and_hms(y, mo, d, h, mi, 0)
                .single()
                .expect("valid");
            assert_eq!(local_timestamp(at, tz), expected, "{at} in {tz}");
        }
    }
}
