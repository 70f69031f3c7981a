//! A closed-loop load at fixed concurrency: `workers` tasks take request
//! numbers from a shared counter until `n` are done or the time limit
//! passes. Latency is measured per request, start to full response body.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one request needs: method is always POST.
pub struct Req {
    pub url: String,
    pub bearer: Option<String>,
    pub body: String,
}

/// Results of one load.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub sent: usize,
    pub ok: usize,
    pub failed: usize,
    /// First non-2xx answer or error, for the report.
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Sorted latencies of successful requests.
    pub latencies: Vec<Duration>,
}

impl Stats {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn pct(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

/// Nearest-rank percentile of sorted `v` (`p` in 0..=100).
pub fn percentile(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Runs `n` requests built by `make(i)` at `workers` concurrency, for at
/// most `limit`.
pub async fn run<F>(
    http: &reqwest::Client,
    n: usize,
    workers: usize,
    limit: Duration,
    make: F,
) -> Stats
where
    F: Fn(usize) -> Req + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (make, next, http) = (make.clone(), next.clone(), http.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = Stats::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() >= deadline {
                    break;
                }
                let req = make(i);
                let mut b = http
                    .post(&req.url)
                    .header("content-type", "application/json")
                    .body(req.body);
                if let Some(t) = &req.bearer {
                    b = b.bearer_auth(t);
                }
                let t0 = Instant::now();
                s.sent += 1;
                match b.send().await {
                    Ok(r) => {
                        let status = r.status();
                        let body = r.bytes().await;
                        let took = t0.elapsed();
                        if status.is_success() && body.is_ok() {
                            s.ok += 1;
                            s.latencies.push(took);
                        } else {
                            s.failed += 1;
                            if s.first_error.is_none() {
                                let text: String = body
                                    .map(|b| {
                                        String::from_utf8_lossy(&b).chars().take(200).collect()
                                    })
                                    .unwrap_or_default();
                                s.first_error = Some(format!("{status}: {text}"));
                            }
                        }
                    }
                    Err(e) => {
                        s.failed += 1;
                        if s.first_error.is_none() {
                            s.first_error = Some(e.to_string());
                        }
                    }
                }
            }
            s
        }));
    }
    let mut all = Stats::default();
    for t in tasks {
        if let Ok(s) = t.await {
            all.sent += s.sent;
            all.ok += s.ok;
            all.failed += s.failed;
            all.latencies.extend(s.latencies);
            if all.first_error.is_none() {
                all.first_error = s.first_error;
            }
        }
    }
    all.elapsed = started.elapsed();
    all.latencies.sort_unstable();
    all
}
