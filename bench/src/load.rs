//! A closed-loop load at fixed concurrency: `workers` tasks take request
//! numbers from a shared counter until `n` are done or the time limit
//! passes. Latency is measured per request, start to full response body.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

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

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One keep-alive HTTP/1.1 connection per worker, through hyper's bare
/// connection API: a load generator should spend as little CPU as it can on
/// a machine it shares with the server (no pool, no redirects, no proxies).
async fn connect(authority: &str) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Sends one request; returns the status and the whole body.
async fn send(conn: &mut Option<Sender>, req: Req) -> anyhow::Result<(u16, Bytes)> {
    let uri: hyper::Uri = req.url.parse()?;
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .ok_or_else(|| anyhow::anyhow!("no host in {}", req.url))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut sender = match conn.take() {
        Some(s) if !s.is_closed() => s,
        _ => connect(&authority).await?,
    };
    sender.ready().await?;
    let mut b = hyper::Request::post(path)
        .header(hyper::header::HOST, &authority)
        .header(hyper::header::CONTENT_TYPE, "application/json");
    if let Some(t) = &req.bearer {
        b = b.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = sender.send_request(b.body(Full::new(Bytes::from(req.body)))?).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    *conn = Some(sender);
    Ok((status, body))
}

/// Runs `n` requests built by `make(i)` at `workers` concurrency, for at
/// most `limit`.
pub async fn run<F>(n: usize, workers: usize, limit: Duration, make: F) -> Stats
where
    F: Fn(usize) -> Req + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (make, next) = (make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = Stats::default();
            let mut conn = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() >= deadline {
                    break;
                }
                let req = make(i);
                let t0 = Instant::now();
                s.sent += 1;
                match send(&mut conn, req).await {
                    Ok((status, _)) if (200..300).contains(&status) => {
                        s.ok += 1;
                        s.latencies.push(t0.elapsed());
                    }
                    Ok((status, body)) => {
                        s.failed += 1;
                        if s.first_error.is_none() {
                            let text: String =
                                String::from_utf8_lossy(&body).chars().take(200).collect();
                            s.first_error = Some(format!("{status}: {text}"));
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
