//! An override made over the API decides who is paged: the person it puts
//! on call is the nearest responder while it runs.

use serde_json::json;

use super::rig::*;
use crate::helpers::*;

/// Alice holds the "Primary" rotation this week (from Monday 23 November);
/// the shop project follows it.
fn with_schedule(yaml: String) -> String {
    yaml.replace(
        "    responders: [bob]\n",
        "    responders: [bob]\n    schedule: primary\n",
    ) + "schedules:\n  - id: primary\n    name: Primary\n    team: web\n    members: [alice, dave]\n    handoff: \"0 9 * * MON\"\n    start: \"2026-11-09 09:00\"\n"
}

#[tokio::test]
async fn the_override_person_is_paged_while_it_runs() {
    let rig = rig_edited(&SHAPE, with_schedule).await;
    // Bob takes the next two hours of alice's shift.
    let r = rig
        .d
        .post_json(
            "/api/v1/schedules/primary/overrides",
            BOB_TOKEN,
            &json!({"person": "bob", "from": "2026-11-25 10:00", "to": "2026-11-25 12:00"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    rig.d.settle().await;
    let id = rig.open("DiskFull").await;
    let routed = rig.events(id, "routed").await;
    assert_eq!(routed[0]["detail"]["picked"], "bob", "{routed:?}");
    // Both were told (bob by email, alice in chat), then bob is paged.
    let notice = |channel, to: &str| Sent {
        channel,
        to: to.into(),
        incidents: vec![],
    };
    let expected = [
        notice("email", "bob@example.com"),
        notice("chat", "hooks/oncall"),
        sms(BOB_PHONE, &[id]),
    ];
    rig.finish(&expected, 1).await;
}
