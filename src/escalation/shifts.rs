//! Shift notices: each person hears by chat (else email, else SMS) that their
//! on-call shift starts, and `limits.shift_notice_before` ahead of it. One
//! durable timer per schedule walks from notice to notice, re-arming itself.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::paging::Ctx;
use super::targets::rotation;
use crate::config::{ChannelType, Person, Roster, Schedule};
use crate::incident::{OutboxRow, OverrideFilter, Repo, Timer};
use crate::routing::StoredOverride;
use crate::store::StoreResult;

pub const TIMER: &str = "shift_notice";

/// The next notice of `schedule` after `after`: (due, person, shift start,
/// shift end, stage), with the live stored overrides.
fn next_notice(
    roster: &Roster,
    stored: &[StoredOverride],
    schedule: &str,
    after: DateTime<Utc>,
) -> Option<Timer> {
    let s = roster.schedules.get(schedule)?;
    let rot = rotation(roster, s, stored);
    let before = roster.limits.shift_notice_before.to_chrono();
    // Walk forward through shift changes until one has a notice still ahead.
    let mut t = after;
    for _ in 0..8 {
        let current = rot.on_call(t);
        let start = match &current {
            Some(sh) if sh.end < DateTime::<Utc>::MAX_UTC => sh.end,
            Some(_) => return None,
            None => rot.next_handoff(t).unwrap_or(s.start.max(t)),
        };
        let next = rot.on_call(start)?;
        for (due, stage) in [(start - before, "before"), (start, "start")] {
            if due > after {
                return Some(Timer {
                    kind: TIMER.into(),
                    key: schedule.to_string(),
                    due,
                    data: json!({"person": next.person, "start": start, "end": next.end, "stage": stage}),
                });
            }
        }
        t = start;
    }
    None
}

/// The subject of every notice about being on call in `s`.
pub fn subject(s: &Schedule) -> String {
    format!("tocsin: on call in {}", s.name)
}

/// Every schedule gets its next notice (start-up and reload), computed
/// from the rotation now configured: a reload that changed who is on call
/// or when moves a notice already armed. A notice already due (missed while
/// the daemon was down) is left to fire.
pub fn ensure(repo: &mut dyn Repo, roster: &Roster, now: DateTime<Utc>) -> StoreResult<()> {
    let stored = repo.overrides(&OverrideFilter::live_after(now))?;
    for id in roster.schedules.keys() {
        if repo.timer(TIMER, id)?.is_some_and(|t| t.due <= now) {
            continue;
        }
        match next_notice(roster, &stored, id, now) {
            Some(t) => repo.set_timer(&t)?,
            None => repo.delete_timer(TIMER, id)?,
        }
    }
    Ok(())
}

/// The schedule changed (an override was stored or deleted): its next
/// notice is computed again from `now`.
pub fn rearm(
    repo: &mut dyn Repo,
    roster: &Roster,
    schedule: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let stored = repo.overrides(&OverrideFilter::live_after(now))?;
    match next_notice(roster, &stored, schedule, now) {
        Some(t) => repo.set_timer(&t),
        None => repo.delete_timer(TIMER, schedule),
    }
}

/// Tells `person` about their on-call duty the way shift notices do: by
/// chat, else email, else SMS; nobody when they have none of these.
pub fn notice(
    repo: &mut dyn Repo,
    person: &Person,
    subject: String,
    body: String,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let Some(channel) = [ChannelType::Chat, ChannelType::Email, ChannelType::Sms]
        .into_iter()
        .find(|c| person.channels.contains(c))
    else {
        return Ok(());
    };
    let row = OutboxRow::to_person("notice", person, channel, subject, body, now);
    repo.insert_outbox(&row).map(|_| ())
}

/// An instant as `person` reads it in a notice: `Mon 30 Nov 09:00 CET`.
pub fn local(person: &Person, t: DateTime<Utc>) -> String {
    crate::when::local(t, person.timezone)
}

/// A notice fell due: tell the person, then arm the next one.
pub fn fire(repo: &mut dyn Repo, ctx: &Ctx<'_>, t: &Timer) -> StoreResult<()> {
    let Some(s) = ctx.roster.schedules.get(&t.key) else {
        return Ok(());
    };
    let person = t.data["person"].as_str().unwrap_or_default();
    let stage = t.data["stage"].as_str().unwrap_or("start");
    let end = t.data["end"].as_str().unwrap_or_default();
    if let Some(p) = ctx.roster.people.get(person) {
        let at = |v: &serde_json::Value| {
            v.as_str()
                .and_then(|x| DateTime::parse_from_rfc3339(x).ok())
                .map(|x| local(p, x.with_timezone(&Utc)))
                .unwrap_or_else(|| "an unknown time".into())
        };
        let until = if end.starts_with("+262143") {
            "further notice".to_string()
        } else {
            at(&t.data["end"])
        };
        let body = match stage {
            "before" => format!(
                "tocsin: your on-call shift in {} starts at {} and lasts until {until}.",
                s.name,
                at(&t.data["start"])
            ),
            _ => format!(
                "tocsin: your on-call shift in {} starts now and lasts until {until}.",
                s.name
            ),
        };
        notice(repo, p, subject(s), body, ctx.now)?;
    }
    let stored = repo.overrides(&OverrideFilter::live_after(t.due))?;
    if let Some(next) = next_notice(ctx.roster, &stored, &t.key, t.due) {
        repo.set_timer(&next)?;
    }
    Ok(())
}
