//! Instants as people type them: RFC 3339 (`2026-11-25T09:00:00Z`), or a
//! local date-time (`2026-11-25 09:00`, `2026-11-25T09:00`) or date in a given
//! time zone. Used by config (`start`, overrides), `?at=` and the CLI. And
//! the one way an instant is written for people to read (`local`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// An instant as people read it, to the minute, in `tz`: `Wed 25 Nov 10:00
/// CET` (weekday first: "is that tonight?").
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%a %d %b %H:%M %Z").to_string()
}

pub const FORMATS: &str = "RFC 3339 (2026-11-25T09:00:00Z or with an offset), YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DD (local time)";

/// Parses an instant; local forms are read in `tz`. A local time that falls
/// in a DST gap is an error; one that occurs twice takes the earlier.
pub fn parse(input: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
    .ok_or_else(|| format!("cannot read time {s:?}: expected {FORMATS}"))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            format!("{s:?} does not exist in {tz} (skipped by a daylight-saving change)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, tz: Tz, expected: Result<&str, &str>) {
        match (parse(input, tz), expected) {
            (Ok(g), Ok(e)) => assert_eq!(g.to_rfc3339(), e, "{input}"),
            (Err(g), Err(e)) => assert!(g.contains(e), "{input}: {g}"),
            (g, e) => panic!("{input}: got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn reads_instants() {
        use chrono_tz::Europe::Berlin;
        check(
            "2026-11-25T09:00:00Z",
            Berlin,
            Ok("2026-11-25T09:00:00+00:00"),
        );
        check(
            "2026-11-25T09:00:00+02:00",
            Berlin,
            Ok("2026-11-25T07:00:00+00:00"),
        );
        check("2026-11-25 09:00", Berlin, Ok("2026-11-25T08:00:00+00:00"));
        check("2026-07-01T09:00", Berlin, Ok("2026-07-01T07:00:00+00:00"));
        check("2026-11-25", Berlin, Ok("2026-11-24T23:00:00+00:00"));
        // 02:30 does not exist on the spring-forward night; it occurs twice in autumn.
        check("2026-03-29 02:30", Berlin, Err("does not exist"));
        check("2026-10-25 02:30", Berlin, Ok("2026-10-25T00:30:00+00:00"));
        check("yesterday", Berlin, Err("expected RFC 3339"));
    }
}
