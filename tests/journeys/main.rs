//! Journeys: what users do, end to end, as they do it (HTTP, SMS replies,
//! keypresses, the CLI), against the daemon on 127.0.0.1:0 with a manual
//! clock and local fakes of Twilio, SMTP and chat. Each step checks every
//! message every fake received (`World::expect`), so a page that is lost,
//! doubled or sent to the wrong person, or a post the client should not
//! read, fails the journey at the step that caused it. docs/journeys.md
//! lists them with the step of the incident guide each one shows.

#[path = "../api/fakes.rs"]
mod fakes;
#[path = "../api/helpers.rs"]
mod helpers;
mod world;

mod acknowledged_upstream;
mod alert_in_hours;
mod client_report;

mod hand_over;
mod heartbeat;
mod resolved_by_hand;
mod slack_buttons;
mod storm;
mod warning_then_critical;
