//! An incident's timeline as sentences a tired person reads ("Bob
//! acknowledged it by SMS: on it"), not JSON. Pure: the roster names people.

use serde_json::Value;

use crate::config::Roster;
use crate::incident::Event;

/// Who did it, as a person reads it: their name, the integration, tocsin.
pub fn actor(roster: &Roster, actor: &str) -> String {
    match actor.split_once(':') {
        Some(("person", id)) => crate::followup::channel::person_name(roster, id).to_string(),
        Some(("integration", id)) => format!("Integration {id}"),
        Some(("client", id)) => format!("Client {id}"),
        Some(("heartbeat", id)) => format!("Heartbeat {id}"),
        _ if actor == "system" => "tocsin".to_string(),
        _ => actor.to_string(),
    }
}

/// What the event's kind says, after its actor.
fn verb(kind: &str) -> &str {
    match kind {
        "opened" => "opened the incident",
        "reopened" => "reopened it",
        "raised" => "made it critical: an alert that pages joined",
        "acknowledged" => "acknowledged it",
        "resolved" => "resolved it",
        "downgraded" => "downgraded it to non-critical",
        "note" => "noted",
        "status update" => "updated the client",
        "assigned" => "assigned it",
        "diagnosis" => "recorded the diagnosis",
        "escalation requested" => "asked to escalate now",
        "escalated" => "escalated",
        "escalation exhausted" => "ran out of escalation steps",
        "back to triggered" => "handed it on to the next step, triggered again",
        "acknowledgement timed out" => "saw the acknowledgement time out, triggered again",
        "routed" => "routed it",
        "not routed" => "could not route it",
        "cannot page" => "could not page",
        "page queued" => "queued a page",
        "page sent" => "sent a page",
        "page cancelled" => "cancelled a page",
        "pages cancelled" => "cancelled the pages",
        "notice queued" => "queued a notice",
        "notification sent" => "sent a notice",
        "delivery failed" => "could not deliver",
        "delivery report" => "got a delivery report",
        "client post queued" => "posted to the client's channel",
        "client post withheld" => "kept it from the client",
        "alert attached" => "attached an alert",
        "alert attached (resolved)" => "attached a resolved alert",
        "alert resolved" => "saw an alert resolve",
        "alert fired again" => "saw an alert fire again",
        "reminders stopped" => "stopped the reminders",
        other => other,
    }
}

fn text_of(detail: &Value, key: &str) -> Option<String> {
    match &detail[key] {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One sentence for `e`: actor, verb, whom and how, then what was said.
pub fn sentence(roster: &Roster, e: &Event) -> String {
    let d = &e.detail;
    let mut s = format!("{} {}", actor(roster, &e.actor), verb(&e.kind));
    if let Some(p) = text_of(d, "person") {
        s.push_str(&format!(
            " to {}",
            crate::followup::channel::person_name(roster, &p)
        ));
    }
    if let Some(c) = text_of(d, "channel") {
        s.push_str(&format!(" by {c}"));
    }
    if let Some(how) = text_of(d, "how").filter(|v| v != "api") {
        s.push_str(&format!(" (via {how})"));
    }
    for key in [
        "layer",
        "reproducible",
        "serious_reason",
        "provider_ticket",
        "status",
    ] {
        if let Some(v) = text_of(d, key) {
            s.push_str(&format!(", {}: {v}", key.replace('_', " ")));
        }
    }
    for key in ["reason", "because", "error"] {
        if let Some(v) = text_of(d, key) {
            s.push_str(&format!(" ({v})"));
        }
    }
    if let Some(t) = ["text", "note", "summary"]
        .iter()
        .find_map(|k| text_of(d, k))
    {
        s.push_str(&format!(": {t}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roster() -> Roster {
        crate::escalation::fixture::roster()
    }

    #[test]
    fn sentences() {
        fn check(actor: &str, kind: &str, detail: Value, expected: &str) {
            let e = Event {
                id: 1,
                incident: 1,
                at: chrono::DateTime::from_timestamp(0, 0).expect("instant"),
                actor: actor.into(),
                kind: kind.into(),
                detail,
            };
            assert_eq!(sentence(&roster(), &e), expected, "{kind}");
        }
        check(
            "person:nobody",
            "back to triggered",
            json!({"how": "sms", "from": "acknowledged"}),
            "nobody handed it on to the next step, triggered again (via sms)",
        );
        check(
            "person:nobody",
            "acknowledged",
            json!({"note": "on it", "how": "sms"}),
            "nobody acknowledged it (via sms): on it",
        );
        check(
            "system",
            "page sent",
            json!({"person": "nobody", "channel": "sms", "outbox": 3}),
            "tocsin sent a page to nobody by sms",
        );
        check(
            "integration:prom",
            "opened",
            json!({}),
            "Integration prom opened the incident",
        );
        check(
            "person:x",
            "diagnosis",
            json!({"layer": "third_party", "reproducible": false}),
            "x recorded the diagnosis, layer: third_party, reproducible: no",
        );
        check(
            "system",
            "client post withheld",
            json!({"reason": "heartbeat incidents are internal"}),
            "tocsin kept it from the client (heartbeat incidents are internal)",
        );
        check(
            "system",
            "something new",
            json!(null),
            "tocsin something new",
        );
    }
}
