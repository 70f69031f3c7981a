//! The escalation state of one incident and the functions that move it:
//! start, a deadline passing, a person asking to escalate now.
//!
//! Owns step order, repeats, exhaustion, deadlines and the pages each step
//! produces (SPEC "Escalation and notification", and rule 3 of "Nearest
//! responder": nobody online → the first page is a phone call). Must not
//! send, store or read the clock; stopping on acknowledge/resolve/downgrade
//! is the engine's job (it simply stops calling in).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{ChannelType, Policy, Step, Target};
use crate::escalation::after;
use crate::escalation::fallback::{Later, page_plan};
use crate::escalation::targets::{RouteContext, decision, label, resolve};
use crate::routing::FirstPage;

/// Where one incident is in its policy. Stored as JSON by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationState {
    /// Policy id.
    pub policy: String,
    /// Index of the step last run.
    pub step: usize,
    /// 0 for the first pass through the policy, then 1 per repeat.
    pub round: u32,
    /// People paged so far, in order; once per round each.
    pub paged: Vec<String>,
    /// Index into `paged` where the current round began: `next` skips only
    /// people paged in this round, so a repeat pages the same people again.
    #[serde(default)]
    pub round_start: usize,
    /// When the next step is due; `None` once the policy is exhausted.
    pub next_at: Option<DateTime<Utc>>,
}

/// One person to notify, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    /// Person id.
    pub person: String,
    /// Channels fired at once, each its own message; a permanent failure of
    /// one falls back to the person's next channel the step does not use
    /// (see `fallback::next_channel`).
    pub channels: Vec<ChannelType>,
    /// Later rungs of the person's `notify` ladder (steps without `via`),
    /// each fired only while the incident is still unacknowledged.
    pub later: Vec<Later>,
    /// Why, for the timeline, e.g. `step 2 of policy default: next`.
    pub reason: String,
}

/// What a deadline or an escalate-now did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Moved to a later step of the same round.
    Continued,
    /// Wrapped around to a new round of the policy.
    Repeated,
    /// No step is left: nothing paged, `next_at` is `None`.
    Exhausted,
}

/// A position in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    step: usize,
    round: u32,
}

/// Starts escalating an incident: runs step 0 now and schedules step 1.
pub fn start(
    policy: &Policy,
    ctx: &RouteContext<'_>,
    now: DateTime<Utc>,
) -> (EscalationState, Vec<Page>) {
    let state = EscalationState {
        policy: policy.id.clone(),
        step: 0,
        round: 0,
        paged: Vec::new(),
        round_start: 0,
        next_at: None,
    };
    let (mut state, mut pages, _) =
        settle(policy, state, Pos { step: 0, round: 0 }, ctx, now, None);
    // A policy whose every step names nobody now (a `schedule:` not started
    // yet, or with a gap) must not leave a new incident unpaged: the
    // nearest responder is paged the first step's way, and the policy is
    // looked at again when that step's wait is over.
    if pages.is_empty()
        && let Some(page) = nearest_instead(policy, ctx, now)
    {
        record(&mut state, std::slice::from_ref(&page));
        state.step = 0;
        state.round = 0;
        state.next_at = policy
            .steps
            .first()
            .map(|s| after(now, s.wait).unwrap_or(DateTime::<Utc>::MAX_UTC));
        pages.push(page);
    }
    (state, pages)
}

/// The page to the project's nearest responder when the policy's steps page
/// nobody at the start; None when the project has nobody at all.
fn nearest_instead(policy: &Policy, ctx: &RouteContext<'_>, now: DateTime<Utc>) -> Option<Page> {
    let step = policy.steps.first()?;
    let d = decision(ctx, now);
    let reason = format!(
        "step 1 of policy {}: {} pages nobody now, so the nearest responder",
        policy.id,
        label(&step.notify)
    );
    page_of(
        step,
        d.picked?,
        ctx,
        d.first_page == FirstPage::PhoneCall,
        reason,
    )
}

/// How `step` pages person `id`: its channels (or the person's own
/// ladder), `None` when the roster no longer has them.
fn page_of(
    step: &Step,
    id: String,
    ctx: &RouteContext<'_>,
    call_first: bool,
    reason: String,
) -> Option<Page> {
    let person = ctx.roster.people.get(&id)?;
    let own = (ctx.notify)(&id);
    let rules = own.as_deref().unwrap_or(&person.notify);
    let (channels, later) = page_plan(person, rules, &step.via, call_first);
    Some(Page {
        channels,
        later,
        person: id,
        reason,
    })
}

/// The deadline `state.next_at` has passed unacknowledged: runs the next step
/// (after the last, step 0 of the next round while rounds remain).
pub fn on_deadline(
    policy: &Policy,
    state: &EscalationState,
    ctx: &RouteContext<'_>,
    now: DateTime<Utc>,
) -> (EscalationState, Vec<Page>, Outcome) {
    advance(policy, state, ctx, now, None)
}

/// As [`on_deadline`], asked for by person `by` (SMS `esc 42`, keypress 2,
/// `POST .../escalate`) before the deadline.
pub fn escalate_now(
    policy: &Policy,
    state: &EscalationState,
    ctx: &RouteContext<'_>,
    now: DateTime<Utc>,
    by: &str,
) -> (EscalationState, Vec<Page>, Outcome) {
    advance(policy, state, ctx, now, Some(by))
}

fn advance(
    policy: &Policy,
    state: &EscalationState,
    ctx: &RouteContext<'_>,
    now: DateTime<Utc>,
    by: Option<&str>,
) -> (EscalationState, Vec<Page>, Outcome) {
    let mut state = state.clone();
    if state.next_at.is_none() {
        return (state, Vec::new(), Outcome::Exhausted);
    }
    let here = Pos {
        step: state.step,
        round: state.round,
    };
    match following(policy, here) {
        Some(pos) => {
            if pos.round != here.round {
                state.round_start = state.paged.len();
            }
            settle(policy, state, pos, ctx, now, by)
        }
        None => {
            state.next_at = None;
            (state, Vec::new(), Outcome::Exhausted)
        }
    }
}

/// The position after `pos`, or `None` when the policy is exhausted.
fn following(policy: &Policy, pos: Pos) -> Option<Pos> {
    if pos.step + 1 < policy.steps.len() {
        Some(Pos {
            step: pos.step + 1,
            round: pos.round,
        })
    } else if pos.round < policy.repeat {
        Some(Pos {
            step: 0,
            round: pos.round + 1,
        })
    } else {
        None
    }
}

/// Runs the step at `pos`; a step that resolves to nobody (say, `next` with
/// everyone paged) is skipped at once instead of waiting out its `wait`.
fn settle(
    policy: &Policy,
    mut state: EscalationState,
    mut pos: Pos,
    ctx: &RouteContext<'_>,
    now: DateTime<Utc>,
    by: Option<&str>,
) -> (EscalationState, Vec<Page>, Outcome) {
    let first_round = state.round;
    let mut empty_rounds = 0;
    loop {
        state.step = pos.step;
        state.round = pos.round;
        if let Some(step) = policy.steps.get(pos.step) {
            let pages = pages(policy, step, pos, &state, ctx, now, by);
            if !pages.is_empty() {
                record(&mut state, &pages);
                // A deadline beyond the representable range never comes.
                state.next_at = after(now, step.wait).or(Some(DateTime::<Utc>::MAX_UTC));
                let outcome = if state.round == first_round {
                    Outcome::Continued
                } else {
                    Outcome::Repeated
                };
                return (state, pages, outcome);
            }
        }
        let next = following(policy, pos);
        if next.is_some_and(|n| n.round != pos.round) {
            // Rounds differ only by `next`'s memory, reset at each start, so
            // a whole round from step 0 paging nobody means every later one
            // pages nobody too.
            empty_rounds += 1;
            state.round_start = state.paged.len();
        }
        match next {
            Some(n) if empty_rounds < 2 => pos = n,
            _ => {
                state.next_at = None;
                return (state, Vec::new(), Outcome::Exhausted);
            }
        }
    }
}

/// The pages of one step.
fn pages(
    policy: &Policy,
    step: &Step,
    pos: Pos,
    state: &EscalationState,
    ctx: &RouteContext<'_>,
    now: DateTime<Utc>,
    by: Option<&str>,
) -> Vec<Page> {
    let mut this_round = state.paged.get(state.round_start..).unwrap_or(&[]).to_vec();
    // Who asks for the next step asks for someone else: `next` goes past
    // them as if they were paged, and a step that would page only them is
    // passed like a step for nobody.
    this_round.extend(by.map(str::to_string));
    let mut people = resolve(&step.notify, ctx, &this_round, now);
    people.retain(|p| Some(p.as_str()) != by);
    let call_first = pos == Pos { step: 0, round: 0 }
        && step.notify == Target::Nearest
        && decision(ctx, now).first_page == FirstPage::PhoneCall;
    let reason = reason(policy, step, pos, ctx, call_first, by);
    people
        .into_iter()
        .filter_map(|id| page_of(step, id, ctx, call_first, reason.clone()))
        .collect()
}

fn reason(
    policy: &Policy,
    step: &Step,
    pos: Pos,
    ctx: &RouteContext<'_>,
    call_first: bool,
    by: Option<&str>,
) -> String {
    let mut text = format!("step {} of policy {}", pos.step + 1, policy.id);
    if pos.round > 0 {
        text.push_str(&format!(", repeat {}", pos.round));
    }
    text.push_str(": ");
    text.push_str(&label(&step.notify));
    if call_first {
        let who = if ctx.client_reported {
            "client report, "
        } else {
            ""
        };
        text.push_str(&format!(" ({who}nobody online: phone call first)"));
    }
    if let Some(by) = by {
        text.push_str(&format!(" (escalated by {by})"));
    }
    text
}

/// Appends the paged people, once per round.
fn record(state: &mut EscalationState, pages: &[Page]) {
    for page in pages {
        let start = state.round_start.min(state.paged.len());
        if !state.paged[start..].contains(&page.person) {
            state.paged.push(page.person.clone());
        }
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
