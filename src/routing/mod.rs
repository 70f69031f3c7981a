//! Routing: who is paged first.
//!
//! Owns the pure logic of SPEC "Nearest responder": working hours
//! (`hours`), presence (`presence`), on-call rotations (`handoff`,
//! `schedule`; YAML and stored `overrides` merged), the proximity order
//! and the pick (`nearest`), and the iCal feed of shifts (`ical`).
//! Everything takes `now`/`t` as a parameter. Must not do I/O, read the
//! clock, or import axum, rusqlite, reqwest or tokio.

pub mod handoff;
pub mod hours;
pub mod ical;
pub mod nearest;
pub mod overrides;
pub mod presence;
pub mod schedule;

pub use handoff::Handoff;
pub use hours::{HoursError, HoursErrorReason, WorkingHours};
pub use ical::{FeedShift, ParsedEvent, parse_events, render};
pub use nearest::{Candidate, Decision, FirstPage, choose, next_after, proximity_order};
pub use overrides::{NewOverride, StoredOverride};
pub use presence::{Online, PresenceMark, Reason, Status, online};
pub use schedule::{Override, Rotation, Shift};
