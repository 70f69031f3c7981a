//! The scale scenario (issue 14): a database holding a long history —
//! `history` resolved incidents, written straight into the daemon's own
//! SQLite file while it is stopped, each with the rows a real one leaves
//! (alert, timeline, escalation state, a sent page, the group's last
//! snapshot) — and `open` incidents opened through the webhook as usual.
//! Measured: the fill, start-to-ready on the full file, resident memory,
//! list latency (first page of each filter), acknowledge latency, and
//! restart-to-ready after SIGKILL.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::{self, A2P_TOKEN, ADMIN_TOKEN, Sms};
use crate::daemon::Daemon;
use crate::load::{self, Req};
use crate::report::Measure;
use crate::scenarios::{done, gauge, incidents_in_store, metrics, ms, say};
use crate::{Opts, payload};

/// Where the generated configuration keeps the database (`storage.sqlite`).
const DB: &str = "data/tocsin.db";
/// First history incident's creation time (2025-01-01T00:00:00Z), ms.
const T0: i64 = 1_735_689_600_000;

pub async fn run(opts: &Opts, http: &reqwest::Client) -> anyhow::Result<Vec<Measure>> {
    let s = opts.sizes;
    let dir = tempfile::tempdir()?;
    let cfg = config::write(dir.path(), s.scale_people, &Sms::Log)?;
    // A first start creates and migrates the file; the history goes in while
    // the daemon is stopped.
    let mut d = Daemon::start(&opts.tocsin, &cfg)?;
    d.kill();
    let db = dir.path().join(DB);
    say(&format!(
        "scale: writing {} resolved incidents",
        s.scale_history
    ));
    let t = Instant::now();
    fill_history(&db, s.scale_history, s.scale_people)?;
    let fill = t.elapsed();
    let size = file_size(&db);
    say(&format!(
        "scale: history written in {:.1} s ({:.0} MiB)",
        fill.as_secs_f64(),
        mib(size)
    ));
    let first_start = d.kill_and_restart(http).await.context("start")?;
    let rss_started = d.rss_bytes()?;

    say(&format!("scale: opening {} incidents", s.scale_open));
    let url = d.url("/api/v1/alertmanager");
    let people = s.scale_people;
    let open = load::run(
        s.scale_open,
        s.concurrency,
        Duration::from_secs(300),
        move |i| Req {
            url: url.clone(),
            bearer: Some(A2P_TOKEN.into()),
            body: payload::am_webhook(
                &format!("{{}}:{{alertname=\"BenchScale\", instance=\"s{i}\"}}"),
                "BenchScale",
                &format!("s{i}"),
                0x6000_0000_0000 + i as u64,
                &format!("BenchScale on s{i}"),
                Some(&config::project(i % people)),
            ),
        },
    )
    .await;
    done("scale open", &open);
    // Measured at rest: the outbox drained (bounded).
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut text = metrics(http, &d).await?;
    while gauge(&text, "tocsin_outbox_depth").unwrap_or(0.0) > 0.0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        text = metrics(http, &d).await?;
    }
    let stored = incidents_in_store(&text);
    let rss_loaded = d.rss_bytes()?;

    // Acknowledge, one at a time, open incidents spread over the range
    // (the newest ids: the history holds the ids below them).
    let n = s.acks.min(open.ok.max(1));
    let step = (open.ok / n).max(1);
    let (base, first) = (d.base.clone(), s.scale_history as i64 + 1);
    let acks = load::run(n, 1, Duration::from_secs(120), move |i| Req {
        url: format!(
            "{base}/api/v1/incidents/{}/acknowledge",
            first + (i * step) as i64
        ),
        bearer: Some(ADMIN_TOKEN.into()),
        body: String::new(),
    })
    .await;
    done("scale acknowledge", &acks);

    let mut lists = Vec::new();
    for filter in ["open", "acknowledged", "resolved", "all"] {
        let st = list_latency(http, &d, filter, s.lists).await?;
        lists.push((filter, st));
    }
    let rss_used = d.rss_bytes()?;

    let restart = d.kill_and_restart(http).await.context("restart")?;
    let rss_restarted = d.rss_bytes()?;
    let _ = metrics(http, &d).await?;
    let _ = list_latency(http, &d, "open", 10).await?;
    let rss_after = d.rss_bytes()?.max(rss_restarted);
    say(&format!(
        "scale: {stored:.0} incidents, RSS {:.0} MiB, restart {:.0} ms",
        mib(rss_used.max(rss_loaded)),
        ms(restart)
    ));

    let full = s.scale_history >= 1_000_000;
    let target = |t: &str| {
        if full {
            t.to_string()
        } else {
            format!("{t} at 1M (scaled-down run)")
        }
    };
    let rss_max = rss_loaded.max(rss_used);
    let mut out = vec![
        Measure {
            name: format!(
                "scale: history written straight into the file ({} resolved incidents with their alert, 5 timeline events, escalation, sent page, last snapshot)",
                s.scale_history
            ),
            value: format!("{:.1} s, {:.0} MiB", fill.as_secs_f64(), mib(size)),
            target: "—".into(),
            met: None,
        },
        Measure {
            name: format!(
                "scale: start-to-ready on the filled file ({} incidents)",
                s.scale_history
            ),
            value: format!(
                "{:.0} ms (RSS {:.1} MiB)",
                ms(first_start),
                mib(rss_started)
            ),
            target: "—".into(),
            met: None,
        },
        Measure {
            name: format!(
                "scale: open rate ({} of {} new incidents over {} people, {} in flight, {} stored)",
                open.ok, s.scale_open, people, s.concurrency, s.scale_history
            ),
            value: format!(
                "{:.0} incidents/s (p99 {:.2} ms)",
                open.rate(),
                ms(open.pct(99.0))
            ),
            target: "—".into(),
            met: None,
        },
        Measure {
            name: format!(
                "scale: acknowledge p50 / p99 / max ({} of {n} acks, one at a time, {stored:.0} incidents stored)",
                acks.ok
            ),
            value: format!(
                "{:.2} / {:.2} / {:.2} ms",
                ms(acks.pct(50.0)),
                ms(acks.pct(99.0)),
                ms(acks.max())
            ),
            target: target("p99 < 10 ms"),
            met: full.then_some(acks.ok == n && acks.pct(99.0) < Duration::from_millis(10)),
        },
    ];
    for (filter, st) in &lists {
        out.push(Measure {
            name: format!(
                "scale: GET /api/v1/incidents?state={filter} (first page, 50) p50 / p99 / max ({} calls)",
                st.ok
            ),
            value: format!(
                "{:.2} / {:.2} / {:.2} ms",
                ms(st.pct(50.0)),
                ms(st.pct(99.0)),
                ms(st.max())
            ),
            target: "reported".into(),
            met: None,
        });
    }
    out.extend([
        Measure {
            name: "scale: resident memory after opening, acknowledging and listing (VmRSS, highest reading)"
                .into(),
            value: format!("{:.1} MiB", mib(rss_max)),
            target: target("< 150 MB (143.1 MiB)"),
            met: full.then_some(rss_max < 150_000_000),
        },
        Measure {
            name: format!(
                "scale: restart-to-ready (SIGKILL, start, first /readyz 200; {stored:.0} incidents)"
            ),
            value: format!("{:.0} ms", ms(restart)),
            target: target("< 1 s"),
            met: full.then_some(restart < Duration::from_secs(1)),
        },
        Measure {
            name: "scale: resident memory after the restart, a /metrics scrape and a list".into(),
            value: format!("{:.1} MiB", mib(rss_after)),
            target: target("< 150 MB"),
            met: full.then_some(rss_after < 150_000_000),
        },
    ]);
    Ok(out)
}

/// `n` sequential `GET /api/v1/incidents?state=…` (first page), timed.
async fn list_latency(
    http: &reqwest::Client,
    d: &Daemon,
    filter: &str,
    n: usize,
) -> anyhow::Result<load::Stats> {
    let url = d.url(&format!("/api/v1/incidents?state={filter}&limit=50"));
    let mut st = load::Stats::default();
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let r = http.get(&url).bearer_auth(ADMIN_TOKEN).send().await?;
        let ok = r.status().is_success();
        let _ = r.bytes().await?;
        st.sent += 1;
        if ok {
            st.ok += 1;
            st.latencies.push(t.elapsed());
        } else {
            st.failed += 1;
        }
    }
    st.elapsed = started.elapsed();
    st.latencies.sort_unstable();
    say(&format!(
        "scale list {filter}: p50 {:.2} ms, p99 {:.2} ms",
        ms(st.pct(50.0)),
        ms(st.pct(99.0))
    ));
    Ok(st)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

fn file_size(db: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(p).ok().map(|m| m.len())
        })
        .sum()
}

/// Writes `n` resolved incidents over `people` projects in one transaction,
/// as the daemon would have left them: an alert, five timeline events
/// (opened, alert attached, page queued, acknowledged, resolved), the
/// escalation state, a sent SMS page and the group's last snapshot. An
/// incident a minute, acknowledged after 2 min and resolved after 30.
fn fill_history(db: &Path, n: usize, people: usize) -> anyhow::Result<()> {
    let mut c = rusqlite::Connection::open(db)?;
    c.pragma_update(None, "synchronous", "OFF")?;
    c.pragma_update(None, "cache_size", -262_144)?;
    let t = c.transaction()?;
    let people = people.max(1);
    t.execute_batch(&format!(
        "CREATE TEMP TABLE h AS
           WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})
           SELECT i,
                  printf('a%04d', i % {people}) AS project,
                  printf('p%04d', i % {people}) AS person,
                  printf('+1555%07d', i % {people}) AS phone,
                  printf('h%d', i) AS instance,
                  printf('{{}}:{{alertname=\"BenchHistory\", instance=\"h%d\"}}', i) AS group_key,
                  {T0} + i * 60000 AS at
           FROM s;
         INSERT INTO incidents (id, project, client, title, severity, state, critical, source,
             integration, dedup_key, client_reported, labels, annotations, links, details,
             alert_count, created_at, last_seen_at, acknowledged_at, resolved_at, assignee,
             ref_prefix, ref_seq, started_at, announced)
           SELECT i, project, 'bench', 'BenchHistory on ' || instance, 'critical', 'resolved', 1,
             'alertmanager', 'a2p', group_key, 0,
             json_object('alertname', 'BenchHistory', 'instance', instance, 'project', project,
                         'severity', 'critical'),
             json_object('summary', 'BenchHistory on ' || instance), '[]', 'null',
             1, at, at + 1800000, at + 120000, at + 1800000, person, 'BENCH', i, at - 60000, 0
           FROM h;
         INSERT INTO alerts (incident, fingerprint, status, summary, labels, first_seen, last_seen)
           SELECT i, printf('%016x', 0x7000000000000 + i), 'resolved', 'BenchHistory on ' || instance,
             json_object('alertname', 'BenchHistory', 'instance', instance, 'project', project,
                         'severity', 'critical'),
             at, at + 1800000
           FROM h;
         INSERT INTO timeline (incident, at, actor, kind, detail)
           SELECT i, at, 'integration:a2p', 'opened',
             json_object('state', 'triggered', 'severity', 'critical', 'critical', json('true'),
                         'project', project, 'source', 'alertmanager',
                         'title', 'BenchHistory on ' || instance)
           FROM h;
         INSERT INTO timeline (incident, at, actor, kind, detail)
           SELECT i, at, 'integration:a2p', 'alert attached',
             json_object('fingerprint', printf('%016x', 0x7000000000000 + i),
                         'summary', 'BenchHistory on ' || instance)
           FROM h;
         INSERT INTO timeline (incident, at, actor, kind, detail)
           SELECT i, at, 'system', 'page queued',
             json_object('person', person, 'channel', 'sms', 'reason', 'nearest', 'outbox', i)
           FROM h;
         INSERT INTO timeline (incident, at, actor, kind, detail)
           SELECT i, at + 120000, 'person:' || person, 'acknowledged',
             json_object('how', 'sms', 'from', 'triggered')
           FROM h;
         INSERT INTO timeline (incident, at, actor, kind, detail)
           SELECT i, at + 1800000, 'integration:a2p', 'resolved',
             json_object('how', 'all alerts resolved', 'from', 'acknowledged')
           FROM h;
         INSERT INTO escalations (incident, state)
           SELECT i, json_object('policy', 'default', 'step', 0, 'round', 0,
                                 'paged', json_array(person), 'round_start', 0, 'next_at', NULL)
           FROM h;
         INSERT INTO outbox (id, incident, person, kind, channel, target, subject, body, status,
             attempts, due_at, created_at, sent_at, provider, provider_id)
           SELECT i, i, person, 'page', 'sms', phone, 'BenchHistory on ' || instance,
             'tocsin #' || i || ' BenchHistory on ' || instance, 'sent', 1, at, at, at + 200,
             'log', 'log-' || i
           FROM h;
         INSERT INTO delivery_last (integration, group_key, key)
           SELECT 'a2p', group_key, printf('%032x', i) FROM h;
         DROP TABLE h;"
    ))?;
    t.commit()?;
    // As the daemon leaves it: the WAL checkpointed into the database.
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}
