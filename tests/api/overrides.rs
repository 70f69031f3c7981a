//! On-call overrides over the API: create, list, delete with the audit; who
//! may; bad input; the merge with YAML overrides; DST; the iCal feed; the
//! notices to both people; and the CLI verbs against the daemon.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tocsin::clock::Clock;

use crate::cli::{as_token, stdout, user_error};
use crate::helpers::*;

pub const CAROL_TOKEN: &str = "token-carol-0123456789";
pub const DAVE_TOKEN: &str = "token-dave-0123456789a";

/// Web primary rotates bob and dave weekly on Mondays 09:00 Berlin: dave's
/// week from 23 November (t0 is Wednesday 25th); the shop project follows
/// it. alice leads the team; carol is the admin and in no team.
pub fn yaml(overrides: &str) -> String {
    let schedule = format!(
        "schedules:\n  - id: web-primary\n    name: Web primary\n    team: web\n    members: [bob, dave]\n    handoff: \"0 9 * * MON\"\n    start: \"2026-11-02 09:00\"\n{overrides}"
    );
    roster_yaml(&schedule)
        .replace("admins: [alice]", "admins: [carol]")
        .replace(
            "    responders: [bob]\n",
            "    responders: [bob]\n    schedule: web-primary\n",
        )
        .replace(
            "    timezone: America/New_York\n",
            &format!(
                "    timezone: America/New_York\n    token_sha256: {}\n  - id: carol\n    name: Carol\n    email: carol@example.com\n    token_sha256: {}\n",
                sha(DAVE_TOKEN),
                sha(CAROL_TOKEN)
            ),
        )
}

pub fn utc(s: &str) -> DateTime<Utc> {
    crate::postmortems::utc(s)
}

/// `POST /api/v1/schedules/{schedule}/overrides` as `token`: (status, body).
pub async fn create(d: &Daemon, token: &str, schedule: &str, body: Value) -> (u16, Value) {
    let r = d
        .post_json(
            &format!("/api/v1/schedules/{schedule}/overrides"),
            token,
            &body,
        )
        .await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn delete(d: &Daemon, token: &str, id: &str) -> (u16, Value) {
    let r = d
        .http
        .delete(d.url(&format!("/api/v1/overrides/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("delete");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(d: &Daemon, path: &str) -> (u16, Value) {
    let r = d
        .http
        .get(d.url(path))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("get");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Who is on call in web-primary at `at`, and whether by an override.
pub async fn on_call(d: &Daemon, at: &str) -> (String, bool) {
    let (status, v) = get(d, &format!("/api/v1/oncall?at={at}")).await;
    assert_eq!(status, 200, "{v}");
    let s = &v["schedules"][0];
    (
        s["person"].as_str().unwrap_or_default().to_string(),
        s["is_override"].as_bool().unwrap_or(false),
    )
}

/// Every override of web-primary, deleted and ended ones too.
async fn everything(d: &Daemon) -> Vec<Value> {
    let (status, v) = get(
        d,
        "/api/v1/schedules/web-primary/overrides?include_deleted=true&include_past=true",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["overrides"].as_array().cloned().unwrap_or_default()
}

/// Bob takes Thursday's day shift from dave.
fn thursday(person: &str) -> Value {
    json!({"person": person, "from": "2026-11-26 09:00", "to": "2026-11-26 18:00", "reason": "dentist"})
}

#[tokio::test]
async fn create_list_and_delete_with_the_audit() {
    let d = spawn_with(&yaml("")).await;
    let (status, v) = create(&d, BOB_TOKEN, "web-primary", thursday("bob")).await;
    assert_eq!(status, 201, "{v}");
    let o = &v["override"];
    let id = o["id"].as_i64().expect("id");
    assert_eq!(
        (&o["person"], &o["from"], &o["to"], &o["reason"]),
        (
            &json!("bob"),
            &json!("2026-11-26T08:00:00Z"),
            &json!("2026-11-26T17:00:00Z"),
            &json!("dentist")
        ),
        "local times read in the schedule's zone: {o}"
    );
    assert_eq!(
        (&o["created_by"], &o["created_at"], &o["deleted_at"]),
        (&json!("bob"), &json!("2026-11-25T09:00:00Z"), &Value::Null)
    );
    assert_eq!(
        on_call(&d, "2026-11-26T08:00:00Z").await,
        ("bob".into(), true)
    );
    assert_eq!(
        on_call(&d, "2026-11-26T17:00:00Z").await,
        ("dave".into(), false)
    );
    let (_, oncall) = get(&d, "/api/v1/oncall?at=2026-11-26T12:00:00Z").await;
    assert_eq!(
        oncall["schedules"][0]["override"],
        json!({"id": id, "reason": "dentist", "created_by": "bob"})
    );
    // The route puts bob first as the one on call (dave sleeps in New York).
    let (_, route) = get(&d, "/api/v1/route?project=shop&at=2026-11-26T09:00:00Z").await;
    assert_eq!(
        (
            &route["on_call"]["person"],
            &route["order"][0]["person"],
            &route["picked"]
        ),
        (&json!("bob"), &json!("bob"), &json!("bob")),
        "{route}"
    );
    let (_, listed) = get(&d, "/api/v1/schedules/web-primary/overrides").await;
    assert_eq!(listed["overrides"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["overrides"][0]["id"], id);
    let (_, all) = get(&d, "/api/v1/overrides").await;
    assert_eq!(all["overrides"], listed["overrides"]);

    d.clock.advance(Duration::minutes(5));
    let (status, v) = delete(&d, BOB_TOKEN, &id.to_string()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["changed"], true);
    assert_eq!(
        (&v["override"]["deleted_by"], &v["override"]["deleted_at"]),
        (&json!("bob"), &json!("2026-11-25T09:05:00Z"))
    );
    assert_eq!(
        on_call(&d, "2026-11-26T08:00:00Z").await,
        ("dave".into(), false)
    );
    // Dave is on call again, asleep: bob is picked as the next responder.
    let (_, route) = get(&d, "/api/v1/route?project=shop&at=2026-11-26T09:00:00Z").await;
    assert_eq!(
        (
            &route["on_call"]["person"],
            &route["order"][0]["person"],
            &route["picked"]
        ),
        (&json!("dave"), &json!("dave"), &json!("bob")),
        "{route}"
    );
    let (_, listed) = get(&d, "/api/v1/schedules/web-primary/overrides").await;
    assert_eq!(listed["overrides"], json!([]), "deleted ones are hidden");
    let audit = everything(&d).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["deleted_by"], "bob");
    // A second delete changes nothing and says so; an unknown id is 404.
    let (status, v) = delete(&d, BOB_TOKEN, &id.to_string()).await;
    assert_eq!((status, &v["changed"]), (200, &json!(false)));
    assert_eq!(delete(&d, BOB_TOKEN, "999").await.0, 404);
    assert_eq!(delete(&d, BOB_TOKEN, "x").await.0, 400);
    d.stop().await;
}

#[tokio::test]
async fn who_may_create_and_delete() {
    let d = spawn_with(&yaml("")).await;
    // (caller, person, day of dave's week): the status.
    let cases = [
        // Anyone for themselves: bob takes Thursday.
        (BOB_TOKEN, "bob", "2026-11-26", 201),
        // Dave holds Friday: he may hand it to bob ("cover me").
        (DAVE_TOKEN, "bob", "2026-11-27", 201),
        // Bob may not put alice on call.
        (BOB_TOKEN, "alice", "2026-11-28", 403),
        // The team lead and the admin may put anyone on call.
        (ADMIN_TOKEN, "bob", "2026-11-28", 201),
        (CAROL_TOKEN, "alice", "2026-11-29", 201),
    ];
    for (token, person, day, expected) in cases {
        let body =
            json!({"person": person, "from": format!("{day} 09:00"), "to": format!("{day} 18:00")});
        let (status, v) = create(&d, token, "web-primary", body).await;
        assert_eq!(status, expected, "{person} on {day}: {v}");
    }
    // Dave holds next Monday morning only until the 09:00 hand-off to bob:
    // handing over past it is not his to give.
    let past_his_shift =
        json!({"person": "alice", "from": "2026-11-30 08:00", "to": "2026-11-30 10:00"});
    assert_eq!(
        create(&d, DAVE_TOKEN, "web-primary", past_his_shift)
            .await
            .0,
        403
    );
    assert_eq!(everything(&d).await.len(), 4, "a refusal stores nothing");
    // Deleting: the author, the person, the lead, the admin; not others.
    let ids: Vec<String> = everything(&d)
        .await
        .iter()
        .map(|o| o["id"].to_string())
        .collect();
    // ids[2] was made by alice for bob: dave is neither.
    assert_eq!(delete(&d, DAVE_TOKEN, &ids[2]).await.0, 403);
    assert_eq!(delete(&d, BOB_TOKEN, &ids[2]).await.0, 200, "its person");
    assert_eq!(delete(&d, DAVE_TOKEN, &ids[1]).await.0, 200, "its author");
    assert_eq!(delete(&d, ADMIN_TOKEN, &ids[0]).await.0, 200, "the lead");
    assert_eq!(delete(&d, CAROL_TOKEN, &ids[3]).await.0, 200, "the admin");
    let r = d
        .http
        .delete(d.url(&format!("/api/v1/overrides/{}", ids[0])))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 401);
    d.stop().await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    let d = spawn_with(&yaml("")).await;
    let long = "x".repeat(201);
    let cases = [
        (
            json!({"from": "2026-11-26 09:00", "to": "2026-11-26 18:00"}),
            "person",
        ),
        (
            json!({"person": "zed", "from": "2026-11-26 09:00", "to": "2026-11-26 18:00"}),
            "person",
        ),
        // Carol is in no team of the schedule.
        (
            json!({"person": "carol", "from": "2026-11-26 09:00", "to": "2026-11-26 18:00"}),
            "person",
        ),
        (
            json!({"person": "bob", "from": "Thursday", "to": "2026-11-26 18:00"}),
            "from",
        ),
        (json!({"person": "bob", "from": "2026-11-26 09:00"}), "to"),
        // Inverted and empty ranges.
        (
            json!({"person": "bob", "from": "2026-11-26 18:00", "to": "2026-11-26 09:00"}),
            "to",
        ),
        (
            json!({"person": "bob", "from": "2026-11-26 09:00", "to": "2026-11-26 09:00"}),
            "to",
        ),
        // Over by now (t0 is 25 November 10:00 Berlin).
        (
            json!({"person": "bob", "from": "2026-11-24 09:00", "to": "2026-11-25 10:00"}),
            "to",
        ),
        // Longer than 90 days.
        (
            json!({"person": "bob", "from": "2026-11-26", "to": "2027-02-25 00:01"}),
            "to",
        ),
        // A local time skipped by the change to summer time.
        (
            json!({"person": "bob", "from": "2027-03-28 02:30", "to": "2027-03-28 05:00"}),
            "from",
        ),
        (
            json!({"person": "bob", "from": "2026-11-26 09:00", "to": "2026-11-26 18:00", "reason": long}),
            "reason",
        ),
        (
            json!({"person": "bob", "from": "2026-11-26 09:00", "to": "2026-11-26 18:00", "who": "me"}),
            "who",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = create(&d, ADMIN_TOKEN, "web-primary", body.clone()).await;
        assert_eq!((status, &v["field"]), (400, &json!(field)), "{body}: {v}");
    }
    let (status, v) = create(&d, ADMIN_TOKEN, "nope", thursday("bob")).await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = get(&d, "/api/v1/overrides?schedule=nope").await;
    assert_eq!((status, &v["field"]), (400, &json!("schedule")), "{v}");
    assert_eq!(get(&d, "/api/v1/schedules/nope/overrides").await.0, 404);
    assert!(everything(&d).await.is_empty());
    let outbox = notices(&d).await;
    assert!(outbox.is_empty(), "{outbox:?}");
    d.stop().await;
}

#[tokio::test]
async fn yaml_overrides_merge_and_the_most_recent_wins() {
    let yaml_override = "    overrides:\n      - { person: bob, from: \"2026-11-27 09:00\", to: \"2026-11-27 12:00\" }\n";
    let d = spawn_with(&yaml(yaml_override)).await;
    let stored = [
        // (token, person, from, to), a minute apart.
        (ADMIN_TOKEN, "alice", "2026-11-26 10:00", "2026-11-26 14:00"),
        (BOB_TOKEN, "bob", "2026-11-26 12:00", "2026-11-26 16:00"),
        (ADMIN_TOKEN, "alice", "2026-11-27 10:00", "2026-11-27 11:00"),
    ];
    for (token, person, from, to) in stored {
        let (status, v) = create(
            &d,
            token,
            "web-primary",
            json!({"person": person, "from": from, "to": to}),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        d.clock.advance(Duration::minutes(1));
    }
    let cases = [
        ("2026-11-26T08:59:59Z", "dave", false),
        ("2026-11-26T09:00:00Z", "alice", true),
        // Bob's later override wins where the two overlap.
        ("2026-11-26T11:00:00Z", "bob", true),
        ("2026-11-26T14:59:59Z", "bob", true),
        ("2026-11-26T15:00:00Z", "dave", false),
        // The YAML override, and the stored one inside it that wins.
        ("2026-11-27T08:00:00Z", "bob", true),
        ("2026-11-27T09:30:00Z", "alice", true),
        ("2026-11-27T10:00:00Z", "bob", true),
        ("2026-11-27T11:00:00Z", "dave", false),
    ];
    for (at, person, is_override) in cases {
        assert_eq!(
            on_call(&d, at).await,
            (person.to_string(), is_override),
            "at {at}"
        );
    }
    let (_, listed) = get(&d, "/api/v1/schedules/web-primary/overrides").await;
    let sources: Vec<(Value, Value)> = listed["overrides"]
        .as_array()
        .expect("list")
        .iter()
        .map(|o| (o["source"].clone(), o["person"].clone()))
        .collect();
    assert_eq!(
        sources,
        [
            (json!("yaml"), json!("bob")),
            (json!("api"), json!("alice")),
            (json!("api"), json!("bob")),
            (json!("api"), json!("alice")),
        ]
    );
    d.stop().await;
}

#[tokio::test]
async fn an_override_across_a_dst_change_covers_exact_instants() {
    let d = spawn_with(&yaml("")).await;
    d.clock.set(utc("2027-03-24T12:00:00Z"));
    // Saturday 22:00 CET to Sunday 06:00 CEST: seven hours, not eight.
    let (status, v) = create(
        &d,
        CAROL_TOKEN,
        "web-primary",
        json!({"person": "dave", "from": "2027-03-27 22:00", "to": "2027-03-28 06:00"}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        (&v["override"]["from"], &v["override"]["to"]),
        (
            &json!("2027-03-27T21:00:00Z"),
            &json!("2027-03-28T04:00:00Z")
        )
    );
    // Bob's week (from Monday 22 March) around it.
    for (at, person) in [
        ("2027-03-27T20:59:59Z", "bob"),
        ("2027-03-27T21:00:00Z", "dave"),
        ("2027-03-28T03:59:59Z", "dave"),
        ("2027-03-28T04:00:00Z", "bob"),
    ] {
        assert_eq!(on_call(&d, at).await.0, person, "at {at}");
    }
    d.stop().await;
}

/// The schedule feed's events: (start, end, summary).
async fn feed(d: &Daemon) -> Vec<(String, String, String, String)> {
    let r = d
        .get(&format!(
            "/api/v1/schedules/web-primary/ical?token={ALICE_CALENDAR}"
        ))
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    tocsin::routing::ical::parse_events(&text)
        .expect("valid iCal")
        .into_iter()
        .take(4)
        .map(|e| (e.start.to_rfc3339(), e.end.to_rfc3339(), e.summary, e.uid))
        .collect()
}

#[tokio::test]
async fn the_ical_feed_shows_overrides_with_stable_uids() {
    let d = spawn_with(&yaml("")).await;
    assert_eq!(
        create(&d, BOB_TOKEN, "web-primary", thursday("bob"))
            .await
            .0,
        201
    );
    let first = feed(&d).await;
    let shown: Vec<(&str, &str, &str)> = first
        .iter()
        .map(|(s, e, summary, _)| (s.as_str(), e.as_str(), summary.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            (
                "2026-11-23T08:00:00+00:00",
                "2026-11-26T08:00:00+00:00",
                "On call: Web primary (dave)"
            ),
            (
                "2026-11-26T08:00:00+00:00",
                "2026-11-26T17:00:00+00:00",
                "On call: Web primary (bob)"
            ),
            (
                "2026-11-26T17:00:00+00:00",
                "2026-11-30T08:00:00+00:00",
                "On call: Web primary (dave)"
            ),
            (
                "2026-11-30T08:00:00+00:00",
                "2026-12-07T08:00:00+00:00",
                "On call: Web primary (bob)"
            ),
        ]
    );
    // Fetched again during the override: the same events, the same UIDs.
    d.clock.set(utc("2026-11-26T12:00:00Z"));
    let again = feed(&d).await;
    assert_eq!(again[..3], first[1..4]);
    d.stop().await;
}

/// Every notice queued: (person, channel, body), oldest first.
async fn notices(d: &Daemon) -> Vec<(String, String, String)> {
    let people: Vec<String> = d.state().roster().people.keys().cloned().collect();
    let mut rows = d
        .state()
        .store
        .query(move |r| {
            let mut all = Vec::new();
            for p in &people {
                all.extend(r.outbox_to(p)?);
            }
            Ok(all)
        })
        .await
        .expect("query");
    rows.sort_by_key(|r| r.id);
    rows.into_iter()
        .filter(|r| r.kind == "notice")
        .map(|r| (r.person.unwrap_or_default(), r.channel, r.body))
        .collect()
}

fn told(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(p, c, b)| (p.to_string(), c.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn both_people_are_told_and_shift_notices_follow() {
    let d = spawn_with(&yaml("")).await;
    let (status, v) = create(&d, DAVE_TOKEN, "web-primary", thursday("bob")).await;
    assert_eq!(status, 201, "{v}");
    let id = v["override"]["id"].to_string();
    // Bob hears by email (he has no chat), dave by SMS (his only channel),
    // each in their own time zone.
    let mut expected = vec![
        (
            "bob",
            "email",
            "tocsin: you are on call in Web primary from Thu 26 Nov 09:00 CET until Thu 26 Nov 18:00 CET, covering dave.",
        ),
        (
            "dave",
            "sms",
            "tocsin: bob covers your on-call shift in Web primary from Thu 26 Nov 03:00 EST until Thu 26 Nov 12:00 EST.",
        ),
    ];
    assert_eq!(notices(&d).await, told(&expected));
    // The shift notices follow the override: bob's an hour ahead and at its start.
    d.advance(utc("2026-11-26T12:00:00Z") - d.clock.now()).await;
    expected.extend([
        ("bob", "email", "tocsin: your on-call shift in Web primary starts at Thu 26 Nov 09:00 CET and lasts until Thu 26 Nov 18:00 CET."),
        ("bob", "email", "tocsin: your on-call shift in Web primary starts now and lasts until Thu 26 Nov 18:00 CET."),
    ]);
    assert_eq!(notices(&d).await, told(&expected));
    // Deleting a running override tells both again, from now on.
    let (status, v) = delete(&d, ADMIN_TOKEN, &id).await;
    assert_eq!(status, 200, "{v}");
    expected.extend([
        ("bob", "email", "tocsin: alice cancelled your on-call override in Web primary from Thu 26 Nov 09:00 CET until Thu 26 Nov 18:00 CET; dave is on call again."),
        ("dave", "sms", "tocsin: bob no longer covers for you: you are on call again in Web primary from Thu 26 Nov 07:00 EST until Thu 26 Nov 12:00 EST."),
    ]);
    assert_eq!(notices(&d).await, told(&expected));
    // Dave's notice for the end of the override is gone with it; the next
    // is bob's for Monday's hand-off.
    d.advance(utc("2026-11-30T07:00:00Z") - d.clock.now()).await;
    expected.push(("bob", "email", "tocsin: your on-call shift in Web primary starts at Mon 30 Nov 09:00 CET and lasts until Mon 07 Dec 09:00 CET."));
    assert_eq!(notices(&d).await, told(&expected));
    d.stop().await;
}

/// `tocsin --config tocsin.yaml <args>` as `token`: times print in the
/// configuration's zone (Berlin).
async fn cli(d: &Daemon, token: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", "tocsin.yaml"];
    all.extend_from_slice(args);
    as_token(d, token, &all).await
}

#[tokio::test]
async fn the_cli_creates_lists_and_deletes_overrides() {
    let d = spawn_with(&yaml("")).await;
    // Dave has bob cover his Thursday, in his own words and zone.
    let o = cli(
        &d,
        DAVE_TOKEN,
        &[
            "oncall",
            "cover",
            "--schedule",
            "web-primary",
            "--by",
            "bob",
            "--from",
            "2026-11-26 09:00",
            "--to",
            "2026-11-26 18:00",
        ],
    )
    .await;
    assert_eq!(
        stdout(&o),
        "override 1: bob on call in web-primary from Thu 26 Nov 09:00 CET until Thu 26 Nov 18:00 CET\n"
    );
    let o = cli(
        &d,
        ADMIN_TOKEN,
        &[
            "oncall",
            "override",
            "--schedule",
            "web-primary",
            "--person",
            "alice",
            "--from",
            "2026-11-27 09:00",
            "--to",
            "2026-11-27 12:00",
            "--reason",
            "release day",
        ],
    )
    .await;
    assert_eq!(
        stdout(&o),
        "override 2: alice on call in web-primary from Fri 27 Nov 09:00 CET until Fri 27 Nov 12:00 CET\n"
    );
    let o = cli(&d, BOB_TOKEN, &["oncall", "overrides"]).await;
    assert_eq!(
        stdout(&o),
        "ID  SCHEDULE     PERSON  FROM                  TO                    BY     REASON\n\
         1   web-primary  bob     Thu 26 Nov 09:00 CET  Thu 26 Nov 18:00 CET  dave\n\
         2   web-primary  alice   Fri 27 Nov 09:00 CET  Fri 27 Nov 12:00 CET  alice  release day\n"
    );
    let o = cli(&d, BOB_TOKEN, &["oncall", "--at", "2026-11-26T10:00:00Z"]).await;
    assert!(
        stdout(&o).contains("web-primary  bob (override)  Thu 26 Nov 18:00 CET"),
        "{}",
        stdout(&o)
    );
    // Bob may not delete alice's override; alice may.
    let o = cli(&d, BOB_TOKEN, &["oncall", "override", "delete", "2"]).await;
    assert!(
        user_error(&o).contains("may not delete override 2"),
        "{o:?}"
    );
    let o = cli(&d, ADMIN_TOKEN, &["oncall", "override", "delete", "2"]).await;
    assert_eq!(stdout(&o), "override 2 deleted\n");
    let o = cli(&d, ADMIN_TOKEN, &["oncall", "override", "delete", "2"]).await;
    assert_eq!(stdout(&o), "override 2 was already deleted\n");
    let o = cli(
        &d,
        BOB_TOKEN,
        &["oncall", "overrides", "--schedule", "web-primary"],
    )
    .await;
    assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));
    // Errors name the flag.
    let o = cli(
        &d,
        BOB_TOKEN,
        &[
            "oncall",
            "override",
            "--schedule",
            "web-primary",
            "--person",
            "bob",
            "--from",
            "2026-11-26 18:00",
            "--to",
            "2026-11-26 09:00",
        ],
    )
    .await;
    assert!(user_error(&o).contains("--to: must be after from"), "{o:?}");
    let o = cli(
        &d,
        BOB_TOKEN,
        &["oncall", "overrides", "--schedule", "nope"],
    )
    .await;
    assert!(user_error(&o).starts_with("tocsin: --schedule: "), "{o:?}");
    d.stop().await;
}

/// An override of someone a reload removed is passed over: the rotation's
/// own person is on call (and paged), not a person who no longer exists.
#[tokio::test]
async fn an_override_of_someone_removed_gives_the_shift_back_to_the_rotation() {
    let carol = format!(
        "  - id: carol\n    name: Carol\n    email: carol@example.com\n    token_sha256: {}\n",
        sha(CAROL_TOKEN)
    );
    let with_erin = yaml("")
        .replace(
            &carol,
            &format!("{carol}  - id: erin\n    email: erin@example.com\n"),
        )
        .replace(
            "members: [alice, bob, dave]",
            "members: [alice, bob, dave, erin]",
        );
    assert!(with_erin.contains("id: erin"));
    let d = spawn_with(&with_erin).await;
    let (status, v) = create(&d, CAROL_TOKEN, "web-primary", thursday("erin")).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        on_call(&d, "2026-11-26T12:00:00Z").await,
        ("erin".into(), true)
    );
    std::fs::write(&d.config, yaml("")).expect("write");
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth(CAROL_TOKEN)
        .send()
        .await
        .expect("reload");
    assert_eq!(r.status(), 200);
    assert_eq!(
        on_call(&d, "2026-11-26T12:00:00Z").await,
        ("dave".into(), false)
    );
    d.stop().await;
}
