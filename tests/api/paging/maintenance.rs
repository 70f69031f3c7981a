//! Maintenance windows against the fakes: an alert inside a window pages
//! nobody until the window ends, then pages exactly once; a client's
//! report pages through unless the window holds it. Every test ends by
//! comparing what every fake received with exactly what it expects.

use chrono::Duration;
use serde_json::{Value, json};

use super::rig::*;
use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

/// Starts a window over `shop` for `hours` as alice (team lead); its number.
async fn window(rig: &Rig, extra: Value, hours: i64) -> i64 {
    let mut body = json!({"project": "shop", "for": format!("{hours}h"), "reason": "db migration"});
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    let r = rig
        .d
        .post_json("/api/v1/maintenance", ADMIN_TOKEN, &body)
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id")
}

/// Posts a group and returns the answer's outcome.
async fn post(rig: &Rig, payload: &Value) -> Value {
    let r = rig
        .d
        .post_json("/api/v1/alertmanager", AM_TOKEN, payload)
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    rig.d.settle().await;
    body["outcome"].clone()
}

#[tokio::test]
async fn an_alert_inside_a_window_pages_once_when_the_window_ends_while_it_still_fires() {
    let rig = rig().await;
    let w = window(&rig, json!({}), 2).await;
    let out = post(&rig, &alert_payload("DiskFull")).await;
    let id = out["suppressed"][0].as_i64().expect("suppressed");
    assert_eq!(out["opened"], json!([]));
    assert_eq!(rig.state(id).await, "suppressed");
    let held = rig.events(id, "suppressed").await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["detail"]["window"], json!(w));
    assert_eq!(held[0]["detail"]["reason"], "db migration");

    // A second alert of the same group an hour later joins the incident.
    rig.d.advance(Duration::hours(1)).await;
    let mut second = am_alert("DiskFull", "db-2", "firing");
    second["fingerprint"] = json!("second-fingerprint");
    let mut first = am_alert("DiskFull", "db-1", "firing");
    first["fingerprint"] = json!(&sha("DiskFull")[..16]);
    let out = post(&rig, &am_payload("DiskFull", vec![first, second])).await;
    assert_eq!(out["attached"], json!([id]));
    assert_eq!(rig.state(id).await, "suppressed");
    assert!(rig.delivered().is_empty(), "{:?}", rig.delivered());

    // One second before the end: still held. At the end: paged as new.
    rig.d
        .advance(Duration::hours(1) - Duration::seconds(1))
        .await;
    assert_eq!(rig.state(id).await, "suppressed");
    assert!(rig.delivered().is_empty(), "{:?}", rig.delivered());
    rig.d.advance(Duration::seconds(1)).await;
    assert_eq!(rig.state(id).await, "triggered");
    let over = rig.events(id, "maintenance over").await;
    assert_eq!(over.len(), 1);
    assert_eq!(over[0]["detail"]["window"], json!(w));
    assert_eq!(rig.events(id, "routed").await.len(), 1);
    // Acknowledged in time: nothing more.
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.d.advance(Duration::hours(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}

#[tokio::test]
async fn an_alert_that_resolved_inside_the_window_pages_nobody() {
    let rig = rig().await;
    window(&rig, json!({}), 2).await;
    let out = post(&rig, &alert_payload("DiskFull")).await;
    let id = out["suppressed"][0].as_i64().expect("suppressed");
    rig.d.advance(Duration::minutes(30)).await;
    let mut resolved = am_alert("DiskFull", "db-1", "resolved");
    resolved["fingerprint"] = json!(&sha("DiskFull")[..16]);
    post(&rig, &am_payload("DiskFull", vec![resolved])).await;
    assert_eq!(rig.state(id).await, "resolved");
    rig.d.advance(Duration::hours(2)).await;
    assert_eq!(rig.state(id).await, "resolved");
    rig.finish(&[], 0).await;
}

#[tokio::test]
async fn a_suppressed_incident_cannot_be_acknowledged_but_can_be_resolved() {
    let rig = rig().await;
    window(&rig, json!({}), 2).await;
    let id = post(&rig, &alert_payload("DiskFull")).await["suppressed"][0]
        .as_i64()
        .expect("suppressed");
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 409);
    let r = rig
        .d
        .http
        .get(rig.d.url("/api/v1/incidents?state=suppressed"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    let listed: Value = r.json().await.expect("json");
    assert_eq!(listed["incidents"][0]["id"], json!(id));
    assert_eq!(rig.act(id, "resolve", BOB_TOKEN).await, 200);
    rig.d.advance(Duration::hours(3)).await;
    assert_eq!(rig.state(id).await, "resolved");
    rig.finish(&[], 0).await;
}

#[tokio::test]
async fn ending_a_window_early_pages_what_still_fires_at_once_and_only_once() {
    let rig = rig().await;
    let w = window(&rig, json!({}), 2).await;
    let id = post(&rig, &alert_payload("DiskFull")).await["suppressed"][0]
        .as_i64()
        .expect("suppressed");
    rig.d.advance(Duration::minutes(20)).await;
    let end = |token: &'static str| {
        rig.d
            .http
            .delete(rig.d.url(&format!("/api/v1/maintenance/{w}")))
            .bearer_auth(token)
            .send()
    };
    let r = end(ADMIN_TOKEN).await.expect("delete");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["paged"], json!([id]));
    assert_eq!(body["maintenance"]["ended_by"], "alice");
    rig.d.settle().await;
    assert_eq!(rig.state(id).await, "triggered");
    // Ending it again changes nothing, and its original end passes quietly.
    let again: Value = end(ADMIN_TOKEN)
        .await
        .expect("delete")
        .json()
        .await
        .expect("json");
    assert_eq!(again["paged"], json!([]));
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.d.advance(Duration::hours(3)).await;
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}

async fn client_report(rig: &Rig) -> Value {
    let r = rig
        .d
        .post_json(
            "/api/v1/trigger",
            CLIENT_TOKEN,
            &json!({"summary": "Checkout is down"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    rig.d.settle().await;
    r.json().await.expect("json")
}

#[tokio::test]
async fn a_clients_report_pages_through_a_window() {
    let rig = rig().await;
    window(&rig, json!({}), 2).await;
    client_report(&rig).await;
    let id = 1;
    assert_eq!(rig.state(id).await, "triggered");
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.d.advance(Duration::hours(3)).await;
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}

#[tokio::test]
async fn a_window_that_holds_client_reports_pages_them_when_it_ends() {
    let rig = rig().await;
    window(&rig, json!({"client_reports": "hold"}), 2).await;
    let answer = client_report(&rig).await;
    assert_eq!(answer["reference"], "ACME-1");
    let id = 1;
    assert_eq!(rig.state(id).await, "suppressed");
    rig.d
        .advance(Duration::hours(2) - Duration::seconds(1))
        .await;
    assert!(rig.delivered().is_empty(), "{:?}", rig.delivered());
    rig.d.advance(Duration::seconds(1)).await;
    assert_eq!(rig.state(id).await, "triggered");
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.d.advance(Duration::hours(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}

#[tokio::test]
async fn matchers_narrow_a_window_to_the_alerts_they_match() {
    let rig = rig().await;
    window(&rig, json!({"matchers": ["alertname=Backup"]}), 2).await;
    let held = post(&rig, &alert_payload("Backup")).await;
    assert_eq!(held["suppressed"].as_array().map(Vec::len), Some(1));
    let paged = post(&rig, &alert_payload("DiskFull")).await;
    let id = paged["opened"][0].as_i64().expect("opened");
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}
