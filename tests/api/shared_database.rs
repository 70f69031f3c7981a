//! Several daemons on one PostgreSQL database: each serves the whole API,
//! a deadline fires once, a page is claimed by one daemon, an
//! acknowledgement on one stops what the other queued, and a commit on one
//! wakes the other. These need the shared database: on a SQLite run they
//! say so and return (CI runs them in its PostgreSQL pass).

use serde_json::{Value, json};

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

/// Two daemons on one fresh database, or None on a SQLite run.
async fn pair() -> Option<(Daemon, Daemon)> {
    if std::env::var(TEST_POSTGRES).map_or(true, |u| u.is_empty()) {
        eprintln!("{TEST_POSTGRES} is not set: two daemons need PostgreSQL; not run");
        return None;
    }
    let a = spawn_daemon().await;
    let b = a.peer().await;
    Some((a, b))
}

async fn post_am(d: &Daemon, group: &str) -> u16 {
    let body = am_payload(group, vec![am_alert(group, "a", "firing")]);
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &body)
        .await
        .status()
        .as_u16()
}

async fn all_incidents(d: &Daemon) -> Vec<Value> {
    let r = d
        .http
        .get(d.url("/api/v1/incidents?state=all&limit=500"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    body["incidents"].as_array().cloned().unwrap_or_default()
}

async fn pages(d: &Daemon, id: i64) -> Vec<tocsin::incident::OutboxRow> {
    d.state()
        .store
        .query(move |r| r.outbox_for(id))
        .await
        .expect("outbox")
        .into_iter()
        .filter(|r| r.kind == "page")
        .collect()
}

#[tokio::test]
async fn the_same_group_at_both_daemons_at_once_opens_one_incident() {
    let Some((a, b)) = pair().await else { return };
    let payload = am_payload("HaDup", vec![am_alert("HaDup", "a", "firing")]);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let http = a.http.clone();
        let url = if i % 2 == 0 { &a } else { &b }.url("/api/v1/alertmanager");
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
    assert_eq!(all_incidents(&a).await.len(), 1);
    assert_eq!(all_incidents(&b).await.len(), 1, "both daemons see it");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn under_load_on_both_every_alert_is_stored_and_paged_once() {
    let Some((a, b)) = pair().await else { return };
    let mut tasks = Vec::new();
    for i in 0..40 {
        let http = a.http.clone();
        let url = if i % 2 == 0 { &a } else { &b }.url("/api/v1/alertmanager");
        let group = format!("Load{i:02}");
        let body = am_payload(&group, vec![am_alert(&group, "a", "firing")]);
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(AM_TOKEN)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("request"), 200);
    }
    // Both outbox workers at once: each page is claimed by one of them.
    let (x, y) = tokio::join!(
        tocsin::outbox::run_once(a.state()),
        tocsin::outbox::run_once(b.state())
    );
    x.expect("outbox a");
    y.expect("outbox b");
    a.settle().await;
    b.settle().await;
    let all = all_incidents(&a).await;
    assert_eq!(all.len(), 40);
    for i in &all {
        let id = i["id"].as_i64().expect("id");
        // Sent, or folded into an SMS to the same person that was sent.
        let statuses: Vec<String> = pages(&a, id).await.into_iter().map(|p| p.status).collect();
        assert!(
            statuses == ["sent"] || statuses == ["bundled"],
            "incident {id}: {statuses:?}"
        );
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_deadline_fires_once_on_whichever_daemon_takes_it() {
    let Some((a, b)) = pair().await else { return };
    assert_eq!(post_am(&a, "Esc").await, 200);
    a.settle().await;
    a.clock.advance(chrono::Duration::minutes(5));
    let (x, y) = tokio::join!(
        tocsin::engine::tick(a.state()),
        tocsin::engine::tick(b.state())
    );
    assert_eq!(
        x.expect("tick a") + y.expect("tick b"),
        1,
        "the step fired once"
    );
    a.settle().await;
    b.settle().await;
    let id = all_incidents(&b).await[0]["id"].as_i64().expect("id");
    let channels: Vec<String> = pages(&b, id).await.into_iter().map(|p| p.channel).collect();
    assert_eq!(channels, ["sms", "voice"], "step 1 then step 2, once each");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn acknowledging_on_one_daemon_stops_pages_the_other_queued() {
    let Some((a, b)) = pair().await else { return };
    assert_eq!(post_am(&b, "Ack").await, 200);
    let id = all_incidents(&a).await[0]["id"].as_i64().expect("id");
    assert_eq!(
        pages(&b, id)
            .await
            .iter()
            .map(|p| p.status.as_str())
            .collect::<Vec<_>>(),
        ["pending"]
    );
    let r = a
        .post_json(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            BOB_TOKEN,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    b.settle().await;
    assert_eq!(
        pages(&b, id)
            .await
            .iter()
            .map(|p| p.status.as_str())
            .collect::<Vec<_>>(),
        ["cancelled"],
        "nothing sent after the acknowledgement"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_commit_on_one_daemon_wakes_the_other() {
    let Some((a, b)) = pair().await else { return };
    let wait = std::time::Duration::from_secs(5);
    // Take any wake-up of b's own start first.
    let drain = std::time::Duration::from_millis(200);
    let _ = tokio::time::timeout(drain, b.state().outbox_wake.notified()).await;
    let _ = tokio::time::timeout(drain, b.state().wake.notified()).await;
    assert_eq!(post_am(&a, "Wake").await, 200);
    tokio::time::timeout(wait, b.state().outbox_wake.notified())
        .await
        .expect("the other daemon's outbox worker is woken");
    tokio::time::timeout(wait, b.state().wake.notified())
        .await
        .expect("the other daemon's timer task is woken");
    a.stop().await;
    b.stop().await;
}

/// Runs `sql` as the server's administrator (off the test's runtime).
fn admin(sql: String) {
    let url = std::env::var(TEST_POSTGRES).expect("PostgreSQL run");
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("admin connection");
        c.batch_execute(&sql).expect("admin statement");
    })
    .join()
    .expect("admin thread");
}

#[tokio::test]
async fn the_database_away_is_503_and_back_is_served_without_a_restart() {
    let Some((a, b)) = pair().await else { return };
    b.stop().await;
    assert_eq!(post_am(&a, "Before").await, 200);
    let url = std::fs::read_to_string(a.dir.path().join("pg.url")).expect("pg.url");
    let db = url.rsplit('/').next().expect("database name").to_string();
    // Away: every connection cut, and no new one accepted.
    admin(format!(
        "ALTER DATABASE {db} WITH ALLOW_CONNECTIONS false;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ));
    assert_eq!(post_am(&a, "Away").await, 503, "not stored, so not 2xx");
    assert_eq!(a.get("/readyz").await.status(), 503);
    // Back: served again by the same daemon.
    admin(format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true"));
    assert_eq!(post_am(&a, "After").await, 200);
    assert_eq!(a.get("/readyz").await.status(), 200);
    let mut titles: Vec<String> = all_incidents(&a)
        .await
        .iter()
        .map(|i| i["title"].as_str().unwrap_or("").to_string())
        .collect();
    titles.sort();
    assert_eq!(titles, ["After on a", "Before on a"]);
    a.stop().await;
}

#[tokio::test]
async fn what_a_daemon_that_is_gone_was_sending_goes_out_from_the_other() {
    let Some((a, b)) = pair().await else { return };
    assert_eq!(post_am(&a, "Gone").await, 200);
    let id = all_incidents(&b).await[0]["id"].as_i64().expect("id");
    // The first daemon claims the page (it is being sent)...
    let claimed = a
        .state()
        .transact_paging(|repo, ctx| {
            tocsin::escalation::delivery::claim(repo, ctx, 10).map(|c| c.len())
        })
        .await
        .expect("claim");
    assert_eq!(claimed, 1);
    // ...while it lives, the other leaves the claim alone...
    tocsin::outbox::run_once(b.state()).await.expect("outbox b");
    let statuses = |d: &Daemon| {
        let s = d.state().clone();
        async move {
            s.store
                .query(move |r| r.outbox_for(id))
                .await
                .expect("outbox")
                .into_iter()
                .map(|r| r.status)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(statuses(&b).await, ["sending"]);
    // ...and once it is gone, sends it at its next pass, not minutes later.
    a.stop().await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    tocsin::outbox::run_once(b.state()).await.expect("outbox b");
    assert_eq!(statuses(&b).await, ["sent"]);
    b.stop().await;
}

#[tokio::test]
async fn a_daemon_never_answers_from_memory_for_a_group_the_other_moved_on() {
    let Some((a, b)) = pair().await else { return };
    let post = |d: &Daemon, status: &str| {
        let body = am_payload("Flip", vec![am_alert("Flip", "a", status)]);
        let (http, url) = (d.http.clone(), d.url("/api/v1/alertmanager"));
        async move {
            let r = http
                .post(url)
                .bearer_auth(AM_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("post");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")["outcome"]["duplicate"] == json!(true)
        }
    };
    assert!(!post(&a, "firing").await);
    // The other daemon hears it resolve...
    assert!(!post(&b, "resolved").await);
    // ...and, past the HA copy window, it fires again at the first one:
    // a new alert, not the snapshot that daemon saw last.
    a.clock.advance(chrono::Duration::minutes(2));
    assert!(!post(&a, "firing").await, "the refire was swallowed");
    let open: Vec<Value> = all_incidents(&a)
        .await
        .into_iter()
        .filter(|i| i["state"] == "triggered")
        .collect();
    assert_eq!(open.len(), 1, "the refire opened an incident again");
    a.stop().await;
    b.stop().await;
}
