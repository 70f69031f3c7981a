//! An incident from PagerDuty's Events API, acknowledged there: bob, who
//! was paged, hears it was acknowledged in PagerDuty (nobody here "took"
//! it), once, and nothing pages him again.

use chrono::Duration;
use serde_json::json;

use crate::helpers::{PD_TOKEN, sha};
use crate::world::*;

#[tokio::test]
async fn acknowledged_in_pagerduty_the_paged_person_hears_where() {
    let extra = format!(
        "  - id: pagerduty\n    type: events_v2\n    token_sha256: {}\n    project: shop\n",
        sha(PD_TOKEN)
    );
    let mut w = world_with(&extra).await;
    let event = |action: &str| {
        json!({
            "routing_key": PD_TOKEN,
            "event_action": action,
            "dedup_key": "api-latency",
            "payload": {"summary": "API latency high", "source": "api-1", "severity": "critical"},
        })
    };
    let (status, v) = w.post("/v2/enqueue", "", event("trigger")).await;
    assert_eq!(status, 202, "{v}");
    w.expect(
        "the trigger pages bob",
        &[
            ("chat", ONCALL, "@bob you are paged"),
            ("sms", BOB, "API latency high"),
        ],
    );
    let (status, v) = w.post("/v2/enqueue", "", event("acknowledge")).await;
    assert_eq!(status, 202, "{v}");
    // An SMS notice waits out bob's SMS window (one minute).
    w.advance(Duration::minutes(1)).await;
    let got = w.take();
    let told: Vec<_> = got
        .iter()
        .filter(|m| m.to == BOB || m.to == ONCALL)
        .collect();
    assert_eq!(told.len(), 1, "one notice to bob: {got:#?}");
    assert!(
        told[0]
            .text
            .contains("was acknowledged in pagerduty. Nothing to do here."),
        "{got:#?}"
    );
    assert!(!told[0].text.contains(" took "), "{got:#?}");
    w.advance(Duration::minutes(30)).await;
    assert!(
        w.take().iter().all(|m| m.to != BOB),
        "no page after the acknowledge"
    );
    w.stop().await;
}
