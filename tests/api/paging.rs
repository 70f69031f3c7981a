//! Paging end to end against local fakes (Twilio REST, a Slack webhook, an
//! SMTP server): no page is lost and none is duplicated. Every test ends by
//! comparing what the fakes delivered with exactly the pages it expects, so
//! a duplicate or a stray page fails it. Time moves by hand (`advance`);
//! `crash` runs the real binary and kills it with SIGKILL.

mod crash;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Duration;
use serde_json::{Value, json};
use tocsin::clock::Clock;
use tocsin::notify::email::fake_smtp::FakeSmtp;
use tocsin::notify::twilio_sig::expected_signature;

use crate::fakes::{FakeChat, FakeTwilio, Reply, Resource};
use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

const TWILIO_TOKEN: &str = "twilio-auth-token-0123456789";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const FROM: &str = "+15005550006";
const PUBLIC: &str = "https://tocsin.example";
const ALICE_PHONE: &str = "+4915110000001";
const BOB_PHONE: &str = "+4915110000002";
const DAVE_EMAIL: &str = "dave@example.com";

/// What differs between the tests' rosters.
struct Shape<'a> {
    bundle_window: &'a str,
    steps: &'a str,
    repeat: u32,
    /// alice's and bob's working hours (online while inside them).
    hours: &'a str,
}

const SHAPE: Shape<'static> = Shape {
    bundle_window: "1m",
    steps: STEPS,
    repeat: 1,
    hours: "mon-fri 09:00-18:00",
};

/// The roster: bob is the nearest at `t0`, then alice, then dave (offline
/// in New York); one policy.
fn roster(twilio: &str, smtp_port: u16, shape: &Shape<'_>) -> String {
    let Shape {
        bundle_window,
        steps,
        repeat,
        hours,
    } = shape;
    format!(
        r##"timezone: Europe/Berlin
server:
  listen: 127.0.0.1:0
  public_url: {PUBLIC}
  admins: [alice]
storage:
  sqlite: data/tocsin.db
limits:
  sms_bundle_window: {bundle_window}
providers:
  sms:
    type: twilio
    account_sid: {ACCOUNT}
    auth_token_file: twilio.token
    from: "{FROM}"
    base_url: {twilio}
  voice:
    type: twilio
    account_sid: {ACCOUNT}
    auth_token_file: twilio.token
    from: "{FROM}"
    base_url: {twilio}
  email:
    type: smtp
    host: 127.0.0.1
    port: {smtp_port}
    tls: none
    from: tocsin@example.com
  chat:
    type: slack
    url_file: slack.url
people:
  - id: alice
    phone: "{ALICE_PHONE}"
    chat: "@alice"
    working_hours: ["{hours}"]
    token_sha256: {alice}
  - id: bob
    phone: "{BOB_PHONE}"
    email: bob@example.com
    working_hours: ["{hours}"]
    token_sha256: {bob}
  - id: dave
    phone: "+12125550104"
    email: {DAVE_EMAIL}
    timezone: America/New_York
    working_hours: ["mon-fri 09:00-17:00"]
teams:
  - id: web
    lead: alice
    members: [alice, bob, dave]
clients:
  - id: acme
    channel: {{ type: log, name: "#acme" }}
projects:
  - id: shop
    client: acme
    team: web
    responders: [bob]
escalation_policies:
  - id: default
    repeat: {repeat}
    steps:
{steps}
integrations:
  - id: prom
    type: alertmanager
    token_sha256: {am}
    project: shop
"##,
        alice = sha(ADMIN_TOKEN),
        bob = sha(BOB_TOKEN),
        am = sha(AM_TOKEN),
    )
}

/// nearest by SMS (voice as fallback), next by voice, next by email, the
/// team lead in chat; five minutes each.
const STEPS: &str = r#"      - { notify: nearest, via: [sms, voice], wait: 5m }
      - { notify: next, via: [voice], wait: 5m }
      - { notify: next, via: [email], wait: 5m }
      - { notify: team_lead, via: [chat], wait: 5m }"#;

/// One page as a provider saw it: channel, recipient, incidents named.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Sent {
    channel: &'static str,
    to: String,
    incidents: Vec<i64>,
}

fn sms(to: &str, incidents: &[i64]) -> Sent {
    Sent {
        channel: "sms",
        to: to.into(),
        incidents: incidents.to_vec(),
    }
}

fn call(to: &str, incident: i64) -> Sent {
    Sent {
        channel: "voice",
        to: to.into(),
        incidents: vec![incident],
    }
}

fn email(to: &str, incident: i64) -> Sent {
    Sent {
        channel: "email",
        to: to.into(),
        incidents: vec![incident],
    }
}

fn chat(incident: i64) -> Sent {
    Sent {
        channel: "chat",
        to: "hooks/oncall".into(),
        incidents: vec![incident],
    }
}

/// The incident numbers a page names: `#42 [` headlines, or the call's
/// `incident 42 on project`.
fn named(text: &str) -> Vec<i64> {
    let re = regex::Regex::new(r"#(\d+) \[|incident (\d+) on project").expect("regex");
    let mut ids: Vec<i64> = re
        .captures_iter(text)
        .filter_map(|c| c.get(1).or(c.get(2)))
        .filter_map(|m| m.as_str().parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// What the fake Twilio delivered (2xx only), normalised.
fn twilio_sent(twilio: &FakeTwilio) -> Vec<Sent> {
    twilio
        .accepted()
        .iter()
        .map(|r| Sent {
            channel: match r.resource {
                Resource::Messages => "sms",
                Resource::Calls => "voice",
            },
            to: r.to().to_owned(),
            incidents: named(r.text()),
        })
        .collect()
}

struct Rig {
    d: Daemon,
    twilio: FakeTwilio,
    chat: FakeChat,
    smtp: FakeSmtp,
}

async fn rig() -> Rig {
    let twilio = FakeTwilio::start().await;
    let chat = FakeChat::start().await;
    let smtp = FakeSmtp::start().await.expect("fake smtp");
    let yaml = roster(&twilio.base_url(), smtp.addr().port(), &SHAPE);
    let slack = chat.url("hooks/oncall");
    let d = spawn_with_files(
        &yaml,
        &[("twilio.token", TWILIO_TOKEN), ("slack.url", &slack)],
    )
    .await;
    Rig {
        d,
        twilio,
        chat,
        smtp,
    }
}

/// An Alertmanager group of one firing alert; a fingerprint of its own.
fn alert_payload(name: &str) -> Value {
    let mut alert = am_alert(name, "db-1", "firing");
    alert["fingerprint"] = json!(&sha(name)[..16]);
    am_payload(name, vec![alert])
}

impl Rig {
    /// Opens an incident and sends what it queued; returns its number.
    async fn open(&self, name: &str) -> i64 {
        let r = self
            .d
            .post_json("/api/v1/alertmanager", AM_TOKEN, &alert_payload(name))
            .await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        let id = body["outcome"]["opened"][0].as_i64().expect("opened");
        self.d.settle().await;
        id
    }

    async fn show(&self, id: i64) -> Value {
        let r = self
            .d
            .http
            .get(self.d.url(&format!("/api/v1/incidents/{id}")))
            .bearer_auth(BOB_TOKEN)
            .send()
            .await
            .expect("show");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }

    async fn state(&self, id: i64) -> String {
        self.show(id).await["incident"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The timeline events of `kind`.
    async fn events(&self, id: i64, kind: &str) -> Vec<Value> {
        self.show(id).await["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"] == kind)
            .cloned()
            .collect()
    }

    async fn act(&self, id: i64, verb: &str, token: &str) -> u16 {
        let r = self
            .d
            .http
            .post(self.d.url(&format!("/api/v1/incidents/{id}/{verb}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("action");
        r.status().as_u16()
    }

    /// POSTs a form to a Twilio webhook, signed as Twilio signs it.
    async fn twilio_webhook(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, String) {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = expected_signature(TWILIO_TOKEN, &format!("{PUBLIC}{path}"), &params);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let r = self
            .d
            .http
            .post(self.d.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", sig)
            .body(body)
            .send()
            .await
            .expect("webhook");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// An SMS reply from `from`, with a fresh `MessageSid`.
    async fn reply(&self, from: &str, text: &str) -> String {
        static N: AtomicU64 = AtomicU64::new(1);
        let sid = format!("SM{:032}", N.fetch_add(1, Ordering::SeqCst));
        let pairs = [
            ("MessageSid", sid.as_str()),
            ("AccountSid", ACCOUNT),
            ("From", from),
            ("To", FROM),
            ("Body", text),
        ];
        let (status, body) = self.twilio_webhook("/twilio/sms", &pairs).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Everything every fake delivered, normalised.
    fn delivered(&self) -> Vec<Sent> {
        let mut out = twilio_sent(&self.twilio);
        out.extend(self.smtp.received().iter().map(|m| Sent {
            channel: "email",
            to: m.to.join(","),
            incidents: named(&m.header("Subject").unwrap_or_default()),
        }));
        out.extend(self.chat.posts().iter().map(|p| Sent {
            channel: "chat",
            to: p.path.clone(),
            incidents: named(p.text()),
        }));
        out
    }

    /// Teardown: the fakes got exactly `expected` (in any order), each
    /// Twilio request carried the account's credentials, and `attempts`
    /// Twilio requests were made in all (failed ones included).
    async fn finish(self, expected: &[Sent], attempts: usize) {
        let mut got = self.delivered();
        got.sort();
        let mut want = expected.to_vec();
        want.sort();
        assert_eq!(got, want, "delivered pages");
        let requests = self.twilio.requests();
        assert_eq!(requests.len(), attempts, "Twilio requests: {requests:#?}");
        for r in &requests {
            assert_eq!(r.account, ACCOUNT);
            assert_eq!(r.user.as_deref(), Some(ACCOUNT));
            assert_eq!(r.password.as_deref(), Some(TWILIO_TOKEN));
            assert_eq!(r.field("From"), Some(FROM));
            assert_eq!(
                r.field("StatusCallback"),
                Some("https://tocsin.example/twilio/status")
            );
        }
        self.d.stop().await;
    }
}

/// Moves through `total` in steps of `each`, settling after each.
async fn pass(d: &Daemon, total: Duration, each: Duration) {
    let mut gone = Duration::zero();
    while gone < total {
        d.advance(each).await;
        gone += each;
    }
}

#[tokio::test]
async fn sms_page_then_sms_ack_stops_all_paging() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    let sent = rig.twilio.accepted();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let text = sent[0].text();
    assert_eq!(sent[0].to(), BOB_PHONE);
    for part in [
        format!("#{id} "),
        "shop".into(),
        "[critical]".into(),
        "DiskFull on db-1".into(),
        format!("{PUBLIC}/a/"),
        format!("ack {id}"),
        format!("res {id}"),
        format!("esc {id}"),
    ] {
        assert!(text.contains(&part), "{part:?} missing from {text:?}");
    }
    let answer = rig.reply(BOB_PHONE, &format!("ack {id}")).await;
    assert!(
        answer.contains(&format!("Incident {id} acknowledged")),
        "{answer}"
    );
    assert_eq!(rig.state(id).await, "acknowledged");
    // Every later deadline of both rounds passes: nothing more goes out.
    pass(&rig.d, Duration::minutes(50), Duration::minutes(1)).await;
    assert_eq!(rig.events(id, "escalated").await.len(), 0);
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}

#[tokio::test]
async fn unacknowledged_escalates_at_the_deadline_and_a_keypress_acks() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    rig.d
        .advance(Duration::minutes(5) - Duration::seconds(1))
        .await;
    assert_eq!(rig.twilio.requests().len(), 1, "one second early: nothing");
    assert_eq!(rig.d.advance(Duration::seconds(1)).await, 1);
    let calls: Vec<_> = rig
        .twilio
        .accepted()
        .into_iter()
        .filter(|r| r.resource == Resource::Calls)
        .collect();
    assert_eq!(calls.len(), 1, "at the deadline: the call");
    assert_eq!(calls[0].to(), ALICE_PHONE);
    assert!(
        calls[0]
            .text()
            .contains(&format!("/twilio/voice?incident={id}&amp;person=alice")),
        "{}",
        calls[0].text()
    );
    let path = format!("/twilio/voice?incident={id}&person=alice");
    let (status, twiml) = rig
        .twilio_webhook(&path, &[("CallSid", "CA1"), ("Digits", "1")])
        .await;
    assert_eq!(status, 200);
    assert!(twiml.contains("acknowledged"), "{twiml}");
    let s = rig.show(id).await;
    assert_eq!(s["incident"]["state"], "acknowledged");
    assert_eq!(s["incident"]["assignee"], "alice");
    pass(&rig.d, Duration::minutes(45), Duration::minutes(5)).await;
    rig.finish(&[sms(BOB_PHONE, &[id]), call(ALICE_PHONE, id)], 2)
        .await;
}

#[tokio::test]
async fn every_step_and_a_repeat_then_exhaustion() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    let round = [
        sms(BOB_PHONE, &[id]),
        call(ALICE_PHONE, id),
        email(DAVE_EMAIL, id),
        chat(id),
    ];
    for (n, page) in round.iter().chain(round.iter()).enumerate() {
        if n > 0 {
            assert_eq!(rig.d.advance(Duration::minutes(5)).await, 1, "step {n}");
        }
        let got = rig.delivered();
        assert_eq!(got.len(), n + 1, "after step {n}: {got:#?}");
        assert!(got.contains(page), "step {n}: {page:?} not in {got:#?}");
    }
    assert_eq!(rig.events(id, "escalation exhausted").await.len(), 0);
    assert_eq!(rig.d.advance(Duration::minutes(5)).await, 1);
    let exhausted = rig.events(id, "escalation exhausted").await;
    assert_eq!(exhausted.len(), 1);
    assert_eq!(exhausted[0]["detail"]["rounds"], 2);
    pass(&rig.d, Duration::hours(2), Duration::minutes(5)).await;
    assert_eq!(rig.state(id).await, "triggered");
    let mut all = round.to_vec();
    all.extend(round.iter().cloned());
    rig.finish(&all, 4).await;
}

#[tokio::test]
async fn acknowledging_cancels_a_page_waiting_for_its_retry() {
    let rig = rig().await;
    rig.twilio.script(Resource::Messages, Reply::server_error());
    let id = rig.open("DiskFull").await;
    let failed = rig.events(id, "attempt failed").await;
    assert_eq!(failed.len(), 1, "the page waits for its retry");
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(20), Duration::seconds(30)).await;
    let s = rig.show(id).await;
    let kinds: Vec<&str> = s["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"pages cancelled") || kinds.contains(&"page cancelled"),
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"page sent"), "{kinds:?}");
    rig.finish(&[], 1).await;
}

/// The retry time the last `attempt failed` event announced.
async fn retry_at(rig: &Rig, id: i64) -> chrono::DateTime<chrono::Utc> {
    let failed = rig.events(id, "attempt failed").await;
    failed.last().expect("a failed attempt")["detail"]["retry_at"]
        .as_str()
        .expect("retry_at")
        .parse()
        .expect("a time")
}

/// Advances to one second before the announced retry (nothing new is sent),
/// then to the retry itself; returns the Twilio request count before it.
async fn through_retry(rig: &Rig, id: i64) -> usize {
    let due = retry_at(rig, id).await;
    let before = rig.twilio.requests().len();
    let now = rig.d.clock.now();
    rig.d.advance(due - now - Duration::seconds(1)).await;
    assert_eq!(rig.twilio.requests().len(), before, "sent before {due}");
    rig.d.advance(Duration::seconds(1)).await;
    before
}

#[tokio::test]
async fn provider_errors_are_retried_with_backoff_then_sent_once() {
    let rig = rig().await;
    rig.twilio.script(Resource::Messages, Reply::server_error());
    rig.twilio.script(Resource::Messages, Reply::server_error());
    let id = rig.open("DiskFull").await;
    let first = retry_at(&rig, id).await - t0();
    assert!(
        (Duration::seconds(4)..=Duration::seconds(6)).contains(&first),
        "first backoff {first}"
    );
    through_retry(&rig, id).await;
    let second = retry_at(&rig, id).await - rig.d.clock.now();
    assert!(
        (Duration::seconds(8)..=Duration::seconds(12)).contains(&second),
        "second backoff {second}"
    );
    through_retry(&rig, id).await;
    assert_eq!(rig.events(id, "attempt failed").await.len(), 2);
    let sent = rig.events(id, "page sent").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["detail"]["attempt"], 3);
    // Quiet until the next step (acknowledged so it never comes).
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(10), Duration::minutes(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[id])], 3).await;
}

#[tokio::test]
async fn retry_after_and_a_dropped_connection_are_honoured() {
    let rig = rig().await;
    rig.twilio.script(Resource::Messages, Reply::too_many(40));
    rig.twilio.script(Resource::Messages, Reply::Drop);
    let id = rig.open("DiskFull").await;
    assert_eq!(retry_at(&rig, id).await - t0(), Duration::seconds(40));
    through_retry(&rig, id).await;
    let failed = rig.events(id, "attempt failed").await;
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert_eq!(failed[1]["detail"]["ambiguous"], true);
    through_retry(&rig, id).await;
    assert_eq!(rig.events(id, "page sent").await.len(), 1);
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(10), Duration::minutes(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[id])], 3).await;
}

#[tokio::test]
async fn a_permanent_failure_falls_back_to_voice() {
    let rig = rig().await;
    rig.twilio
        .script(Resource::Messages, Reply::error(400, 21211));
    let id = rig.open("DiskFull").await;
    let failed = rig.events(id, "delivery failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["detail"]["code"], 21211);
    let fell = rig.events(id, "falling back").await;
    assert_eq!(fell.len(), 1);
    assert_eq!(
        (
            fell[0]["detail"]["from"].clone(),
            fell[0]["detail"]["to"].clone()
        ),
        (json!("sms"), json!("voice"))
    );
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(10), Duration::minutes(1)).await;
    rig.finish(&[call(BOB_PHONE, id)], 2).await;
}

#[tokio::test]
async fn an_opted_out_number_falls_back_to_voice() {
    let rig = rig().await;
    rig.twilio
        .script(Resource::Messages, Reply::error(400, 21610));
    let id = rig.open("DiskFull").await;
    assert_eq!(rig.events(id, "falling back").await.len(), 1);
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    rig.finish(&[call(BOB_PHONE, id)], 2).await;
}

#[tokio::test]
async fn pages_to_one_person_within_the_window_are_bundled() {
    let rig = rig().await;
    let a = rig.open("First").await;
    assert_eq!(rig.twilio.accepted().len(), 1, "the first SMS at once");
    rig.d.advance(Duration::seconds(10)).await;
    let b = rig.open("Second").await;
    rig.d.advance(Duration::seconds(10)).await;
    let c = rig.open("Third").await;
    rig.d.advance(Duration::seconds(39)).await;
    assert_eq!(rig.twilio.requests().len(), 1, "nothing inside the window");
    rig.d.advance(Duration::seconds(1)).await;
    let sent = rig.twilio.accepted();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[1].text().contains("2 incidents need you"), "{sent:#?}");
    for id in [a, b, c] {
        assert_eq!(rig.events(id, "page sent").await.len(), 1, "#{id}");
        assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    }
    pass(&rig.d, Duration::minutes(20), Duration::minutes(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[a]), sms(BOB_PHONE, &[b, c])], 2)
        .await;
}

#[tokio::test]
async fn a_page_survives_a_restart_between_queueing_and_sending() {
    let mut rig = rig().await;
    rig.twilio.script(Resource::Messages, Reply::server_error());
    let id = rig.open("DiskFull").await;
    rig.d.restart().await;
    let due = retry_at(&rig, id).await;
    let now = rig.d.clock.now();
    rig.d.advance(due - now).await;
    assert_eq!(rig.events(id, "page sent").await.len(), 1);
    // The escalation deadline survived too.
    rig.d.advance(Duration::minutes(5)).await;
    assert_eq!(rig.act(id, "acknowledge", BOB_TOKEN).await, 200);
    pass(&rig.d, Duration::minutes(10), Duration::minutes(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[id]), call(ALICE_PHONE, id)], 3)
        .await;
}
