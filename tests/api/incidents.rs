//! Incident actions over the API: legal and illegal transitions, diagnosis.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

async fn open_one(d: &Daemon) -> i64 {
    d.post_json(
        "/api/v1/alertmanager",
        AM_TOKEN,
        &am_payload("Act", vec![am_alert("Act", "a", "firing")]),
    )
    .await;
    let r = d
        .http
        .get(d.url("/api/v1/incidents"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    r.json::<Value>().await.expect("json")["incidents"][0]["id"]
        .as_i64()
        .expect("id")
}

async fn act(d: &Daemon, id: i64, verb: &str, token: &str) -> (u16, Value) {
    let r = d
        .http
        .post(d.url(&format!("/api/v1/incidents/{id}/{verb}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("req");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn acknowledge_then_resolve_with_idempotence_and_409() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await;
    let (s, body) = act(&d, id, "acknowledge", BOB_TOKEN).await;
    assert_eq!(s, 200);
    assert_eq!(body["incident"]["state"], "acknowledged");
    assert_eq!(body["incident"]["assignee"], "bob");
    let (s, body) = act(&d, id, "acknowledge", BOB_TOKEN).await;
    assert_eq!(
        (s, body["changed"].clone()),
        (200, json!(false)),
        "repeating an acknowledgement is harmless"
    );
    let (s, _) = act(&d, id, "resolve", ADMIN_TOKEN).await;
    assert_eq!(s, 200);
    let (s, body) = act(&d, id, "resolve", ADMIN_TOKEN).await;
    assert_eq!(s, 409);
    assert_eq!(body["state"], "resolved");
    let (s, _) = act(&d, id, "acknowledge", BOB_TOKEN).await;
    assert_eq!(s, 409);
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    let show: Value = r.json().await.expect("json");
    let ack = show["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["kind"] == "acknowledged")
        .cloned()
        .expect("ack event");
    assert_eq!(ack["actor"], "person:bob");
    assert_eq!(ack["detail"]["how"], "api");
    d.stop().await;
}

#[tokio::test]
async fn downgrade_and_unknown_ids_and_auth() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await;
    assert_eq!(act(&d, id, "downgrade", BOB_TOKEN).await.0, 200);
    assert_eq!(act(&d, id, "downgrade", BOB_TOKEN).await.0, 200);
    assert_eq!(act(&d, 9999, "acknowledge", BOB_TOKEN).await.0, 404);
    assert_eq!(act(&d, id, "explode", BOB_TOKEN).await.0, 404);
    assert_eq!(act(&d, id, "resolve", "not-a-person-token").await.0, 401);
    let r = d
        .http
        .get(d.url("/api/v1/incidents/abc"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let r = d
        .http
        .get(d.url("/api/v1/incidents?state=sleeping"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let r = d
        .http
        .get(d.url("/api/v1/incidents"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    d.stop().await;
}

#[tokio::test]
async fn diagnosis_patch() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await;
    let url = d.url(&format!("/api/v1/incidents/{id}"));
    let r = d
        .http
        .patch(&url)
        .bearer_auth(BOB_TOKEN)
        .json(&json!({"layer": "third_party", "reproducible": true}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["incident"]["layer"], "third_party");
    assert_eq!(body["incident"]["reproducible"], true);
    let r = d
        .http
        .patch(&url)
        .bearer_auth(BOB_TOKEN)
        .json(&json!({"layer": "moon"}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["field"], "layer");
    let r = d
        .http
        .patch(&url)
        .bearer_auth(BOB_TOKEN)
        .json(&json!({"colour": "red"}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    d.stop().await;
}

#[tokio::test]
async fn a_bad_status_update_names_its_field_and_changes_nothing() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await;
    let url = d.url(&format!("/api/v1/incidents/{id}/updates"));
    let timeline = |v: Value| v["timeline"].as_array().map_or(0, Vec::len);
    let show = d.url(&format!("/api/v1/incidents/{id}"));
    let get = || async {
        let r = d.http.get(&show).bearer_auth(BOB_TOKEN).send().await;
        r.expect("show").json::<Value>().await.expect("json")
    };
    let before = timeline(get().await);
    for (body, field, reason) in [
        (
            r#"{"text":5}"#,
            "text",
            "invalid type: integer `5`, expected a string",
        ),
        (r#"{}"#, "text", "missing"),
        (
            r#"{"txt":"on it"}"#,
            "txt",
            "unknown field; expected `text`",
        ),
        (r#"{"text":""}"#, "text", "must not be empty"),
    ] {
        let r = d
            .http
            .post(&url)
            .bearer_auth(BOB_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(
            (&v["field"], &v["reason"]),
            (&json!(field), &json!(reason)),
            "{body}: {v}"
        );
    }
    assert_eq!(
        timeline(get().await),
        before,
        "a refused update changes nothing"
    );
    d.stop().await;
}

#[tokio::test]
async fn an_escalation_keeps_its_note() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await;
    let url = d.url(&format!("/api/v1/incidents/{id}/escalate"));
    let post = |body: Value| {
        let req = d.http.post(&url).bearer_auth(BOB_TOKEN).json(&body);
        async move { req.send().await.expect("req") }
    };
    let r = post(json!({"note": "x".repeat(5000)})).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["field"], "note");
    let r = post(json!({"note": "need a DBA"})).await;
    assert_eq!(r.status(), 200);
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    let v: Value = r.json().await.expect("json");
    let asked: Vec<&Value> = v["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "escalation requested")
        .collect();
    assert_eq!(asked.len(), 1, "{v}");
    assert_eq!(asked[0]["detail"]["note"], "need a DBA");
    d.stop().await;
}
