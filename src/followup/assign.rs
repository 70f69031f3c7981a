//! Step 3, who can fix it: hand the incident to another person, recorded on
//! the timeline. Before anyone acknowledged, the new assignee is paged and
//! escalation goes on from them; after, they are told (chat, else email,
//! else SMS; never voice) and so is the client's channel. Inside the
//! caller's transaction.

use serde_json::json;

use super::reminders;
use crate::config::ChannelType;
use crate::escalation::paging::{self, Ctx};
use crate::incident::apply::ActError;
use crate::incident::{Actor, Incident, Repo, State};
use crate::notify::message;

/// Makes `person` (a roster id) the assignee; false when they already were.
/// A resolved incident cannot be reassigned.
pub fn assign(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    person: &str,
    by: &Actor,
) -> Result<(Incident, bool), ActError> {
    let before = repo.get(id)?;
    if before.state == State::Resolved {
        return Err(ActError::Illegal(before.state));
    }
    if before.assignee.as_deref() == Some(person) {
        return Ok((before, false));
    }
    repo.set_assignee(id, person)?;
    repo.append(
        id,
        ctx.now,
        by,
        "assigned",
        json!({"from": before.assignee, "to": person}),
    )?;
    let inc = repo.get(id)?;
    if inc.critical && inc.state == State::Triggered {
        // Nobody took it yet: the new assignee is paged (the page says all
        // the notice would) and the policy goes on from them.
        paging::hand_over(repo, ctx, &inc, person)?;
        return Ok((repo.get(id)?, true));
    }
    let who = match by {
        Actor::Person(p) => super::channel::person_name(ctx.roster, p).to_string(),
        other => other.to_string(),
    };
    let url = paging::ack_url(ctx, id, person, crate::notify::Action::Ack);
    let text = format!(
        "tocsin: {who} handed you {}. Details and acknowledge: {url}",
        message::headline(&inc)
    );
    let channels = [ChannelType::Chat, ChannelType::Email, ChannelType::Sms];
    reminders::tell_assignee(
        repo,
        ctx,
        &inc,
        "notice queued",
        "assigned",
        &text,
        &channels,
        false,
    )?;
    // The client was told who is investigating; tell them who is now. Before
    // an acknowledge they were told nothing, and the acknowledge names the
    // assignee then.
    if inc.critical && inc.state == State::Acknowledged {
        super::channel::post_online(repo, ctx, &inc, super::channel::About::Assigned)?;
    }
    Ok((inc, true))
}
