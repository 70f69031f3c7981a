//! Reminders and digests as durable timers: the postmortem invitation and
//! overdue reminders (author, then lead), action-item reminders (before,
//! on the day, then the lead when overdue) and the per-team digest that
//! re-arms itself for the next cron instant. A timer is taken and acted on
//! in one transaction (see `engine`), so each fires once, and restarts
//! keep them. Notifications are outbox rows. No HTTP, no SQL.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::actions::ActionItem;
use super::postmortem::{self, PmState, Postmortem};
use super::{business_days, digest, lifecycle};
use crate::config::{ChannelType, Person, Roster};
use crate::escalation::paging::Ctx;
use crate::incident::{Actor, OutboxRow, Repo, Timer};
use crate::store::{StoreError, StoreResult};

/// The author is invited to write (next business morning after creation).
pub const INVITE: &str = "postmortem_invite";
/// The postmortem's due time passed: the author is reminded.
pub const OVERDUE: &str = "postmortem_overdue";
/// Still not approved the next business morning: the lead is reminded.
pub const OVERDUE_LEAD: &str = "postmortem_overdue_lead";
/// An action item's deadline is near (`limits.action_reminder_before`).
pub const ACTION_BEFORE: &str = "action_reminder";
/// The deadline day of an action item.
pub const ACTION_AT: &str = "action_due";
/// The deadline passed: the team lead hears of it.
pub const ACTION_OVERDUE: &str = "action_overdue";
/// A team's periodic digest of open items; key = team id.
pub const DIGEST: &str = "action_digest";

/// Whether `kind` is one of the timers fired here.
pub fn handles(kind: &str) -> bool {
    [
        INVITE,
        OVERDUE,
        OVERDUE_LEAD,
        ACTION_BEFORE,
        ACTION_AT,
        ACTION_OVERDUE,
        DIGEST,
    ]
    .contains(&kind)
}

/// A notification row to a person (not a page: never cancelled).
fn person_row(
    ctx: &Ctx<'_>,
    incident: Option<i64>,
    person: &Person,
    channel: ChannelType,
    subject: String,
    body: String,
) -> OutboxRow {
    OutboxRow {
        incident,
        ..OutboxRow::to_person("notice", person, channel, subject, body, ctx.now)
    }
}

/// Tells `person` on their first channel that is not a phone call, and
/// records it on the incident's timeline.
fn notify(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    incident: i64,
    person: &str,
    about: &str,
    subject: String,
    body: String,
) -> StoreResult<()> {
    let Some(p) = ctx.roster.people.get(person) else {
        return Ok(());
    };
    let Some(&channel) = p.channels.iter().find(|c| **c != ChannelType::Voice) else {
        return repo.append(
            incident,
            ctx.now,
            &Actor::System,
            "cannot notify",
            json!({"person": person, "about": about, "reason": "no channel other than voice"}),
        );
    };
    let row = person_row(ctx, Some(incident), p, channel, subject, body);
    let oid = repo.insert_outbox(&row)?;
    repo.append(
        incident,
        ctx.now,
        &Actor::System,
        "notice queued",
        json!({"person": person, "channel": row.channel, "outbox": oid, "about": about}),
    )
}

fn when(roster: &Roster, team: &str, at: DateTime<Utc>) -> String {
    let tz = lifecycle::team_tz(roster, team);
    at.with_timezone(&tz)
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The postmortem's page in the web UI (a browser cannot read the API's
/// JSON without a token).
fn pm_url(ctx: &Ctx<'_>, id: i64) -> String {
    let base = ctx.roster.server.public_url.as_str().trim_end_matches('/');
    format!("{base}/postmortems/{id}")
}

/// The lead hears that a postmortem awaits approval.
pub fn submitted(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    pm: &Postmortem,
    lead: &str,
) -> StoreResult<()> {
    let subject = format!("[tocsin] postmortem {} awaits your approval", pm.id);
    let body = format!(
        "Postmortem {} of incident {} ({}) was submitted for review: {}\n(tocsin postmortems show {})\n\n{}",
        pm.id,
        pm.incident,
        pm.title,
        pm_url(ctx, pm.id),
        pm.id,
        postmortem::on_publish(pm)
    );
    notify(
        repo,
        ctx,
        pm.incident,
        lead,
        "postmortem submitted",
        subject,
        body,
    )
}

/// The assignee hears of a new action item.
pub fn assigned(repo: &mut dyn Repo, ctx: &Ctx<'_>, item: &ActionItem) -> StoreResult<()> {
    let subject = format!("[tocsin] action item {} is yours", item.id);
    let body = format!(
        "Action item {} from postmortem {} (incident {}): {}. Priority {}, due {}.",
        item.id,
        item.postmortem,
        item.incident,
        item.title,
        item.priority.as_str(),
        when(ctx.roster, &item.team, item.deadline)
    );
    notify(
        repo,
        ctx,
        item.incident,
        &item.assignee,
        "action item assigned",
        subject,
        body,
    )
}

/// Acts on one of the timers of [`handles`].
pub fn fire(repo: &mut dyn Repo, ctx: &Ctx<'_>, t: &Timer) -> StoreResult<()> {
    if t.kind == DIGEST {
        return fire_digest(repo, ctx, t);
    }
    let Ok(id) = t.key.parse::<i64>() else {
        return Ok(());
    };
    let gone = |r: StoreResult<()>| match r {
        Err(StoreError::NotFound) => Ok(()),
        other => other,
    };
    match t.kind.as_str() {
        INVITE | OVERDUE | OVERDUE_LEAD => gone(postmortem_timer(repo, ctx, &t.kind, id)),
        _ => gone(action_timer(repo, ctx, &t.kind, id)),
    }
}

fn postmortem_timer(repo: &mut dyn Repo, ctx: &Ctx<'_>, kind: &str, id: i64) -> StoreResult<()> {
    let pm = repo.postmortem(id)?;
    let due = when(ctx.roster, &pm.team, pm.due_at);
    let url = pm_url(ctx, id);
    match (kind, pm.state) {
        (INVITE, PmState::Draft) => notify(
            repo,
            ctx,
            pm.incident,
            &pm.author,
            "postmortem invitation",
            format!("[tocsin] please write postmortem {id} (due {due})"),
            format!(
                "You are the author of postmortem {id} for incident {} ({}), due {due}. \
                 The facts are pre-filled under \"What happened?\"; answer the other three \
                 questions, fill the [...] gaps of the client summary (the only part the \
                 client reads) and add action items, then submit it to {} for approval.\n{url}\n\
                 (tocsin postmortems edit {id})",
                pm.incident, pm.title, pm.approver
            ),
        ),
        (OVERDUE, PmState::Draft | PmState::Submitted) => {
            // A draft is the author's to finish; a submitted one waits for
            // the lead alone, who hears of it next (as of a late draft).
            if pm.state == PmState::Draft {
                notify(
                    repo,
                    ctx,
                    pm.incident,
                    &pm.author,
                    "postmortem overdue",
                    format!("[tocsin] postmortem {id} is overdue (was due {due})"),
                    format!(
                        "Postmortem {id} for incident {} ({}) was due {due} and is still a draft.\n{url}",
                        pm.incident, pm.title
                    ),
                )?;
            }
            // Late (the daemon was down): the lead's reminder follows at once.
            let lead_at = business_days::next_business_morning(
                &ctx.roster.calendar,
                team_tz(ctx, &pm),
                pm.due_at,
            )
            .max(ctx.now);
            repo.set_timer(&Timer {
                kind: OVERDUE_LEAD.into(),
                key: id.to_string(),
                due: lead_at,
                data: json!({}),
            })
        }
        (OVERDUE_LEAD, PmState::Draft | PmState::Submitted) => {
            let lead = lead_of(ctx, &pm);
            notify(
                repo,
                ctx,
                pm.incident,
                &lead,
                "postmortem overdue",
                format!("[tocsin] postmortem {id} is overdue and not approved"),
                format!(
                    "Postmortem {id} for incident {} ({}), author {}, was due {due}; it is {}.\n{url}",
                    pm.incident, pm.title, pm.author, pm.state
                ),
            )
        }
        _ => Ok(()),
    }
}

fn team_tz(ctx: &Ctx<'_>, pm: &Postmortem) -> chrono_tz::Tz {
    lifecycle::team_tz(ctx.roster, &pm.team)
}

fn lead_of(ctx: &Ctx<'_>, pm: &Postmortem) -> String {
    ctx.roster
        .teams
        .get(&pm.team)
        .map_or(pm.approver.clone(), |t| t.lead.clone())
}

fn action_timer(repo: &mut dyn Repo, ctx: &Ctx<'_>, kind: &str, id: i64) -> StoreResult<()> {
    let item = repo.action(id)?;
    if item.done_at.is_some() {
        return Ok(());
    }
    let due = when(ctx.roster, &item.team, item.deadline);
    let line = format!(
        "Action item {id} (postmortem {}, incident {}): {}. Priority {}, due {due}.",
        item.postmortem,
        item.incident,
        item.title,
        item.priority.as_str()
    );
    let page = pm_url(ctx, item.postmortem);
    let done = format!("Done? tocsin actions done {id}, or on {page}");
    let (to, about, subject) = match kind {
        ACTION_BEFORE => (
            item.assignee.clone(),
            "action item due soon",
            format!("[tocsin] action item {id} is due {due}"),
        ),
        ACTION_AT => (
            item.assignee.clone(),
            "action item due",
            format!("[tocsin] action item {id} is due today ({due})"),
        ),
        ACTION_OVERDUE => {
            let lead = ctx
                .roster
                .teams
                .get(&item.team)
                .map(|t| t.lead.clone())
                .unwrap_or_else(|| item.assignee.clone());
            (
                lead,
                "action item overdue",
                format!("[tocsin] action item {id} of {} is overdue", item.assignee),
            )
        }
        _ => return Ok(()),
    };
    // The lead hears whose it is and what to do; the assignee, how to close it.
    let body = if kind == ACTION_OVERDUE {
        let name = super::channel::person_name(ctx.roster, &item.assignee);
        format!(
            "Overdue: action item {id} (postmortem {}, incident {}): {}, assigned to {name}, was due {due} and is still open.\nAsk {name} about it; {page}",
            item.postmortem, item.incident, item.title
        )
    } else {
        format!("{line}\n{done}")
    };
    notify(repo, ctx, item.incident, &to, about, subject, body)
}

/// Sends the digest of a team and re-arms it for the next cron instant.
fn fire_digest(repo: &mut dyn Repo, ctx: &Ctx<'_>, t: &Timer) -> StoreResult<()> {
    let Some(team) = ctx.roster.teams.get(&t.key) else {
        return Ok(()); // the team left the configuration: no more digests
    };
    let items = repo.open_actions_of_team(&team.id)?;
    for (person, mine) in digest::recipients(team, &items) {
        let Some(p) = ctx.roster.people.get(&person) else {
            continue;
        };
        let (subject, body) = digest::text(team, &person, &mine, ctx.now);
        for channel in digest_channels(p) {
            let row = person_row(ctx, None, p, channel, subject.clone(), body.clone());
            repo.insert_outbox(&row)?;
        }
    }
    arm_digest(repo, ctx.roster, &team.id, t.due.max(ctx.now))
}

/// Email and chat, those the person has; else their first non-call channel.
fn digest_channels(p: &Person) -> Vec<ChannelType> {
    let mut out = Vec::new();
    if p.email.is_some() {
        out.push(ChannelType::Email);
    }
    if p.chat.is_some() {
        out.push(ChannelType::Chat);
    }
    if out.is_empty()
        && let Some(&c) = p.channels.iter().find(|c| **c != ChannelType::Voice)
    {
        out.push(c);
    }
    out
}

fn arm_digest(
    repo: &mut dyn Repo,
    roster: &Roster,
    team: &str,
    after: DateTime<Utc>,
) -> StoreResult<()> {
    let Some(t) = roster.teams.get(team) else {
        return Ok(());
    };
    match digest::next_run(&t.digest, t.timezone, after) {
        Some(due) => repo.set_timer(&Timer {
            kind: DIGEST.into(),
            key: team.to_string(),
            due,
            data: json!({"cron": t.digest, "tz": t.timezone.name()}),
        }),
        None => repo.delete_timer(DIGEST, team),
    }
}

/// Every configured team has its next digest scheduled (start-up, reload);
/// a changed cron expression or zone moves it.
pub fn ensure_digests(repo: &mut dyn Repo, roster: &Roster, now: DateTime<Utc>) -> StoreResult<()> {
    for team in roster.teams.values() {
        let current = repo.timer(DIGEST, &team.id)?;
        let same = current.is_some_and(|c| {
            c.data["cron"] == team.digest.as_str() && c.data["tz"] == team.timezone.name()
        });
        if !same {
            arm_digest(repo, roster, &team.id, now)?;
        }
    }
    Ok(())
}
