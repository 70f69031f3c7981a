//! Request bodies: Alertmanager webhooks (one alert each), PagerDuty Events
//! v2 triggers, and alerts for Alertmanager's own `POST /api/v2/alerts`.

use serde_json::json;

/// An Alertmanager (version 4) webhook carrying one firing alert.
pub fn am_webhook(
    group_key: &str,
    alertname: &str,
    instance: &str,
    fingerprint: u64,
    summary: &str,
    project: Option<&str>,
) -> String {
    let mut labels = json!({"alertname": alertname, "instance": instance, "severity": "critical"});
    if let Some(p) = project {
        labels["project"] = json!(p);
    }
    json!({
        "receiver": "tocsin",
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": labels,
            "annotations": {"summary": summary},
            "startsAt": "2026-11-25T08:59:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": format!("{fingerprint:016x}"),
        }],
        "groupLabels": {"alertname": alertname},
        "commonLabels": labels,
        "commonAnnotations": {"summary": summary},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
    })
    .to_string()
}

/// A PagerDuty Events v2 trigger.
pub fn pd_trigger(routing_key: &str, dedup_key: &str) -> String {
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": format!("bench event {dedup_key}"), "source": "bench", "severity": "critical"},
    })
    .to_string()
}

/// One alert for Alertmanager's `POST /api/v2/alerts`.
pub fn am_alert(mode: &str, alertname: &str, instance: &str) -> String {
    json!([{
        "labels": {"alertname": alertname, "instance": instance, "severity": "critical", "mode": mode},
        "annotations": {"summary": format!("{alertname} on {instance}")},
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
    }])
    .to_string()
}
