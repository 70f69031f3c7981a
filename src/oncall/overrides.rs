//! On-call overrides made without editing YAML: what a valid one is, who may
//! create or delete it, and the notices to the person who takes the shift
//! and to whoever hands it over (the same path as shift notices: chat, else
//! email, else SMS). Runs inside the caller's transaction, so the override,
//! its notices and the schedule's next shift notice commit together. Never
//! reads the clock (`ctx.now`) and knows nothing of HTTP.

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{Person, Roster, Schedule};
use crate::escalation::paging::Ctx;
use crate::escalation::shifts;
use crate::escalation::targets::rotation;
use crate::followup::channel::person_name;
use crate::incident::{OverrideFilter, Repo};
use crate::routing::{NewOverride, Shift, StoredOverride};
use crate::store::{StoreError, StoreResult};

/// The longest override, from its start to its end.
pub const MAX_LENGTH: TimeDelta = TimeDelta::days(90);
/// The longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// An override as asked for: times as people type them (`crate::when`),
/// read in the schedule's zone when they carry no offset.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub person: String,
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
}

/// Why an override was not created or deleted.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// Bad input, naming the field; nothing was stored.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{0}")]
    Forbidden(String),
    /// An unknown schedule or override (what, e.g. `override 7`).
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for OverrideError {
    fn from(e: StoreError) -> Self {
        OverrideError::Store(e)
    }
}

impl OverrideError {
    fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        OverrideError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// For a write job: a store failure fails the job (rolled back, 503);
    /// a refusal is the job's answer.
    pub fn in_job<T>(r: Result<T, OverrideError>) -> StoreResult<Result<T, OverrideError>> {
        match r {
            Err(OverrideError::Store(e)) => Err(e),
            other => Ok(other),
        }
    }
}

/// Stores an override of `schedule` asked for by `caller`, tells the person
/// who takes the shift and whoever had it, and re-arms the schedule's shift
/// notice.
pub fn create(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    caller: &str,
    schedule: &str,
    req: &Request,
) -> Result<StoredOverride, OverrideError> {
    let s = ctx
        .roster
        .schedules
        .get(schedule)
        .ok_or_else(|| OverrideError::NotFound(format!("schedule {schedule:?}")))?;
    let new = validate(ctx.roster, s, caller, req, ctx.now)?;
    let live = repo.overrides(&OverrideFilter::live_after(new.from))?;
    let before = rotation(ctx.roster, s, &live).shifts(new.from, new.to);
    if !may_create(
        ctx.roster,
        s,
        caller,
        &new.person,
        &before,
        (new.from, new.to),
    ) {
        return Err(OverrideError::Forbidden(format!(
            "{caller} may take a shift or hand over their own, not put {} on call (the team lead or an admin may)",
            new.person
        )));
    }
    let id = repo.insert_override(&new)?;
    let created = repo.override_by_id(id)?;
    tell(repo, ctx, s, &created, &before, Change::Created)?;
    shifts::rearm(repo, ctx.roster, &s.id, ctx.now)?;
    Ok(created)
}

/// Deletes override `id` (kept for the audit) as `caller`; the first answer
/// (whether it changed anything) and the override as it is now.
pub fn delete(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    caller: &str,
    id: i64,
) -> Result<(bool, StoredOverride), OverrideError> {
    let o = repo.override_by_id(id).map_err(|e| match e {
        StoreError::NotFound => OverrideError::NotFound(format!("override {id}")),
        other => OverrideError::Store(other),
    })?;
    let schedule = ctx.roster.schedules.get(&o.schedule);
    let allowed = caller == o.created_by
        || caller == o.person
        || ctx.roster.is_admin(caller)
        || schedule.is_some_and(|s| leads(ctx.roster, s).contains(&caller));
    if !allowed {
        return Err(OverrideError::Forbidden(format!(
            "{caller} may not delete override {id} (its author, its person, the team lead or an admin may)"
        )));
    }
    if o.deleted_at.is_some() {
        return Ok((false, o));
    }
    repo.delete_override(id, caller, ctx.now)?;
    let deleted = repo.override_by_id(id)?;
    if let Some(s) = schedule
        && deleted.to > ctx.now
    {
        let from = deleted.from.max(ctx.now);
        let live = repo.overrides(&OverrideFilter::live_after(from))?;
        let after = rotation(ctx.roster, s, &live).shifts(from, deleted.to);
        tell(repo, ctx, s, &deleted, &after, Change::Deleted)?;
        shifts::rearm(repo, ctx.roster, &s.id, ctx.now)?;
    }
    Ok((true, deleted))
}

/// The request read against the schedule: every field checked, nothing stored.
fn validate(
    roster: &Roster,
    s: &Schedule,
    caller: &str,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<NewOverride, OverrideError> {
    let person = req.person.trim();
    if person.is_empty() {
        return Err(OverrideError::invalid("person", "required: a person id"));
    }
    if !roster.people.contains_key(person) {
        return Err(OverrideError::invalid(
            "person",
            format!("unknown person {person:?}"),
        ));
    }
    if !eligible(roster, s).contains(&person) {
        return Err(OverrideError::invalid(
            "person",
            format!("{person} is not in schedule {} or its team", s.id),
        ));
    }
    let time = |field: &'static str, text: &str| {
        if text.trim().is_empty() {
            return Err(OverrideError::invalid(field, "required: a time"));
        }
        crate::when::parse(text, s.timezone).map_err(|e| OverrideError::invalid(field, e))
    };
    let (from, to) = (time("from", &req.from)?, time("to", &req.to)?);
    if to <= from {
        return Err(OverrideError::invalid("to", "must be after from"));
    }
    if to <= now {
        return Err(OverrideError::invalid("to", "is in the past"));
    }
    if to - from > MAX_LENGTH {
        return Err(OverrideError::invalid(
            "to",
            format!("an override lasts at most {} days", MAX_LENGTH.num_days()),
        ));
    }
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(OverrideError::invalid(
            "reason",
            format!("longer than {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(NewOverride {
        schedule: s.id.clone(),
        person: person.to_string(),
        from,
        to,
        reason: reason.map(str::to_string),
        created_by: caller.to_string(),
        created_at: now,
    })
}

/// The teams a schedule belongs to: its own, else those of the projects
/// that use it.
fn teams<'r>(roster: &'r Roster, s: &Schedule) -> Vec<&'r crate::config::Team> {
    match s.team.as_deref().and_then(|t| roster.teams.get(t)) {
        Some(team) => vec![team],
        None => roster
            .projects
            .values()
            .filter(|p| p.schedule.as_deref() == Some(&s.id))
            .filter_map(|p| roster.teams.get(&p.team))
            .collect(),
    }
}

fn leads<'r>(roster: &'r Roster, s: &Schedule) -> Vec<&'r str> {
    teams(roster, s).iter().map(|t| t.lead.as_str()).collect()
}

/// Who may be put on call in `s`: its members and its teams' people
/// (may repeat).
pub fn eligible<'r>(roster: &'r Roster, s: &'r Schedule) -> Vec<&'r str> {
    let mut out: Vec<&str> = s.members.iter().map(String::as_str).collect();
    for t in teams(roster, s) {
        out.extend(t.members.iter().map(String::as_str));
        out.push(&t.lead);
    }
    out
}

/// Anyone for themselves (taking a shift), the person on call for the
/// whole range (handing it over: "cover me"), the team lead or an admin.
fn may_create(
    roster: &Roster,
    s: &Schedule,
    caller: &str,
    person: &str,
    before: &[Shift],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> bool {
    let holds_it = before.first().is_some_and(|f| f.start == from)
        && before.last().is_some_and(|l| l.end == to)
        && before.windows(2).all(|w| w[0].end == w[1].start)
        && before.iter().all(|sh| sh.person == caller);
    caller == person || holds_it || roster.is_admin(caller) || leads(roster, s).contains(&caller)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Deleted,
}

/// One person whose shift an override takes (or gives back): their part
/// of the range still ahead.
#[derive(Debug, Clone)]
struct Handed<'a> {
    person: &'a str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// The people of `others` besides the override's person, each once, from
/// `now` on.
fn handed<'a>(others: &'a [Shift], o: &StoredOverride, now: DateTime<Utc>) -> Vec<Handed<'a>> {
    let mut out: Vec<Handed<'a>> = Vec::new();
    for sh in others
        .iter()
        .filter(|sh| sh.person != o.person && sh.end > now)
    {
        match out.iter_mut().find(|h| h.person == sh.person) {
            Some(h) => h.to = sh.end,
            None => out.push(Handed {
                person: &sh.person,
                from: sh.start.max(now),
                to: sh.end,
            }),
        }
    }
    out
}

/// Tells the override's person and each other person of `others` (who
/// had the range before a create, who has it back after a delete).
fn tell(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    s: &Schedule,
    o: &StoredOverride,
    others: &[Shift],
    change: Change,
) -> StoreResult<()> {
    let handed = handed(others, o, ctx.now);
    let words = Words {
        roster: ctx.roster,
        schedule: s,
        o,
    };
    if let Some(p) = ctx.roster.people.get(&o.person) {
        let body = words.to_taker(p, &handed, change);
        shifts::notice(repo, p, shifts::subject(s), body, ctx.now)?;
    }
    for h in &handed {
        if let Some(p) = ctx.roster.people.get(h.person) {
            let body = words.to_handed(p, h, change);
            shifts::notice(repo, p, shifts::subject(s), body, ctx.now)?;
        }
    }
    Ok(())
}

/// The notices' words: short, in the reader's own time zone.
struct Words<'a> {
    roster: &'a Roster,
    schedule: &'a Schedule,
    o: &'a StoredOverride,
}

impl Words<'_> {
    fn name(&self, id: &str) -> String {
        person_name(self.roster, id).to_string()
    }

    fn span(&self, p: &Person, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let (from, to) = (shifts::local(p, from), shifts::local(p, to));
        format!("in {} from {from} until {to}", self.schedule.name)
    }

    /// ` Set by alice.` when none of the people told did it.
    fn set_by(&self, told: &[&str]) -> String {
        let by = self.o.created_by.as_str();
        if by == self.o.person || told.contains(&by) {
            String::new()
        } else {
            format!(" Set by {}.", self.name(by))
        }
    }

    /// To the person the override puts on call.
    fn to_taker(&self, p: &Person, handed: &[Handed<'_>], change: Change) -> String {
        let span = self.span(p, self.o.from, self.o.to);
        let names: Vec<String> = handed.iter().map(|h| self.name(h.person)).collect();
        let told: Vec<&str> = handed.iter().map(|h| h.person).collect();
        match change {
            Change::Created if names.is_empty() => {
                format!("tocsin: you are on call {span}.{}", self.set_by(&told))
            }
            Change::Created => format!(
                "tocsin: you are on call {span}, covering {}.{}",
                names.join(" and "),
                self.set_by(&told)
            ),
            Change::Deleted => {
                let by = match self.o.deleted_by.as_deref() {
                    Some(by) if by != self.o.person => self.name(by),
                    _ => "you".into(),
                };
                let back = match names.as_slice() {
                    [] => String::new(),
                    [one] => format!("; {one} is on call again"),
                    many => format!("; {} are on call again", many.join(" and ")),
                };
                format!("tocsin: {by} cancelled your on-call override {span}{back}.")
            }
        }
    }

    /// To a person whose shift the override takes, or gives back.
    fn to_handed(&self, p: &Person, h: &Handed<'_>, change: Change) -> String {
        let span = self.span(p, h.from, h.to);
        let taker = self.name(&self.o.person);
        match change {
            Change::Created => format!(
                "tocsin: {taker} covers your on-call shift {span}.{}",
                self.set_by(&[h.person])
            ),
            Change::Deleted => {
                format!("tocsin: {taker} no longer covers for you: you are on call again {span}.")
            }
        }
    }
}

#[cfg(test)]
#[path = "overrides_tests.rs"]
mod tests;
