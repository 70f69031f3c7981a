//! What people do to an incident while it pages: resolving an alert that
//! still fires, handing it over before anyone took it, and everyone paged
//! hearing who took it. Each test checks every message every fake received.

use chrono::Duration;
use serde_json::{Value, json};

use super::rig::*;
use crate::helpers::*;

async fn post_alert(rig: &Rig, name: &str) -> Value {
    let r = rig
        .d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &alert_payload(name))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    rig.d.settle().await;
    v["outcome"].clone()
}

#[tokio::test]
async fn an_alert_resolved_by_hand_that_still_fires_pages_again_after_the_copy_window() {
    let rig = rig().await;
    let first = rig.open("DiskFull").await;
    assert_eq!(rig.act(first, "resolve", BOB_TOKEN).await, 200);
    // An HA peer's copy of the same snapshot: still a duplicate.
    rig.d.advance(Duration::seconds(30)).await;
    assert_eq!(post_alert(&rig, "DiskFull").await["duplicate"], true);
    // Alertmanager's repeat_interval re-send, past the copy window: the
    // problem is back, as a new incident (not a flap of the ended one).
    rig.d.advance(Duration::minutes(4)).await;
    let out = post_alert(&rig, "DiskFull").await;
    assert_eq!(out["duplicate"], false, "{out}");
    let second = out["opened"][0].as_i64().expect("a new incident");
    assert_ne!(second, first);
    assert_eq!(rig.state(first).await, "resolved");
    // Re-sent again while the new incident is open: a duplicate again.
    rig.d.advance(Duration::minutes(4)).await;
    assert_eq!(post_alert(&rig, "DiskFull").await["duplicate"], true);
    assert_eq!(rig.act(second, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(&[sms(BOB_PHONE, &[first]), sms(BOB_PHONE, &[second])], 2)
        .await;
}

#[tokio::test]
async fn an_alert_resolved_by_its_source_still_reopens_as_a_flap() {
    let rig = rig().await;
    let first = rig.open("DiskFull").await;
    let mut resolved = alert_payload("DiskFull");
    resolved["status"] = json!("resolved");
    resolved["alerts"][0]["status"] = json!("resolved");
    let r = rig
        .d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &resolved)
        .await;
    assert_eq!(r.status(), 200);
    rig.d.advance(Duration::minutes(2)).await;
    let out = post_alert(&rig, "DiskFull").await;
    assert_eq!(out["reopened"], json!([first]), "{out}");
    assert_eq!(rig.act(first, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(&[sms(BOB_PHONE, &[first]), sms(BOB_PHONE, &[first])], 2)
        .await;
}

async fn assign(rig: &Rig, id: i64, person: &str) -> u16 {
    rig.d
        .post_json(
            &format!("/api/v1/incidents/{id}/assign"),
            ADMIN_TOKEN,
            &json!({"person": person}),
        )
        .await
        .status()
        .as_u16()
}

/// bob's ladder: an SMS now, a call at 2m; step 2 calls the nearest.
const LADDER: &str = r#"      - { notify: nearest, wait: 5m }
      - { notify: nearest, via: [voice], wait: 5m }"#;

#[tokio::test]
async fn handing_over_before_anyone_took_it_pages_the_new_assignee_and_stops_the_old() {
    let rig = rig_with(&Shape {
        steps: LADDER,
        bob_notify: "[{via: [sms], after: 0s}, {via: [voice], after: 2m}]",
        ..SHAPE
    })
    .await;
    let id = rig.open("DiskFull").await;
    rig.d.advance(Duration::minutes(1)).await;
    assert_eq!(assign(&rig, id, "alice").await, 200);
    rig.d.settle().await;
    assert_eq!(rig.events(id, "pages cancelled").await.len(), 1);
    // bob's 2m call is gone; step 2, 5 minutes after the hand-over, calls
    // alice, not bob.
    rig.d
        .advance(Duration::minutes(5) - Duration::seconds(1))
        .await;
    assert_eq!(rig.twilio.requests().len(), 1, "only bob's SMS so far");
    rig.d.advance(Duration::seconds(1)).await;
    assert_eq!(rig.act(id, "acknowledge", ADMIN_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(30), Duration::minutes(1)).await;
    // alice has no rules: her first channel (chat) pages her at once. bob
    // hears she took it, by SMS as his page came.
    rig.finish(
        &[
            sms(BOB_PHONE, &[id]),
            chat(id),
            call(ALICE_PHONE, id),
            sms(BOB_PHONE, &[id]),
        ],
        3,
    )
    .await;
}

#[tokio::test]
async fn everyone_paged_hears_who_took_it_once_on_the_channel_that_reached_them() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    // Step 2 calls alice; bob then acknowledges by SMS.
    rig.d.advance(Duration::minutes(5)).await;
    rig.reply(BOB_PHONE, &format!("ack {id}")).await;
    rig.d.settle().await;
    let taken = rig
        .twilio
        .accepted()
        .into_iter()
        .filter(|r| r.text().contains("took #"))
        .collect::<Vec<_>>();
    assert_eq!(taken.len(), 1, "{taken:#?}");
    assert_eq!(taken[0].to(), ALICE_PHONE);
    assert!(
        taken[0]
            .text()
            .starts_with(&format!("tocsin: bob took #{id} [critical] shop:")),
        "{}",
        taken[0].text()
    );
    pass(&rig.d, Duration::minutes(30), Duration::minutes(1)).await;
    // The one who took it is not told; alice's call becomes an SMS.
    rig.finish(
        &[
            sms(BOB_PHONE, &[id]),
            call(ALICE_PHONE, id),
            sms(ALICE_PHONE, &[id]),
        ],
        3,
    )
    .await;
}

/// The responder who took an incident asks for help: the next step is
/// paged, and the incident is theirs to take (triggered again), by the API
/// and by SMS reply alike.
#[tokio::test]
async fn escalating_an_acknowledged_incident_pages_the_next_step() {
    let rig = rig().await;
    let a = rig.open("First").await;
    assert_eq!(rig.act(a, "acknowledge", BOB_TOKEN).await, 200);
    assert_eq!(rig.act(a, "escalate", BOB_TOKEN).await, 200);
    assert_eq!(rig.state(a).await, "triggered");
    rig.d.advance(Duration::minutes(2)).await;
    let b = rig.open("Second").await;
    rig.reply(BOB_PHONE, &format!("ack {b}")).await;
    assert_eq!(rig.state(b).await, "acknowledged");
    let answer = rig.reply(BOB_PHONE, &format!("esc {b}")).await;
    assert!(answer.contains("escalated"), "{answer}");
    assert_eq!(rig.state(b).await, "triggered");
    rig.d.advance(Duration::seconds(1)).await;
    for id in [a, b] {
        assert_eq!(rig.events(id, "back to triggered").await.len(), 1, "#{id}");
        assert_eq!(rig.act(id, "acknowledge", ADMIN_TOKEN).await, 200);
    }
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    let taken: Vec<String> = rig
        .twilio
        .accepted()
        .iter()
        .skip(2)
        .map(|m| m.text().to_string())
        .collect();
    for (id, text) in [a, b].iter().zip(&taken[taken.len() - 2..]) {
        assert!(
            text.contains("took") && text.contains(&format!("#{id}")),
            "{taken:#?}"
        );
    }
    // Bob hears that alice took each one.
    let expected = [
        sms(BOB_PHONE, &[a]),
        call(ALICE_PHONE, a),
        sms(BOB_PHONE, &[b]),
        call(ALICE_PHONE, b),
        sms(BOB_PHONE, &[a]),
        sms(BOB_PHONE, &[b]),
    ];
    rig.finish(&expected, 6).await;
}

/// With `nearest` as the second step (the shipped policy's shape), the one
/// who asks for help is not the one called: that step is passed for the
/// next; with nobody left to page, the incident stays theirs and the asker
/// hears that nobody is left (API, SMS reply, keypress 2).
#[tokio::test]
async fn escalating_pages_someone_other_than_who_asked() {
    let steps = r#"      - { notify: nearest, via: [sms], wait: 5m }
      - { notify: nearest, via: [voice], wait: 5m }
      - { notify: next, via: [sms], wait: 5m }"#;
    let rig = rig_with(&Shape {
        steps,
        repeat: 0,
        ..SHAPE
    })
    .await;
    let a = rig.open("First").await;
    assert_eq!(rig.act(a, "acknowledge", BOB_TOKEN).await, 200);
    assert_eq!(rig.act(a, "escalate", BOB_TOKEN).await, 200);
    assert_eq!(rig.state(a).await, "triggered");
    rig.d.advance(Duration::seconds(1)).await;
    assert_eq!(rig.act(a, "acknowledge", ADMIN_TOKEN).await, 200);
    // Alice holds it now and asks again: nobody is left (bob was paged),
    // and she is told so rather than to wait for help; by SMS too.
    assert_eq!(rig.act(a, "escalate", ADMIN_TOKEN).await, 409);
    let answer = rig.reply(BOB_PHONE, &format!("esc {a}")).await;
    assert!(answer.contains("nobody is left to page"), "{answer}");
    let voice = format!("/twilio/voice?incident={a}&person=bob");
    let (status, twiml) = rig
        .twilio_webhook(&voice, &[("CallSid", "CAesc"), ("Digits", "2")])
        .await;
    assert_eq!(status, 200);
    assert!(twiml.contains("nobody is left to page"), "{twiml}");
    assert_eq!(rig.state(a).await, "acknowledged");
    // Asking changed nothing: the policy did not end on her request.
    assert!(rig.events(a, "escalation exhausted").await.is_empty());
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    let expected = [
        sms(BOB_PHONE, &[a]),
        sms(ALICE_PHONE, &[a]),
        sms(BOB_PHONE, &[a]),
    ];
    rig.finish(&expected, 3).await;
}

/// Asking for help when nobody else is left changes nothing: the asker is
/// told so (409), and the policy goes on as it was; its next step (a call
/// to bob himself) still comes at its deadline.
#[tokio::test]
async fn escalating_with_nobody_left_keeps_the_escalation_going() {
    let steps = r#"      - { notify: nearest, via: [sms], wait: 5m }
      - { notify: nearest, via: [voice], wait: 5m }"#;
    let rig = rig_with(&Shape {
        steps,
        repeat: 0,
        ..SHAPE
    })
    .await;
    let a = rig.open("First").await;
    assert_eq!(rig.act(a, "escalate", BOB_TOKEN).await, 409);
    assert_eq!(rig.state(a).await, "triggered");
    assert!(rig.events(a, "escalation exhausted").await.is_empty());
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    assert_eq!(rig.events(a, "escalation exhausted").await.len(), 1);
    rig.finish(&[sms(BOB_PHONE, &[a]), call(BOB_PHONE, a)], 2)
        .await;
}
