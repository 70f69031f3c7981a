//! One Alertmanager group, a warning and a critical alert (the usual pair
//! of one alertname): the warning alone opens a record that pages nobody;
//! the critical alert joining it makes it critical and pages the nearest
//! responder at once; listed after the warning in a new group, the critical
//! alert still opens a paging incident named after it.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::AM_TOKEN;
use crate::world::*;

/// Warnings do not page in this world: `severity="warning"` routes to a
/// non-critical record.
const WARNINGS_DO_NOT_PAGE: &str =
    "      - matchers: ['severity=\"warning\"']\n        critical: false\n";

/// A group `name` on shop holding `alerts` as (fingerprint, severity, summary).
fn group(name: &str, alerts: &[(&str, &str, &str)]) -> Value {
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(fp, severity, summary)| {
            json!({
                "status": "firing",
                "labels": {"alertname": name, "service": "shop", "severity": severity, "fp": fp},
                "annotations": {"summary": summary},
                "startsAt": "2026-11-25T08:55:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fp,
            })
        })
        .collect();
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "status": "firing",
        "receiver": "tocsin",
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "service": "shop"},
        "externalURL": "http://alertmanager.example",
        "truncatedAlerts": 0,
        "alerts": alerts,
    })
}

#[tokio::test]
async fn a_critical_alert_joining_a_warnings_record_pages_at_once() {
    let mut w = world_with(WARNINGS_DO_NOT_PAGE).await;
    let warning = ("a1a1a1a1a1a1a1a1", "warning", "Disk 80% on node-1");
    let (status, v) = w
        .post(
            "/api/v1/alertmanager",
            AM_TOKEN,
            group("NodeDisk", &[warning]),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let id = v["outcome"]["opened"][0].as_i64().expect("opened");
    assert_eq!(
        w.incident(&id.to_string()).await["incident"]["state"],
        "downgraded"
    );
    w.expect("a warning pages nobody", &[]);

    let critical = ("b2b2b2b2b2b2b2b2", "critical", "Disk 98% on node-1");
    let (status, v) = w
        .post(
            "/api/v1/alertmanager",
            AM_TOKEN,
            group("NodeDisk", &[warning, critical]),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let shown = w.incident(&id.to_string()).await;
    assert_eq!(
        (&shown["incident"]["state"], &shown["incident"]["critical"]),
        (&json!("triggered"), &json!(true))
    );
    assert_eq!(w.events(id, "raised").await.len(), 1);
    let tag = format!("#{id} [critical] shop:");
    w.expect(
        "the critical alert joins",
        &[("chat", ONCALL, "@bob you are paged"), ("sms", BOB, &tag)],
    );
    // It escalates like any critical incident: step 2 calls alice at 5m.
    w.advance(Duration::minutes(5)).await;
    w.expect(
        "step 2",
        &[("voice", ALICE, &format!("incident {id} on project"))],
    );
    w.stop().await;
}

#[tokio::test]
async fn a_critical_alert_listed_after_a_warning_opens_a_paging_incident() {
    let mut w = world_with(WARNINGS_DO_NOT_PAGE).await;
    let (status, v) = w
        .post(
            "/api/v1/alertmanager",
            AM_TOKEN,
            group(
                "NodeDisk",
                &[
                    ("a1a1a1a1a1a1a1a1", "warning", "Disk 80% on node-1"),
                    ("b2b2b2b2b2b2b2b2", "critical", "Disk 98% on node-2"),
                ],
            ),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let id = v["outcome"]["opened"][0].as_i64().expect("opened");
    let tag = format!("#{id} [critical] shop: Disk 98% on node-2 (+1 more)");
    w.expect(
        "named and paged after the critical alert",
        &[("chat", ONCALL, "@bob you are paged"), ("sms", BOB, &tag)],
    );
    w.stop().await;
}

/// Under a maintenance window the critical alert joining a warning's record
/// is held like any new incident, and pages when the window ends.
#[tokio::test]
async fn a_critical_alert_joining_during_maintenance_waits_for_its_end() {
    let mut w = world_with(WARNINGS_DO_NOT_PAGE).await;
    let (status, v) = w
        .post(
            "/api/v1/maintenance",
            crate::helpers::ADMIN_TOKEN,
            json!({"project": "shop", "for": "1h", "reason": "disk swap"}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let warning = ("a1a1a1a1a1a1a1a1", "warning", "Disk 80% on node-1");
    let (_, v) = w
        .post(
            "/api/v1/alertmanager",
            AM_TOKEN,
            group("NodeDisk", &[warning]),
        )
        .await;
    let id = v["outcome"]["opened"][0].as_i64().expect("opened");
    let critical = ("b2b2b2b2b2b2b2b2", "critical", "Disk 98% on node-1");
    let (status, _) = w
        .post(
            "/api/v1/alertmanager",
            AM_TOKEN,
            group("NodeDisk", &[warning, critical]),
        )
        .await;
    assert_eq!(status, 200);
    let shown = w.incident(&id.to_string()).await;
    assert_eq!(shown["incident"]["state"], "suppressed", "{shown}");
    w.expect("held by the window", &[]);
    w.advance(Duration::hours(1)).await;
    w.expect(
        "the window ends, the alert still fires",
        &[
            ("chat", ONCALL, "@bob you are paged"),
            ("sms", BOB, &format!("#{id} [critical] shop:")),
        ],
    );
    w.stop().await;
}
