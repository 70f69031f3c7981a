//! What happens around an incident besides paging: the guide's first
//! response (client channel posts, reminders to the assignee, the serious
//! flag). Runs inside
//! the incident's store transaction through `Repo`; never reads the clock,
//! never talks to a provider (posts and reminders are outbox rows).
//!
//! After the incident: postmortems and their action items (the guide's
//! "Postmortem" and "Do not put off the measures"). `postmortem`, `actions`,
//! `digest` and `business_days` are pure; `lifecycle` and `remind` work
//! inside the incident's transaction through `incident::Repo`.

pub mod assign;
pub mod channel;
pub mod diagnosis;
pub mod reminders;

pub mod actions;
pub mod business_days;
pub mod digest;
pub mod lifecycle;
pub mod postmortem;
pub mod remind;
