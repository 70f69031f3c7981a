//! The tocsin process under test: started from its binary with JSON logs,
//! its listen address read from the `tocsin listening` line, stopped with
//! SIGKILL. Logs are drained on a thread so the pipe never blocks it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct Daemon {
    child: Child,
    pub base: String,
    binary: PathBuf,
    config: PathBuf,
}

impl Daemon {
    /// Starts `binary --config config serve`; returns once it listens.
    pub fn start(binary: &Path, config: &Path) -> anyhow::Result<Daemon> {
        let (child, base) = spawn(binary, config)?;
        Ok(Daemon {
            child,
            base,
            binary: binary.to_path_buf(),
            config: config.to_path_buf(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in bytes (VmRSS from /proc).
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        rss_bytes(self.pid())
    }

    /// SIGKILL, then a fresh start on the same files; returns the time from
    /// the spawn to the first `/readyz` 200.
    pub async fn kill_and_restart(&mut self, http: &reqwest::Client) -> anyhow::Result<Duration> {
        self.kill();
        let started = Instant::now();
        let (child, base) = spawn(&self.binary, &self.config)?;
        self.child = child;
        self.base = base;
        let deadline = started + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(r) = http.get(self.url("/readyz")).send().await
                && r.status().is_success()
            {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        bail!("tocsin was not ready within 120 s of a restart")
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(binary: &Path, config: &Path) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("TOCSIN_LOG_FORMAT", "json")
        .env(
            "RUST_LOG",
            std::env::var("BENCH_TOCSIN_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stderr = child.stderr.take().context("stderr is piped")?;
    let (tx, rx) = mpsc::channel::<Result<String, String>>();
    std::thread::spawn(move || {
        let mut sent = false;
        let mut tail: Vec<String> = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if sent {
                continue;
            }
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["fields"]["message"] == "tocsin listening"
                && let Some(addr) = v["fields"]["addr"].as_str()
            {
                let _ = tx.send(Ok(addr.to_string()));
                sent = true;
                continue;
            }
            tail.push(line);
            if tail.len() > 20 {
                tail.remove(0);
            }
        }
        if !sent {
            let _ = tx.send(Err(tail.join("\n")));
        }
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(addr)) => Ok((child, format!("http://{addr}"))),
        Ok(Err(tail)) => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("tocsin exited before listening:\n{tail}")
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("tocsin did not listen within 120 s")
        }
    }
}

/// VmRSS of `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmRSS has no value")?
        .parse()?;
    Ok(kb * 1024)
}
