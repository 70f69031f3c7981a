//! Reach: SMS and voice vendors as failover lists (Twilio first, Telnyx
//! second), Telnyx's signed webhooks (replies, reports, a keypress on a
//! call), and push through ntfy with its Acknowledge and Resolve actions.
//! Every test ends by comparing what every fake received with exactly what
//! it expects.

use base64::Engine as _;
use serde_json::{Value, json};

use super::rig::*;
use crate::fakes::{Reply, Resource};
use crate::reach_fakes::{Endpoint, FakeNtfy, FakeTelnyx};

const TELNYX_FROM: &str = "+15005550007";
const CONNECTION: &str = "1494404757140276705";
/// The rig's one secret file doubles as the Telnyx API key and ntfy token.
const SECRET: &str = TWILIO_TOKEN;

/// The rig's roster with `providers.sms` and `providers.voice` as lists
/// (its Twilio first, then Telnyx), ntfy push, and bob's topic.
fn reach_roster(yaml: String, telnyx: &str, ntfy: &str) -> String {
    let listed = |block: &str| {
        let mut out = String::new();
        for (i, line) in block.lines().enumerate() {
            let dash = if i == 0 { "- " } else { "  " };
            out.push_str(&format!("    {dash}{}\n", line.trim()));
        }
        out.push_str(&format!(
            "    - type: telnyx\n      api_key_file: twilio.token\n      public_key: {}\n      from: \"{TELNYX_FROM}\"\n      connection_id: \"{CONNECTION}\"\n      base_url: {telnyx}\n",
            FakeTelnyx::public_key()
        ));
        out
    };
    let (head, rest) = yaml.split_once("  sms:\n").expect("sms");
    let (sms, rest) = rest.split_once("  voice:\n").expect("voice");
    let (voice, rest) = rest.split_once("  email:\n").expect("email");
    let yaml = format!(
        "{head}  push: {{ type: ntfy, base_url: \"{ntfy}\", token_file: twilio.token }}\n  sms:\n{}  voice:\n{}  email:\n{rest}",
        listed(sms),
        listed(voice)
    );
    yaml.replace("  - id: bob\n", "  - id: bob\n    ntfy_topic: bob-pages\n")
}

struct Reach {
    rig: Rig,
    telnyx: FakeTelnyx,
    ntfy: FakeNtfy,
}

async fn reach(steps: &str) -> Reach {
    let telnyx = FakeTelnyx::start().await;
    let ntfy = FakeNtfy::start().await;
    let (t, n) = (telnyx.base_url(), ntfy.base_url());
    let shape = Shape { steps, ..SHAPE };
    let rig = rig_edited(&shape, |yaml| reach_roster(yaml, &t, &n)).await;
    Reach { rig, telnyx, ntfy }
}

impl Reach {
    fn hook(&self) -> String {
        self.rig.d.url("/telnyx/webhook")
    }

    fn now(&self) -> i64 {
        use tocsin::clock::Clock;
        self.rig.d.clock.now().timestamp()
    }

    /// A Telnyx event, signed now; its status.
    async fn event(&self, kind: &str, payload: Value) -> u16 {
        self.telnyx
            .send_event(&self.hook(), self.now(), kind, payload)
            .await
    }

    /// What Telnyx delivered (2xx messages and calls), normalised; a call
    /// names the incident its client_state carries.
    fn telnyx_sent(&self) -> Vec<Sent> {
        self.telnyx
            .requests()
            .iter()
            .filter(|r| r.accepted())
            .filter_map(|r| match r.endpoint {
                Endpoint::Messages => Some(Sent {
                    channel: "sms",
                    to: r.field("to").to_owned(),
                    incidents: named(r.field("text")),
                }),
                Endpoint::Calls => {
                    Some(call(r.field("to"), state_incident(r.field("client_state"))))
                }
                Endpoint::Command { .. } => None,
            })
            .collect()
    }

    /// Teardown: Telnyx and ntfy delivered exactly `telnyx` and `pushed`
    /// (topics, with the incidents named), every Telnyx request carried the
    /// API key and our number, and the rig's own fakes got `rest`.
    async fn finish(self, telnyx: &[Sent], pushed: &[(&str, i64)], rest: &[Sent], twilio: usize) {
        let mut got = self.telnyx_sent();
        got.sort();
        let mut want = telnyx.to_vec();
        want.sort();
        assert_eq!(got, want, "Telnyx deliveries");
        for r in self.telnyx.requests() {
            assert_eq!(r.bearer.as_deref(), Some(SECRET));
            if r.endpoint == Endpoint::Messages || r.endpoint == Endpoint::Calls {
                assert_eq!(r.field("from"), TELNYX_FROM);
            }
        }
        let pushes: Vec<(String, Vec<i64>)> = self
            .ntfy
            .messages()
            .iter()
            .map(|m| {
                (
                    m.topic.clone(),
                    named(m.header("title").unwrap_or_default()),
                )
            })
            .collect();
        let want: Vec<(String, Vec<i64>)> = pushed
            .iter()
            .map(|(t, id)| (t.to_string(), vec![*id]))
            .collect();
        assert_eq!(pushes, want, "ntfy messages");
        self.rig.finish(rest, twilio).await;
    }
}

fn state_incident(state: &str) -> i64 {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(state)
        .unwrap_or_default();
    let raw = String::from_utf8(raw).unwrap_or_default();
    raw.split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1)
}

const SMS_ONLY: &str = "      - { notify: nearest, via: [sms], wait: 1h }";
const VOICE_ONLY: &str = "      - { notify: nearest, via: [voice], wait: 1h }";
const PUSH_ONLY: &str = "      - { notify: nearest, via: [push], wait: 1h }";

#[tokio::test]
async fn twilio_down_past_its_retries_hands_the_page_to_telnyx() {
    let r = reach(SMS_ONLY).await;
    for _ in 0..8 {
        r.rig
            .twilio
            .script(Resource::Messages, Reply::server_error());
    }
    let id = r.rig.open("DiskFull").await;
    assert!(r.telnyx.requests().is_empty(), "Twilio is retried first");
    pass(
        &r.rig.d,
        chrono::Duration::minutes(20),
        chrono::Duration::seconds(30),
    )
    .await;
    let moved = r.rig.events(id, "next vendor").await;
    assert_eq!(moved.len(), 1, "{moved:#?}");
    assert_eq!(moved[0]["detail"]["from"], "twilio");
    let sent = r.rig.events(id, "page sent").await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(
        sent[0]["detail"]["provider"], "telnyx",
        "the timeline names who delivered"
    );
    // Telnyx's delivery report lands on the page.
    let message = r.telnyx.requests()[0].clone();
    assert_eq!(
        message.field("webhook_url"),
        "https://tocsin.example/telnyx/webhook"
    );
    let report = json!({"id": message.id, "to": [{"phone_number": BOB_PHONE, "status": "delivered"}], "errors": []});
    assert_eq!(r.event("message.finalized", report).await, 204);
    let reports = r.rig.events(id, "delivery report").await;
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(reports[0]["detail"]["status"], "delivered");
    r.finish(&[sms(BOB_PHONE, &[id])], &[], &[], 8).await;
}

#[tokio::test]
async fn a_refused_number_goes_to_telnyx_at_once_and_a_telnyx_reply_acknowledges() {
    let r = reach(SMS_ONLY).await;
    r.rig
        .twilio
        .script(Resource::Messages, Reply::error(400, 21211));
    let id = r.rig.open("DiskFull").await;
    assert_eq!(r.rig.events(id, "next vendor").await.len(), 1);
    // bob answers the Telnyx number; the answer comes back as a message.
    let inbound = json!({"id": "in-1", "direction": "inbound", "from": {"phone_number": BOB_PHONE}, "to": [{"phone_number": TELNYX_FROM}], "text": "ack"});
    assert_eq!(r.event("message.received", inbound.clone()).await, 204);
    assert_eq!(r.rig.state(id).await, "acknowledged");
    // A redelivery of the same message changes nothing and says nothing.
    assert_eq!(r.event("message.received", inbound).await, 204);
    let replies: Vec<String> = r
        .telnyx
        .requests()
        .iter()
        .skip(1)
        .map(|m| m.field("text").to_owned())
        .collect();
    assert_eq!(
        replies,
        [format!(
            "Incident {id} acknowledged. Reply res {id} when fixed."
        )]
    );
    assert!(r.telnyx.requests()[1].body.get("webhook_url").is_none());
    let reply = Sent {
        channel: "sms",
        to: BOB_PHONE.into(),
        incidents: vec![],
    };
    r.finish(&[sms(BOB_PHONE, &[id]), reply], &[], &[], 1).await;
}

/// A reply Telnyx refuses to send is not lost: it goes through the outbox
/// (here the first vendor, Twilio, takes it), so bob hears his `ack` took.
#[tokio::test]
async fn a_telnyx_reply_that_fails_is_sent_again_through_the_outbox() {
    let r = reach(SMS_ONLY).await;
    r.rig
        .twilio
        .script(Resource::Messages, Reply::error(400, 21211));
    let id = r.rig.open("DiskFull").await;
    r.telnyx
        .script(Endpoint::Messages, Reply::error(500, 20002));
    let inbound = json!({"id": "in-2", "direction": "inbound", "from": {"phone_number": BOB_PHONE}, "to": [{"phone_number": TELNYX_FROM}], "text": "ack"});
    assert_eq!(r.event("message.received", inbound).await, 204);
    assert_eq!(r.rig.state(id).await, "acknowledged");
    pass(
        &r.rig.d,
        chrono::Duration::minutes(2),
        chrono::Duration::seconds(10),
    )
    .await;
    let texts: Vec<String> = r
        .rig
        .twilio
        .accepted()
        .iter()
        .map(|m| m.field("Body").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        texts,
        [format!(
            "Incident {id} acknowledged. Reply res {id} when fixed."
        )]
    );
    let reply = Sent {
        channel: "sms",
        to: BOB_PHONE.into(),
        incidents: vec![],
    };
    r.finish(&[sms(BOB_PHONE, &[id])], &[], &[reply], 2).await;
}

#[tokio::test]
async fn a_telnyx_call_reads_the_incident_and_a_keypress_acknowledges_once() {
    let r = reach(VOICE_ONLY).await;
    r.rig
        .twilio
        .script(Resource::Calls, Reply::error(400, 21211));
    let id = r.rig.open("DiskFull").await;
    let dial = r.telnyx.requests()[0].clone();
    assert_eq!(dial.endpoint, Endpoint::Calls);
    assert_eq!(dial.field("connection_id"), CONNECTION);
    let call_id = dial.id.clone().expect("call id");
    let state = dial.field("client_state").to_owned();
    let on_call = |extra: Value| {
        let mut p = json!({"call_control_id": call_id, "client_state": state});
        if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(extra.clone());
        }
        p
    };
    assert_eq!(r.event("call.initiated", on_call(json!({}))).await, 204);
    assert_eq!(r.event("call.answered", on_call(json!({}))).await, 204);
    let commands = r.telnyx.commands();
    assert_eq!(commands.len(), 1, "{commands:#?}");
    assert_eq!(commands[0].0, "gather_using_speak");
    assert!(
        commands[0]
            .1
            .contains(&format!("incident {id} on project shop")),
        "{commands:?}"
    );
    assert!(commands[0].1.contains("Press 1 to acknowledge"));
    assert_eq!(r.telnyx.requests()[1].field("valid_digits"), "123");
    let digit = on_call(json!({"digits": "1", "status": "valid"}));
    assert_eq!(r.event("call.gather.ended", digit.clone()).await, 204);
    assert_eq!(r.rig.state(id).await, "acknowledged");
    // Telnyx redelivers: nothing acts or speaks twice.
    assert_eq!(r.event("call.gather.ended", digit).await, 204);
    assert_eq!(r.event("call.speak.ended", on_call(json!({}))).await, 204);
    let hangup = on_call(json!({"hangup_cause": "normal_clearing"}));
    assert_eq!(r.event("call.hangup", hangup).await, 204);
    let actions: Vec<(String, String)> = r.telnyx.commands();
    assert_eq!(
        actions,
        [
            ("gather_using_speak".to_string(), commands[0].1.clone()),
            (
                "speak".into(),
                format!("Incident {id} acknowledged. Goodbye.")
            ),
            ("hangup".into(), String::new()),
        ]
    );
    let acked = r.rig.events(id, "acknowledged").await;
    assert_eq!(acked.len(), 1, "{acked:#?}");
    let statuses: Vec<Value> = r
        .rig
        .events(id, "delivery report")
        .await
        .iter()
        .map(|e| e["detail"]["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [json!("initiated"), json!("in-progress"), json!("completed")]
    );
    r.finish(&[call(BOB_PHONE, id)], &[], &[], 1).await;
}

#[tokio::test]
async fn unsigned_stale_or_forged_telnyx_webhooks_change_nothing() {
    let r = reach(SMS_ONLY).await;
    r.rig
        .twilio
        .script(Resource::Messages, Reply::error(400, 21211));
    let id = r.rig.open("DiskFull").await;
    let inbound = json!({"id": "in-9", "from": {"phone_number": BOB_PHONE}, "text": "ack"});
    let stale = r.now() - 301;
    assert_eq!(
        r.telnyx
            .send_event(&r.hook(), stale, "message.received", inbound.clone())
            .await,
        403
    );
    let forged = base64::engine::general_purpose::STANDARD.encode([0u8; 64]);
    let body = json!({"data": {"event_type": "message.received", "payload": inbound}}).to_string();
    let at = r.now().to_string();
    assert_eq!(
        r.telnyx
            .post_event(&r.hook(), &at, &forged, body.clone())
            .await,
        403
    );
    assert_eq!(r.telnyx.post_event(&r.hook(), &at, "", body).await, 403);
    assert_eq!(r.rig.state(id).await, "triggered");
    r.finish(&[sms(BOB_PHONE, &[id])], &[], &[], 1).await;
}

#[tokio::test]
async fn a_push_page_carries_actions_that_acknowledge_and_resolve() {
    let r = reach(PUSH_ONLY).await;
    let id = r.rig.open("DiskFull").await;
    let pushed = r.ntfy.messages();
    assert_eq!(pushed.len(), 1, "{pushed:#?}");
    let m = &pushed[0];
    assert_eq!(m.topic, "bob-pages");
    assert_eq!(m.header("priority"), Some("urgent"));
    assert_eq!(
        m.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(
        m.body,
        format!("Incident {id} needs a responder: DiskFull on db-1")
    );
    let actions = m.header("actions").expect("actions");
    let links: Vec<&str> = actions
        .split(';')
        .map(|a| a.split(',').map(str::trim).collect::<Vec<_>>())
        .map(|f| {
            assert_eq!(
                (f[0], f[3], f[4]),
                ("http", "method=POST", "clear=true"),
                "{actions}"
            );
            f[2]
        })
        .collect();
    let labels: Vec<&str> = actions
        .split(';')
        .map(|a| a.split(',').nth(1).unwrap_or("").trim())
        .collect();
    assert_eq!(labels, ["Acknowledge", "Resolve"]);
    // Pressing a button POSTs the signed link, as the ntfy app does.
    let press = |link: &str| {
        let path = link.strip_prefix(PUBLIC).unwrap_or(link).to_owned();
        let (http, url) = (r.rig.d.http.clone(), r.rig.d.url(&path));
        async move {
            http.post(url)
                .send()
                .await
                .expect("press")
                .status()
                .as_u16()
        }
    };
    assert_eq!(press(links[0]).await, 200);
    assert_eq!(r.rig.state(id).await, "acknowledged");
    assert_eq!(press(links[1]).await, 200);
    assert_eq!(r.rig.state(id).await, "resolved");
    r.rig.d.settle().await;
    r.finish(&[], &[("bob-pages", id)], &[], 0).await;
}

#[tokio::test]
async fn a_page_stays_on_the_vendor_it_reached_across_a_restart() {
    let mut r = reach(SMS_ONLY).await;
    r.rig
        .twilio
        .script(Resource::Messages, Reply::error(400, 21211));
    r.telnyx.script(Endpoint::Messages, Reply::server_error());
    let id = r.rig.open("DiskFull").await;
    assert_eq!(r.rig.events(id, "attempt failed").await.len(), 1);
    r.rig.d.restart().await;
    r.rig.d.advance(chrono::Duration::minutes(1)).await;
    let sent = r.rig.events(id, "page sent").await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["detail"]["provider"], "telnyx");
    // Twilio was asked once; Telnyx twice (the 500, then the retry).
    assert_eq!(r.telnyx.requests().len(), 2);
    r.finish(&[sms(BOB_PHONE, &[id])], &[], &[], 1).await;
}
