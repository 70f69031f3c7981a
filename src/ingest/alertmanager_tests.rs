use super::*;
use crate::ingest::alert::Severity;
use chrono::{DateTime, Utc};
use serde_json::json;

const CAPTURED: &str = include_str!("testdata/am_captured.json");
const RESOLVED: &str = include_str!("testdata/am_resolved.json");
const POST_025: &str = include_str!("testdata/am_post025.json");

fn ok(body: &str) -> Webhook {
    match parse(body.as_bytes()) {
        Ok(w) => w,
        Err(e) => panic!("expected a webhook, got {e}"),
    }
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    s.parse().ok()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The captured payload with one edit applied, serialized again.
fn captured_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(CAPTURED).unwrap_or_default();
    edit(&mut v);
    v.to_string()
}

#[test]
fn captured_025_payload() {
    let w = ok(CAPTURED);
    assert_eq!(w.source, Source::Alertmanager);
    assert_eq!(w.group_key, "{}:{alertname=\"DiskFull\"}");
    assert_eq!(w.receiver, "hook");
    assert_eq!(w.status, AlertStatus::Firing);
    assert_eq!(w.truncated_alerts, 1);
    assert_eq!(w.external_url, "http://vm:19090");
    assert_eq!(w.group_labels, labels(&[("alertname", "DiskFull")]));
    assert_eq!(
        w.common_annotations,
        labels(&[("summary", "disk full on a")])
    );
    assert_eq!(
        (
            w.notification_reason.clone(),
            w.route_labels.clone(),
            w.grafana.clone()
        ),
        (None, None, None)
    );
    let expected = Alert {
        source: Source::Alertmanager,
        dedup_key: "c983275ddb2fa78c".into(),
        group_key: Some("{}:{alertname=\"DiskFull\"}".into()),
        status: AlertStatus::Firing,
        summary: "disk full on a".into(),
        severity: Some(Severity::Critical),
        labels: labels(&[
            ("alertname", "DiskFull"),
            ("instance", "a"),
            ("severity", "page"),
        ]),
        annotations: labels(&[("summary", "disk full on a")]),
        links: vec![Link {
            href: "http://prom:9090/graph?g0.expr=x".into(),
            text: "Source".into(),
        }],
        starts_at: time("2026-11-24T21:18:48.543457853Z"),
        ends_at: None,
        details: json!({}),
    };
    assert_eq!(w.alerts, vec![expected]);
}

#[test]
fn resolved_group() {
    let w = ok(RESOLVED);
    assert_eq!(w.receiver, "team.pager", "QuoteMeta escaping removed");
    assert_eq!(w.status, AlertStatus::Resolved);
    assert_eq!(w.truncated_alerts, 0);
    let [first, second] = w.alerts.as_slice() else {
        panic!("expected two alerts, got {}", w.alerts.len());
    };
    assert_eq!(first.status, AlertStatus::Resolved);
    assert_eq!(
        first.starts_at,
        time("2026-11-24T20:00:00Z"),
        "offset converted to UTC"
    );
    assert_eq!(first.ends_at, time("2026-11-24T20:30:15.25Z"));
    assert_eq!(first.summary, "p99 latency above 2s");
    assert_eq!(first.severity, Some(Severity::Minor));
    let hrefs: Vec<&str> = first.links.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(hrefs, ["Source", "Runbook"]);
    assert_eq!(second.summary, "HighLatency on api-2:9100");
    assert_eq!(second.links, vec![], "empty generatorURL is no link");
    assert_eq!(second.ends_at, time("2026-11-24T20:31:00Z"));
}

#[test]
fn truncated_group_keeps_count_and_sent_alerts() {
    let body = captured_with(|v| v["truncatedAlerts"] = json!(7));
    let w = ok(&body);
    assert_eq!((w.truncated_alerts, w.alerts.len()), (7, 1));
}

#[test]
fn fifty_alert_group() {
    let alerts: Vec<Value> = (0..50)
        .map(|i| {
            json!({"status": if i % 5 == 0 { "resolved" } else { "firing" },
                   "labels": {"alertname": "NodeDown", "instance": format!("node-{i:02}")},
                   "annotations": {}, "startsAt": "2026-01-01T00:00:00Z",
                   "endsAt": if i % 5 == 0 { "2026-01-01T01:00:00Z" } else { "0001-01-01T00:00:00Z" },
                   "generatorURL": "", "fingerprint": format!("{i:016x}")})
        })
        .collect();
    let body = captured_with(|v| v["alerts"] = Value::Array(alerts));
    let w = ok(&body);
    assert_eq!(w.alerts.len(), 50);
    let keys: std::collections::BTreeSet<&str> =
        w.alerts.iter().map(|a| a.dedup_key.as_str()).collect();
    assert_eq!(keys.len(), 50);
    assert_eq!(w.alerts[49].summary, "NodeDown on node-49", "order kept");
    let resolved = w
        .alerts
        .iter()
        .filter(|a| a.status == AlertStatus::Resolved)
        .count();
    assert_eq!(resolved, 10);
}

#[test]
fn post_025_and_unknown_fields() {
    let w = ok(POST_025);
    assert_eq!(w.notification_reason.as_deref(), Some("new alerts added"));
    assert_eq!(w.route_labels, Some(labels(&[("team", "four")])));
    assert_eq!(w.alerts.len(), 1);
    assert_eq!(w.alerts[0].dedup_key, "ffeeddccbbaa9988");
    assert_eq!(w.alerts[0].severity, Some(Severity::Critical));
    assert_eq!(w.alerts[0].starts_at, time("2031-01-02T03:04:05Z"));
}

#[test]
fn rejections_name_the_field() {
    fn check(body: &str, field: &str) {
        match parse(body.as_bytes()) {
            Ok(_) => panic!("expected an error on {field}"),
            Err(e) => assert_eq!(e.field, field, "{e}"),
        }
    }
    check("{not json", "body");
    check("[1, 2]", "body");
    check(&captured_with(|v| v["version"] = json!("3")), "version");
    check(&captured_with(|v| v["version"] = json!(4)), "version");
    check(&captured_with(|v| v["version"] = json!("1")), "version");
    check(
        &captured_with(|v| drop(v.as_object_mut().map(|o| o.remove("version")))),
        "version",
    );
    check(
        &captured_with(|v| drop(v.as_object_mut().map(|o| o.remove("groupKey")))),
        "groupKey",
    );
    check(&captured_with(|v| v["groupKey"] = json!("")), "groupKey");
    check(
        &captured_with(|v| drop(v.as_object_mut().map(|o| o.remove("alerts")))),
        "alerts",
    );
    check(&captured_with(|v| v["alerts"] = Value::Null), "alerts");
    check(&captured_with(|v| v["alerts"] = json!({})), "alerts");
    check(&captured_with(|v| v["status"] = json!("pending")), "status");
    check(
        &captured_with(|v| v["commonLabels"] = json!({"a": 1})),
        "commonLabels",
    );
    check(
        &captured_with(|v| v["truncatedAlerts"] = json!(-1)),
        "truncatedAlerts",
    );
    check(&captured_with(|v| v["alerts"][0] = json!("x")), "alerts[0]");
    check(
        &captured_with(|v| v["alerts"][0]["labels"] = Value::Null),
        "alerts[0].labels",
    );
    check(
        &captured_with(|v| v["alerts"][0]["labels"] = json!({})),
        "alerts[0].labels",
    );
    check(
        &captured_with(|v| v["alerts"][0]["labels"] = json!({"a": true})),
        "alerts[0].labels",
    );
    check(
        &captured_with(|v| v["alerts"][0]["status"] = json!("bad")),
        "alerts[0].status",
    );
    check(
        &captured_with(|v| drop(v["alerts"][0].as_object_mut().map(|o| o.remove("status")))),
        "alerts[0].status",
    );
    check(
        &captured_with(|v| v["alerts"][0]["startsAt"] = json!("noon")),
        "alerts[0].startsAt",
    );
    check(
        &captured_with(|v| v["alerts"][0]["endsAt"] = json!(12)),
        "alerts[0].endsAt",
    );
}

#[test]
fn error_display_is_field_colon_reason() {
    let err = parse(captured_with(|v| v["version"] = json!("5")).as_bytes()).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some(r#"version: unsupported version "5", expected "4""#.into())
    );
}

#[test]
fn missing_fingerprint_is_computed_from_labels() {
    let without = |labels: Value| {
        captured_with(|v| {
            v["alerts"][0]["labels"] = labels;
            v["alerts"][0]["fingerprint"] = json!("");
        })
    };
    let a = ok(&without(json!({"alertname": "X", "instance": "a"})));
    let b = ok(&without(json!({"instance": "a", "alertname": "X"})));
    let c = ok(&without(json!({"alertname": "X", "instance": "b"})));
    let key = |w: &Webhook| w.alerts[0].dedup_key.clone();
    assert_eq!(key(&a), key(&b), "label order does not matter");
    assert_ne!(key(&a), key(&c));
    assert_eq!(key(&a).len(), 16);
    assert!(
        key(&a)
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let absent = captured_with(|v| {
        drop(
            v["alerts"][0]
                .as_object_mut()
                .map(|o| o.remove("fingerprint")),
        )
    });
    assert_eq!(
        key(&ok(&absent)),
        label_fingerprint(&ok(CAPTURED).alerts[0].labels)
    );
}

#[test]
fn missing_optional_fields_default() {
    let w =
        ok(r#"{"version":"4","groupKey":"g","alerts":[{"status":"resolved","labels":{"a":"b"}}]}"#);
    assert_eq!(w.receiver, "");
    assert_eq!(w.status, AlertStatus::Resolved, "derived from the alerts");
    assert_eq!((w.alerts[0].starts_at, w.alerts[0].ends_at), (None, None));
    assert_eq!(w.alerts[0].summary, r#"{a="b"}"#);
    let empty = ok(r#"{"version":"4","groupKey":"g","alerts":[]}"#);
    assert_eq!(
        (empty.alerts.len(), empty.status),
        (0, AlertStatus::Resolved)
    );
}

#[test]
fn unquote_meta_cases() {
    fn check(input: &str, expected: &str) {
        assert_eq!(unquote_meta(input), expected, "{input:?}");
    }
    check("hook", "hook");
    check(r"team\.pager", "team.pager");
    check(r"a\+b\(c\)\[d\]\{e\}\^\$\|\?\*", "a+b(c)[d]{e}^$|?*");
    check(r"back\\slash", r"back\slash");
    check(r"trailing\", r"trailing\");
}

#[test]
fn idempotency_key_semantics() {
    let base = ok(RESOLVED);
    let mut reordered = base.clone();
    reordered.alerts.reverse();
    assert_eq!(
        idempotency_key(&base),
        idempotency_key(&reordered),
        "order does not matter"
    );
    let mut flipped = base.clone();
    flipped.alerts[1].status = AlertStatus::Firing;
    assert_ne!(
        idempotency_key(&base),
        idempotency_key(&flipped),
        "status flip changes it"
    );
    let mut regrouped = base.clone();
    regrouped.group_key.push('x');
    assert_ne!(idempotency_key(&base), idempotency_key(&regrouped));
    let mut resent = base.clone();
    resent.receiver = "other".into();
    resent.alerts[0].summary = "re-rendered".into();
    assert_eq!(
        idempotency_key(&base),
        idempotency_key(&resent),
        "only groupKey and pairs count"
    );
    assert_eq!(idempotency_key(&base).len(), 64);
}

#[test]
fn the_typed_pass_and_the_located_pass_agree() {
    let slow = |body: &str| {
        let (raw, alerts) = located(body.as_bytes()).expect("valid");
        build(raw, alerts, VERSION, Source::Alertmanager).expect("valid")
    };
    for body in [CAPTURED, RESOLVED, POST_025] {
        assert!(
            serde_json::from_slice::<RawWebhook<RawAlert>>(body.as_bytes()).is_ok(),
            "the fast path takes it"
        );
        assert_eq!(ok(body), slow(body));
    }
    // A repeated key: the typed pass refuses it, the value pass keeps the
    // last one (as before), and the answer is the same.
    let repeated = CAPTURED.replacen("{", "{\"receiver\": \"x\",", 1);
    assert!(serde_json::from_slice::<RawWebhook<RawAlert>>(repeated.as_bytes()).is_err());
    assert_eq!(ok(&repeated), slow(&repeated));
}

#[test]
fn caps_name_the_field() {
    fn check(edit: impl FnOnce(&mut Value), expected: Option<&str>) {
        let body = captured_with(edit);
        let got = parse(body.as_bytes()).err().map(|e| e.field);
        assert_eq!(got.as_deref(), expected);
    }
    let x = |n: usize| json!("x".repeat(n));
    let many = |n: usize| -> Value {
        (0..n)
            .map(|i| (format!("k{i}"), json!("v")))
            .collect::<Map<_, _>>()
            .into()
    };
    check(|v| v["groupKey"] = x(8192), None);
    check(|v| v["groupKey"] = x(8193), Some("groupKey"));
    check(|v| v["alerts"][0]["fingerprint"] = x(255), None);
    check(
        |v| v["alerts"][0]["fingerprint"] = x(256),
        Some("alerts[0].fingerprint"),
    );
    check(|v| v["alerts"][0]["labels"] = many(128), None);
    check(
        |v| v["alerts"][0]["labels"] = many(129),
        Some("alerts[0].labels"),
    );
    check(
        |v| v["alerts"][0]["labels"]["x".repeat(257)] = json!("v"),
        Some("alerts[0].labels"),
    );
    check(
        |v| v["alerts"][0]["labels"]["instance"] = x(4097),
        Some("alerts[0].labels.instance"),
    );
    check(
        |v| v["alerts"][0]["annotations"] = many(129),
        Some("alerts[0].annotations"),
    );
    check(
        |v| v["alerts"][0]["annotations"]["description"] = x(16384),
        None,
    );
    check(
        |v| v["alerts"][0]["annotations"]["description"] = x(16385),
        Some("alerts[0].annotations.description"),
    );
    check(
        |v| v["alerts"][0]["values"] = json!({"A": "x".repeat(65536)}),
        Some("alerts[0].values"),
    );
    check(
        |v| v["alerts"][0]["generatorURL"] = x(8193),
        None, // a link too long is dropped, the alert kept
    );
}
