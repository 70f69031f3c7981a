//! Escalation: who gets paged, through which channels, and when the next
//! step fires, for one incident.
//!
//! Owns the pure half of SPEC "Escalation and notification": the per-incident
//! [`EscalationState`] and its step functions (`policy`), resolving a step's
//! `notify` target to people (`targets`), channel fallback and retry backoff
//! for the outbox (`fallback`), and the acknowledgement timeout
//! (`ack_timeout`). Everything takes `now` as a parameter.
//!
//! Must not do I/O, read the clock, spawn tasks, or import axum, rusqlite,
//! reqwest or tokio. The engine that reads the clock, loads and stores the
//! state and sleeps until the nearest `next_at` lives in `engine.rs`.

pub mod ack_timeout;
pub mod delivery;
pub mod fallback;
pub mod paging;
pub mod policy;
pub mod shifts;
pub mod targets;

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod walk;

pub use ack_timeout::ack_expired;
pub use fallback::{
    Later, MAX_ATTEMPTS, backoff, can_receive, gives_up, next_channel, page_channels, page_plan,
};
pub use policy::{EscalationState, Outcome, Page, escalate_now, on_deadline, start};
pub use targets::{RouteContext, decision, label, resolve, rotation};

use chrono::{DateTime, TimeDelta, Utc};

use crate::duration::Span;

/// `t + span`, or `None` past the representable range (a `Span` built with
/// `from_secs` is unbounded, and `Span::to_chrono` would panic there).
pub(crate) fn after(t: DateTime<Utc>, span: Span) -> Option<DateTime<Utc>> {
    let secs = i64::try_from(span.as_secs()).ok()?;
    t.checked_add_signed(TimeDelta::try_seconds(secs)?)
}
