//! Alert ingest: turns the bytes of a monitoring webhook into domain [`Alert`]s.
//!
//! Owns the wire formats tocsin accepts — Alertmanager webhook v4, Grafana Alerting
//! webhooks, PagerDuty Events API v2 (alerts and change events) and legacy Events v1 — and
//! the Alertmanager-syntax label matchers used by integration routing rules.
//!
//! Pure: no HTTP, no database, no clock reads, no randomness (generated dedup keys come in
//! through a closure). It must not import axum, rusqlite, reqwest or tokio. The response
//! bodies PagerDuty clients expect are built here as `serde_json::Value`s with their status
//! codes because their exact shape is part of the wire format.

pub mod alert;
pub mod alertmanager;
pub mod change_event;
mod event_fields;
pub mod events_v1;
pub mod events_v2;
pub mod grafana;
pub mod matcher;

pub use alert::{Alert, AlertStatus, Link, Severity, Source};
pub use alertmanager::{Webhook, idempotency_key};
pub use change_event::ChangeEvent;
pub use events_v2::{Action, Event, EventsError};
pub use grafana::GrafanaInfo;
pub use matcher::{Matcher, MatcherError, Route, first_match};

/// A webhook body that cannot be turned into alerts; maps to HTTP 400 naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct IngestError {
    /// JSON path of the offending field, e.g. `alerts[2].labels`, or `body`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl IngestError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    /// The module stays pure: no I/O frameworks, no clock, no randomness.
    #[test]
    fn imports_nothing_impure() {
        let sources = [
            ("alert.rs", include_str!("alert.rs")),
            ("alertmanager.rs", include_str!("alertmanager.rs")),
            ("change_event.rs", include_str!("change_event.rs")),
            ("event_fields.rs", include_str!("event_fields.rs")),
            ("events_v1.rs", include_str!("events_v1.rs")),
            ("events_v2.rs", include_str!("events_v2.rs")),
            ("grafana.rs", include_str!("grafana.rs")),
            ("matcher.rs", include_str!("matcher.rs")),
        ];
        let forbidden = [
            "axum",
            "rusqlite",
            "reqwest",
            "tokio",
            "rand::",
            "Utc::now",
            "SystemTime",
            "std::fs",
            "std::net",
        ];
        for (file, text) in sources {
            for word in forbidden {
                assert!(!text.contains(word), "{file} mentions {word}");
            }
        }
    }
}
