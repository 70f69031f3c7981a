//! Nearest responder, presence, on-call and iCal over HTTP.

use serde_json::{Value, json};

use crate::helpers::*;
use tocsin::clock::Clock;

const SCHEDULE: &str = "schedules:\n  - id: web-primary\n    name: Web primary\n    members: [bob, dave]\n    handoff: \"0 9 * * MON\"\n    start: \"2026-11-02 09:00\"\n";

async fn route(d: &Daemon, at: Option<&str>) -> Value {
    let url = match at {
        Some(at) => d.url(&format!("/api/v1/route?project=shop&at={at}")),
        None => d.url("/api/v1/route?project=shop"),
    };
    let r = d
        .http
        .get(url)
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("route");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

async fn presence(d: &Daemon, token: &str, person: &str, body: Value) -> (u16, Value) {
    let r = d
        .http
        .put(d.url(&format!("/api/v1/presence/{person}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("put");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn order(v: &Value) -> Vec<(String, bool)> {
    v["order"]
        .as_array()
        .expect("order")
        .iter()
        .map(|c| {
            (
                c["person"].as_str().unwrap_or("").to_string(),
                c["online"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

#[tokio::test]
async fn route_explains_the_choice() {
    let d = spawn_daemon().await;
    // Wednesday 10:00 in Berlin, 04:00 in New York.
    let r = route(&d, None).await;
    assert_eq!(
        order(&r),
        [
            ("bob".into(), true),
            ("alice".into(), true),
            ("dave".into(), false)
        ]
    );
    assert_eq!(r["picked"], "bob");
    assert_eq!(r["first_page"], "normal");
    // Why each stands where they do: bob the responder, then the team
    // (alice leads it, dave is a member).
    let ranks: Vec<Value> = r["order"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["rank"].clone())
        .collect();
    assert_eq!(
        ranks,
        [
            json!({"as": "responder", "project": "shop", "n": 1}),
            json!({"as": "team_lead", "team": "web"}),
            json!({"as": "team_member", "team": "web"}),
        ]
    );
    assert!(
        r["order"][0]["reason"]
            .as_str()
            .is_some_and(|s| s.contains("inside working hours")),
        "{r}"
    );

    // An explicit offline mark during working hours passes bob over.
    assert_eq!(
        presence(
            &d,
            BOB_TOKEN,
            "bob",
            json!({"status": "offline", "ttl": "2h"})
        )
        .await
        .0,
        200
    );
    let r = route(&d, None).await;
    assert_eq!(r["picked"], "alice");
    assert!(
        r["order"][0]["reason"]
            .as_str()
            .is_some_and(|s| s.contains("offline")),
        "{r}"
    );
    // The mark expires exactly at its end.
    let r = route(&d, Some("2026-11-25T11:00:00Z")).await;
    assert_eq!(r["picked"], "bob");
    d.stop().await;
}

#[tokio::test]
async fn nobody_online_means_a_phone_call_and_online_marks_win() {
    let d = spawn_daemon().await;
    // Midnight in Berlin, 18:00 in New York: everybody is outside working hours.
    let r = route(&d, Some("2026-11-25T23:00:00Z")).await;
    assert_eq!(r["picked"], "bob");
    assert_eq!(r["first_page"], "phone_call");
    // The call first, and the step's SMS with it.
    assert_eq!(r["first_channel"], "voice+sms");
    // Dave says he is online for 24h: he is picked.
    let dave = presence(
        &d,
        ADMIN_TOKEN,
        "dave",
        json!({"status": "online", "ttl": "24h"}),
    )
    .await;
    assert_eq!(dave.0, 200, "{}", dave.1);
    let r = route(&d, Some("2026-11-25T23:00:00Z")).await;
    assert_eq!(r["picked"], "dave");
    assert_eq!(r["first_page"], "normal");
    d.stop().await;
}

#[tokio::test]
async fn presence_and_route_reject_bad_input() {
    let d = spawn_daemon().await;
    assert_eq!(
        presence(
            &d,
            BOB_TOKEN,
            "alice",
            json!({"status": "online", "ttl": "1h"})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        presence(
            &d,
            BOB_TOKEN,
            "zed",
            json!({"status": "online", "ttl": "1h"})
        )
        .await
        .0,
        404
    );
    let (s, b) = presence(
        &d,
        BOB_TOKEN,
        "bob",
        json!({"status": "online", "ttl": "soon"}),
    )
    .await;
    assert_eq!((s, b["field"].clone()), (400, json!("ttl")));
    let (s, b) = presence(
        &d,
        BOB_TOKEN,
        "bob",
        json!({"status": "online", "ttl": "30d"}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        b["error"].as_str().is_some_and(|e| e.contains("maximum")),
        "{b}"
    );
    assert_eq!(
        presence(
            &d,
            BOB_TOKEN,
            "bob",
            json!({"status": "online", "ttl": "-1h"})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        presence(&d, BOB_TOKEN, "bob", json!({"status": "away", "ttl": "1h"}))
            .await
            .0,
        400
    );
    let r = d
        .http
        .get(d.url("/api/v1/route?project=shop&at=tomorrow"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("RFC 3339")),
        "{body}"
    );
    let r = d
        .http
        .get(d.url("/api/v1/route?project=nope"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 404);
    let r = d
        .http
        .get(d.url("/api/v1/whoami"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("req");
    assert_eq!(r.json::<Value>().await.expect("json")["person"], "bob");
    d.stop().await;
}

#[tokio::test]
async fn oncall_and_ical() {
    let d = spawn_with(&roster_yaml(SCHEDULE)).await;
    let r = d
        .http
        .get(d.url("/api/v1/oncall"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("req");
    let body: Value = r.json().await.expect("json");
    let s = &body["schedules"][0];
    // Hand-offs on 9, 16 and 23 November: the fourth week is dave's (bob, dave, bob, dave).
    assert_eq!(s["person"], "dave");
    assert_eq!(s["next_handoff"], "2026-11-30T08:00:00Z");
    let r = d
        .http
        .get(d.url("/api/v1/oncall?at=2026-11-23T07:59:59Z"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("req");
    assert_eq!(
        r.json::<Value>().await.expect("json")["schedules"][0]["person"],
        "bob",
        "one second before the hand-off"
    );

    let r = d
        .http
        .get(d.url("/api/v1/schedules/web-primary/ical"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    let r = d
        .http
        .get(d.url(&format!(
            "/api/v1/schedules/web-primary/ical?token={ALICE_CALENDAR}"
        )))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/calendar"))
    );
    let text = r.text().await.expect("text");
    let events = tocsin::routing::ical::parse_events(&text).expect("valid iCal");
    assert!(events.len() >= 8, "{} events", events.len());
    assert!(
        events[0].summary.contains("dave"),
        "{:?}",
        events[0].summary
    );
    assert_eq!(events[1].start.to_rfc3339(), "2026-11-30T08:00:00+00:00");
    let r = d
        .http
        .get(d.url(&format!("/api/v1/people/alice/ical?token={ALICE_CALENDAR}")))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let r = d
        .http
        .get(d.url(&format!("/api/v1/people/bob/ical?token={ALICE_CALENDAR}")))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 403);
    d.stop().await;
}

async fn notices(d: &Daemon, person: &str) -> Vec<(String, String)> {
    let person = person.to_string();
    let rows = d
        .state()
        .store
        .query(move |r| r.outbox_to(&person))
        .await
        .expect("query");
    rows.into_iter()
        .filter(|r| r.kind == "notice")
        .map(|r| (r.channel, r.body))
        .collect()
}

#[tokio::test]
async fn shift_notices_before_and_at_the_start() {
    let d = spawn_with(&roster_yaml(SCHEDULE)).await;
    // Bob's next shift starts Monday 30 November 09:00 Berlin (08:00Z); the notice comes an hour ahead.
    let until_notice = chrono::DateTime::parse_from_rfc3339("2026-11-30T06:59:59Z")
        .expect("instant")
        .with_timezone(&chrono::Utc)
        - d.clock.now();
    d.advance(until_notice).await;
    assert!(notices(&d, "bob").await.is_empty(), "one second early");
    d.advance(chrono::Duration::seconds(1)).await;
    let n = notices(&d, "bob").await;
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(n[0].1.contains("starts at Mon 30 Nov 09:00 CET"), "{n:?}");
    d.advance(chrono::Duration::hours(1)).await;
    let n = notices(&d, "bob").await;
    assert_eq!(n.len(), 2);
    assert!(n[1].1.contains("starts now"), "{n:?}");
    // A restart keeps the next notice (dave's, a week later) and sends nothing twice.
    let mut d = d;
    d.restart().await;
    d.advance(chrono::Duration::days(7)).await;
    assert_eq!(notices(&d, "bob").await.len(), 2);
    let dave = notices(&d, "dave").await;
    assert_eq!(dave.len(), 2, "{dave:?}");
    d.stop().await;
}

/// A reload that changes a rotation moves the notice already armed: the
/// person the new rotation puts on call hears of it, not the one the old one
/// named.
#[tokio::test]
async fn a_reloaded_rotation_moves_the_next_shift_notice() {
    let d = spawn_with(&roster_yaml(SCHEDULE)).await;
    // Swapped, the shift starting Monday 30 November is dave's, not bob's.
    let swapped = SCHEDULE.replace("members: [bob, dave]", "members: [dave, bob]");
    std::fs::write(&d.config, roster_yaml(&swapped)).expect("write");
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("reload");
    assert_eq!(r.status(), 200);
    let until_notice = chrono::DateTime::parse_from_rfc3339("2026-11-30T07:00:00Z")
        .expect("instant")
        .with_timezone(&chrono::Utc)
        - d.clock.now();
    d.advance(until_notice).await;
    assert!(notices(&d, "bob").await.is_empty(), "bob is no longer on");
    let dave = notices(&d, "dave").await;
    assert_eq!(dave.len(), 1, "{dave:?}");
    assert!(dave[0].1.contains("starts at Mon 30 Nov"), "{dave:?}");
    d.stop().await;
}

/// The schedule feed's events at the daemon's current time.
async fn feed(d: &Daemon) -> Vec<tocsin::routing::ParsedEvent> {
    let url = format!("/api/v1/schedules/web-primary/ical?token={ALICE_CALENDAR}");
    let r = d.get(&url).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    tocsin::routing::ical::parse_events(&text).expect("valid iCal")
}

#[tokio::test]
async fn ical_shift_in_progress_keeps_its_start_and_uid_across_fetches() {
    let yaml = roster_yaml(SCHEDULE).replace(
        "  - id: bob\n    phone:",
        "  - id: bob\n    name: Bob Baker\n    phone:",
    );
    let d = spawn_with(&yaml).await;
    let utc = |s: &str| crate::postmortems::utc(s);
    // (fetch instants inside one shift, its hand-off, the next hand-off, who)
    let cases = [
        // Wednesday and the next Sunday of dave's week from Monday 23 November.
        (
            ["2026-11-25T09:00:00Z", "2026-11-29T22:30:00Z"],
            "2026-11-23T08:00:00Z",
            "2026-11-30T08:00:00Z",
            "On call: Web primary (dave)",
        ),
        // Bob's week over the change to CEST (Sunday 28 March 2027):
        // fetched before and after it.
        (
            ["2027-03-24T12:00:00Z", "2027-03-28T12:00:00Z"],
            "2027-03-22T08:00:00Z",
            "2027-03-29T07:00:00Z",
            "On call: Web primary (Bob Baker)",
        ),
    ];
    for (fetches, start, end, summary) in cases {
        let mut seen = Vec::new();
        for at in fetches {
            d.clock.set(utc(at));
            let first = feed(&d).await.remove(0);
            assert_eq!(
                (first.start, first.end, first.summary.as_str()),
                (utc(start), utc(end), summary),
                "fetched at {at}"
            );
            seen.push(first.uid);
        }
        assert_eq!(seen[0], seen[1], "one UID for the shift, {start}");
    }
}

#[tokio::test]
async fn presence_without_a_ttl_holds_until_cleared() {
    let d = spawn_daemon().await;
    // Midnight in Berlin: nobody in working hours; bob says he is online.
    let night = "2026-11-25T23:00:00Z";
    let (s, b) = presence(&d, BOB_TOKEN, "bob", json!({"status": "online"})).await;
    assert_eq!((s, b["until"].clone()), (200, Value::Null), "{b}");
    let r = route(&d, Some(night)).await;
    assert_eq!(r["first_page"], "normal", "bob is online: {r}");
    // A week later he still is.
    let r = route(&d, Some("2026-12-02T23:00:00Z")).await;
    assert_eq!(r["first_page"], "normal", "{r}");
    // Only he, his lead or an admin may clear it.
    let clear = |token: &'static str, person: &'static str| {
        let d = &d;
        async move {
            d.http
                .delete(d.url(&format!("/api/v1/presence/{person}")))
                .bearer_auth(token)
                .send()
                .await
                .expect("delete")
                .status()
                .as_u16()
        }
    };
    assert_eq!(clear(BOB_TOKEN, "alice").await, 403);
    assert_eq!(clear(BOB_TOKEN, "nobody").await, 404);
    assert_eq!(clear("no-token", "bob").await, 401);
    assert_eq!(clear(BOB_TOKEN, "bob").await, 200);
    let r = route(&d, Some(night)).await;
    assert_eq!(
        r["first_page"], "phone_call",
        "working hours decide again: {r}"
    );
    d.stop().await;
}

/// A policy whose only step names a schedule not started yet still pages
/// someone: the nearest responder, the step's way, and the timeline says why.
#[tokio::test]
async fn a_step_naming_nobody_yet_pages_the_nearest_responder() {
    let yaml = roster_yaml(
        "schedules:\n  - id: later\n    members: [dave]\n    handoff: \"0 9 * * MON\"\n    start: \"2027-06-07 09:00\"\n",
    )
    .replace(
        "      - notify: nearest\n        via: [sms]\n        wait: 5m\n      - notify: next\n        via: [voice]\n        wait: 5m\n",
        "      - notify: schedule:later\n        via: [sms]\n        wait: 5m\n",
    );
    assert!(yaml.contains("schedule:later"));
    let d = spawn_with(&yaml).await;
    let r = d
        .post_json(
            "/api/v1/alertmanager",
            AM_TOKEN,
            &crate::ingest::am_payload(
                "Disk",
                vec![crate::ingest::am_alert("Disk", "web1", "firing")],
            ),
        )
        .await;
    assert_eq!(r.status(), 200);
    let bob = d
        .state()
        .store
        .query(|r| r.outbox_to("bob"))
        .await
        .expect("query");
    let pages: Vec<_> = bob.iter().filter(|r| r.kind == "page").collect();
    assert_eq!(pages.len(), 1, "{bob:?}");
    assert_eq!(pages[0].channel, "sms");
    let r = d
        .http
        .get(d.url("/api/v1/incidents/1"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    let v: Value = r.json().await.expect("json");
    assert!(
        v.to_string()
            .contains("schedule:later pages nobody now, so the nearest responder"),
        "{v}"
    );
    d.stop().await;
}

/// Before its schedule starts nobody is on call, and `oncall` says when
/// someone comes on and who: the start and its first member.
#[tokio::test]
async fn before_a_schedule_starts_oncall_names_who_comes_on_and_when() {
    let d = spawn_with(&roster_yaml(
        &SCHEDULE.replace("2026-11-02 09:00", "2026-12-07 09:00"),
    ))
    .await;
    let r = d
        .http
        .get(d.url("/api/v1/oncall"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("oncall");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    let s = &v["schedules"][0];
    assert_eq!(s["person"], Value::Null, "{v}");
    assert_eq!(s["next_handoff"], "2026-12-07T08:00:00Z", "{v}");
    assert_eq!(s["next_person"], "bob", "{v}");
    d.stop().await;
}
