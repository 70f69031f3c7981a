//! Postmortems and action items inside the incident's transaction: created
//! on the resolution of a serious incident (or by hand), edited, taken
//! through review, published to the client channel; action items added
//! and closed. Every change lands on the incident's timeline and schedules
//! its reminders as durable timers in the same transaction. No HTTP, no SQL.

use chrono_tz::Tz;
use serde_json::json;

use super::actions::{self, ActionItem, NewAction, Priority};
use super::business_days;
use super::channel;
use super::postmortem::{self, NewPostmortem, PmState, Postmortem, Refusal, Sections, Verb};
use super::remind;
use crate::config::{Project, Roster, Team};
use crate::escalation::paging::Ctx;
use crate::incident::{Actor, Repo, Timer};
use crate::limits;
use crate::notify::message;
use crate::store::{StoreError, StoreResult};

/// Why a postmortem or action-item call failed; `http` maps it to a status.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(transparent)]
    Store(StoreError),
}

impl FlowError {
    /// For a write job: a store failure fails the job, so its savepoint is
    /// rolled back and nothing it wrote before the failure is kept; a
    /// refusal is the job's answer.
    pub fn in_job<T>(r: Result<T, FlowError>) -> StoreResult<Result<T, FlowError>> {
        match r {
            Err(FlowError::Store(e)) => Err(e),
            other => Ok(other),
        }
    }
}

impl From<StoreError> for FlowError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => FlowError::Conflict(m),
            other => FlowError::Store(other),
        }
    }
}

impl From<Refusal> for FlowError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Forbidden(m) => FlowError::Forbidden(m),
            Refusal::Conflict(m) => FlowError::Conflict(m),
        }
    }
}

/// A store error, with `NotFound` naming what was looked up.
fn found<T>(r: StoreResult<T>, what: impl FnOnce() -> String) -> Result<T, FlowError> {
    r.map_err(|e| match e {
        StoreError::NotFound => FlowError::NotFound(what()),
        other => other.into(),
    })
}

/// The team's zone, or the roster's for a team no longer configured.
pub fn team_tz(roster: &Roster, team: &str) -> Tz {
    roster
        .teams
        .get(team)
        .map_or(roster.timezone, |t| t.timezone)
}

fn timer(kind: &str, key: i64, due: chrono::DateTime<chrono::Utc>) -> Timer {
    Timer {
        kind: kind.into(),
        key: key.to_string(),
        due,
        data: json!({}),
    }
}

/// A serious incident was resolved: its postmortem is created, unless it
/// has one. A failure to create one is recorded, never fatal to the resolve.
pub fn on_resolved(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64) -> StoreResult<()> {
    let inc = repo.get(id)?;
    if !inc.serious || repo.postmortem_of(id)?.is_some() {
        return Ok(());
    }
    match create(repo, ctx, id, &Actor::System) {
        Ok(_) => Ok(()),
        Err(FlowError::Store(e)) => Err(e),
        Err(other) => repo.append(
            id,
            ctx.now,
            &Actor::System,
            "postmortem not created",
            json!({"reason": other.to_string()}),
        ),
    }
}

/// The project of `project` and its team, when both are configured.
fn project_and_team<'r>(roster: &'r Roster, project: &str) -> Option<(&'r Project, &'r Team)> {
    let p = roster.projects.get(project)?;
    Some((p, roster.teams.get(&p.team)?))
}

/// Creates the draft of incident `id`: author, approver, due date, the
/// pre-filled facts, the invitation (next business morning) and the
/// overdue reminder.
pub fn create(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    by: &Actor,
) -> Result<Postmortem, FlowError> {
    let inc = found(repo.get(id), || format!("incident {id}"))?;
    if let Some(existing) = repo.postmortem_of(id)? {
        return Err(FlowError::Conflict(format!(
            "incident {id} already has postmortem {}",
            existing.id
        )));
    }
    let (project, team) = project_and_team(ctx.roster, &inc.project).ok_or_else(|| {
        FlowError::Conflict(format!(
            "project {:?} of incident {id} is not configured: no team to write and approve a postmortem",
            inc.project
        ))
    })?;
    let tz = team.timezone;
    let due_at = business_days::due_end_of_next_business_day(&ctx.roster.calendar, tz, ctx.now);
    let author = inc
        .assignee
        .clone()
        .filter(|a| ctx.roster.people.contains_key(a))
        .unwrap_or_else(|| team.lead.clone());
    let events = repo.timeline(id)?;
    let new = NewPostmortem {
        incident: id,
        team: team.id.clone(),
        author: author.clone(),
        approver: team.lead.clone(),
        title: message::one_line(&inc.title),
        sections: Sections {
            what_happened: postmortem::what_happened(&inc, &events, ctx.roster, tz),
            how_fixed: postmortem::how_fixed(&events, ctx.roster, tz),
            client_summary: postmortem::client_summary(&inc, &project.name, tz),
            ..Sections::default()
        },
        due_at,
    };
    let pid = repo.insert_postmortem(&new, ctx.now)?;
    repo.append(
        id,
        ctx.now,
        by,
        "postmortem created",
        json!({"postmortem": pid, "author": author, "approver": team.lead, "due_at": due_at}),
    )?;
    let invite = business_days::next_business_morning(&ctx.roster.calendar, tz, ctx.now);
    repo.set_timer(&timer(remind::INVITE, pid, invite))?;
    repo.set_timer(&timer(remind::OVERDUE, pid, due_at))?;
    Ok(repo.postmortem(pid)?)
}

/// `PUT`: the fields given replace the stored ones.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub title: Option<String>,
    pub author: Option<String>,
    pub what_happened: Option<String>,
    pub how_fixed: Option<String>,
    pub cause: Option<String>,
    pub measures: Option<String>,
    pub client_summary: Option<String>,
    pub no_measures_needed: Option<bool>,
}

pub fn edit(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    e: &Edit,
    by: &str,
) -> Result<Postmortem, FlowError> {
    let mut pm = found(repo.postmortem(id), || format!("postmortem {id}"))?;
    postmortem::check_editable(&pm)?;
    if let Some(a) = &e.author {
        if !ctx.roster.people.contains_key(a) {
            return Err(FlowError::NotFound(format!("person {a:?}")));
        }
        pm.author = a.clone();
    }
    let s = &mut pm.sections;
    for (name, field, value, cap) in [
        ("title", &mut pm.title, &e.title, limits::TITLE),
        (
            "what_happened",
            &mut s.what_happened,
            &e.what_happened,
            limits::SECTION,
        ),
        ("how_fixed", &mut s.how_fixed, &e.how_fixed, limits::SECTION),
        ("cause", &mut s.cause, &e.cause, limits::SECTION),
        ("measures", &mut s.measures, &e.measures, limits::SECTION),
        (
            "client_summary",
            &mut s.client_summary,
            &e.client_summary,
            limits::SECTION,
        ),
    ] {
        if let Some(v) = value {
            cap.check(v).map_err(|reason| FlowError::Invalid {
                field: name,
                reason,
            })?;
            *field = v.clone();
        }
    }
    if let Some(n) = e.no_measures_needed {
        pm.no_measures_needed = n;
    }
    pm.updated_at = ctx.now;
    repo.update_postmortem(&pm)?;
    repo.append(
        pm.incident,
        ctx.now,
        &Actor::Person(by.into()),
        "postmortem edited",
        json!({"postmortem": id}),
    )?;
    Ok(pm)
}

/// Submit, approve, publish or reopen; returns the postmortem and whether
/// its state changed.
pub fn step(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    verb: Verb,
    by: &str,
) -> Result<(Postmortem, bool), FlowError> {
    let mut pm = found(repo.postmortem(id), || format!("postmortem {id}"))?;
    let lead = ctx
        .roster
        .teams
        .get(&pm.team)
        .map_or(pm.approver.clone(), |t| t.lead.clone());
    let actions = repo.actions_of(id)?.len();
    let Some(next) = postmortem::transition(&pm, verb, by, &lead, actions)? else {
        return Ok((pm, false));
    };
    let now = ctx.now;
    match next {
        PmState::Submitted => pm.submitted_at = Some(now),
        PmState::Approved => {
            pm.approved_at = Some(now);
            pm.approved_by = Some(by.to_string());
        }
        PmState::Published => pm.published_at = Some(now),
        PmState::Draft => {
            pm.approved_at = None;
            pm.approved_by = None;
        }
    }
    pm.state = next;
    pm.updated_at = now;
    repo.update_postmortem(&pm)?;
    let kind = match verb {
        Verb::Submit => "postmortem submitted",
        Verb::Approve => "postmortem approved",
        Verb::Publish => "postmortem published",
        Verb::Reopen => "postmortem reopened",
    };
    let actor = Actor::Person(by.to_string());
    repo.append(pm.incident, now, &actor, kind, json!({"postmortem": id}))?;
    match next {
        PmState::Submitted => remind::submitted(repo, ctx, &pm, &lead)?,
        PmState::Approved => {
            for kind in [remind::INVITE, remind::OVERDUE, remind::OVERDUE_LEAD] {
                repo.delete_timer(kind, &id.to_string())?;
            }
        }
        PmState::Published => publish(repo, ctx, &pm)?,
        PmState::Draft => {}
    }
    Ok((pm, true))
}

/// Posts the approved client summary, and nothing else of the postmortem,
/// to the client's public channel (outbox).
fn publish(repo: &mut dyn Repo, ctx: &Ctx<'_>, pm: &Postmortem) -> StoreResult<()> {
    let inc = repo.get(pm.incident)?;
    if !ctx.roster.clients.contains_key(&inc.client) {
        return repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            "postmortem not posted",
            json!({"postmortem": pm.id, "reason": format!("client {:?} is not configured", inc.client)}),
        );
    }
    // The client summary alone, named by the client's own reference.
    let title = format!("{} of {}", postmortem::PUBLICATION_SUBJECT, inc.reference);
    let body = postmortem::publication(pm);
    channel::post_titled(repo, ctx, &inc, channel::About::Postmortem, title, body).map(|_| ())
}

/// `POST /api/v1/postmortems/{id}/actions`, unparsed.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    pub title: String,
    pub assignee: String,
    pub deadline: String,
    pub priority: Option<String>,
}

/// Adds an action item and schedules its reminders.
pub fn add_action(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    pm_id: i64,
    req: &ActionRequest,
    by: &str,
) -> Result<ActionItem, FlowError> {
    let pm = found(repo.postmortem(pm_id), || format!("postmortem {pm_id}"))?;
    let title = req.title.trim();
    if title.is_empty() {
        return Err(FlowError::Invalid {
            field: "title",
            reason: "must not be empty".into(),
        });
    }
    limits::TITLE
        .check(title)
        .map_err(|reason| FlowError::Invalid {
            field: "title",
            reason,
        })?;
    let priority = match &req.priority {
        Some(p) => p.parse::<Priority>().map_err(|reason| FlowError::Invalid {
            field: "priority",
            reason,
        })?,
        None => Priority::High,
    };
    let tz = team_tz(ctx.roster, &pm.team);
    let deadline = actions::parse_deadline(&req.deadline, tz, ctx.now).map_err(|reason| {
        FlowError::Invalid {
            field: "deadline",
            reason,
        }
    })?;
    if !ctx.roster.people.contains_key(&req.assignee) {
        return Err(FlowError::NotFound(format!("person {:?}", req.assignee)));
    }
    let new = NewAction {
        postmortem: pm_id,
        incident: pm.incident,
        team: pm.team.clone(),
        title: title.to_string(),
        assignee: req.assignee.clone(),
        deadline,
        priority,
        created_by: by.to_string(),
    };
    let aid = repo.insert_action(&new, ctx.now)?;
    repo.append(
        pm.incident,
        ctx.now,
        &Actor::Person(by.into()),
        "action item added",
        json!({"postmortem": pm_id, "action": aid, "assignee": new.assignee, "deadline": deadline}),
    )?;
    let r = actions::reminders(
        &ctx.roster.calendar,
        tz,
        ctx.roster.limits.action_reminder_before,
        deadline,
        ctx.now,
    );
    if let Some(before) = r.before {
        repo.set_timer(&timer(remind::ACTION_BEFORE, aid, before))?;
    }
    repo.set_timer(&timer(remind::ACTION_AT, aid, r.at))?;
    repo.set_timer(&timer(remind::ACTION_OVERDUE, aid, r.overdue))?;
    let item = repo.action(aid)?;
    if item.assignee != by {
        remind::assigned(repo, ctx, &item)?;
    }
    Ok(item)
}

/// Marks an item done (once); its pending reminders are dropped.
pub fn done(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    by: &str,
) -> Result<(ActionItem, bool), FlowError> {
    let mut item = found(repo.action(id), || format!("action {id}"))?;
    if item.done_at.is_some() {
        return Ok((item, false));
    }
    item.done_at = Some(ctx.now);
    item.done_by = Some(by.to_string());
    repo.update_action(&item)?;
    for kind in [
        remind::ACTION_BEFORE,
        remind::ACTION_AT,
        remind::ACTION_OVERDUE,
    ] {
        repo.delete_timer(kind, &id.to_string())?;
    }
    repo.append(
        item.incident,
        ctx.now,
        &Actor::Person(by.into()),
        "action item done",
        json!({"postmortem": item.postmortem, "action": id}),
    )?;
    Ok((item, true))
}

#[cfg(test)]
mod in_job_tests {
    use super::*;

    #[test]
    fn in_a_job_a_store_failure_fails_the_job_and_a_refusal_is_its_answer() {
        let failed = FlowError::in_job::<()>(Err(FlowError::Store(StoreError::Unavailable(
            "disk".into(),
        ))));
        assert!(matches!(failed, Err(StoreError::Unavailable(_))));
        let refused = FlowError::in_job::<()>(Err(FlowError::Conflict("approved".into())));
        assert!(matches!(refused, Ok(Err(FlowError::Conflict(_)))));
    }
}
