//! The guide end to end, from a client's own report at night to the
//! remediation task that is late: the nearest person is called (nobody is
//! online), acknowledges by SMS, the client hears someone is on it (by its
//! own reference), status updates are relayed and their silence reminded,
//! a third-party diagnosis asks for a ticket, the serious incident is
//! resolved with a note and the client told the postmortem's day, the
//! author is invited the next business morning, the lead approves, the
//! client summary is published, and a late action item reaches the lead.

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use crate::helpers::*;
use crate::world::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid instant")
}

#[tokio::test]
async fn client_report_at_night_through_postmortem_and_a_late_action_item() {
    let mut w = world().await;
    // Wednesday 23:00 in Berlin: nobody is inside their working hours.
    w.advance_to(utc(2026, 11, 25, 22, 0)).await;
    w.expect("a quiet evening", &[]);

    // 1. The client reports; the nearest (bob) is called at once, and gets
    //    the step's chat post and SMS with the link and the commands.
    let (status, v) = w
        .post(
            "/api/v1/trigger",
            CLIENT_TOKEN,
            json!({"summary": "Checkout fails with error 500"}),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["reference"], "ACME-1", "{v}");
    assert!(
        v.get("incident").is_none(),
        "no global number for the client: {v}"
    );
    w.expect(
        "the client's report",
        &[
            ("voice", BOB, "incident 1 on project"),
            (
                "sms",
                BOB,
                "#1 [critical] shop: Checkout fails with error 500",
            ),
            ("chat", ONCALL, "@bob you are paged"),
        ],
    );

    // 2. bob acknowledges by SMS; the client hears he is on it.
    let answer = w.reply(BOB, "ack 1").await;
    assert!(answer.contains("Incident 1 acknowledged"), "{answer}");
    w.expect(
        "acknowledged by SMS",
        &[(
            "chat",
            ACME,
            "Bob is online and investigating incident ACME-1: Checkout fails with error 500.",
        )],
    );

    // 3. A status update is relayed to the client.
    w.advance(Duration::minutes(1)).await;
    let (status, _) = w
        .post(
            "/api/v1/incidents/ACME-1/updates",
            BOB_TOKEN,
            json!({"text": "We rolled back the last release and are checking payments."}),
        )
        .await;
    assert_eq!(status, 200);
    w.expect(
        "status update",
        &[(
            "chat",
            ACME,
            "Update on incident ACME-1 (Checkout fails with error 500) from Bob: We rolled back the last release and are checking payments.",
        )],
    );

    // 4. Thirty minutes of silence towards the client: bob is reminded.
    w.advance(Duration::minutes(30)).await;
    w.expect(
        "silence reminder",
        &[("chat", ONCALL, "update"), ("sms", BOB, "update")],
    );

    // 5. Diagnosis: a third party's fault; bob is reminded to open a ticket.
    w.advance(Duration::minutes(4)).await;
    let (status, v) = w
        .call(
            "PATCH",
            "/api/v1/incidents/1",
            BOB_TOKEN,
            json!({"layer": "third_party", "reproducible": true}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    w.expect("diagnosed", &[]);
    w.advance(Duration::minutes(30)).await;
    w.expect(
        "ticket and silence reminders",
        &[
            ("chat", ONCALL, "ticket"),
            ("chat", ONCALL, "update"),
            ("sms", BOB, "update"),
        ],
    );
    let (status, _) = w
        .call(
            "PATCH",
            "/api/v1/incidents/1",
            BOB_TOKEN,
            json!({"provider_ticket": "PSP-4711", "serious": true, "serious_reason": "checkout down for an hour"}),
        )
        .await;
    assert_eq!(status, 200);

    // 6. Resolved with a note: Thursday 00:06 in Berlin, so the postmortem
    //    follows on Friday.
    let (status, _) = w
        .post(
            "/api/v1/incidents/1/resolve",
            BOB_TOKEN,
            json!({"note": "The payment provider fixed their API; our retry queue drained."}),
        )
        .await;
    assert_eq!(status, 200);
    w.expect(
        "resolved",
        &[(
            "chat",
            ACME,
            "Incident ACME-1 (Checkout fails with error 500) is resolved. A detailed postmortem follows on the next business day, Friday 2026-11-27.",
        )],
    );
    let (status, list) = w
        .call(
            "GET",
            "/api/v1/postmortems",
            BOB_TOKEN,
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let pm = list["postmortems"][0]["id"].as_i64().expect("a postmortem");
    assert_eq!(list["postmortems"][0]["author"], "bob");

    // 7. Not at once, the guide says: the author is invited the next
    //    business morning after the day it ended (Friday 09:00).
    w.advance_to(utc(2026, 11, 27, 7, 59)).await;
    w.expect("a day to let it settle", &[]);
    w.advance(Duration::minutes(1)).await;
    w.expect(
        "invitation",
        &[("chat", ONCALL, "@bob You are the author of postmortem")],
    );

    // 8. bob writes it, alice approves, the client summary is published.
    let sections = json!({
        "how_fixed": "The payment provider fixed their API.",
        "cause": "The provider's API answered 500 to every charge.",
        "measures": "Add a canary for checkout.",
        "client_summary": "Checkout failed on Wednesday night for about an hour because our payment provider's API was down. It works again. We are adding a check that warns us within minutes.",
    });
    let one = format!("/api/v1/postmortems/{pm}");
    let (status, v) = w.call("PUT", &one, BOB_TOKEN, sections).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = w
        .call(
            "POST",
            &format!("{one}/actions"),
            ADMIN_TOKEN,
            json!({"title": "Checkout canary", "assignee": "bob", "deadline": "2026-12-01"}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let action = v["action"]["id"].as_i64().expect("action id");
    w.expect(
        "action item assigned",
        &[(
            "chat",
            ONCALL,
            &format!("@bob Action item {action} from postmortem"),
        )],
    );
    let (status, v) = w
        .call(
            "POST",
            &format!("{one}/submit"),
            BOB_TOKEN,
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    w.expect(
        "submitted",
        &[("chat", ONCALL, "awaits your approval*\n@alice Postmortem")],
    );
    for verb in ["approve", "publish"] {
        let (status, v) = w
            .call(
                "POST",
                &format!("{one}/{verb}"),
                ADMIN_TOKEN,
                serde_json::Value::Null,
            )
            .await;
        assert_eq!(status, 200, "{verb}: {v}");
    }
    let published = w.expect("published", &[("chat", ACME, "Postmortem of ACME-1")]);
    let text = &published[0].text;
    assert!(
        text.ends_with("We are adding a check that warns us within minutes."),
        "{text}"
    );
    for internal in ["page queued", "person:", "outbox", "@bob", "+49"] {
        assert!(!text.contains(internal), "{internal:?} published: {text}");
    }

    // 9. The action item: reminded before and on its day, then late; the
    //    lead hears of it the next business morning.
    w.advance_to(utc(2026, 11, 30, 8, 0)).await;
    w.expect("a business day before", &[("chat", ONCALL, "is due Tue")]);
    w.advance_to(utc(2026, 12, 1, 8, 0)).await;
    w.expect("its day", &[("chat", ONCALL, "is due today")]);
    w.advance_to(utc(2026, 12, 2, 8, 0)).await;
    w.expect(
        "overdue",
        &[(
            "chat",
            ONCALL,
            &format!("action item {action} of bob is overdue*\n@alice "),
        )],
    );
    // Nothing in the other client's channel, ever.
    let globex = w.chat.posts().iter().filter(|p| p.path == GLOBEX).count();
    assert_eq!(globex, 0);
    w.stop().await;
}
