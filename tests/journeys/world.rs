//! The journeys' world: a small agency (alice leads the web team, bob is
//! nearest to the shop, dave works from New York), two clients with their
//! own public channels, and every provider a local fake that records what
//! it gets. `World::expect` takes what every fake received since the last
//! call and compares it with exactly the messages a step should send, so a
//! missing, extra or misdirected message fails the journey where it happens.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Duration;
use serde_json::{Value, json};
use tocsin::notify::email::fake_smtp::FakeSmtp;

use crate::fakes::{FakeChat, FakeTwilio, Resource};
use crate::helpers::*;

pub const TWILIO_TOKEN: &str = "twilio-auth-token-0123456789";
pub const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub const FROM: &str = "+15005550006";
pub const PUBLIC: &str = "https://tocsin.example";
pub const ALICE: &str = "+4915110000001";
pub const BOB: &str = "+4915110000002";
pub const DAVE: &str = "+12125550104";
pub const GLOBEX_TOKEN: &str = "client-globex-0123456789";
pub const HEARTBEAT_TOKEN: &str = "heartbeat-0123456789abc";
pub const SLACK_BOT_TOKEN: &str = "xoxb-journey-0123456789";
pub const SLACK_SIGNING_SECRET: &str = "slack-signing-0123456789";

/// The on-call chat, and each client's public channel, on the fake chat.
pub const ONCALL: &str = "hooks/oncall";
pub const ACME: &str = "hooks/acme";
pub const GLOBEX: &str = "hooks/globex";

/// The monitoring's own heartbeat, for the journey about it (elsewhere it
/// would fire in the middle of the story).
pub const HEARTBEAT: &str = r#"heartbeats:
  - id: watchdog
    project: shop
    interval: 5m
    grace: 1m
    summary: Prometheus watchdog silent
    token_sha256: HB
"#;

fn roster(twilio: &str, smtp_port: u16, extra: &str) -> String {
    let extra = extra.replace("HB", &sha(HEARTBEAT_TOKEN));
    format!(
        r##"timezone: Europe/Berlin
server:
  listen: 127.0.0.1:0
  public_url: {PUBLIC}
  admins: [alice]
storage:
  sqlite: data/tocsin.db
calendar:
  workdays: [mon, tue, wed, thu, fri]
limits:
  sms_bundle_window: 1m
  diagnosis_reminder: 45m
  serious_after: 1w
providers:
  sms: {{ type: twilio, account_sid: {ACCOUNT}, auth_token_file: twilio.token, from: "{FROM}", base_url: "{twilio}" }}
  voice: {{ type: twilio, account_sid: {ACCOUNT}, auth_token_file: twilio.token, from: "{FROM}", base_url: "{twilio}" }}
  email: {{ type: smtp, host: 127.0.0.1, port: {smtp_port}, tls: none, from: tocsin@example.com }}
  chat: {{ type: slack, url_file: oncall.url }}
people:
  - id: alice
    name: Alice
    phone: "{ALICE}"
    chat: "@alice"
    email: alice@example.com
    working_hours: ["mon-fri 09:00-18:00"]
    token_sha256: {alice}
  - id: bob
    name: Bob
    phone: "{BOB}"
    chat: "@bob"
    email: bob@example.com
    working_hours: ["mon-fri 09:00-18:00"]
    token_sha256: {bob}
  - id: dave
    name: Dave
    phone: "{DAVE}"
    email: dave@example.com
    timezone: America/New_York
    working_hours: ["mon-fri 09:00-17:00"]
teams:
  - id: web
    lead: alice
    members: [alice, bob, dave]
    digest: "0 9 1 1 *"
clients:
  - id: acme
    name: Acme
    channel: {{ type: slack, name: "#acme", url_file: acme.url }}
    token_sha256: {acme}
  - id: globex
    name: Globex
    channel: {{ type: slack, name: "#globex", url_file: globex.url }}
    token_sha256: {globex}
projects:
  - id: shop
    name: Acme shop
    client: acme
    team: web
    responders: [bob]
    update_every: 30m
  - id: portal
    name: Globex portal
    client: globex
    team: web
    responders: [dave]
escalation_policies:
  - id: default
    repeat: 1
    steps:
      - {{ notify: nearest, via: [chat, sms], wait: 5m }}
      - {{ notify: next, via: [voice], wait: 5m }}
      - {{ notify: team_lead, via: [voice], wait: 10m }}
integrations:
  - id: prom
    type: alertmanager
    token_sha256: {am}
    project: shop
    routes:
      - matchers: ['service="portal"']
        project: portal
{extra}"##,
        alice = sha(ADMIN_TOKEN),
        bob = sha(BOB_TOKEN),
        acme = sha(CLIENT_TOKEN),
        globex = sha(GLOBEX_TOKEN),
        am = sha(AM_TOKEN),
    )
}

/// One message as a fake received it: `sms`, `voice`, `email` or `chat`;
/// to a phone, an email address or a chat path; its text (the email's
/// subject).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Msg {
    pub kind: &'static str,
    pub to: String,
    pub text: String,
}

/// An expected message: kind, recipient, and a piece of its text.
pub type Want<'a> = (&'static str, &'a str, &'a str);

pub struct World {
    pub d: Daemon,
    pub twilio: FakeTwilio,
    pub chat: FakeChat,
    pub smtp: FakeSmtp,
    /// How many of each fake's messages earlier steps accounted for.
    seen: (usize, usize, usize),
}

pub async fn world() -> World {
    world_with("").await
}

/// The world with `extra` YAML at the end of its configuration.
pub async fn world_with(extra: &str) -> World {
    world_edited(extra, |yaml, _| yaml).await
}

/// The world whose configuration `edit` changes (it gets the fake chat, to
/// point a provider at it); `slack.token` and `slack.signing` hold a Slack
/// app's bot token and signing secret.
pub async fn world_edited(extra: &str, edit: impl FnOnce(String, &FakeChat) -> String) -> World {
    let twilio = FakeTwilio::start().await;
    let chat = FakeChat::start().await;
    let smtp = FakeSmtp::start().await.expect("fake smtp");
    let yaml = edit(roster(&twilio.base_url(), smtp.addr().port(), extra), &chat);
    let (oncall, acme, globex) = (chat.url(ONCALL), chat.url(ACME), chat.url(GLOBEX));
    let d = spawn_with_files(
        &yaml,
        &[
            ("twilio.token", TWILIO_TOKEN),
            ("oncall.url", &oncall),
            ("acme.url", &acme),
            ("globex.url", &globex),
            ("slack.token", SLACK_BOT_TOKEN),
            ("slack.signing", SLACK_SIGNING_SECRET),
        ],
    )
    .await;
    World {
        d,
        twilio,
        chat,
        smtp,
        seen: (0, 0, 0),
    }
}

/// An Alertmanager group of one firing alert with these labels.
pub fn alert(name: &str, service: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "status": "firing",
        "receiver": "tocsin",
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "service": service},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": name, "service": service, "severity": "critical"},
            "annotations": {"summary": format!("{name} on {service}")},
            "startsAt": "2026-11-25T08:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example/graph",
            "fingerprint": &sha(name)[..16],
        }],
    })
}

impl World {
    /// Every message received since the last `expect` or `take`.
    pub fn take(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        let twilio = self.twilio.accepted();
        for r in &twilio[self.seen.0..] {
            out.push(Msg {
                kind: match r.resource {
                    Resource::Messages => "sms",
                    Resource::Calls => "voice",
                },
                to: r.to().to_string(),
                text: r.text().to_string(),
            });
        }
        let posts = self.chat.posts();
        for p in &posts[self.seen.1..] {
            out.push(Msg {
                kind: "chat",
                to: p.to(),
                text: p.text().to_string(),
            });
        }
        let mails = self.smtp.received();
        for m in &mails[self.seen.2..] {
            out.push(Msg {
                kind: "email",
                to: m.to.join(","),
                text: m.header("Subject").unwrap_or_default(),
            });
        }
        self.seen = (twilio.len(), posts.len(), mails.len());
        out
    }

    /// What the fakes received since the last call is exactly `want`, in
    /// any order: each wanted message matches one received message of that
    /// kind, to that recipient, whose text contains the given piece.
    pub fn expect(&mut self, step: &str, want: &[Want<'_>]) -> Vec<Msg> {
        let got = self.take();
        if std::env::var_os("JOURNEY_PRINT").is_some() {
            eprintln!("== {step}");
            for m in &got {
                eprintln!("{} to {}: {}", m.kind, m.to, m.text.replace('\n', " / "));
            }
        }
        let mut left: Vec<&Msg> = got.iter().collect();
        let mut missing = Vec::new();
        for (kind, to, has) in want {
            match left
                .iter()
                .position(|m| m.kind == *kind && m.to == *to && m.text.contains(has))
            {
                Some(i) => {
                    left.remove(i);
                }
                None => missing.push((kind, to, has)),
            }
        }
        assert!(
            missing.is_empty() && left.is_empty(),
            "{step}: missing {missing:#?}\nunexpected {left:#?}\nall received {got:#?}"
        );
        got
    }

    /// Moves the clock and sends whatever became due.
    pub async fn advance(&self, by: Duration) {
        self.d.advance(by).await;
    }

    /// Moves the clock minute by minute to `at` (so timers fire at their
    /// instants, not all at the end).
    pub async fn advance_to(&self, at: chrono::DateTime<chrono::Utc>) {
        use tocsin::clock::Clock;
        while self.d.clock.now() < at {
            let step = (at - self.d.clock.now()).min(Duration::minutes(30));
            self.d.advance(step).await;
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let r = self.d.post_json(path, token, &body).await;
        let status = r.status().as_u16();
        let v = r.json().await.unwrap_or(Value::Null);
        self.d.settle().await;
        (status, v)
    }

    pub async fn call(&self, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.d.http.request(m, self.d.url(path)).bearer_auth(token);
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let v = r.json().await.unwrap_or(Value::Null);
        self.d.settle().await;
        (status, v)
    }

    pub async fn alert(&self, name: &str, service: &str) -> Value {
        let (status, v) = self
            .post("/api/v1/alertmanager", AM_TOKEN, alert(name, service))
            .await;
        assert_eq!(status, 200, "{v}");
        v["outcome"].clone()
    }

    pub async fn incident(&self, id: &str) -> Value {
        let (status, v) = self
            .call(
                "GET",
                &format!("/api/v1/incidents/{id}"),
                BOB_TOKEN,
                Value::Null,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// The timeline events of `kind`.
    pub async fn events(&self, id: i64, kind: &str) -> Vec<Value> {
        self.incident(&id.to_string()).await["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"] == kind)
            .cloned()
            .collect()
    }

    /// Twilio's signed POST to one of our webhooks.
    pub async fn twilio_webhook(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, String) {
        let answer = self
            .d
            .post_twilio_signed(TWILIO_TOKEN, PUBLIC, path, pairs)
            .await;
        self.d.settle().await;
        answer
    }

    /// An SMS reply from `from`; returns tocsin's answer (TwiML).
    pub async fn reply(&self, from: &str, text: &str) -> String {
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

    pub async fn stop(self) {
        self.d.stop().await;
    }
}
