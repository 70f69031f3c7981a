//! Maintenance windows: which alerts a window covers, what an incident
//! opened inside one looks like (`suppressed`, paging nobody), and what
//! happens when a window ends (each suppressed incident no window covers
//! any more pages as a new alert would, or resolves when its alerts all
//! resolved meanwhile). Windows come from the YAML (`maintenance:`,
//! recurring) and from the store (one-off, `POST /api/v1/maintenance`).
//! Works through [`Repo`]; never reads the clock.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::apply::{self, ActError, Outcome};
use super::model::{Actor, Incident, State};
use super::repo::{Repo, Timer};
use super::transition::Action;
use crate::config::{ClientReports, Maintenance, Roster, Scope};
use crate::ingest::matcher::Matcher;
use crate::store::StoreResult;

pub mod request;

/// The timer at a window's end.
pub const TIMER: &str = "maintenance";

/// A window's name: a stored one's number, or a YAML window's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowId {
    Stored(i64),
    Config(String),
}

impl WindowId {
    /// As shown on timelines and in the API: a number, or the YAML id.
    pub fn to_json(&self) -> Value {
        match self {
            WindowId::Stored(n) => json!(n),
            WindowId::Config(id) => json!(id),
        }
    }

    fn timer_key(&self) -> String {
        match self {
            WindowId::Stored(n) => n.to_string(),
            WindowId::Config(id) => format!("config:{id}"),
        }
    }

    fn from_timer_key(key: &str) -> Option<WindowId> {
        match key.strip_prefix("config:") {
            Some(id) => Some(WindowId::Config(id.to_string())),
            None => key.parse().ok().map(WindowId::Stored),
        }
    }
}

impl fmt::Display for WindowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowId::Stored(n) => write!(f, "{n}"),
            WindowId::Config(id) => f.write_str(id),
        }
    }
}

/// One window, or one occurrence of a recurring window: `[from, to)`.
#[derive(Debug, Clone)]
pub struct Window {
    pub id: WindowId,
    pub scope: Scope,
    pub matchers: Vec<Matcher>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub reason: String,
    pub client_reports: ClientReports,
    /// Who created a stored window; `None` for a YAML one.
    pub created_by: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// Who ended a stored window early, and when.
    pub ended_by: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    /// A YAML window's cron expression.
    pub cron: Option<String>,
}

/// A one-off window to store; valid by [`check`].
#[derive(Debug, Clone)]
pub struct NewWindow {
    pub scope: Scope,
    pub matchers: Vec<Matcher>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub reason: String,
    pub client_reports: ClientReports,
    pub created_by: String,
}

/// What a window is asked about: an alert about to open an incident, a
/// client's report, a missed heartbeat, or a suppressed incident.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub project: &'a str,
    pub client: &'a str,
    pub integration: Option<&'a str>,
    pub labels: &'a BTreeMap<String, String>,
    pub client_report: bool,
}

impl<'a> Subject<'a> {
    pub fn of(inc: &'a Incident) -> Self {
        Subject {
            project: &inc.project,
            client: &inc.client,
            integration: inc.integration.as_deref(),
            labels: &inc.labels,
            client_report: inc.client_reported,
        }
    }
}

/// Whether `w` holds `s`: in scope, every matcher matches, and a client's
/// report only when the window says `client_reports: hold`.
pub fn covers(w: &Window, s: &Subject<'_>) -> bool {
    let in_scope = match &w.scope {
        Scope::Project(p) => p == s.project,
        Scope::Client(c) => c == s.client,
        Scope::Integration(i) => s.integration == Some(i.as_str()),
    };
    in_scope
        && w.matchers.iter().all(|m| m.matches(s.labels))
        && (!s.client_report || w.client_reports == ClientReports::Hold)
}

/// The occurrence of a recurring window in progress at `now`, if any.
pub fn occurrence(m: &Maintenance, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = m.cron.last_at_or_before(m.timezone, now)?;
    let end = start + m.duration.to_chrono();
    (now < end).then_some((start, end))
}

/// The end of the occurrence in progress at `now`, else of the next one.
pub fn next_end(m: &Maintenance, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    occurrence(m, now).map(|(_, end)| end).or_else(|| {
        m.cron
            .next_after(m.timezone, now)
            .map(|s| s + m.duration.to_chrono())
    })
}

/// A YAML window as a [`Window`] over `[from, to)`.
pub fn configured(m: &Maintenance, from: DateTime<Utc>, to: DateTime<Utc>) -> Window {
    Window {
        id: WindowId::Config(m.id.clone()),
        scope: m.scope.clone(),
        matchers: m.matchers.clone(),
        from,
        to,
        reason: m.reason.clone(),
        client_reports: m.client_reports,
        created_by: None,
        created_at: None,
        ended_by: None,
        ended_at: None,
        cron: Some(m.cron.source().to_string()),
    }
}

/// Every window in force at `now`: stored ones and YAML occurrences.
pub fn active(
    repo: &mut dyn Repo,
    roster: &Roster,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Window>> {
    let mut all = repo.active_windows(now)?;
    for m in roster.maintenance.values() {
        if let Some((from, to)) = occurrence(m, now) {
            all.push(configured(m, from, to));
        }
    }
    Ok(all)
}

/// The window holding `s` at `now` (the one that lasts longest), if any.
pub fn covering(
    repo: &mut dyn Repo,
    roster: &Roster,
    s: &Subject<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Option<Window>> {
    Ok(active(repo, roster, now)?
        .into_iter()
        .filter(|w| covers(w, s))
        .max_by_key(|w| w.to))
}

/// Records on a suppressed incident's timeline which window holds it.
pub fn record(
    repo: &mut dyn Repo,
    id: i64,
    w: &Window,
    actor: &Actor,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    repo.append(
        id,
        now,
        actor,
        "suppressed",
        json!({"window": w.id.to_json(), "reason": w.reason, "until": w.to}),
    )
}

/// Why a new window is refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

/// Checks a one-off window against the roster and `limits.maintenance_max`.
pub fn check(roster: &Roster, w: &NewWindow, now: DateTime<Utc>) -> Result<(), Invalid> {
    let (field, known) = match &w.scope {
        Scope::Project(p) => ("project", roster.projects.contains_key(p)),
        Scope::Client(c) => ("client", roster.clients.contains_key(c)),
        Scope::Integration(i) => ("integration", roster.integrations.contains_key(i)),
    };
    if !known {
        return Err(invalid(field, "not in the configuration"));
    }
    if w.to <= w.from {
        return Err(invalid("to", "must be after from"));
    }
    if w.to <= now {
        return Err(invalid("to", "is in the past"));
    }
    let max = roster.limits.maintenance_max;
    if w.to - w.from > max.to_chrono() {
        return Err(invalid(
            "to",
            format!("the window is longer than limits.maintenance_max ({max})"),
        ));
    }
    Ok(())
}

/// The teams a scope touches: the project's, the client's projects', or
/// those of the projects an integration routes to.
pub fn teams(roster: &Roster, scope: &Scope) -> Vec<String> {
    let projects: Vec<&str> = match scope {
        Scope::Project(p) => vec![p.as_str()],
        Scope::Client(c) => roster
            .projects
            .values()
            .filter(|p| &p.client == c)
            .map(|p| p.id.as_str())
            .collect(),
        Scope::Integration(i) => roster
            .integrations
            .get(i)
            .map(|g| {
                std::iter::once(g.project.as_str())
                    .chain(g.routes.iter().filter_map(|r| r.project.as_deref()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut teams: Vec<String> = projects
        .iter()
        .filter_map(|p| roster.projects.get(*p))
        .map(|p| p.team.clone())
        .collect();
    teams.sort();
    teams.dedup();
    teams
}

/// Admins, and the lead of every team the scope touches, may start or end
/// a window over it.
pub fn may_manage(roster: &Roster, person: &str, scope: &Scope) -> bool {
    if roster.is_admin(person) {
        return true;
    }
    let teams = teams(roster, scope);
    !teams.is_empty()
        && teams
            .iter()
            .all(|t| roster.teams.get(t).is_some_and(|t| t.lead == person))
}

/// Stores a one-off window and its end timer; returns its number.
pub fn create(repo: &mut dyn Repo, w: &NewWindow, now: DateTime<Utc>) -> StoreResult<i64> {
    let id = repo.insert_window(w, now)?;
    repo.set_timer(&end_timer(&WindowId::Stored(id), w.to))?;
    Ok(id)
}

fn end_timer(id: &WindowId, due: DateTime<Utc>) -> Timer {
    Timer {
        kind: TIMER.into(),
        key: id.timer_key(),
        due,
        data: json!({}),
    }
}

/// Ends a stored window now (`DELETE`): what it held is released at once.
/// A window already over is left as it is. `None` when no such window.
pub fn end(
    repo: &mut dyn Repo,
    roster: &Roster,
    id: i64,
    by: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<(Window, Outcome)>> {
    let Some(w) = repo.window(id)? else {
        return Ok(None);
    };
    if w.ended_at.is_some() || w.to <= now {
        return Ok(Some((w, Outcome::default())));
    }
    repo.end_window(id, by, now)?;
    repo.delete_timer(TIMER, &w.id.timer_key())?;
    let out = release(repo, roster, &w.id, now)?;
    Ok(repo.window(id)?.map(|w| (w, out)))
}

/// A window's end timer fired: release what it held; a YAML window's next
/// occurrence gets its own timer.
pub fn fire(
    repo: &mut dyn Repo,
    roster: &Roster,
    t: &Timer,
    now: DateTime<Utc>,
) -> StoreResult<Outcome> {
    let Some(id) = WindowId::from_timer_key(&t.key) else {
        return Ok(Outcome::default());
    };
    let out = release(repo, roster, &id, now)?;
    if let WindowId::Config(name) = &id
        && let Some(next) = roster.maintenance.get(name).and_then(|m| next_end(m, now))
    {
        repo.set_timer(&end_timer(&id, next))?;
    }
    Ok(out)
}

/// Every YAML window has a timer at the end of its current or next
/// occurrence (start-up and reload); an overdue one is left to fire.
pub fn ensure_timers(repo: &mut dyn Repo, roster: &Roster, now: DateTime<Utc>) -> StoreResult<()> {
    for m in roster.maintenance.values() {
        let id = WindowId::Config(m.id.clone());
        let overdue = repo
            .timer(TIMER, &id.timer_key())?
            .is_some_and(|t| t.due <= now);
        if let (false, Some(end)) = (overdue, next_end(m, now)) {
            repo.set_timer(&end_timer(&id, end))?;
        }
    }
    Ok(())
}

/// Each suppressed incident that no window in force covers any more:
/// back to triggered (the caller pages it as reopened) when its alerts
/// still fire or it is a client's report, else resolved.
pub fn release(
    repo: &mut dyn Repo,
    roster: &Roster,
    ended: &WindowId,
    now: DateTime<Utc>,
) -> StoreResult<Outcome> {
    let windows = active(repo, roster, now)?;
    let mut out = Outcome::default();
    for inc in repo.suppressed()? {
        if windows.iter().any(|w| covers(w, &Subject::of(&inc))) {
            continue;
        }
        let fires = inc.client_reported || repo.any_firing(inc.id)?;
        let (action, detail) = if fires {
            (Action::EndMaintenance, json!({"window": ended.to_json()}))
        } else {
            let why = "its alerts resolved during maintenance";
            (
                Action::Resolve,
                json!({"window": ended.to_json(), "reason": why}),
            )
        };
        let how = "maintenance over";
        match apply::act(repo, inc.id, action, &Actor::System, how, now, detail) {
            Ok(_) if fires => out.reopened.push(inc.id),
            Ok(_) => out.resolved.push(inc.id),
            Err(ActError::Store(e)) => return Err(e),
            Err(_) => {}
        }
    }
    Ok(out)
}

/// Whether an incident opened now for `s` starts suppressed, and by which
/// window; `critical: false` routes stay downgraded records.
pub fn opening_state(
    repo: &mut dyn Repo,
    roster: &Roster,
    s: &Subject<'_>,
    critical: bool,
    now: DateTime<Utc>,
) -> StoreResult<(State, Option<Window>)> {
    if !critical {
        return Ok((State::Downgraded, None));
    }
    Ok(match covering(repo, roster, s, now)? {
        Some(w) => (State::Suppressed, Some(w)),
        None => (State::Triggered, None),
    })
}

#[cfg(test)]
mod tests;
