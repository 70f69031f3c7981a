//! The incident record and its timeline events, as the domain sees them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ingest::alert::{Link, Severity, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Triggered,
    Acknowledged,
    Resolved,
    Downgraded,
    /// Opened inside a maintenance window: recorded, pages nobody, until
    /// the window ends.
    Suppressed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Triggered => "triggered",
            State::Acknowledged => "acknowledged",
            State::Resolved => "resolved",
            State::Downgraded => "downgraded",
            State::Suppressed => "suppressed",
        }
    }

    /// Paging continues only in these states.
    pub fn is_paging(self) -> bool {
        matches!(self, State::Triggered)
    }

    /// Open for deduplication: new alerts attach instead of opening anew.
    pub fn is_open(self) -> bool {
        !matches!(self, State::Resolved)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "triggered" => Ok(State::Triggered),
            "acknowledged" => Ok(State::Acknowledged),
            "resolved" => Ok(State::Resolved),
            "downgraded" => Ok(State::Downgraded),
            "suppressed" => Ok(State::Suppressed),
            _ => Err(format!("unknown state {s:?}")),
        }
    }
}

/// Who did something: shown on every timeline event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Person(String),
    Integration(String),
    Client(String),
    Heartbeat(String),
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Person(p) => write!(f, "person:{p}"),
            Actor::Integration(i) => write!(f, "integration:{i}"),
            Actor::Client(c) => write!(f, "client:{c}"),
            Actor::Heartbeat(h) => write!(f, "heartbeat:{h}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// Diagnosis layer (incident guide step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Application,
    Infrastructure,
    ThirdParty,
    Content,
    Unknown,
}

impl FromStr for Layer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "application" => Ok(Layer::Application),
            "infrastructure" => Ok(Layer::Infrastructure),
            "third_party" => Ok(Layer::ThirdParty),
            "content" => Ok(Layer::Content),
            "unknown" => Ok(Layer::Unknown),
            _ => Err(format!(
                "unknown layer {s:?} (expected application, infrastructure, third_party, content or unknown)"
            )),
        }
    }
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Application => "application",
            Layer::Infrastructure => "infrastructure",
            Layer::ThirdParty => "third_party",
            Layer::Content => "content",
            Layer::Unknown => "unknown",
        }
    }
}

/// An incident as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    /// The incident number people say aloud ("incident 42").
    pub id: i64,
    /// The client's own name for it (`ACME-7`): every client-channel post
    /// uses it, never `id`.
    pub reference: String,
    pub project: String,
    pub client: String,
    pub title: String,
    pub severity: Severity,
    pub state: State,
    /// False for a non-critical record that pages nobody.
    pub critical: bool,
    pub source: Source,
    pub integration: Option<String>,
    pub dedup_key: Option<String>,
    pub client_reported: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub links: Vec<Link>,
    pub details: serde_json::Value,
    pub alert_count: i64,
    /// When the problem started: the alert's own start, else its arrival.
    pub started_at: DateTime<Utc>,
    /// When the first alert (or report) arrived here.
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub downgraded_at: Option<DateTime<Utc>>,
    pub assignee: Option<String>,
    pub layer: Option<Layer>,
    pub reproducible: Option<bool>,
    pub serious: bool,
    pub serious_reason: Option<String>,
    pub provider_ticket: Option<String>,
    /// The client was told about it (its own report, or a post to its
    /// channel): only then does the channel hear how it ends.
    pub announced: bool,
}

/// What opening an incident needs; the store assigns the number.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub project: String,
    pub client: String,
    pub title: String,
    pub severity: Severity,
    pub critical: bool,
    pub source: Source,
    pub integration: Option<String>,
    pub dedup_key: Option<String>,
    pub client_reported: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub links: Vec<Link>,
    pub details: serde_json::Value,
    /// See [`own_start`].
    pub started_at: DateTime<Utc>,
}

/// When an incident started: the sender's own start of the alert, never
/// later than its arrival (a clock ahead of ours), else the arrival.
pub fn own_start(claimed: Option<DateTime<Utc>>, arrival: DateTime<Utc>) -> DateTime<Utc> {
    claimed.map_or(arrival, |t| t.min(arrival))
}

/// One line of the append-only timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub incident: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub detail: serde_json::Value,
}

/// One alert attached to an incident (Alertmanager fingerprint or dedup key).
#[derive(Debug, Clone, Serialize)]
pub struct AttachedAlert {
    pub fingerprint: String,
    pub status: String,
    pub summary: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_is_never_after_arrival() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        let arrival = at("2026-11-25T10:00:00Z");
        for (claimed, expected) in [
            (None, "2026-11-25T10:00:00Z"),
            (Some("2026-11-25T09:53:00Z"), "2026-11-25T09:53:00Z"),
            (Some("2026-11-25T10:00:00Z"), "2026-11-25T10:00:00Z"),
            (Some("2026-11-25T10:05:00Z"), "2026-11-25T10:00:00Z"),
        ] {
            assert_eq!(
                own_start(claimed.map(at), arrival),
                at(expected),
                "{claimed:?}"
            );
        }
    }
}
