//! Heartbeats: a missed deadline opens an incident, a ping resolves it,
//! deadlines survive a restart.

use serde_json::Value;

use crate::helpers::*;

const HB_TOKEN: &str = "heartbeat-token-0123456789";

fn config() -> String {
    roster_yaml(&format!(
        "heartbeats:\n  - id: watchdog\n    project: shop\n    interval: 5m\n    grace: 1m\n    token_sha256: {}\n",
        sha(HB_TOKEN)
    ))
}

async fn all(d: &Daemon) -> Vec<Value> {
    let r = d
        .http
        .get(d.url("/api/v1/incidents?state=all"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    r.json::<Value>().await.expect("json")["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn ping(d: &Daemon, token: &str) -> u16 {
    ping_id(d, "watchdog", token).await
}

async fn ping_id(d: &Daemon, id: &str, token: &str) -> u16 {
    d.http
        .post(d.url(&format!("/api/v1/heartbeat/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("ping")
        .status()
        .as_u16()
}

#[tokio::test]
async fn missed_heartbeat_opens_and_ping_resolves() {
    let d = spawn_with(&config()).await;
    assert_eq!(ping(&d, HB_TOKEN).await, 200);
    assert_eq!(ping(&d, "wrong-token-0123456789").await, 401);
    let r = d
        .http
        .post(d.url("/api/v1/heartbeat/nope"))
        .bearer_auth(HB_TOKEN)
        .send()
        .await
        .expect("ping");
    assert_eq!(r.status(), 404);

    // One second before interval + grace: nothing.
    d.advance(chrono::Duration::seconds(359)).await;
    assert!(all(&d).await.is_empty());
    // At the deadline: an incident.
    assert_eq!(d.advance(chrono::Duration::seconds(1)).await, 1);
    let incidents = all(&d).await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0]["state"], "triggered");
    assert_eq!(incidents[0]["source"], "heartbeat");
    // Still silent: no second incident (only the escalation's own deadlines fire).
    d.advance(chrono::Duration::minutes(30)).await;
    assert_eq!(all(&d).await.len(), 1);
    // The next ping resolves it.
    assert_eq!(ping(&d, HB_TOKEN).await, 200);
    assert_eq!(all(&d).await[0]["state"], "resolved");
    d.stop().await;
}

#[tokio::test]
async fn heartbeat_ids_cannot_be_listed_without_a_token() {
    let d = spawn_with(&config()).await;
    // (id, token, status): the token is checked before the id.
    for (id, token, status) in [
        ("nope", "wrong-token-0123456789", 401),
        ("watchdog", "wrong-token-0123456789", 401),
        ("nope", BOB_TOKEN, 401),
        ("nope", HB_TOKEN, 404),
        ("nope", AM_TOKEN, 404),
        ("watchdog", PD_TOKEN, 401),
        ("watchdog", HB_TOKEN, 200),
    ] {
        assert_eq!(ping_id(&d, id, token).await, status, "{id} with {token}");
    }
    let r = d
        .http
        .post(d.url("/api/v1/heartbeat/nope"))
        .send()
        .await
        .expect("ping");
    assert_eq!(r.status(), 401, "no token at all");
    d.stop().await;
}

#[tokio::test]
async fn heartbeat_deadline_survives_a_restart() {
    let mut d = spawn_with(&config()).await;
    assert_eq!(ping(&d, HB_TOKEN).await, 200);
    d.restart().await;
    assert_eq!(d.advance(chrono::Duration::minutes(6)).await, 1);
    assert_eq!(all(&d).await.len(), 1);
    d.stop().await;
}

/// A reload that changes a heartbeat's interval moves the deadline already
/// armed, counted from the last ping: lengthened, it opens nothing at the old
/// deadline; shortened, it opens at the new one.
#[tokio::test]
async fn a_reloaded_interval_moves_the_deadline_from_the_last_ping() {
    let d = spawn_with(&config()).await;
    assert_eq!(ping(&d, HB_TOKEN).await, 200);
    d.advance(chrono::Duration::minutes(2)).await;
    std::fs::write(&d.config, config().replace("interval: 5m", "interval: 1h")).expect("write");
    reload(&d).await;
    d.advance(chrono::Duration::minutes(30)).await;
    assert!(
        all(&d).await.is_empty(),
        "the old 6-minute deadline is gone"
    );
    std::fs::write(&d.config, config().replace("interval: 5m", "interval: 40m")).expect("write");
    reload(&d).await;
    // 32 minutes since the ping: 41 minutes is the new deadline.
    d.advance(chrono::Duration::minutes(8)).await;
    assert!(all(&d).await.is_empty(), "one minute early");
    d.advance(chrono::Duration::minutes(1)).await;
    assert_eq!(all(&d).await.len(), 1);
    d.stop().await;
}

async fn reload(d: &Daemon) {
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("reload");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_heartbeat_that_never_pings_is_noticed() {
    let d = spawn_with(&config()).await;
    assert_eq!(d.advance(chrono::Duration::minutes(6)).await, 1);
    assert_eq!(all(&d).await.len(), 1);
    d.stop().await;
}

/// A notification whose provider answer could not be recorded (the store
/// failed after the call) is not left `sending` for ever: it is queued again.
#[tokio::test]
async fn a_claim_without_a_recorded_answer_is_requeued() {
    let d = spawn_with(&config()).await;
    assert!(d.advance(chrono::Duration::minutes(6)).await >= 1);
    let id = all(&d).await[0]["id"].as_i64().expect("id");
    let now = tocsin::clock::Clock::now(&d.clock);
    let row = tocsin::incident::OutboxRow {
        incident: Some(id),
        status: "sending".into(),
        ..tocsin::incident::OutboxRow::pending(
            "notice",
            "email",
            "bob@example.com".into(),
            "s".into(),
            "b".into(),
            now,
        )
    };
    let oid = d
        .state()
        .store
        .transact(move |repo| repo.insert_outbox(&row))
        .await
        .expect("insert");
    d.clock.advance(chrono::Duration::minutes(4));
    assert_eq!(
        tocsin::outbox::reap(d.state()).await.expect("reap"),
        0,
        "still within a provider call's time"
    );
    d.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(tocsin::outbox::reap(d.state()).await.expect("reap"), 1);
    d.settle().await;
    let status: String = d
        .state()
        .store
        .query(move |r| r.outbox_for(id))
        .await
        .expect("outbox")
        .into_iter()
        .find(|r| r.id == oid)
        .expect("the row")
        .status;
    assert_eq!(status, "sent");
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    let body: Value = r.json().await.expect("json");
    assert!(
        body["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .any(|e| e["kind"] == "requeued"),
        "{body}"
    );
    d.stop().await;
}
