//! Action items ("don't put off the measures"): the record, deadline
//! parsing, the open/overdue/done status, and when each reminder is due.
//! Pure: `now` and the calendar are parameters.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::business_days;
use crate::config::Calendar;
use crate::duration::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            _ => Err(format!(
                "unknown priority {s:?} (expected low, normal or high)"
            )),
        }
    }
}

/// Where an item stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    /// Open with its deadline passed; listed until done.
    Overdue,
    Done,
}

/// A stored action item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionItem {
    pub id: i64,
    pub postmortem: i64,
    pub incident: i64,
    pub team: String,
    pub title: String,
    pub assignee: String,
    pub deadline: DateTime<Utc>,
    pub priority: Priority,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
}

impl ActionItem {
    pub fn status(&self, now: DateTime<Utc>) -> Status {
        match self.done_at {
            Some(_) => Status::Done,
            None if now >= self.deadline => Status::Overdue,
            None => Status::Open,
        }
    }

    /// The API form: the record with its status at `now`.
    pub fn view(&self, now: DateTime<Utc>) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("state".into(), serde_json::json!(self.status(now)));
        }
        v
    }
}

/// What adding an item stores; the store assigns the number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAction {
    pub postmortem: i64,
    pub incident: i64,
    pub team: String,
    pub title: String,
    pub assignee: String,
    pub deadline: DateTime<Utc>,
    pub priority: Priority,
    pub created_by: String,
}

/// `GET /api/v1/actions?state=`: `open` is every item not done (overdue
/// ones included, they stay listed until done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Open,
    Overdue,
    Done,
    All,
}

impl FromStr for Filter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Filter::Open),
            "overdue" => Ok(Filter::Overdue),
            "done" => Ok(Filter::Done),
            "all" => Ok(Filter::All),
            _ => Err(format!(
                "unknown state {s:?} (expected open, overdue, done or all)"
            )),
        }
    }
}

impl Filter {
    pub fn matches(self, item: &ActionItem, now: DateTime<Utc>) -> bool {
        match (self, item.status(now)) {
            (Filter::All, _) => true,
            (Filter::Open, s) => s != Status::Done,
            (Filter::Overdue, s) => s == Status::Overdue,
            (Filter::Done, s) => s == Status::Done,
        }
    }
}

/// A deadline: RFC 3339, or `YYYY-MM-DD` meaning the end (23:59:59) of
/// that day in `tz`. It must lie after `now`.
pub fn parse_deadline(s: &str, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    let at = if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        t.with_timezone(&Utc)
    } else if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let end = chrono::NaiveTime::from_hms_opt(23, 59, 59).expect("a valid time");
        business_days::at_local(tz, day, end)
    } else {
        return Err(format!(
            "{s:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"
        ));
    };
    if at <= now {
        return Err(format!("{s:?} is in the past"));
    }
    Ok(at)
}

/// When an item's reminders are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reminders {
    /// Ahead of the deadline; `None` when that moment has already passed.
    pub before: Option<DateTime<Utc>>,
    /// On the deadline day ("due today").
    pub at: DateTime<Utc>,
    /// The lead hears of it the next business morning after the deadline.
    pub overdue: DateTime<Utc>,
}

/// The reminder times of an item due at `deadline`, created at `now`.
/// `before` in whole days counts business days (at 09:00 team time);
/// otherwise it is a plain duration before the deadline.
pub fn reminders(
    cal: &Calendar,
    tz: Tz,
    before: Span,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Reminders {
    let secs = before.to_std().as_secs();
    let ahead = if secs.is_multiple_of(86_400) {
        let days = u32::try_from(secs / 86_400).unwrap_or(u32::MAX).min(366);
        business_days::business_mornings_before(cal, tz, deadline, days)
    } else {
        deadline - before.to_chrono()
    };
    Reminders {
        before: (ahead > now && ahead < deadline).then_some(ahead),
        at: business_days::morning_of(tz, deadline).max(now),
        overdue: business_days::next_business_morning(cal, tz, deadline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::fixture::utc;
    use chrono_tz::Europe::Berlin;

    const NOW: &str = "2026-11-25T09:00:00Z"; // Wednesday 10:00 Berlin

    fn check_deadline(cases: &[(&str, Result<&str, &str>)]) {
        for (input, expected) in cases {
            let got = parse_deadline(input, Berlin, utc(NOW));
            match (expected, &got) {
                (Ok(want), Ok(have)) => assert_eq!(*have, utc(want), "{input}"),
                (Err(part), Err(msg)) => assert!(msg.contains(part), "{input}: {msg}"),
                _ => panic!("{input}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn deadlines() {
        check_deadline(&[
            ("2026-12-01", Ok("2026-12-01T22:59:59Z")),
            ("2026-11-25", Ok("2026-11-25T22:59:59Z")),
            ("2026-12-01T12:00:00+01:00", Ok("2026-12-01T11:00:00Z")),
            (" 2026-12-01T12:00:00Z ", Ok("2026-12-01T12:00:00Z")),
            ("2026-11-24", Err("in the past")),
            ("2026-11-25T08:59:59Z", Err("in the past")),
            ("2026-11-25T09:00:00Z", Err("in the past")),
            ("next friday", Err("is not a date")),
            ("2026-13-01", Err("is not a date")),
            ("", Err("is not a date")),
        ]);
    }

    fn cal() -> Calendar {
        Calendar {
            workdays: [true, true, true, true, true, false, false],
            holidays: ["2026-12-24".parse().expect("date")].into(),
        }
    }

    fn check_reminders(cases: &[(u64, &str, Option<&str>, &str, &str)]) {
        for (before, deadline, b, at, overdue) in cases {
            let got = reminders(
                &cal(),
                Berlin,
                Span::from_secs(*before),
                utc(deadline),
                utc(NOW),
            );
            let want = Reminders {
                before: b.map(utc),
                at: utc(at),
                overdue: utc(overdue),
            };
            assert_eq!(got, want, "{before}s before {deadline}");
        }
    }

    #[test]
    fn reminder_times() {
        check_reminders(&[
            // Due Monday 18:00: Friday 09:00, Monday 09:00, Tuesday 09:00.
            (
                86_400,
                "2026-11-30T17:00:00Z",
                Some("2026-11-27T08:00:00Z"),
                "2026-11-30T08:00:00Z",
                "2026-12-01T08:00:00Z",
            ),
            // Two business days.
            (
                2 * 86_400,
                "2026-11-30T17:00:00Z",
                Some("2026-11-26T08:00:00Z"),
                "2026-11-30T08:00:00Z",
                "2026-12-01T08:00:00Z",
            ),
            // Four hours: a plain duration.
            (
                4 * 3600,
                "2026-11-30T17:00:00Z",
                Some("2026-11-30T13:00:00Z"),
                "2026-11-30T08:00:00Z",
                "2026-12-01T08:00:00Z",
            ),
            // Due today: the day-before reminder is past, "due today" goes
            // out at once (09:00 has passed).
            (
                86_400,
                "2026-11-25T17:00:00Z",
                None,
                "2026-11-25T09:00:00Z",
                "2026-11-26T08:00:00Z",
            ),
            // Due the 23rd: the lead hears on the 25th (the 24th is a holiday).
            (
                86_400,
                "2026-12-23T17:00:00Z",
                Some("2026-12-22T08:00:00Z"),
                "2026-12-23T08:00:00Z",
                "2026-12-25T08:00:00Z",
            ),
        ]);
    }

    #[test]
    fn status_and_filters() {
        let mut item = ActionItem {
            id: 1,
            postmortem: 1,
            incident: 1,
            team: "web".into(),
            title: "add disk alert".into(),
            assignee: "r1".into(),
            deadline: utc("2026-11-26T17:00:00Z"),
            priority: Priority::High,
            created_by: "lead".into(),
            created_at: utc(NOW),
            done_at: None,
            done_by: None,
        };
        let before = utc("2026-11-26T16:59:59Z");
        let after = utc("2026-11-26T17:00:00Z");
        assert_eq!(item.status(before), Status::Open);
        assert_eq!(item.status(after), Status::Overdue);
        let table = [
            (Filter::Open, before, true),
            (Filter::Open, after, true),
            (Filter::Overdue, before, false),
            (Filter::Overdue, after, true),
            (Filter::Done, after, false),
            (Filter::All, after, true),
        ];
        for (f, now, want) in table {
            assert_eq!(f.matches(&item, now), want, "{f:?} at {now}");
        }
        item.done_at = Some(after);
        assert_eq!(item.status(after), Status::Done);
        assert!(Filter::Done.matches(&item, after));
        assert!(!Filter::Open.matches(&item, after));
        assert_eq!(item.view(after)["state"], "done");
    }
}
