//! Hand-off instants of an on-call rotation: a cron expression read on the
//! wall clock of the rotation's time zone, mapped to UTC instants.
//!
//! Owns the cron dialect, the DST rule and fast counting. Must not know
//! members or overrides (see `schedule`) and must not read the clock.
//!
//! DST rule (each wall-clock fire time yields exactly one instant):
//! - a fire time that occurs twice (fall back) happens at its *first* occurrence;
//! - a fire time that does not exist (spring forward) happens at the instant the
//!   clocks jump, i.e. when the local clock passes it (as Vixie cron runs jobs of
//!   the skipped hour right after the change);
//! - fire times that land on the same instant that way are one hand-off.
//!
//! The cron crate alone would skip non-existent times and fire twice at
//! ambiguous ones, so fires are enumerated on a naive wall clock (the crate
//! evaluated in UTC) and mapped to instants here.
//!
//! Counting hand-offs since a rotation started is arithmetic on the wall clock
//! (matching days times fires per day), not iteration, so a years-old hourly
//! rotation costs about one step per week. Transitions are found by sampling
//! the offset once a week; two transitions within one week (no current zone
//! has them) would only affect the collapse of several fires inside one gap.

use std::str::FromStr;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, SubsecRound, TimeDelta,
    TimeZone, Timelike, Utc,
};
use chrono_tz::{GapInfo, Tz};
use cron::{Schedule, TimeUnitSpec};

/// A parsed hand-off cron expression.
///
/// Five fields (`minute hour day-of-month month day-of-week`) follow standard
/// cron: day-of-week 0 or 7 is Sunday, names `sun`..`sat` work too. Six or
/// seven fields (seconds first, optional year last) are passed to the cron
/// crate verbatim, where numeric day-of-week 1 is Sunday; prefer names there.
/// When both day-of-month and day-of-week are restricted, a day must match
/// both (the cron crate's rule, unlike Vixie cron's "either").
#[derive(Debug, Clone)]
pub struct Handoff {
    source: String,
    schedule: Schedule,
    fields: Fields,
}

impl PartialEq for Handoff {
    fn eq(&self, other: &Handoff) -> bool {
        self.source == other.source
    }
}

impl Eq for Handoff {}

/// The expression's fields as lookup tables, for counting without iterating.
#[derive(Debug, Clone)]
struct Fields {
    second: [bool; 60],
    minute: [bool; 60],
    hour: [bool; 24],
    day_of_month: [bool; 32],
    month: [bool; 13],
    // Index 1 = Sunday .. 7 = Saturday, the cron crate's numbering.
    day_of_week: [bool; 8],
    weekly: bool,
}

impl Handoff {
    /// Parses a 5-field cron expression, or the cron crate's 6/7-field form with seconds.
    pub fn parse(expr: &str) -> Result<Handoff, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let crate_expr = match fields.as_slice() {
            [minute, hour, dom, month, dow] => {
                let dow = standard_day_of_week(dow)
                    .map_err(|e| format!("hand-off {expr:?}: day of week: {e}"))?;
                format!("0 {minute} {hour} {dom} {month} {dow}")
            }
            [_, _, _, _, _, _] | [_, _, _, _, _, _, _] => fields.join(" "),
            _ => {
                return Err(format!(
                    "hand-off {expr:?}: expected 5 cron fields (minute hour day-of-month month \
                     day-of-week), or 6/7 with seconds first and an optional year, got {}",
                    fields.len()
                ));
            }
        };
        let schedule =
            Schedule::from_str(&crate_expr).map_err(|e| format!("hand-off {expr:?}: {e}"))?;
        if schedule
            .after(&DateTime::<Utc>::UNIX_EPOCH)
            .next()
            .is_none()
        {
            return Err(format!("hand-off {expr:?}: never fires"));
        }
        let fields = Fields::of(&schedule);
        Ok(Handoff {
            source: expr.to_string(),
            schedule,
            fields,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first hand-off instant strictly after `t`.
    pub fn next_after(&self, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.first_fire_after(tz, t).map(|(_, u)| u.and_utc())
    }

    /// The last hand-off instant at or before `t`.
    pub fn last_at_or_before(&self, tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.last_fire_at_or_before(tz, t).map(|(_, u)| u.and_utc())
    }

    /// The number of hand-off instants in `(a, b]`.
    pub fn count_between(&self, tz: Tz, a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
        if b <= a {
            return 0;
        }
        let (Some((first, first_at)), Some((last, _))) = (
            self.first_fire_after(tz, a),
            self.last_fire_at_or_before(tz, b),
        ) else {
            return 0;
        };
        if last < first {
            return 0;
        }
        let mut count = self.count_local(first, last);
        // Gaps before the first fire's instant hold no counted fires; skipping them keeps
        // a rotation that "started" in year 1 cheap.
        let from = (first_at - TimeDelta::seconds(1)).max(whole(a));
        for (gap_start, gap_end) in gaps_between(tz, from, whole(b)) {
            // Every fire from the gap's start to its end (inclusive) is the same instant.
            count -= self.count_local(gap_start, gap_end).saturating_sub(1);
        }
        count
    }

    /// The first wall-clock fire whose instant is after `t`, with that instant.
    fn first_fire_after(&self, tz: Tz, t: DateTime<Utc>) -> Option<(NaiveDateTime, NaiveDateTime)> {
        // Instants are whole seconds, so "> t" equals "> t truncated".
        let t = whole(t);
        let (lowest, _) = offset_bounds(tz, t);
        // Any fire at or before t + lowest offset maps to an instant at or before t.
        let from = t.checked_add_signed(lowest)?;
        self.schedule
            .after(&from.and_utc())
            .map(|l| l.naive_utc())
            .filter_map(|l| instant_of(tz, l).map(|u| (l, u)))
            .find(|&(_, u)| u > t)
    }

    /// The last wall-clock fire whose instant is at or before `t`, with that instant.
    fn last_fire_at_or_before(
        &self,
        tz: Tz,
        t: DateTime<Utc>,
    ) -> Option<(NaiveDateTime, NaiveDateTime)> {
        let t = whole(t);
        let (_, highest) = offset_bounds(tz, t);
        // Any fire after t + highest offset maps to an instant after t.
        let until = t.checked_add_signed(highest + TimeDelta::seconds(1))?;
        self.schedule
            .after(&until.and_utc())
            .rev()
            .map(|l| l.naive_utc())
            .filter_map(|l| instant_of(tz, l).map(|u| (l, u)))
            .find(|&(_, u)| u <= t)
    }

    /// Wall-clock fire times in `[from, to]`, by arithmetic.
    fn count_local(&self, from: NaiveDateTime, to: NaiveDateTime) -> u64 {
        let f = &self.fields;
        let (d1, d2) = (from.date(), to.date());
        if to < from {
            return 0;
        }
        if d1 == d2 {
            return if self.day_matches(d1) {
                f.fires_until(to) - f.fires_before(from)
            } else {
                0
            };
        }
        let first = if self.day_matches(d1) {
            f.per_day() - f.fires_before(from)
        } else {
            0
        };
        let last = if self.day_matches(d2) {
            f.fires_until(to)
        } else {
            0
        };
        let middle = match (d1.succ_opt(), d2.pred_opt()) {
            (Some(a), Some(b)) if a <= b => self.matching_days(a, b),
            _ => 0,
        };
        first + middle * f.per_day() + last
    }

    /// Days in `[from, to]` on which the expression fires.
    fn matching_days(&self, from: NaiveDate, to: NaiveDate) -> u64 {
        let total = (to - from).num_days() as u64 + 1;
        if self.fields.weekly {
            let weeks = total / 7;
            let per_week = self.fields.day_of_week[1..].iter().filter(|&&b| b).count() as u64;
            let rest = (weeks * 7..total)
                .filter_map(|i| from.checked_add_days(chrono::Days::new(i)))
                .filter(|d| self.day_matches(*d))
                .count() as u64;
            weeks * per_week + rest
        } else {
            // Visit only the listed days of each month: a monthly rotation costs one
            // check per month.
            let mut n = 0;
            let mut month = from.with_day(1);
            while let Some(first) = month.filter(|m| *m <= to) {
                n += (1..32)
                    .filter(|&d| self.fields.day_of_month[d as usize])
                    .filter_map(|d| first.with_day(d))
                    .filter(|d| from <= *d && *d <= to && self.day_matches(*d))
                    .count() as u64;
                month = first.checked_add_months(chrono::Months::new(1));
            }
            n
        }
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        let f = &self.fields;
        u32::try_from(d.year()).is_ok_and(|y| self.schedule.years().includes(y))
            && f.month[d.month() as usize]
            && f.day_of_month[d.day() as usize]
            && f.day_of_week[d.weekday().number_from_sunday() as usize]
    }
}

impl Fields {
    fn of(s: &Schedule) -> Fields {
        fn table<const N: usize>(spec: &impl TimeUnitSpec) -> [bool; N] {
            let mut t = [false; N];
            for i in spec.iter() {
                if let Some(slot) = t.get_mut(i as usize) {
                    *slot = true;
                }
            }
            t
        }
        Fields {
            second: table(s.seconds()),
            minute: table(s.minutes()),
            hour: table(s.hours()),
            day_of_month: table(s.days_of_month()),
            month: table(s.months()),
            day_of_week: table(s.days_of_week()),
            weekly: s.days_of_month().is_all() && s.months().is_all() && s.years().is_all(),
        }
    }

    fn per_day(&self) -> u64 {
        count(&self.hour) * count(&self.minute) * count(&self.second)
    }

    /// Fire times of one day at or before `t`'s time of day.
    fn fires_until(&self, t: NaiveDateTime) -> u64 {
        let (h, m, s) = (t.hour() as usize, t.minute() as usize, t.second() as usize);
        let (per_hour, per_minute) = (
            count(&self.minute) * count(&self.second),
            count(&self.second),
        );
        let mut n = count(&self.hour[..h]) * per_hour;
        if self.hour[h] {
            n += count(&self.minute[..m]) * per_minute;
            if self.minute[m] {
                n += count(&self.second[..=s.min(59)]);
            }
        }
        n
    }

    /// Fire times of one day strictly before `t`'s time of day.
    fn fires_before(&self, t: NaiveDateTime) -> u64 {
        let exact = self.hour[t.hour() as usize]
            && self.minute[t.minute() as usize]
            && self.second[(t.second() as usize).min(59)];
        self.fires_until(t) - u64::from(exact)
    }
}

fn count(table: &[bool]) -> u64 {
    table.iter().filter(|&&b| b).count() as u64
}

/// Translates a standard cron day-of-week field (0/7 = Sunday) into day names.
fn standard_day_of_week(field: &str) -> Result<String, String> {
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let day = |s: &str| -> Result<usize, String> {
        NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .or_else(|| s.parse::<usize>().ok().filter(|&n| n <= 7))
            .ok_or_else(|| format!("{s:?} is not a day (0-7 or sun-sat)"))
    };
    let mut days = [false; 8];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step = s
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("bad step {s:?}"))?;
                (r, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = match range.split_once('-') {
            _ if range == "*" => (0, 6),
            Some((a, b)) => (day(a)?, day(b)?),
            None if step.is_some() => (day(range)?, 6),
            None => (day(range)?, day(range)?),
        };
        if lo > hi {
            return Err(format!("range {range:?} runs backwards"));
        }
        for d in (lo..=hi).step_by(step.unwrap_or(1)) {
            days[d] = true;
        }
    }
    let names: Vec<&str> = (0..7)
        .filter(|&d| days[d] || (d == 0 && days[7]))
        .map(|d| NAMES[d])
        .collect();
    Ok(names.join(","))
}

/// `t` without its sub-second part, as a naive UTC time.
fn whole(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(0).naive_utc()
}

fn offset_at(tz: Tz, utc: NaiveDateTime) -> TimeDelta {
    TimeDelta::seconds(i64::from(
        tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
    ))
}

/// The lowest and highest UTC offset within two days of `t`.
fn offset_bounds(tz: Tz, t: NaiveDateTime) -> (TimeDelta, TimeDelta) {
    let around = [-2, 0, 2].map(|d| {
        let at = t.checked_add_signed(TimeDelta::days(d)).unwrap_or(t);
        offset_at(tz, at)
    });
    let lowest = around.iter().min().copied().unwrap_or_default();
    let highest = around.iter().max().copied().unwrap_or_default();
    (lowest, highest)
}

/// The UTC instant of a wall-clock fire time, under the module's DST rule.
fn instant_of(tz: Tz, local: NaiveDateTime) -> Option<NaiveDateTime> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(d) => Some(d.naive_utc()),
        LocalResult::Ambiguous(first, _) => Some(first.naive_utc()),
        LocalResult::None => GapInfo::new(&local, &tz)
            .and_then(|gap| gap.end)
            .map(|end| end.naive_utc()),
    }
}

/// Wall-clock spans `[gap start, gap end]` of spring-forward transitions in `(a, b]`.
fn gaps_between(tz: Tz, a: NaiveDateTime, b: NaiveDateTime) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let mut gaps = Vec::new();
    let mut from = a;
    let mut before = offset_at(tz, from);
    while from < b {
        let to = from
            .checked_add_signed(TimeDelta::weeks(1))
            .map_or(b, |t| t.min(b));
        let after = offset_at(tz, to);
        if after > before {
            let at = transition(tz, from, to, before);
            gaps.push((at + before, at + after));
        }
        (from, before) = (to, after);
    }
    gaps
}

/// The first whole second in `(from, to]` whose offset differs from `before`.
fn transition(tz: Tz, from: NaiveDateTime, to: NaiveDateTime, before: TimeDelta) -> NaiveDateTime {
    let (mut lo, mut hi) = (from, to);
    while (hi - lo).num_seconds() > 1 {
        let mid = lo + TimeDelta::seconds((hi - lo).num_seconds() / 2);
        if offset_at(tz, mid) == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
#[path = "handoff_tests.rs"]
mod tests;
