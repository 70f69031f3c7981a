//! First-response deadlines as durable timers (keyed by incident number):
//! the diagnosis reminder (step 2), the provider-ticket reminder (step 3),
//! the status-update reminder (step 4) and the serious-by-policy threshold
//! (step 5). Arming, cancelling and firing run in the caller's transaction;
//! a reminder is an outbox row (kind `notice`) to the current assignee.
//! Never pages: reminders skip voice and are not cancelled by acknowledge.

use serde_json::json;

use super::channel;
use crate::config::{ChannelType, Person};
use crate::escalation::paging::{Ctx, channel_name, notice_row};
use crate::incident::{Actor, Diagnosis, Incident, Layer, Repo, State, Timer};
use crate::notify::message;
use crate::store::{StoreError, StoreResult};

pub const DIAGNOSIS_TIMER: &str = "diagnosis_reminder";
pub const THIRD_PARTY_TIMER: &str = "third_party_reminder";
pub const UPDATE_TIMER: &str = "update_reminder";
pub const SERIOUS_TIMER: &str = "serious_after";

/// Every timer kind this module owns.
pub const KINDS: [&str; 4] = [
    DIAGNOSIS_TIMER,
    THIRD_PARTY_TIMER,
    UPDATE_TIMER,
    SERIOUS_TIMER,
];

fn arm(
    repo: &mut dyn Repo,
    kind: &str,
    id: i64,
    due: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    repo.set_timer(&Timer {
        kind: kind.into(),
        key: id.to_string(),
        due,
        data: json!({}),
    })
}

fn open(inc: &Incident) -> bool {
    matches!(inc.state, State::Triggered | State::Acknowledged)
}

/// Both halves of the initial diagnosis are recorded.
pub fn diagnosed(inc: &Incident) -> bool {
    inc.layer.is_some() && inc.reproducible.is_some()
}

fn needs_ticket(inc: &Incident) -> bool {
    inc.layer == Some(Layer::ThirdParty) && inc.provider_ticket.is_none()
}

/// A critical incident opened (or reopened): it turns serious by policy
/// once open for `limits.serious_after`.
pub fn on_opened(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64, reopened: bool) -> StoreResult<()> {
    let inc = repo.get(id)?;
    if !inc.critical || inc.serious {
        return Ok(());
    }
    let after = ctx.roster.limits.serious_after.to_chrono();
    let since = if reopened { ctx.now } else { inc.created_at };
    arm(repo, SERIOUS_TIMER, id, since + after)
}

/// Acknowledged: the diagnosis reminder starts, and the client's update
/// clock with it unless the client heard nothing new (`client_heard`).
fn on_acknowledged(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    client_heard: bool,
) -> StoreResult<()> {
    let inc = repo.get(id)?;
    if !diagnosed(&inc) {
        let due = ctx.now + ctx.roster.limits.diagnosis_reminder.to_chrono();
        arm(repo, DIAGNOSIS_TIMER, id, due)?;
    }
    if !client_heard {
        return Ok(());
    }
    restart_update_clock(repo, ctx, &inc)
}

/// The client heard from us now: the update reminder counts from here.
/// None for an incident the client may never hear about (a heartbeat's).
pub fn restart_update_clock(repo: &mut dyn Repo, ctx: &Ctx<'_>, inc: &Incident) -> StoreResult<()> {
    if !open(inc) || channel::withheld(inc, channel::About::Update, None).is_some() {
        return Ok(());
    }
    let every = ctx
        .roster
        .projects
        .get(&inc.project)
        .map(|p| p.update_every)
        .unwrap_or(crate::duration::Span::from_secs(1800));
    arm(repo, UPDATE_TIMER, inc.id, ctx.now + every.to_chrono())
}

/// Resolved or downgraded: no more reminders.
pub fn on_ended(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64, why: &str) -> StoreResult<()> {
    let key = id.to_string();
    for kind in KINDS {
        repo.delete_timer(kind, &key)?;
    }
    repo.append(
        id,
        ctx.now,
        &Actor::System,
        "reminders stopped",
        json!({"because": why}),
    )
}

/// After a `PATCH`: cancels what the diagnosis settled, starts the provider
/// ticket reminder when the layer became `third_party`.
pub fn after_diagnosis(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    before: &Incident,
    d: &Diagnosis,
) -> StoreResult<()> {
    let inc = repo.get(before.id)?;
    let key = inc.id.to_string();
    if diagnosed(&inc) {
        repo.delete_timer(DIAGNOSIS_TIMER, &key)?;
    }
    if inc.serious {
        repo.delete_timer(SERIOUS_TIMER, &key)?;
    }
    if !needs_ticket(&inc) {
        repo.delete_timer(THIRD_PARTY_TIMER, &key)?;
    } else if d.layer == Some(Layer::ThirdParty)
        && before.layer != Some(Layer::ThirdParty)
        && open(&inc)
    {
        repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            "provider ticket needed",
            json!({"note": "open a ticket with the provider's support and look for workarounds on our side; record it as provider_ticket"}),
        )?;
        let due = ctx.now + ctx.roster.limits.third_party_reminder.to_chrono();
        arm(repo, THIRD_PARTY_TIMER, inc.id, due)?;
    }
    Ok(())
}

/// A first-response timer is due.
pub fn fire(repo: &mut dyn Repo, ctx: &Ctx<'_>, t: &Timer) -> StoreResult<()> {
    let Ok(id) = t.key.parse::<i64>() else {
        return Ok(());
    };
    let inc = match repo.get(id) {
        Ok(i) => i,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    if !open(&inc) {
        return Ok(());
    }
    let limits = &ctx.roster.limits;
    match t.kind.as_str() {
        DIAGNOSIS_TIMER if !diagnosed(&inc) => {
            let text = diagnosis_text(&inc);
            remind(
                repo,
                ctx,
                &inc,
                "diagnosis",
                &text,
                &[ChannelType::Chat, ChannelType::Email],
                false,
            )?;
            arm(
                repo,
                DIAGNOSIS_TIMER,
                id,
                ctx.now + limits.diagnosis_reminder.to_chrono(),
            )
        }
        THIRD_PARTY_TIMER if needs_ticket(&inc) => {
            let text = format!(
                "tocsin: {} is on a third-party provider. Open a ticket with their support and record it: tocsin incidents diagnose {} --ticket REF",
                message::headline(&inc),
                inc.id
            );
            remind(
                repo,
                ctx,
                &inc,
                "provider ticket",
                &text,
                &[ChannelType::Chat, ChannelType::Email],
                false,
            )?;
            arm(
                repo,
                THIRD_PARTY_TIMER,
                id,
                ctx.now + limits.third_party_reminder.to_chrono(),
            )
        }
        UPDATE_TIMER => {
            let text = format!(
                "tocsin: the client has heard nothing about {} lately. Post a status update: tocsin incidents update {} \"...\"",
                message::headline(&inc),
                inc.id
            );
            remind(
                repo,
                ctx,
                &inc,
                "status update",
                &text,
                &[ChannelType::Chat, ChannelType::Sms],
                true,
            )?;
            restart_update_clock(repo, ctx, &inc)
        }
        SERIOUS_TIMER if inc.critical && !inc.serious => {
            let reason = format!("open longer than {}", limits.serious_after);
            let d = Diagnosis {
                serious: Some(true),
                serious_reason: Some(reason.clone()),
                ..Diagnosis::default()
            };
            repo.set_diagnosis(id, &d)?;
            repo.append(
                id,
                ctx.now,
                &Actor::System,
                "marked serious",
                json!({"reason": reason, "by": "policy"}),
            )
        }
        _ => Ok(()),
    }
}

fn diagnosis_text(inc: &Incident) -> String {
    let mut missing = Vec::new();
    if inc.layer.is_none() {
        missing.push("the layer (application, infrastructure, third_party, content, unknown)");
    }
    if inc.reproducible.is_none() {
        missing.push("whether it is reproducible");
    }
    format!(
        "tocsin: record the initial diagnosis of {}: {}. tocsin incidents diagnose {} --layer LAYER --reproducible yes|no",
        message::headline(inc),
        missing.join(" and "),
        inc.id
    )
}

fn contact(person: &Person, channel: ChannelType) -> Option<String> {
    match channel {
        ChannelType::Chat => person.chat.clone(),
        ChannelType::Email => person.email.clone(),
        ChannelType::Sms => person.phone.clone(),
        ChannelType::Push => person.ntfy_topic.clone(),
        ChannelType::Voice => None,
    }
}

fn remind(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    inc: &Incident,
    about: &str,
    text: &str,
    channels: &[ChannelType],
    all: bool,
) -> StoreResult<()> {
    tell_assignee(
        repo,
        ctx,
        inc,
        "reminder queued",
        about,
        text,
        channels,
        all,
    )
}

/// Queues a notice to the assignee, recorded as `event`: on each of
/// `channels` the person has (`all`), or on the first of them; when none of
/// them reaches the person, email, else SMS. Never voice.
#[allow(clippy::too_many_arguments)]
pub fn tell_assignee(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    inc: &Incident,
    event: &str,
    about: &str,
    text: &str,
    channels: &[ChannelType],
    all: bool,
) -> StoreResult<()> {
    let Some(person) = inc.assignee.as_ref().and_then(|a| ctx.roster.people.get(a)) else {
        return repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            "notice skipped",
            json!({"about": about, "reason": "the incident has no assignee"}),
        );
    };
    let mut picked: Vec<(ChannelType, String)> = channels
        .iter()
        .filter_map(|c| contact(person, *c).map(|t| (*c, t)))
        .collect();
    if !all {
        picked.truncate(1);
    }
    if picked.is_empty()
        && let Some(last) = [ChannelType::Email, ChannelType::Sms]
            .into_iter()
            .find_map(|c| contact(person, c).map(|t| (c, t)))
    {
        picked.push(last);
    }
    if picked.is_empty() {
        return repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            "notice skipped",
            json!({"about": about, "person": person.id, "reason": "no chat, SMS or email to reach them"}),
        );
    }
    for (channel, target) in picked {
        // In chat the sender puts the person's handle first.
        let body = text.to_string();
        let row = notice_row(
            inc,
            ctx,
            Some(person.id.clone()),
            None,
            channel_name(channel),
            target,
            message::headline(inc),
            body,
        );
        let oid = repo.insert_outbox(&row)?;
        repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            event,
            json!({"about": about, "person": person.id, "channel": row.channel, "outbox": oid}),
        )?;
    }
    Ok(())
}

/// Step 1 and the reminders' start, for an acknowledged incident.
pub fn acknowledged(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64) -> StoreResult<()> {
    let inc = repo.get(id)?;
    let told_before = repo.told_online(id)?;
    let queued = if inc.critical {
        channel::post_online(repo, ctx, &inc, channel::About::Acknowledged)?
    } else {
        None
    };
    // Told before and nothing posted now: a repeat, withheld. The client's
    // update reminder keeps counting from what it last heard.
    let repeat = told_before.is_some() && queued.is_none();
    on_acknowledged(repo, ctx, id, !repeat)
}
