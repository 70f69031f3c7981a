//! Legacy PagerDuty Events API v1 (`POST /generic/2010-04-15/create_event.json`) → [`Event`].
//!
//! Owns the v1 field names (`service_key`, `event_type`, `incident_key`, `description`,
//! `details`, `client`, `client_url`, `contexts`) and v1's 200 answer. v1 has no severity:
//! the alert's `severity` is `None` and routing decides. Errors use `EventsError` like v2.
//! Pure: a generated incident key comes from the caller's closure.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::ingest::alert::{Alert, AlertStatus, Link, Source};
use crate::ingest::event_fields::{self, Checker};
use crate::ingest::events_v2::{self, Action, Event, EventsError};
use crate::limits;

/// The 200 answer to an accepted v1 event.
pub fn accepted(incident_key: &str) -> (u16, Value) {
    (
        200,
        json!({"status": "success", "message": "Event processed", "incident_key": incident_key}),
    )
}

/// Parses and validates a v1 body; `new_key` is called only for a trigger without
/// `incident_key`.
pub fn parse(body: &[u8], new_key: impl FnOnce() -> String) -> Result<Event, EventsError> {
    let obj = event_fields::object(body)?;
    let mut c = Checker::default();
    let service_key = c.required(&obj, "service_key", "service_key");
    let action = c.required(&obj, "event_type", "event_type").and_then(|t| {
        let action = Action::from_wire(&t);
        if action.is_none() {
            c.push(events_v2::invalid_one_of(
                "event_type",
                "'trigger', 'acknowledge' or 'resolve'",
            ));
        }
        action
    });
    let incident_key = c.optional(&obj, "incident_key", "incident_key");
    c.cap(incident_key.as_deref(), "incident_key", limits::DEDUP_KEY);
    if incident_key.is_none() && matches!(action, Some(Action::Acknowledge | Action::Resolve)) {
        c.missing("incident_key");
    }
    let description = if action == Some(Action::Trigger) {
        c.required(&obj, "description", "description")
    } else {
        c.optional(&obj, "description", "description")
    };
    c.cap(description.as_deref(), "description", limits::SUMMARY);
    c.json_cap(obj.get("details"), "details", limits::DETAILS);
    c.cap(
        event_fields::text(&obj, "client").as_deref(),
        "client",
        limits::LABEL_VALUE,
    );
    let errors = c.into_errors();
    let (Some(routing_key), Some(action), true) = (service_key, action, errors.is_empty()) else {
        return Err(EventsError::Invalid(errors));
    };
    let dedup_key = incident_key.unwrap_or_else(new_key);
    let alert = match (action, description) {
        (Action::Trigger, Some(summary)) => Some(trigger_alert(&obj, &dedup_key, summary)),
        _ => None,
    };
    Ok(Event {
        source: Source::EventsV1,
        routing_key,
        action,
        dedup_key,
        alert,
    })
}

fn trigger_alert(obj: &Map<String, Value>, dedup_key: &str, summary: String) -> Alert {
    let mut links = contexts(obj);
    links.extend(events_v2::client_link(obj));
    let mut details = Map::new();
    if let Some(v) = obj.get("details").filter(|v| !v.is_null()) {
        details.insert("details".into(), v.clone());
    }
    if let Some(client) = event_fields::text(obj, "client") {
        details.insert("client".into(), Value::String(client));
    }
    Alert {
        source: Source::EventsV1,
        dedup_key: dedup_key.to_string(),
        group_key: None,
        status: AlertStatus::Firing,
        summary,
        severity: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        links,
        starts_at: None,
        ends_at: None,
        details: Value::Object(details),
    }
}

/// v1 `contexts` of `type: "link"`; images, malformed entries and those past
/// [`limits::LINKS`] are skipped.
fn contexts(obj: &Map<String, Value>) -> Vec<Link> {
    let Some(Value::Array(items)) = obj.get("contexts") else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("link"))
        .filter_map(|item| {
            let href = item.get("href")?.as_str()?;
            Link::new(
                href,
                item.get("text").and_then(Value::as_str).unwrap_or_default(),
            )
        })
        .take(limits::LINKS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("testdata/events_v1_trigger.json");

    fn key() -> String {
        "generated".to_string()
    }

    #[test]
    fn sample_trigger() {
        let event = parse(SAMPLE.as_bytes(), key);
        let expected_alert = Alert {
            source: Source::EventsV1,
            dedup_key: "generated".into(),
            group_key: None,
            status: AlertStatus::Firing,
            summary: "FAILURE for production/HTTP on machine srv01.acme.com".into(),
            severity: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            links: vec![
                Link {
                    href: "http://acme.pagerduty.com".into(),
                    text: "View the incident on PagerDuty".into(),
                },
                Link {
                    href: "https://monitoring.service.com".into(),
                    text: "Sample Monitoring Service".into(),
                },
            ],
            starts_at: None,
            ends_at: None,
            details: json!({"details": {"ping time": "1500ms", "load avg": 0.75}, "client": "Sample Monitoring Service"}),
        };
        let expected = Event {
            source: Source::EventsV1,
            routing_key: "e93facc04764012d7bfb002500d5d1a6".into(),
            action: Action::Trigger,
            dedup_key: "generated".into(),
            alert: Some(expected_alert),
        };
        assert_eq!(event, Ok(expected));
    }

    #[test]
    fn validation() {
        fn check(body: Value, expected: Result<(Action, &str), Vec<&str>>) {
            let got = parse(body.to_string().as_bytes(), key).map(|e| (e.action, e.dedup_key));
            let want = expected
                .map(|(a, k)| (a, k.to_string()))
                .map_err(|errs| EventsError::Invalid(errs.into_iter().map(String::from).collect()));
            assert_eq!(got, want, "{body}");
        }
        check(
            json!({"service_key": "s", "event_type": "trigger", "description": "d", "incident_key": "k"}),
            Ok((Action::Trigger, "k")),
        );
        check(
            json!({"service_key": "s", "event_type": "resolve", "incident_key": "k"}),
            Ok((Action::Resolve, "k")),
        );
        check(
            json!({"service_key": "s", "event_type": "acknowledge", "incident_key": "k", "description": "x"}),
            Ok((Action::Acknowledge, "k")),
        );
        check(
            json!({"service_key": "s", "event_type": "acknowledge"}),
            Err(vec!["'incident_key' is missing or blank"]),
        );
        check(
            json!({"service_key": "s", "event_type": "trigger"}),
            Err(vec!["'description' is missing or blank"]),
        );
        check(
            json!({"event_type": "page", "description": "d"}),
            Err(vec![
                "'service_key' is missing or blank",
                "'event_type' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')",
            ]),
        );
        check(
            json!({"service_key": "s", "event_type": "trigger", "description": "d".repeat(1025), "incident_key": "k".repeat(256)}),
            Err(vec![
                "'incident_key' is too long (maximum is 255 characters)",
                "'description' is too long (maximum is 1024 characters)",
            ]),
        );
    }

    #[test]
    fn malformed_and_responses() {
        assert_eq!(parse(b"nope", key), Err(EventsError::Malformed));
        assert_eq!(
            accepted("k1"),
            (
                200,
                json!({"status": "success", "message": "Event processed", "incident_key": "k1"})
            )
        );
    }
}
