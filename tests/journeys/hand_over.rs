//! Handing an incident over before anyone acknowledged: the new assignee is
//! paged at once, escalation goes on from them, and when they acknowledge
//! (a bare `ack` by SMS) everyone paged before hears it.

use chrono::Duration;
use serde_json::json;

use crate::helpers::*;
use crate::world::*;

#[tokio::test]
async fn handed_over_before_acknowledge_pages_the_new_assignee() {
    let mut w = world().await;
    let id = w.alert("DiskFull", "shop").await["opened"][0]
        .as_i64()
        .expect("opened");
    w.expect(
        "the alert",
        &[("chat", ONCALL, "@bob"), ("sms", BOB, "#1 ")],
    );
    w.advance(Duration::minutes(1)).await;
    // alice (the lead) hands it to dave, who knows the disk layout.
    let (status, v) = w
        .post(
            &format!("/api/v1/incidents/{id}/assign"),
            ADMIN_TOKEN,
            json!({"person": "dave"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // dave has no chat handle: the step's SMS alone.
    w.expect("the hand-over", &[("sms", DAVE, "#1 [critical] shop")]);
    // Five minutes after the hand-over (not after the alert), step 2 calls
    // the next person not yet paged: alice.
    w.advance(Duration::minutes(5) - Duration::seconds(1)).await;
    w.expect("step 2 waits", &[]);
    w.advance(Duration::seconds(1)).await;
    w.expect("step 2", &[("voice", ALICE, "incident 1 on project")]);
    let answer = w.reply(DAVE, "ack").await;
    assert!(answer.contains("Incident 1 acknowledged"), "{answer}");
    w.expect(
        "dave acknowledges",
        &[
            ("sms", BOB, "Dave took #1"),
            ("sms", ALICE, "Dave took #1"),
            (
                "chat",
                ACME,
                "Dave is online and investigating incident ACME-1",
            ),
        ],
    );
    w.advance(Duration::minutes(20)).await;
    w.expect("quiet", &[]);
    w.stop().await;
}

/// The client hears who investigates once: bob acknowledges, asks for help
/// (`esc`), then takes it back himself before alice answers. The client was
/// already told bob is on it, so the second acknowledge posts nothing there;
/// when alice takes it later, the client hears her name.
#[tokio::test]
async fn the_client_hears_once_who_investigates() {
    let mut w = world().await;
    let id = w.alert("DiskFull", "shop").await["opened"][0]
        .as_i64()
        .expect("opened");
    w.expect(
        "the alert",
        &[("chat", ONCALL, "@bob"), ("sms", BOB, "#1 ")],
    );
    // Past the SMS bundle window, so every notice goes out at once.
    w.advance(Duration::minutes(1)).await;
    let answer = w.reply(BOB, "ack").await;
    assert!(answer.contains("Incident 1 acknowledged"), "{answer}");
    w.expect(
        "bob acknowledges",
        &[(
            "chat",
            ACME,
            "Bob is online and investigating incident ACME-1",
        )],
    );
    let answer = w.reply(BOB, "esc").await;
    assert!(!answer.contains("nobody"), "{answer}");
    w.expect(
        "bob asks for help",
        &[("voice", ALICE, "incident 1 on project")],
    );
    w.advance(Duration::minutes(4)).await;
    w.expect("alice has not answered", &[]);
    let answer = w.reply(BOB, "ack").await;
    assert!(answer.contains("Incident 1 acknowledged"), "{answer}");
    w.expect("bob takes it back", &[("sms", ALICE, "Bob took #1")]);
    let withheld = w.events(id, "client post withheld").await;
    assert_eq!(withheld.len(), 1, "{withheld:?}");
    assert_eq!(withheld[0]["detail"]["about"], "acknowledged");
    // The client last heard at minute 1: bob is reminded to post an update
    // at minute 31 (update_every), not 30 minutes after his second
    // acknowledge.
    w.advance(Duration::minutes(26) - Duration::seconds(1))
        .await;
    w.expect("no update due yet", &[]);
    w.advance(Duration::seconds(1)).await;
    w.expect(
        "the client heard nothing for 30 minutes",
        &[
            ("sms", BOB, "the client has heard nothing about #1"),
            ("chat", ONCALL, "@bob tocsin: the client has heard nothing"),
        ],
    );
    // Now alice (past bob's SMS window): the client hears who works on it.
    w.advance(Duration::minutes(1)).await;
    let answer = w.reply(BOB, "esc").await;
    assert!(!answer.contains("nobody"), "{answer}");
    // Step 3 (the team lead) is alice again.
    w.expect("help again", &[("voice", ALICE, "incident 1 on project")]);
    let answer = w.reply(ALICE, "ack 1").await;
    assert!(answer.contains("Incident 1 acknowledged"), "{answer}");
    w.expect(
        "alice takes it",
        &[
            ("sms", BOB, "Alice took #1"),
            (
                "chat",
                ACME,
                "Alice is online and investigating incident ACME-1",
            ),
        ],
    );
    w.advance(Duration::minutes(20)).await;
    w.expect("quiet", &[]);
    w.stop().await;
}

/// Alice resolves the incident bob holds: bob is told by name who did, and
/// the client that bob is on it hears it is resolved.
#[tokio::test]
async fn the_holder_hears_by_name_who_resolved_it() {
    let mut w = world().await;
    let id = w.alert("DiskFull", "shop").await["opened"][0]
        .as_i64()
        .expect("opened");
    w.expect(
        "the alert",
        &[("chat", ONCALL, "@bob"), ("sms", BOB, "#1 ")],
    );
    w.advance(Duration::minutes(1)).await;
    let answer = w.reply(BOB, "ack").await;
    assert!(answer.contains("Incident 1 acknowledged"), "{answer}");
    w.expect(
        "bob acknowledges",
        &[(
            "chat",
            ACME,
            "Bob is online and investigating incident ACME-1",
        )],
    );
    let answer = w.reply(ALICE, &format!("res {id}")).await;
    assert!(answer.contains("resolved"), "{answer}");
    w.expect(
        "alice resolves",
        &[
            ("chat", ONCALL, "was resolved by Alice"),
            (
                "chat",
                ACME,
                "Incident ACME-1 (DiskFull on shop) is resolved.",
            ),
        ],
    );
    w.stop().await;
}

/// Dave, never paged, takes bob's incident by SMS, then hands it on
/// (`esc`): when alice takes it, dave hears so too, as the README says
/// ("you hear when they do"), though no page of it ever reached him.
#[tokio::test]
async fn whoever_hands_it_on_hears_who_took_it() {
    let mut w = world().await;
    w.alert("DiskFull", "shop").await;
    w.expect(
        "the alert",
        &[("chat", ONCALL, "@bob"), ("sms", BOB, "#1 ")],
    );
    w.advance(Duration::minutes(1)).await;
    let answer = w.reply(DAVE, "ack 1").await;
    assert!(answer.contains("Incident 1 acknowledged"), "{answer}");
    w.expect(
        "dave takes it",
        &[
            ("sms", BOB, "Dave took #1"),
            (
                "chat",
                ACME,
                "Dave is online and investigating incident ACME-1",
            ),
        ],
    );
    let answer = w.reply(DAVE, "esc 1").await;
    assert!(!answer.contains("nobody"), "{answer}");
    w.expect(
        "dave hands it on",
        &[("voice", ALICE, "incident 1 on project")],
    );
    let answer = w.reply(ALICE, "ack 1").await;
    assert!(answer.contains("Incident 1 acknowledged"), "{answer}");
    w.expect(
        "alice takes it",
        &[
            ("sms", BOB, "Alice took #1"),
            ("sms", DAVE, "Alice took #1"),
            (
                "chat",
                ACME,
                "Alice is online and investigating incident ACME-1",
            ),
        ],
    );
    w.stop().await;
}
