//! Caps on keys and free text (README "Limits"): over a cap is a 400 naming
//! the field, and nothing is stored.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};
use crate::postmortems::{call, open_incident};

/// A roster whose body limit lets every field reach its own cap.
async fn spawn() -> Daemon {
    let yaml = roster_yaml("").replace("max_body_bytes: 65536", "max_body_bytes: 4194304");
    spawn_with(&yaml).await
}

async fn count(d: &Daemon, path: &str, key: &str) -> usize {
    let (status, v) = call(d, "GET", path, BOB_TOKEN, Value::Null).await;
    assert_eq!(status, 200, "{path}: {v}");
    v[key].as_array().map_or(0, Vec::len)
}

fn big(n: usize) -> String {
    "x".repeat(n)
}

/// An Alertmanager payload with its first alert changed by `f`.
fn am(f: impl FnOnce(&mut Value)) -> Value {
    let mut p = am_payload("Down", vec![am_alert("Down", "shop-1", "firing")]);
    f(&mut p);
    p
}

#[tokio::test]
async fn alert_fields_over_their_caps_are_refused_naming_the_field() {
    let d = spawn().await;
    let many: serde_json::Map<String, Value> =
        (0..129).map(|i| (format!("l{i}"), json!("v"))).collect();
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "/api/v1/alertmanager",
            AM_TOKEN,
            am(|p| p["groupKey"] = json!(big(8193))),
            "groupKey",
        ),
        (
            "/api/v1/alertmanager",
            AM_TOKEN,
            am(|p| p["alerts"][0]["fingerprint"] = json!(big(256))),
            "alerts[0].fingerprint",
        ),
        (
            "/api/v1/alertmanager",
            AM_TOKEN,
            am(|p| p["alerts"][0]["labels"] = Value::Object(many.clone())),
            "alerts[0].labels",
        ),
        (
            "/api/v1/alertmanager",
            AM_TOKEN,
            am(|p| p["alerts"][0]["labels"][big(257)] = json!("v")),
            "alerts[0].labels",
        ),
        (
            "/api/v1/alertmanager",
            AM_TOKEN,
            am(|p| p["alerts"][0]["labels"]["instance"] = json!(big(4097))),
            "alerts[0].labels.instance",
        ),
        (
            "/api/v1/alertmanager",
            AM_TOKEN,
            am(|p| p["alerts"][0]["annotations"] = Value::Object(many.clone())),
            "alerts[0].annotations",
        ),
        (
            "/api/v1/alertmanager",
            AM_TOKEN,
            am(|p| p["alerts"][0]["annotations"]["description"] = json!(big(16385))),
            "alerts[0].annotations.description",
        ),
        (
            "/api/v1/alertmanager",
            AM_TOKEN,
            am(|p| p["alerts"][0]["values"] = json!({"A": big(65536)})),
            "alerts[0].values",
        ),
        (
            "/api/v1/trigger",
            CLIENT_TOKEN,
            json!({"summary": big(1025)}),
            "summary",
        ),
        (
            "/api/v1/trigger",
            CLIENT_TOKEN,
            json!({"summary": "down", "details": {"log": big(65536)}}),
            "details",
        ),
        (
            "/api/v1/trigger",
            CLIENT_TOKEN,
            json!({"summary": "down", "dedup_key": big(256)}),
            "dedup_key",
        ),
    ];
    for (path, token, body, field) in cases {
        let r = d.post_json(path, token, &body).await;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!((status, v["field"].as_str()), (400, Some(field)), "{v}");
    }
    assert_eq!(
        count(&d, "/api/v1/incidents?state=all", "incidents").await,
        0
    );
    // At the cap is accepted.
    let at_cap = am(|p| p["groupKey"] = json!(big(8192)));
    let r = d.post_json("/api/v1/alertmanager", AM_TOKEN, &at_cap).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        count(&d, "/api/v1/incidents?state=all", "incidents").await,
        1
    );
    d.stop().await;
}

#[tokio::test]
async fn event_fields_over_their_caps_are_refused_in_pagerduty_words() {
    let d = spawn().await;
    let trigger = |f: &dyn Fn(&mut Value)| {
        let mut e = json!({"routing_key": PD_TOKEN, "event_action": "trigger",
            "payload": {"summary": "down", "source": "web-1", "severity": "critical"}});
        f(&mut e);
        e
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/v2/enqueue",
            trigger(&|e| e["payload"]["custom_details"] = json!({"log": big(65536)})),
            "'payload.custom_details' is too large",
        ),
        (
            "/v2/enqueue",
            trigger(&|e| e["payload"]["source"] = json!(big(4097))),
            "'payload.source' is too long",
        ),
        (
            "/v2/enqueue",
            trigger(&|e| e["payload"]["component"] = json!(big(4097))),
            "'payload.component' is too long",
        ),
        (
            "/v2/enqueue",
            trigger(&|e| e["dedup_key"] = json!(big(256))),
            "'dedup_key' is too long",
        ),
        (
            "/generic/2010-04-15/create_event.json",
            json!({"service_key": PD_TOKEN, "event_type": "trigger", "description": "down",
                   "details": {"log": big(65536)}}),
            "'details' is too large",
        ),
        (
            "/v2/change/enqueue",
            json!({"routing_key": PD_TOKEN,
                   "payload": {"summary": "deploy", "custom_details": {"log": big(65536)}}}),
            "'payload.custom_details' is too large",
        ),
    ];
    for (path, body, error) in cases {
        let r = d
            .http
            .post(d.url(path))
            .json(&body)
            .send()
            .await
            .expect("post");
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        let first = v["errors"][0].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{path}: {v}");
        assert!(first.starts_with(error), "{path}: {first}");
    }
    assert_eq!(
        count(&d, "/api/v1/incidents?state=all", "incidents").await,
        0
    );
    d.stop().await;
}

/// The incident and how long its timeline is.
async fn snapshot(d: &Daemon, inc: &str) -> (Value, usize) {
    let (_, v) = call(d, "GET", inc, BOB_TOKEN, Value::Null).await;
    (
        v["incident"].clone(),
        v["timeline"].as_array().map_or(0, Vec::len),
    )
}

#[tokio::test]
async fn text_over_its_cap_is_refused_and_changes_nothing() {
    let d = spawn().await;
    let id = open_incident(&d).await;
    let inc = format!("/api/v1/incidents/{id}");
    let before = snapshot(&d, &inc).await;
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            format!("{inc}/acknowledge"),
            json!({"note": big(2001)}),
            "note",
        ),
        (
            "POST",
            format!("{inc}/resolve"),
            json!({"note": big(2001)}),
            "note",
        ),
        (
            "POST",
            format!("{inc}/updates"),
            json!({"text": big(2001)}),
            "text",
        ),
        (
            "PATCH",
            inc.clone(),
            json!({"provider_ticket": big(201)}),
            "provider_ticket",
        ),
        (
            "PATCH",
            inc.clone(),
            json!({"serious": true, "serious_reason": big(2001)}),
            "serious_reason",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, v) = call(&d, method, &path, BOB_TOKEN, body).await;
        assert_eq!(
            (status, v["field"].as_str()),
            (400, Some(field)),
            "{path}: {v}"
        );
    }
    assert_eq!(snapshot(&d, &inc).await, before, "nothing changed");

    let (status, v) = call(
        &d,
        "POST",
        &format!("{inc}/postmortem"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let pm = format!("/api/v1/postmortems/{}", v["postmortem"]["id"]);
    let (_, draft) = call(&d, "GET", &pm, BOB_TOKEN, Value::Null).await;
    let cases: Vec<(String, Value, &str)> = vec![
        (pm.clone(), json!({"title": big(1025)}), "title"),
        (
            pm.clone(),
            json!({"cause": "disk", "measures": big(50_001)}),
            "measures",
        ),
        (
            pm.clone(),
            json!({"what_happened": big(50_001)}),
            "what_happened",
        ),
        (
            pm.clone(),
            json!({"client_summary": big(50_001)}),
            "client_summary",
        ),
        (
            format!("{pm}/actions"),
            json!({"title": big(1025), "assignee": "bob", "deadline": "2026-12-01"}),
            "title",
        ),
    ];
    for (path, body, field) in cases {
        let method = if path.ends_with("/actions") {
            "POST"
        } else {
            "PUT"
        };
        let (status, v) = call(&d, method, &path, BOB_TOKEN, body).await;
        assert_eq!(
            (status, v["field"].as_str()),
            (400, Some(field)),
            "{path}: {v}"
        );
    }
    let (_, after) = call(&d, "GET", &pm, BOB_TOKEN, Value::Null).await;
    assert_eq!(after, draft, "the postmortem is unchanged");
    d.stop().await;
}

/// Opens `n` incidents in one transaction (client reports with their own keys).
pub(crate) async fn seed_incidents(d: &Daemon, from: usize, n: usize) {
    use tocsin::incident::apply::{self, ClientReport};
    let now = d.state().clock.now();
    let roster = d.state().roster();
    d.state()
        .store
        .transact(move |repo| {
            for i in from..from + n {
                let report = ClientReport {
                    client: "acme".into(),
                    project: "shop".into(),
                    summary: format!("report {i}"),
                    details: Value::Null,
                    severity: tocsin::ingest::Severity::Minor,
                    dedup_key: Some(format!("seed-{i}")),
                };
                apply::client_trigger(repo, &roster, &report, now)?;
            }
            Ok(())
        })
        .await
        .expect("seeded");
}

/// Follows `next_cursor` from `first` (a path with its query); the ids of
/// `key` page by page.
async fn walk(d: &Daemon, first: &str, key: &str) -> Vec<Vec<i64>> {
    walk_from(d, first, None, key).await
}

async fn walk_from(d: &Daemon, first: &str, cursor: Option<&str>, key: &str) -> Vec<Vec<i64>> {
    let mut pages = Vec::new();
    let mut path = match cursor {
        Some(c) => format!("{first}&cursor={c}"),
        None => first.to_string(),
    };
    loop {
        let (status, v) = call(d, "GET", &path, BOB_TOKEN, Value::Null).await;
        assert_eq!(status, 200, "{path}: {v}");
        let ids = v[key]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["id"].as_i64()).collect())
            .unwrap_or_default();
        pages.push(ids);
        match v["next_cursor"].as_str() {
            Some(next) => path = format!("{first}&cursor={next}"),
            None => return pages,
        }
        assert!(pages.len() < 100, "the walk ends");
    }
}

fn sizes(pages: &[Vec<i64>]) -> Vec<usize> {
    pages.iter().map(Vec::len).collect()
}

#[tokio::test]
async fn incident_pages_walk_every_incident_exactly_once() {
    let d = spawn().await;
    seed_incidents(&d, 0, 105).await;
    let (_, first) = call(
        &d,
        "GET",
        "/api/v1/incidents?state=all",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(
        first["incidents"].as_array().map(Vec::len),
        Some(100),
        "default limit"
    );
    assert!(first["next_cursor"].is_string());

    let pages = walk(&d, "/api/v1/incidents?state=all&limit=40", "incidents").await;
    assert_eq!(sizes(&pages), [40, 40, 25]);
    let ids: Vec<i64> = pages.concat();
    let mut expected: Vec<i64> = (1..=105).collect();
    expected.reverse();
    assert_eq!(ids, expected, "newest first, each once");

    // An incident opened between two pages shifts nothing.
    let (_, v) = call(
        &d,
        "GET",
        "/api/v1/incidents?state=all&limit=50",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    seed_incidents(&d, 105, 3).await;
    let next = v["next_cursor"].as_str().unwrap_or_default();
    let rest = walk_from(
        &d,
        "/api/v1/incidents?state=all&limit=50",
        Some(next),
        "incidents",
    )
    .await;
    assert_eq!(rest.concat(), (1..=55).rev().collect::<Vec<i64>>());

    for (query, field) in [
        ("limit=501", "limit"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("limit=1000&state=all", "limit"),
        ("cursor=not-ours", "cursor"),
    ] {
        let (status, v) = call(
            &d,
            "GET",
            &format!("/api/v1/incidents?{query}"),
            BOB_TOKEN,
            Value::Null,
        )
        .await;
        assert_eq!(
            (status, v["field"].as_str()),
            (400, Some(field)),
            "{query}: {v}"
        );
    }
    let (status, v) = call(
        &d,
        "GET",
        "/api/v1/incidents?state=all&limit=500",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, v["incidents"].as_array().map(Vec::len)),
        (200, Some(108))
    );
    assert!(v["next_cursor"].is_null(), "one page holds them all");
    d.stop().await;
}

#[tokio::test]
async fn postmortem_and_action_pages_walk_every_item_exactly_once() {
    let d = spawn().await;
    seed_incidents(&d, 0, 5).await;
    for id in 1..=5 {
        let (status, v) = call(
            &d,
            "POST",
            &format!("/api/v1/incidents/{id}/postmortem"),
            BOB_TOKEN,
            Value::Null,
        )
        .await;
        assert_eq!(status, 201, "{v}");
    }
    let pages = walk(&d, "/api/v1/postmortems?limit=2", "postmortems").await;
    assert_eq!(sizes(&pages), [2, 2, 1]);
    assert_eq!(pages.concat(), [5, 4, 3, 2, 1]);
    let (status, v) = call(
        &d,
        "GET",
        "/api/v1/postmortems?limit=501",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("limit")));

    // Deadlines shared by several items: the number breaks the tie.
    let mut added = Vec::new();
    for deadline in [
        "2026-12-09",
        "2026-12-02",
        "2026-12-09",
        "2026-12-02",
        "2026-12-04",
    ] {
        let body = json!({"title": "fix it", "assignee": "bob", "deadline": deadline});
        let (status, v) = call(&d, "POST", "/api/v1/postmortems/1/actions", BOB_TOKEN, body).await;
        assert_eq!(status, 201, "{v}");
        added.push((deadline, v["action"]["id"].as_i64().expect("id")));
    }
    added.sort();
    let pages = walk(&d, "/api/v1/actions?state=all&limit=2", "actions").await;
    assert_eq!(sizes(&pages), [2, 2, 1]);
    assert_eq!(
        pages.concat(),
        added.iter().map(|(_, id)| *id).collect::<Vec<_>>()
    );
    let (status, v) = call(
        &d,
        "GET",
        "/api/v1/actions?cursor=zz",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!((status, v["field"].as_str()), (400, Some("cursor")));
    d.stop().await;
}
