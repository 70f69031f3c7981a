//! The `storm` scenario (issue 14): one project flooded with new
//! Alertmanager groups at the highest rate the client reaches, while a probe
//! opens an incident on another project (its own person and policy) every
//! 1.3 s — past the SMS bundle window, so each probe is a fresh SMS — and
//! times alert → SMS at the fake Twilio, then acknowledges the incident and
//! times that answer. The same probe runs first at rest. The outbox depth is
//! sampled from `/metrics` throughout.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::config::{self, AM_TOKEN, PROBE_PERSON_TOKEN, PROBE_TOKEN, Sms};
use crate::daemon::Daemon;
use crate::load::{self, Req, Stats};
use crate::scenarios::{gauge, metrics, ms, say};
use crate::{Opts, fake, payload, report};

/// A probe every this long: past the 1 s SMS bundle window.
const EVERY: Duration = Duration::from_millis(1300);
/// Probe tags start here (the fake Twilio reads `A2P<tag>.` in bodies).
const FIRST_TAG: u64 = 1_000_000;

/// One probe: alert → SMS, and the acknowledge's answer, if each happened.
#[derive(Debug, Clone, Copy, Default)]
struct Probe {
    page: Option<Duration>,
    ack: Option<Duration>,
}

struct Phase {
    probes: Vec<Probe>,
}

impl Phase {
    fn sorted(&self, f: impl Fn(&Probe) -> Option<Duration>) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.probes.iter().filter_map(f).collect();
        v.sort_unstable();
        v
    }

    fn row(&self, name: &str) -> String {
        let cell = |v: &[Duration]| {
            format!(
                "{:.2} | {:.2} | {:.2}",
                ms(load::percentile(v, 50.0)),
                ms(load::percentile(v, 99.0)),
                ms(v.last().copied().unwrap_or_default())
            )
        };
        let (pages, acks) = (self.sorted(|p| p.page), self.sorted(|p| p.ack));
        format!(
            "| {name} | {} of {} | {} | {} |",
            pages.len(),
            self.probes.len(),
            cell(&pages),
            cell(&acks)
        )
    }

    fn page_p99(&self) -> Option<Duration> {
        let v = self.sorted(|p| p.page);
        (v.len() == self.probes.len() && !v.is_empty()).then(|| load::percentile(&v, 99.0))
    }
}

/// The probe's webhook number `tag`: a new group on the probe's project.
fn probe_body(tag: u64) -> String {
    payload::am_webhook(
        &format!("{{}}:{{alertname=\"Probe\", instance=\"q{tag}\"}}"),
        "Probe",
        &format!("q{tag}"),
        0x7000_0000_0000 + tag,
        &format!("{}{tag}. probe", fake::TAG),
        None,
    )
}

/// The storm's webhook number `i`: a new group on the bulk project.
fn storm_body(i: usize) -> String {
    payload::am_webhook(
        &format!("{{}}:{{alertname=\"Storm\", instance=\"s{i}\"}}"),
        "Storm",
        &format!("s{i}"),
        0x8000_0000_0000 + i as u64,
        &format!("Storm on s{i}"),
        None,
    )
}

/// Sends one probe; a task waits for its SMS, then acknowledges.
async fn probe_once(
    http: &reqwest::Client,
    d: &Daemon,
    inbox: &fake::Shared,
    tag: u64,
) -> tokio::task::JoinHandle<Probe> {
    let (http, inbox) = (http.clone(), inbox.clone());
    let (url, base) = (d.url("/api/v1/alertmanager"), d.base.clone());
    tokio::spawn(async move {
        let t0 = Instant::now();
        let sent = http
            .post(&url)
            .bearer_auth(PROBE_TOKEN)
            .header("content-type", "application/json")
            .body(probe_body(tag))
            .send()
            .await;
        let id = match sent {
            Ok(r) if r.status().is_success() => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["outcome"]["opened"][0].as_i64()),
            _ => None,
        };
        let Some(id) = id else {
            return Probe::default();
        };
        let deadline = t0 + Duration::from_secs(60);
        let page = loop {
            let at = inbox.tagged.lock().ok().and_then(|m| m.get(&tag).copied());
            if let Some(at) = at {
                break Some(at.saturating_duration_since(t0));
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let t1 = Instant::now();
        let acked = http
            .post(format!("{base}/api/v1/incidents/{id}/acknowledge"))
            .bearer_auth(PROBE_PERSON_TOKEN)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        Probe {
            page,
            ack: acked.then(|| t1.elapsed()),
        }
    })
}

/// Probes every `EVERY` until `until` says stop (checked before each).
async fn probes(
    http: &reqwest::Client,
    d: &Daemon,
    inbox: &fake::Shared,
    first_tag: u64,
    until: impl Fn(usize) -> bool,
) -> (Phase, u64) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = Vec::new();
    let mut tag = first_tag;
    while !until(tasks.len()) {
        tick.tick().await;
        tasks.push(probe_once(http, d, inbox, tag).await);
        tag += 1;
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap_or_default());
    }
    (Phase { probes: out }, tag)
}

/// `(seconds since the storm began, outbox depth)` every second until the
/// storm is over and the outbox empty (at most two minutes after).
async fn sample_depth(
    http: reqwest::Client,
    metrics_url: String,
    started: Instant,
    over: Arc<std::sync::atomic::AtomicBool>,
) -> (Vec<(f64, f64)>, Option<Duration>) {
    let mut out = Vec::new();
    let mut over_at = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let depth = match http.get(&metrics_url).send().await {
            Ok(r) => r
                .text()
                .await
                .ok()
                .and_then(|t| gauge(&t, "tocsin_outbox_depth")),
            Err(_) => None,
        };
        let t = started.elapsed();
        if let Some(d) = depth {
            out.push((t.as_secs_f64(), d));
        }
        if over.load(Ordering::SeqCst) {
            let at = *over_at.get_or_insert(t);
            if depth == Some(0.0) {
                return (out, Some(t.saturating_sub(at)));
            }
            if t > at + Duration::from_secs(120) {
                return (out, None);
            }
        }
    }
}

/// Runs the scenario on its own daemon; returns the Markdown to print.
pub async fn run(opts: &Opts, http: &reqwest::Client) -> anyhow::Result<String> {
    let load_before = report::loadavg();
    let (rest_n, storm_for) = if opts.quick {
        (5, Duration::from_secs(15))
    } else {
        (20, Duration::from_secs(40))
    };
    let c = opts.sizes.concurrency;
    let (port, inbox) = fake::start().await?;
    let dir = tempfile::tempdir()?;
    let cfg = config::write(dir.path(), 10, &Sms::Twilio { port })?;
    let d = Daemon::start(&opts.tocsin, &cfg)?;
    say(&format!("storm: {rest_n} probes at rest"));
    let (rest, tag) = probes(http, &d, &inbox, FIRST_TAG, |n| n >= rest_n).await;
    say(&format!("at rest: {}", rest.row("at rest")));

    // Enough requests for the time at any rate this machine reaches.
    let n = (storm_for.as_secs() as usize) * 8_000;
    let url = d.url("/api/v1/alertmanager");
    let pid = d.pid();
    let sms_before = inbox.sms.load(Ordering::Relaxed);
    say(&format!(
        "storm: {} s at {c} in flight",
        storm_for.as_secs()
    ));
    let started = Instant::now();
    let over = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = tokio::spawn(sample_depth(
        http.clone(),
        d.url("/metrics"),
        started,
        over.clone(),
    ));
    let storm = tokio::spawn(async move {
        load::run_on(pid, n, c, storm_for, move |i| Req {
            url: url.clone(),
            bearer: Some(AM_TOKEN.into()),
            body: storm_body(i),
        })
        .await
    });
    // Probe only while the storm's requests are on the wire (they are built
    // first, which takes a moment).
    let before = alerts_received(http, &d).await;
    while started.elapsed() < Duration::from_secs(60)
        && alerts_received(http, &d).await < before + 100.0
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let storm_done = {
        let storm = &storm;
        move |_| storm.is_finished()
    };
    let (during, _) = probes(http, &d, &inbox, tag, storm_done).await;
    let st: Stats = storm.await?;
    over.store(true, Ordering::SeqCst);
    let (depths, drained) = sampler.await?;
    let storm_sms = inbox.sms.load(Ordering::Relaxed) - sms_before;
    say(&format!("during the storm: {}", during.row("during")));

    let mut o = String::new();
    let args: Vec<String> = std::env::args().collect();
    let _ = writeln!(
        o,
        "Load average (1/5/15 min) before the run: {load_before}; after: {}",
        report::loadavg()
    );
    let _ = writeln!(o, "Command: `{}`", args.join(" "));
    let _ = writeln!(
        o,
        "Storm: new Alertmanager groups on project `bulk` (person p0000, policy `default`: SMS), {c} in flight for {} s; probe: a new group on project `probe` (person `probe`, policy `probe`: SMS) every {} ms, timed from the send to the fake Twilio's receipt of its SMS, then acknowledged by that person (timed from the send of the acknowledge to its answer).",
        storm_for.as_secs(),
        EVERY.as_millis()
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "| phase | probes paged | page p50 ms | page p99 ms | page max ms | ack p50 ms | ack p99 ms | ack max ms |"
    );
    let _ = writeln!(o, "|---|--:|--:|--:|--:|--:|--:|--:|");
    let _ = writeln!(o, "{}", rest.row("at rest"));
    let _ = writeln!(o, "{}", during.row("during the storm"));
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Storm: {} new groups answered 2xx in {:.1} s = {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms), {} errors{}; tocsin CPU {} µs/req (writer {}); {storm_sms} SMS received during it (bundles to p0000 and the probes).",
        st.ok,
        st.elapsed.as_secs_f64(),
        st.rate(),
        ms(st.pct(50.0)),
        ms(st.pct(99.0)),
        st.failed,
        st.first_error
            .as_ref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        st.cpu_us().map_or("—".into(), |c| format!("{c:.0}")),
        st.writer_us().map_or("—".into(), |c| format!("{c:.0}")),
    );
    let _ = writeln!(o);
    let line: Vec<String> = depths
        .iter()
        .map(|(t, d)| format!("{t:.0} s: {d:.0}"))
        .collect();
    let _ = writeln!(
        o,
        "Outbox depth (pending, sending and folded into an unsent bundle: `tocsin_outbox_depth`) each second from the storm's start: {}.",
        line.join(" · ")
    );
    let _ = writeln!(
        o,
        "Outbox empty {} after the storm's last request.",
        drained.map_or("not within 120 s".into(), |d| format!(
            "{:.1} s",
            d.as_secs_f64()
        ))
    );
    let _ = writeln!(o);
    let p99 = during.page_p99();
    let _ = writeln!(o, "| target | value | |");
    let _ = writeln!(o, "|---|---|---|");
    let _ = writeln!(
        o,
        "| probe alert → page p99 during the storm < 50 ms | {} | {} |",
        p99.map_or("not every probe paged".into(), |d| format!(
            "{:.2} ms",
            ms(d)
        )),
        if p99.is_some_and(|d| d < Duration::from_millis(50)) {
            "**met**"
        } else {
            "**missed**"
        }
    );
    Ok(o)
}

/// Alerts received so far (`tocsin_alerts_received_total`, every label).
async fn alerts_received(http: &reqwest::Client, d: &Daemon) -> f64 {
    match metrics(http, d).await {
        Ok(text) => text
            .lines()
            .filter(|l| l.starts_with("tocsin_alerts_received_total"))
            .filter_map(|l| l.rsplit_once(' ')?.1.trim().parse::<f64>().ok())
            .sum(),
        Err(_) => 0.0,
    }
}
