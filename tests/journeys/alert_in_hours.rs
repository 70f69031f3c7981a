//! An Alertmanager alert in working hours: the nearest responder gets a chat
//! post and an SMS at once; nobody acknowledges, so the next step calls the
//! next person; a keypress 1 acknowledges; everyone paged hears who took it
//! and the client hears someone is on it.

use chrono::Duration;

use crate::world::*;

#[tokio::test]
async fn alert_in_hours_chat_and_sms_then_a_call_then_keypress_one() {
    let mut w = world().await;
    let out = w.alert("DiskFull", "shop").await;
    let id = out["opened"][0].as_i64().expect("opened");
    let tag = format!("#{id} [critical] shop: DiskFull on shop");
    w.expect(
        "the alert",
        &[("chat", ONCALL, "@bob you are paged"), ("sms", BOB, &tag)],
    );
    // Nobody acknowledges: one second early nothing, at 5m step 2 calls alice.
    w.advance(Duration::minutes(5) - Duration::seconds(1)).await;
    w.expect("before the deadline", &[]);
    w.advance(Duration::seconds(1)).await;
    w.expect(
        "step 2",
        &[("voice", ALICE, &format!("incident {id} on project"))],
    );
    // alice presses 1 during the call.
    let path = format!("/twilio/voice?incident={id}&person=alice");
    let (status, twiml) = w
        .twilio_webhook(&path, &[("CallSid", "CA1"), ("Digits", "1")])
        .await;
    assert_eq!(status, 200);
    assert!(twiml.contains("acknowledged"), "{twiml}");
    let reference = w.incident(&id.to_string()).await["incident"]["reference"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(reference, "ACME-1");
    w.expect(
        "keypress 1",
        &[
            ("sms", BOB, &format!("Alice took {tag}")),
            (
                "chat",
                ACME,
                "Alice is online and investigating incident ACME-1: DiskFull on shop.",
            ),
        ],
    );
    // The next steps never fire; nothing else is sent before the first
    // reminders are due.
    w.advance(Duration::minutes(25)).await;
    w.expect("quiet", &[]);
    w.stop().await;
}
