//! Alertmanager webhook receiver payload (`version: "4"`, PROTOCOLS §1) → [`Webhook`].
//!
//! Owns the serde mirror of the payload — tolerant: unknown fields are ignored and the
//! post-0.25 fields are optional — and its conversion to domain [`Alert`]s. Grafana's webhook
//! (§2) shares the skeleton, so `grafana.rs` reuses [`parse_flavor`] rather than a copy.
//! Must not do HTTP, storage or clock reads.
//!
//! Decisions for hand-written payloads: an alert without `fingerprint` gets one computed from
//! its sorted label set (SHA-256, first 16 hex digits) instead of being rejected — identity
//! is then still stable across firing → resolved. Alerts without labels, without `status`,
//! with an unparseable timestamp, or with a key, label, annotation or extra over its
//! `limits` cap are rejected, naming the field.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::ingest::IngestError;
use crate::ingest::alert::{self, Alert, AlertStatus, Link, Source};
use crate::ingest::grafana::GrafanaInfo;
use crate::limits;

/// The payload `version` Alertmanager sends.
pub const VERSION: &str = "4";

/// One notification of an alert group, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// Alertmanager or Grafana.
    pub source: Source,
    /// Opaque, stable id of the group (`<route key>:<group labels>`).
    pub group_key: String,
    /// Receiver name with Go `regexp.QuoteMeta` escaping removed (`team\.pager` → `team.pager`).
    pub receiver: String,
    /// Group status as sent, or derived from the alerts when absent.
    pub status: AlertStatus,
    /// Alerts cut by `max_alerts`; 0 when none.
    pub truncated_alerts: u64,
    /// The sender's external URL; `""` when absent.
    pub external_url: String,
    /// Labels of `group_by`.
    pub group_labels: BTreeMap<String, String>,
    /// Labels shared by every alert sent (computed after truncation).
    pub common_labels: BTreeMap<String, String>,
    /// Annotations shared by every alert sent.
    pub common_annotations: BTreeMap<String, String>,
    /// Alertmanager ≥ 0.32: why this notification was sent.
    pub notification_reason: Option<String>,
    /// Alertmanager ≥ 0.34: labels of the matching route.
    pub route_labels: Option<BTreeMap<String, String>>,
    /// Grafana-only top-level fields; `None` for Alertmanager.
    pub grafana: Option<GrafanaInfo>,
    /// The alerts, in the order sent.
    pub alerts: Vec<Alert>,
}

type Labels = BTreeMap<String, String>;

/// The payload's skeleton; `A` is how alerts are held: typed on the fast
/// path, as JSON values when an error must be located.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawWebhook<A> {
    version: Option<String>,
    group_key: Option<String>,
    receiver: Option<String>,
    status: Option<String>,
    alerts: Option<Vec<A>>,
    group_labels: Option<Labels>,
    common_labels: Option<Labels>,
    common_annotations: Option<Labels>,
    #[serde(rename = "externalURL")]
    external_url: Option<String>,
    truncated_alerts: Option<u64>,
    #[serde(rename = "notification_reason", alias = "notificationReason")]
    notification_reason: Option<String>,
    route_labels: Option<Labels>,
    org_id: Option<i64>,
    state: Option<String>,
    title: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawAlert {
    status: Option<String>,
    labels: Option<Labels>,
    annotations: Option<Labels>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: Option<String>,
    fingerprint: Option<String>,
    #[serde(rename = "silenceURL")]
    silence_url: Option<String>,
    #[serde(rename = "dashboardURL")]
    dashboard_url: Option<String>,
    #[serde(rename = "panelURL")]
    panel_url: Option<String>,
    #[serde(rename = "imageURL")]
    image_url: Option<String>,
    values: Option<Value>,
    value_string: Option<String>,
    org_id: Option<i64>,
}

/// Parses an Alertmanager webhook body (version "4").
pub fn parse(body: &[u8]) -> Result<Webhook, IngestError> {
    parse_flavor(body, VERSION, Source::Alertmanager)
}

/// Parses the Alertmanager skeleton, requiring `version == expected_version`; `source` is
/// stamped on the webhook and every alert.
pub(crate) fn parse_flavor(
    body: &[u8],
    expected_version: &str,
    source: Source,
) -> Result<Webhook, IngestError> {
    // One typed pass for a well-formed body; only when it fails is the body
    // read again as JSON values, to name the field at fault.
    match serde_json::from_slice::<RawWebhook<RawAlert>>(body) {
        Ok(mut typed) => {
            let alerts = typed.alerts.take();
            build(typed, alerts, expected_version, source)
        }
        Err(_) => {
            let (raw, alerts) = located(body)?;
            build(raw, alerts, expected_version, source)
        }
    }
}

/// The webhook from its decoded skeleton and alerts.
fn build<A>(
    raw: RawWebhook<A>,
    raw_alerts: Option<Vec<RawAlert>>,
    expected_version: &str,
    source: Source,
) -> Result<Webhook, IngestError> {
    match raw.version.as_deref() {
        None => return Err(IngestError::new("version", "missing")),
        Some(v) if v != expected_version => {
            let reason = format!("unsupported version {v:?}, expected {expected_version:?}");
            return Err(IngestError::new("version", reason));
        }
        Some(_) => {}
    }
    let group_key = raw
        .group_key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| IngestError::new("groupKey", "missing"))?;
    limits::GROUP_KEY
        .check(&group_key)
        .map_err(|reason| IngestError::new("groupKey", reason))?;
    let raw_alerts = raw_alerts.ok_or_else(|| IngestError::new("alerts", "missing"))?;
    let alerts = raw_alerts
        .into_iter()
        .enumerate()
        .map(|(i, a)| convert_alert(a, i, &group_key, source))
        .collect::<Result<Vec<_>, _>>()?;
    let status = group_status(raw.status.as_deref(), &alerts)?;
    let grafana = (source == Source::Grafana).then_some(GrafanaInfo {
        org_id: raw.org_id,
        state: raw.state,
        title: raw.title,
        message: raw.message,
    });
    Ok(Webhook {
        source,
        group_key,
        receiver: unquote_meta(raw.receiver.as_deref().unwrap_or_default()),
        status,
        truncated_alerts: raw.truncated_alerts.unwrap_or(0),
        external_url: raw.external_url.unwrap_or_default(),
        group_labels: raw.group_labels.unwrap_or_default(),
        common_labels: raw.common_labels.unwrap_or_default(),
        common_annotations: raw.common_annotations.unwrap_or_default(),
        notification_reason: raw.notification_reason,
        route_labels: raw.route_labels,
        grafana,
        alerts,
    })
}

/// Key under which a notification is recognised as already processed: SHA-256 (hex) of the
/// `groupKey` and the sorted set of (fingerprint, status, startsAt). HA peers and
/// `repeat_interval` re-sends of an unchanged group map to the same key (PROTOCOLS §1.7);
/// an alert that resolved and fires again has a new `startsAt`, so its snapshot is news even
/// when it matches one from before the resolve within the HA copy window.
pub fn idempotency_key(webhook: &Webhook) -> String {
    let mut pairs: Vec<(&str, &str, Option<i64>)> = webhook
        .alerts
        .iter()
        .map(|a| {
            let start = a.starts_at.map(|t| t.timestamp_millis());
            (a.dedup_key.as_str(), a.status.as_str(), start)
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    // 0xff never occurs in UTF-8, so it separates fields unambiguously.
    let mut hasher = Sha256::new();
    hasher.update(webhook.group_key.as_bytes());
    for (fingerprint, status, start) in pairs {
        hasher.update([0xff]);
        hasher.update(fingerprint.as_bytes());
        hasher.update([0xff]);
        hasher.update(status.as_bytes());
        if let Some(ms) = start {
            // 0xfe (nor any UTF-8) marks the start's fixed eight bytes.
            hasher.update([0xfe]);
            hasher.update(ms.to_le_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

/// Stable stand-in for a missing fingerprint: first 16 hex digits of SHA-256 over the
/// sorted label set.
pub fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in labels {
        hasher.update(name.as_bytes());
        hasher.update([0xff]);
        hasher.update(value.as_bytes());
        hasher.update([0xff]);
    }
    let mut hex = hex::encode(hasher.finalize());
    hex.truncate(16);
    hex
}

/// Undoes Go `regexp.QuoteMeta`, which only ever inserts a backslash before a character.
fn unquote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next)) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

fn group_status(given: Option<&str>, alerts: &[Alert]) -> Result<AlertStatus, IngestError> {
    match given {
        Some(s) => AlertStatus::from_wire(s).ok_or_else(|| bad_status("status", s)),
        None if alerts.iter().any(|a| a.status == AlertStatus::Firing) => Ok(AlertStatus::Firing),
        None => Ok(AlertStatus::Resolved),
    }
}

fn bad_status(field: &str, got: &str) -> IngestError {
    IngestError::new(
        field,
        format!("expected \"firing\" or \"resolved\", got {got:?}"),
    )
}

/// The slow path: the body as JSON values, decoded part by part so that an
/// error names its field (`alerts[2].startsAt`).
fn located(body: &[u8]) -> Result<(RawWebhook<Value>, Option<Vec<RawAlert>>), IngestError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| IngestError::new("body", format!("invalid JSON: {e}")))?;
    if !value.is_object() {
        return Err(IngestError::new("body", "expected a JSON object"));
    }
    let mut raw: RawWebhook<Value> = decode(&value, "")?;
    let alerts = match raw.alerts.take() {
        None => None,
        Some(values) => Some(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| decode::<RawAlert>(v, &format!("alerts[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok((raw, alerts))
}

fn convert_alert(
    raw: RawAlert,
    index: usize,
    group_key: &str,
    source: Source,
) -> Result<Alert, IngestError> {
    let path = format!("alerts[{index}]");
    let field = |name: &str| format!("{path}.{name}");
    let labels = raw
        .labels
        .ok_or_else(|| IngestError::new(field("labels"), "missing"))?;
    if labels.is_empty() {
        return Err(IngestError::new(field("labels"), "must not be empty"));
    }
    let status_text = raw
        .status
        .ok_or_else(|| IngestError::new(field("status"), "missing"))?;
    let status = AlertStatus::from_wire(&status_text)
        .ok_or_else(|| bad_status(&field("status"), &status_text))?;
    let time = |name: &str, text: Option<&str>| {
        alert::parse_go_time(text.unwrap_or_default())
            .map_err(|()| IngestError::new(field(name), "not an RFC 3339 timestamp"))
    };
    let starts_at = time("startsAt", raw.starts_at.as_deref())?;
    // Alertmanager zeroes endsAt of firing alerts; a hand-written future endsAt means nothing yet.
    let ends_at =
        time("endsAt", raw.ends_at.as_deref())?.filter(|_| status == AlertStatus::Resolved);
    let annotations = raw.annotations.unwrap_or_default();
    check_pairs(
        &labels,
        limits::LABELS,
        limits::LABEL_VALUE,
        &field("labels"),
    )?;
    check_pairs(
        &annotations,
        limits::ANNOTATIONS,
        limits::ANNOTATION_VALUE,
        &field("annotations"),
    )?;
    let dedup_key = match raw.fingerprint.as_deref().map(str::trim) {
        Some(fp) if !fp.is_empty() => {
            limits::DEDUP_KEY
                .check(fp)
                .map_err(|reason| IngestError::new(field("fingerprint"), reason))?;
            fp.to_string()
        }
        _ => label_fingerprint(&labels),
    };
    let links = [
        (raw.generator_url.as_deref(), "Source"),
        (
            annotations.get("runbook_url").map(String::as_str),
            "Runbook",
        ),
        (raw.dashboard_url.as_deref(), "Dashboard"),
        (raw.panel_url.as_deref(), "Panel"),
    ]
    .into_iter()
    .filter_map(|(href, text)| Link::new(href?, text))
    .collect();
    let mut details = Map::new();
    let extras = [
        ("values", raw.values),
        ("valueString", raw.value_string.map(Value::String)),
        ("silenceURL", raw.silence_url.map(Value::String)),
        ("imageURL", raw.image_url.map(Value::String)),
        ("orgId", raw.org_id.map(Value::from)),
    ];
    for (key, value) in extras {
        match value {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(v) => {
                limits::json(&v, limits::DETAILS)
                    .map_err(|reason| IngestError::new(field(key), reason))?;
                details.insert(key.to_string(), v);
            }
        }
    }
    Ok(Alert {
        source,
        dedup_key,
        group_key: Some(group_key.to_string()),
        status,
        summary: alert::summarize(&labels, &annotations),
        severity: labels
            .get("severity")
            .and_then(|s| alert::Severity::from_label(s)),
        labels,
        annotations,
        links,
        starts_at,
        ends_at,
        details: Value::Object(details),
    })
}

/// A label or annotation map within its caps; the error names the entry
/// (`alerts[0].labels.instance`) or the map.
fn check_pairs(
    map: &BTreeMap<String, String>,
    count: usize,
    value: limits::Cap,
    path: &str,
) -> Result<(), IngestError> {
    limits::pairs(map, count, value).map_err(|(name, reason)| match name {
        Some(name) => IngestError::new(format!("{path}.{name}"), reason),
        None => IngestError::new(path, reason),
    })
}

/// Deserializes `value`; on failure names the first top-level key of `value` that cannot be
/// decoded on its own (every field of `T` is optional, so a one-key object isolates it).
fn decode<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, IngestError> {
    T::deserialize(value).map_err(|err| {
        let culprit = value.as_object().and_then(|obj| {
            obj.iter().find_map(|(key, v)| {
                let single = Value::Object(Map::from_iter([(key.clone(), v.clone())]));
                T::deserialize(&single).is_err().then_some(key.as_str())
            })
        });
        let field = match (path, culprit) {
            ("", None) => "body".to_string(),
            ("", Some(key)) => key.to_string(),
            (path, None) => path.to_string(),
            (path, Some(key)) => format!("{path}.{key}"),
        };
        IngestError::new(field, err.to_string())
    })
}

#[cfg(test)]
#[path = "alertmanager_tests.rs"]
mod tests;
