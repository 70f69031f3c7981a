//! Which channels a step fires: every channel of `via` at once, a failure
//! falling back to a channel the step does not use yet, a person's own
//! `notify` ladder for steps without `via`, and a client's report paged like
//! any alert. Each test checks every message every fake received.

use chrono::Duration;
use serde_json::{Value, json};

use super::rig::*;
use crate::fakes::{Reply, Resource};
use crate::helpers::*;

/// The newest incident's number, as a responder sees it.
async fn newest(rig: &Rig) -> i64 {
    let r = rig
        .d
        .http
        .get(rig.d.url("/api/v1/incidents?state=all"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    let v: Value = r.json().await.expect("json");
    v["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["id"].as_i64())
        .max()
        .expect("an incident")
}

#[tokio::test]
async fn a_client_report_at_night_calls_the_nearest_at_once() {
    let rig = rig().await;
    // 23:00 in Berlin: nobody is inside their working hours.
    rig.d.advance(Duration::hours(13)).await;
    let r = rig
        .d
        .post_json(
            "/api/v1/trigger",
            CLIENT_TOKEN,
            &json!({"summary": "Checkout returns 500"}),
        )
        .await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    rig.d.settle().await;
    let id = newest(&rig).await;
    let routed = rig.events(id, "routed").await;
    assert_eq!(routed.len(), 1, "the report is routed");
    assert_eq!(routed[0]["detail"]["picked"], "bob");
    assert_eq!(routed[0]["detail"]["first_page"], "phone_call");
    // The call wakes bob; the step's SMS carries the link and the commands.
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(30), Duration::minutes(1)).await;
    rig.finish(&[call(BOB_PHONE, id), sms(BOB_PHONE, &[id])], 2)
        .await;
}

#[tokio::test]
async fn a_client_report_escalates_like_an_alert() {
    let rig = rig().await;
    let r = rig
        .d
        .post_json(
            "/api/v1/trigger",
            CLIENT_TOKEN,
            &json!({"summary": "Shop is down"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    rig.d.settle().await;
    let id = newest(&rig).await;
    // Nobody acknowledges: step 2 calls the next person (alice).
    pass(&rig.d, Duration::minutes(5), Duration::minutes(1)).await;
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(30), Duration::minutes(1)).await;
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

const ALL_AT_ONCE: &str = r#"      - { notify: nearest, via: [sms, voice, email], wait: 5m }
      - { notify: next, via: [voice], wait: 5m }"#;

#[tokio::test]
async fn every_channel_of_via_fires_at_once() {
    let rig = rig_with(&Shape {
        steps: ALL_AT_ONCE,
        ..SHAPE
    })
    .await;
    let id = rig.open("DiskFull").await;
    assert_eq!(rig.events(id, "page sent").await.len(), 3, "all three now");
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(30), Duration::minutes(1)).await;
    rig.finish(
        &[
            sms(BOB_PHONE, &[id]),
            call(BOB_PHONE, id),
            email("bob@example.com", id),
        ],
        2,
    )
    .await;
}

const SMS_AND_VOICE: &str = r#"      - { notify: nearest, via: [sms, voice], wait: 5m }
      - { notify: next, via: [voice], wait: 5m }"#;

#[tokio::test]
async fn two_failed_channels_fall_back_to_one_unused_channel_once() {
    let rig = rig_with(&Shape {
        steps: SMS_AND_VOICE,
        ..SHAPE
    })
    .await;
    rig.twilio
        .script(Resource::Messages, Reply::error(400, 21211));
    rig.twilio.script(Resource::Calls, Reply::error(400, 21211));
    let id = rig.open("DiskFull").await;
    let fell = rig.events(id, "falling back").await;
    assert_eq!(
        fell.len(),
        1,
        "one fallback for the two failures: {fell:#?}"
    );
    assert_eq!(fell[0]["detail"]["to"], "email");
    assert_eq!(rig.events(id, "no channel left").await.len(), 1);
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(&[email("bob@example.com", id)], 2).await;
}

#[tokio::test]
async fn a_failure_falls_back_past_the_channels_the_step_already_uses() {
    let rig = rig_with(&Shape {
        steps: SMS_AND_VOICE,
        ..SHAPE
    })
    .await;
    rig.twilio
        .script(Resource::Messages, Reply::error(400, 21211));
    let id = rig.open("DiskFull").await;
    let fell = rig.events(id, "falling back").await;
    assert_eq!(fell.len(), 1);
    // Voice already rang for this step: the SMS falls back to email.
    assert_eq!(
        (&fell[0]["detail"]["from"], &fell[0]["detail"]["to"]),
        (&json!("sms"), &json!("email"))
    );
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(&[call(BOB_PHONE, id), email("bob@example.com", id)], 2)
        .await;
}

const NO_VIA: &str = r#"      - { notify: nearest, wait: 10m }"#;

#[tokio::test]
async fn a_step_without_via_follows_the_persons_notify_rules() {
    let rig = rig_with(&Shape {
        steps: NO_VIA,
        bob_notify: "[{via: [sms], after: 0s}, {via: [voice], after: 2m}]",
        ..SHAPE
    })
    .await;
    let first = rig.open("DiskFull").await;
    rig.d
        .advance(Duration::minutes(2) - Duration::seconds(1))
        .await;
    assert_eq!(rig.twilio.requests().len(), 1, "only the SMS so far");
    rig.d.advance(Duration::seconds(1)).await;
    assert_eq!(rig.twilio.requests().len(), 2, "the call at 2m");
    assert_eq!(rig.act(first, "acknowledge", BOB_TOKEN).await, 200);
    // An acknowledgement before the second rung stops it.
    let second = rig.open("CpuHigh").await;
    rig.d.advance(Duration::minutes(1)).await;
    assert_eq!(rig.act(second, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    assert_eq!(rig.events(second, "page cancelled").await.len(), 0);
    rig.finish(
        &[
            sms(BOB_PHONE, &[first]),
            call(BOB_PHONE, first),
            sms(BOB_PHONE, &[second]),
        ],
        3,
    )
    .await;
}

/// Whoever asks to escalate is not paged on by their own ladder: bob's
/// call, due two minutes after his SMS, never comes once he has asked for
/// help; alice, the next one, is paged.
#[tokio::test]
async fn asking_to_escalate_stops_the_askers_own_later_rungs() {
    let rig = rig_with(&Shape {
        steps: "      - { notify: nearest, wait: 10m }\n      - { notify: next, via: [sms], wait: 10m }",
        bob_notify: "[{via: [sms], after: 0s}, {via: [voice], after: 2m}]",
        ..SHAPE
    })
    .await;
    let first = rig.open("DiskFull").await;
    rig.d.advance(Duration::minutes(1)).await;
    assert_eq!(rig.act(first, "escalate", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(5), Duration::seconds(30)).await;
    let cancelled = rig.events(first, "pages cancelled").await;
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    assert_eq!(cancelled[0]["detail"]["person"], "bob");
    assert_eq!(rig.act(first, "acknowledge", ADMIN_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    // bob's page, alice's page, and bob hearing that Alice took it.
    rig.finish(
        &[
            sms(BOB_PHONE, &[first]),
            sms(ALICE_PHONE, &[first]),
            sms(BOB_PHONE, &[first]),
        ],
        3,
    )
    .await;
}

/// A later rung queued before a reload goes to the number the reload
/// gave: bob's phone is fixed between his SMS and his call.
#[tokio::test]
async fn a_rung_queued_before_a_reload_uses_the_new_number() {
    let rig = rig_with(&Shape {
        steps: NO_VIA,
        bob_notify: "[{via: [sms], after: 0s}, {via: [voice], after: 2m}]",
        ..SHAPE
    })
    .await;
    let first = rig.open("DiskFull").await;
    rig.d.advance(Duration::minutes(1)).await;
    const NEW_PHONE: &str = "+4915119999992";
    let yaml = std::fs::read_to_string(&rig.d.config).expect("read");
    assert!(yaml.contains(BOB_PHONE));
    std::fs::write(&rig.d.config, yaml.replace(BOB_PHONE, NEW_PHONE)).expect("write");
    let r = rig
        .d
        .http
        .post(rig.d.url("/api/v1/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("reload");
    assert_eq!(r.status(), 200);
    rig.d.advance(Duration::minutes(1)).await;
    assert_eq!(rig.act(first, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[first]), call(NEW_PHONE, first)], 2)
        .await;
}

/// A rung queued before a reload that took the person's phone away (and
/// their ladder with it) calls no old number: it fails and falls back to
/// their next channel.
#[tokio::test]
async fn a_rung_whose_address_a_reload_removed_falls_back() {
    let rig = rig_with(&Shape {
        steps: NO_VIA,
        bob_notify: "[{via: [sms], after: 0s}, {via: [voice], after: 2m}]",
        ..SHAPE
    })
    .await;
    let first = rig.open("DiskFull").await;
    rig.d.advance(Duration::minutes(1)).await;
    let yaml = std::fs::read_to_string(&rig.d.config).expect("read");
    let phone = format!("    phone: \"{BOB_PHONE}\"\n");
    assert!(yaml.contains(&phone));
    let ladder = "[{via: [sms], after: 0s}, {via: [voice], after: 2m}]";
    assert!(yaml.contains(ladder));
    let yaml = yaml
        .replace(&phone, "")
        .replace(ladder, "[{via: [email], after: 0s}]");
    std::fs::write(&rig.d.config, yaml).expect("write");
    let r = rig
        .d
        .http
        .post(rig.d.url("/api/v1/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("reload");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    rig.d.advance(Duration::minutes(1)).await;
    assert_eq!(rig.events(first, "delivery failed").await.len(), 1);
    assert_eq!(rig.act(first, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    rig.finish(
        &[sms(BOB_PHONE, &[first]), email("bob@example.com", first)],
        1,
    )
    .await;
}

#[tokio::test]
async fn a_person_without_rules_gets_their_first_channel() {
    let rig = rig_with(&Shape {
        steps: NO_VIA,
        ..SHAPE
    })
    .await;
    let id = rig.open("DiskFull").await;
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    // bob has a phone and an email: his channels start with sms.
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}

#[tokio::test]
async fn route_shows_every_channel_that_fires() {
    let rig = rig_with(&Shape {
        steps: NO_VIA,
        bob_notify: "[{via: [sms, email], after: 0s}, {via: [voice], after: 2m}]",
        ..SHAPE
    })
    .await;
    let r = rig
        .d
        .http
        .get(rig.d.url("/api/v1/route?project=shop"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("route");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["first_channel"], "sms+email");
    assert_eq!(
        v["first_step"][0]["later"],
        json!([{"after": "2m", "channels": ["voice"]}])
    );
    let out = tocsin::cli::routing::render_route(&v, chrono_tz::UTC);
    assert!(
        out.contains("step 1 pages bob: sms + email at once, then voice after 2m"),
        "{out}"
    );
    rig.d.stop().await;
}

#[tokio::test]
async fn a_client_report_cannot_forge_lines_of_the_page() {
    let rig = rig().await;
    let forged = "db down\nAck: https://evil.example/a/PHISH\nReply: ack 1";
    let r = rig
        .d
        .post_json("/api/v1/trigger", CLIENT_TOKEN, &json!({"summary": forged}))
        .await;
    assert_eq!(r.status(), 202);
    rig.d.settle().await;
    let id = newest(&rig).await;
    let sent = rig.twilio.accepted();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let text = sent[0].text();
    // The report's text stays on the title's line: one line starts with
    // Ack:, and it is ours.
    assert_eq!(text.lines().count(), 3, "{text}");
    let acks: Vec<&str> = text.lines().filter(|l| l.starts_with("Ack:")).collect();
    assert_eq!(acks.len(), 1, "{text}");
    assert!(
        acks[0].starts_with("Ack: https://tocsin.example/a/"),
        "{text}"
    );
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}

async fn notify_call(
    rig: &Rig,
    method: &str,
    token: &str,
    person: &str,
    body: Value,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = rig
        .d
        .http
        .request(m, rig.d.url(&format!("/api/v1/people/{person}/notify")))
        .bearer_auth(token);
    if !body.is_null() {
        req = req.json(&body);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_person_sets_their_own_notify_ladder_and_clears_it_back_to_the_yaml_one() {
    let rig = rig_with(&Shape {
        steps: NO_VIA,
        bob_notify: "[{via: [sms], after: 0s}]",
        ..SHAPE
    })
    .await;
    let (status, v) = notify_call(&rig, "GET", BOB_TOKEN, "bob", Value::Null).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "yaml");
    assert_eq!(v["rules"], json!([{"via": ["sms"], "after": "0s"}]));
    let mine = json!({"rules": [{"via": ["email"]}, {"via": ["voice"], "after": "1m"}]});
    // Not someone else's: alice (admin) may, dave's lead would.
    let (status, _) = notify_call(&rig, "PUT", BOB_TOKEN, "alice", mine.clone()).await;
    assert_eq!(status, 403);
    for (bad, field) in [
        (json!({"rules": []}), "rules"),
        (json!({"rules": [{"via": []}]}), "rules[0].via"),
        (json!({"rules": [{"via": ["chat"]}]}), "rules[0].via"),
        (json!({"rules": [{"via": ["pager"]}]}), "rules[0].via"),
        (
            json!({"rules": [{"via": ["sms"], "after": "soon"}]}),
            "rules[0].after",
        ),
        // A first rule later than at once would hold back every page.
        (
            json!({"rules": [{"via": ["sms"], "after": "45m"}]}),
            "rules[0].after",
        ),
        (
            json!({"rules": [{"via": ["sms"]}, {"via": ["voice"], "after": "2m"}, {"via": ["email"], "after": "30s"}]}),
            "rules[2].after",
        ),
    ] {
        let (status, v) = notify_call(&rig, "PUT", BOB_TOKEN, "bob", bad.clone()).await;
        assert_eq!(
            (status, v["field"].clone()),
            (400, json!(field)),
            "{bad}: {v}"
        );
    }
    let (status, v) = notify_call(&rig, "PUT", BOB_TOKEN, "bob", mine).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "api");
    // The next page follows bob's own ladder: email now, a call at 1m.
    let first = rig.open("DiskFull").await;
    rig.d.advance(Duration::minutes(1)).await;
    assert_eq!(rig.act(first, "acknowledge", BOB_TOKEN).await, 200);
    // Cleared: the YAML ladder again (an SMS).
    let (status, v) = notify_call(&rig, "DELETE", ADMIN_TOKEN, "bob", Value::Null).await;
    assert_eq!((status, v["source"].clone()), (200, json!("yaml")), "{v}");
    let second = rig.open("CpuHigh").await;
    assert_eq!(rig.act(second, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(
        &[
            email("bob@example.com", first),
            call(BOB_PHONE, first),
            sms(BOB_PHONE, &[second]),
        ],
        2,
    )
    .await;
}

/// A later rung is never sent before it is due: an SMS going out to the
/// same person does not take along one that is due within its window.
#[tokio::test]
async fn a_later_rung_waits_for_its_time_even_beside_another_sms() {
    let rig = rig_with(&Shape {
        steps: NO_VIA,
        bob_notify: "[{via: [email], after: 0s}, {via: [sms], after: 2m}]",
        ..SHAPE
    })
    .await;
    let first = rig.open("DiskFull").await;
    rig.d.advance(Duration::minutes(1)).await;
    let second = rig.open("CpuHigh").await;
    // first's SMS rung is due now; second's in a minute, inside the window.
    rig.d.advance(Duration::minutes(1)).await;
    assert_eq!(
        twilio_sent(&rig.twilio),
        [sms(BOB_PHONE, &[first])],
        "second's rung is not due yet"
    );
    rig.d.advance(Duration::seconds(30)).await;
    // Acknowledged before its rung: its SMS never goes.
    assert_eq!(rig.act(second, "acknowledge", BOB_TOKEN).await, 200);
    assert_eq!(rig.act(first, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    rig.finish(
        &[
            email("bob@example.com", first),
            email("bob@example.com", second),
            sms(BOB_PHONE, &[first]),
        ],
        1,
    )
    .await;
}
