//! `spawn_daemon` and friends: a fresh config and database per test, a
//! manual clock, and typed helpers for the calls tests make.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};
use tocsin::app::Running;
use tocsin::clock::ManualClock;

pub const ADMIN_TOKEN: &str = "token-alice-0123456789";
pub const BOB_TOKEN: &str = "token-bob-0123456789ab";
pub const AM_TOKEN: &str = "am-token-0123456789abc";
pub const PD_TOKEN: &str = "pd-token-0123456789abc";
pub const CLIENT_TOKEN: &str = "client-acme-0123456789";
pub const ALICE_CALENDAR: &str = "calendar-alice-0123456789";

pub fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A small agency: two people in Berlin, one in New York.
pub fn roster_yaml(extra: &str) -> String {
    format!(
        r##"timezone: Europe/Berlin
server:
  listen: 127.0.0.1:0
  public_url: https://tocsin.example
  max_body_bytes: 65536
  admins: [alice]
storage:
  sqlite: data/tocsin.db
people:
  - id: alice
    phone: "+4915110000001"
    chat: "@alice"
    working_hours: ["mon-fri 09:00-18:00"]
    token_sha256: {alice}
    calendar_token_sha256: {alice_cal}
  - id: bob
    phone: "+4915110000002"
    email: bob@example.com
    working_hours: ["mon-fri 09:00-18:00"]
    token_sha256: {bob}
  - id: dave
    phone: "+12125550104"
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
escalation_policies:
  - id: default
    steps:
      - notify: nearest
        via: [sms]
        wait: 5m
      - notify: next
        via: [voice]
        wait: 5m
integrations:
  - id: prom
    type: alertmanager
    token_sha256: {am}
    project: shop
  - id: pd
    type: events_v2
    token_sha256: {pd}
    project: shop
{extra}"##,
        alice = sha(ADMIN_TOKEN),
        alice_cal = sha(ALICE_CALENDAR),
        bob = sha(BOB_TOKEN),
        client = sha(CLIENT_TOKEN),
        am = sha(AM_TOKEN),
        pd = sha(PD_TOKEN),
    )
}

pub fn t0() -> DateTime<Utc> {
    // A Wednesday, 10:00 in Berlin: inside everyone's European working hours.
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .single()
        .expect("valid instant")
}

pub use tocsin::store::test_db::create_test_database;
/// The environment variable that runs the suite on PostgreSQL.
pub const TEST_POSTGRES: &str = tocsin::store::test_db::TEST_POSTGRES;

/// The config `yaml` on the store the suite runs against: as written
/// (SQLite in the test's folder), or, when [`TEST_POSTGRES`] is set, a new
/// PostgreSQL database of this test's own (so tests run in parallel), its
/// URL in `pg.url` beside the config. Without the server the test fails:
/// a run asked for PostgreSQL never quietly falls back to SQLite.
pub fn on_test_store(yaml: &str, dir: &std::path::Path) -> String {
    let Some(url) = tocsin::store::test_db::server() else {
        return yaml.to_string();
    };
    let sqlite = "storage:\n  sqlite: data/tocsin.db\n";
    assert!(
        yaml.contains(sqlite),
        "a test config without the usual storage section cannot run on PostgreSQL"
    );
    let db_url = create_test_database(&url);
    std::fs::write(dir.join("pg.url"), db_url).expect("write pg.url");
    yaml.replace(sqlite, "storage:\n  postgres_file: pg.url\n")
}

pub struct Daemon {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub clock: ManualClock,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn spawn_daemon() -> Daemon {
    spawn_with(&roster_yaml("")).await
}

pub async fn spawn_with(yaml: &str) -> Daemon {
    spawn_with_files(yaml, &[]).await
}

/// With extra files beside the config (secrets for `*_file` keys).
pub async fn spawn_with_files(yaml: &str, files: &[(&str, &str)]) -> Daemon {
    spawn_on(yaml, files, true, false).await
}

/// `spawn_with_files`, with the timer task and the outbox worker running
/// as in production (the clock still moves only by hand).
pub async fn spawn_with_workers(yaml: &str, files: &[(&str, &str)]) -> Daemon {
    spawn_on(yaml, files, true, true).await
}

/// On SQLite whatever the suite runs against: for what is SQLite's by
/// nature (its files, their modes, a full disk under them).
pub async fn spawn_on_sqlite(yaml: &str) -> Daemon {
    spawn_on(yaml, &[], false, false).await
}

async fn spawn_on(yaml: &str, files: &[(&str, &str)], test_store: bool, workers: bool) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write file");
    }
    let config = dir.path().join("tocsin.yaml");
    let yaml = if test_store {
        on_test_store(yaml, dir.path())
    } else {
        yaml.to_string()
    };
    std::fs::write(&config, yaml).expect("write config");
    let roster =
        tocsin::config::load(&config).unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let clock = ManualClock::new(t0());
    let running =
        tocsin::app::start_with(&config, roster, listener, Arc::new(clock.clone()), workers)
            .await
            .expect("daemon starts");
    let base = format!("http://{}", running.addr);
    Daemon {
        running: Some(running),
        dir,
        config,
        clock,
        base,
        http: reqwest::Client::new(),
    }
}

impl Daemon {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("request")
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// POSTs a form to one of our Twilio webhooks, signed as Twilio signs
    /// it (`auth_token`, the configured `public` URL); status and body.
    pub async fn post_twilio_signed(
        &self,
        auth_token: &str,
        public: &str,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> (u16, String) {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = tocsin::notify::twilio_sig::expected_signature(
            auth_token,
            &format!("{public}{path}"),
            &params,
        );
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let r = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", sig)
            .body(body)
            .send()
            .await
            .expect("webhook");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    pub fn state(&self) -> &tocsin::app::Shared {
        &self.running.as_ref().expect("running").state
    }

    /// Moves the clock, fires whatever became due and sends what that queued,
    /// as the timer task and the outbox worker would; returns the timers fired.
    pub async fn advance(&self, by: chrono::Duration) -> usize {
        self.clock.advance(by);
        let fired = tocsin::engine::tick(self.state())
            .await
            .expect("timers fire");
        fired + self.settle().await
    }

    /// Runs due timers and the outbox until nothing more is due now;
    /// returns the timers fired.
    pub async fn settle(&self) -> usize {
        let mut fired = 0;
        for _ in 0..20 {
            let t = tocsin::engine::tick(self.state())
                .await
                .expect("timers fire");
            let o = tocsin::outbox::run_once(self.state())
                .await
                .expect("outbox runs");
            fired += t;
            if t == 0 && o == 0 {
                return fired;
            }
        }
        panic!("timers and outbox did not settle");
    }

    /// Stops the daemon and starts it again on the same files and database.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
        let roster = tocsin::config::load(&self.config).unwrap_or_else(|e| panic!("config:\n{e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let running = tocsin::app::start_with(
            &self.config,
            roster,
            listener,
            Arc::new(self.clock.clone()),
            false,
        )
        .await
        .expect("daemon restarts");
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    /// A second daemon on the same configuration, database and clock (on
    /// PostgreSQL: two daemons sharing one database).
    pub async fn peer(&self) -> Daemon {
        let roster = tocsin::config::load(&self.config).unwrap_or_else(|e| panic!("config:\n{e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let running = tocsin::app::start_with(
            &self.config,
            roster,
            listener,
            Arc::new(self.clock.clone()),
            false,
        )
        .await
        .expect("peer starts");
        Daemon {
            base: format!("http://{}", running.addr),
            running: Some(running),
            dir: tempfile::tempdir().expect("temp dir"),
            config: self.config.clone(),
            clock: self.clock.clone(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
    }
}

/// The real binary, for signal and crash tests.
pub struct Process {
    pub child: std::process::Child,
    pub base: String,
    /// The log lines written before "tocsin listening" (JSON).
    pub startup_log: Vec<String>,
}

impl Process {
    pub fn start(config: &Path) -> Process {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"));
        command.arg("--config").arg(config).arg("serve");
        Self::spawn(command)
    }

    /// The binary under `ulimit -n files` (a shell that execs it).
    pub fn start_with_open_files(config: &Path, files: u32) -> Process {
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                r#"ulimit -n {files} && exec "$0" --config "$1" serve"#
            ))
            .arg(env!("CARGO_BIN_EXE_tocsin"))
            .arg(config);
        Self::spawn(command)
    }

    fn spawn(mut command: std::process::Command) -> Process {
        use std::io::{BufRead, BufReader};
        let mut child = command
            .env("TOCSIN_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn tocsin");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut lines = BufReader::new(stderr).lines();
        let mut startup_log = Vec::new();
        let addr = loop {
            let line = lines
                .next()
                .expect("tocsin exited before listening")
                .expect("read stderr");
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["fields"]["message"] == "tocsin listening"
            {
                break v["fields"]["addr"]
                    .as_str()
                    .expect("addr field")
                    .to_string();
            }
            startup_log.push(line);
        };
        // Keep draining so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Process {
            child,
            base: format!("http://{addr}"),
            startup_log,
        }
    }

    /// The real binary with its log written to `log`, a file, as under
    /// systemd or docker; `env` adds to the environment (`RUST_LOG`...).
    pub fn start_logging_to(config: &Path, log: &Path, env: &[(&str, &str)]) -> Process {
        let file = std::fs::File::create(log).expect("create log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env_remove("TOCSIN_LOG_FORMAT")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stderr(file)
            .spawn()
            .expect("spawn tocsin");
        let mut process = Process {
            child,
            base: String::new(),
            startup_log: Vec::new(),
        };
        // The address from the "tocsin listening" line, text or JSON.
        for _ in 0..400 {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let port = text
                .lines()
                .find(|l| l.contains("tocsin listening"))
                .and_then(|l| l.split("127.0.0.1:").nth(1))
                .map(|rest| {
                    rest.chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                });
            if let Some(port) = port {
                process.base = format!("http://127.0.0.1:{port}");
                return process;
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("tocsin exited before listening ({status}):\n{text}");
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("tocsin did not log that it listens");
    }

    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of a sign-in link issued for the holder of `token`
/// (`tocsin login`'s call).
pub async fn signin_path(d: &Daemon, token: &str) -> String {
    let r = d
        .post_json("/api/v1/signin-links", token, &serde_json::json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    let url = v["url"].as_str().expect("url");
    url.strip_prefix("https://tocsin.example")
        .expect("under public_url")
        .to_string()
}

/// Polls `f` until it returns Some, for effects of another process (signals).
pub async fn eventually<T, F, Fut>(what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(what, std::time::Duration::from_secs(5), f).await
}

/// As [`eventually`], with its own patience (a browser under load).
pub async fn eventually_within<T, F, Fut>(what: &str, patience: std::time::Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + patience;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
