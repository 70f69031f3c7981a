//! A closed-loop load at fixed concurrency: `workers` tasks take request
//! numbers from a shared counter until `n` are done or the time limit
//! passes. Latency is measured per request, start to full response body.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    /// CPU the server process spent during the load (`run_on`).
    pub server_cpu: Option<Duration>,
    /// Of which its store writer thread.
    pub writer_cpu: Option<Duration>,
}

impl Stats {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU per request sent, in µs.
    pub fn cpu_us(&self) -> Option<f64> {
        self.server_cpu
            .map(|c| c.as_secs_f64() * 1e6 / (self.sent.max(1) as f64))
    }

    /// Store writer CPU per request sent, in µs.
    pub fn writer_us(&self) -> Option<f64> {
        self.writer_cpu
            .map(|c| c.as_secs_f64() * 1e6 / (self.sent.max(1) as f64))
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

/// One keep-alive HTTP/1.1 connection per worker, spoken by hand: the
/// request bytes are built before the clock starts, and the answer is read
/// only as far as its status and length. A load generator should take as
/// little as it can of the CPU it shares with the server; hyper's client
/// took about half of this machine's CPU at 20k req/s.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A request ready to go: where and the exact bytes.
struct Raw {
    authority: String,
    bytes: Vec<u8>,
}

fn prepare(req: Req) -> anyhow::Result<Raw> {
    let rest = req
        .url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("only http:// URLs: {}", req.url))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let auth = req
        .bearer
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut bytes = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{auth}\r\n",
        req.body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(req.body.as_bytes());
    Ok(Raw {
        authority: authority.to_string(),
        bytes,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What the head of an answer says about the rest.
struct Head {
    status: u16,
    /// Bytes of the head, blank line included.
    len: usize,
    body: BodyLen,
    close: bool,
}

enum BodyLen {
    Exact(usize),
    Chunked,
    UntilClose,
}

fn parse_head(buf: &[u8]) -> anyhow::Result<Option<Head>> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end])?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| anyhow::anyhow!("bad status line {status_line:?}"))?;
    let (mut body, mut close) = (BodyLen::UntilClose, false);
    if status == 204 || status == 304 || (100..200).contains(&status) {
        body = BodyLen::Exact(0);
    }
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            body = BodyLen::Exact(v.parse()?);
        } else if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
            body = BodyLen::Chunked;
        } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    Ok(Some(Head {
        status,
        len: end + 4,
        body,
        close,
    }))
}

/// Decodes a chunked body if `raw` holds all of it (trailers unsupported).
fn dechunk(raw: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
    let (mut at, mut out) = (0, Vec::new());
    loop {
        let Some(nl) = find(&raw[at..], b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&raw[at..at + nl])?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        at += nl + 2;
        if size == 0 {
            return Ok((raw.len() >= at + 2).then_some(out));
        }
        if raw.len() < at + size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&raw[at..at + size]);
        at += size + 2;
    }
}

/// Sends one request; returns the status and the whole body.
async fn send(conn: &mut Option<Conn>, raw: &Raw) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut c = match conn.take() {
        Some(c) => c,
        None => {
            let stream = TcpStream::connect(&raw.authority).await?;
            stream.set_nodelay(true)?;
            Conn {
                stream,
                buf: Vec::with_capacity(4096),
            }
        }
    };
    c.stream.write_all(&raw.bytes).await?;
    c.buf.clear();
    let mut chunk = [0u8; 8192];
    let head = loop {
        if let Some(h) = parse_head(&c.buf)? {
            break h;
        }
        let k = c.stream.read(&mut chunk).await?;
        if k == 0 {
            anyhow::bail!("connection closed before the answer's head");
        }
        c.buf.extend_from_slice(&chunk[..k]);
    };
    let body = loop {
        let rest = &c.buf[head.len..];
        match head.body {
            BodyLen::Exact(n) if rest.len() >= n => break rest[..n].to_vec(),
            BodyLen::Chunked => {
                if let Some(b) = dechunk(rest)? {
                    break b;
                }
            }
            _ => {}
        }
        let k = c.stream.read(&mut chunk).await?;
        if k == 0 {
            match head.body {
                BodyLen::UntilClose => break c.buf[head.len..].to_vec(),
                _ => anyhow::bail!("connection closed inside the answer's body"),
            }
        }
        c.buf.extend_from_slice(&chunk[..k]);
    };
    if !head.close && !matches!(head.body, BodyLen::UntilClose) {
        *conn = Some(c);
    }
    Ok((head.status, body))
}

/// `run` against the server process `pid`, also measuring the CPU it
/// spent, and its store writer thread's (tocsin's `tocsin-store-writer`,
/// named `tocsin-store-wr` in /proc).
pub async fn run_on<F>(pid: u32, n: usize, workers: usize, limit: Duration, make: F) -> Stats
where
    F: Fn(usize) -> Req,
{
    const WRITER: &str = "tocsin-store-wr";
    let before = crate::cpu::sample(pid, WRITER);
    let mut st = run(n, workers, limit, make).await;
    if let (Some(a), Some(b)) = (before, crate::cpu::sample(pid, WRITER)) {
        st.server_cpu = Some(b.process.saturating_sub(a.process));
        st.writer_cpu = (b.named > Duration::ZERO).then(|| b.named.saturating_sub(a.named));
    }
    st
}

/// Runs `n` requests built by `make(i)` at `workers` concurrency, for at
/// most `limit`.
pub async fn run<F>(n: usize, workers: usize, limit: Duration, make: F) -> Stats
where
    F: Fn(usize) -> Req,
{
    // Every request is built before the clock starts.
    let mut prepared = Vec::with_capacity(n);
    let mut bad = None;
    for i in 0..n {
        match prepare(make(i)) {
            Ok(r) => prepared.push(r),
            Err(e) => {
                bad = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(e) = bad {
        return Stats {
            sent: 0,
            failed: n,
            first_error: Some(e),
            ..Stats::default()
        };
    }
    let prepared = Arc::new(prepared);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (prepared, next) = (prepared.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = Stats::default();
            let mut conn = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() >= deadline {
                    break;
                }
                let t0 = Instant::now();
                s.sent += 1;
                match send(&mut conn, &prepared[i]).await {
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
