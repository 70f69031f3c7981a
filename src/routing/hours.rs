//! Working hours: a person's weekly "I answer pages" windows, parsed from the
//! roster's list of strings and evaluated in the person's own time zone.
//!
//! Owns the entry grammar and the wall-clock membership test. Must not read
//! the clock or know about presence marks (see `presence`).
//!
//! Grammar, one entry per list item (case-insensitive):
//! `<days> HH:MM-HH:MM` or `always`, where `<days>` is a comma list of
//! `mon`..`sun` (or full names), ranges such as `mon-fri` or `sun-tue`
//! (ranges wrap around the week), `daily`, `weekdays` or `weekends`.
//! `24:00` is allowed as an end. A range whose end is before its start runs
//! over midnight and belongs to the day it starts on (`fri 22:00-06:00`
//! covers Friday 22:00 to Saturday 06:00).

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

const DAY: u32 = 24 * 60;
const WEEK: u32 = 7 * DAY;

/// A set of weekly windows in local wall-clock time.
///
/// Membership is decided on the local wall clock, so a `09:00-18:00` day is
/// 09:00 to 18:00 local even on the days the clocks change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkingHours {
    // Half-open minute-of-week intervals, Monday 00:00 = 0, each within 0..=WEEK.
    spans: Vec<(u32, u32)>,
}

/// Why one working-hours entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("working_hours[{index}] {entry:?}: {reason}")]
pub struct HoursError {
    /// Zero-based position of the entry in the list.
    pub index: usize,
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: HoursErrorReason,
}

/// The specific defect of a rejected entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursErrorReason {
    /// Not `<days> HH:MM-HH:MM` nor `always`.
    #[error("expected `<days> HH:MM-HH:MM` (e.g. `mon-fri 09:00-18:00`) or `always`")]
    Shape,
    /// A day name that is not a weekday or a known group.
    #[error(
        "unknown day {0:?} (use mon..sun, a range like mon-fri, a list like mon,wed, or daily)"
    )]
    UnknownDay(String),
    /// A time that is not `HH:MM` between 00:00 and 24:00.
    #[error("bad time {0:?} (expected HH:MM between 00:00 and 24:00)")]
    BadTime(String),
    /// `24:00` used as a start.
    #[error("24:00 can only end a range")]
    StartsAtMidnightEnd,
    /// The time part is not two times joined by `-`.
    #[error("bad time range {0:?} (expected HH:MM-HH:MM)")]
    BadRange(String),
    /// Start and end are the same time.
    #[error("empty time range {0:?}: start equals end")]
    EmptyRange(String),
}

impl WorkingHours {
    /// Parses the roster's list of entries; an empty list means never in working hours.
    pub fn parse(entries: &[impl AsRef<str>]) -> Result<WorkingHours, HoursError> {
        let mut spans = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let entry = entry.as_ref();
            parse_entry(entry, &mut spans).map_err(|reason| HoursError {
                index,
                entry: entry.to_string(),
                reason,
            })?;
        }
        Ok(WorkingHours { spans })
    }

    /// Working hours that never contain any instant.
    pub fn never() -> WorkingHours {
        WorkingHours::default()
    }

    /// Working hours that contain every instant.
    pub fn always() -> WorkingHours {
        WorkingHours {
            spans: vec![(0, WEEK)],
        }
    }

    /// Whether `t`, read on the wall clock of `tz`, falls inside a window.
    pub fn contains(&self, tz: Tz, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&tz);
        let minute =
            local.weekday().num_days_from_monday() * DAY + local.hour() * 60 + local.minute();
        self.spans.iter().any(|&(s, e)| s <= minute && minute < e)
    }
}

fn parse_entry(entry: &str, spans: &mut Vec<(u32, u32)>) -> Result<(), HoursErrorReason> {
    let mut words = entry.split_whitespace();
    let Some(days) = words.next() else {
        return Err(HoursErrorReason::Shape);
    };
    // Allow `mon-fri 09:00 - 18:00` by gluing the rest back together.
    let range: String = words.collect();
    if range.is_empty() {
        return if days.eq_ignore_ascii_case("always") {
            spans.push((0, WEEK));
            Ok(())
        } else {
            Err(HoursErrorReason::Shape)
        };
    }
    let days = parse_days(days)?;
    let (start, end) = parse_range(&range)?;
    for day in days {
        let s = day * DAY + start;
        let e = if end > start {
            day * DAY + end
        } else {
            day * DAY + DAY + end
        };
        if e > WEEK {
            spans.push((s, WEEK));
            spans.push((0, e - WEEK));
        } else {
            spans.push((s, e));
        }
    }
    Ok(())
}

/// Days as 0 = Monday .. 6 = Sunday.
fn parse_days(text: &str) -> Result<Vec<u32>, HoursErrorReason> {
    let mut days = Vec::new();
    for item in text.split(',') {
        let lower = item.to_ascii_lowercase();
        match lower.as_str() {
            "daily" => days.extend(0..7),
            "weekdays" => days.extend(0..5),
            "weekends" => days.extend(5..7),
            _ => match lower.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day_number(a, item)?, day_number(b, item)?);
                    let len = (b + 7 - a) % 7 + 1;
                    days.extend((0..len).map(|i| (a + i) % 7));
                }
                None => days.push(day_number(&lower, item)?),
            },
        }
    }
    Ok(days)
}

fn day_number(name: &str, item: &str) -> Result<u32, HoursErrorReason> {
    const NAMES: [(&str, &str); 7] = [
        ("mon", "monday"),
        ("tue", "tuesday"),
        ("wed", "wednesday"),
        ("thu", "thursday"),
        ("fri", "friday"),
        ("sat", "saturday"),
        ("sun", "sunday"),
    ];
    NAMES
        .iter()
        .position(|(short, long)| name == *short || name == *long)
        .map(|i| i as u32)
        .ok_or_else(|| HoursErrorReason::UnknownDay(item.to_string()))
}

fn parse_range(text: &str) -> Result<(u32, u32), HoursErrorReason> {
    let Some((a, b)) = text.split_once('-') else {
        return Err(HoursErrorReason::BadRange(text.to_string()));
    };
    let (start, end) = (parse_time(a)?, parse_time(b)?);
    if start == DAY {
        return Err(HoursErrorReason::StartsAtMidnightEnd);
    }
    if start == end {
        return Err(HoursErrorReason::EmptyRange(text.to_string()));
    }
    Ok((start, end))
}

/// Minutes since midnight; 24:00 gives `DAY`.
fn parse_time(text: &str) -> Result<u32, HoursErrorReason> {
    let bad = || HoursErrorReason::BadTime(text.to_string());
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, max_len: usize| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    if m.len() != 2 {
        return Err(bad());
    }
    let (h, m) = (digits(h, 2).ok_or_else(bad)?, digits(m, 2).ok_or_else(bad)?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test timestamps are valid RFC 3339")
            .to_utc()
    }

    fn check(entries: &[&str], tz: Tz, at: &str, expected: bool) {
        let hours = WorkingHours::parse(entries).expect("test entries parse");
        assert_eq!(
            hours.contains(tz, utc(at)),
            expected,
            "{entries:?} in {tz} at {at}"
        );
    }

    #[test]
    fn membership() {
        let office = &["mon-fri 09:00-18:00"][..];
        let sunday = &["sun 09:00-18:00"][..];
        let night = &["sat 22:00-06:00"][..];
        let cases: &[(&[&str], Tz, &str, bool)] = &[
            // Plain summer weekday in Berlin (UTC+2).
            (office, Berlin, "2026-06-01T06:59:59Z", false),
            (office, Berlin, "2026-06-01T07:00:00Z", true),
            (office, Berlin, "2026-06-01T15:59:59Z", true),
            (office, Berlin, "2026-06-01T16:00:00Z", false),
            (office, Berlin, "2026-03-28T10:00:00Z", false),
            // Spring forward, Berlin 2026-03-29: 09:00 CEST = 07:00Z.
            (sunday, Berlin, "2026-03-29T06:59:59Z", false),
            (sunday, Berlin, "2026-03-29T07:00:00Z", true),
            (sunday, Berlin, "2026-03-29T15:59:59Z", true),
            (sunday, Berlin, "2026-03-29T16:00:00Z", false),
            // Fall back, Berlin 2026-10-25: 09:00 CET = 08:00Z.
            (sunday, Berlin, "2026-10-25T07:59:59Z", false),
            (sunday, Berlin, "2026-10-25T08:00:00Z", true),
            (sunday, Berlin, "2026-10-25T16:59:59Z", true),
            (sunday, Berlin, "2026-10-25T17:00:00Z", false),
            // Spring forward, New York 2026-03-08: 09:00 EDT = 13:00Z.
            (sunday, New_York, "2026-03-08T12:59:59Z", false),
            (sunday, New_York, "2026-03-08T13:00:00Z", true),
            (sunday, New_York, "2026-03-08T21:59:59Z", true),
            (sunday, New_York, "2026-03-08T22:00:00Z", false),
            // Fall back, New York 2026-11-01: 09:00 EST = 14:00Z.
            (sunday, New_York, "2026-11-01T13:59:59Z", false),
            (sunday, New_York, "2026-11-01T14:00:00Z", true),
            (sunday, New_York, "2026-11-01T22:59:59Z", true),
            (sunday, New_York, "2026-11-01T23:00:00Z", false),
            // Over midnight through the spring-forward night: Sat 22:00 CET to Sun 06:00 CEST.
            (night, Berlin, "2026-03-28T20:59:59Z", false),
            (night, Berlin, "2026-03-28T21:00:00Z", true),
            (night, Berlin, "2026-03-29T01:30:00Z", true),
            (night, Berlin, "2026-03-29T03:59:59Z", true),
            (night, Berlin, "2026-03-29T04:00:00Z", false),
            // Over midnight through the fall-back night: Sat 22:00 CEST to Sun 06:00 CET.
            (night, Berlin, "2026-10-24T19:59:59Z", false),
            (night, Berlin, "2026-10-24T20:00:00Z", true),
            (night, Berlin, "2026-10-25T04:59:59Z", true),
            (night, Berlin, "2026-10-25T05:00:00Z", false),
            // Over midnight in New York, both DST nights.
            (night, New_York, "2026-03-08T02:59:59Z", false),
            (night, New_York, "2026-03-08T03:00:00Z", true),
            (night, New_York, "2026-03-08T09:59:59Z", true),
            (night, New_York, "2026-03-08T10:00:00Z", false),
            (night, New_York, "2026-11-01T10:59:59Z", true),
            (night, New_York, "2026-11-01T11:00:00Z", false),
            // Wrapping day range; the night belongs to the day it starts.
            (
                &["sun-tue 22:00-06:00"],
                Berlin,
                "2026-06-01T01:00:00Z",
                true,
            ),
            (
                &["sun-tue 22:00-06:00"],
                Berlin,
                "2026-06-03T03:59:00Z",
                true,
            ),
            (
                &["sun-tue 22:00-06:00"],
                Berlin,
                "2026-06-03T04:00:00Z",
                false,
            ),
            (
                &["sun-tue 22:00-06:00"],
                Berlin,
                "2026-06-03T20:00:00Z",
                false,
            ),
            (
                &["sun-tue 22:00-06:00"],
                Berlin,
                "2026-06-06T21:00:00Z",
                false,
            ),
            // Sunday night wraps into Monday, across the end of the week.
            (&["sun 22:00-06:00"], Berlin, "2026-06-01T03:59:00Z", true),
            (&["sun 22:00-06:00"], Berlin, "2026-06-01T04:00:00Z", false),
            // Lists, 24:00, daily, always, never.
            (
                &["mon,wed,fri 08:00-12:00"],
                Berlin,
                "2026-06-02T07:00:00Z",
                false,
            ),
            (
                &["mon,wed,fri 08:00-12:00"],
                Berlin,
                "2026-06-03T07:00:00Z",
                true,
            ),
            (&["FRI 20:00-24:00"], Berlin, "2026-06-05T21:59:59Z", true),
            (&["fri 20:00-24:00"], Berlin, "2026-06-05T22:00:00Z", false),
            (&["daily 09:00-17:00"], Berlin, "2026-06-06T08:00:00Z", true),
            (
                &["weekends 00:00-24:00"],
                Berlin,
                "2026-06-06T08:00:00Z",
                true,
            ),
            (
                &["weekdays 00:00-24:00"],
                Berlin,
                "2026-06-06T08:00:00Z",
                false,
            ),
            (&["always"], New_York, "2026-11-01T06:30:00Z", true),
            (&[], Berlin, "2026-06-01T10:00:00Z", false),
            (
                &["sat 10:00-14:00", "mon 09:00 - 10:00"],
                Berlin,
                "2026-06-01T07:30:00Z",
                true,
            ),
        ];
        for &(entries, tz, at, expected) in cases {
            check(entries, tz, at, expected);
        }
    }

    #[test]
    fn rejected_entries_name_the_entry_and_reason() {
        use HoursErrorReason::*;
        let cases: &[(&str, HoursErrorReason)] = &[
            ("", Shape),
            ("mon-fri", Shape),
            ("funday 09:00-10:00", UnknownDay("funday".into())),
            ("mon-fry 09:00-10:00", UnknownDay("mon-fry".into())),
            ("mon 9-18", BadTime("9".into())),
            ("mon 09:00", BadRange("09:00".into())),
            ("mon 25:00-26:00", BadTime("25:00".into())),
            ("mon 09:60-10:00", BadTime("09:60".into())),
            ("mon 09:5-10:00", BadTime("09:5".into())),
            ("mon 24:30-01:00", BadTime("24:30".into())),
            ("mon 24:00-01:00", StartsAtMidnightEnd),
            ("mon 09:00-09:00", EmptyRange("09:00-09:00".into())),
        ];
        for (entry, reason) in cases {
            let err = WorkingHours::parse(&["always", entry]).expect_err(entry);
            assert_eq!(
                err,
                HoursError {
                    index: 1,
                    entry: entry.to_string(),
                    reason: reason.clone()
                }
            );
            assert!(err.to_string().starts_with("working_hours[1] "), "{err}");
        }
    }
}
