//! `--store postgres`: the same loads against SQLite and PostgreSQL in one
//! run (each on a fresh daemon and a fresh store), printed side by side with
//! the PostgreSQL / SQLite ratio, then the failover scenario: two daemons on
//! one PostgreSQL database, one killed with SIGKILL while escalations it
//! opened are pending; how soon they fire on the other.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::config::{self, AM_TOKEN, FAILOVER_WAIT, LAG_TOKEN, Sms};
use crate::daemon::Daemon;
use crate::load::{self, Req, Stats};
use crate::scenarios::{alert_to_page, done, escalation_lag, metrics, ms, new_body, say, settle};
use crate::store::{self, Store};
use crate::{Opts, fake, payload, prom};

/// What one store measured.
struct Side {
    new: Stats,
    join: Stats,
    dup: Stats,
    a2p: (Duration, Duration),
    lag: (Duration, Duration),
}

pub async fn run(opts: &Opts, server: &str) -> anyhow::Result<String> {
    let http = crate::scenarios::client()?;
    let load_before = loadavg();
    let sqlite = side(opts, &http, &Store::Sqlite).await?;
    let pg = side(opts, &http, &Store::Postgres(server.to_string())).await?;
    let failover = failover(opts, &http, server).await?;
    Ok(markdown(opts, &load_before, &sqlite, &pg, &failover))
}

async fn side(opts: &Opts, http: &reqwest::Client, store: &Store) -> anyhow::Result<Side> {
    let s = opts.sizes;
    let (n, c, limit) = (s.ingest, s.concurrency, opts.limit);
    let (port, inbox) = fake::start().await?;
    let dir = tempfile::tempdir()?;
    let cfg = config::write(dir.path(), s.people, &Sms::Twilio { port })?;
    store::apply(&cfg, store).await?;
    say(&format!(
        "{}: starting {}",
        store.name(),
        opts.tocsin.display()
    ));
    let d = Daemon::start(&opts.tocsin, &cfg)?;
    let url = d.url("/api/v1/alertmanager");
    let post = |u: String, body: fn(usize) -> String| {
        move |i| Req {
            url: u.clone(),
            bearer: Some(AM_TOKEN.into()),
            body: body(i),
        }
    };

    let new = load::run_on(d.pid(), n, c, limit, post(url.clone(), new_body)).await;
    done(&format!("{} ingest-new", store.name()), &new);
    settle(http, &d).await;

    fn join_body(i: usize) -> String {
        payload::am_webhook(
            "{}:{alertname=\"BenchJoin\"}",
            "BenchJoin",
            &format!("j{i}"),
            0x3000_0000_0000 + i as u64,
            "BenchJoin",
            None,
        )
    }
    fn dup_body(_: usize) -> String {
        payload::am_webhook(
            "{}:{alertname=\"BenchDup\"}",
            "BenchDup",
            "d0",
            0x2000_0000_0000,
            "BenchDup on d0",
            None,
        )
    }
    for first in [join_body(usize::MAX >> 16), dup_body(0)] {
        let _ = http
            .post(&url)
            .bearer_auth(AM_TOKEN)
            .header("content-type", "application/json")
            .body(first)
            .send()
            .await?;
    }
    let join = load::run_on(d.pid(), n, c, limit, post(url.clone(), join_body)).await;
    done(&format!("{} ingest-join", store.name()), &join);
    settle(http, &d).await;
    let dup = load::run_on(d.pid(), n, c, limit, post(url.clone(), dup_body)).await;
    done(&format!("{} ingest-dup", store.name()), &dup);

    let a2p = alert_to_page(http, &d, &inbox, s.a2p, s.people).await?;
    let lag = escalation_lag(http, &d, s.lag, c).await?;
    Ok(Side {
        new,
        join,
        dup,
        a2p: (a2p.p50, a2p.p99),
        lag: (lag.p50, lag.p99),
    })
}

/// What the failover scenario saw.
struct Failover {
    opened: usize,
    /// From the start of the opening load to the SIGKILL.
    open_to_kill: Duration,
    /// From the SIGKILL to the last of the escalations fired on the survivor.
    kill_to_all: Option<Duration>,
    fired: f64,
    lag: (f64, f64, f64),
}

async fn failover(opts: &Opts, http: &reqwest::Client, server: &str) -> anyhow::Result<Failover> {
    const NAME: &str = "tocsin_escalation_lag_seconds";
    let s = opts.sizes;
    let url = store::fresh_database(server).await?;
    let (dir_a, dir_b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let cfg_a = config::write(dir_a.path(), s.people, &Sms::Log)?;
    let cfg_b = config::write(dir_b.path(), s.people, &Sms::Log)?;
    store::attach(&cfg_a, &url)?;
    store::attach(&cfg_b, &url)?;
    say("failover: starting two daemons on one PostgreSQL database");
    let mut a = Daemon::start(&opts.tocsin, &cfg_a)?;
    let b = Daemon::start(&opts.tocsin, &cfg_b)?;
    let before = prom::histogram(&metrics(http, &b).await?, NAME);

    // Open the incidents on A only; their first escalation is due
    // FAILOVER_WAIT later. Bounded so A is killed before the first is due.
    let n = s.lag;
    let target = a.url("/api/v1/alertmanager");
    let opened_at = Instant::now();
    let st = load::run(n, s.concurrency, FAILOVER_WAIT / 2, move |i| Req {
        url: target.clone(),
        bearer: Some(LAG_TOKEN.into()),
        body: payload::am_webhook(
            &format!("{{}}:{{alertname=\"BenchFailover\", instance=\"f{i}\"}}"),
            "BenchFailover",
            &format!("f{i}"),
            0x6000_0000_0000 + i as u64,
            "BenchFailover",
            Some("failover"),
        ),
    })
    .await;
    done("failover (opening on the first daemon)", &st);
    a.kill();
    let killed = Instant::now();
    let open_to_kill = killed - opened_at;
    say(&format!(
        "failover: first daemon killed {:.2} s after the opening began",
        open_to_kill.as_secs_f64()
    ));

    let deadline = killed + FAILOVER_WAIT + Duration::from_secs(60);
    let mut kill_to_all = None;
    let diff = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let diff = prom::histogram(&metrics(http, &b).await?, NAME).minus(&before);
        if diff.count >= st.ok as f64 {
            kill_to_all = Some(killed.elapsed());
            break diff;
        }
        if Instant::now() > deadline {
            break diff;
        }
    };
    let lag = (
        diff.quantile(0.5) * 1000.0,
        diff.quantile(0.99) * 1000.0,
        diff.max_bound() * 1000.0,
    );
    say(&format!(
        "failover: {} of {} fired on the survivor, last {:?} after the kill",
        diff.count, st.ok, kill_to_all
    ));
    drop(b);
    Ok(Failover {
        opened: st.ok,
        open_to_kill,
        kill_to_all,
        fired: diff.count,
        lag,
    })
}

fn ratio(pg: f64, sqlite: f64) -> String {
    if sqlite > 0.0 {
        format!("{:.2}", pg / sqlite)
    } else {
        "–".into()
    }
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn markdown(opts: &Opts, load_before: &str, sqlite: &Side, pg: &Side, f: &Failover) -> String {
    let s = opts.sizes;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Load average (1/5/15 min) before the run: {load_before}; after: {}\n",
        loadavg()
    );
    let _ = writeln!(
        out,
        "Both stores in this one run, one after the other, each on a fresh daemon and store; {} requests per ingest load at {} in flight, {} alert-to-page incidents, {} escalation-lag incidents.\n",
        s.ingest, s.concurrency, s.a2p, s.lag
    );
    out.push_str("| measure | SQLite | PostgreSQL | PostgreSQL / SQLite |\n|---|---:|---:|---:|\n");
    let rates = [
        ("ingest-new (req/s)", &sqlite.new, &pg.new),
        ("ingest-join (req/s)", &sqlite.join, &pg.join),
        ("ingest-dup (req/s)", &sqlite.dup, &pg.dup),
    ];
    for (name, a, b) in rates {
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.0} | {} |",
            a.rate(),
            b.rate(),
            ratio(b.rate(), a.rate())
        );
        let _ = writeln!(
            out,
            "| {} p99 (ms) | {:.2} | {:.2} | {} |",
            name.trim_end_matches(" (req/s)"),
            ms(a.pct(99.0)),
            ms(b.pct(99.0)),
            ratio(ms(b.pct(99.0)), ms(a.pct(99.0)))
        );
        if a.failed + b.failed > 0 {
            let _ = writeln!(
                out,
                "| {} failed | {} | {} | |",
                name.trim_end_matches(" (req/s)"),
                a.failed,
                b.failed
            );
        }
    }
    let latencies = [
        ("alert-to-page p50 (ms)", sqlite.a2p.0, pg.a2p.0),
        ("alert-to-page p99 (ms)", sqlite.a2p.1, pg.a2p.1),
        ("escalation-lag p50 (ms)", sqlite.lag.0, pg.lag.0),
        ("escalation-lag p99 (ms)", sqlite.lag.1, pg.lag.1),
    ];
    for (name, a, b) in latencies {
        let _ = writeln!(
            out,
            "| {name} | {:.2} | {:.2} | {} |",
            ms(a),
            ms(b),
            ratio(ms(b), ms(a))
        );
    }
    let _ = writeln!(
        out,
        "\nFailover (PostgreSQL only): two daemons on one database; {} incidents opened on the first (escalation due {} s after opening), which was killed with SIGKILL {:.2} s after the opening began.\n",
        f.opened,
        FAILOVER_WAIT.as_secs(),
        f.open_to_kill.as_secs_f64()
    );
    out.push_str("| measure | value |\n|---|---:|\n");
    let _ = writeln!(
        out,
        "| escalations fired on the survivor | {:.0} / {} |",
        f.fired, f.opened
    );
    let _ = writeln!(
        out,
        "| SIGKILL → last escalation fired on the survivor | {} |",
        f.kill_to_all
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .unwrap_or_else(|| "not all within 60 s".into())
    );
    let _ = writeln!(
        out,
        "| the last of them was due after the kill, at most | {:.2} s |",
        FAILOVER_WAIT.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| lateness past due on the survivor p50 / p99 / max (its histogram) | {:.1} / {:.1} / ≤ {} ms |",
        f.lag.0, f.lag.1, f.lag.2
    );
    out
}
