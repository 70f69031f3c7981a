//! Acknowledge, Resolve and Escalate buttons on chat messages: what a
//! button carries, which buttons a message shows, the words a message is
//! updated with, and each platform's wire format ([`slack`] request signing
//! v0 and Block Kit, [`mattermost`] interactive message actions with a
//! signed context, [`telegram`] inline keyboards and callback queries).
//!
//! Owns: turning an authentic callback into a [`Click`] (who, which
//! incident, what), and refusing everything else. Must not: read the clock
//! (`now` is a parameter), do I/O, or decide who may act (the caller maps
//! the platform user to a person on the roster).

pub mod mattermost;
pub mod slack;
pub mod telegram;

use subtle::ConstantTimeEq;

use crate::incident::State;
use crate::incident::transition::{self, Action as Transition};
use crate::notify::Action;

/// Every button, in the order a message shows them.
pub const ACTIONS: [Action; 3] = [Action::Ack, Action::Resolve, Action::Escalate];

/// One button click, authentic, as the platform reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// The platform's id of the user who clicked.
    pub user: String,
    /// The incident as its button names it: the number on a page, the
    /// client's reference (`ACME-7`) on a client's channel, which must not
    /// tell one client how many incidents others had.
    pub incident: String,
    pub action: Action,
    /// The message the button is on, to update it.
    pub message: Message,
}

/// Where the clicked message is, and its text as posted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Slack channel id, Telegram chat id, Mattermost channel id.
    pub channel: String,
    /// Slack `ts`, Telegram `message_id`, Mattermost post id.
    pub id: String,
    /// The message's text (Slack mrkdwn, Telegram plain text, Mattermost
    /// markdown), to which the outcome is added.
    pub text: String,
    /// Slack's `response_url` (ephemeral answers to the clicker) or
    /// Telegram's callback query id.
    pub reply_to: String,
}

/// Why a callback was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A signature, secret token or timestamp header is missing.
    #[error("missing signature")]
    Unsigned,
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// Signed too long ago (or in the future): a replay.
    #[error("stale timestamp")]
    Stale,
}

/// A button's value: `ack:42`, `resolve:ACME-7`, `escalate:42`.
pub fn value(incident: &str, action: Action) -> String {
    format!("{}:{incident}", key(action))
}

/// Reads a button's value back: the action, and the incident as a number
/// or a client's reference.
pub fn parse_value(value: &str) -> Option<(String, Action)> {
    let (action, id) = value.split_once(':')?;
    let action = ACTIONS.into_iter().find(|a| key(*a) == action)?;
    crate::incident::reference::Key::parse(id)?;
    Some((id.to_string(), action))
}

/// The buttons a chat message about an incident carries when it is sent:
/// what the incident's state still allows, named as its reader may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The number on a page; the client's reference on a client's channel.
    pub key: String,
    pub actions: Vec<Action>,
}

/// The [`Offer`] of a message about `inc` (on a client's channel when
/// `client_side`); None when nothing is left to do (a resolved incident's
/// post has no buttons).
pub fn offer(inc: &crate::incident::Incident, client_side: bool) -> Option<Offer> {
    let actions = buttons(inc.state);
    let key = if client_side {
        inc.reference.clone()
    } else {
        inc.id.to_string()
    };
    (!actions.is_empty()).then_some(Offer { key, actions })
}

fn key(action: Action) -> &'static str {
    match action {
        Action::Ack => "ack",
        Action::Resolve => "resolve",
        Action::Escalate => "escalate",
    }
}

/// A button's label.
pub fn label(action: Action) -> &'static str {
    match action {
        Action::Ack => "Acknowledge",
        Action::Resolve => "Resolve",
        Action::Escalate => "Escalate",
    }
}

/// Whether `action` would change anything from `state`: the one rule for
/// which buttons a message or a link page offers.
pub fn offers(action: Action, state: State) -> bool {
    match action {
        Action::Ack => transition::apply(state, Transition::Acknowledge)
            .is_ok_and(|t| t != transition::Transition::Unchanged),
        Action::Resolve => transition::apply(state, Transition::Resolve).is_ok(),
        Action::Escalate => matches!(state, State::Triggered | State::Acknowledged),
    }
}

/// The buttons a message about an incident in `state` still shows.
pub fn buttons(state: State) -> Vec<Action> {
    ACTIONS.into_iter().filter(|a| offers(*a, state)).collect()
}

/// What an action did, as in "already acknowledged".
pub fn past(action: Action) -> &'static str {
    match action {
        Action::Ack => "acknowledged",
        Action::Resolve => "resolved",
        Action::Escalate => "escalated",
    }
}

/// The line a message gains when `who` acted on it.
pub fn done_line(action: Action, who: &str) -> String {
    match action {
        Action::Ack => format!("Acknowledged by {who}."),
        Action::Resolve => format!("Resolved by {who}."),
        Action::Escalate => format!("Escalated by {who}: the next step is paged."),
    }
}

/// Told to a platform user who is not on the roster (only to them).
pub fn unknown_user(platform: &str) -> String {
    format!("Your {platform} account is not on the tocsin roster, so nothing changed.")
}

/// Constant-time equality of two secrets (lengths may differ).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests;
