//! PagerDuty Events API v2 (`POST /v2/enqueue`) → [`Event`], and the JSON answers
//! PagerDuty clients expect.
//!
//! Owns `Event`, `Action`, `EventsError` (shared with Events v1 and change events) and the
//! response bodies with their status codes, since their exact shape is the wire contract.
//! Every validation error is collected, not only the first. Deliberately tolerant where a
//! rejection would lose a page over decoration: malformed `links`/`images` entries are
//! skipped, and an unparseable `payload.timestamp` leaves `starts_at` empty (the raw text is
//! kept in `details.timestamp`). Pure: a generated dedup key comes from the caller's closure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::ingest::alert::{self, Alert, AlertStatus, Link, Severity, Source};
use crate::ingest::event_fields::{self, Checker};
use crate::limits;

/// Longest accepted `dedup_key`, in characters.
pub const MAX_DEDUP_KEY_CHARS: usize = crate::limits::DEDUP_KEY.max();

/// What an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Open (or re-trigger) the alert identified by the dedup key.
    Trigger,
    /// Acknowledge it.
    Acknowledge,
    /// Resolve it.
    Resolve,
}

impl Action {
    /// Parses the wire words `trigger`, `acknowledge`, `resolve`.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "trigger" => Some(Self::Trigger),
            "acknowledge" => Some(Self::Acknowledge),
            "resolve" => Some(Self::Resolve),
            _ => None,
        }
    }
}

/// A valid Events v2 (or v1) event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `EventsV2` or `EventsV1`.
    pub source: Source,
    /// The integration token (`routing_key`, v1 `service_key`); any length.
    pub routing_key: String,
    /// Trigger, acknowledge or resolve.
    pub action: Action,
    /// The sender's key, or the generated one for a trigger without it.
    pub dedup_key: String,
    /// The alert carried by a trigger; `None` for acknowledge/resolve.
    pub alert: Option<Alert>,
}

/// Why an event body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    /// Not JSON, or not a JSON object.
    #[error("JSON parse error")]
    Malformed,
    /// Valid JSON failing validation; one message per problem.
    #[error("Event object is invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl EventsError {
    /// Status code and body exactly as PagerDuty answers.
    pub fn response(&self) -> (u16, Value) {
        match self {
            Self::Malformed => (
                400,
                json!({"status": "Unrecognized object", "message": "Event object format is unrecognized",
                       "errors": ["JSON parse error"]}),
            ),
            Self::Invalid(errors) => (
                400,
                json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
            ),
        }
    }
}

/// The 202 answer to an accepted Events v2 event.
pub fn accepted(dedup_key: &str) -> (u16, Value) {
    (
        202,
        json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}),
    )
}

/// Parses and validates an Events v2 body; `new_key` is called only for a trigger that
/// carries no `dedup_key`.
pub fn parse(body: &[u8], new_key: impl FnOnce() -> String) -> Result<Event, EventsError> {
    let obj = event_fields::object(body)?;
    let mut c = Checker::default();
    let routing_key = c.required(&obj, "routing_key", "routing_key");
    let action = c
        .required(&obj, "event_action", "event_action")
        .and_then(|a| {
            let action = Action::from_wire(&a);
            if action.is_none() {
                c.push(invalid_one_of(
                    "event_action",
                    "'trigger', 'acknowledge' or 'resolve'",
                ));
            }
            action
        });
    let dedup_key = c.optional(&obj, "dedup_key", "dedup_key");
    c.cap(dedup_key.as_deref(), "dedup_key", limits::DEDUP_KEY);
    c.json_cap(obj.get("images"), "images", limits::DETAILS);
    c.cap(
        event_fields::text(&obj, "client").as_deref(),
        "client",
        limits::LABEL_VALUE,
    );
    if dedup_key.is_none() && matches!(action, Some(Action::Acknowledge | Action::Resolve)) {
        c.missing("dedup_key");
    }
    let trigger = match action {
        Some(Action::Trigger) => c
            .object(&obj, "payload")
            .and_then(|p| trigger_payload(p, &mut c)),
        _ => None,
    };
    let errors = c.into_errors();
    let (Some(routing_key), Some(action), true) = (routing_key, action, errors.is_empty()) else {
        return Err(EventsError::Invalid(errors));
    };
    let dedup_key = dedup_key.unwrap_or_else(new_key);
    let alert = trigger.map(|t| t.into_alert(&obj, &dedup_key));
    Ok(Event {
        source: Source::EventsV2,
        routing_key,
        action,
        dedup_key,
        alert,
    })
}

pub(crate) fn invalid_one_of(path: &str, choices: &str) -> String {
    format!("'{path}' is invalid (must be one of the following: {choices})")
}

/// The validated parts of a trigger's `payload`.
struct Trigger {
    summary: String,
    source: String,
    severity_word: String,
    severity: Severity,
    payload: Map<String, Value>,
}

fn trigger_payload(p: &Map<String, Value>, c: &mut Checker) -> Option<Trigger> {
    let summary = c.required(p, "summary", "payload.summary");
    c.cap(summary.as_deref(), "payload.summary", limits::SUMMARY);
    let source = c.required(p, "source", "payload.source");
    c.cap(source.as_deref(), "payload.source", limits::LABEL_VALUE);
    let severity_word = c.required(p, "severity", "payload.severity");
    let severity = severity_word.as_deref().and_then(|s| {
        let severity = severity_from_wire(s);
        if severity.is_none() {
            c.push(invalid_one_of(
                "payload.severity",
                "'critical', 'warning', 'error' or 'info'",
            ));
        }
        severity
    });
    for key in ["component", "group", "class", "timestamp"] {
        let path = format!("payload.{key}");
        let value = c.optional(p, key, &path);
        c.cap(value.as_deref(), &path, limits::LABEL_VALUE);
    }
    c.json_cap(
        p.get("custom_details"),
        "payload.custom_details",
        limits::DETAILS,
    );
    Some(Trigger {
        summary: summary?,
        source: source?,
        severity_word: severity_word?,
        severity: severity?,
        payload: p.clone(),
    })
}

/// PagerDuty's four severities (accepted in any letter case).
fn severity_from_wire(s: &str) -> Option<Severity> {
    match s.to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "error" => Some(Severity::Major),
        "warning" => Some(Severity::Minor),
        "info" => Some(Severity::Info),
        _ => None,
    }
}

impl Trigger {
    fn into_alert(self, event: &Map<String, Value>, dedup_key: &str) -> Alert {
        let p = &self.payload;
        let mut labels = BTreeMap::from([
            ("source".to_string(), self.source),
            (
                "severity".to_string(),
                self.severity_word.to_ascii_lowercase(),
            ),
        ]);
        for key in ["component", "group", "class"] {
            if let Some(v) = event_fields::text(p, key) {
                labels.insert(key.to_string(), v);
            }
        }
        let timestamp = event_fields::text(p, "timestamp");
        let mut links = event_fields::links(event, "links");
        links.extend(client_link(event));
        let mut details = Map::new();
        for (key, value) in [
            ("custom_details", p.get("custom_details")),
            ("images", event.get("images")),
        ] {
            if let Some(v) = value.filter(|v| !v.is_null()) {
                details.insert(key.to_string(), v.clone());
            }
        }
        if let Some(client) = event_fields::text(event, "client") {
            details.insert("client".into(), Value::String(client));
        }
        let starts_at = timestamp.as_deref().and_then(alert::parse_timestamp);
        if let (Some(raw), None) = (&timestamp, starts_at) {
            details.insert("timestamp".into(), Value::String(raw.clone()));
        }
        Alert {
            source: Source::EventsV2,
            dedup_key: dedup_key.to_string(),
            group_key: None,
            status: AlertStatus::Firing,
            summary: self.summary,
            severity: Some(self.severity),
            labels,
            annotations: BTreeMap::new(),
            links,
            starts_at,
            ends_at: None,
            details: Value::Object(details),
        }
    }
}

/// `client_url` as a link labelled with `client`.
pub(crate) fn client_link(event: &Map<String, Value>) -> Option<Link> {
    let href = event_fields::text(event, "client_url")?;
    Link::new(
        &href,
        &event_fields::text(event, "client").unwrap_or_default(),
    )
}

#[cfg(test)]
#[path = "events_v2_tests.rs"]
mod tests;
