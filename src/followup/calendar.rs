//! Business days: the `calendar` (workdays, holidays) read in a time zone.
//! Pure: `now` and the zone are arguments.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::config::Calendar;

/// How far ahead to look before giving up on a calendar without workdays.
const HORIZON_DAYS: u64 = 3 * 366;

/// Whether `day` is a working day of `calendar`.
pub fn is_business_day(calendar: &Calendar, day: NaiveDate) -> bool {
    calendar.workdays[day.weekday().num_days_from_monday() as usize]
        && !calendar.holidays.contains(&day)
}

/// The first business day after the local date of `at` in `tz`: a Friday
/// evening gives Monday, a holiday moves it on. A calendar without any
/// business day in the next three years gives the next calendar day.
pub fn next_business_day(calendar: &Calendar, tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    let today = at.with_timezone(&tz).date_naive();
    let fallback = today.succ_opt().unwrap_or(today);
    (1..=HORIZON_DAYS)
        .filter_map(|n| today.checked_add_days(Days::new(n)))
        .find(|d| is_business_day(calendar, *d))
        .unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;

    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn cal(workdays: [bool; 7], holidays: &[&str]) -> Calendar {
        Calendar {
            workdays,
            holidays: holidays.iter().map(|h| date(h)).collect::<BTreeSet<_>>(),
        }
    }

    const MON_FRI: [bool; 7] = [true, true, true, true, true, false, false];

    fn check(calendar: &Calendar, tz: Tz, at_utc: &str, expected: &str) {
        let at = Utc.from_utc_datetime(
            &chrono::NaiveDateTime::parse_from_str(at_utc, "%Y-%m-%d %H:%M").expect("test instant"),
        );
        assert_eq!(
            next_business_day(calendar, tz, at),
            date(expected),
            "{at_utc} in {tz}"
        );
    }

    #[test]
    fn next_business_day_table() {
        let plain = cal(MON_FRI, &[]);
        let berlin = chrono_tz::Europe::Berlin;
        let utc = chrono_tz::UTC;
        // 2026-11-25 is a Wednesday.
        check(&plain, berlin, "2026-11-25 10:00", "2026-11-26");
        // Friday evening → Monday.
        check(&plain, berlin, "2026-11-27 18:30", "2026-11-30");
        // Saturday and Sunday → Monday.
        check(&plain, berlin, "2026-11-28 12:00", "2026-11-30");
        check(&plain, berlin, "2026-11-29 12:00", "2026-11-30");
        // A holiday on the next day is skipped, and so are several in a row.
        let xmas = cal(MON_FRI, &["2026-12-24", "2026-12-25"]);
        check(&xmas, berlin, "2026-12-23 16:00", "2026-12-28");
        let monday_off = cal(MON_FRI, &["2026-11-30"]);
        check(&monday_off, berlin, "2026-11-27 18:30", "2026-12-01");
        // Time zone boundary: Thursday 23:30 UTC is already Friday in Berlin.
        check(&plain, utc, "2026-11-26 23:30", "2026-11-27");
        check(&plain, berlin, "2026-11-26 23:30", "2026-11-30");
        // And Friday 02:00 UTC is still Thursday in New York.
        check(
            &plain,
            chrono_tz::America::New_York,
            "2026-11-27 02:00",
            "2026-11-27",
        );
        // A Sunday-to-Thursday week.
        let sun_thu = cal([true, true, true, true, false, false, true], &[]);
        check(&sun_thu, utc, "2026-11-26 12:00", "2026-11-29");
        // No workdays at all: the next day rather than a loop forever.
        check(&cal([false; 7], &[]), utc, "2026-11-25 12:00", "2026-11-26");
    }

    #[test]
    fn business_days() {
        let c = cal(MON_FRI, &["2026-12-25"]);
        for (d, want) in [
            ("2026-11-27", true),
            ("2026-11-28", false),
            ("2026-12-25", false),
        ] {
            assert_eq!(is_business_day(&c, date(d)), want, "{d}");
        }
    }
}
