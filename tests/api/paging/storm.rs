//! Alert storms: pages queued by the thousand for one person do not hold
//! back another person's page, neither in the outbox's claim nor behind a
//! provider call still in flight.

use chrono::Duration;
use serde_json::Value;
use tocsin::escalation::delivery;
use tocsin::escalation::paging::Ctx;

use super::rig::*;
use crate::fakes::{Reply, Resource};
use crate::helpers::*;

const ALICE_OPS: &str = "  - { id: ops, client: acme, team: web, responders: [alice] }\n";

/// The rig's roster with a second project, `ops`, whose one responder is
/// alice, for the alerts labelled `team="ops"`.
fn with_ops(yaml: String) -> String {
    yaml.replacen("projects:\n", &format!("projects:\n{ALICE_OPS}"), 1)
        .replacen(
            "    project: shop\n  - id: pd",
            "    project: shop\n    routes:\n      - { matchers: ['team=\"ops\"'], project: ops }\n  - id: pd",
            1,
        )
}

/// Posts a new alert group (for alice's `ops` when `ops`); sends nothing.
async fn post(rig: &Rig, name: &str, ops: bool) -> i64 {
    let mut payload = alert_payload(name);
    if ops {
        payload["alerts"][0]["labels"]["team"] = "ops".into();
        payload["commonLabels"]["team"] = "ops".into();
    }
    let r = rig
        .d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    body["outcome"]["opened"][0].as_i64().expect("opened")
}

/// What one claim of the outbox worker's size would take now. The claim is
/// rolled back (its job fails on purpose), so every row stays queued, on
/// either store.
async fn claim_once(d: &Daemon) -> Vec<delivery::Claimed> {
    let (roster, secret, now) = d.state().paging_parts();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    let rolled_back = d
        .state()
        .store
        .transact(move |repo| {
            let ctx = Ctx {
                roster: &roster,
                secret: &secret,
                now,
            };
            let claimed = delivery::claim(repo, &ctx, 32)?;
            *keep.lock().expect("lock") = claimed;
            Err::<(), _>(tocsin::store::StoreError::Conflict(
                "a look, not a claim".into(),
            ))
        })
        .await;
    assert!(rolled_back.is_err());
    std::mem::take(&mut *seen.lock().expect("lock"))
}

#[tokio::test]
async fn pages_queued_by_the_hundred_for_one_person_leave_another_persons_page_in_the_first_claim()
{
    let rig = rig_edited(&SHAPE, with_ops).await;
    let first = rig.open("Storm000").await;
    // Within bob's SMS window: every one of these waits for its end.
    let mut storm = Vec::new();
    for n in 1..=100 {
        storm.push(post(&rig, &format!("Storm{n:03}"), false).await);
    }
    let other = post(&rig, "Elsewhere", true).await;
    let claimed = claim_once(&rig.d).await;
    let to: Vec<_> = claimed
        .iter()
        .map(|c| (c.row.person.clone(), c.row.incident))
        .collect();
    assert_eq!(to, [(Some("alice".to_string()), Some(other))]);
    // The look changed nothing: now send everything.
    rig.d.settle().await;
    assert_eq!(rig.twilio.accepted().len(), 2, "bob's first, alice's");
    rig.d.advance(Duration::minutes(1)).await;
    let sent = rig.twilio.accepted();
    assert_eq!(sent.len(), 3, "then one bundle for bob");
    let bundle = sent[2].text();
    assert!(bundle.contains("100 incidents need you"), "{bundle}");
    for id in [first, other].iter().chain(&storm) {
        assert_eq!(rig.events(*id, "page sent").await.len(), 1, "#{id}");
    }
    let named = named(bundle);
    assert!(named.iter().all(|id| storm.contains(id)), "{bundle}");
    rig.finish(
        &[
            sms(BOB_PHONE, &[first]),
            sms(ALICE_PHONE, &[other]),
            sms(BOB_PHONE, &named),
        ],
        3,
    )
    .await;
}

#[tokio::test]
async fn a_page_goes_out_while_another_persons_provider_call_is_in_flight() {
    let twilio = crate::fakes::FakeTwilio::start().await;
    let chat = crate::fakes::FakeChat::start().await;
    let smtp = tocsin::notify::email::fake_smtp::FakeSmtp::start()
        .await
        .expect("fake smtp");
    let yaml = with_ops(roster(&twilio.base_url(), smtp.addr().port(), &SHAPE));
    let slack = chat.url("hooks/oncall");
    let d = spawn_with_workers(
        &yaml,
        &[("twilio.token", TWILIO_TOKEN), ("slack.url", &slack)],
    )
    .await;
    let rig = Rig {
        d,
        twilio,
        chat,
        smtp,
    };
    // Bob's SMS is taken by Twilio at once but answered only after a while.
    rig.twilio.script(
        Resource::Messages,
        Reply::Slow(std::time::Duration::from_secs(8)),
    );
    let slow = post(&rig, "Slow", false).await;
    wait_until(|| rig.twilio.requests().len() == 1).await;
    let other = post(&rig, "Elsewhere", true).await;
    wait_until(|| rig.twilio.requests().len() == 2).await;
    // Alice's page went out before bob's answer was recorded.
    assert_eq!(rig.events(slow, "page sent").await.len(), 0);
    wait_until_async(|| async { rig.events(other, "page sent").await.len() == 1 }).await;
    assert_eq!(rig.events(slow, "page sent").await.len(), 0);
    let requests = rig.twilio.requests();
    assert_eq!(requests[1].to(), ALICE_PHONE);
    wait_until_async(|| async { rig.events(slow, "page sent").await.len() == 1 }).await;
    rig.finish(&[sms(BOB_PHONE, &[slow]), sms(ALICE_PHONE, &[other])], 2)
        .await;
}

/// Polls `done` (every 10 ms, for at most 30 s).
async fn wait_until(done: impl Fn() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("not reached in 30 s");
}

async fn wait_until_async<F: std::future::Future<Output = bool>>(done: impl Fn() -> F) {
    for _ in 0..3000 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("not reached in 30 s");
}
