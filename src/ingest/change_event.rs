//! PagerDuty change events (`POST /v2/change/enqueue`) → [`ChangeEvent`].
//!
//! A change event (a deploy, a config push) is recorded for context and never pages, so it
//! is not an `Alert`. Owns its validation and its 202 answer; errors use `EventsError`.
//! Pure. An unparseable `payload.timestamp` is tolerated (`timestamp: None`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ingest::alert::{self, Link};
use crate::ingest::event_fields::{self, Checker};
use crate::ingest::events_v2::EventsError;
use crate::limits;

/// A valid change event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// The integration token.
    pub routing_key: String,
    /// What changed, at most 1024 characters.
    pub summary: String,
    /// Where it changed, if said.
    pub source: Option<String>,
    /// When it changed, if said and parseable.
    pub timestamp: Option<DateTime<Utc>>,
    /// `payload.custom_details` as sent (`null` when absent).
    pub custom_details: Value,
    /// Links to the build, the diff…
    pub links: Vec<Link>,
}

/// The 202 answer to an accepted change event.
pub fn accepted() -> (u16, Value) {
    (
        202,
        json!({"status": "success", "message": "Change event processed"}),
    )
}

/// Parses and validates a change event body.
pub fn parse(body: &[u8]) -> Result<ChangeEvent, EventsError> {
    let obj = event_fields::object(body)?;
    let mut c = Checker::default();
    let routing_key = c.required(&obj, "routing_key", "routing_key");
    let payload = c.object(&obj, "payload");
    let (summary, source) = match payload {
        Some(p) => {
            let summary = c.required(p, "summary", "payload.summary");
            c.cap(summary.as_deref(), "payload.summary", limits::SUMMARY);
            let source = c.optional(p, "source", "payload.source");
            c.cap(source.as_deref(), "payload.source", limits::LABEL_VALUE);
            c.json_cap(
                p.get("custom_details"),
                "payload.custom_details",
                limits::DETAILS,
            );
            (summary, source)
        }
        None => (None, None),
    };
    let errors = c.into_errors();
    let (Some(routing_key), Some(p), Some(summary), true) =
        (routing_key, payload, summary, errors.is_empty())
    else {
        return Err(EventsError::Invalid(errors));
    };
    Ok(ChangeEvent {
        routing_key,
        summary,
        source,
        timestamp: event_fields::text(p, "timestamp").and_then(|t| alert::parse_timestamp(&t)),
        custom_details: p.get("custom_details").cloned().unwrap_or(Value::Null),
        links: event_fields::links(&obj, "links"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("testdata/change_event.json");

    #[test]
    fn sample() {
        let expected = ChangeEvent {
            routing_key: "737ea619db564d41bd9824c6ba1b3d8a".into(),
            summary: "Build Success: Increase snapshot create timeout to 30 seconds".into(),
            source: Some("acme-build-pipeline-tool-default-i-9999".into()),
            timestamp: "2020-07-17T08:42:58.315Z".parse().ok(),
            custom_details: json!({"build_state": "passed", "build_number": "2", "run_time": "1236s"}),
            links: vec![Link {
                href: "https://acme-pipeline-tool.com/builds/2".into(),
                text: "View more details in Acme!".into(),
            }],
        };
        assert_eq!(parse(SAMPLE.as_bytes()), Ok(expected));
    }

    #[test]
    fn validation() {
        fn check(body: Value, expected: &[&str]) {
            let want = EventsError::Invalid(expected.iter().map(|s| s.to_string()).collect());
            assert_eq!(
                parse(body.to_string().as_bytes()).err(),
                Some(want),
                "{body}"
            );
        }
        check(
            json!({}),
            &[
                "'routing_key' is missing or blank",
                "'payload' is missing or blank",
            ],
        );
        check(
            json!({"routing_key": "r", "payload": []}),
            &["'payload' is invalid (must be an object)"],
        );
        check(
            json!({"routing_key": "r", "payload": {"source": 1}}),
            &[
                "'payload.summary' is missing or blank",
                "'payload.source' is invalid (must be a string)",
            ],
        );
        check(
            json!({"routing_key": "r", "payload": {"summary": "x".repeat(1025)}}),
            &["'payload.summary' is too long (maximum is 1024 characters)"],
        );
    }

    #[test]
    fn minimal_and_responses() {
        let got =
            parse(br#"{"routing_key":"r","payload":{"summary":"deploy","timestamp":"soon"}}"#);
        let minimal = got.map(|e| {
            (
                e.summary,
                e.source,
                e.timestamp,
                e.custom_details,
                e.links.len(),
            )
        });
        assert_eq!(
            minimal,
            Ok(("deploy".to_string(), None, None, Value::Null, 0))
        );
        assert_eq!(parse(b"[]"), Err(EventsError::Malformed));
        assert_eq!(
            accepted(),
            (
                202,
                json!({"status": "success", "message": "Change event processed"})
            )
        );
    }
}
