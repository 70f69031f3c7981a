//! The scenarios of issue 7, in the order they run: ingest loads, alert-to-
//! page and escalation-lag on one daemon paging through the fake Twilio; the
//! same loads against Alertmanager; then the scale daemon (`scale.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{self, A2P_TOKEN, AM_TOKEN, LAG_TOKEN, PD_TOKEN, Sms};
use crate::daemon::Daemon;
use crate::load::{self, Req, Stats};
use crate::payload;
use crate::peer::{self, Alertmanager};
use crate::report::{Measure, Report, Throughput};
use crate::{Opts, fake, prom};

pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(30))
        .build()?)
}

pub fn say(what: &str) {
    eprintln!("[bench] {what}");
}

pub fn done(name: &str, s: &Stats) {
    say(&format!(
        "{name}: {} ok, {} failed, {:.0} req/s, p99 {:.2} ms{}",
        s.ok,
        s.failed,
        s.rate(),
        ms(s.pct(99.0)),
        s.first_error
            .as_ref()
            .map(|e| format!(" (first error: {e})"))
            .unwrap_or_default()
    ));
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub async fn metrics(http: &reqwest::Client, d: &Daemon) -> anyhow::Result<String> {
    Ok(http.get(d.url("/metrics")).send().await?.text().await?)
}

/// Sum of the `tocsin_incidents{state=…}` gauge.
pub fn incidents_in_store(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("tocsin_incidents{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.trim().parse::<f64>().ok())
        .sum()
}

pub fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit_once(' ')?.1.trim().parse().ok())
}

/// Waits (at most a minute) until the pages a load queued are sent, so the
/// next load is measured alone rather than alongside the last one's paging.
pub(crate) async fn settle(http: &reqwest::Client, d: &Daemon) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(text) = metrics(http, d).await
            && gauge(&text, "tocsin_outbox_depth") == Some(0.0)
        {
            say(&format!(
                "outbox drained {:.1} s after the load",
                started.elapsed().as_secs_f64()
            ));
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    say("outbox not drained after 60 s; going on");
}

pub async fn run_all(opts: &Opts) -> anyhow::Result<Report> {
    let s = opts.sizes;
    let http = client()?;
    let mut report = Report::new();
    let (n, c, limit) = (s.ingest, s.concurrency, opts.limit);

    // Calibration first, each alone on the machine.
    {
        let new_groups = |url: String| {
            move |i| Req {
                url: url.clone(),
                bearer: Some(AM_TOKEN.into()),
                body: new_body(i),
            }
        };
        let b = crate::bare::Bare::start()?;
        let st = load::run_on(b.pid(), n, c, limit, new_groups(b.url.clone())).await;
        done("bare handler", &st);
        report.bare = Some(st);
        drop(b);
        let dir = tempfile::tempdir()?;
        let f = crate::bare::Bare::start_floor(&dir.path().join("floor.db"))?;
        let st = load::run_on(f.pid(), n, c, limit, new_groups(f.url.clone())).await;
        done("durable floor", &st);
        report.floor = Some(st);
    }

    let (port, inbox) = fake::start().await?;
    let dir = tempfile::tempdir()?;
    let cfg = config::write(dir.path(), s.people, &Sms::Twilio { port })?;
    say(&format!(
        "starting {} on {}",
        opts.tocsin.display(),
        cfg.display()
    ));
    let d = Daemon::start(&opts.tocsin, &cfg)?;
    let url_am = d.url("/api/v1/alertmanager");
    let url_pd = d.url("/v2/enqueue");

    // ingest-new: every request a new group, so a new incident.
    let u = url_am.clone();
    let new = load::run_on(d.pid(), n, c, limit, move |i| Req {
        url: u.clone(),
        bearer: Some(AM_TOKEN.into()),
        body: new_body(i),
    })
    .await;
    done("ingest-new", &new);
    settle(&http, &d).await;

    // ingest-dup: one payload re-sent (the first request opens it).
    let dup_body = payload::am_webhook(
        "{}:{alertname=\"BenchDup\"}",
        "BenchDup",
        "d0",
        0x2000_0000_0000,
        "BenchDup on d0",
        None,
    );
    let u = url_am.clone();
    let warm = dup_body.clone();
    let _ = http
        .post(&u)
        .bearer_auth(AM_TOKEN)
        .header("content-type", "application/json")
        .body(warm)
        .send()
        .await?;
    let dup = load::run_on(d.pid(), n, c, limit, move |_| Req {
        url: u.clone(),
        bearer: Some(AM_TOKEN.into()),
        body: dup_body.clone(),
    })
    .await;
    done("ingest-dup", &dup);

    // ingest-join: a new alert (new fingerprint) into one open incident.
    let join_body = |i: usize| {
        payload::am_webhook(
            "{}:{alertname=\"BenchJoin\"}",
            "BenchJoin",
            &format!("j{i}"),
            0x3000_0000_0000 + i as u64,
            "BenchJoin",
            None,
        )
    };
    let _ = http
        .post(&url_am)
        .bearer_auth(AM_TOKEN)
        .header("content-type", "application/json")
        .body(join_body(n + 1))
        .send()
        .await?;
    let u = url_am.clone();
    let join = load::run_on(d.pid(), n, c, limit, move |i| Req {
        url: u.clone(),
        bearer: Some(AM_TOKEN.into()),
        body: join_body(i),
    })
    .await;
    done("ingest-join", &join);
    settle(&http, &d).await;

    // events-v2 new and dup.
    let u = url_pd.clone();
    let ev_new = load::run_on(d.pid(), n, c, limit, move |i| Req {
        url: u.clone(),
        bearer: None,
        body: payload::pd_trigger(PD_TOKEN, &format!("bench-new-{i}")),
    })
    .await;
    done("events-v2-new", &ev_new);
    settle(&http, &d).await;
    let ev_dup_body = payload::pd_trigger(PD_TOKEN, "bench-dup");
    let _ = http.post(&url_pd).body(ev_dup_body.clone()).send().await?;
    let u = url_pd.clone();
    let ev_dup = load::run_on(d.pid(), n, c, limit, move |_| Req {
        url: u.clone(),
        bearer: None,
        body: ev_dup_body.clone(),
    })
    .await;
    done("events-v2-dup", &ev_dup);

    // alert-to-page.
    let a2p = alert_to_page(&http, &d, &inbox, s.a2p, s.people).await?;
    // escalation-lag.
    let lag = escalation_lag(&http, &d, s.lag, c).await?;

    // Every accepted alert is in an incident.
    let text = metrics(&http, &d).await?;
    let stored = incidents_in_store(&text);
    let expected = new.ok + ev_new.ok + 3 + a2p.ok + lag.ok;
    report.measures.push(Measure {
        name: "stored: incidents in the store / new incidents answered 2xx".into(),
        value: format!("{stored:.0} / {expected}"),
        target: "equal".into(),
        met: Some((stored - expected as f64).abs() < 0.5),
    });
    report.measures.extend(a2p.measures);
    report.measures.extend(lag.measures);
    drop(d);

    // The peer.
    let mut am: [Option<Stats>; 3] = [None, None, None];
    if opts.peer && std::path::Path::new(peer::BINARY).exists() {
        let am_dir = tempfile::tempdir()?;
        let a = Alertmanager::start(am_dir.path(), port, &http).await?;
        let u = format!("{}/api/v2/alerts", a.base);
        let pn = s.peer;
        let url = u.clone();
        let st = load::run_on(a.pid(), pn, c, limit, move |i| Req {
            url: url.clone(),
            bearer: None,
            body: payload::am_alert("new", "BenchNew", &format!("n{i}")),
        })
        .await;
        done("alertmanager new group", &st);
        am[0] = Some(st);
        let url = u.clone();
        let dup_alert = payload::am_alert("dup", "BenchDup", "d0");
        let st = load::run_on(a.pid(), pn, c, limit, move |_| Req {
            url: url.clone(),
            bearer: None,
            body: dup_alert.clone(),
        })
        .await;
        done("alertmanager dup", &st);
        am[1] = Some(st);
        let url = u.clone();
        let st = load::run_on(a.pid(), pn, c, limit, move |i| Req {
            url: url.clone(),
            bearer: None,
            body: payload::am_alert("join", "BenchJoin", &format!("j{i}")),
        })
        .await;
        done("alertmanager join group", &st);
        am[2] = Some(st);
    } else {
        report.notes.push(format!(
            "Alertmanager comparison skipped ({} not run).",
            peer::BINARY
        ));
    }
    let [am_new, am_dup, am_join] = am;
    report.throughput = vec![
        Throughput::new(
            "ingest-new",
            "Alertmanager webhook, new group → new incident",
            new,
            am_new.clone(),
            Some(1.0),
        ),
        Throughput::new(
            "ingest-dup",
            "the same webhook re-sent",
            dup.clone(),
            am_dup.clone(),
            None,
        ),
        Throughput::new(
            "ingest-join",
            "new alert into one open incident",
            join,
            am_join,
            Some(1.0),
        ),
        Throughput::new(
            "events-v2-new",
            "/v2/enqueue, new dedup_key → new incident",
            ev_new,
            am_new,
            None,
        ),
        Throughput::new(
            "events-v2-dup",
            "/v2/enqueue, same dedup_key",
            ev_dup,
            am_dup,
            None,
        ),
    ];

    // Issue 14: a re-sent webhook at 90 % of what the bare handler serves.
    if let Some(bare) = &report.bare {
        let ratio = dup.rate() / bare.rate().max(1e-9);
        report.measures.push(Measure {
            name: "ingest-dup / bare handler (req/s)".into(),
            value: format!("{:.0} %", 100.0 * ratio),
            target: "≥ 90 %".into(),
            met: Some(ratio >= 0.9 && dup.failed == 0),
        });
    }
    if opts.scale {
        report
            .measures
            .extend(crate::scale::run(opts, &http).await?);
    }
    report.sms_received = inbox.sms.load(std::sync::atomic::Ordering::Relaxed);
    Ok(report)
}

/// The ingest-new body number `i`: a new group and fingerprint.
pub(crate) fn new_body(i: usize) -> String {
    payload::am_webhook(
        &format!("{{}}:{{alertname=\"BenchNew\", instance=\"n{i}\"}}"),
        "BenchNew",
        &format!("n{i}"),
        0x1000_0000_0000 + i as u64,
        &format!("BenchNew on n{i}"),
        None,
    )
}

pub struct Part {
    pub ok: usize,
    /// The median and 99th percentile of what the part measured.
    pub p50: Duration,
    pub p99: Duration,
    pub measures: Vec<Measure>,
}

/// Sends `n` webhooks one after another, each a new incident for its own
/// person, and times each from the send to the fake Twilio's receipt.
pub(crate) async fn alert_to_page(
    http: &reqwest::Client,
    d: &Daemon,
    inbox: &fake::Shared,
    n: usize,
    people: usize,
) -> anyhow::Result<Part> {
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let url = d.url("/api/v1/alertmanager");
    let mut ok = 0;
    let started = Instant::now();
    for i in 0..n {
        if started.elapsed() > Duration::from_secs(120) {
            break;
        }
        let tag = i as u64;
        let body = payload::am_webhook(
            &format!("{{}}:{{alertname=\"BenchPage\", instance=\"p{i}\"}}"),
            "BenchPage",
            &format!("p{i}"),
            0x4000_0000_0000 + tag,
            &format!("{}{tag}. bench page", fake::TAG),
            Some(&config::project(i % people)),
        );
        let t0 = Instant::now();
        if let Ok(mut m) = sent.lock() {
            m.insert(tag, t0);
        }
        let r = http
            .post(&url)
            .bearer_auth(A2P_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        if r.status().is_success() {
            ok += 1;
        }
        let _ = r.bytes().await;
    }
    // Wait (bounded) for the last pages.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = inbox.tagged.lock().map(|m| m.len()).unwrap_or(0);
        if got >= ok || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = sent.lock().map(|m| m.clone()).unwrap_or_default();
    let got = inbox.tagged.lock().map(|m| m.clone()).unwrap_or_default();
    let mut lat: Vec<Duration> = sent
        .iter()
        .filter_map(|(tag, t0)| got.get(tag).map(|t| t.saturating_duration_since(*t0)))
        .collect();
    lat.sort_unstable();
    let p99 = load::percentile(&lat, 99.0);
    say(&format!(
        "alert-to-page: {} of {ok} paged, p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        ms(load::percentile(&lat, 50.0)),
        ms(p99)
    ));
    let measures = vec![Measure {
        name: format!(
            "alert-to-page p50 / p99 / max ({} of {ok} incidents paged)",
            lat.len()
        ),
        value: format!(
            "{:.2} / {:.2} / {:.2} ms",
            ms(load::percentile(&lat, 50.0)),
            ms(p99),
            ms(lat.last().copied().unwrap_or_default())
        ),
        target: "p99 < 20 ms".into(),
        met: Some(lat.len() == ok && ok > 0 && p99 < Duration::from_millis(20)),
    }];
    Ok(Part {
        ok,
        p50: load::percentile(&lat, 50.0),
        p99,
        measures,
    })
}

/// Opens `n` incidents whose first step waits 1, 2 or 3 s, then reads how
/// late the deadlines fired from tocsin's own histogram.
pub(crate) async fn escalation_lag(
    http: &reqwest::Client,
    d: &Daemon,
    n: usize,
    c: usize,
) -> anyhow::Result<Part> {
    const NAME: &str = "tocsin_escalation_lag_seconds";
    let before = prom::histogram(&metrics(http, d).await?, NAME);
    let url = d.url("/api/v1/alertmanager");
    let st = load::run(n, c, Duration::from_secs(60), move |i| {
        let project = format!("lag{}", 1 + i % 3);
        Req {
            url: url.clone(),
            bearer: Some(LAG_TOKEN.into()),
            body: payload::am_webhook(
                &format!("{{}}:{{alertname=\"BenchLag\", instance=\"l{i}\"}}"),
                "BenchLag",
                &format!("l{i}"),
                0x5000_0000_0000 + i as u64,
                "BenchLag",
                Some(&project),
            ),
        }
    })
    .await;
    done("escalation-lag (opening)", &st);
    let deadline = Instant::now() + Duration::from_secs(60);
    let diff = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let diff = prom::histogram(&metrics(http, d).await?, NAME).minus(&before);
        if diff.count >= st.ok as f64 || Instant::now() > deadline {
            break diff;
        }
    };
    let (p50, p99, max) = (
        diff.quantile(0.5) * 1000.0,
        diff.quantile(0.99) * 1000.0,
        diff.max_bound() * 1000.0,
    );
    say(&format!(
        "escalation-lag: {} deadlines fired, p50 {p50:.1} ms, p99 {p99:.1} ms, max ≤ {max} ms",
        diff.count
    ));
    Ok(Part {
        ok: st.ok,
        p50: Duration::from_secs_f64(p50.max(0.0) / 1000.0),
        p99: Duration::from_secs_f64(p99.max(0.0) / 1000.0),
        measures: vec![Measure {
            name: format!(
                "escalation-lag p50 / p99 / max ({:.0} of {} deadlines fired, due 1–3 s after opening; from tocsin's histogram, interpolated in buckets)",
                diff.count, st.ok
            ),
            value: format!("{p50:.1} / {p99:.1} / ≤ {max} ms"),
            target: "p99 < 50 ms".into(),
            met: Some(diff.count >= st.ok as f64 && st.ok > 0 && p99 < 50.0),
        }],
    })
}
