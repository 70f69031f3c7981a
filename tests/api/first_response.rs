//! The guide's first response, step by step: the client channel post on
//! acknowledge, the diagnosis reminder, reassignment and the provider-ticket
//! reminder, status updates and their reminder, downgrade, and serious
//! incidents (by hand and by policy) announcing the postmortem's date.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

/// A client channel of `type: webhook`: every JSON body POSTed to it.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Value>>>);

impl Recorder {
    async fn start() -> (Recorder, String) {
        let rec = Recorder::default();
        let seen = rec.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    seen.0.lock().expect("recorder lock").push(v);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind recorder");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (rec, url)
    }

    fn texts(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("recorder lock")
            .iter()
            .map(|v| v["text"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

const LOG_CHANNEL: &str = r##"channel: { type: log, name: "#acme" }"##;

/// The standard roster, its client channel a webhook to a recorder.
async fn spawn_recorded(client_extra: &str, extra: &str) -> (Daemon, Recorder) {
    let (rec, url) = Recorder::start().await;
    let channel = format!(
        "channel: {{ type: webhook, name: \"#acme\", url_file: hook.url }}\n    {client_extra}"
    );
    let yaml = roster_yaml(extra).replace(LOG_CHANNEL, &channel);
    (spawn_with_files(&yaml, &[("hook.url", &url)]).await, rec)
}

async fn open(d: &Daemon, name: &str) -> i64 {
    let payload = am_payload(name, vec![am_alert(name, "a", "firing")]);
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    body["outcome"]["opened"][0].as_i64().expect("opened")
}

async fn post(d: &Daemon, id: i64, verb: &str, token: &str, body: Value) -> (u16, Value) {
    let r = d
        .post_json(&format!("/api/v1/incidents/{id}/{verb}"), token, &body)
        .await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn patch(d: &Daemon, id: i64, body: Value) -> (u16, Value) {
    let r = d
        .http
        .patch(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("patch");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
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

/// The client's reference of the incident (`ACME-1`).
async fn reference(d: &Daemon, id: i64) -> String {
    show(d, id).await["incident"]["reference"]
        .as_str()
        .expect("reference")
        .to_string()
}

/// Timeline events of `kind`, their details.
async fn events(d: &Daemon, id: i64, kind: &str) -> Vec<Value> {
    show(d, id).await["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["detail"].clone())
        .collect()
}

/// Reminders queued about `about`, as (person, channel).
async fn reminders(d: &Daemon, id: i64, about: &str) -> Vec<(String, String)> {
    events(d, id, "reminder queued")
        .await
        .into_iter()
        .filter(|e| e["about"] == about)
        .map(|e| {
            (
                e["person"].as_str().unwrap_or("").to_string(),
                e["channel"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Client posts queued, as (about, text).
async fn client_posts(d: &Daemon, id: i64) -> Vec<(String, String)> {
    events(d, id, "client post queued")
        .await
        .into_iter()
        .map(|e| {
            (
                e["about"].as_str().unwrap_or("").to_string(),
                e["text"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn flush(d: &Daemon) {
    tocsin::outbox::run_once(d.state())
        .await
        .expect("outbox runs");
}

#[tokio::test]
async fn acknowledge_posts_online_to_the_client_channel() {
    let (d, rec) = spawn_recorded(
        r#"ack_message: "{person} is on it: incident {number} ({title}) of {project}""#,
        "",
    )
    .await;
    let id = open(&d, "DiskFull").await;
    assert!(client_posts(&d, id).await.is_empty());
    let (status, _) = post(&d, id, "acknowledge", BOB_TOKEN, json!({})).await;
    assert_eq!(status, 200);
    let want = format!(
        "bob is on it: incident {} (DiskFull on a) of shop",
        reference(&d, id).await
    );
    assert_eq!(
        client_posts(&d, id).await,
        vec![("acknowledged".to_string(), want.clone())]
    );
    flush(&d).await;
    assert_eq!(rec.texts(), vec![want]);
    let sent = events(&d, id, "notification sent").await;
    assert!(
        sent.iter()
            .any(|e| e["channel"] == "channel" && e["provider"] == "webhook"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn default_online_wording() {
    let d = spawn_daemon().await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    assert_eq!(
        client_posts(&d, id).await,
        vec![(
            "acknowledged".to_string(),
            format!(
                "alice is online and investigating incident {}: DiskFull on a.",
                reference(&d, id).await
            )
        )]
    );
}

#[test]
fn unknown_placeholder_is_a_config_error_with_its_position() {
    let yaml = roster_yaml("").replace(
        LOG_CHANNEL,
        &format!("{LOG_CHANNEL}\n    ack_message: \"{{who}} is online\""),
    );
    let line = yaml
        .lines()
        .position(|l| l.contains("ack_message"))
        .expect("ack_message line")
        + 1;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tocsin.yaml");
    std::fs::write(&path, &yaml).expect("write");
    let err = tocsin::config::load(&path)
        .expect_err("unknown placeholder")
        .to_string();
    assert!(
        err.contains(&format!("tocsin.yaml:{line}:")),
        "no position in {err}"
    );
    assert!(err.contains("unknown placeholder {who}"), "{err}");
}

#[tokio::test]
async fn diagnosis_reminder_until_diagnosed() {
    let d = spawn_daemon().await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    d.advance(Duration::minutes(14)).await;
    assert!(reminders(&d, id, "diagnosis").await.is_empty());
    d.advance(Duration::minutes(1)).await;
    let alice_chat = vec![("alice".to_string(), "chat".to_string())];
    assert_eq!(reminders(&d, id, "diagnosis").await, alice_chat);
    // Half a diagnosis keeps the reminder going.
    patch(&d, id, json!({"layer": "application"})).await;
    d.advance(Duration::minutes(15)).await;
    assert_eq!(reminders(&d, id, "diagnosis").await.len(), 2);
    let (status, _) = patch(&d, id, json!({"reproducible": true})).await;
    assert_eq!(status, 200);
    d.advance(Duration::minutes(60)).await;
    assert_eq!(reminders(&d, id, "diagnosis").await.len(), 2);
}

#[tokio::test]
async fn diagnosis_reminder_delay_is_configurable_never_voice_and_ends_with_the_incident() {
    let d = spawn_with(&roster_yaml("limits:\n  diagnosis_reminder: 5m\n")).await;
    let id = open(&d, "DiskFull").await;
    // Bob has no chat: email, never voice or SMS.
    post(&d, id, "acknowledge", BOB_TOKEN, json!({})).await;
    d.advance(Duration::minutes(5)).await;
    let bob_email = vec![("bob".to_string(), "email".to_string())];
    assert_eq!(reminders(&d, id, "diagnosis").await, bob_email);
    post(&d, id, "resolve", BOB_TOKEN, json!({})).await;
    d.advance(Duration::minutes(30)).await;
    assert_eq!(reminders(&d, id, "diagnosis").await, bob_email);
    assert_eq!(events(&d, id, "reminders stopped").await.len(), 1);
}

#[tokio::test]
async fn assign_records_and_tells_the_new_assignee() {
    let d = spawn_daemon().await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    let (status, body) = post(&d, id, "assign", ADMIN_TOKEN, json!({"person": "dave"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["incident"]["assignee"], "dave");
    assert_eq!(body["changed"], true);
    let assigned = events(&d, id, "assigned").await;
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0]["from"], "alice");
    assert_eq!(assigned[0]["to"], "dave");
    let notices = events(&d, id, "notice queued").await;
    // Dave has only a phone: an SMS, never a call.
    assert!(
        notices
            .iter()
            .any(|n| n["person"] == "dave" && n["about"] == "assigned" && n["channel"] == "sms"),
        "{notices:?}"
    );
    // Reminders now go to dave.
    d.advance(Duration::minutes(15)).await;
    assert_eq!(
        reminders(&d, id, "diagnosis").await,
        vec![("dave".to_string(), "sms".to_string())]
    );

    let (status, _) = post(&d, id, "assign", ADMIN_TOKEN, json!({"person": "zed"})).await;
    assert_eq!(status, 404);
    let (status, _) = post(&d, 999, "assign", ADMIN_TOKEN, json!({"person": "bob"})).await;
    assert_eq!(status, 404);
    let (status, _) = post(&d, id, "assign", ADMIN_TOKEN, json!({})).await;
    assert_eq!(status, 400);
    post(&d, id, "resolve", ADMIN_TOKEN, json!({})).await;
    let (status, _) = post(&d, id, "assign", ADMIN_TOKEN, json!({"person": "bob"})).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn third_party_layer_reminds_until_a_provider_ticket() {
    let d = spawn_daemon().await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    let (status, _) = patch(
        &d,
        id,
        json!({"layer": "third_party", "reproducible": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(events(&d, id, "provider ticket needed").await.len(), 1);
    d.advance(Duration::minutes(29)).await;
    assert!(reminders(&d, id, "provider ticket").await.is_empty());
    d.advance(Duration::minutes(1)).await;
    assert_eq!(reminders(&d, id, "provider ticket").await.len(), 1);
    d.advance(Duration::minutes(30)).await;
    assert_eq!(
        reminders(&d, id, "provider ticket").await,
        vec![("alice".to_string(), "chat".to_string()); 2]
    );
    let (status, _) = patch(&d, id, json!({"provider_ticket": "  "})).await;
    assert_eq!(status, 400);
    let (status, body) = patch(&d, id, json!({"provider_ticket": "AWS-1234"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["incident"]["provider_ticket"], "AWS-1234");
    d.advance(Duration::minutes(90)).await;
    assert_eq!(reminders(&d, id, "provider ticket").await.len(), 2);
}

#[tokio::test]
async fn third_party_reminder_interval_is_configurable_and_ends_with_the_incident() {
    let d = spawn_with(&roster_yaml("limits:\n  third_party_reminder: 10m\n")).await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    patch(&d, id, json!({"layer": "third_party"})).await;
    d.advance(Duration::minutes(10)).await;
    assert_eq!(reminders(&d, id, "provider ticket").await.len(), 1);
    post(&d, id, "resolve", ADMIN_TOKEN, json!({})).await;
    d.advance(Duration::minutes(60)).await;
    assert_eq!(reminders(&d, id, "provider ticket").await.len(), 1);
}

#[tokio::test]
async fn status_updates_reach_the_client_channel() {
    let (d, rec) = spawn_recorded("", "").await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    let (status, body) = post(
        &d,
        id,
        "updates",
        ADMIN_TOKEN,
        json!({"text": "  Rolling back the last deploy.  "}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let updates = events(&d, id, "status update").await;
    assert_eq!(
        updates,
        vec![json!({"text": "Rolling back the last deploy."})]
    );
    let want = format!(
        "Update on incident {} (DiskFull on a) from alice: Rolling back the last deploy.",
        reference(&d, id).await
    );
    assert_eq!(
        client_posts(&d, id).await[1],
        ("update".to_string(), want.clone())
    );
    flush(&d).await;
    assert_eq!(rec.texts().last(), Some(&want));

    for (text, code) in [
        (json!(""), 400),
        (json!("   "), 400),
        (json!("é".repeat(2001)), 400),
        (json!("é".repeat(2000)), 200),
    ] {
        let (status, _) = post(&d, id, "updates", ADMIN_TOKEN, json!({"text": text})).await;
        assert_eq!(status, code, "{text}");
    }
    let (status, _) = post(&d, id, "updates", ADMIN_TOKEN, json!({})).await;
    assert_eq!(status, 400);
    let (status, _) = post(&d, id, "updates", "not-a-token", json!({"text": "x"})).await;
    assert_eq!(status, 401);
    let (status, _) = post(&d, 999, "updates", ADMIN_TOKEN, json!({"text": "x"})).await;
    assert_eq!(status, 404);
    post(&d, id, "resolve", ADMIN_TOKEN, json!({})).await;
    let (status, _) = post(&d, id, "updates", ADMIN_TOKEN, json!({"text": "x"})).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn update_reminder_fires_at_update_every_and_not_after_an_update() {
    let d = spawn_daemon().await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    d.advance(Duration::minutes(20)).await;
    post(&d, id, "updates", ADMIN_TOKEN, json!({"text": "looking"})).await;
    // 35 minutes after the acknowledgement, 15 after the update: quiet.
    d.advance(Duration::minutes(15)).await;
    assert!(reminders(&d, id, "status update").await.is_empty());
    // 30 minutes after the update: chat and SMS.
    d.advance(Duration::minutes(15)).await;
    let both = vec![
        ("alice".to_string(), "chat".to_string()),
        ("alice".to_string(), "sms".to_string()),
    ];
    assert_eq!(reminders(&d, id, "status update").await, both);
    // Repeats every update_every until the incident ends.
    d.advance(Duration::minutes(30)).await;
    assert_eq!(reminders(&d, id, "status update").await.len(), 4);
    post(&d, id, "resolve", ADMIN_TOKEN, json!({})).await;
    d.advance(Duration::minutes(120)).await;
    assert_eq!(reminders(&d, id, "status update").await.len(), 4);
}

#[tokio::test]
async fn update_every_comes_from_the_project() {
    let yaml = roster_yaml("").replace(
        "    responders: [bob]\n",
        "    responders: [bob]\n    update_every: 10m\n",
    );
    let d = spawn_with(&yaml).await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    d.advance(Duration::minutes(9)).await;
    assert!(reminders(&d, id, "status update").await.is_empty());
    d.advance(Duration::minutes(1)).await;
    assert_eq!(reminders(&d, id, "status update").await.len(), 2);
}

#[tokio::test]
async fn downgrade_posts_to_the_channel_and_stops_paging_and_reminders() {
    let (d, rec) = spawn_recorded("", "").await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    let (status, body) = post(&d, id, "downgrade", ADMIN_TOKEN, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let posts = client_posts(&d, id).await;
    assert_eq!(posts.last().map(|p| p.0.as_str()), Some("downgraded"));
    flush(&d).await;
    assert!(
        rec.texts()
            .last()
            .is_some_and(|t| t.contains("agreed to be non-critical")),
        "{:?}",
        rec.texts()
    );
    let pages_before = events(&d, id, "page queued").await.len();
    d.advance(Duration::hours(3)).await;
    assert!(events(&d, id, "reminder queued").await.is_empty());
    assert_eq!(events(&d, id, "page queued").await.len(), pages_before);
    assert!(events(&d, id, "marked serious").await.is_empty());
}

#[tokio::test]
async fn serious_by_hand_announces_the_postmortem_day() {
    let (d, rec) = spawn_recorded("", "").await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    let (status, _) = patch(&d, id, json!({"serious": true})).await;
    assert_eq!(status, 400, "a reason is required");
    let (status, body) = patch(
        &d,
        id,
        json!({"serious": true, "serious_reason": "data loss"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["incident"]["serious"], true);
    assert_eq!(body["incident"]["serious_reason"], "data loss");
    // Resolved on Wednesday 10:00 in Berlin: the postmortem follows Thursday.
    post(&d, id, "resolve", ADMIN_TOKEN, json!({})).await;
    flush(&d).await;
    let last = rec.texts().last().cloned().unwrap_or_default();
    assert_eq!(
        last,
        format!(
            "Incident {} (DiskFull on a) is resolved. A detailed postmortem follows on the next business day, Thursday 2026-11-26.",
            reference(&d, id).await
        )
    );
    let announced = events(&d, id, "postmortem announced").await;
    assert_eq!(
        announced,
        vec![json!({"on": "2026-11-26", "reason": "data loss"})]
    );
}

#[tokio::test]
async fn serious_by_policy_after_an_hour_and_holidays_move_the_postmortem() {
    let d = spawn_with(&roster_yaml("calendar:\n  holidays: [\"2026-11-26\"]\n")).await;
    let id = open(&d, "DiskFull").await;
    post(&d, id, "acknowledge", ADMIN_TOKEN, json!({})).await;
    d.advance(Duration::minutes(59)).await;
    assert_eq!(show(&d, id).await["incident"]["serious"], false);
    d.advance(Duration::minutes(1)).await;
    let inc = show(&d, id).await["incident"].clone();
    assert_eq!(inc["serious"], true);
    assert_eq!(inc["serious_reason"], "open longer than 1h");
    assert_eq!(
        events(&d, id, "marked serious").await,
        vec![json!({"reason": "open longer than 1h", "by": "policy"})]
    );
    post(&d, id, "resolve", ADMIN_TOKEN, json!({})).await;
    let posts = client_posts(&d, id).await;
    let resolved = posts
        .iter()
        .find(|p| p.0 == "resolved")
        .expect("resolved post");
    assert!(
        resolved
            .1
            .ends_with("next business day, Friday 2026-11-27."),
        "{}",
        resolved.1
    );
}

#[tokio::test]
async fn serious_threshold_is_configurable_and_a_quick_fix_is_not_serious() {
    let d = spawn_with(&roster_yaml("limits:\n  serious_after: 2h\n")).await;
    let quick = open(&d, "Quick").await;
    post(&d, quick, "resolve", ADMIN_TOKEN, json!({})).await;
    let slow = open(&d, "Slow").await;
    d.advance(Duration::minutes(119)).await;
    assert_eq!(show(&d, slow).await["incident"]["serious"], false);
    d.advance(Duration::minutes(1)).await;
    assert_eq!(
        show(&d, slow).await["incident"]["serious_reason"],
        "open longer than 2h"
    );
    assert_eq!(show(&d, quick).await["incident"]["serious"], false);
    let posts = client_posts(&d, quick).await;
    assert!(
        posts.iter().all(|p| !p.1.contains("postmortem")),
        "{posts:?}"
    );
}

#[tokio::test]
async fn cli_posts_updates_and_assigns() {
    let d = spawn_daemon().await;
    let id = open(&d, "DiskFull").await;
    let n = id.to_string();
    let run = |args: Vec<String>| {
        let base = d.base.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
                .arg("--url")
                .arg(base)
                .args(args)
                .env("TOCSIN_TOKEN", BOB_TOKEN)
                .env_remove("TOCSIN_URL")
                .env_remove("TOCSIN_CONFIG")
                .output()
                .await
                .expect("run tocsin")
        }
    };
    let o = run(vec![
        "incidents".into(),
        "update".into(),
        n.clone(),
        "on it".into(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        events(&d, id, "status update").await,
        vec![json!({"text": "on it"})]
    );
    let o = run(vec![
        "incidents".into(),
        "assign".into(),
        n.clone(),
        "dave".into(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("incident {id}: assigned to dave\n")
    );
    assert_eq!(show(&d, id).await["incident"]["assignee"], "dave");
    let o = run(vec!["incidents".into(), "assign".into(), n, "zed".into()]).await;
    assert_eq!(o.status.code(), Some(1), "{o:?}");
}

#[tokio::test]
async fn handing_over_an_acknowledged_incident_tells_the_client_who_took_over() {
    let (d, rec) = spawn_recorded(
        r#"ack_message: "{person} is on it: incident {number} ({title}) of {project}""#,
        "",
    )
    .await;
    // Not acknowledged yet: the client has heard nothing, and hears the
    // assignee's name at the acknowledge.
    let early = open(&d, "DiskFull").await;
    let (status, _) = post(&d, early, "assign", ADMIN_TOKEN, json!({"person": "dave"})).await;
    assert_eq!(status, 200);
    assert!(client_posts(&d, early).await.is_empty());

    let id = open(&d, "CpuHigh").await;
    post(&d, id, "acknowledge", BOB_TOKEN, json!({})).await;
    let (status, body) = post(&d, id, "assign", BOB_TOKEN, json!({"person": "dave"})).await;
    assert_eq!(status, 200, "{body}");
    let r = reference(&d, id).await;
    let ack = format!("bob is on it: incident {r} (CpuHigh on a) of shop");
    let handover = format!("dave is on it: incident {r} (CpuHigh on a) of shop");
    assert_eq!(
        client_posts(&d, id).await,
        vec![
            ("acknowledged".to_string(), ack.clone()),
            ("assigned".to_string(), handover.clone())
        ]
    );
    // The same person again changes nothing and posts nothing.
    let (_, body) = post(&d, id, "assign", ADMIN_TOKEN, json!({"person": "dave"})).await;
    assert_eq!(body["changed"], false);
    assert_eq!(client_posts(&d, id).await.len(), 2);
    flush(&d).await;
    assert_eq!(rec.texts(), vec![ack, handover]);
}
