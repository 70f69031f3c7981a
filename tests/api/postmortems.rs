//! Postmortems over the API: creation on the resolution of a serious
//! incident (or by hand), business-day due dates, the review rules, the
//! invitation and overdue reminders on durable timers. Action items are in
//! `action_items.rs`, which shares the helpers here.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use tocsin::incident::OutboxRow;

use crate::fakes::FakeChat;
use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

pub(crate) fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test instant")
        .with_timezone(&Utc)
}

/// Moves the clock to `at` and fires what became due.
pub(crate) async fn advance_to(d: &Daemon, at: DateTime<Utc>) -> usize {
    d.advance(at - d.state().clock.now()).await
}

pub(crate) async fn call(
    d: &Daemon,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = d.http.request(m, d.url(path)).bearer_auth(token);
    if !body.is_null() {
        req = req.json(&body);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn open_incident(d: &Daemon) -> i64 {
    d.post_json(
        "/api/v1/alertmanager",
        AM_TOKEN,
        &am_payload("Down", vec![am_alert("Down", "shop-1", "firing")]),
    )
    .await;
    let (_, v) = call(d, "GET", "/api/v1/incidents", BOB_TOKEN, Value::Null).await;
    v["incidents"][0]["id"].as_i64().expect("an incident")
}

/// Opened, acknowledged by bob, flagged serious, resolved by bob.
pub(crate) async fn serious_resolved(d: &Daemon) -> i64 {
    let id = open_incident(d).await;
    d.advance(Duration::minutes(4)).await;
    let inc = format!("/api/v1/incidents/{id}");
    assert_eq!(
        call(
            d,
            "POST",
            &format!("{inc}/acknowledge"),
            BOB_TOKEN,
            json!({})
        )
        .await
        .0,
        200
    );
    let flag = json!({"serious": true, "serious_reason": "long outage"});
    assert_eq!(call(d, "PATCH", &inc, BOB_TOKEN, flag).await.0, 200);
    d.advance(Duration::minutes(90)).await;
    assert_eq!(
        call(d, "POST", &format!("{inc}/resolve"), BOB_TOKEN, json!({}))
            .await
            .0,
        200
    );
    id
}

async fn pm_of(d: &Daemon, id: i64) -> Value {
    let (status, v) = call(
        d,
        "GET",
        &format!("/api/v1/postmortems/{id}"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["postmortem"].clone()
}

/// Notifications to `person` whose subject contains `about`.
pub(crate) async fn notices(d: &Daemon, person: &str, about: &str) -> Vec<OutboxRow> {
    let p = person.to_string();
    let rows = d
        .state()
        .store
        .query(move |r| r.outbox_to(&p))
        .await
        .expect("outbox");
    rows.into_iter()
        .filter(|r| r.subject.contains(about))
        .collect()
}

#[tokio::test]
async fn resolving_a_serious_incident_creates_the_postmortem_and_invites_the_author_next_morning() {
    let d = spawn_daemon().await;
    let id = serious_resolved(&d).await;
    let (status, list) = call(&d, "GET", "/api/v1/postmortems", BOB_TOKEN, Value::Null).await;
    assert_eq!(status, 200);
    let items = list["postmortems"].as_array().expect("list");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["incident"], id);
    assert_eq!(items[0]["state"], "draft");
    assert_eq!(items[0]["author"], "bob", "the assignee writes it");
    let pm = pm_of(&d, items[0]["id"].as_i64().expect("id")).await;
    assert_eq!(pm["approver"], "alice", "the team lead approves");
    // Resolved Wednesday 10:34 Berlin: due at the end of Thursday, Berlin time.
    assert_eq!(pm["due_at"], "2026-11-26T22:59:59Z");
    let what = pm["what_happened"].as_str().expect("text");
    for fact in [
        // The alert's own start is a minute before it arrived.
        "Started: 2026-11-25 08:59 UTC (2026-11-25 09:59 CET) (by the alert's own start)",
        "First alert received: 2026-11-25 09:00 UTC (2026-11-25 10:00 CET) (after 1m)",
        "Acknowledged: 2026-11-25 09:04 UTC (2026-11-25 10:04 CET) (after 4m)",
        "Resolved: 2026-11-25 10:34 UTC (2026-11-25 11:34 CET) (after 1h35m)",
        "Project: shop (shop); client: acme (acme)",
        "Severity: critical",
        "Serious: long outage",
        "Responders: bob",
        "acknowledged (person:bob)",
    ] {
        assert!(what.contains(fact), "missing {fact:?} in:\n{what}");
    }
    for empty in ["how_fixed", "cause", "measures"] {
        assert_eq!(pm[empty], "", "{empty} is for the author");
    }
    assert_eq!(pm["questions"]["cause"], "What caused the problem?");
    // Not right away: the invitation waits for the next business morning.
    assert!(
        notices(&d, "bob", "please write postmortem")
            .await
            .is_empty()
    );
    advance_to(&d, utc("2026-11-26T07:59:00Z")).await;
    assert!(
        notices(&d, "bob", "please write postmortem")
            .await
            .is_empty()
    );
    d.advance(Duration::minutes(1)).await;
    let invites = notices(&d, "bob", "please write postmortem").await;
    assert_eq!(invites.len(), 1, "invited once at 09:00 Berlin");
    assert!(
        invites[0].body.contains("due Thu 2026-11-26 23:59 CET"),
        "{}",
        invites[0].body
    );
    d.advance(Duration::hours(1)).await;
    assert_eq!(
        notices(&d, "bob", "please write postmortem").await.len(),
        1,
        "fires once"
    );
    // A second resolution (reopened and resolved again) creates nothing new.
    let (status, v) = call(
        &d,
        "POST",
        &format!("/api/v1/incidents/{id}/postmortem"),
        BOB_TOKEN,
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "{v}");
}

#[tokio::test]
async fn non_serious_incidents_get_one_only_by_hand() {
    let d = spawn_daemon().await;
    let id = open_incident(&d).await;
    call(
        &d,
        "POST",
        &format!("/api/v1/incidents/{id}/resolve"),
        BOB_TOKEN,
        json!({}),
    )
    .await;
    let (_, list) = call(&d, "GET", "/api/v1/postmortems", BOB_TOKEN, Value::Null).await;
    assert_eq!(list["postmortems"], json!([]), "not serious: no postmortem");
    let (status, v) = call(
        &d,
        "POST",
        &format!("/api/v1/incidents/{id}/postmortem"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["postmortem"]["author"], "alice", "no assignee: the lead");
    assert_eq!(v["postmortem"]["state"], "draft");
    let (status, _) = call(
        &d,
        "POST",
        "/api/v1/incidents/999/postmortem",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(&d, "GET", "/api/v1/postmortems/999", BOB_TOKEN, Value::Null).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &d,
        "PUT",
        "/api/v1/postmortems/999",
        BOB_TOKEN,
        json!({"cause": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &d,
        "POST",
        "/api/v1/postmortems/999/submit",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(&d, "GET", "/api/v1/postmortems", "nobody", Value::Null).await;
    assert_eq!(status, 401);
}

/// (extra config, team time zone, resolution instant) → due.
async fn due_for(holidays: &str, team_tz: Option<&str>, resolved: &str) -> Value {
    let mut yaml = roster_yaml(holidays);
    if let Some(tz) = team_tz {
        yaml = yaml.replace(
            "  - id: web\n    lead: alice\n",
            &format!("  - id: web\n    lead: alice\n    timezone: {tz}\n"),
        );
    }
    let d = spawn_with(&yaml).await;
    let id = open_incident(&d).await;
    d.clock.set(utc(resolved));
    call(
        &d,
        "POST",
        &format!("/api/v1/incidents/{id}/resolve"),
        BOB_TOKEN,
        json!({}),
    )
    .await;
    let (status, v) = call(
        &d,
        "POST",
        &format!("/api/v1/incidents/{id}/postmortem"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    v["postmortem"]["due_at"].clone()
}

#[tokio::test]
async fn due_dates_follow_the_calendar_and_the_team_time_zone() {
    let holiday = "calendar:\n  holidays: [\"2026-11-30\"]\n";
    for (extra, tz, resolved, due) in [
        // Friday 19:30 Berlin → Monday.
        ("", None, "2026-11-27T18:30:00Z", "2026-11-30T22:59:59Z"),
        // ... with Monday a holiday → Tuesday.
        (
            holiday,
            None,
            "2026-11-27T18:30:00Z",
            "2026-12-01T22:59:59Z",
        ),
        // Friday 20:00 in New York (Saturday in UTC and Berlin) → Monday, New York.
        (
            "",
            Some("America/New_York"),
            "2026-11-28T01:00:00Z",
            "2026-12-01T04:59:59Z",
        ),
        // Thursday 23:30 Berlin → Friday; never the same day.
        ("", None, "2026-11-26T22:30:00Z", "2026-11-27T22:59:59Z"),
    ] {
        assert_eq!(
            due_for(extra, tz, resolved).await,
            due,
            "resolved {resolved} tz {tz:?}"
        );
    }
}

/// A postmortem made by hand for an incident acknowledged (so the client
/// heard of it and may read its postmortem) and resolved by alice.
pub(crate) async fn manual_pm(d: &Daemon) -> i64 {
    let id = open_incident(d).await;
    for verb in ["acknowledge", "resolve"] {
        call(
            d,
            "POST",
            &format!("/api/v1/incidents/{id}/{verb}"),
            ADMIN_TOKEN,
            json!({}),
        )
        .await;
    }
    let (status, v) = call(
        d,
        "POST",
        &format!("/api/v1/incidents/{id}/postmortem"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    v["postmortem"]["id"].as_i64().expect("id")
}

#[tokio::test]
async fn review_rules_only_the_lead_approves_a_complete_postmortem() {
    let d = spawn_daemon().await;
    let pm = manual_pm(&d).await;
    let at = |verb: &str| format!("/api/v1/postmortems/{pm}/{verb}");
    let one = format!("/api/v1/postmortems/{pm}");
    let (status, v) = call(&d, "POST", &at("approve"), ADMIN_TOKEN, Value::Null).await;
    assert_eq!(
        (
            status,
            v["error"].as_str().is_some_and(|e| e.contains("submit it"))
        ),
        (409, true),
        "{v}"
    );
    let edit = json!({"how_fixed": "restarted the pool", "cause": "connection leak", "author": "bob",
                      "client_summary": "The shop was slow; we fixed it."});
    let (status, v) = call(&d, "PUT", &one, BOB_TOKEN, edit).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["postmortem"]["author"], "bob");
    let (status, _) = call(&d, "PUT", &one, BOB_TOKEN, json!({"colour": "red"})).await;
    assert_eq!(status, 400, "unknown fields are refused");
    let (status, v) = call(&d, "POST", &at("submit"), BOB_TOKEN, Value::Null).await;
    assert_eq!(
        (status, v["postmortem"]["state"].clone()),
        (200, json!("submitted")),
        "{v}"
    );
    assert_eq!(notices(&d, "alice", "awaits your approval").await.len(), 1);
    // Bob is not the lead of team web.
    let (status, v) = call(&d, "POST", &at("approve"), BOB_TOKEN, Value::Null).await;
    assert_eq!(status, 403, "{v}");
    let reason = v["error"].as_str().expect("reason");
    assert!(
        reason.contains("only the lead of team web (alice)"),
        "{reason}"
    );
    // Incomplete: the measures section and any action item are missing.
    let (status, v) = call(&d, "POST", &at("approve"), ADMIN_TOKEN, Value::Null).await;
    assert_eq!(status, 409, "{v}");
    let reason = v["error"].as_str().expect("reason");
    assert!(reason.contains("empty sections: measures"), "{reason}");
    assert!(reason.contains("no action items"), "{reason}");
    call(
        &d,
        "PUT",
        &one,
        BOB_TOKEN,
        json!({"measures": "leak detection in CI"}),
    )
    .await;
    let (status, v) = call(&d, "POST", &at("approve"), ADMIN_TOKEN, Value::Null).await;
    assert_eq!(status, 409, "still no action item: {v}");
    call(
        &d,
        "PUT",
        &one,
        BOB_TOKEN,
        json!({"no_measures_needed": true}),
    )
    .await;
    let (status, v) = call(&d, "POST", &at("approve"), ADMIN_TOKEN, Value::Null).await;
    assert_eq!(
        (status, v["postmortem"]["state"].clone()),
        (200, json!("approved")),
        "{v}"
    );
    assert_eq!(v["postmortem"]["approved_by"], "alice");
    // Approved is final.
    let (status, v) = call(&d, "PUT", &one, BOB_TOKEN, json!({"cause": "rewritten"})).await;
    assert_eq!(status, 409, "{v}");
    let (status, _) = call(&d, "POST", &at("publish"), BOB_TOKEN, Value::Null).await;
    assert_eq!(status, 403);
    let (status, v) = call(&d, "POST", &at("publish"), ADMIN_TOKEN, Value::Null).await;
    assert_eq!(
        (status, v["postmortem"]["state"].clone()),
        (200, json!("published")),
        "{v}"
    );
    let incident = v["postmortem"]["incident"].as_i64().expect("incident");
    let rows = d
        .state()
        .store
        .query(move |r| r.outbox_for(incident))
        .await
        .expect("outbox");
    let posts: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == "client" && r.subject.starts_with("Postmortem"))
        .collect();
    assert_eq!(posts.len(), 1, "published once to the client channel");
    // Named by the client's reference, never the global number.
    assert_eq!(posts[0].subject, "Postmortem of ACME-1", "{posts:?}");
    assert_eq!(
        (posts[0].channel.as_str(), posts[0].target.as_str()),
        ("channel", "#acme")
    );
    assert_eq!(posts[0].body, "The shop was slow; we fixed it.");
    let (status, v) = call(&d, "POST", &at("publish"), ADMIN_TOKEN, Value::Null).await;
    assert_eq!(
        (status, v["changed"].clone()),
        (200, json!(false)),
        "publishing twice posts once"
    );
    // A correction: the lead reopens it explicitly.
    let (status, _) = call(&d, "POST", &at("reopen"), BOB_TOKEN, Value::Null).await;
    assert_eq!(status, 403);
    let (status, v) = call(&d, "POST", &at("reopen"), ADMIN_TOKEN, Value::Null).await;
    assert_eq!(
        (status, v["postmortem"]["state"].clone()),
        (200, json!("draft")),
        "{v}"
    );
    let (status, _) = call(
        &d,
        "PUT",
        &one,
        BOB_TOKEN,
        json!({"cause": "a connection leak in the pool"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&d, "POST", &at("frobnicate"), ADMIN_TOKEN, Value::Null).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn overdue_postmortems_remind_the_author_then_the_lead() {
    let d = spawn_daemon().await;
    serious_resolved(&d).await;
    // Due Thursday 23:59:59 Berlin.
    advance_to(&d, utc("2026-11-26T22:59:58Z")).await;
    assert!(notices(&d, "bob", "is overdue").await.is_empty());
    d.advance(Duration::seconds(1)).await;
    assert_eq!(notices(&d, "bob", "postmortem 1 is overdue").await.len(), 1);
    assert!(
        notices(&d, "alice", "postmortem 1 is overdue")
            .await
            .is_empty()
    );
    // Friday 09:00 Berlin: the lead.
    advance_to(&d, utc("2026-11-27T08:00:00Z")).await;
    assert_eq!(
        notices(&d, "alice", "postmortem 1 is overdue").await.len(),
        1
    );
    d.advance(Duration::days(3)).await;
    assert_eq!(
        notices(&d, "bob", "postmortem 1 is overdue").await.len(),
        1,
        "once"
    );
    assert_eq!(
        notices(&d, "alice", "postmortem 1 is overdue").await.len(),
        1,
        "once"
    );
}

/// Submitted in time but not approved by the deadline: the author did
/// their part and hears nothing; the lead hears the next business morning.
#[tokio::test]
async fn submitted_but_unapproved_reaches_the_lead_when_overdue() {
    let d = spawn_daemon().await;
    serious_resolved(&d).await;
    let all = json!({"how_fixed": "h", "cause": "c", "measures": "m", "client_summary": "s",
                     "no_measures_needed": true});
    call(&d, "PUT", "/api/v1/postmortems/1", BOB_TOKEN, all).await;
    let (status, _) = call(
        &d,
        "POST",
        "/api/v1/postmortems/1/submit",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    advance_to(&d, utc("2026-11-27T08:00:00Z")).await;
    assert!(notices(&d, "bob", "is overdue").await.is_empty());
    let lead = notices(&d, "alice", "postmortem 1 is overdue").await;
    assert_eq!(lead.len(), 1);
    assert!(lead[0].body.contains("it is submitted"), "{}", lead[0].body);
    assert!(
        lead[0]
            .body
            .contains("https://tocsin.example/postmortems/1"),
        "{}",
        lead[0].body
    );
}

#[tokio::test]
async fn approved_in_time_means_no_overdue_reminders() {
    let d = spawn_daemon().await;
    serious_resolved(&d).await;
    let all = json!({"how_fixed": "h", "cause": "c", "measures": "m", "client_summary": "s",
                     "no_measures_needed": true});
    call(&d, "PUT", "/api/v1/postmortems/1", BOB_TOKEN, all).await;
    call(
        &d,
        "POST",
        "/api/v1/postmortems/1/submit",
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    let (status, _) = call(
        &d,
        "POST",
        "/api/v1/postmortems/1/approve",
        ADMIN_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    d.advance(Duration::days(5)).await;
    assert!(
        notices(&d, "bob", "postmortem 1")
            .await
            .iter()
            .all(|r| !r.subject.contains("overdue"))
    );
    assert!(notices(&d, "alice", "is overdue").await.is_empty());
    assert!(
        notices(&d, "bob", "please write").await.is_empty(),
        "approved before the invitation"
    );
}

/// The standard roster with the client's channel a Slack webhook on `chat`.
async fn spawn_client_chat(chat: &FakeChat) -> Daemon {
    let yaml = roster_yaml("").replace(
        r##"channel: { type: log, name: "#acme" }"##,
        r##"channel: { type: slack, name: "#acme", url_file: acme.url }"##,
    );
    spawn_with_files(&yaml, &[("acme.url", &chat.url("hooks/acme"))]).await
}

/// The postmortem's review step `verb` by `token`: (status, answer).
async fn review(d: &Daemon, verb: &str, token: &str) -> (u16, Value) {
    let path = format!("/api/v1/postmortems/1/{verb}");
    call(d, "POST", &path, token, Value::Null).await
}

/// What is internal to the team and must never reach the client channel.
const INTERNAL: [&str; 8] = [
    "page queued",
    "person:",
    "outbox",
    "Responders",
    "What happened?",
    "connection leak in the pool",
    "restarted the pool",
    "alert on pool size",
];

#[tokio::test]
async fn publishing_posts_only_the_approved_client_summary() {
    let chat = FakeChat::start().await;
    let d = spawn_client_chat(&chat).await;
    serious_resolved(&d).await;
    let pm = pm_of(&d, 1).await;
    // Pre-filled for the client: the project and the interval in the team's
    // zone, with gaps for the author; no ids, handles, channels or pages.
    // It starts at the alert's own start, a minute before it arrived.
    let prefill = "shop was affected by an incident on Wed 25 Nov 2026 from 09:59 to 11:34 CET \
                   (1h35m).\n\nWhat we did: [what we did to fix it]\n\n\
                   What we will do: [what we will do so it does not happen again]\n";
    assert_eq!(pm["client_summary"], prefill);
    assert_eq!(pm["public"], json!(["client_summary"]), "{pm}");
    assert!(
        pm["what_happened"]
            .as_str()
            .is_some_and(|w| w.contains("page queued"))
    );
    let internal = json!({"how_fixed": "restarted the pool", "cause": "a connection leak in the pool",
                          "measures": "alert on pool size", "no_measures_needed": true});
    assert_eq!(
        call(&d, "PUT", "/api/v1/postmortems/1", BOB_TOKEN, internal)
            .await
            .0,
        200
    );

    // Submitting tells the lead what the client would read.
    let (status, v) = review(&d, "submit", BOB_TOKEN).await;
    assert_eq!(status, 200, "{v}");
    let note = format!("On publish, the client reads:\n{}", prefill.trim());
    assert_eq!(v["on_publish"], note.as_str());
    let lead = notices(&d, "alice", "awaits your approval").await;
    assert!(lead[0].body.ends_with(&note), "{}", lead[0].body);

    // Approval waits for the gaps to be filled, and for a summary at all.
    let (status, v) = review(&d, "approve", ADMIN_TOKEN).await;
    assert_eq!(status, 409, "{v}");
    let reason = v["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("client_summary still has [what we did to fix it] [what we will do so it does not happen again]"),
        "{reason}"
    );
    let blank = json!({"client_summary": "  "});
    call(&d, "PUT", "/api/v1/postmortems/1", BOB_TOKEN, blank).await;
    let (status, v) = review(&d, "approve", ADMIN_TOKEN).await;
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("empty sections: client_summary")),
        "{v}"
    );
    let summary = "The shop was unreachable on Wed 25 Nov 2026 from 10:00 to 11:34 CET.\n\n\
                   What we did: we restarted the database pool.\n\n\
                   What we will do: we now watch the pool and fix the leak.";
    let written = json!({"client_summary": summary});
    call(&d, "PUT", "/api/v1/postmortems/1", BOB_TOKEN, written).await;
    let (status, v) = review(&d, "approve", ADMIN_TOKEN).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["on_publish"],
        format!("On publish, the client reads:\n{summary}")
    );

    d.settle().await;
    let before = chat.posts().len();
    let (status, v) = review(&d, "publish", ADMIN_TOKEN).await;
    assert_eq!(status, 200, "{v}");
    d.settle().await;
    let posts = chat.posts();
    let published: Vec<&str> = posts[before..].iter().map(|p| p.text()).collect();
    assert_eq!(published, [format!("*Postmortem of ACME-1*\n{summary}")]);
    for post in &posts {
        assert_eq!(post.path, "hooks/acme");
        for word in INTERNAL {
            assert!(
                !post.text().contains(word),
                "{word:?} reached the client:\n{}",
                post.text()
            );
        }
    }
}
