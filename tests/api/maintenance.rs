//! Maintenance windows over the API and the CLI: who may start and end
//! them, bad input (400 naming the field, nothing stored), recurring YAML
//! windows at their exact instants across DST changes, heartbeats inside a
//! window, and incidents resolved when their alerts resolved meanwhile.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

const OPS_TOKEN: &str = "token-olga-0123456789ab";

/// The helpers' agency plus a second team (`ops`, led by olga) with its own
/// project of the same client, and `extra` at the end.
fn two_teams(extra: &str) -> String {
    roster_yaml(extra)
        .replace(
            "teams:\n",
            &format!(
                "  - id: olga\n    phone: \"+4915110000009\"\n    token_sha256: {}\nteams:\n  - id: ops\n    lead: olga\n    members: [olga]\n",
                sha(OPS_TOKEN)
            ),
        )
        .replace(
            "projects:\n",
            "projects:\n  - id: infra\n    client: acme\n    team: ops\n",
        )
}

async fn start(d: &Daemon, token: &str, body: Value) -> reqwest::Response {
    d.post_json("/api/v1/maintenance", token, &body).await
}

async fn end(d: &Daemon, token: &str, id: &str) -> u16 {
    d.http
        .delete(d.url(&format!("/api/v1/maintenance/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("delete")
        .status()
        .as_u16()
}

async fn windows(d: &Daemon) -> Vec<Value> {
    let r = d
        .http
        .get(d.url("/api/v1/maintenance"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.expect("json")["maintenance"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn body(scope: &str, id: &str) -> Value {
    json!({scope: id, "for": "2h", "reason": "db migration"})
}

#[tokio::test]
async fn admins_and_the_leads_of_every_team_concerned_may_start_and_end_windows() {
    let d = spawn_with(&two_teams("")).await;
    // olga leads ops (infra) only; alice leads web (shop) and is an admin;
    // bob is a member.
    for (token, scope, id, status) in [
        (BOB_TOKEN, "project", "shop", 403),
        (OPS_TOKEN, "project", "shop", 403),
        (OPS_TOKEN, "client", "acme", 403),
        (OPS_TOKEN, "project", "infra", 201),
        (ADMIN_TOKEN, "client", "acme", 201),
        ("not-a-token-0123456789", "project", "shop", 401),
    ] {
        let r = start(&d, token, body(scope, id)).await;
        assert_eq!(r.status().as_u16(), status, "{scope} {id}");
    }
    let listed = windows(&d).await;
    assert_eq!(listed.len(), 2, "{listed:#?}");
    let by = |who: &str| {
        listed
            .iter()
            .find(|w| w["created_by"] == who)
            .and_then(|w| w["id"].as_i64())
            .expect("window")
            .to_string()
    };
    let (olgas, alices) = (by("olga"), by("alice"));
    assert_eq!(end(&d, BOB_TOKEN, &olgas).await, 403);
    assert_eq!(end(&d, OPS_TOKEN, &alices).await, 403);
    assert_eq!(end(&d, OPS_TOKEN, &olgas).await, 200);
    assert_eq!(end(&d, ADMIN_TOKEN, &alices).await, 200);
    assert_eq!(end(&d, ADMIN_TOKEN, "99").await, 404);
    assert!(windows(&d).await.is_empty());
    d.stop().await;
}

#[tokio::test]
async fn bad_windows_are_refused_naming_the_field_and_nothing_is_stored() {
    let d = spawn_daemon().await;
    let ok = body("project", "shop");
    let with = |change: Value| {
        let mut b = ok.clone();
        if let (Some(b), Value::Object(c)) = (b.as_object_mut(), change) {
            for (k, v) in c {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    b.insert(k, v);
                }
            }
        }
        b
    };
    for (b, field) in [
        (with(json!({"project": null})), "project"),
        (with(json!({"client": "acme"})), "project"),
        (with(json!({"project": "moon"})), "project"),
        (
            json!({"client": "moon", "for": "1h", "reason": "x"}),
            "client",
        ),
        (
            json!({"integration": "moon", "for": "1h", "reason": "x"}),
            "integration",
        ),
        (with(json!({"for": null})), "to"),
        (with(json!({"for": "2 hours"})), "for"),
        (with(json!({"for": "8d"})), "for"),
        (
            with(json!({"for": null, "from": "2026-11-25 12:00", "to": "2026-11-25 11:00"})),
            "to",
        ),
        (
            with(json!({"for": null, "from": "2026-11-24 08:00", "to": "2026-11-24 09:00"})),
            "to",
        ),
        (with(json!({"for": null, "to": "tomorrow"})), "to"),
        (with(json!({"from": "noon"})), "from"),
        (with(json!({"reason": null})), "reason"),
        (with(json!({"reason": "x".repeat(501)})), "reason"),
        (with(json!({"matchers": ["job"]})), "matchers"),
        (with(json!({"matchers": ["a=~\"(\""]})), "matchers"),
        (with(json!({"client_reports": "drop"})), "client_reports"),
        (with(json!({"colour": "red"})), "colour"),
        (with(json!({"for": 7200})), "for"),
    ] {
        let r = start(&d, ADMIN_TOKEN, b.clone()).await;
        assert_eq!(r.status(), 400, "{b}");
        let err: Value = r.json().await.expect("json");
        assert_eq!(err["field"], field, "{b}: {err}");
    }
    assert!(windows(&d).await.is_empty());
    let r = start(&d, ADMIN_TOKEN, with(json!({"for": "7d"}))).await;
    assert_eq!(r.status(), 201);
    d.stop().await;
}

#[tokio::test]
async fn a_window_limit_comes_from_the_configuration() {
    let d = spawn_with(
        &roster_yaml("").replace("storage:", "limits:\n  maintenance_max: 3h\nstorage:"),
    )
    .await;
    let r = start(
        &d,
        ADMIN_TOKEN,
        json!({"project": "shop", "for": "4h", "reason": "x"}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.expect("json");
    assert!(
        err["error"].as_str().unwrap_or_default().contains("3h"),
        "{err}"
    );
    d.stop().await;
}

async fn incidents(d: &Daemon) -> Vec<Value> {
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

const HB_TOKEN: &str = "heartbeat-token-0123456789";

#[tokio::test]
async fn a_heartbeat_missed_inside_a_window_opens_nothing_until_the_window_ends() {
    let d = spawn_with(&roster_yaml(&format!(
        "heartbeats:\n  - id: watchdog\n    project: shop\n    interval: 5m\n    grace: 1m\n    token_sha256: {}\n",
        sha(HB_TOKEN)
    )))
    .await;
    let r = start(
        &d,
        ADMIN_TOKEN,
        json!({"project": "shop", "for": "1h", "reason": "reboot"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    // The deadline (6m from start-up) passes inside the window.
    d.advance(Duration::minutes(59)).await;
    assert!(incidents(&d).await.is_empty());
    // Still silent when the window ends: the incident opens then.
    d.advance(Duration::minutes(1)).await;
    let all = incidents(&d).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["state"], "triggered");
    assert_eq!(all[0]["source"], "heartbeat");
    d.stop().await;
}

#[tokio::test]
async fn a_heartbeat_that_pings_again_inside_the_window_opens_nothing() {
    let d = spawn_with(&roster_yaml(&format!(
        "heartbeats:\n  - id: watchdog\n    project: shop\n    interval: 5m\n    grace: 1m\n    token_sha256: {}\n",
        sha(HB_TOKEN)
    )))
    .await;
    start(
        &d,
        ADMIN_TOKEN,
        json!({"project": "shop", "for": "1h", "reason": "reboot"}),
    )
    .await;
    let ping = async || {
        let r = d
            .http
            .post(d.url("/api/v1/heartbeat/watchdog"))
            .bearer_auth(HB_TOKEN)
            .send()
            .await
            .expect("ping");
        assert_eq!(r.status(), 200);
    };
    // Silent for most of the window, back before it ends: nothing opens.
    d.advance(Duration::minutes(58)).await;
    ping().await;
    d.advance(Duration::minutes(5)).await;
    ping().await;
    d.advance(Duration::minutes(5)).await;
    assert!(incidents(&d).await.is_empty());
    d.stop().await;
}

/// An Alertmanager group `name` of one alert.
fn group(name: &str, status: &str) -> Value {
    am_payload(name, vec![am_alert(name, "db-1", status)])
}

async fn post_as(d: &Daemon, token: &str, payload: &Value) -> Value {
    let r = d.post_json("/api/v1/alertmanager", token, payload).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    d.settle().await;
    body["outcome"].clone()
}

async fn state(d: &Daemon, id: i64) -> String {
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    let v: Value = r.json().await.expect("json");
    v["incident"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

const QUIET_TOKEN: &str = "quiet-token-0123456789ab";

#[tokio::test]
async fn at_the_end_an_incident_whose_alerts_all_resolved_is_resolved_not_paged() {
    // An integration that never resolves by itself keeps the incident
    // suppressed after its alert resolved; the window's end resolves it.
    let d = spawn_with(&roster_yaml(&format!(
        "  - id: quiet\n    type: alertmanager\n    token_sha256: {}\n    project: shop\n    auto_resolve: false\n",
        sha(QUIET_TOKEN)
    )))
    .await;
    start(
        &d,
        ADMIN_TOKEN,
        json!({"integration": "quiet", "for": "1h", "reason": "upgrade"}),
    )
    .await;
    let id = post_as(&d, QUIET_TOKEN, &group("Load", "firing")).await["suppressed"][0]
        .as_i64()
        .expect("suppressed");
    // Another integration's alert of the same project is not covered.
    let other = post_as(&d, AM_TOKEN, &group("Load", "firing")).await;
    assert_eq!(other["opened"].as_array().map(Vec::len), Some(1));
    d.advance(Duration::minutes(10)).await;
    post_as(&d, QUIET_TOKEN, &group("Load", "resolved")).await;
    assert_eq!(state(&d, id).await, "suppressed");
    d.advance(Duration::minutes(50)).await;
    assert_eq!(state(&d, id).await, "resolved");
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    let v: Value = r.json().await.expect("json");
    let kinds: Vec<&str> = v["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(!kinds.contains(&"routed"), "{kinds:?}");
    assert!(
        d.state()
            .store
            .query(move |r| r.outbox_for(id))
            .await
            .expect("outbox")
            .is_empty()
    );
    d.stop().await;
}

fn at(y: i32, mo: u32, day: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, day, h, mi, s)
        .single()
        .expect("instant")
}

/// Moves the daemon's clock to `to` and fires what became due.
async fn go(d: &Daemon, to: DateTime<Utc>) {
    let now = tocsin::clock::Clock::now(d.state().clock.as_ref());
    d.advance(to - now).await;
}

#[tokio::test]
async fn a_recurring_yaml_window_holds_alerts_at_its_exact_instants_across_dst() {
    // Daily 02:30 Berlin for an hour. On 2027-03-28 02:30 does not exist:
    // the window opens when the clocks jump (01:00Z) and ends an hour later.
    // On 2027-10-31 02:30 happens twice: only the first (00:30Z) opens it.
    let d = spawn_with(&roster_yaml(
        "maintenance:\n  - id: backup\n    project: shop\n    cron: \"30 2 * * *\"\n    duration: 1h\n    reason: nightly backup\n",
    ))
    .await;
    let listed = windows(&d).await;
    assert_eq!(listed[0]["id"], "backup");
    assert_eq!(listed[0]["from"], "2026-11-26T01:30:00Z");
    assert_eq!(listed[0]["cron"], "30 2 * * *");
    let mut n = 0;
    let mut check = async |d: &Daemon, when: DateTime<Utc>, expected: &str| {
        go(d, when).await;
        n += 1;
        let out = post_as(d, AM_TOKEN, &group(&format!("A{n}"), "firing")).await;
        let key = if expected == "suppressed" {
            "suppressed"
        } else {
            "opened"
        };
        let id = out[key][0]
            .as_i64()
            .unwrap_or_else(|| panic!("{when}: {out}"));
        assert_eq!(state(d, id).await, expected, "{when}");
        id
    };
    check(&d, at(2027, 3, 28, 0, 59, 59), "triggered").await;
    let held = check(&d, at(2027, 3, 28, 1, 0, 0), "suppressed").await;
    let late = check(&d, at(2027, 3, 28, 1, 59, 59), "suppressed").await;
    go(&d, at(2027, 3, 28, 2, 0, 0)).await;
    assert_eq!(state(&d, held).await, "triggered");
    assert_eq!(state(&d, late).await, "triggered");
    check(&d, at(2027, 3, 28, 2, 0, 0), "triggered").await;
    check(&d, at(2027, 3, 29, 0, 30, 0), "suppressed").await;
    check(&d, at(2027, 10, 31, 0, 29, 59), "triggered").await;
    let first = check(&d, at(2027, 10, 31, 0, 30, 0), "suppressed").await;
    go(&d, at(2027, 10, 31, 1, 30, 0)).await;
    assert_eq!(state(&d, first).await, "triggered");
    check(&d, at(2027, 10, 31, 1, 30, 0), "triggered").await;
    check(&d, at(2027, 10, 31, 2, 29, 59), "triggered").await;
    check(&d, at(2027, 11, 1, 1, 30, 0), "suppressed").await;
    let yaml = end(&d, ADMIN_TOKEN, "backup").await;
    assert_eq!(yaml, 409);
    d.stop().await;
}

#[tokio::test]
async fn a_window_end_survives_a_restart() {
    let mut d = spawn_daemon().await;
    start(
        &d,
        ADMIN_TOKEN,
        json!({"project": "shop", "for": "1h", "reason": "upgrade"}),
    )
    .await;
    let id = post_as(&d, AM_TOKEN, &group("Load", "firing")).await["suppressed"][0]
        .as_i64()
        .expect("suppressed");
    d.restart().await;
    d.advance(Duration::minutes(59)).await;
    assert_eq!(state(&d, id).await, "suppressed");
    d.advance(Duration::minutes(1)).await;
    assert_eq!(state(&d, id).await, "triggered");
    d.stop().await;
}
