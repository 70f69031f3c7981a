//! Paging end to end against local fakes (Twilio REST, a Slack webhook, an
//! SMTP server): no page is lost and none is duplicated. Every test ends by
//! comparing what the fakes delivered with exactly the pages it expects, so
//! a duplicate or a stray page fails it. Time moves by hand (`advance`);
//! `rig` holds the harness; `crash` runs the real binary and kills it with
//! SIGKILL; `failover` kills either of two daemons on one PostgreSQL
//! database while alerts arrive at both; `sms_text` checks what an SMS says under load and hostile text;
//! `storm` that one person's flood of pages holds back nobody else's.

mod channels;
mod crash;
mod failover;
mod handling;
mod maintenance;
mod overrides;
mod reach;
mod reports;
mod rig;
mod sms_text;
mod storm;
mod web;

use chrono::Duration;
use serde_json::json;
use tocsin::clock::Clock;

use crate::fakes::{Reply, Resource};
use crate::helpers::*;
use rig::*;

#[tokio::test]
async fn sms_page_then_sms_ack_stops_all_paging() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    let sent = rig.twilio.accepted();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let text = sent[0].text();
    assert_eq!(sent[0].to(), BOB_PHONE);
    for part in [
        format!("#{id} "),
        "shop".into(),
        "[critical]".into(),
        "DiskFull on db-1".into(),
        format!("{PUBLIC}/a/"),
        format!("ack {id}"),
        format!("res {id}"),
        format!("esc {id}"),
    ] {
        assert!(text.contains(&part), "{part:?} missing from {text:?}");
    }
    let answer = rig.reply(BOB_PHONE, &format!("ack {id}")).await;
    assert!(
        answer.contains(&format!("Incident {id} acknowledged")),
        "{answer}"
    );
    assert_eq!(rig.state(id).await, "acknowledged");
    // Every later deadline of both rounds passes: nothing more goes out.
    pass(&rig.d, Duration::minutes(50), Duration::minutes(1)).await;
    assert_eq!(rig.events(id, "escalated").await.len(), 0);
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}

#[tokio::test]
async fn unacknowledged_escalates_at_the_deadline_and_a_keypress_acks() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    rig.d
        .advance(Duration::minutes(5) - Duration::seconds(1))
        .await;
    assert_eq!(rig.twilio.requests().len(), 1, "one second early: nothing");
    assert_eq!(rig.d.advance(Duration::seconds(1)).await, 1);
    let calls: Vec<_> = rig
        .twilio
        .accepted()
        .into_iter()
        .filter(|r| r.resource == Resource::Calls)
        .collect();
    assert_eq!(calls.len(), 1, "at the deadline: the call");
    assert_eq!(calls[0].to(), ALICE_PHONE);
    assert!(
        calls[0]
            .text()
            .contains(&format!("/twilio/voice?incident={id}&amp;person=alice")),
        "{}",
        calls[0].text()
    );
    let path = format!("/twilio/voice?incident={id}&person=alice");
    let (status, twiml) = rig
        .twilio_webhook(&path, &[("CallSid", "CA1"), ("Digits", "1")])
        .await;
    assert_eq!(status, 200);
    assert!(twiml.contains("acknowledged"), "{twiml}");
    let s = rig.show(id).await;
    assert_eq!(s["incident"]["state"], "acknowledged");
    assert_eq!(s["incident"]["assignee"], "alice");
    pass(&rig.d, Duration::minutes(45), Duration::minutes(5)).await;
    // bob, paged first, hears that alice took it.
    rig.finish(
        &[
            sms(BOB_PHONE, &[id]),
            call(ALICE_PHONE, id),
            sms(BOB_PHONE, &[id]),
        ],
        3,
    )
    .await;
}

#[tokio::test]
async fn every_step_and_a_repeat_then_exhaustion() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    let round = [
        sms(BOB_PHONE, &[id]),
        call(ALICE_PHONE, id),
        email(DAVE_EMAIL, id),
        chat(id),
    ];
    for (n, page) in round.iter().chain(round.iter()).enumerate() {
        if n > 0 {
            assert_eq!(rig.d.advance(Duration::minutes(5)).await, 1, "step {n}");
        }
        let got = rig.delivered();
        assert_eq!(got.len(), n + 1, "after step {n}: {got:#?}");
        assert!(got.contains(page), "step {n}: {page:?} not in {got:#?}");
    }
    assert_eq!(rig.events(id, "escalation exhausted").await.len(), 0);
    assert_eq!(rig.d.advance(Duration::minutes(5)).await, 1);
    let exhausted = rig.events(id, "escalation exhausted").await;
    assert_eq!(exhausted.len(), 1);
    assert_eq!(exhausted[0]["detail"]["rounds"], 2);
    pass(&rig.d, Duration::hours(2), Duration::minutes(5)).await;
    assert_eq!(rig.state(id).await, "triggered");
    let mut all = round.to_vec();
    all.extend(round.iter().cloned());
    rig.finish(&all, 4).await;
}

#[tokio::test]
async fn acknowledging_cancels_a_page_waiting_for_its_retry() {
    let rig = rig().await;
    rig.twilio.script(Resource::Messages, Reply::server_error());
    let id = rig.open("DiskFull").await;
    let failed = rig.events(id, "attempt failed").await;
    assert_eq!(failed.len(), 1, "the page waits for its retry");
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(20), Duration::seconds(30)).await;
    let s = rig.show(id).await;
    let kinds: Vec<&str> = s["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"pages cancelled") || kinds.contains(&"page cancelled"),
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"page sent"), "{kinds:?}");
    rig.finish(&[], 1).await;
}

/// The retry time the last `attempt failed` event announced.
async fn retry_at(rig: &Rig, id: i64) -> chrono::DateTime<chrono::Utc> {
    let failed = rig.events(id, "attempt failed").await;
    failed.last().expect("a failed attempt")["detail"]["retry_at"]
        .as_str()
        .expect("retry_at")
        .parse()
        .expect("a time")
}

/// Advances to one second before the announced retry (nothing new is sent),
/// then to the retry itself; returns the Twilio request count before it.
async fn through_retry(rig: &Rig, id: i64) -> usize {
    let due = retry_at(rig, id).await;
    let before = rig.twilio.requests().len();
    let now = rig.d.clock.now();
    rig.d.advance(due - now - Duration::seconds(1)).await;
    assert_eq!(rig.twilio.requests().len(), before, "sent before {due}");
    rig.d.advance(Duration::seconds(1)).await;
    before
}

#[tokio::test]
async fn provider_errors_are_retried_with_backoff_then_sent_once() {
    let rig = rig().await;
    rig.twilio.script(Resource::Messages, Reply::server_error());
    rig.twilio.script(Resource::Messages, Reply::server_error());
    let id = rig.open("DiskFull").await;
    let first = retry_at(&rig, id).await - t0();
    assert!(
        (Duration::seconds(4)..=Duration::seconds(6)).contains(&first),
        "first backoff {first}"
    );
    through_retry(&rig, id).await;
    let second = retry_at(&rig, id).await - rig.d.clock.now();
    assert!(
        (Duration::seconds(8)..=Duration::seconds(12)).contains(&second),
        "second backoff {second}"
    );
    through_retry(&rig, id).await;
    assert_eq!(rig.events(id, "attempt failed").await.len(), 2);
    let sent = rig.events(id, "page sent").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["detail"]["attempt"], 3);
    // Quiet until the next step (acknowledged so it never comes).
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(10), Duration::minutes(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[id])], 3).await;
}

#[tokio::test]
async fn retry_after_and_a_dropped_connection_are_honoured() {
    let rig = rig().await;
    rig.twilio.script(Resource::Messages, Reply::too_many(40));
    rig.twilio.script(Resource::Messages, Reply::Drop);
    let id = rig.open("DiskFull").await;
    assert_eq!(retry_at(&rig, id).await - t0(), Duration::seconds(40));
    through_retry(&rig, id).await;
    let failed = rig.events(id, "attempt failed").await;
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert_eq!(failed[1]["detail"]["ambiguous"], true);
    through_retry(&rig, id).await;
    assert_eq!(rig.events(id, "page sent").await.len(), 1);
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(10), Duration::minutes(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[id])], 3).await;
}

#[tokio::test]
async fn a_permanent_failure_falls_back_to_voice() {
    let rig = rig().await;
    rig.twilio
        .script(Resource::Messages, Reply::error(400, 21211));
    let id = rig.open("DiskFull").await;
    let failed = rig.events(id, "delivery failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["detail"]["code"], 21211);
    let fell = rig.events(id, "falling back").await;
    assert_eq!(fell.len(), 1);
    assert_eq!(
        (
            fell[0]["detail"]["from"].clone(),
            fell[0]["detail"]["to"].clone()
        ),
        (json!("sms"), json!("voice"))
    );
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(10), Duration::minutes(1)).await;
    rig.finish(&[call(BOB_PHONE, id)], 2).await;
}

#[tokio::test]
async fn an_opted_out_number_falls_back_to_voice() {
    let rig = rig().await;
    rig.twilio
        .script(Resource::Messages, Reply::error(400, 21610));
    let id = rig.open("DiskFull").await;
    assert_eq!(rig.events(id, "falling back").await.len(), 1);
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(&[call(BOB_PHONE, id)], 2).await;
}

/// The sid of bob's second SMS, the bundle at the end of his window, which
/// names `total` incidents; no other SMS went.
fn bundle_sid(rig: &Rig, total: usize) -> String {
    let sent = rig.twilio.accepted();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(
        sent[1]
            .text()
            .contains(&format!("{total} incidents need you")),
        "{sent:#?}"
    );
    sent[1].sid.clone().expect("sid")
}

/// Bob's second SMS, the bundle at the end of his window, named `total`
/// incidents; each of `paged` had its page sent once. Acknowledges them
/// and checks the fakes received `expected` and nothing more.
async fn bundle_went(rig: Rig, total: usize, paged: &[i64], expected: &[Sent]) {
    bundle_sid(&rig, total);
    for &id in paged {
        assert_eq!(rig.events(id, "page sent").await.len(), 1, "#{id}");
        assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    }
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    rig.finish(expected, 2).await;
}

#[tokio::test]
async fn pages_to_one_person_within_the_window_are_bundled() {
    let rig = rig().await;
    let a = rig.open("First").await;
    assert_eq!(rig.twilio.accepted().len(), 1, "the first SMS at once");
    rig.d.advance(Duration::seconds(10)).await;
    let b = rig.open("Second").await;
    rig.d.advance(Duration::seconds(10)).await;
    let c = rig.open("Third").await;
    rig.d.advance(Duration::seconds(39)).await;
    assert_eq!(rig.twilio.requests().len(), 1, "nothing inside the window");
    rig.d.advance(Duration::seconds(1)).await;
    let expected = [sms(BOB_PHONE, &[a]), sms(BOB_PHONE, &[b, c])];
    bundle_went(rig, 2, &[a, b, c], &expected).await;
}

/// A notice's SMS opens no bundle window: a page right after a "took it"
/// notice goes at once, not a window later.
#[tokio::test]
async fn a_notice_sms_does_not_hold_back_the_next_page() {
    let rig = rig().await;
    let first = rig.open("First").await;
    rig.d.advance(Duration::seconds(61)).await;
    // alice takes it: bob, paged by SMS, hears so by SMS.
    assert_eq!(rig.act(first, "acknowledge", ADMIN_TOKEN).await, 200);
    rig.d.advance(Duration::seconds(1)).await;
    assert_eq!(rig.twilio.accepted().len(), 2, "the page and the notice");
    rig.d.advance(Duration::seconds(8)).await;
    let second = rig.open("Second").await;
    assert_eq!(
        rig.twilio.accepted().len(),
        3,
        "the page goes at once, not at the notice's window end"
    );
    assert_eq!(rig.act(second, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    let delivered: Vec<Sent> = rig.delivered();
    assert!(
        delivered.contains(&sms(BOB_PHONE, &[second])),
        "{delivered:?}"
    );
    rig.d.stop().await;
}

/// Pages fold into the oldest of them while they wait for the window; when
/// that one is acknowledged (by the API), the others still go, together.
#[tokio::test]
async fn acknowledging_the_page_a_bundle_waits_with_still_sends_the_others() {
    let rig = rig().await;
    let a = rig.open("First").await;
    rig.d.advance(Duration::seconds(10)).await;
    let b = rig.open("Second").await;
    rig.d.advance(Duration::seconds(10)).await;
    let c = rig.open("Third").await;
    let d = rig.open("Fourth").await;
    rig.d.advance(Duration::seconds(10)).await;
    assert_eq!(rig.act(b, "acknowledge", BOB_TOKEN).await, 200);
    rig.d.advance(Duration::seconds(29)).await;
    assert_eq!(rig.twilio.requests().len(), 1, "nothing inside the window");
    rig.d.advance(Duration::seconds(1)).await;
    assert_eq!(rig.events(b, "page sent").await.len(), 0);
    assert_eq!(rig.events(b, "pages cancelled").await.len(), 1);
    let expected = [sms(BOB_PHONE, &[a]), sms(BOB_PHONE, &[c, d])];
    bundle_went(rig, 2, &[a, c, d], &expected).await;
}

/// A page acknowledged by SMS reply while it waits in a bundle is left out
/// of the bundle's SMS; the others go.
#[tokio::test]
async fn a_page_acknowledged_while_it_waits_in_a_bundle_is_left_out() {
    let rig = rig().await;
    let a = rig.open("First").await;
    rig.d.advance(Duration::seconds(10)).await;
    let b = rig.open("Second").await;
    let c = rig.open("Third").await;
    let d = rig.open("Fourth").await;
    rig.d.advance(Duration::seconds(10)).await;
    let answer = rig.reply(BOB_PHONE, &format!("ack {c}")).await;
    assert!(
        answer.contains(&format!("Incident {c} acknowledged")),
        "{answer}"
    );
    assert_eq!(rig.state(c).await, "acknowledged");
    rig.d.advance(Duration::seconds(40)).await;
    assert_eq!(rig.events(c, "page sent").await.len(), 0);
    let expected = [sms(BOB_PHONE, &[a]), sms(BOB_PHONE, &[b, d])];
    bundle_went(rig, 2, &[a, b, d], &expected).await;
}

#[tokio::test]
async fn the_hourly_sms_limit_counts_a_bundle_as_one_message() {
    let rig = rig_with(&Shape {
        sms_per_hour: 3,
        ..SHAPE
    })
    .await;
    let a = rig.open("First").await;
    rig.d.advance(Duration::seconds(10)).await;
    let b = rig.open("Second").await;
    let c = rig.open("Third").await;
    rig.d.advance(Duration::seconds(50)).await;
    assert_eq!(rig.twilio.accepted().len(), 2, "a, then b and c bundled");
    // Two messages so far (three pages): under the limit of three, so the
    // next page waits the normal window, not five times it.
    rig.d.advance(Duration::seconds(10)).await;
    let d = rig.open("Fourth").await;
    rig.d.advance(Duration::seconds(49)).await;
    assert_eq!(rig.twilio.accepted().len(), 2, "inside the window");
    rig.d.advance(Duration::seconds(1)).await;
    assert_eq!(rig.twilio.accepted().len(), 3, "the window is one minute");
    // Acknowledged before their escalation deadlines, so that every SMS
    // below is a first page to bob.
    for id in [a, b, c, d] {
        assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    }
    // Three messages now: the limit is reached and the window is 5 minutes
    // from the last one (e's own escalation deadline comes 30 s after).
    rig.d.advance(Duration::seconds(30)).await;
    let e = rig.open("Fifth").await;
    rig.d.advance(Duration::minutes(4)).await;
    assert_eq!(rig.twilio.accepted().len(), 3, "slowed down at the limit");
    rig.d.advance(Duration::seconds(30)).await;
    assert_eq!(rig.twilio.accepted().len(), 4);
    assert_eq!(rig.act(e, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    rig.finish(
        &[
            sms(BOB_PHONE, &[a]),
            sms(BOB_PHONE, &[b, c]),
            sms(BOB_PHONE, &[d]),
            sms(BOB_PHONE, &[e]),
        ],
        4,
    )
    .await;
}

#[tokio::test]
async fn a_page_survives_a_restart_between_queueing_and_sending() {
    let mut rig = rig().await;
    rig.twilio.script(Resource::Messages, Reply::server_error());
    let id = rig.open("DiskFull").await;
    rig.d.restart().await;
    let due = retry_at(&rig, id).await;
    let now = rig.d.clock.now();
    rig.d.advance(due - now).await;
    assert_eq!(rig.events(id, "page sent").await.len(), 1);
    // The escalation deadline survived too.
    rig.d.advance(Duration::minutes(5)).await;
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(10), Duration::minutes(1)).await;
    // alice, called at step 2, hears by SMS that bob took it.
    rig.finish(
        &[
            sms(BOB_PHONE, &[id]),
            call(ALICE_PHONE, id),
            sms(ALICE_PHONE, &[id]),
        ],
        4,
    )
    .await;
}

#[tokio::test]
async fn an_undelivered_sms_report_falls_back_and_reports_never_regress() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    let sid = rig.twilio.accepted()[0].sid.clone().expect("sid");
    // Out of order: "delivered" would come last, but "sent" arriving after
    // "undelivered" must not undo the failure.
    assert_eq!(rig.sms_undelivered(&sid).await, 204);
    rig.d.settle().await;
    let (status, _) = rig
        .twilio_webhook(
            "/twilio/status",
            &[("MessageSid", &sid), ("MessageStatus", "sent")],
        )
        .await;
    assert_eq!(status, 204);
    rig.d.settle().await;
    let reports = rig.events(id, "delivery report").await;
    assert_eq!(
        reports.len(),
        1,
        "the stale 'sent' is not recorded: {reports:?}"
    );
    assert_eq!(rig.events(id, "falling back").await.len(), 1);
    // A forged report changes nothing.
    let r = rig
        .d
        .http
        .post(rig.d.url("/twilio/status"))
        .header("X-Twilio-Signature", "forged")
        .form(&[("MessageSid", sid.as_str()), ("MessageStatus", "delivered")])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 403);
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(&[sms(BOB_PHONE, &[id]), call(BOB_PHONE, id)], 2)
        .await;
}

#[tokio::test]
async fn after_stop_pages_skip_sms_and_admins_are_told() {
    let rig = rig().await;
    rig.reply(BOB_PHONE, "STOP").await;
    rig.d.settle().await;
    let id = rig.open("DiskFull").await;
    let failed = rig.events(id, "delivery failed").await;
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["detail"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("STOP")),
        "{failed:?}"
    );
    assert_eq!(rig.events(id, "falling back").await.len(), 1);
    // alice (admin) hears about the opt-out on chat.
    assert!(
        rig.chat
            .posts()
            .iter()
            .any(|p| p.text().contains("bob replied STOP")),
        "{:?}",
        rig.chat.posts()
    );
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    // The admin notice (no incident) and the call; no SMS reached Twilio.
    let notice = Sent {
        incidents: vec![],
        ..chat(id)
    };
    rig.finish(&[notice, call(BOB_PHONE, id)], 1).await;
}

/// A bundled SMS the provider reports undelivered falls back for every page
/// folded into it, as a single page's SMS does; the page sent alone before
/// it is untouched.
#[tokio::test]
async fn an_undelivered_bundle_falls_back_for_every_page_in_it() {
    let rig = rig().await;
    let a = rig.open("First").await;
    rig.d.advance(Duration::seconds(10)).await;
    let b = rig.open("Second").await;
    rig.d.advance(Duration::seconds(10)).await;
    let c = rig.open("Third").await;
    rig.d.advance(Duration::seconds(40)).await;
    let sid = bundle_sid(&rig, 2);
    assert_eq!(rig.sms_undelivered(&sid).await, 204);
    rig.d.settle().await;
    assert!(rig.events(a, "falling back").await.is_empty());
    for id in [b, c] {
        assert_eq!(
            rig.events(id, "falling back").await.len(),
            1,
            "#{id}: its SMS never arrived, so its page must go to the next channel"
        );
    }
}

/// Twilio stays down through every retry of a bundle's SMS: when it gives
/// up, every page in the bundle fails with it and goes to bob's phone at
/// once, each once. (Handed back instead, they waited out the same outage
/// again as a new bundle, or went by SMS minutes later.)
#[tokio::test]
async fn a_bundle_whose_sms_never_goes_falls_back_for_every_page_at_once() {
    let shape = Shape {
        steps: "      - { notify: nearest, via: [sms], wait: 1h }",
        ..SHAPE
    };
    let rig = rig_with(&shape).await;
    let a = rig.open("First").await;
    rig.d.advance(Duration::seconds(10)).await;
    let b = rig.open("Second").await;
    let c = rig.open("Third").await;
    let d = rig.open("Fourth").await;
    for _ in 0..tocsin::escalation::fallback::MAX_ATTEMPTS {
        rig.twilio.script(Resource::Messages, Reply::server_error());
    }
    pass(&rig.d, Duration::minutes(20), Duration::seconds(30)).await;
    for id in [b, c, d] {
        assert_eq!(rig.events(id, "falling back").await.len(), 1, "#{id}");
        let sent = rig.events(id, "page sent").await;
        assert!(
            sent.iter().all(|e| e["detail"]["channel"] == "voice"),
            "#{id}: {sent:#?}"
        );
    }
    assert!(rig.events(a, "falling back").await.is_empty());
    for id in [a, b, c, d] {
        assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    }
    let attempts = 1 + tocsin::escalation::fallback::MAX_ATTEMPTS as usize + 3;
    let expected = [
        sms(BOB_PHONE, &[a]),
        call(BOB_PHONE, b),
        call(BOB_PHONE, c),
        call(BOB_PHONE, d),
    ];
    rig.finish(&expected, attempts).await;
}

/// A bundle too big for one transaction has its undelivered report applied
/// a chunk at a time; a restart between chunks (here: the report's first
/// chunk applied, its rest lost with the process) still falls back for
/// every page in it, once each.
#[tokio::test]
async fn a_big_bundles_report_cut_short_by_a_restart_still_falls_back_for_every_page() {
    let mut rig = rig().await;
    let a = rig.open("First").await;
    rig.d.advance(Duration::seconds(10)).await;
    let folded = tocsin::escalation::delivery::BUNDLE_CHUNK + 4;
    let mut paged = Vec::new();
    for n in 0..folded {
        let r = rig
            .d
            .post_json(
                "/api/v1/alertmanager",
                AM_TOKEN,
                &alert_payload(&format!("Storm{n}")),
            )
            .await;
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.expect("json");
        paged.push(body["outcome"]["opened"][0].as_i64().expect("opened"));
    }
    rig.d.settle().await;
    rig.d.advance(Duration::seconds(50)).await;
    let sid = bundle_sid(&rig, folded);
    // Twilio's report arrives; the process dies after its first chunk.
    let first = rig
        .d
        .state()
        .transact_paging(move |repo, ctx| {
            tocsin::escalation::delivery::report(repo, ctx, &sid, "undelivered", Some(30003))
        })
        .await
        .expect("first chunk");
    assert!(
        matches!(first, tocsin::escalation::delivery::Reported::More(_)),
        "{first:?}"
    );
    drop(first);
    let last = *paged.last().expect("paged");
    assert!(rig.events(last, "falling back").await.is_empty());
    rig.d.restart().await;
    eventually("the rest of the report applied at start-up", || async {
        (!rig.events(last, "falling back").await.is_empty()).then_some(())
    })
    .await;
    rig.d.settle().await;
    assert!(rig.events(a, "falling back").await.is_empty());
    let calls = twilio_sent(&rig.twilio)
        .into_iter()
        .filter(|s| s.channel == "voice")
        .flat_map(|s| s.incidents)
        .collect::<Vec<_>>();
    let mut want = paged.clone();
    want.sort();
    let mut got = calls.clone();
    got.sort();
    assert_eq!(got, want, "one call per page of the bundle, none twice");
}

/// Each provider answer is recorded as soon as its own call returns: a
/// status callback for a fast SMS, arriving while a slow call of the same
/// batch is still in flight, finds its page and falls back (were the answers
/// recorded after the slowest call, the callback would find nothing and the
/// fallback would be lost).
#[tokio::test]
async fn a_report_for_a_fast_sms_counts_while_a_slow_call_of_its_batch_is_in_flight() {
    let rig = rig().await;
    let a = rig.open("First").await;
    rig.d.advance(Duration::minutes(4)).await;
    // Queued, not yet sent: the next pass claims it with a's voice step.
    let r = rig
        .d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &alert_payload("Second"))
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    let b = body["outcome"]["opened"][0].as_i64().expect("opened");
    rig.twilio.script(
        Resource::Calls,
        Reply::Slow(std::time::Duration::from_secs(3)),
    );
    let driver = async {
        // While the call is held: wait (at most 2 s) for b's SMS to be
        // recorded, then report it undelivered.
        let started = std::time::Instant::now();
        while rig.events(b, "page sent").await.is_empty()
            && started.elapsed() < std::time::Duration::from_secs(2)
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let sid = rig
            .twilio
            .accepted()
            .into_iter()
            .find(|m| m.resource == Resource::Messages && named(m.text()) == [b])
            .and_then(|m| m.sid)
            .expect("b's SMS reached the provider");
        rig.sms_undelivered(&sid).await
    };
    let (_, status) = tokio::join!(rig.d.advance(Duration::minutes(1)), driver);
    assert_eq!(status, 204);
    assert_eq!(
        rig.events(a, "page sent").await.len(),
        2,
        "a's SMS and call"
    );
    assert_eq!(
        rig.events(b, "falling back").await.len(),
        1,
        "b's undelivered SMS goes on by voice"
    );
}
