use super::*;
use std::cell::Cell;

const SAMPLE: &str = include_str!("testdata/events_v2_trigger.json");

fn key() -> String {
    "generated-key".to_string()
}

fn sample_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(SAMPLE).unwrap_or_default();
    edit(&mut v);
    v.to_string()
}

fn parse_ok(body: &str) -> Event {
    match parse(body.as_bytes(), key) {
        Ok(e) => e,
        Err(e) => panic!("expected an event, got {e}"),
    }
}

#[test]
fn sample_trigger() {
    let event = parse_ok(SAMPLE);
    assert_eq!(event.source, Source::EventsV2);
    assert_eq!(event.routing_key, "samplekeyhere");
    assert_eq!(
        (event.action, event.dedup_key.as_str()),
        (Action::Trigger, "samplekeyhere")
    );
    let expected = Alert {
        source: Source::EventsV2,
        dedup_key: "samplekeyhere".into(),
        group_key: None,
        status: AlertStatus::Firing,
        summary: "Example alert on host1.example.com".into(),
        severity: Some(Severity::Critical),
        labels: [
            ("class", "deploy"),
            ("component", "postgres"),
            ("group", "prod-datapipe"),
            ("severity", "critical"),
            ("source", "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        annotations: BTreeMap::new(),
        links: vec![
            Link { href: "https://example.com/".into(), text: "Link text".into() },
            Link { href: "https://monitoring.example.com".into(), text: "Sample Monitoring Service".into() },
        ],
        starts_at: "2015-07-17T08:42:58.315Z".parse().ok(),
        ends_at: None,
        details: json!({
            "custom_details": {"ping time": "1500ms", "load avg": 0.75},
            "images": [{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                        "href": "https://example.com/", "alt": "Example text"}],
            "client": "Sample Monitoring Service",
        }),
    };
    assert_eq!(event.alert, Some(expected));
}

#[test]
fn generated_dedup_key_only_when_absent() {
    let calls = Cell::new(0);
    let counting = || {
        calls.set(calls.get() + 1);
        "fresh".to_string()
    };
    let without = sample_with(|v| drop(v.as_object_mut().map(|o| o.remove("dedup_key"))));
    let event = parse(without.as_bytes(), counting).ok();
    assert_eq!(event.as_ref().map(|e| e.dedup_key.as_str()), Some("fresh"));
    assert_eq!(
        event.and_then(|e| e.alert).map(|a| a.dedup_key),
        Some("fresh".to_string())
    );
    let blank = sample_with(|v| v["dedup_key"] = json!("  "));
    assert_eq!(
        parse(blank.as_bytes(), key).ok().map(|e| e.dedup_key),
        Some(key())
    );
    let given = parse(SAMPLE.as_bytes(), || {
        calls.set(calls.get() + 100);
        String::new()
    });
    assert_eq!(
        given.ok().map(|e| e.dedup_key),
        Some("samplekeyhere".to_string())
    );
    assert_eq!(
        calls.get(),
        1,
        "new_key called exactly once, for the keyless trigger"
    );
}

#[test]
fn acknowledge_and_resolve() {
    fn check(body: Value, expected: Result<(Action, &str), Vec<&str>>) {
        let got = parse(body.to_string().as_bytes(), key);
        let want = expected
            .map(|(action, dedup_key)| Event {
                source: Source::EventsV2,
                routing_key: "rk".into(),
                action,
                dedup_key: dedup_key.into(),
                alert: None,
            })
            .map_err(|errs| EventsError::Invalid(errs.into_iter().map(String::from).collect()));
        assert_eq!(got, want, "{body}");
    }
    check(
        json!({"routing_key": "rk", "event_action": "acknowledge", "dedup_key": "k1"}),
        Ok((Action::Acknowledge, "k1")),
    );
    check(
        json!({"routing_key": "rk", "event_action": "resolve", "dedup_key": "k1", "payload": {}}),
        Ok((Action::Resolve, "k1")),
    );
    check(
        json!({"routing_key": "rk", "event_action": "acknowledge"}),
        Err(vec!["'dedup_key' is missing or blank"]),
    );
    check(
        json!({"routing_key": "rk", "event_action": "resolve", "dedup_key": ""}),
        Err(vec!["'dedup_key' is missing or blank"]),
    );
}

#[test]
fn every_validation_rule() {
    fn check(edit: impl FnOnce(&mut Value), expected: &[&str]) {
        let body = sample_with(edit);
        let want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            parse(body.as_bytes(), key).err(),
            Some(EventsError::Invalid(want)),
            "{body}"
        );
    }
    let remove = |v: &mut Value, key: &str| drop(v.as_object_mut().map(|o| o.remove(key)));
    check(
        |v| remove(v, "routing_key"),
        &["'routing_key' is missing or blank"],
    );
    check(
        |v| v["routing_key"] = json!(""),
        &["'routing_key' is missing or blank"],
    );
    check(
        |v| v["routing_key"] = json!(42),
        &["'routing_key' is invalid (must be a string)"],
    );
    check(
        |v| remove(v, "event_action"),
        &["'event_action' is missing or blank"],
    );
    check(
        |v| v["event_action"] = json!("explode"),
        &[
            "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')",
        ],
    );
    check(
        |v| v["dedup_key"] = json!("k".repeat(256)),
        &["'dedup_key' is too long (maximum is 255 characters)"],
    );
    check(
        |v| v["dedup_key"] = json!(7),
        &["'dedup_key' is invalid (must be a string)"],
    );
    check(|v| remove(v, "payload"), &["'payload' is missing or blank"]);
    check(
        |v| v["payload"] = json!("text"),
        &["'payload' is invalid (must be an object)"],
    );
    check(
        |v| v["payload"]["summary"] = json!(" "),
        &["'payload.summary' is missing or blank"],
    );
    check(
        |v| v["payload"]["summary"] = json!("s".repeat(1025)),
        &["'payload.summary' is too long (maximum is 1024 characters)"],
    );
    check(
        |v| v["payload"]["source"] = Value::Null,
        &["'payload.source' is missing or blank"],
    );
    check(
        |v| remove(&mut v["payload"], "severity"),
        &["'payload.severity' is missing or blank"],
    );
    check(
        |v| v["payload"]["severity"] = json!("fatal"),
        &[
            "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')",
        ],
    );
    check(
        |v| v["payload"]["component"] = json!(["x"]),
        &["'payload.component' is invalid (must be a string)"],
    );
    check(
        |v| v["payload"]["source"] = json!("s".repeat(4097)),
        &["'payload.source' is too long (maximum is 4096 bytes)"],
    );
    check(
        |v| v["payload"]["class"] = json!("c".repeat(4097)),
        &["'payload.class' is too long (maximum is 4096 bytes)"],
    );
    check(
        |v| v["payload"]["custom_details"] = json!({"log": "x".repeat(65536)}),
        &["'payload.custom_details' is too large (maximum is 65536 bytes of JSON)"],
    );
    check(
        |v| v["images"] = json!([{"src": "x".repeat(65536)}]),
        &["'images' is too large (maximum is 65536 bytes of JSON)"],
    );
    check(
        |v| v["client"] = json!("c".repeat(4097)),
        &["'client' is too long (maximum is 4096 bytes)"],
    );
    check(
        |v| v["payload"] = json!({}),
        &[
            "'payload.summary' is missing or blank",
            "'payload.source' is missing or blank",
            "'payload.severity' is missing or blank",
        ],
    );
    check(
        |v| {
            remove(v, "routing_key");
            v["dedup_key"] = json!("k".repeat(300));
            v["payload"]["severity"] = json!("bad");
        },
        &[
            "'routing_key' is missing or blank",
            "'dedup_key' is too long (maximum is 255 characters)",
            "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')",
        ],
    );
}

#[test]
fn limits_are_inclusive_and_routing_key_any_length() {
    fn check(edit: impl FnOnce(&mut Value)) {
        let body = sample_with(edit);
        assert!(parse(body.as_bytes(), key).is_ok(), "{body}");
    }
    check(|v| v["dedup_key"] = json!("é".repeat(255)));
    check(|v| v["payload"]["summary"] = json!("é".repeat(1024)));
    check(|v| v["routing_key"] = json!("x"));
    check(|v| v["routing_key"] = json!("r".repeat(100)));
    check(|v| v["payload"]["source"] = json!("s".repeat(4096)));
    check(|v| v["payload"]["custom_details"] = json!("x".repeat(65534)));
}

#[test]
fn links_past_the_cap_are_dropped_not_the_event() {
    let body = sample_with(|v| {
        let many: Vec<Value> = (0..100)
            .map(|i| json!({"href": format!("https://x/{i}")}))
            .collect();
        v["links"] = json!(many);
        v["client_url"] = Value::Null;
    });
    let alert = parse_ok(&body).alert;
    assert_eq!(
        alert.map(|a| a.links.len()),
        Some(crate::limits::LINKS),
        "the first ones kept"
    );
}

#[test]
fn severity_mapping() {
    fn check(word: &str, expected: Severity) {
        let body = sample_with(|v| v["payload"]["severity"] = json!(word));
        let alert = parse(body.as_bytes(), key).ok().and_then(|e| e.alert);
        assert_eq!(alert.and_then(|a| a.severity), Some(expected), "{word}");
    }
    check("critical", Severity::Critical);
    check("error", Severity::Major);
    check("warning", Severity::Minor);
    check("info", Severity::Info);
    check("Warning", Severity::Minor);
}

#[test]
fn bad_timestamp_and_decorations_are_tolerated() {
    let body = sample_with(|v| {
        v["payload"]["timestamp"] = json!("last tuesday");
        v["links"] = json!([{"text": "no href"}, 5, {"href": "https://ok"}]);
        v["images"] = json!("not a list");
    });
    let alert = parse_ok(&body).alert;
    assert_eq!(alert.as_ref().map(|a| a.starts_at), Some(None));
    assert_eq!(
        alert.as_ref().map(|a| a.details["timestamp"].clone()),
        Some(json!("last tuesday"))
    );
    let hrefs: Vec<String> = alert
        .map(|a| a.links.into_iter().map(|l| l.href).collect())
        .unwrap_or_default();
    assert_eq!(hrefs, ["https://ok", "https://monitoring.example.com"]);
}

#[test]
fn malformed_bodies() {
    for body in ["", "{", "[]", "\"text\"", "null", "{\"routing_key\": }"] {
        assert_eq!(
            parse(body.as_bytes(), key).err(),
            Some(EventsError::Malformed),
            "{body:?}"
        );
    }
}

#[test]
fn responses_match_pagerduty() {
    fn check(got: (u16, Value), status: u16, body: Value) {
        assert_eq!(got, (status, body));
    }
    check(
        accepted("abc"),
        202,
        json!({"status": "success", "message": "Event processed", "dedup_key": "abc"}),
    );
    check(
        EventsError::Malformed.response(),
        400,
        json!({"status": "Unrecognized object", "message": "Event object format is unrecognized",
               "errors": ["JSON parse error"]}),
    );
    check(
        EventsError::Invalid(vec!["'payload' is missing or blank".into()]).response(),
        400,
        json!({"status": "invalid event", "message": "Event object is invalid",
               "errors": ["'payload' is missing or blank"]}),
    );
}
