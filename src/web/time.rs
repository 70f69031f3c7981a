//! Times as a viewer reads them: in their own zone, and "12 min ago".
//! Pure: `now` and the zone are parameters.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// One instant for a page: machine form, the viewer's local time, and how
/// long ago (or how far ahead) from `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// RFC 3339 in UTC, for `<time datetime>` and the script that keeps
    /// "ago" current.
    pub iso: String,
    /// "Wed 25 Nov 10:00 CET" in the viewer's zone.
    pub local: String,
    pub ago: String,
}

impl When {
    pub fn new(t: DateTime<Utc>, tz: Tz, now: DateTime<Utc>) -> Self {
        When {
            iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            local: local(t, tz),
            ago: ago(t, now),
        }
    }
}

/// `t` in `tz`, short: weekday, day, month, time and zone.
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%a %-d %b %H:%M %Z")
        .to_string()
}

/// "just now", "12 min ago", "3 h 5 min ago", "2 days ago"; "in 5 min"
/// for an instant ahead. The same words as `assets/app.js`.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let words = span(secs.unsigned_abs());
    match (words, secs < 0) {
        (None, _) => "just now".to_string(),
        (Some(w), false) => format!("{w} ago"),
        (Some(w), true) => format!("in {w}"),
    }
}

fn span(secs: u64) -> Option<String> {
    let min = secs / 60;
    Some(match min {
        0 => return None,
        1..=59 => format!("{min} min"),
        60..=1439 if min.is_multiple_of(60) || min >= 600 => format!("{} h", min / 60),
        60..=1439 => format!("{} h {} min", min / 60, min % 60),
        1440..=2879 => "1 day".to_string(),
        _ => format!("{} days", min / 1440),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("instant")
    }

    #[test]
    fn ago_table() {
        fn check(delta: i64, expected: &str) {
            assert_eq!(ago(at(0), at(delta)), expected, "{delta}s");
        }
        check(0, "just now");
        check(59, "just now");
        check(60, "1 min ago");
        check(12 * 60 + 30, "12 min ago");
        check(3600, "1 h ago");
        check(3 * 3600 + 5 * 60, "3 h 5 min ago");
        check(11 * 3600 + 5 * 60, "11 h ago");
        check(86_400, "1 day ago");
        check(3 * 86_400, "3 days ago");
        check(-5 * 60, "in 5 min");
    }

    #[test]
    fn local_is_in_the_viewers_zone() {
        fn check(tz: Tz, expected: &str) {
            // 2027-01-15 08:00 UTC, a Friday.
            assert_eq!(local(at(0), tz), expected, "{tz}");
        }
        check(chrono_tz::UTC, "Fri 15 Jan 08:00 UTC");
        check(chrono_tz::Europe::Berlin, "Fri 15 Jan 09:00 CET");
        check(chrono_tz::America::New_York, "Fri 15 Jan 03:00 EST");
    }
}
