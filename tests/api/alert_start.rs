//! The alert's own start (Alertmanager and Grafana `startsAt`, Events v2
//! `payload.timestamp`) is the incident's `started_at`, beside its arrival
//! (`created_at`): in the API, on the `opened` event, and where the
//! postmortem's "What happened?" starts. Never after the arrival.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};
use crate::postmortems::call;

/// Seven minutes before `t0`, when every test's alert arrives.
const SEVEN_BEFORE: &str = "2026-11-25T08:53:00Z";
const ARRIVAL: &str = "2026-11-25T09:00:00Z";

/// An Alertmanager alert that started at `starts`.
fn am_starting(name: &str, instance: &str, starts: &str) -> Value {
    let mut a = am_alert(name, instance, "firing");
    a["startsAt"] = json!(starts);
    a
}

async fn post_am(d: &Daemon, alerts: Vec<Value>) -> i64 {
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &am_payload("G", alerts))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["outcome"]["opened"][0].as_i64().expect("opened")
}

/// (started_at, created_at, the opened event's started_at).
async fn times(d: &Daemon, id: i64) -> (Value, Value, Value) {
    let (status, v) = call(
        d,
        "GET",
        &format!("/api/v1/incidents/{id}"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let opened = v["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["kind"] == "opened")
        .map(|e| e["detail"]["started_at"].clone())
        .unwrap_or_default();
    let inc = &v["incident"];
    (inc["started_at"].clone(), inc["created_at"].clone(), opened)
}

fn expect(started: &str, created: &str) -> (Value, Value, Value) {
    (json!(started), json!(created), json!(started))
}

#[tokio::test]
async fn an_alertmanager_alert_keeps_its_own_start() {
    let d = spawn_daemon().await;
    let id = post_am(&d, vec![am_starting("Down", "a", SEVEN_BEFORE)]).await;
    assert_eq!(times(&d, id).await, expect(SEVEN_BEFORE, ARRIVAL));
    d.stop().await;
}

#[tokio::test]
async fn a_group_starts_with_its_earliest_firing_alert() {
    let d = spawn_daemon().await;
    let id = post_am(
        &d,
        vec![
            am_starting("Down", "a", "2026-11-25T08:58:00Z"),
            am_starting("Down", "b", SEVEN_BEFORE),
        ],
    )
    .await;
    assert_eq!(times(&d, id).await, expect(SEVEN_BEFORE, ARRIVAL));
    d.stop().await;
}

#[tokio::test]
async fn a_start_in_the_future_is_the_arrival() {
    let d = spawn_daemon().await;
    let id = post_am(&d, vec![am_starting("Down", "a", "2026-11-25T09:30:00Z")]).await;
    assert_eq!(times(&d, id).await, expect(ARRIVAL, ARRIVAL));
    d.stop().await;
}

#[tokio::test]
async fn an_events_v2_alert_keeps_its_payload_timestamp() {
    let d = spawn_daemon().await;
    // Seven minutes before arrival, in another offset; none at all.
    for (key, timestamp) in [
        ("k1", json!("2026-11-25T09:53:00+01:00")),
        ("k2", Value::Null),
    ] {
        let mut payload =
            json!({"summary": "API latency high", "source": "api-1", "severity": "error"});
        if !timestamp.is_null() {
            payload["timestamp"] = timestamp;
        }
        let event = json!({"routing_key": PD_TOKEN, "event_action": "trigger", "dedup_key": key, "payload": payload});
        let r = d
            .http
            .post(d.url("/v2/enqueue"))
            .json(&event)
            .send()
            .await
            .expect("enqueue");
        assert_eq!(r.status(), 202);
    }
    let (_, list) = call(&d, "GET", "/api/v1/incidents", BOB_TOKEN, Value::Null).await;
    let mut ids: Vec<i64> = list["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    ids.sort_unstable();
    assert_eq!(times(&d, ids[0]).await, expect(SEVEN_BEFORE, ARRIVAL));
    assert_eq!(times(&d, ids[1]).await, expect(ARRIVAL, ARRIVAL));
    d.stop().await;
}

#[tokio::test]
async fn a_client_report_starts_when_it_arrives() {
    let d = spawn_daemon().await;
    d.clock.advance(Duration::minutes(3));
    let r = d
        .post_json(
            "/api/v1/trigger",
            CLIENT_TOKEN,
            &json!({"summary": "Checkout page is blank"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let at = "2026-11-25T09:03:00Z";
    assert_eq!(times(&d, 1).await, expect(at, at));
    d.stop().await;
}

#[tokio::test]
async fn the_postmortem_says_when_the_problem_started() {
    let d = spawn_daemon().await;
    let id = post_am(&d, vec![am_starting("Down", "a", SEVEN_BEFORE)]).await;
    let inc = format!("/api/v1/incidents/{id}");
    d.advance(Duration::minutes(4)).await;
    let ack = call(
        &d,
        "POST",
        &format!("{inc}/acknowledge"),
        BOB_TOKEN,
        json!({}),
    )
    .await;
    assert_eq!(ack.0, 200);
    let flag = json!({"serious": true, "serious_reason": "long outage"});
    assert_eq!(call(&d, "PATCH", &inc, BOB_TOKEN, flag).await.0, 200);
    d.advance(Duration::minutes(26)).await;
    let resolve = call(&d, "POST", &format!("{inc}/resolve"), BOB_TOKEN, json!({})).await;
    assert_eq!(resolve.0, 200);
    let (_, list) = call(&d, "GET", "/api/v1/postmortems", BOB_TOKEN, Value::Null).await;
    let pm = list["postmortems"][0]["id"].as_i64().expect("a postmortem");
    let (_, pm) = call(
        &d,
        "GET",
        &format!("/api/v1/postmortems/{pm}"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    let what = pm["postmortem"]["what_happened"]
        .as_str()
        .expect("what happened");
    for fact in [
        "- Started: 2026-11-25 08:53 UTC (2026-11-25 09:53 CET) (by the alert's own start)\n",
        "- First alert received: 2026-11-25 09:00 UTC (2026-11-25 10:00 CET) (after 7m)\n",
        "- Acknowledged: 2026-11-25 09:04 UTC (2026-11-25 10:04 CET) (after 4m)\n",
        "- Resolved: 2026-11-25 09:30 UTC (2026-11-25 10:30 CET) (after 37m)\n",
    ] {
        assert!(what.contains(fact), "missing {fact:?} in:\n{what}");
    }
    d.stop().await;
}
