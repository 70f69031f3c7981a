//! End to end with the real Prometheus Alertmanager (Debian's
//! `prometheus-alertmanager`): alerts posted to its API reach tocsin through
//! its webhook and PagerDuty notifiers, re-sends are deduplicated, and
//! resolutions close the incidents. Skipped, with a message, when the binary
//! is not installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

/// How long any one wait for Alertmanager or tocsin may take.
const PATIENCE: Duration = Duration::from_secs(20);

fn find_alertmanager() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/bin/prometheus-alertmanager");
    if debian.is_file() {
        return Some(debian);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["prometheus-alertmanager", "alertmanager"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    // Bound and released at once: Alertmanager needs a number, not a socket.
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Kills Alertmanager however the test ends; on a panic, shows its log.
struct AmGuard {
    child: Child,
    log: PathBuf,
}

impl Drop for AmGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- alertmanager log ---\n{log}--- end ---");
        }
    }
}

fn am_config(tocsin: &str) -> String {
    format!(
        r#"route:
  receiver: tocsin
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 4s
  routes:
    - receiver: tocsin-pd
      matchers: ['via="pd"']
receivers:
  - name: tocsin
    webhook_configs:
      - url: {tocsin}/api/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {AM_TOKEN}
  - name: tocsin-pd
    pagerduty_configs:
      - routing_key: {PD_TOKEN}
        url: {tocsin}/v2/enqueue
        send_resolved: true
"#
    )
}

fn start_alertmanager(bin: &Path, dir: &Path, port: u16, tocsin: &str) -> AmGuard {
    let config = dir.join("alertmanager.yml");
    std::fs::write(&config, am_config(tocsin)).expect("write alertmanager.yml");
    let log = dir.join("alertmanager.log");
    let out = std::fs::File::create(&log).expect("create log");
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("spawn alertmanager");
    AmGuard { child, log }
}

/// Polls `f` every 200 ms until it returns Some; panics after `PATIENCE`.
async fn within<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "timed out after {PATIENCE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn alerts(starts: DateTime<Utc>, ends: Option<DateTime<Utc>>) -> Value {
    let one = |name: &str, instance: &str, via: Option<&str>| {
        let mut labels = json!({"alertname": name, "instance": instance, "severity": "critical"});
        if let Some(via) = via {
            labels["via"] = json!(via);
        }
        let mut a = json!({
            "labels": labels,
            "annotations": {"summary": format!("{name} on {instance}")},
            "startsAt": rfc3339(starts),
            "generatorURL": "http://prom:9090/graph?g0.expr=up",
        });
        if let Some(ends) = ends {
            a["endsAt"] = json!(rfc3339(ends));
        }
        a
    };
    json!([
        one("DiskFull", "a", None),
        one("DiskFull", "b", None),
        one("ApiLatency", "api-1", Some("pd")),
    ])
}

async fn post_alerts(http: &reqwest::Client, am: &str, body: &Value) {
    let r = http
        .post(format!("{am}/api/v2/alerts"))
        .json(body)
        .send()
        .await
        .expect("post to alertmanager");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status, 200, "alertmanager refused the alerts: {text}");
}

async fn incidents(d: &Daemon) -> Vec<Value> {
    let r = d
        .http
        .get(d.url("/api/v1/incidents?state=all"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    body["incidents"].as_array().cloned().unwrap_or_default()
}

fn by_integration<'a>(all: &'a [Value], integration: &str) -> Vec<&'a Value> {
    all.iter()
        .filter(|i| i["integration"] == integration)
        .collect()
}

/// Sum of one Alertmanager counter over the series of one integration.
async fn am_counter(http: &reqwest::Client, am: &str, name: &str, integration: &str) -> f64 {
    let Ok(r) = http.get(format!("{am}/metrics")).send().await else {
        return 0.0;
    };
    let text = r.text().await.unwrap_or_default();
    let label = format!("integration=\"{integration}\"");
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn real_alertmanager_opens_dedups_and_resolves() {
    let Some(bin) = find_alertmanager() else {
        println!("skipped: prometheus-alertmanager is not installed");
        return;
    };
    let d = spawn_with(&roster_yaml("")).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let am = format!("http://127.0.0.1:{port}");
    let _guard = start_alertmanager(&bin, dir.path(), port, &d.base);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");

    within("alertmanager /-/ready", || async {
        let r = http.get(format!("{am}/-/ready")).send().await.ok()?;
        r.status().is_success().then_some(())
    })
    .await;

    // Started a minute ago, so the resolve's endsAt is always after it.
    let starts = Utc::now() - chrono::Duration::seconds(60);
    post_alerts(&http, &am, &alerts(starts, None)).await;

    let (group_id, pd_id) = within("both incidents to open", || async {
        let all = incidents(&d).await;
        let group = by_integration(&all, "prom");
        let pd = by_integration(&all, "pd");
        (group.len() == 1 && group[0]["alert_count"] == 2 && pd.len() == 1)
            .then(|| (group[0]["id"].as_i64(), pd[0]["id"].as_i64()))
    })
    .await;
    let (group_id, pd_id) = (group_id.expect("id"), pd_id.expect("id"));

    // Wait for Alertmanager itself to report a repeat_interval re-send on
    // both notifiers, then check the re-sends opened nothing new.
    within("a re-send from both notifiers", || async {
        let hook = am_counter(&http, &am, "alertmanager_notifications_total", "webhook").await;
        let pd = am_counter(&http, &am, "alertmanager_notifications_total", "pagerduty").await;
        (hook >= 2.0 && pd >= 2.0).then_some(())
    })
    .await;
    let all = incidents(&d).await;
    assert_eq!(all.len(), 2, "re-sends must not open incidents: {all:#?}");
    let group = by_integration(&all, "prom");
    assert_eq!(group[0]["alert_count"], 2, "{all:#?}");
    assert_eq!(group[0]["state"], "triggered");
    assert_eq!(by_integration(&all, "pd")[0]["state"], "triggered");

    post_alerts(
        &http,
        &am,
        &alerts(starts, Some(Utc::now() - chrono::Duration::seconds(1))),
    )
    .await;
    within("both incidents to resolve", || async {
        let all = incidents(&d).await;
        let resolved = |id: i64| {
            all.iter()
                .any(|i| i["id"] == id && i["state"] == "resolved")
        };
        (all.len() == 2 && resolved(group_id) && resolved(pd_id)).then_some(())
    })
    .await;

    for integration in ["webhook", "pagerduty"] {
        let failed = am_counter(
            &http,
            &am,
            "alertmanager_notifications_failed_total",
            integration,
        )
        .await;
        assert_eq!(failed, 0.0, "{integration} notifications failed");
    }
    d.stop().await;
}
