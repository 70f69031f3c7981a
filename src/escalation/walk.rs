//! The walk harness for the policy tests: drive one incident through a
//! sequence of events and check every page, reason, outcome and deadline.

use chrono::TimeDelta;

use crate::config::{ChannelType, Policy, Roster, Step, Target};
use crate::duration::Span;
use crate::escalation::fixture::{marks, utc};
use crate::escalation::policy::{EscalationState, Outcome, escalate_now, on_deadline, start};
use crate::escalation::targets::RouteContext;
use crate::routing::Status;

/// What happens, `minutes` after the walk's first instant.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    Start,
    Deadline,
    EscalateBy(&'static str),
}

/// Expected pages: person and channels, in order.
pub type Pages = &'static [(&'static str, &'static [ChannelType])];

/// One event and what it must produce.
pub struct Expect {
    pub event: Event,
    pub minutes: i64,
    pub pages: Pages,
    /// Shared by every page of the event; ignored when nobody is paged.
    pub reason: &'static str,
    /// `None` for `Start`, which reports no outcome.
    pub outcome: Option<Outcome>,
    /// Minutes after the walk's first instant; `None` once exhausted.
    pub next_at: Option<i64>,
}

pub fn ex(
    event: Event,
    minutes: i64,
    pages: Pages,
    reason: &'static str,
    outcome: Option<Outcome>,
    next_at: Option<i64>,
) -> Expect {
    Expect {
        event,
        minutes,
        pages,
        reason,
        outcome,
        next_at,
    }
}

pub struct Walk<'a> {
    pub roster: &'a Roster,
    pub project: &'static str,
    pub policy: &'a Policy,
    pub at: &'static str,
    pub offline: &'static [&'static str],
    pub client_reported: bool,
}

/// Runs `events` in order, checking each; returns the final state.
pub fn check(walk: &Walk<'_>, events: &[Expect]) -> EscalationState {
    let list: Vec<_> = walk
        .offline
        .iter()
        .map(|p| (*p, Status::Offline, "2030-01-01T00:00:00Z"))
        .collect();
    let presence = marks(&list);
    let ctx = RouteContext {
        roster: walk.roster,
        project: walk.project,
        presence: &presence,
        client_reported: walk.client_reported,
        assignee: None,
        notify: &crate::escalation::targets::yaml_rules,
        overrides: &[],
    };
    let t0 = utc(walk.at);
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    let mut state: Option<EscalationState> = None;
    for (i, e) in events.iter().enumerate() {
        let now = at(e.minutes);
        let (next, pages, outcome) = match (e.event, &state) {
            (Event::Start, _) => {
                let (s, p) = start(walk.policy, &ctx, now);
                (s, p, None)
            }
            (Event::Deadline, Some(s)) => {
                let (s, p, o) = on_deadline(walk.policy, s, &ctx, now);
                (s, p, Some(o))
            }
            (Event::EscalateBy(by), Some(s)) => {
                let (s, p, o) = escalate_now(walk.policy, s, &ctx, now, by);
                (s, p, Some(o))
            }
            (_, None) => panic!("walk must begin with Start"),
        };
        let got: Vec<(&str, &[ChannelType])> = pages
            .iter()
            .map(|p| (p.person.as_str(), p.channels.as_slice()))
            .collect();
        assert_eq!(got, e.pages, "event {i} {:?}: pages", e.event);
        for p in &pages {
            assert_eq!(p.reason, e.reason, "event {i} {:?}: reason", e.event);
        }
        assert_eq!(outcome, e.outcome, "event {i} {:?}: outcome", e.event);
        assert_eq!(
            next.next_at,
            e.next_at.map(at),
            "event {i} {:?}: next_at",
            e.event
        );
        assert_eq!(next.policy, walk.policy.id);
        state = Some(next);
    }
    state.expect("at least one event")
}

pub fn step(notify: Target, via: &[ChannelType], wait_minutes: u64) -> Step {
    Step {
        notify,
        via: via.to_vec(),
        wait: Span::from_secs(wait_minutes * 60),
    }
}

pub fn policy(steps: Vec<Step>, repeat: u32) -> Policy {
    Policy {
        id: "p".into(),
        steps,
        repeat,
        ack_timeout: None,
    }
}
