//! Paging inside the incident's transaction: the routing decision, the
//! escalation state and its deadline, and the outbox rows are written with
//! the change that caused them. Acknowledge, resolve and downgrade cancel
//! what is pending in the same transaction, so no page is handed to a
//! provider after the incident stopped paging.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{fallback, policy, targets};
use crate::config::{ChannelType, Person, Roster};
use crate::followup::{channel, reminders};
use crate::incident::apply::{self, ActError, Outcome};
use crate::incident::transition::Action;
use crate::incident::{Actor, Incident, OutboxRow, OverrideFilter, Repo, State, Timer};
use crate::ingest::alert::Source;
use crate::notify::{ack_token, message, ntfy};
use crate::routing::PresenceMark;
use crate::store::{StoreError, StoreResult};

pub const ESCALATION_TIMER: &str = "escalation";
pub const ACK_TIMEOUT_TIMER: &str = "ack_timeout";

/// How long an acknowledge link stays valid.
const LINK_VALIDITY: chrono::Duration = chrono::Duration::hours(24);

/// What paging needs besides the transaction.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub roster: &'a Roster,
    /// Signs acknowledge links.
    pub secret: &'a [u8],
    pub now: DateTime<Utc>,
}

pub fn channel_name(c: ChannelType) -> &'static str {
    match c {
        ChannelType::Chat => "chat",
        ChannelType::Sms => "sms",
        ChannelType::Voice => "voice",
        ChannelType::Email => "email",
        ChannelType::Push => "push",
    }
}

pub fn ack_url(
    ctx: &Ctx<'_>,
    incident: i64,
    person: &str,
    action: crate::notify::Action,
) -> String {
    let claims = ack_token::Claims {
        incident: incident.max(0) as u64,
        person: person.to_string(),
        action,
        expires: ctx.now + LINK_VALIDITY,
    };
    ack_token::url(&ctx.roster.server.public_url, ctx.secret, &claims)
}

/// What routing reads from the store for the people of a project: their
/// presence marks, and the notify ladders set over the API (read only when
/// a step of `policy` has no `via`, the only steps that use them).
struct People {
    marks: BTreeMap<String, PresenceMark>,
    rules: BTreeMap<String, Vec<crate::config::NotifyRule>>,
}

fn people_of(
    repo: &mut dyn Repo,
    roster: &Roster,
    project: &str,
    policy: &crate::config::Policy,
) -> StoreResult<People> {
    let with_rules = policy.steps.iter().any(|s| s.via.is_empty());
    let mut people = People {
        marks: BTreeMap::new(),
        rules: BTreeMap::new(),
    };
    for id in in_scope(roster, project) {
        if let Some(m) = repo.presence(id)? {
            people.marks.insert(id.to_string(), m);
        }
        if with_rules && let Some(r) = repo.notify_rules(id)? {
            people.rules.insert(id.to_string(), r);
        }
    }
    Ok(people)
}

/// The people `targets::order` can consider for this project.
fn in_scope<'r>(roster: &'r Roster, project: &str) -> BTreeSet<&'r str> {
    // Only the people `targets::order` can consider for this project: one
    // read per person of the whole roster made every page cost O(roster).
    let mut people: BTreeSet<&str> = BTreeSet::new();
    if let Some(p) = roster.projects.get(project) {
        people.extend(p.responders.iter().map(String::as_str));
        if let Some(team) = roster.teams.get(&p.team) {
            people.extend(team.members.iter().map(String::as_str));
            people.insert(team.lead.as_str());
        }
        if let Some(s) = p.schedule.as_deref().and_then(|s| roster.schedules.get(s)) {
            people.extend(s.members.iter().map(String::as_str));
            people.extend(s.overrides.iter().map(|o| o.person.as_str()));
        }
    }
    people
}

/// Starts paging a triggered, critical incident: records the routing
/// decision, stores the escalation state and its deadline, queues step 1.
pub fn start(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64) -> StoreResult<()> {
    let inc = repo.get(id)?;
    if !inc.critical || inc.state != State::Triggered {
        return Ok(());
    }
    let Some(project) = ctx.roster.projects.get(&inc.project) else {
        return not_routed(repo, ctx, &inc);
    };
    let Some(pol) = ctx.roster.policies.get(&project.escalation_policy) else {
        return Ok(());
    };
    let people = people_of(repo, ctx.roster, &inc.project, pol)?;
    let presence = |p: &str| people.marks.get(p).copied();
    let notify = |p: &str| people.rules.get(p).cloned();
    let overrides = repo.overrides(&OverrideFilter::live_after(ctx.now))?;
    let rctx = targets::RouteContext {
        roster: ctx.roster,
        project: &inc.project,
        presence: &presence,
        client_reported: inc.client_reported,
        // Fresh routing: whoever is nearest now.
        assignee: None,
        notify: &notify,
        overrides: &overrides,
    };
    let decision = targets::decision(&rctx, ctx.now);
    repo.append(
        id,
        ctx.now,
        &Actor::System,
        "routed",
        json!({
            "order": decision.candidates,
            "picked": decision.picked,
            "first_page": decision.first_page,
            "policy": pol.id,
        }),
    )?;
    let (state, pages) = policy::start(pol, &rctx, ctx.now);
    save(repo, id, &state)?;
    for page in &pages {
        enqueue_page(repo, ctx, &inc, page)?;
    }
    Ok(())
}

fn save(repo: &mut dyn Repo, id: i64, state: &super::EscalationState) -> StoreResult<()> {
    repo.put_escalation(id, state)?;
    match state.next_at {
        Some(due) => repo.set_timer(&Timer {
            kind: ESCALATION_TIMER.into(),
            key: id.to_string(),
            due,
            data: json!({}),
        }),
        None => repo.delete_timer(ESCALATION_TIMER, &id.to_string()),
    }
}

/// A person's address on `channel` (empty when they have none).
pub fn target_of(person: &Person, channel: ChannelType) -> String {
    person.address(channel).unwrap_or_default().to_string()
}

/// The text of a page on `channel`.
pub fn page_body(
    ctx: &Ctx<'_>,
    inc: &Incident,
    person: &Person,
    channel: ChannelType,
) -> (String, String) {
    let url = ack_url(ctx, inc.id, &person.id, crate::notify::Action::Ack);
    let segments = ctx.roster.limits.sms_max_segments;
    match channel {
        ChannelType::Sms => (
            message::headline(inc),
            message::sms_page(inc, &url, segments),
        ),
        ChannelType::Voice => (
            message::headline(inc),
            message::voice(inc, ctx.roster.project_name(&inc.project)),
        ),
        ChannelType::Email => (message::email_subject(inc), message::email_text(inc, &url)),
        ChannelType::Chat => (message::headline(inc), message::chat_page(inc, &url)),
        ChannelType::Push => {
            let resolve = ack_url(ctx, inc.id, &person.id, crate::notify::Action::Resolve);
            (message::headline(inc), ntfy::page(inc, &url, &resolve))
        }
    }
}

/// Queues one page: a message on every channel it fires at once, and one
/// per later rung of the person's ladder, due when that rung comes (an
/// acknowledgement cancels those still pending).
pub fn enqueue_page(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    inc: &Incident,
    page: &policy::Page,
) -> StoreResult<()> {
    let Some(person) = ctx.roster.people.get(&page.person) else {
        return Ok(());
    };
    if page.channels.is_empty() && page.later.is_empty() {
        repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            "cannot page",
            json!({"person": person.id, "reason": "no channel the person can receive"}),
        )?;
        return Ok(());
    }
    let at_once = page.channels.iter().map(|c| (0, *c));
    let later = page
        .later
        .iter()
        .flat_map(|l| l.channels.iter().map(move |c| (l.after_secs, *c)));
    for (after, channel) in at_once.chain(later) {
        let (subject, body) = page_body(ctx, inc, person, channel);
        let mut row = OutboxRow {
            incident: Some(inc.id),
            ..OutboxRow::to_person("page", person, channel, subject, body, ctx.now)
        };
        // Checked: a rung beyond the representable range never comes.
        row.due_at = super::after(ctx.now, crate::duration::Span::from_secs(after))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        super::delivery::fold_on_queue(repo, ctx, &mut row)?;
        let outbox = repo.insert_outbox(&row)?;
        let mut detail = json!({
            "person": person.id,
            "channel": row.channel,
            "reason": page.reason,
            "outbox": outbox,
        });
        if after > 0 {
            detail["due_at"] = json!(row.due_at);
        }
        repo.append(inc.id, ctx.now, &Actor::System, "page queued", detail)?;
    }
    Ok(())
}

/// The escalation deadline passed: the next step, unless paging stopped.
pub fn on_deadline(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64) -> StoreResult<()> {
    let inc = match repo.get(id) {
        Ok(i) => i,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    if inc.state != State::Triggered {
        return Ok(());
    }
    advance(repo, ctx, &inc, None).map(drop)
}

/// Runs the next step; returns how many people it paged.
fn advance(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    inc: &Incident,
    by: Option<&str>,
) -> StoreResult<usize> {
    let Some(state) = repo.escalation(inc.id)? else {
        start(repo, ctx, inc.id)?;
        return Ok(usize::from(repo.escalation(inc.id)?.is_some()));
    };
    let Some(pol) = policy_of(ctx.roster, inc) else {
        // Its project left the configuration (a reload refuses that while
        // it is open, but one may open in the instant before the swap).
        not_routed(repo, ctx, inc)?;
        return Ok(0);
    };
    let people = people_of(repo, ctx.roster, &inc.project, pol)?;
    let presence = |p: &str| people.marks.get(p).copied();
    let notify = |p: &str| people.rules.get(p).cloned();
    let overrides = repo.overrides(&OverrideFilter::live_after(ctx.now))?;
    let rctx = targets::RouteContext {
        roster: ctx.roster,
        project: &inc.project,
        presence: &presence,
        client_reported: inc.client_reported,
        // Handed over: the policy goes on from the assignee.
        assignee: inc.assignee.as_deref(),
        notify: &notify,
        overrides: &overrides,
    };
    let (next, pages, outcome) = match by {
        Some(person) => policy::escalate_now(pol, &state, &rctx, ctx.now, person),
        None => policy::on_deadline(pol, &state, &rctx, ctx.now),
    };
    if by.is_some() && pages.is_empty() {
        // Nobody but the asker is left: the policy goes on as it was (its
        // next deadline may still page them), rather than ending here.
        return Ok(0);
    }
    save(repo, inc.id, &next)?;
    if outcome == policy::Outcome::Exhausted {
        // Said once: a deadline left over from an exhausted policy says
        // nothing more (a request by hand returned above).
        if state.next_at.is_none() {
            return Ok(0);
        }
        repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            "escalation exhausted",
            json!({"policy": pol.id, "rounds": pol.repeat + 1}),
        )?;
    } else {
        repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            "escalated",
            json!({"step": next.step + 1, "round": next.round, "by": by}),
        )?;
    }
    for page in &pages {
        enqueue_page(repo, ctx, inc, page)?;
    }
    Ok(pages.len())
}

/// Someone asked to bring in the next step now (SMS `esc`, keypress 2, API),
/// with an optional note kept on the timeline.
pub fn escalate_now(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    by: &str,
    how: &str,
    note: Option<&str>,
) -> Result<Incident, ActError> {
    let state = repo.state_of(id)?;
    if !matches!(state, State::Triggered | State::Acknowledged) {
        return Err(ActError::Illegal(state));
    }
    let actor = Actor::Person(by.to_string());
    repo.append(
        id,
        ctx.now,
        &actor,
        "escalation requested",
        json!({"how": how, "note": note}),
    )?;
    let inc = repo.get(id)?;
    // With nobody left to page the incident stays as it is, and the asker
    // is told so: "escalated" would leave them waiting for help.
    if advance(repo, ctx, &inc, Some(by))? == 0 {
        return Err(ActError::NobodyLeft);
    }
    // The asker has seen it: their own later rungs (a call two minutes
    // after the SMS) would page the one who just asked for someone else.
    let n = repo.cancel_pages_to(id, by)?;
    if n > 0 {
        repo.append(
            id,
            ctx.now,
            &Actor::System,
            "pages cancelled",
            json!({"count": n, "person": by, "because": "they asked to escalate"}),
        )?;
    }
    // Someone new must take an acknowledged incident: it is triggered again,
    // or their pages would be cancelled as no longer wanted.
    if inc.state == State::Acknowledged {
        apply::act(repo, id, Action::Escalate, &actor, how, ctx.now, json!({}))?;
        repo.delete_timer(ACK_TIMEOUT_TIMER, &id.to_string())?;
    }
    Ok(repo.get(id)?)
}

/// Stops paging: pending pages cancelled, deadlines removed.
fn stop(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64, why: &str) -> StoreResult<()> {
    let n = repo.cancel_pages(id)?;
    repo.delete_timer(ESCALATION_TIMER, &id.to_string())?;
    if n > 0 {
        repo.append(
            id,
            ctx.now,
            &Actor::System,
            "pages cancelled",
            json!({"count": n, "because": why}),
        )?;
    }
    Ok(())
}

/// Applies the paging consequences of an ingest or action outcome.
pub fn sync(repo: &mut dyn Repo, ctx: &Ctx<'_>, out: &Outcome, by: &str) -> StoreResult<()> {
    for &id in out.opened.iter().chain(&out.reopened) {
        start(repo, ctx, id)?;
    }
    for &id in &out.opened {
        reminders::on_opened(repo, ctx, id, false)?;
    }
    for &id in &out.reopened {
        reminders::on_opened(repo, ctx, id, true)?;
    }
    for &id in &out.acknowledged {
        stop(repo, ctx, id, "acknowledged")?;
        let inc = repo.get(id)?;
        let timeout = policy_of(ctx.roster, &inc).and_then(|p| p.ack_timeout);
        if let Some(t) = timeout {
            repo.set_timer(&Timer {
                kind: ACK_TIMEOUT_TIMER.into(),
                key: id.to_string(),
                due: ctx.now + t.to_chrono(),
                data: json!({}),
            })?;
        }
        reminders::acknowledged(repo, ctx, id)?;
        tell_taken(repo, ctx, id, by)?;
    }
    for &id in &out.resolved {
        stop(repo, ctx, id, "resolved")?;
        forget_if_by_hand(repo, id, by)?;
        repo.delete_timer(ACK_TIMEOUT_TIMER, &id.to_string())?;
        resolved_notices(repo, ctx, id, by)?;
        reminders::on_ended(repo, ctx, id, "resolved")?;
        crate::followup::lifecycle::on_resolved(repo, ctx, id)?;
    }
    for &id in &out.downgraded {
        stop(repo, ctx, id, "downgraded")?;
        repo.delete_timer(ACK_TIMEOUT_TIMER, &id.to_string())?;
        let inc = repo.get(id)?;
        channel::post_downgraded(repo, ctx, &inc)?;
        reminders::on_ended(repo, ctx, id, "downgraded")?;
    }
    Ok(())
}

/// Everyone a page of the incident reached, but whoever took it, hears who
/// did: once each, on the channel of the last page that reached them (an
/// SMS instead of a call).
fn tell_taken(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64, by: &str) -> StoreResult<()> {
    let inc = repo.get(id)?;
    let taker = inc.assignee.as_deref();
    // A person took it; else it was acknowledged where its alerts come
    // from (a PagerDuty acknowledge), and nobody here holds it.
    let words = match (taker, by.split_once(':')) {
        (Some(p), _) => message::taken_notice(&inc, channel::person_name(ctx.roster, p)),
        (None, Some(("integration", source))) => message::acknowledged_at_source(&inc, source),
        (None, _) => message::taken_notice(&inc, &actor_words(ctx.roster, by)),
    };
    let mut told = BTreeSet::new();
    let mut reached: Vec<(String, Option<ChannelType>)> = repo
        .pages_sent(id)?
        .into_iter()
        .rev()
        .filter_map(|p| Some((p.person?, p.channel.parse::<ChannelType>().ok())))
        .collect();
    // Whoever handed it on ("escalate" on their acknowledged incident) hears
    // who took it from them, even if no page of it ever reached them.
    if let Some(hander) = handed_on_by(repo, id)? {
        reached.push((hander, None));
    }
    for (pid, channel) in reached {
        if taker == Some(pid.as_str()) || !told.insert(pid.clone()) {
            continue;
        }
        let Some(person) = ctx.roster.people.get(&pid) else {
            continue;
        };
        let channel = match channel {
            Some(ChannelType::Voice) => ChannelType::Sms,
            Some(c) => c,
            // Their first channel that is not a call.
            None => match person.channels.iter().find(|c| **c != ChannelType::Voice) {
                Some(c) => *c,
                None => continue,
            },
        };
        if !fallback::can_receive(person, channel) {
            continue;
        }
        let row = notice_row(
            &inc,
            ctx,
            Some(pid.clone()),
            None,
            channel_name(channel),
            target_of(person, channel),
            message::headline(&inc),
            words.clone(),
        );
        let oid = repo.insert_outbox(&row)?;
        repo.append(
            id,
            ctx.now,
            &Actor::System,
            "notice queued",
            json!({"person": pid, "channel": row.channel, "outbox": oid, "about": "taken"}),
        )?;
    }
    Ok(())
}

/// The person who handed the incident on since it was last acknowledged
/// before now (the acknowledgement just recorded is skipped): the actor of
/// its "back to triggered".
fn handed_on_by(repo: &mut dyn Repo, id: i64) -> StoreResult<Option<String>> {
    let timeline = repo.timeline(id)?;
    let mut events = timeline.iter().rev();
    // The acknowledgement being told about.
    if !events.by_ref().any(|e| e.kind == "acknowledged") {
        return Ok(None);
    }
    for e in events {
        match e.kind.as_str() {
            "back to triggered" => {
                return Ok(e.actor.strip_prefix("person:").map(str::to_string));
            }
            "acknowledged" | "reopened" | "opened" => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

/// A triggered incident handed to `person` before anyone acknowledged: the
/// pages still pending (the previous person's retries and later rungs) are
/// cancelled, `person` is paged now on the current step's channels, and the
/// step's wait starts again, so the policy goes on from them (its `nearest`
/// is the assignee from now on).
pub fn hand_over(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    inc: &Incident,
    person: &str,
) -> StoreResult<()> {
    stop(repo, ctx, inc.id, "handed over")?;
    let (Some(pol), Some(p)) = (policy_of(ctx.roster, inc), ctx.roster.people.get(person)) else {
        return Ok(());
    };
    let mut state = repo.escalation(inc.id)?.unwrap_or(super::EscalationState {
        policy: pol.id.clone(),
        step: 0,
        round: 0,
        paged: vec![],
        round_start: 0,
        next_at: None,
    });
    let Some(step) = pol.steps.get(state.step).or(pol.steps.first()) else {
        return Ok(());
    };
    let own = repo.notify_rules(person)?;
    let rules = own.as_deref().unwrap_or(&p.notify);
    let (channels, later) = fallback::page_plan(p, rules, &step.via, false);
    let page = policy::Page {
        person: person.to_string(),
        channels,
        later,
        reason: format!("handed over (step {} of policy {})", state.step + 1, pol.id),
    };
    let start = state.round_start.min(state.paged.len());
    if !state.paged[start..].iter().any(|x| x == person) {
        state.paged.push(person.to_string());
    }
    state.next_at = super::after(ctx.now, step.wait).or(Some(DateTime::<Utc>::MAX_UTC));
    save(repo, inc.id, &state)?;
    enqueue_page(repo, ctx, inc, &page)
}

/// The escalation policy of the incident's project, if both are configured.
/// The incident's project is not in the configuration: said on the
/// timeline and in the log, so its paging never stops in silence.
fn not_routed(repo: &mut dyn Repo, ctx: &Ctx<'_>, inc: &Incident) -> StoreResult<()> {
    tracing::error!(incident = inc.id, project = %inc.project, "not routed: the project is not in the configuration");
    repo.append(
        inc.id,
        ctx.now,
        &Actor::System,
        "not routed",
        json!({"reason": format!("project {:?} is not in the configuration", inc.project)}),
    )
}

fn policy_of<'r>(roster: &'r Roster, inc: &Incident) -> Option<&'r crate::config::Policy> {
    roster
        .projects
        .get(&inc.project)
        .and_then(|p| roster.policies.get(&p.escalation_policy))
}

/// An alert group's incident resolved by a person (not by its alerts
/// resolving): Alertmanager keeps re-sending the same firing snapshot, and
/// once the HA copy window has passed that re-send is a new alert.
fn forget_if_by_hand(repo: &mut dyn Repo, id: i64, by: &str) -> StoreResult<()> {
    if by.starts_with("integration:") {
        return Ok(());
    }
    let inc = repo.get(id)?;
    if !matches!(inc.source, Source::Alertmanager | Source::Grafana) {
        return Ok(());
    }
    match (&inc.integration, &inc.dedup_key) {
        (Some(integration), Some(group_key)) => repo.forget_delivery(integration, group_key),
        _ => Ok(()),
    }
}

/// An action with its paging consequences, in one transaction.
#[allow(clippy::too_many_arguments)]
pub fn act(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    action: Action,
    actor: &Actor,
    how: &str,
    detail: serde_json::Value,
) -> Result<(Incident, bool), ActError> {
    let (_, changed) = apply::act(repo, id, action, actor, how, ctx.now, detail)?;
    if changed {
        let mut out = Outcome::default();
        match action {
            Action::Acknowledge => out.acknowledged.push(id),
            Action::Resolve => out.resolved.push(id),
            Action::Downgrade => out.downgraded.push(id),
            Action::Reopen | Action::Unacknowledge | Action::EndMaintenance => {
                out.reopened.push(id)
            }
            // `escalate_now` pages the next step itself.
            Action::Escalate => {}
        }
        sync(repo, ctx, &out, &actor.to_string())?;
    }
    Ok((repo.get(id)?, changed))
}

/// The acknowledgement timed out: back to triggered, paging from the start.
pub fn ack_timed_out(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64) -> StoreResult<()> {
    let inc = repo.get(id)?;
    if inc.state != State::Acknowledged {
        return Ok(());
    }
    let detail = json!({"reason": "acknowledged but neither resolved nor updated within the policy's ack_timeout"});
    match apply::act(
        repo,
        id,
        Action::Unacknowledge,
        &Actor::System,
        "ack timeout",
        ctx.now,
        detail,
    ) {
        Ok(_) => {}
        Err(ActError::Store(e)) => return Err(e),
        Err(_) => return Ok(()),
    }
    // Forget the old escalation so the policy runs again from step 1.
    repo.put_escalation(
        id,
        &super::EscalationState {
            policy: String::new(),
            step: 0,
            round: 0,
            paged: vec![],
            round_start: 0,
            next_at: None,
        },
    )?;
    start(repo, ctx, id)
}

/// Who did something (`by`, an actor as the timeline writes it: `person:bob`,
/// `integration:prom`, …) in the words of a notice to a person.
fn actor_words(roster: &Roster, by: &str) -> String {
    match by.split_once(':') {
        Some(("person", id)) => channel::person_name(roster, id).to_string(),
        Some(("integration", id)) => format!("its alerts ({id})"),
        Some(("heartbeat", id)) => format!("its heartbeat ({id})"),
        Some(("client", _)) => "the client".to_string(),
        _ => "tocsin".to_string(),
    }
}

/// The assignee and the client channel hear that the incident is resolved.
fn resolved_notices(repo: &mut dyn Repo, ctx: &Ctx<'_>, id: i64, by: &str) -> StoreResult<()> {
    let inc = repo.get(id)?;
    let text = message::resolved_notice(&inc, &actor_words(ctx.roster, by));
    if let Some(person) = inc.assignee.as_ref().and_then(|a| ctx.roster.people.get(a))
        && by != format!("person:{}", person.id)
        && let Some(&channel) = person.channels.iter().find(|c| **c != ChannelType::Voice)
    {
        let row = notice_row(
            &inc,
            ctx,
            Some(person.id.clone()),
            None,
            channel_name(channel),
            target_of(person, channel),
            message::headline(&inc),
            text.clone(),
        );
        let oid = repo.insert_outbox(&row)?;
        repo.append(id, ctx.now, &Actor::System, "notice queued", json!({"person": person.id, "channel": row.channel, "outbox": oid, "about": "resolved"}))?;
    }
    if inc.critical || inc.serious {
        channel::post_resolved(repo, ctx, &inc)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub fn notice_row(
    inc: &Incident,
    ctx: &Ctx<'_>,
    person: Option<String>,
    client: Option<String>,
    channel: &str,
    target: String,
    subject: String,
    body: String,
) -> OutboxRow {
    let kind = if client.is_some() { "client" } else { "notice" };
    OutboxRow {
        incident: Some(inc.id),
        person,
        client,
        ..OutboxRow::pending(kind, channel, target, subject, body, ctx.now)
    }
}

/// The next channel for a page whose channel failed for good, if any: the
/// person's next channel that the step neither used nor tried (`step`: the
/// channels of every page the step queued for the person, fallbacks
/// included).
pub fn fallback_channel(person: &Person, row: &OutboxRow, step: &[String]) -> Option<ChannelType> {
    let parse = |s: &str| s.parse::<ChannelType>().ok();
    let tried: Vec<ChannelType> = row
        .tried
        .iter()
        .chain(step)
        .chain(std::iter::once(&row.channel))
        .filter_map(|s| parse(s))
        .collect();
    // Rows queued before every channel fired at once still list the rest
    // of their step's `via` here.
    let via: Vec<ChannelType> = row.fallback.iter().filter_map(|s| parse(s)).collect();
    fallback::next_channel(person, &tried, &via)
}
