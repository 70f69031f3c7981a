//! Business-day arithmetic over the configured `calendar` (working weekdays
//! and holidays) in a team's time zone: postmortem due dates, "the next
//! business morning", reminders a number of business days before a deadline.
//! Pure: every instant is a parameter; no clock, no I/O.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::Calendar;

/// The hour reminders and invitations go out, in the team's time zone.
pub const MORNING: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a valid time");

/// The last second of a day, the "end of the day" of due dates.
const END_OF_DAY: NaiveTime = NaiveTime::from_hms_opt(23, 59, 59).expect("a valid time");

/// How far the calendar is searched; a calendar without any working day
/// falls back to plain calendar days instead of looping.
const SEARCH_DAYS: u32 = 800;

/// A working weekday that is not a holiday.
pub fn is_business_day(cal: &Calendar, day: NaiveDate) -> bool {
    cal.workdays[day.weekday().num_days_from_monday() as usize] && !cal.holidays.contains(&day)
}

/// The first business day strictly after `day`.
pub fn next_business_day(cal: &Calendar, day: NaiveDate) -> NaiveDate {
    let mut d = day;
    for _ in 0..SEARCH_DAYS {
        match d.succ_opt() {
            Some(n) => d = n,
            None => return day,
        }
        if is_business_day(cal, d) {
            return d;
        }
    }
    day.succ_opt().unwrap_or(day)
}

/// The last business day strictly before `day`.
pub fn previous_business_day(cal: &Calendar, day: NaiveDate) -> NaiveDate {
    let mut d = day;
    for _ in 0..SEARCH_DAYS {
        match d.pred_opt() {
            Some(p) => d = p,
            None => return day,
        }
        if is_business_day(cal, d) {
            return d;
        }
    }
    day.pred_opt().unwrap_or(day)
}

/// The instant of a wall-clock time on `day` in `tz`. In a DST gap the
/// time does not exist; the instant an hour later is used.
pub fn at_local(tz: Tz, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = day.and_time(time);
    let found = tz
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc));
    found.unwrap_or_else(|| local.and_utc())
}

fn local_day(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// When a postmortem is due: the end (23:59:59) of the first business day
/// after the day of `resolved_at` in `tz`. A Friday-evening resolution is
/// due Monday; a holiday moves it on; never the same day.
pub fn due_end_of_next_business_day(
    cal: &Calendar,
    tz: Tz,
    resolved_at: DateTime<Utc>,
) -> DateTime<Utc> {
    let day = next_business_day(cal, local_day(tz, resolved_at));
    at_local(tz, day, END_OF_DAY)
}

/// 09:00 in `tz` on the first business day after the day of `after`: when
/// the author is invited to write (the guide says wait a day), and when an
/// overdue item reaches the team lead.
pub fn next_business_morning(cal: &Calendar, tz: Tz, after: DateTime<Utc>) -> DateTime<Utc> {
    at_local(tz, next_business_day(cal, local_day(tz, after)), MORNING)
}

/// 09:00 in `tz`, `n` business days before the day of `deadline`.
pub fn business_mornings_before(
    cal: &Calendar,
    tz: Tz,
    deadline: DateTime<Utc>,
    n: u32,
) -> DateTime<Utc> {
    let mut day = local_day(tz, deadline);
    for _ in 0..n.max(1) {
        day = previous_business_day(cal, day);
    }
    at_local(tz, day, MORNING)
}

/// 09:00 in `tz` on the day of `deadline`, or the deadline itself when it
/// falls earlier that day: the "due today" reminder.
pub fn morning_of(tz: Tz, deadline: DateTime<Utc>) -> DateTime<Utc> {
    at_local(tz, local_day(tz, deadline), MORNING).min(deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn cal(holidays: &[&str]) -> Calendar {
        Calendar {
            workdays: [true, true, true, true, true, false, false],
            holidays: holidays
                .iter()
                .map(|h| h.parse().expect("test date"))
                .collect::<BTreeSet<NaiveDate>>(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    fn check(
        f: fn(&Calendar, Tz, DateTime<Utc>) -> DateTime<Utc>,
        cases: &[(&[&str], Tz, &str, &str)],
    ) {
        for (holidays, tz, input, expected) in cases {
            assert_eq!(
                f(&cal(holidays), *tz, utc(input)),
                utc(expected),
                "{input} in {tz} with holidays {holidays:?}"
            );
        }
    }

    #[test]
    fn due_dates_across_weekends_holidays_and_zones() {
        use chrono_tz::{America::New_York, Asia::Tokyo, Europe::Berlin};
        check(
            due_end_of_next_business_day,
            &[
                // Wednesday morning → end of Thursday (Berlin, CET = UTC+1).
                (&[], Berlin, "2026-11-25T09:00:00Z", "2026-11-26T22:59:59Z"),
                // Friday evening → end of Monday.
                (&[], Berlin, "2026-11-27T19:30:00Z", "2026-11-30T22:59:59Z"),
                // Saturday and Sunday → Monday.
                (&[], Berlin, "2026-11-28T12:00:00Z", "2026-11-30T22:59:59Z"),
                (&[], Berlin, "2026-11-29T12:00:00Z", "2026-11-30T22:59:59Z"),
                // Thursday, Friday a holiday → Monday.
                (
                    &["2026-11-27"],
                    Berlin,
                    "2026-11-26T10:00:00Z",
                    "2026-11-30T22:59:59Z",
                ),
                // Friday, the Monday a holiday → Tuesday.
                (
                    &["2026-11-30"],
                    Berlin,
                    "2026-11-27T10:00:00Z",
                    "2026-12-01T22:59:59Z",
                ),
                // Late Wednesday just before midnight is still Wednesday → Thursday.
                (&[], Berlin, "2026-11-25T22:59:00Z", "2026-11-26T22:59:59Z"),
                // ... and just after midnight Berlin it is Thursday → Friday.
                (&[], Berlin, "2026-11-25T23:01:00Z", "2026-11-27T22:59:59Z"),
                // Friday 20:00 in New York is Saturday in UTC: the team's day counts.
                (
                    &[],
                    New_York,
                    "2026-11-28T01:00:00Z",
                    "2026-12-01T04:59:59Z",
                ),
                // Monday 08:00 in Tokyo is Sunday 23:00 UTC → Tuesday in Tokyo.
                (&[], Tokyo, "2026-11-29T23:00:00Z", "2026-12-01T14:59:59Z"),
                // Across the end of DST in Berlin (Sunday 25 October 2026).
                (&[], Berlin, "2026-10-23T15:00:00Z", "2026-10-26T22:59:59Z"),
            ],
        );
    }

    #[test]
    fn next_business_morning_waits_a_day() {
        use chrono_tz::{America::New_York, Europe::Berlin};
        check(
            next_business_morning,
            &[
                // Wednesday 03:00 Berlin: not Wednesday 09:00, but Thursday.
                (&[], Berlin, "2026-11-25T02:00:00Z", "2026-11-26T08:00:00Z"),
                (&[], Berlin, "2026-11-27T17:00:00Z", "2026-11-30T08:00:00Z"),
                (
                    &["2026-11-30"],
                    Berlin,
                    "2026-11-27T17:00:00Z",
                    "2026-12-01T08:00:00Z",
                ),
                (
                    &[],
                    New_York,
                    "2026-11-25T15:00:00Z",
                    "2026-11-26T14:00:00Z",
                ),
                // Summer time: 09:00 CEST is 07:00 UTC.
                (&[], Berlin, "2026-07-01T10:00:00Z", "2026-07-02T07:00:00Z"),
            ],
        );
    }

    #[test]
    fn mornings_before_a_deadline() {
        use chrono_tz::Europe::Berlin;
        let one = |c: &Calendar, tz: Tz, d: DateTime<Utc>| business_mornings_before(c, tz, d, 1);
        let two = |c: &Calendar, tz: Tz, d: DateTime<Utc>| business_mornings_before(c, tz, d, 2);
        // Deadline Monday → the Friday before.
        check(
            one,
            &[
                (&[], Berlin, "2026-11-30T16:00:00Z", "2026-11-27T08:00:00Z"),
                (&[], Berlin, "2026-11-26T16:00:00Z", "2026-11-25T08:00:00Z"),
                (
                    &["2026-11-25"],
                    Berlin,
                    "2026-11-26T16:00:00Z",
                    "2026-11-24T08:00:00Z",
                ),
            ],
        );
        check(
            two,
            &[(&[], Berlin, "2026-11-30T16:00:00Z", "2026-11-26T08:00:00Z")],
        );
    }

    #[test]
    fn morning_of_the_deadline_day_or_the_deadline() {
        use chrono_tz::Europe::Berlin;
        let f = |_: &Calendar, tz: Tz, d: DateTime<Utc>| morning_of(tz, d);
        check(
            f,
            &[
                (&[], Berlin, "2026-11-26T16:00:00Z", "2026-11-26T08:00:00Z"),
                (&[], Berlin, "2026-11-26T06:00:00Z", "2026-11-26T06:00:00Z"),
            ],
        );
    }

    #[test]
    fn a_calendar_without_working_days_does_not_loop() {
        let none = Calendar {
            workdays: [false; 7],
            holidays: BTreeSet::new(),
        };
        let d: NaiveDate = "2026-11-25".parse().expect("date");
        assert_eq!(
            next_business_day(&none, d),
            "2026-11-26".parse().expect("date")
        );
        assert_eq!(
            previous_business_day(&none, d),
            "2026-11-24".parse().expect("date")
        );
    }
}
