//! A heartbeat missed and recovered: the team is paged, and no client
//! channel hears a word of it, not even when someone acknowledges.

use chrono::Duration;
use serde_json::Value;

use crate::helpers::*;
use crate::world::*;

#[tokio::test]
async fn a_missed_heartbeat_pages_the_team_and_no_client_hears_of_it() {
    let mut w = world_with(HEARTBEAT).await;
    ping(&w).await;
    // Interval 5m plus 1m of grace pass without a ping.
    w.advance(Duration::minutes(6)).await;
    w.expect(
        "missed",
        &[
            ("chat", ONCALL, "Prometheus watchdog silent"),
            ("sms", BOB, "Prometheus watchdog silent"),
        ],
    );
    let (status, _) = w
        .post(
            "/api/v1/incidents/1/acknowledge",
            BOB_TOKEN,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200);
    w.expect("acknowledged", &[]);
    ping(&w).await;
    assert_eq!(w.incident("1").await["incident"]["state"], "resolved");
    // bob, who took it, hears it recovered; the client hears nothing.
    w.expect(
        "recovered",
        &[("chat", ONCALL, "was resolved by its heartbeat (watchdog)")],
    );
    w.advance(Duration::hours(2)).await;
    let rest = w.take();
    assert!(
        rest.iter().all(|m| m.to != ACME && m.to != GLOBEX),
        "a client channel heard of it: {rest:#?}"
    );
    w.stop().await;
}

async fn ping(w: &World) {
    let r =
        w.d.post_json("/api/v1/heartbeat/watchdog", HEARTBEAT_TOKEN, &Value::Null)
            .await;
    assert_eq!(r.status(), 200);
    w.d.settle().await;
}
