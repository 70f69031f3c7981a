//! The peer: Debian's `prometheus-alertmanager`, HA off, on loopback, with
//! one route per load: `mode="new"` grouped by `[alertname, instance]` (every
//! alert opens a group), `mode="join"` grouped by `[alertname]` (one group
//! takes every alert), `mode="dup"` (the same alert re-posted).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub const BINARY: &str = "/usr/bin/prometheus-alertmanager";

pub struct Alertmanager {
    child: Child,
    pub base: String,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn config(sink_port: u16) -> String {
    format!(
        r#"route:
  receiver: sink
  group_by: [alertname, instance]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['mode="join"']
      group_by: [alertname]
      receiver: sink
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:{sink_port}/sink
        send_resolved: false
"#
    )
}

impl Alertmanager {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts Alertmanager in `dir`; returns once `/-/ready` answers 200.
    pub async fn start(
        dir: &Path,
        sink_port: u16,
        http: &reqwest::Client,
    ) -> anyhow::Result<Alertmanager> {
        let cfg: PathBuf = dir.join("alertmanager.yml");
        std::fs::write(&cfg, config(sink_port))?;
        let port = free_port()?;
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting prometheus-alertmanager")?;
        let am = Alertmanager {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = http.get(format!("{}/-/ready", am.base)).send().await
                && r.status().is_success()
            {
                return Ok(am);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("alertmanager was not ready within 30 s")
    }
}
