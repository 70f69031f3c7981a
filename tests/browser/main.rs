//! The web UI in a real browser: headless Chromium driven through
//! WebDriver (Debian's `chromium` and `chromium-driver`; `.ci/run` installs
//! them). Each test starts chromedriver on a free loopback port and the
//! daemon on 127.0.0.1:0 with a manual clock (the API tests' helpers),
//! its client channel pointed at a fake chat.
//!
//! Screenshots of the main pages: `TOCSIN_SCREENSHOTS=docs/screenshots
//! cargo test --test browser screenshots` writes them (360 and 1280 px).

#[path = "../api/fakes.rs"]
mod fakes;
#[path = "../api/helpers.rs"]
mod helpers;
mod pages;
mod screenshots;
mod webdriver;

use serde_json::{Value, json};
use tokio::sync::{Mutex, MutexGuard};

use fakes::FakeChat;
use helpers::*;
use webdriver::{Browser, Driver};

/// One Chromium at a time: the tests share a small machine.
static ONE_BROWSER: Mutex<()> = Mutex::const_new(());

/// The daemon, its fake client chat, chromedriver.
pub struct Ui {
    pub d: Daemon,
    pub chat: FakeChat,
    pub driver: Driver,
    _one: MutexGuard<'static, ()>,
}

/// `None` (the test says it is skipped) only outside CI on a machine
/// without chromedriver; in CI a missing browser fails.
pub async fn ui() -> Option<Ui> {
    if !std::path::Path::new(webdriver::CHROMEDRIVER).exists() && std::env::var_os("CI").is_none() {
        eprintln!(
            "skipped: {} is not installed (apt-get install chromium chromium-driver)",
            webdriver::CHROMEDRIVER
        );
        return None;
    }
    let one = ONE_BROWSER.lock().await;
    let chat = FakeChat::start().await;
    // bob and dave take turns on web-primary, weeks from Monday 09:00;
    // dave has the week of t0.
    let schedule = "schedules:\n  - id: web-primary\n    name: Web primary\n    team: web\n    members: [bob, dave]\n    handoff: \"0 9 * * MON\"\n    start: \"2026-11-02 09:00\"\n";
    let yaml = roster_yaml(schedule).replace(
        r##"channel: { type: log, name: "#acme" }"##,
        r##"channel: { type: slack, url_file: acme.url, name: "#acme" }"##,
    );
    let d = spawn_with_files(&yaml, &[("acme.url", &chat.url("hooks/acme"))]).await;
    let driver = Driver::start().await;
    Some(Ui {
        d,
        chat,
        driver,
        _one: one,
    })
}

impl Ui {
    /// A new browser window, `width` CSS pixels wide.
    pub async fn browser(&self, width: u32) -> Browser {
        Browser::open(&self.driver, width, if width < 600 { 780 } else { 900 }).await
    }

    /// Signs the holder of `token` in the way a person does: opens the
    /// sign-in link and presses its button.
    pub async fn sign_in(&self, b: &Browser, token: &str) {
        let path = signin_path(&self.d, token).await;
        b.goto(&self.d.url(&path)).await;
        b.click(r#"button[value="signin"]"#).await;
        b.wait_for_url("leaving the sign-in page", |u| !u.contains("/signin"))
            .await;
    }

    /// Opens an incident from an Alertmanager alert named `name` with
    /// `labels` added; its number.
    pub async fn open(&self, name: &str, labels: Value) -> i64 {
        let mut all = json!({ "alertname": name, "instance": "db-1", "severity": "critical" });
        if let (Some(all), Some(extra)) = (all.as_object_mut(), labels.as_object()) {
            all.extend(extra.clone());
        }
        let payload = json!({
            "receiver": "tocsin", "status": "firing", "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
            "groupLabels": { "alertname": name }, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am:9093", "truncatedAlerts": 0,
            "alerts": [{
                "status": "firing", "labels": all,
                "annotations": {
                    "summary": format!("{name} on db-1"),
                    "runbook_url": "https://wiki.example/runbooks/disk",
                },
                "startsAt": "2026-11-25T08:59:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom:9090/graph?g0.expr=up",
                "fingerprint": &sha(name)[..16],
            }],
        });
        let r = self
            .d
            .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        v["outcome"]["opened"][0].as_i64().expect("opened")
    }

    /// The path of the acknowledge link `person` got for incident `id`.
    pub fn ack_path(&self, id: i64, person: &str) -> String {
        let claims = tocsin::notify::ack_token::Claims {
            incident: u64::try_from(id).expect("positive"),
            person: person.into(),
            action: tocsin::notify::Action::Ack,
            expires: t0() + chrono::Duration::hours(1),
        };
        let public: url::Url = "https://tocsin.example".parse().expect("url");
        let url = tocsin::notify::ack_token::url(&public, self.d.state().link_secret(), &claims);
        url.strip_prefix("https://tocsin.example")
            .expect("under public_url")
            .to_string()
    }

    /// bob acknowledges, marks it serious and, 90 minutes on, resolves it
    /// through the API: its postmortem is due.
    pub async fn serious_resolved(&self, id: i64) {
        let inc = format!("/api/v1/incidents/{id}");
        let ack = self
            .d
            .post_json(&format!("{inc}/acknowledge"), BOB_TOKEN, &json!({}))
            .await;
        assert_eq!(ack.status(), 200);
        let flag = self
            .d
            .http
            .patch(self.d.url(&inc))
            .bearer_auth(BOB_TOKEN)
            .json(&json!({ "serious": true, "serious_reason": "long outage" }))
            .send()
            .await
            .expect("patch");
        assert_eq!(flag.status(), 200);
        self.d.advance(chrono::Duration::minutes(90)).await;
        let resolve = self
            .d
            .post_json(&format!("{inc}/resolve"), BOB_TOKEN, &json!({}))
            .await;
        assert_eq!(resolve.status(), 200);
        self.d.settle().await;
    }

    /// The incident's state through the API.
    pub async fn state(&self, id: i64) -> String {
        let r = self
            .d
            .http
            .get(self.d.url(&format!("/api/v1/incidents/{id}")))
            .bearer_auth(BOB_TOKEN)
            .send()
            .await
            .expect("show");
        let v: Value = r.json().await.expect("json");
        v["incident"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Sends what the actions queued, then the posts the client's channel got.
    pub async fn client_posts(&self) -> Vec<String> {
        self.d.settle().await;
        self.chat
            .posts()
            .into_iter()
            .filter(|p| p.path == "hooks/acme")
            .map(|p| p.text().to_string())
            .collect()
    }
}
