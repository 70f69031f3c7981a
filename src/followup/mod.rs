//! What happens around an incident besides paging: the guide's first
//! response (client channel posts, reminders to the assignee, the serious
//! flag) and the business-day calendar the postmortem is due by. Runs inside
//! the incident's store transaction through `Repo`; never reads the clock,
//! never talks to a provider (posts and reminders are outbox rows).

pub mod assign;
pub mod calendar;
pub mod channel;
pub mod reminders;
