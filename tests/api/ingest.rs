//! Alert ingest over HTTP: every source, dedup, flapping, auth and failures.

use serde_json::{Value, json};

use crate::helpers::*;

pub fn am_alert(name: &str, instance: &str, status: &str) -> Value {
    let fp = format!("{:016x}", name.len() * 1000 + instance.len());
    json!({
        "status": status,
        "labels": {"alertname": name, "instance": instance, "severity": "critical"},
        "annotations": {"summary": format!("{name} on {instance}")},
        "startsAt": "2026-11-25T08:59:00Z",
        "endsAt": if status == "resolved" { "2026-11-25T09:05:00Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://prom:9090/graph?g0.expr=up",
        "fingerprint": format!("{fp}{instance}"),
    })
}

pub fn am_payload(group: &str, alerts: Vec<Value>) -> Value {
    let firing = alerts.iter().any(|a| a["status"] == "firing");
    json!({
        "receiver": "tocsin",
        "status": if firing { "firing" } else { "resolved" },
        "alerts": alerts,
        "groupLabels": {"alertname": group},
        "commonLabels": {"alertname": group},
        "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{group}\"}}"),
        "truncatedAlerts": 0,
    })
}

async fn incidents(d: &Daemon, state: &str) -> Vec<Value> {
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents?state={state}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    body["incidents"].as_array().cloned().unwrap_or_default()
}

async fn show(d: &Daemon, id: i64) -> Value {
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

fn kinds(show: &Value) -> Vec<String> {
    show["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn alertmanager_opens_dedups_and_resolves() {
    let d = spawn_daemon().await;
    let payload = am_payload("DiskFull", vec![am_alert("DiskFull", "a", "firing")]);
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 200);
    let open = incidents(&d, "open").await;
    assert_eq!(open.len(), 1);
    let id = open[0]["id"].as_i64().expect("id");
    assert_eq!(open[0]["state"], "triggered");
    assert_eq!(open[0]["project"], "shop");
    assert_eq!(open[0]["title"], "DiskFull on a");
    assert_eq!(open[0]["severity"], "critical");

    // The unchanged snapshot again (repeat_interval or the HA peer): nothing new.
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["outcome"]["duplicate"], true);
    assert_eq!(incidents(&d, "all").await.len(), 1);

    // A second alert joins the group's incident.
    let two = am_payload(
        "DiskFull",
        vec![
            am_alert("DiskFull", "a", "firing"),
            am_alert("DiskFull", "b", "firing"),
        ],
    );
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &two).await;
    assert_eq!(incidents(&d, "all").await.len(), 1);
    assert_eq!(show(&d, id).await["incident"]["alert_count"], 2);

    // One resolves: still open. Both resolve: resolved.
    let one_res = am_payload(
        "DiskFull",
        vec![
            am_alert("DiskFull", "a", "resolved"),
            am_alert("DiskFull", "b", "firing"),
        ],
    );
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &one_res)
        .await;
    assert_eq!(show(&d, id).await["incident"]["state"], "triggered");
    let all_res = am_payload(
        "DiskFull",
        vec![
            am_alert("DiskFull", "a", "resolved"),
            am_alert("DiskFull", "b", "resolved"),
        ],
    );
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &all_res)
        .await;
    let s = show(&d, id).await;
    assert_eq!(s["incident"]["state"], "resolved");
    let alert_events: Vec<String> = kinds(&s)
        .into_iter()
        .filter(|k| k.starts_with("alert") || k == "opened" || k == "resolved")
        .collect();
    assert_eq!(
        alert_events,
        [
            "opened",
            "alert attached",
            "alert attached",
            "alert resolved",
            "alert resolved",
            "resolved"
        ]
    );
    d.stop().await;
}

#[tokio::test]
async fn flapping_alert_reopens_the_same_incident_within_the_window() {
    let d = spawn_daemon().await;
    let fire = am_payload("Flappy", vec![am_alert("Flappy", "x", "firing")]);
    let res = am_payload("Flappy", vec![am_alert("Flappy", "x", "resolved")]);
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &fire).await;
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &res).await;
    d.clock.advance(chrono::Duration::minutes(9));
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &fire).await;
    let all = incidents(&d, "all").await;
    assert_eq!(all.len(), 1, "reopened, not a new incident");
    let s = show(&d, all[0]["id"].as_i64().expect("id")).await;
    assert_eq!(s["incident"]["state"], "triggered");
    assert!(kinds(&s).contains(&"reopened".to_string()));
    // Resolved, then quiet for longer than the window: a new incident.
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &res).await;
    d.clock.advance(chrono::Duration::minutes(11));
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &fire).await;
    assert_eq!(incidents(&d, "all").await.len(), 2);
    d.stop().await;
}

/// Fired, resolved and fired again inside the HA copy window (a short
/// group_interval): the third snapshot repeats the first's alerts and
/// statuses, but the alert's new start says it fired anew; an HA peer's
/// copy of it is still a duplicate.
#[tokio::test]
async fn an_alert_firing_again_within_the_copy_window_reopens() {
    let d = spawn_daemon().await;
    let fire = am_payload("Quick", vec![am_alert("Quick", "x", "firing")]);
    let res = am_payload("Quick", vec![am_alert("Quick", "x", "resolved")]);
    let mut again = am_alert("Quick", "x", "firing");
    again["startsAt"] = json!("2026-11-25T09:00:20Z");
    let again = am_payload("Quick", vec![again]);
    let post = |body: &Value| {
        let body = body.clone();
        let d = &d;
        async move {
            let r = d.post_json("/api/v1/alertmanager", AM_TOKEN, &body).await;
            let v: Value = r.json().await.expect("json");
            v["outcome"].clone()
        }
    };
    let opened = post(&fire).await["opened"][0].as_i64().expect("opened");
    d.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(post(&res).await["resolved"], json!([opened]));
    d.clock.advance(chrono::Duration::seconds(10));
    let out = post(&again).await;
    assert_eq!(
        (&out["duplicate"], &out["reopened"]),
        (&json!(false), &json!([opened])),
        "{out}"
    );
    assert_eq!(post(&again).await["duplicate"], json!(true), "an HA copy");
    let s = show(&d, opened).await;
    assert_eq!(s["incident"]["state"], "triggered");
    d.stop().await;
}

#[tokio::test]
async fn concurrent_identical_posts_open_one_incident() {
    let d = spawn_daemon().await;
    let payload = am_payload("HaDup", vec![am_alert("HaDup", "a", "firing")]);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let http = d.http.clone();
        let url = d.url("/api/v1/alertmanager");
        let p = payload.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(AM_TOKEN)
                .json(&p)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("request"), 200);
    }
    assert_eq!(incidents(&d, "all").await.len(), 1);
    d.stop().await;
}

#[tokio::test]
async fn fifty_alert_group_is_one_incident() {
    let d = spawn_daemon().await;
    let alerts: Vec<Value> = (0..50)
        .map(|i| am_alert("Big", &format!("host{i:02}"), "firing"))
        .collect();
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &am_payload("Big", alerts))
        .await;
    assert_eq!(r.status(), 200);
    let all = incidents(&d, "all").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["alert_count"], 50);
    assert_eq!(all[0]["title"], "Big on host00 (+49 more)");
    d.stop().await;
}

#[tokio::test]
async fn auth_failures_store_nothing() {
    let d = spawn_daemon().await;
    let payload = am_payload("Auth", vec![am_alert("Auth", "a", "firing")]);
    let r = d
        .http
        .post(d.url("/api/v1/alertmanager"))
        .json(&payload)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    let r = d
        .post_json("/api/v1/alertmanager", "wrong-token-xxxxxxxx", &payload)
        .await;
    assert_eq!(r.status(), 401);
    // A valid token of another integration type is refused too.
    let r = d
        .post_json("/api/v1/alertmanager", PD_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 401);
    assert!(incidents(&d, "all").await.is_empty());
    // HTTP basic auth with the token as password works (Alertmanager basic_auth).
    let r = d
        .http
        .post(d.url("/api/v1/alertmanager"))
        .basic_auth("am", Some(AM_TOKEN))
        .json(&payload)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    d.stop().await;
}

#[tokio::test]
async fn bad_payloads_get_400_with_the_field() {
    let d = spawn_daemon().await;
    let r = d
        .http
        .post(d.url("/api/v1/alertmanager"))
        .bearer_auth(AM_TOKEN)
        .body("{not json")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let mut wrong = am_payload("V", vec![am_alert("V", "a", "firing")]);
    wrong["version"] = json!("3");
    let r = d.post_json("/api/v1/alertmanager", AM_TOKEN, &wrong).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["field"], "version");
    let mut missing = am_payload("V", vec![]);
    missing.as_object_mut().expect("object").remove("groupKey");
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &missing)
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["field"], "groupKey");
    assert!(incidents(&d, "all").await.is_empty());
    d.stop().await;
}

#[tokio::test]
async fn store_failure_answers_503_and_recovers() {
    let d = spawn_daemon().await;
    let payload = am_payload("Store", vec![am_alert("Store", "a", "firing")]);
    d.state().store.set_fail_writes(true);
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 503);
    d.state().store.set_fail_writes(false);
    assert!(
        incidents(&d, "all").await.is_empty(),
        "nothing stored for a 503"
    );
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 200, "the retry is accepted");
    assert_eq!(incidents(&d, "all").await.len(), 1);
    d.stop().await;
}

#[tokio::test]
async fn a_repeated_snapshot_is_answered_from_memory_and_a_refire_is_not_swallowed() {
    // The in-memory mirror works on SQLite only: on a database shared by
    // several daemons it is off (tests/api/shared_database.rs).
    let mut d = spawn_on_sqlite(&roster_yaml("")).await;
    let firing = am_payload("Mem", vec![am_alert("Mem", "a", "firing")]);
    let resolved = am_payload("Mem", vec![am_alert("Mem", "a", "resolved")]);
    assert_eq!(
        d.post_json("/api/v1/alertmanager", AM_TOKEN, &firing)
            .await
            .status(),
        200
    );
    // The store refuses writes: a re-send of what it holds is still a 2xx
    // (nothing to store), a new snapshot is a 503.
    d.state().store.set_fail_writes(true);
    let r = d.post_json("/api/v1/alertmanager", AM_TOKEN, &firing).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["outcome"]["duplicate"], true);
    assert_eq!(
        d.post_json("/api/v1/alertmanager", AM_TOKEN, &resolved)
            .await
            .status(),
        503
    );
    d.state().store.set_fail_writes(false);
    // After the failed write the store decides again, and agrees.
    let body: Value = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &firing)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["outcome"]["duplicate"], true);
    let open = incidents(&d, "open").await;
    assert_eq!(open.len(), 1);
    let first = open[0]["id"].as_i64().expect("id");
    let body: Value = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &resolved)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["outcome"]["resolved"], json!([first]));
    // The same firing snapshot after the copy window is a re-fire.
    d.advance(chrono::Duration::minutes(2)).await;
    let body: Value = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &firing)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["outcome"]["duplicate"], false, "{body}");
    assert_eq!(incidents(&d, "open").await.len(), 1, "open again");
    // After a restart memory is empty and the store answers the same.
    d.restart().await;
    let body: Value = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &firing)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["outcome"]["duplicate"], true);
    assert_eq!(
        d.post_json("/api/v1/alertmanager", AM_TOKEN, &resolved)
            .await
            .status(),
        200
    );
    assert!(incidents(&d, "open").await.is_empty());
    d.stop().await;
}

#[tokio::test]
async fn non_critical_route_records_a_downgraded_incident() {
    let extra = "  - id: prom2\n    type: alertmanager\n    token_sha256: SHA\n    project: shop\n    routes:\n      - matchers: ['severity=\"warning\"']\n        critical: false\n        severity: minor\n";
    let token = "prom2-token-0123456789";
    let d = spawn_with(&roster_yaml(&extra.replace("SHA", &sha(token)))).await;
    let mut alert = am_alert("Warn", "a", "firing");
    alert["labels"]["severity"] = json!("warning");
    d.post_json(
        "/api/v1/alertmanager",
        token,
        &am_payload("Warn", vec![alert]),
    )
    .await;
    let all = incidents(&d, "all").await;
    assert_eq!(all[0]["state"], "downgraded");
    assert_eq!(all[0]["critical"], false);
    assert_eq!(all[0]["severity"], "minor");
    d.stop().await;
}

fn pd_event(action: &str, key: Option<&str>) -> Value {
    let mut v = json!({
        "routing_key": PD_TOKEN,
        "event_action": action,
        "payload": {"summary": "API latency high", "source": "api-1", "severity": "error"},
    });
    if let Some(k) = key {
        v["dedup_key"] = json!(k);
    }
    v
}

#[tokio::test]
async fn events_v2_follows_pagerduty_semantics() {
    let d = spawn_daemon().await;
    let r = d
        .http
        .post(d.url("/v2/enqueue"))
        .json(&pd_event("trigger", None))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "success");
    assert_eq!(body["message"], "Event processed");
    let key = body["dedup_key"]
        .as_str()
        .expect("generated dedup_key")
        .to_string();

    let r = d
        .http
        .post(d.url("/v2/enqueue"))
        .json(&pd_event("trigger", Some(&key)))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    assert_eq!(
        incidents(&d, "all").await.len(),
        1,
        "a repeated trigger adds to the incident"
    );
    let id = incidents(&d, "all").await[0]["id"].as_i64().expect("id");
    assert_eq!(incidents(&d, "all").await[0]["severity"], "major");

    let r = d
        .http
        .post(d.url("/v2/enqueue"))
        .json(&pd_event("acknowledge", Some(&key)))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    assert_eq!(show(&d, id).await["incident"]["state"], "acknowledged");
    let r = d
        .http
        .post(d.url("/v2/enqueue"))
        .json(&pd_event("resolve", Some(&key)))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    assert_eq!(show(&d, id).await["incident"]["state"], "resolved");
    // After a resolve the same key opens a new incident.
    d.http
        .post(d.url("/v2/enqueue"))
        .json(&pd_event("trigger", Some(&key)))
        .send()
        .await
        .expect("req");
    assert_eq!(incidents(&d, "all").await.len(), 2);
    // Acknowledge for an unknown key: accepted, changes nothing.
    let r = d
        .http
        .post(d.url("/v2/enqueue"))
        .json(&pd_event("acknowledge", Some("nope")))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    assert_eq!(incidents(&d, "all").await.len(), 2);
    d.stop().await;
}

#[tokio::test]
async fn events_v2_rejects_bad_events() {
    let d = spawn_daemon().await;
    let r = d
        .http
        .post(d.url("/v2/enqueue"))
        .body("{oops")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["status"],
        "Unrecognized object"
    );
    let mut bad = pd_event("trigger", None);
    bad["payload"]["severity"] = json!("apocalyptic");
    bad["payload"]
        .as_object_mut()
        .expect("object")
        .remove("source");
    let r = d
        .http
        .post(d.url("/v2/enqueue"))
        .json(&bad)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "invalid event");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(2), "{body}");
    let r = d
        .http
        .post(d.url("/v2/enqueue"))
        .json(&pd_event("acknowledge", None))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let mut unknown = pd_event("trigger", None);
    unknown["routing_key"] = json!("not-a-configured-key");
    let r = d
        .http
        .post(d.url("/v2/enqueue"))
        .json(&unknown)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    assert!(incidents(&d, "all").await.is_empty());
    d.stop().await;
}

#[tokio::test]
async fn change_events_and_events_v1() {
    let d = spawn_daemon().await;
    let change =
        json!({"routing_key": PD_TOKEN, "payload": {"summary": "Deployed v1.2.3", "source": "ci"}});
    let r = d
        .http
        .post(d.url("/v2/change/enqueue"))
        .json(&change)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    assert!(
        incidents(&d, "all").await.is_empty(),
        "change events never page"
    );
    let v1 = json!({"service_key": PD_TOKEN, "event_type": "trigger", "incident_key": "legacy-1", "description": "Old monitor says no"});
    let r = d
        .http
        .post(d.url("/generic/2010-04-15/create_event.json"))
        .json(&v1)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.expect("json")["incident_key"],
        "legacy-1"
    );
    assert_eq!(incidents(&d, "all").await.len(), 1);
    d.stop().await;
}

#[tokio::test]
async fn client_trigger_opens_a_client_reported_incident() {
    let d = spawn_daemon().await;
    let r = d
        .post_json(
            "/api/v1/trigger",
            CLIENT_TOKEN,
            &json!({"summary": "Checkout page is blank"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let all = incidents(&d, "all").await;
    assert_eq!(all[0]["client_reported"], true);
    assert_eq!(all[0]["client"], "acme");
    assert_eq!(all[0]["severity"], "critical");
    let r = d
        .post_json(
            "/api/v1/trigger",
            CLIENT_TOKEN,
            &json!({"details": "no summary"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["field"], "summary");
    let r = d
        .post_json("/api/v1/trigger", AM_TOKEN, &json!({"summary": "x"}))
        .await;
    assert_eq!(r.status(), 401);
    d.stop().await;
}

#[tokio::test]
async fn grafana_webhook_with_signature() {
    let token = "grafana-token-0123456789";
    let extra = format!(
        "  - id: graf\n    type: grafana\n    token_sha256: {}\n    signing_secret_file: grafana.secret\n    project: shop\n",
        sha(token)
    );
    let d = spawn_with_files(
        &roster_yaml(&extra),
        &[("grafana.secret", "grafana-hmac-secret")],
    )
    .await;
    let mut payload = am_payload("CPU", vec![am_alert("CPU", "a", "firing")]);
    payload["version"] = json!("1");
    payload["state"] = json!("alerting");
    payload["title"] = json!("[FIRING:1] CPU");
    payload["orgId"] = json!(1);
    let body = serde_json::to_vec(&payload).expect("json");
    let post = |sig: String, ts: Option<String>| {
        let mut req = d
            .http
            .post(d.url("/api/v1/grafana"))
            .bearer_auth(token)
            .header("X-Grafana-Alerting-Signature", sig)
            .body(body.clone());
        if let Some(ts) = ts {
            req = req.header("X-Grafana-Alerting-Timestamp", ts);
        }
        async move { req.send().await.expect("req").status() }
    };
    let signed = |at: chrono::DateTime<chrono::Utc>| {
        let ts = at.timestamp().to_string();
        let sig = tocsin::ingest::grafana::sign(b"grafana-hmac-secret", &body, Some(&ts));
        (sig, Some(ts))
    };
    let now = tocsin::clock::Clock::now(&d.clock);
    let (sig, ts) = signed(now);
    assert_eq!(post("00ff".into(), ts.clone()).await, 401);
    let untimed = tocsin::ingest::grafana::sign(b"grafana-hmac-secret", &body, None);
    assert_eq!(post(untimed, None).await, 401, "no timestamp: replayable");
    let (old, old_ts) = signed(now - chrono::Duration::days(730));
    assert_eq!(post(old, old_ts).await, 401, "two years old");
    let (future, future_ts) = signed(now + chrono::Duration::days(365 * 74));
    assert_eq!(post(future, future_ts).await, 401, "from 2100");
    assert!(incidents(&d, "all").await.is_empty(), "nothing stored");
    assert_eq!(post(sig.clone(), ts.clone()).await, 200);
    d.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(post(sig, ts).await, 401, "the same request replayed later");
    assert_eq!(incidents(&d, "all").await.len(), 1);
    d.stop().await;
}

#[tokio::test]
async fn a_grafana_alert_resolved_by_hand_that_still_fires_opens_anew_after_the_copy_window() {
    let token = "grafana-token-0123456789";
    let extra = format!(
        "  - id: graf\n    type: grafana\n    token_sha256: {}\n    project: shop\n",
        sha(token)
    );
    let d = spawn_with(&roster_yaml(&extra)).await;
    let mut payload = am_payload("CPU", vec![am_alert("CPU", "a", "firing")]);
    payload["version"] = json!("1");
    payload["state"] = json!("alerting");
    payload["orgId"] = json!(1);
    let send = || async {
        let r = d
            .http
            .post(d.url("/api/v1/grafana"))
            .bearer_auth(token)
            .json(&payload)
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.expect("json")["outcome"].clone()
    };
    let first = send().await["opened"][0].as_i64().expect("opened");
    let r = d
        .post_json(
            &format!("/api/v1/incidents/{first}/resolve"),
            BOB_TOKEN,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    d.advance(chrono::Duration::seconds(30)).await;
    assert_eq!(send().await["duplicate"], true, "an HA copy");
    d.advance(chrono::Duration::minutes(5)).await;
    let out = send().await;
    let second = out["opened"][0].as_i64().expect("opened anew");
    assert_ne!(second, first, "{out}");
    d.stop().await;
}
