use super::*;
use chrono_tz::America::New_York;
use chrono_tz::Europe::Berlin;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamps are valid RFC 3339")
        .to_utc()
}

fn handoff(expr: &str) -> Handoff {
    Handoff::parse(expr).expect("test expressions parse")
}

#[test]
fn parse_accepts_cron_forms_and_explains_rejections() {
    let cases: &[(&str, Result<(), &str>)] = &[
        ("0 9 * * MON", Ok(())),
        ("0 9 * * 1-5", Ok(())),
        ("0 0 9 * * MON", Ok(())),
        ("0 0 9 * * MON 2026", Ok(())),
        ("0 9 * *", Err("expected 5 cron fields")),
        ("", Err("got 0")),
        ("0 9 * * FUNDAY", Err("day of week")),
        ("0 9 * * 5-1", Err("runs backwards")),
        ("0 9 * * 8", Err("not a day")),
        ("0 9 * * */0", Err("bad step")),
        ("61 9 * * *", Err("hand-off \"61 9 * * *\"")),
        ("0 0 30 2 *", Err("never fires")),
        ("0 0 0 1 1 * 1969", Err("hand-off")),
    ];
    for (expr, expected) in cases {
        match (Handoff::parse(expr), expected) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(part)) => assert!(e.contains(part), "{expr}: {e}"),
            (got, want) => panic!("{expr}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn five_field_day_of_week_is_standard_cron() {
    let cases = [
        ("*", "*"),
        ("1", "MON"),
        ("0", "SUN"),
        ("7", "SUN"),
        ("1-5", "MON,TUE,WED,THU,FRI"),
        ("5-7", "SUN,FRI,SAT"),
        ("mon,wed,Fri", "MON,WED,FRI"),
        ("*/2", "SUN,TUE,THU,SAT"),
        ("1/3", "MON,THU"),
        ("sat-sun", "err"),
    ];
    for (field, expected) in cases {
        let got = standard_day_of_week(field).unwrap_or_else(|_| "err".to_string());
        assert_eq!(got, expected, "{field}");
    }
    // And the crate then fires on the standard day: 2026-06-01 is a Monday.
    let monday = handoff("0 9 * * 1").next_after(Berlin, utc("2026-05-30T00:00:00Z"));
    assert_eq!(monday, Some(utc("2026-06-01T07:00:00Z")));
}

/// `next_after(t)` for a table of expressions, zones and instants.
fn check_next(expr: &str, tz: Tz, after: &str, expected: &str) {
    let got = handoff(expr).next_after(tz, utc(after));
    assert_eq!(got, Some(utc(expected)), "{expr} in {tz} after {after}");
}

#[test]
fn instants_across_dst() {
    let cases = [
        // Weekly Monday 09:00 follows local time on both sides of DST.
        (
            "0 9 * * MON",
            Berlin,
            "2026-03-27T00:00:00Z",
            "2026-03-30T07:00:00Z",
        ),
        (
            "0 9 * * MON",
            Berlin,
            "2026-03-20T00:00:00Z",
            "2026-03-23T08:00:00Z",
        ),
        (
            "0 9 * * MON",
            New_York,
            "2026-11-01T00:00:00Z",
            "2026-11-02T14:00:00Z",
        ),
        // Berlin spring forward: 02:30 does not exist; it happens when clocks jump (01:00Z).
        (
            "30 2 * * *",
            Berlin,
            "2026-03-28T12:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        (
            "30 2 * * *",
            Berlin,
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
        ),
        // Berlin fall back: 02:30 occurs twice; only the first (CEST) one counts.
        (
            "30 2 * * *",
            Berlin,
            "2026-10-24T12:00:00Z",
            "2026-10-25T00:30:00Z",
        ),
        (
            "30 2 * * *",
            Berlin,
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
        ),
        // New York spring forward at 07:00Z; fall back at 06:00Z.
        (
            "30 2 * * *",
            New_York,
            "2026-03-07T12:00:00Z",
            "2026-03-08T07:00:00Z",
        ),
        (
            "30 2 * * *",
            New_York,
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z",
        ),
        (
            "30 1 * * *",
            New_York,
            "2026-10-31T12:00:00Z",
            "2026-11-01T05:30:00Z",
        ),
        (
            "30 1 * * *",
            New_York,
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:30:00Z",
        ),
        // Hourly: the skipped 02:00 and the real 03:00 are one hand-off...
        (
            "0 * * * *",
            Berlin,
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        (
            "0 * * * *",
            Berlin,
            "2026-03-29T01:00:00Z",
            "2026-03-29T02:00:00Z",
        ),
        // ...and the repeated 02:00 fires once, so that shift lasts two hours.
        (
            "0 * * * *",
            Berlin,
            "2026-10-25T00:00:00Z",
            "2026-10-25T02:00:00Z",
        ),
        (
            "0 * * * *",
            New_York,
            "2026-11-01T05:00:00Z",
            "2026-11-01T07:00:00Z",
        ),
        // Several fires inside one gap collapse to the jump.
        (
            "15,45 2 * * SUN",
            Berlin,
            "2026-03-28T00:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        (
            "15,45 2 * * SUN",
            Berlin,
            "2026-03-29T01:00:00Z",
            "2026-04-05T00:15:00Z",
        ),
        // Seconds field and sub-second instants.
        (
            "30 0 9 * * *",
            Berlin,
            "2026-06-01T07:00:29.999Z",
            "2026-06-01T07:00:30Z",
        ),
        (
            "30 0 9 * * *",
            Berlin,
            "2026-06-01T07:00:30.001Z",
            "2026-06-02T07:00:30Z",
        ),
    ];
    for (expr, tz, after, expected) in cases {
        check_next(expr, tz, after, expected);
    }
}

#[test]
fn one_second_before_at_and_after_a_handoff() {
    let h = handoff("0 9 * * MON");
    let at = utc("2026-06-01T07:00:00Z");
    let second = TimeDelta::seconds(1);
    let prev = Some(utc("2026-05-25T07:00:00Z"));
    let next = Some(utc("2026-06-08T07:00:00Z"));
    let cases = [
        (at - second, Some(at), prev),
        (at, next, Some(at)),
        (at + second, next, Some(at)),
    ];
    for (t, want_next, want_last) in cases {
        assert_eq!(h.next_after(Berlin, t), want_next, "next after {t}");
        assert_eq!(h.last_at_or_before(Berlin, t), want_last, "last at {t}");
    }
}

/// Counting must agree with stepping through `next_after` one hand-off at a time.
fn check_count(expr: &str, tz: Tz, from: &str, to: &str) {
    let h = handoff(expr);
    let (a, b) = (utc(from), utc(to));
    let mut stepped = 0;
    let mut cursor = a;
    while let Some(next) = h.next_after(tz, cursor).filter(|n| *n <= b) {
        stepped += 1;
        cursor = next;
    }
    assert_eq!(
        h.count_between(tz, a, b),
        stepped,
        "{expr} in {tz} over ({from}, {to}]"
    );
}

#[test]
fn counting_agrees_with_stepping() {
    let exprs = [
        "0 9 * * MON",
        "30 2 * * *",
        "30 1 * * *",
        "0 * * * *",
        "*/20 * * * *",
        "15,45 2 * * SUN",
        "0 9 1,15 * *",
        "0 0 9 * * MON-FRI",
        "0 30 2 * * SUN 2026",
        "0 0 0 29 2 *",
    ];
    let windows = [
        ("2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z"),
        ("2026-03-28T12:34:56.789Z", "2026-03-30T00:00:00Z"),
        ("2026-10-24T00:00:00Z", "2026-10-26T00:00:00.5Z"),
        ("2026-03-07T00:00:00Z", "2026-03-09T23:59:59Z"),
        ("2026-10-31T00:00:00Z", "2026-11-02T00:00:00Z"),
        ("2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z"),
        ("2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z"),
        ("2026-03-29T01:00:00Z", "2026-03-29T01:00:01Z"),
        ("2027-12-31T23:00:00Z", "2029-03-01T00:00:00Z"),
    ];
    for expr in exprs {
        for tz in [Berlin, New_York] {
            for (from, to) in windows {
                check_count(expr, tz, from, to);
            }
        }
    }
}

#[test]
fn counting_years_is_arithmetic() {
    let cases = [
        // Mondays from 2021-01-01 (exclusive) to 2026-01-01.
        (
            "0 9 * * MON",
            "2021-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            261,
        ),
        // Every real hour of 2026 in Berlin but the repeated 02:00 at fall back.
        (
            "0 * * * *",
            "2025-12-31T23:00:00Z",
            "2026-12-31T23:00:00Z",
            365 * 24 - 1,
        ),
        (
            "0 0 1 1 *",
            "1999-06-01T00:00:00Z",
            "2099-06-01T00:00:00Z",
            100,
        ),
        // The cron crate knows 1970..=2100 only; an ancient start costs nothing extra.
        (
            "0 0 1 1 *",
            "0001-01-01T00:00:00Z",
            "1971-06-01T00:00:00Z",
            2,
        ),
        (
            "0 0 1 1 *",
            "2100-06-01T00:00:00Z",
            "2300-01-01T00:00:00Z",
            0,
        ),
    ];
    for (expr, from, to, expected) in cases {
        let got = handoff(expr).count_between(Berlin, utc(from), utc(to));
        assert_eq!(got, expected, "{expr} over ({from}, {to}]");
    }
}
