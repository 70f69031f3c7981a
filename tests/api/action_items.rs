//! Action items over the API: bad input, reminders before and on the
//! deadline, escalation of overdue items to the lead, the periodic digest;
//! durable timers across restarts.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::postmortems::{advance_to, call, manual_pm, notices, utc};

#[tokio::test]
async fn action_items_bad_input() {
    let d = spawn_daemon().await;
    let pm = manual_pm(&d).await;
    let path = format!("/api/v1/postmortems/{pm}/actions");
    for (body, status, field) in [
        (
            json!({"title": "t", "assignee": "bob", "deadline": "2026-11-24"}),
            400,
            "deadline",
        ),
        (
            json!({"title": "t", "assignee": "bob", "deadline": "2026-11-25T08:00:00Z"}),
            400,
            "deadline",
        ),
        (
            json!({"title": "t", "assignee": "bob", "deadline": "soon"}),
            400,
            "deadline",
        ),
        (
            json!({"title": " ", "assignee": "bob", "deadline": "2026-12-01"}),
            400,
            "title",
        ),
        (
            json!({"title": "t", "assignee": "bob", "deadline": "2026-12-01", "priority": "meh"}),
            400,
            "priority",
        ),
        (
            json!({"title": "t", "deadline": "2026-12-01"}),
            400,
            "assignee",
        ),
        (
            json!({"title": "t", "assignee": "zed", "deadline": "2026-12-01"}),
            404,
            "",
        ),
    ] {
        let (got, v) = call(&d, "POST", &path, ADMIN_TOKEN, body.clone()).await;
        assert_eq!(got, status, "{body}: {v}");
        if status == 400 {
            assert_eq!(v["field"], field, "{body}: {v}");
        }
    }
    let ok = json!({"title": "t", "assignee": "bob", "deadline": "2026-12-01"});
    let (status, _) = call(
        &d,
        "POST",
        "/api/v1/postmortems/999/actions",
        ADMIN_TOKEN,
        ok,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &d,
        "POST",
        "/api/v1/actions/999/done",
        ADMIN_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &d,
        "GET",
        "/api/v1/actions?state=later",
        ADMIN_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &d,
        "GET",
        "/api/v1/actions?assignee=zed",
        ADMIN_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
}

async fn actions(d: &Daemon, query: &str) -> Vec<i64> {
    let (status, v) = call(
        d,
        "GET",
        &format!("/api/v1/actions{query}"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["actions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|a| a["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn action_item_reminders_escalation_and_done_survive_restarts() {
    let mut d = spawn_daemon().await;
    let pm = manual_pm(&d).await;
    // Due Monday 30 November, end of the day in Berlin.
    let body =
        json!({"title": "alert on pool saturation", "assignee": "bob", "deadline": "2026-11-30"});
    let (status, v) = call(
        &d,
        "POST",
        &format!("/api/v1/postmortems/{pm}/actions"),
        ADMIN_TOKEN,
        body,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let item = &v["action"];
    assert_eq!(
        (item["priority"].clone(), item["state"].clone()),
        (json!("high"), json!("open"))
    );
    assert_eq!(item["deadline"], "2026-11-30T22:59:59Z");
    let aid = item["id"].as_i64().expect("id");
    assert_eq!(
        notices(&d, "bob", &format!("action item {aid} is yours"))
            .await
            .len(),
        1
    );
    assert_eq!(actions(&d, "?assignee=bob").await, vec![aid]);
    assert_eq!(actions(&d, "?state=overdue").await, Vec::<i64>::new());

    // One business day before: Friday 09:00 Berlin.
    advance_to(&d, utc("2026-11-27T07:59:00Z")).await;
    assert!(
        notices(&d, "bob", &format!("action item {aid} is due"))
            .await
            .is_empty()
    );
    d.advance(Duration::minutes(1)).await;
    assert_eq!(
        notices(&d, "bob", &format!("action item {aid} is due Mon"))
            .await
            .len(),
        1
    );
    d.restart().await;
    // The deadline day, 09:00: "due today"; only once across the restart.
    advance_to(&d, utc("2026-11-30T08:00:00Z")).await;
    assert_eq!(notices(&d, "bob", "is due today").await.len(), 1);
    assert_eq!(
        notices(&d, "bob", &format!("action item {aid} is due Mon"))
            .await
            .len(),
        1
    );
    // Past the deadline: listed as overdue, and open, until done.
    advance_to(&d, utc("2026-11-30T23:00:00Z")).await;
    assert_eq!(actions(&d, "?state=overdue").await, vec![aid]);
    assert_eq!(actions(&d, "").await, vec![aid]);
    assert!(notices(&d, "alice", "of bob is overdue").await.is_empty());
    // The next business morning the lead hears of it.
    d.restart().await;
    advance_to(&d, utc("2026-12-01T08:00:00Z")).await;
    let esc = notices(&d, "alice", &format!("action item {aid} of bob is overdue")).await;
    assert_eq!(esc.len(), 1, "escalated to the lead once");
    // Whose it is and that it is late; links to the web page, not the API.
    let body = &esc[0].body;
    assert!(
        body.starts_with(&format!("Overdue: action item {aid} ")),
        "{body}"
    );
    assert!(
        body.contains(", was due Mon 2026-11-30 23:59 CET and is still open."),
        "{body}"
    );
    assert!(
        body.contains("https://tocsin.example/postmortems/1"),
        "{body}"
    );
    assert!(!body.contains("/api/"), "{body}");
    let due = notices(&d, "bob", "is due today").await;
    assert!(
        due[0].body.contains(&format!(
            "Done? tocsin actions done {aid}, or on https://tocsin.example/postmortems/1"
        )),
        "{}",
        due[0].body
    );
    d.advance(Duration::days(2)).await;
    assert_eq!(notices(&d, "alice", "of bob is overdue").await.len(), 1);
    assert_eq!(
        actions(&d, "?state=overdue").await,
        vec![aid],
        "stays listed"
    );
    let (status, v) = call(
        &d,
        "POST",
        &format!("/api/v1/actions/{aid}/done"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, v["action"]["state"].clone()),
        (200, json!("done")),
        "{v}"
    );
    let (_, v) = call(
        &d,
        "POST",
        &format!("/api/v1/actions/{aid}/done"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(v["changed"], false);
    assert_eq!(actions(&d, "").await, Vec::<i64>::new());
    assert_eq!(actions(&d, "?state=done").await, vec![aid]);
    assert_eq!(actions(&d, "?state=all&assignee=bob").await, vec![aid]);
    d.stop().await;
}

#[tokio::test]
async fn done_items_are_not_reminded() {
    let d = spawn_daemon().await;
    let pm = manual_pm(&d).await;
    let body = json!({"title": "t", "assignee": "bob", "deadline": "2026-11-30T15:00:00Z", "priority": "normal"});
    let (_, v) = call(
        &d,
        "POST",
        &format!("/api/v1/postmortems/{pm}/actions"),
        ADMIN_TOKEN,
        body,
    )
    .await;
    let aid = v["action"]["id"].as_i64().expect("id");
    call(
        &d,
        "POST",
        &format!("/api/v1/actions/{aid}/done"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    d.advance(Duration::days(7)).await;
    // The lead's reminder of the (late) postmortem follows at the next tick.
    d.advance(Duration::seconds(1)).await;
    assert!(
        notices(&d, "bob", &format!("action item {aid} is due"))
            .await
            .is_empty()
    );
    assert!(notices(&d, "alice", "of bob is overdue").await.is_empty());
    assert_eq!(
        notices(&d, "alice", "postmortem 1 is overdue").await.len(),
        2,
        "the postmortem itself is overdue: alice is its author and lead"
    );
}

#[tokio::test]
async fn weekly_digest_lists_open_items_by_email_and_chat_and_rearms() {
    let mut d = spawn_daemon().await;
    let timers = |d: &Daemon| {
        let store = d.state().store.clone();
        async move {
            store
                .query(|r| r.timers("action_digest"))
                .await
                .expect("timers")
        }
    };
    let armed = timers(&d).await;
    assert_eq!(armed.len(), 1, "one digest per team");
    assert_eq!(
        (armed[0].key.as_str(), armed[0].due),
        ("web", utc("2026-11-30T08:00:00Z"))
    );
    let pm = manual_pm(&d).await;
    for (title, deadline) in [
        ("overdue one", "2026-11-27T12:00:00Z"),
        ("later one", "2026-12-10"),
    ] {
        let body = json!({"title": title, "assignee": "bob", "deadline": deadline});
        let (status, _) = call(
            &d,
            "POST",
            &format!("/api/v1/postmortems/{pm}/actions"),
            ADMIN_TOKEN,
            body,
        )
        .await;
        assert_eq!(status, 201);
    }
    d.restart().await;
    assert_eq!(
        timers(&d).await,
        armed,
        "a restart keeps the digest as it was"
    );
    advance_to(&d, utc("2026-11-30T08:00:00Z")).await;
    let to_bob = notices(&d, "bob", "[tocsin] web: 2 open action item(s), 1 overdue").await;
    assert_eq!(
        to_bob
            .iter()
            .map(|r| r.channel.as_str())
            .collect::<Vec<_>>(),
        vec!["email"]
    );
    assert!(
        to_bob[0].body.contains("OVERDUE #1 overdue one"),
        "{}",
        to_bob[0].body
    );
    assert!(
        to_bob[0].body.contains("#2 later one"),
        "{}",
        to_bob[0].body
    );
    let to_alice = notices(&d, "alice", "[tocsin] web: 2 open action item(s)").await;
    assert_eq!(
        to_alice
            .iter()
            .map(|r| r.channel.as_str())
            .collect::<Vec<_>>(),
        vec!["chat"]
    );
    let next = timers(&d).await;
    assert_eq!(
        next[0].due,
        utc("2026-12-07T08:00:00Z"),
        "re-armed for next Monday"
    );
    d.advance(Duration::days(6)).await;
    assert_eq!(
        notices(&d, "alice", "open action item(s)").await.len(),
        1,
        "once a week"
    );
    d.advance(Duration::days(1)).await;
    assert_eq!(notices(&d, "alice", "open action item(s)").await.len(), 2);
    d.stop().await;
}

#[tokio::test]
async fn digest_follows_the_team_cron_and_time_zone() {
    let yaml = roster_yaml("").replace(
        "  - id: web\n    lead: alice\n",
        "  - id: web\n    lead: alice\n    timezone: America/New_York\n    digest: \"30 8 * * FRI\"\n",
    );
    let d = spawn_with(&yaml).await;
    let t = d
        .state()
        .store
        .query(|r| r.timers("action_digest"))
        .await
        .expect("timers");
    // Friday 08:30 New York (EST, UTC-5).
    assert_eq!(t[0].due, utc("2026-11-27T13:30:00Z"));
    advance_to(&d, utc("2026-11-27T13:30:00Z")).await;
    assert!(
        notices(&d, "alice", "open action item(s)").await.is_empty(),
        "nothing open, nothing sent"
    );
    let t = d
        .state()
        .store
        .query(|r| r.timers("action_digest"))
        .await
        .expect("timers");
    assert_eq!(t[0].due, utc("2026-12-04T13:30:00Z"));
}

#[tokio::test]
async fn reminder_lead_time_is_configurable() {
    for (limit, due) in [
        ("4h", "2026-11-30T11:00:00Z"),
        ("2d", "2026-11-26T08:00:00Z"),
    ] {
        let d = spawn_with(&roster_yaml(&format!(
            "limits:\n  action_reminder_before: {limit}\n"
        )))
        .await;
        let pm = manual_pm(&d).await;
        let body = json!({"title": "t", "assignee": "bob", "deadline": "2026-11-30T15:00:00Z"});
        let (status, _) = call(
            &d,
            "POST",
            &format!("/api/v1/postmortems/{pm}/actions"),
            ADMIN_TOKEN,
            body,
        )
        .await;
        assert_eq!(status, 201);
        let timers = d
            .state()
            .store
            .query(|r| r.timers("action_reminder"))
            .await
            .expect("timers");
        assert_eq!(timers.len(), 1, "{limit}");
        assert_eq!(
            timers[0].due,
            utc(due),
            "{limit}: 4h before, or 2 business days at 09:00"
        );
    }
}
