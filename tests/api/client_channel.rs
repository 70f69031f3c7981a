//! What reaches a client's public channel: only incidents the client was
//! told about (its own report, the "online" post, a status update), never
//! a heartbeat, and each named by the client's own reference (`ACME-1`),
//! never by the global number. Both clients' channels are fake chat
//! webhooks, so each test checks exactly what each client received.

use serde_json::{Value, json};

use crate::fakes::FakeChat;
use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

const GLOBEX_TOKEN: &str = "client-globex-0123456789";
const GX_AM_TOKEN: &str = "gx-am-token-0123456789ab";
const HB_TOKEN: &str = "heartbeat-token-0123456789";

/// The daemon with two clients: acme (project shop, integration prom and a
/// heartbeat) and globex (project store, integration gx).
struct Clients {
    d: Daemon,
    acme: FakeChat,
    globex: FakeChat,
}

async fn spawn() -> Clients {
    let acme = FakeChat::start().await;
    let globex = FakeChat::start().await;
    let extra = format!(
        "  - id: gx\n    type: alertmanager\n    token_sha256: {gx}\n    project: store\n\
         heartbeats:\n  - id: watchdog\n    project: shop\n    interval: 5m\n    grace: 1m\n    token_sha256: {hb}\n",
        gx = sha(GX_AM_TOKEN),
        hb = sha(HB_TOKEN),
    );
    let yaml = roster_yaml(&extra)
        .replace(
            r##"channel: { type: log, name: "#acme" }"##,
            r##"channel: { type: webhook, name: "#acme", url_file: acme.url }"##,
        )
        .replace(
            "projects:\n",
            &format!(
                "  - id: globex\n    channel: {{ type: webhook, name: \"#globex\", url_file: globex.url }}\n    token_sha256: {}\n\
                 projects:\n  - id: store\n    client: globex\n    team: web\n    responders: [bob]\n",
                sha(GLOBEX_TOKEN)
            ),
        );
    let files = [
        ("acme.url", acme.url("/hook")),
        ("globex.url", globex.url("/hook")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, u)| (*n, u.as_str())).collect();
    let d = spawn_with_files(&yaml, &files).await;
    Clients { d, acme, globex }
}

/// (title, text) of every post a channel received, in order.
fn posts(chat: &FakeChat) -> Vec<(String, String)> {
    chat.posts()
        .iter()
        .map(|p| {
            let s = |k: &str| p.body[k].as_str().unwrap_or_default().to_string();
            (s("title"), s("text"))
        })
        .collect()
}

fn post(title: &str, text: &str) -> (String, String) {
    (title.to_string(), text.to_string())
}

/// Opens an Alertmanager group through `token`; returns (number, reference).
async fn alert(d: &Daemon, token: &str, name: &str) -> (i64, String) {
    let r = d
        .post_json(
            "/api/v1/alertmanager",
            token,
            &am_payload(name, vec![am_alert(name, "a", "firing")]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    let id = v["outcome"]["opened"][0].as_i64().expect("opened");
    let inc = show(d, &id.to_string()).await.1;
    (
        id,
        inc["reference"].as_str().expect("reference").to_string(),
    )
}

/// `GET /api/v1/incidents/{key}`: (status, the incident).
async fn show(d: &Daemon, key: &str) -> (u16, Value) {
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{key}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, v["incident"].clone())
}

async fn act(d: &Daemon, key: &str, verb: &str, body: Value) -> u16 {
    d.post_json(&format!("/api/v1/incidents/{key}/{verb}"), BOB_TOKEN, &body)
        .await
        .status()
        .as_u16()
}

/// Timeline events of `kind` on incident `id`, their details.
async fn events(d: &Daemon, id: i64, kind: &str) -> Vec<Value> {
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    let v: Value = r.json().await.expect("json");
    v["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["detail"].clone())
        .collect()
}

#[tokio::test]
async fn a_heartbeat_missed_acknowledged_and_recovered_tells_the_client_nothing() {
    let Clients { d, acme, globex } = spawn().await;
    let ping = || async {
        d.http
            .post(d.url("/api/v1/heartbeat/watchdog"))
            .bearer_auth(HB_TOKEN)
            .send()
            .await
            .expect("ping")
            .status()
    };
    assert_eq!(ping().await, 200);
    d.advance(chrono::Duration::minutes(6)).await;
    let (_, inc) = show(&d, "1").await;
    assert_eq!(inc["source"], "heartbeat");
    assert_eq!(act(&d, "1", "acknowledge", json!({})).await, 200);
    // The CLI says the update stays internal (it is on the timeline).
    let out = crate::cli::as_token(
        &d,
        BOB_TOKEN,
        &["incidents", "update", "1", "restarting the exporter"],
    )
    .await;
    assert_eq!(
        crate::cli::stdout(&out).trim(),
        "incident 1: update kept on the timeline, not posted to the client: heartbeat incidents are internal"
    );
    // Nobody is reminded to tell the client about it either.
    d.advance(chrono::Duration::minutes(31)).await;
    let reminders = events(&d, 1, "reminder queued").await;
    assert!(
        reminders.iter().all(|r| r["about"] != "status update"),
        "{reminders:?}"
    );
    assert_eq!(ping().await, 200);
    d.settle().await;
    assert_eq!(show(&d, "1").await.1["state"], "resolved");
    assert_eq!(posts(&acme), vec![]);
    assert_eq!(posts(&globex), vec![]);
    let withheld: Vec<Value> = events(&d, 1, "client post withheld").await;
    let about: Vec<&str> = withheld
        .iter()
        .filter_map(|e| e["about"].as_str())
        .collect();
    assert_eq!(about, ["acknowledged", "update", "resolved"]);
    assert_eq!(withheld[0]["reason"], "heartbeat incidents are internal");
    d.stop().await;
}

#[tokio::test]
async fn an_alert_resolved_before_anyone_acknowledged_is_never_announced() {
    let Clients { d, acme, .. } = spawn().await;
    let (id, _) = alert(&d, AM_TOKEN, "DiskFull").await;
    let resolved = am_payload("DiskFull", vec![am_alert("DiskFull", "a", "resolved")]);
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &resolved)
        .await;
    assert_eq!(r.status(), 200);
    d.settle().await;
    assert_eq!(show(&d, &id.to_string()).await.1["state"], "resolved");
    assert_eq!(posts(&acme), vec![]);
    assert_eq!(
        events(&d, id, "client post withheld").await,
        vec![
            json!({"about": "resolved", "reason": "the client was never told about this incident"})
        ]
    );
    d.stop().await;
}

#[tokio::test]
async fn an_alert_downgraded_before_anyone_acknowledged_is_never_announced() {
    let Clients { d, acme, .. } = spawn().await;
    let (_, r) = alert(&d, AM_TOKEN, "DiskFull").await;
    assert_eq!(act(&d, &r, "downgrade", json!({})).await, 200);
    d.settle().await;
    assert_eq!(posts(&acme), vec![]);
    d.stop().await;
}

#[tokio::test]
async fn an_acknowledged_alert_is_announced_and_its_resolution_posted_by_reference() {
    let Clients { d, acme, globex } = spawn().await;
    // Globex's incident takes global number 1, so acme's first is #2.
    alert(&d, GX_AM_TOKEN, "Slow").await;
    let (id, r) = alert(&d, AM_TOKEN, "DiskFull").await;
    assert_eq!((id, r.as_str()), (2, "ACME-1"));
    assert_eq!(act(&d, "2", "acknowledge", json!({})).await, 200);
    assert_eq!(act(&d, "2", "resolve", json!({})).await, 200);
    d.settle().await;
    let title = "ACME-1: DiskFull on a";
    let got = posts(&acme);
    assert_eq!(
        got,
        vec![
            post(
                title,
                "bob is online and investigating incident ACME-1: DiskFull on a."
            ),
            post(title, "Incident ACME-1 (DiskFull on a) is resolved."),
        ]
    );
    for (title, text) in &got {
        for leak in ["#2", "incident 2", "Incident 2"] {
            assert!(!title.contains(leak) && !text.contains(leak), "{text}");
        }
    }
    assert_eq!(posts(&globex), vec![]);
    assert_eq!(show(&d, "2").await.1["announced"], true);
    d.stop().await;
}

/// The client hears who investigates once per episode: a second acknowledge
/// by the same person (after asking for help) is not news, but after the
/// incident was resolved and its alert fired again, it is.
#[tokio::test]
async fn the_client_hears_who_investigates_again_only_after_a_reopen() {
    let Clients { d, acme, .. } = spawn().await;
    let (id, _) = alert(&d, AM_TOKEN, "DiskFull").await;
    let key = id.to_string();
    assert_eq!(act(&d, &key, "acknowledge", json!({})).await, 200);
    assert_eq!(act(&d, &key, "escalate", json!({})).await, 200);
    assert_eq!(act(&d, &key, "acknowledge", json!({})).await, 200);
    let snapshot = |status| am_payload("DiskFull", vec![am_alert("DiskFull", "a", status)]);
    for status in ["resolved", "firing"] {
        // Past the HA copy window: the same firing snapshot again is news.
        d.advance(chrono::Duration::minutes(2)).await;
        let r = d
            .post_json("/api/v1/alertmanager", AM_TOKEN, &snapshot(status))
            .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(show(&d, &key).await.1["state"], "triggered");
    assert_eq!(act(&d, &key, "acknowledge", json!({})).await, 200);
    d.settle().await;
    let online = post(
        "ACME-1: DiskFull on a",
        "bob is online and investigating incident ACME-1: DiskFull on a.",
    );
    let resolved = post(
        "ACME-1: DiskFull on a",
        "Incident ACME-1 (DiskFull on a) is resolved.",
    );
    assert_eq!(posts(&acme), vec![online.clone(), resolved, online]);
    let withheld = events(&d, id, "client post withheld").await;
    assert_eq!(withheld.len(), 1, "{withheld:?}");
    assert_eq!(
        withheld[0]["reason"],
        "the client was already told who is investigating"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_status_update_announces_an_unacknowledged_incident() {
    let Clients { d, acme, .. } = spawn().await;
    let (_, r) = alert(&d, AM_TOKEN, "DiskFull").await;
    let out = crate::cli::as_token(
        &d,
        BOB_TOKEN,
        &["incidents", "update", &r, "Checkout is slow, we are on it."],
    )
    .await;
    assert_eq!(
        crate::cli::stdout(&out).trim(),
        format!("incident {r}: update posted to the client's channel")
    );
    assert_eq!(act(&d, &r, "downgrade", json!({})).await, 200);
    d.settle().await;
    let title = "ACME-1: DiskFull on a";
    assert_eq!(
        posts(&acme),
        vec![
            post(
                title,
                "Update on incident ACME-1 (DiskFull on a) from bob: Checkout is slow, we are on it."
            ),
            post(
                title,
                "Incident ACME-1 (DiskFull on a) was agreed to be non-critical: it can wait and is no longer handled as an urgent incident."
            ),
        ]
    );
    d.stop().await;
}

#[tokio::test]
async fn a_client_report_is_answered_with_its_reference_and_its_resolution_posted() {
    let Clients { d, acme, .. } = spawn().await;
    alert(&d, GX_AM_TOKEN, "Slow").await;
    let r = d
        .post_json(
            "/api/v1/trigger",
            CLIENT_TOKEN,
            &json!({"summary": "Checkout page is blank"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.expect("json");
    // The reference only: no global number anywhere in the answer.
    assert_eq!(body, json!({"status": "ok", "reference": "ACME-1"}));
    assert_eq!(act(&d, "acme-1", "resolve", json!({})).await, 200);
    d.settle().await;
    assert_eq!(
        posts(&acme),
        vec![post(
            "ACME-1: Checkout page is blank",
            "Incident ACME-1 (Checkout page is blank) is resolved."
        )]
    );
    d.stop().await;
}

#[tokio::test]
async fn interleaved_clients_count_their_own_incidents() {
    let Clients { d, acme, globex } = spawn().await;
    let mut refs = Vec::new();
    for token in [AM_TOKEN, GX_AM_TOKEN, AM_TOKEN, GX_AM_TOKEN] {
        // One group per incident: each name opens its own.
        let name = format!("Alert{}", refs.len() + 1);
        refs.push(alert(&d, token, &name).await.1);
    }
    let r = d
        .post_json(
            "/api/v1/trigger",
            GLOBEX_TOKEN,
            &json!({"summary": "Store is down"}),
        )
        .await;
    let body: Value = r.json().await.expect("json");
    refs.push(body["reference"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        refs,
        ["ACME-1", "GLOBEX-1", "ACME-2", "GLOBEX-2", "GLOBEX-3"]
    );
    for r in &refs[..4] {
        assert_eq!(act(&d, r, "acknowledge", json!({})).await, 200);
    }
    d.settle().await;
    let online = |r: &str, n: u32| {
        post(
            &format!("{r}: Alert{n} on a"),
            &format!("bob is online and investigating incident {r}: Alert{n} on a."),
        )
    };
    assert_eq!(posts(&acme), vec![online("ACME-1", 1), online("ACME-2", 3)]);
    assert_eq!(
        posts(&globex),
        vec![online("GLOBEX-1", 2), online("GLOBEX-2", 4)]
    );
    d.stop().await;
}

#[tokio::test]
async fn the_api_accepts_a_reference_wherever_it_accepts_a_number() {
    let Clients { d, .. } = spawn().await;
    alert(&d, GX_AM_TOKEN, "Slow").await;
    let (id, _) = alert(&d, AM_TOKEN, "DiskFull").await;
    for key in ["ACME-1", "acme-1", "Acme-1", "2"] {
        let (status, inc) = show(&d, key).await;
        assert_eq!((status, inc["id"].as_i64()), (200, Some(id)), "{key}");
    }
    assert_eq!(show(&d, "ACME-2").await.0, 404);
    assert_eq!(show(&d, "NOBODY-1").await.0, 404);
    let r = d
        .http
        .get(d.url("/api/v1/incidents/acme"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["field"], "id");
    assert_eq!(act(&d, "acme-1", "acknowledge", json!({})).await, 200);
    assert_eq!(
        act(&d, "ACME-1", "updates", json!({"text": "on it"})).await,
        200
    );
    assert_eq!(
        act(&d, "ACME-1", "assign", json!({"person": "alice"})).await,
        200
    );
    let r = d
        .http
        .patch(d.url("/api/v1/incidents/ACME-1"))
        .bearer_auth(BOB_TOKEN)
        .json(&json!({"layer": "application"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200);
    assert_eq!(act(&d, "ACME-9", "resolve", json!({})).await, 404);
    assert_eq!(act(&d, "ACME-1", "resolve", json!({})).await, 200);
    let (_, inc) = show(&d, "2").await;
    assert_eq!(
        (&inc["state"], &inc["layer"], &inc["assignee"]),
        (&json!("resolved"), &json!("application"), &json!("alice"))
    );
    d.stop().await;
}

#[tokio::test]
async fn the_cli_passes_a_reference_through() {
    let Clients { d, .. } = spawn().await;
    alert(&d, GX_AM_TOKEN, "Slow").await;
    let (id, _) = alert(&d, AM_TOKEN, "DiskFull").await;
    let run = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"));
        cmd.arg("--url")
            .arg(&d.base)
            .args(args)
            .env("TOCSIN_TOKEN", BOB_TOKEN)
            .env_remove("TOCSIN_URL")
            .env_remove("TOCSIN_CONFIG");
        async move { cmd.output().await.expect("run tocsin") }
    };
    let out = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let o = run(&["incidents", "list"]).await;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let rows: Vec<String> = out(&o).lines().map(str::to_string).collect();
    assert!(rows[0].starts_with("#  REF "), "{}", out(&o));
    assert!(
        rows[1].starts_with(&format!("{id}  ACME-1 ")),
        "{}",
        out(&o)
    );
    let o = run(&["incidents", "show", "acme-1"]).await;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        out(&o).starts_with(&format!("Incident {id} (ACME-1): DiskFull on a\n")),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("  reference      ACME-1\n"), "{}", out(&o));
    let o = run(&["incidents", "ack", "acme-1"]).await;
    assert_eq!(out(&o), "incident ACME-1 acknowledged\n", "{o:?}");
    let o = run(&["incidents", "resolve", "ACME-1"]).await;
    assert_eq!(out(&o), "incident ACME-1 resolved\n", "{o:?}");
    assert_eq!(show(&d, "2").await.1["state"], "resolved");
    let o = run(&["incidents", "show", "ACME-7"]).await;
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not found"),
        "{o:?}"
    );
    let o = run(&["incidents", "show", "acme"]).await;
    assert_eq!(o.status.code(), Some(2), "a usage error: {o:?}");
    d.stop().await;
}
