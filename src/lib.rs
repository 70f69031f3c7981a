//! tocsin: alert routing and on-call paging.
//!
//! Alert in (`ingest`) → dedup and incident (`incident`) → nearest responder
//! (`routing`) → escalation (`escalation`) → notify (`notify`) → acknowledge
//! → client channel and postmortem (`followup`). `config` reads the YAML
//! roster, `store` keeps everything durable, `http` is the only place that
//! speaks HTTP, `app` wires it together; `limits` caps every field that comes
//! in. See ARCHITECTURE.md.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod duration;
pub mod engine;
pub mod escalation;
pub mod followup;
pub mod http;
pub mod incident;
pub mod ingest;
pub mod limits;
pub mod log_budget;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod oncall;
pub mod outbox;
pub mod reports;
pub mod routing;
pub mod signin;
pub mod store;
pub mod systemd;
pub mod web;
pub mod when;
