//! Property tests for every parser that takes outside input (issue 7, "bad
//! input"): none panics on arbitrary input, every rejection a webhook can
//! cause maps to a 4xx, and where a parser has an inverse the round trip
//! holds. 256 cases per property keeps `cargo test` fast; set
//! `PROPTEST_CASES` for a longer session.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use tocsin::duration::Span;
use tocsin::ingest::{alertmanager, events_v2, grafana};
use tocsin::notify::Action;
use tocsin::notify::ack_token::{self, Claims};
use tocsin::notify::reply::{self, Reply};
use tocsin::notify::twilio_sig;
use tocsin::routing::WorkingHours;

/// 256 cases each, or `PROPTEST_CASES` for a longer session.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON values, a few levels deep, biased toward the shapes the
/// parsers look for.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::from),
        prop_oneof![
            Just("4"),
            Just("1"),
            Just("firing"),
            Just("resolved"),
            Just("trigger"),
            Just("acknowledge"),
            Just("resolve"),
            Just("critical"),
            Just("2026-11-25T09:00:00Z"),
            Just("0001-01-01T00:00:00Z"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        let key = prop_oneof![
            Just("version".to_string()),
            Just("groupKey".to_string()),
            Just("alerts".to_string()),
            Just("status".to_string()),
            Just("labels".to_string()),
            Just("annotations".to_string()),
            Just("startsAt".to_string()),
            Just("endsAt".to_string()),
            Just("fingerprint".to_string()),
            Just("routing_key".to_string()),
            Just("event_action".to_string()),
            Just("dedup_key".to_string()),
            Just("payload".to_string()),
            Just("summary".to_string()),
            Just("severity".to_string()),
            Just("source".to_string()),
            Just("links".to_string()),
            Just("values".to_string()),
            Just("truncatedAlerts".to_string()),
            "[a-z]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,12}", ".{0,24}", 1..6)
}

fn am_body(version: &str, group_key: &str, alerts: &[(BTreeMap<String, String>, u64)]) -> Vec<u8> {
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(labels, fp)| {
            json!({
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "s"},
                "startsAt": "2026-11-25T08:59:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": format!("{fp:016x}"),
            })
        })
        .collect();
    json!({
        "receiver": "r", "status": "firing", "alerts": alerts, "groupLabels": {},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "version": version, "groupKey": group_key, "truncatedAlerts": 0,
    })
    .to_string()
    .into_bytes()
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Ack),
        Just(Action::Resolve),
        Just(Action::Escalate)
    ]
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970 to 2100, whole seconds (what an acknowledge token keeps).
    (0i64..4_102_444_800).prop_map(|s| Utc.timestamp_opt(s, 0).single().unwrap_or_default())
}

proptest! {
    #![proptest_config(config())]

    // --- Alertmanager and Grafana webhooks -------------------------------

    #[test]
    fn alertmanager_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = alertmanager::parse(&body);
        let _ = grafana::parse(&body);
    }

    #[test]
    fn alertmanager_never_panics_on_json(v in json_value()) {
        let body = v.to_string();
        let _ = alertmanager::parse(body.as_bytes());
        let _ = grafana::parse(body.as_bytes());
    }

    #[test]
    fn alertmanager_keeps_group_key_labels_and_fingerprints(
        group_key in ".{1,40}",
        alerts in prop::collection::vec((label_map(), any::<u64>()), 1..4),
    ) {
        let w = alertmanager::parse(&am_body("4", &group_key, &alerts))
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(&w.group_key, &group_key);
        prop_assert_eq!(w.alerts.len(), alerts.len());
        for (got, (labels, fp)) in w.alerts.iter().zip(&alerts) {
            prop_assert_eq!(&got.labels, labels);
            prop_assert_eq!(&got.dedup_key, &format!("{fp:016x}"));
        }
        // The duplicate key ignores the order alerts arrive in.
        let mut reversed = alerts.clone();
        reversed.reverse();
        let w2 = alertmanager::parse(&am_body("4", &group_key, &reversed))
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(alertmanager::idempotency_key(&w), alertmanager::idempotency_key(&w2));
        // The same skeleton is Grafana's only with version "1".
        prop_assert!(grafana::parse(&am_body("4", &group_key, &alerts)).is_err());
        prop_assert!(grafana::parse(&am_body("1", &group_key, &alerts)).is_ok());
    }

    #[test]
    fn grafana_signature_round_trips(
        secret in prop::collection::vec(any::<u8>(), 0..40),
        body in prop::collection::vec(any::<u8>(), 0..200),
        ts in proptest::option::of("[0-9]{1,12}"),
        header in proptest::option::of(".{0,80}"),
    ) {
        let sig = grafana::sign(&secret, &body, ts.as_deref());
        prop_assert!(grafana::verify_signature(&secret, &body, Some(&sig), ts.as_deref()));
        prop_assert!(grafana::verify_signature(&secret, &body, Some(&sig.to_uppercase()), ts.as_deref()));
        let _ = grafana::verify_signature(&secret, &body, header.as_deref(), ts.as_deref());
        let mut other = body.clone();
        other.push(0);
        prop_assert!(!grafana::verify_signature(&secret, &other, Some(&sig), ts.as_deref()));
    }

    // --- PagerDuty Events v2 ---------------------------------------------

    #[test]
    fn events_v2_never_panics_and_rejects_with_4xx(v in json_value(), raw in prop::collection::vec(any::<u8>(), 0..256)) {
        for body in [v.to_string().into_bytes(), raw] {
            if let Err(e) = events_v2::parse(&body, || "generated".to_string()) {
                let (code, _) = e.response();
                prop_assert!((400..500).contains(&code), "{code}");
            }
        }
    }

    #[test]
    fn events_v2_keeps_routing_and_dedup_keys(
        routing_key in "[a-zA-Z0-9]{1,40}",
        dedup_key in proptest::option::of("[^\u{0}]{1,60}"),
        summary in "[^\\s][^\u{0}]{0,80}",
        action in prop_oneof![Just("trigger"), Just("acknowledge"), Just("resolve")],
    ) {
        let mut v = json!({
            "routing_key": routing_key,
            "event_action": action,
            "payload": {"summary": summary, "source": "src", "severity": "error"},
        });
        if let Some(k) = &dedup_key {
            v["dedup_key"] = json!(k);
        }
        let parsed = events_v2::parse(v.to_string().as_bytes(), || "generated".to_string());
        // A blank key counts as no key.
        let dedup_key = dedup_key.filter(|k| !k.trim().is_empty());
        if action != "trigger" && dedup_key.is_none() {
            // Only a trigger may omit the key.
            prop_assert!(parsed.is_err());
            return Ok(());
        }
        let e = parsed.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(&e.routing_key, &routing_key);
        prop_assert_eq!(&e.dedup_key, dedup_key.as_deref().unwrap_or("generated"));
        prop_assert_eq!(Some(e.action), events_v2::Action::from_wire(action));
    }

    // --- SMS replies -------------------------------------------------------

    #[test]
    fn sms_reply_never_panics(body in ".{0,100}") {
        let _ = reply::parse(&body);
    }

    #[test]
    fn sms_reply_reads_every_command_form(
        verb in prop_oneof![
            Just(("ack", Action::Ack)), Just(("A", Action::Ack)), Just(("Acknowledge", Action::Ack)),
            Just(("res", Action::Resolve)), Just(("RESOLVE", Action::Resolve)), Just(("r", Action::Resolve)),
            Just(("esc", Action::Escalate)), Just(("e", Action::Escalate)),
        ],
        n in any::<u64>(),
        sep in prop_oneof![Just(""), Just(" "), Just(" #"), Just("  ")],
        end in prop_oneof![Just(""), Just("."), Just("!"), Just("  ")],
    ) {
        let body = format!(" {}{sep}{n}{end}", verb.0);
        prop_assert_eq!(reply::parse(&body), Reply::Command { action: verb.1, incident: Some(n) });
    }

    // --- Acknowledge-link tokens -------------------------------------------

    #[test]
    fn ack_token_verify_never_panics(
        secret in prop::collection::vec(any::<u8>(), 0..40),
        token in ".{0,120}",
        now in instant(),
    ) {
        let _ = ack_token::verify(&secret, &token, now);
    }

    #[test]
    fn ack_token_round_trips_and_detects_tampering(
        secret in prop::collection::vec(any::<u8>(), 1..40),
        incident in any::<u64>(),
        person in ".{0,30}",
        action in action(),
        expires in instant(),
        flip in any::<prop::sample::Index>(),
    ) {
        let claims = Claims { incident, person, action, expires };
        let token = ack_token::sign(&secret, &claims);
        let before = expires - chrono::Duration::seconds(1);
        prop_assert_eq!(ack_token::verify(&secret, &token, before), Ok(claims.clone()));
        prop_assert_eq!(ack_token::verify(&secret, &token, expires), Err(ack_token::TokenError::Expired));
        // Changing any character of the token breaks it.
        let mut chars: Vec<char> = token.chars().collect();
        let i = flip.index(chars.len());
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        prop_assert!(ack_token::verify(&secret, &tampered, before).is_err());
    }

    // --- Twilio signatures ---------------------------------------------------

    #[test]
    fn twilio_signature_round_trips(
        token in "[!-~]{1,40}",
        url in "https?://[a-z.]{1,20}(:[0-9]{1,5})?/[!-~]{0,30}",
        params in prop::collection::vec((".{0,12}", ".{0,20}"), 0..8),
        header in proptest::option::of(".{0,40}"),
    ) {
        let sig = twilio_sig::expected_signature(&token, &url, &params);
        prop_assert!(twilio_sig::validate(&[&token], &url, &params, Some(&sig)));
        prop_assert!(twilio_sig::validate(&["other-token", &token], &url, &params, Some(&sig)));
        let mut shuffled = params.clone();
        shuffled.reverse();
        prop_assert!(twilio_sig::validate(&[&token], &url, &shuffled, Some(&sig)));
        prop_assert!(!twilio_sig::validate(&[&token], &url, &params, None));
        let mut extra = params.clone();
        extra.push(("Injected".into(), "1".into()));
        prop_assert!(!twilio_sig::validate(&[&token], &url, &extra, Some(&sig)));
        let _ = twilio_sig::validate(&[&token], &url, &params, header.as_deref());
    }

    #[test]
    fn twilio_validate_never_panics_on_any_url(
        url in ".{0,60}",
        params in prop::collection::vec((".{0,8}", ".{0,8}"), 0..4),
        header in ".{0,40}",
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = twilio_sig::validate(&["t"], &url, &params, Some(&header));
        let _ = twilio_sig::validate_json(&["t"], &url, &body, Some(&header));
    }

    // --- Durations, working hours, instants ------------------------------------

    #[test]
    fn span_never_panics(s in ".{0,30}") {
        if let Ok(span) = Span::parse(&s) {
            prop_assert!(span.as_secs() > 0);
        }
    }

    #[test]
    fn span_display_round_trips(secs in 1u64..=10 * 365 * 86_400) {
        let span = Span::from_secs(secs);
        prop_assert_eq!(Span::parse(&span.to_string()), Ok(span));
    }

    #[test]
    fn working_hours_never_panic(
        entries in prop::collection::vec(
            prop_oneof![
                ".{0,30}",
                "(mon|tue|wed|thu|fri|sat|sun|daily|weekdays|weekends|[a-z]{1,5})([-,](mon|sun|[a-z]{1,4}))? [0-9]{1,2}:[0-9]{1,2}-[0-9]{1,2}:[0-9]{1,2}",
            ],
            0..4,
        ),
        t in instant(),
    ) {
        if let Ok(h) = WorkingHours::parse(&entries) {
            let _ = h.contains(chrono_tz::Europe::Berlin, t);
            let _ = h.contains(chrono_tz::Pacific::Chatham, t);
        }
    }

    #[test]
    fn working_hours_cover_what_they_say(
        day in 0u32..7,
        start in 0u32..24 * 60,
        len in 1u32..24 * 60,
        probe in 0u32..24 * 60,
    ) {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let end = (start + len).min(24 * 60);
        prop_assume!(end > start);
        let entry = format!(
            "{} {:02}:{:02}-{:02}:{:02}",
            DAYS[day as usize], start / 60, start % 60, end / 60, end % 60
        );
        let h = WorkingHours::parse(&[&entry]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // 2026-11-23 is a Monday; UTC has no clock changes.
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).single().unwrap_or_default()
            + chrono::Duration::days(i64::from(day))
            + chrono::Duration::minutes(i64::from(probe));
        prop_assert_eq!(h.contains(chrono_tz::UTC, t), probe >= start && probe < end, "{}", entry);
    }

    #[test]
    fn when_never_panics_and_reads_rfc3339(s in ".{0,40}", t in instant(), offset_min in -14 * 60i32..=14 * 60) {
        let _ = tocsin::when::parse(&s, chrono_tz::Europe::Berlin);
        let zone = chrono::FixedOffset::east_opt(offset_min * 60)
            .ok_or_else(|| TestCaseError::fail("offset in range"))?;
        let text = t.with_timezone(&zone).to_rfc3339();
        prop_assert_eq!(tocsin::when::parse(&text, chrono_tz::Asia::Tokyo), Ok(t));
    }

    // --- The YAML configuration ------------------------------------------------

    #[test]
    fn config_never_panics_on_text(text in prop_oneof![
        ".{0,200}",
        prop::collection::vec(
            prop_oneof![
                Just("server:\n  listen: 127.0.0.1:0\n".to_string()),
                Just("storage:\n  sqlite: x.db\n".to_string()),
                Just("people:\n  - id: a\n    phone: \"+4915110000001\"\n    working_hours: [always]\n".to_string()),
                Just("teams:\n  - { id: t, lead: a, members: [a] }\n".to_string()),
                Just("projects:\n  - { id: p, team: t }\n".to_string()),
                Just("escalation_policies:\n  - id: default\n    steps:\n      - { notify: nearest, via: [sms], wait: 5m }\n".to_string()),
                Just("include: ['*.yaml']\n".to_string()),
                Just("timezone: ${TZ_VAR}\n".to_string()),
                Just("limits: { sms_per_hour: -1 }\n".to_string()),
                "[a-z_]{1,12}: .{0,20}\n",
                "  - .{0,20}\n",
                "[\\[\\]{}:&*!|>'\"%@`#, -]{0,12}\n",
            ],
            0..8,
        ).prop_map(|v| v.concat()),
    ]) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("tocsin.yaml");
        std::fs::write(&path, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Err(errors) = tocsin::config::load_with_env(&path, &|k| (k == "TZ_VAR").then(|| "UTC".to_string())) {
            prop_assert!(!errors.0.is_empty(), "an error result names at least one error");
        }
    }
}
