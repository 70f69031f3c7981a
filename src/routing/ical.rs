//! The on-call iCal feed (RFC 5545): shifts rendered as a VCALENDAR, and a
//! small reader for the same subset so tests can check the output.
//!
//! Owns escaping, line folding and stable UIDs. Must not compute shifts
//! (see `schedule`), authenticate feed tokens or read the clock.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::routing::schedule::Shift;

/// RFC 5545 caps content lines at 75 octets, excluding the CRLF.
const LINE_OCTETS: usize = 75;
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// One VEVENT read back by [`parse_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent {
    /// The event's UID.
    pub uid: String,
    /// SUMMARY, unescaped.
    pub summary: String,
    /// DTSTART.
    pub start: DateTime<Utc>,
    /// DTEND.
    pub end: DateTime<Utc>,
}

/// One shift of the feed, with the names people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedShift {
    /// The schedule's id; with the person's id and the start, the UID.
    pub schedule: String,
    /// The schedule's name, for SUMMARY.
    pub schedule_name: String,
    /// The person's name, for SUMMARY.
    pub person_name: String,
    pub shift: Shift,
}

/// Renders shifts as an iCalendar feed named `calendar_name`, each
/// `On call: <schedule name> (<person name>)`.
///
/// UIDs are stable per (schedule id, person id, start), so calendar clients
/// update rather than duplicate events when the feed is fetched again (the
/// caller passes each shift's real start, not the fetch time). `now` is the
/// DTSTAMP. Shifts starting after year 9999 are left out and ends beyond it
/// are clamped, since iCal dates have four-digit years.
pub fn render(calendar_name: &str, shifts: &[FeedShift], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let mut line = |text: &str| push_folded(&mut out, text);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//tocsin//on-call schedule//EN");
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    line(&format!("X-WR-CALNAME:{}", escape(calendar_name)));
    let last = far_end();
    for f in shifts {
        let shift = &f.shift;
        if shift.start > last {
            continue;
        }
        let uid = format!(
            "{}/{}/{}@tocsin",
            shift.start.format(STAMP),
            uid_part(&f.schedule),
            uid_part(&shift.person)
        );
        line("BEGIN:VEVENT");
        line(&format!("UID:{}", escape(&uid)));
        line(&format!("DTSTAMP:{}", now.min(last).format(STAMP)));
        line(&format!("DTSTART:{}", shift.start.format(STAMP)));
        line(&format!("DTEND:{}", shift.end.min(last).format(STAMP)));
        let summary = format!("On call: {} ({})", f.schedule_name, f.person_name);
        line(&format!("SUMMARY:{}", escape(&summary)));
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

/// Reads the VEVENTs of an iCalendar text: unfolds lines, takes UID, SUMMARY and
/// UTC DTSTART/DTEND. Accepts CRLF or bare LF line ends.
pub fn parse_events(text: &str) -> Result<Vec<ParsedEvent>, String> {
    let unfolded = text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    let mut events = Vec::new();
    let mut current: Option<[Option<String>; 4]> = None;
    for (number, raw) in unfolded.lines().enumerate() {
        let Some((name, value)) = split_property(raw) else {
            if raw.is_empty() {
                continue;
            }
            return Err(format!("line {}: no ':' in {raw:?}", number + 1));
        };
        match (name.to_ascii_uppercase().as_str(), current.as_mut()) {
            ("BEGIN", None) if value.eq_ignore_ascii_case("VEVENT") => {
                current = Some(Default::default())
            }
            ("BEGIN", Some(_)) if value.eq_ignore_ascii_case("VEVENT") => {
                return Err(format!("line {}: VEVENT inside VEVENT", number + 1));
            }
            ("END", Some(fields)) if value.eq_ignore_ascii_case("VEVENT") => {
                events.push(finish_event(fields)?);
                current = None;
            }
            ("UID", Some(fields)) => fields[0] = Some(unescape(value)),
            ("SUMMARY", Some(fields)) => fields[1] = Some(unescape(value)),
            ("DTSTART", Some(fields)) => fields[2] = Some(value.to_string()),
            ("DTEND", Some(fields)) => fields[3] = Some(value.to_string()),
            _ => {}
        }
    }
    if current.is_some() {
        return Err("VEVENT not closed by END:VEVENT".to_string());
    }
    Ok(events)
}

fn finish_event(fields: &mut [Option<String>; 4]) -> Result<ParsedEvent, String> {
    let [uid, summary, start, end] = fields.clone();
    let missing = |what: &str| format!("VEVENT without {what}");
    Ok(ParsedEvent {
        uid: uid.ok_or_else(|| missing("UID"))?,
        summary: summary.ok_or_else(|| missing("SUMMARY"))?,
        start: parse_stamp(&start.ok_or_else(|| missing("DTSTART"))?)?,
        end: parse_stamp(&end.ok_or_else(|| missing("DTEND"))?)?,
    })
}

fn parse_stamp(value: &str) -> Result<DateTime<Utc>, String> {
    NaiveDateTime::parse_from_str(value, STAMP)
        .map(|n| n.and_utc())
        .map_err(|e| format!("date-time {value:?} is not UTC YYYYMMDDTHHMMSSZ: {e}"))
}

/// Splits `NAME;PARAM="x:y":value` at the first colon outside quotes.
fn split_property(line: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                let head = &line[..i];
                let name = head.split(';').next().unwrap_or(head);
                return Some((name, &line[i + 1..]));
            }
            _ => {}
        }
    }
    None
}

/// Appends `text` as one content line, folded to 75 octets, CRLF-terminated.
fn push_folded(out: &mut String, text: &str) {
    let mut used = 0;
    for c in text.chars() {
        if used + c.len_utf8() > LINE_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// TEXT escaping (RFC 5545 §3.3.11).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// Percent-encodes all but unreserved characters, so UID parts cannot run together.
fn uid_part(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn far_end() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map_or(DateTime::<Utc>::MAX_UTC, |n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test timestamps are valid RFC 3339")
            .to_utc()
    }

    fn shift(person: &str, start: &str, end: &str) -> Shift {
        Shift {
            person: person.to_string(),
            start: utc(start),
            end: utc(end),
            is_override: false,
        }
    }

    /// A feed shift whose names are its ids.
    fn feed(schedule: &str, shift: Shift) -> FeedShift {
        FeedShift {
            schedule: schedule.to_string(),
            schedule_name: schedule.to_string(),
            person_name: shift.person.clone(),
            shift,
        }
    }

    fn check(shifts: &[(&str, Shift)], expected: &[(&str, &str, &str)]) {
        let shifts: Vec<FeedShift> = shifts.iter().map(|(s, sh)| feed(s, sh.clone())).collect();
        let text = render("Team, on call", &shifts, utc("2026-11-25T12:00:00Z"));
        for line in text.split("\r\n") {
            assert!(line.len() <= LINE_OCTETS, "line too long: {line:?}");
        }
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "bare LF in {text:?}"
        );
        assert!(text.contains("X-WR-CALNAME:Team\\, on call\r\n"));
        let events = parse_events(&text).expect("own output parses");
        let got: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = events
            .iter()
            .map(|e| (e.summary.clone(), e.start, e.end))
            .collect();
        let want: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = expected
            .iter()
            .map(|(s, a, b)| (s.to_string(), utc(a), utc(b)))
            .collect();
        assert_eq!(got, want);
        let mut uids: Vec<&str> = events.iter().map(|e| e.uid.as_str()).collect();
        uids.sort();
        uids.dedup();
        assert_eq!(uids.len(), events.len(), "UIDs are unique");
    }

    #[test]
    fn round_trip() {
        let long = "a-very-long-schedule-name-that-will-never-fit-on-one-line, with; specials\\";
        check(&[], &[]);
        check(
            &[
                (
                    "primary",
                    shift("alice", "2026-11-23T08:00:00Z", "2026-11-30T08:00:00Z"),
                ),
                (
                    "primary",
                    shift("bob", "2026-11-30T08:00:00Z", "2026-12-07T08:00:00Z"),
                ),
            ],
            &[
                (
                    "On call: primary (alice)",
                    "2026-11-23T08:00:00Z",
                    "2026-11-30T08:00:00Z",
                ),
                (
                    "On call: primary (bob)",
                    "2026-11-30T08:00:00Z",
                    "2026-12-07T08:00:00Z",
                ),
            ],
        );
        check(
            &[(
                long,
                shift("zoë\nx", "2026-11-23T08:00:00Z", "2026-11-24T08:00:00Z"),
            )],
            &[(
                &format!("On call: {long} (zoë\nx)"),
                "2026-11-23T08:00:00Z",
                "2026-11-24T08:00:00Z",
            )],
        );
        // An unbounded shift is clamped to the last representable instant.
        check(
            &[(
                "solo",
                Shift {
                    end: DateTime::<Utc>::MAX_UTC,
                    ..shift("al", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
                },
            )],
            &[(
                "On call: solo (al)",
                "2026-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z",
            )],
        );
    }

    #[test]
    fn long_summary_is_folded_at_75_octets() {
        let name = "é".repeat(60);
        let text = render(
            "x",
            &[feed(
                &name,
                shift("p", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"),
            )],
            utc("2026-01-01T00:00:00Z"),
        );
        let summary_lines: Vec<&str> = text
            .split("\r\n")
            .skip_while(|l| !l.starts_with("SUMMARY:"))
            .take_while(|l| l.starts_with("SUMMARY:") || l.starts_with(' '))
            .collect();
        assert!(summary_lines.len() >= 2, "{summary_lines:?}");
        assert!(summary_lines.iter().all(|l| l.len() <= LINE_OCTETS));
        assert!(summary_lines[1..].iter().all(|l| l.starts_with(' ')));
        let events = parse_events(&text).expect("parses");
        assert_eq!(events[0].summary, format!("On call: {name} (p)"));
    }

    #[test]
    fn uid_is_stable_per_schedule_person_and_start() {
        let uid = |schedule: &str, person: &str, start: &str| {
            let text = render(
                "x",
                &[feed(schedule, shift(person, start, "2027-01-01T00:00:00Z"))],
                utc("2026-01-01T00:00:00Z"),
            );
            parse_events(&text).expect("parses")[0].uid.clone()
        };
        let base = uid("primary", "alice", "2026-11-23T08:00:00Z");
        assert_eq!(base, "20261123T080000Z/primary/alice@tocsin");
        let cases = [
            (("primary", "alice", "2026-11-23T08:00:00Z"), true),
            (("primary", "bob", "2026-11-23T08:00:00Z"), false),
            (("primary", "alice", "2026-11-23T08:00:01Z"), false),
            (("primary/alice", "", "2026-11-23T08:00:00Z"), false),
        ];
        for ((s, p, t), same) in cases {
            assert_eq!(uid(s, p, t) == base, same, "{s} {p} {t}");
        }
    }

    #[test]
    fn summary_names_the_schedule_and_person_and_uid_keeps_their_ids() {
        let f = FeedShift {
            schedule: "web-primary".into(),
            schedule_name: "Web primary on-call".into(),
            person_name: "Bob Baker".into(),
            shift: shift("bob", "2026-11-23T08:00:00Z", "2026-11-30T08:00:00Z"),
        };
        let text = render("x", &[f], utc("2026-11-25T12:00:00Z"));
        let event = &parse_events(&text).expect("parses")[0];
        assert_eq!(event.summary, "On call: Web primary on-call (Bob Baker)");
        assert_eq!(event.uid, "20261123T080000Z/web-primary/bob@tocsin");
    }

    #[test]
    fn reader_rejects_malformed_input() {
        let cases = [
            "BEGIN:VEVENT\r\nUID:x\r\n",
            "BEGIN:VEVENT\r\nUID:x\r\nSUMMARY:s\r\nDTSTART:20260101T000000\r\nDTEND:20260101T000000Z\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\nSUMMARY:s\r\nDTSTART:20260101T000000Z\r\nDTEND:20260101T000000Z\r\nEND:VEVENT\r\n",
            "BEGIN:VEVENT\r\ngarbage\r\nEND:VEVENT\r\n",
        ];
        for text in cases {
            assert!(parse_events(text).is_err(), "{text:?}");
        }
    }
}
