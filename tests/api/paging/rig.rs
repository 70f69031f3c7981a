//! The paging tests' harness: a roster pointing at the fakes, the daemon
//! with its fakes (`Rig`), and the pages the fakes delivered (`Sent`),
//! normalised so a test can compare them with exactly what it expects.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Duration;
use serde_json::{Value, json};
use tocsin::notify::email::fake_smtp::FakeSmtp;

use crate::fakes::{FakeChat, FakeTwilio, Resource};
use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

pub(super) const TWILIO_TOKEN: &str = "twilio-auth-token-0123456789";
pub(super) const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub(super) const FROM: &str = "+15005550006";
pub(super) const PUBLIC: &str = "https://tocsin.example";
pub(super) const ALICE_PHONE: &str = "+4915110000001";
pub(super) const BOB_PHONE: &str = "+4915110000002";
pub(super) const DAVE_EMAIL: &str = "dave@example.com";

/// What differs between the tests' rosters.
pub(super) struct Shape<'a> {
    pub(super) bundle_window: &'a str,
    pub(super) steps: &'a str,
    pub(super) repeat: u32,
    pub(super) sms_per_hour: u32,
    /// alice's and bob's working hours (online while inside them).
    pub(super) hours: &'a str,
    /// bob's `notify` rules (YAML flow list), empty for none.
    pub(super) bob_notify: &'a str,
}

pub(super) const SHAPE: Shape<'static> = Shape {
    bundle_window: "1m",
    steps: STEPS,
    repeat: 1,
    sms_per_hour: 20,
    hours: "mon-fri 09:00-18:00",
    bob_notify: "",
};

/// The roster: bob is the nearest at `t0`, then alice, then dave (offline
/// in New York); one policy.
pub(super) fn roster(twilio: &str, smtp_port: u16, shape: &Shape<'_>) -> String {
    let Shape {
        bundle_window,
        steps,
        repeat,
        sms_per_hour,
        hours,
        bob_notify,
    } = shape;
    let bob_notify = if bob_notify.is_empty() {
        String::new()
    } else {
        format!("\n    notify: {bob_notify}")
    };
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
  sms_per_hour: {sms_per_hour}
  # First-response reminders are tested elsewhere; keep them out of the way
  # so every message the fakes see here is a page.
  diagnosis_reminder: 1w
  serious_after: 1w
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
    token_sha256: {bob}{bob_notify}
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
    token_sha256: {client}
projects:
  - id: shop
    client: acme
    team: web
    responders: [bob]
    update_every: 1w
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
  - id: pd
    type: events_v2
    token_sha256: {pd}
    project: shop
"##,
        alice = sha(ADMIN_TOKEN),
        bob = sha(BOB_TOKEN),
        am = sha(AM_TOKEN),
        client = sha(CLIENT_TOKEN),
        pd = sha(PD_TOKEN),
    )
}

/// nearest by SMS (voice, the person's next channel, as fallback), next by
/// voice, next by email, the team lead in chat; five minutes each.
pub(super) const STEPS: &str = r#"      - { notify: nearest, via: [sms], wait: 5m }
      - { notify: next, via: [voice], wait: 5m }
      - { notify: next, via: [email], wait: 5m }
      - { notify: team_lead, via: [chat], wait: 5m }"#;

/// One page as a provider saw it: channel, recipient, incidents named.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Sent {
    pub(super) channel: &'static str,
    pub(super) to: String,
    pub(super) incidents: Vec<i64>,
}

pub(super) fn sms(to: &str, incidents: &[i64]) -> Sent {
    Sent {
        channel: "sms",
        to: to.into(),
        incidents: incidents.to_vec(),
    }
}

pub(super) fn call(to: &str, incident: i64) -> Sent {
    Sent {
        channel: "voice",
        to: to.into(),
        incidents: vec![incident],
    }
}

pub(super) fn email(to: &str, incident: i64) -> Sent {
    Sent {
        channel: "email",
        to: to.into(),
        incidents: vec![incident],
    }
}

pub(super) fn chat(incident: i64) -> Sent {
    Sent {
        channel: "chat",
        to: "hooks/oncall".into(),
        incidents: vec![incident],
    }
}

/// The incident numbers a page names: `#42 [` headlines, or the call's
/// `incident 42 on project`.
pub(super) fn named(text: &str) -> Vec<i64> {
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
pub(super) fn twilio_sent(twilio: &FakeTwilio) -> Vec<Sent> {
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

pub(super) struct Rig {
    pub(super) d: Daemon,
    pub(super) twilio: FakeTwilio,
    pub(super) chat: FakeChat,
    pub(super) smtp: FakeSmtp,
}

pub(super) async fn rig() -> Rig {
    rig_with(&SHAPE).await
}

pub(super) async fn rig_with(shape: &Shape<'_>) -> Rig {
    rig_edited(shape, |yaml| yaml).await
}

/// A rig whose roster `edit` changes first (a schedule, say).
pub(super) async fn rig_edited(shape: &Shape<'_>, edit: impl FnOnce(String) -> String) -> Rig {
    let twilio = FakeTwilio::start().await;
    let chat = FakeChat::start().await;
    let smtp = FakeSmtp::start().await.expect("fake smtp");
    let yaml = edit(roster(&twilio.base_url(), smtp.addr().port(), shape));
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
pub(super) fn alert_payload(name: &str) -> Value {
    let mut alert = am_alert(name, "db-1", "firing");
    alert["fingerprint"] = json!(&sha(name)[..16]);
    am_payload(name, vec![alert])
}

impl Rig {
    /// Opens an incident and sends what it queued; returns its number.
    pub(super) async fn open(&self, name: &str) -> i64 {
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

    pub(super) async fn show(&self, id: i64) -> Value {
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

    pub(super) async fn state(&self, id: i64) -> String {
        self.show(id).await["incident"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The timeline events of `kind`.
    pub(super) async fn events(&self, id: i64, kind: &str) -> Vec<Value> {
        self.show(id).await["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"] == kind)
            .cloned()
            .collect()
    }

    pub(super) async fn act(&self, id: i64, verb: &str, token: &str) -> u16 {
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
    /// Twilio's status callback: SMS `sid` undelivered (unreachable, 30003).
    pub(super) async fn sms_undelivered(&self, sid: &str) -> u16 {
        let pairs = [
            ("MessageSid", sid),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
        ];
        self.twilio_webhook("/twilio/status", &pairs).await.0
    }

    pub(super) async fn twilio_webhook(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, String) {
        self.d
            .post_twilio_signed(TWILIO_TOKEN, PUBLIC, path, pairs)
            .await
    }

    /// An SMS reply from `from`, with a fresh `MessageSid`.
    pub(super) async fn reply(&self, from: &str, text: &str) -> String {
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
    pub(super) fn delivered(&self) -> Vec<Sent> {
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
    pub(super) async fn finish(self, expected: &[Sent], attempts: usize) {
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
pub(super) async fn pass(d: &Daemon, total: Duration, each: Duration) {
    let mut gone = Duration::zero();
    while gone < total {
        d.advance(each).await;
        gone += each;
    }
}
