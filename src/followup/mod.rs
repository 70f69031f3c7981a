//! After the incident: postmortems and their action items (the guide's
//! "Postmortem" and "Do not put off the measures").
//!
//! `postmortem`, `actions`, `digest` and `business_days` are pure (no
//! storage, no clock). `lifecycle` and `remind` work inside the incident's
//! transaction through the `incident::Repo` trait: records, timeline
//! events, durable timers and outbox rows commit together. Nothing here
//! knows HTTP or SQL.

pub mod actions;
pub mod business_days;
pub mod digest;
pub mod lifecycle;
pub mod postmortem;
pub mod remind;
