//! Two daemons (the real binary, the system clock) on one PostgreSQL
//! database, one of them killed with SIGKILL again and again while alerts
//! arrive at both. Each daemon pages through a fake Twilio of its own, so
//! the test knows which daemon made each call and can hold one daemon's
//! call in flight at the moment it dies. PostgreSQL only: on a SQLite run
//! these say so and return (CI runs them in its PostgreSQL pass).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tocsin::notify::email::fake_smtp::FakeSmtp;

use super::crash::{kill_9, moments, start};
use super::rig::{ALICE_PHONE, BOB_PHONE, Shape, TWILIO_TOKEN, alert_payload, named, roster};
use crate::fakes::{FakeTwilio, Reply, Resource, TwilioRequest};
use crate::helpers::{AM_TOKEN, BOB_TOKEN, Process, TEST_POSTGRES, on_test_store, sha};

/// Two steps by phone call (a call names one incident, so every page is
/// counted exactly), `WAIT` apart; the policy is exhausted `WAIT` after
/// the second.
const STEPS: &str = "      - { notify: nearest, via: [voice], wait: 3s }
      - { notify: next, via: [voice], wait: 3s }";
const WAIT: TimeDelta = TimeDelta::seconds(3);
/// A correctness bound, not a benchmark: every step fires, and its page
/// reaches Twilio, within this of its deadline, whichever daemon is alive.
const LATE: TimeDelta = TimeDelta::seconds(5);
/// How soon the other daemon sends a page the killed one had in flight
/// (it looks for such pages twice a second).
const TAKEOVER: Duration = Duration::from_secs(3);
/// A held call is answered only after this: never before its daemon dies.
const HOLD: Duration = Duration::from_secs(10);
/// Time for the daemon that did not take a page to go idle.
const IDLE: Duration = Duration::from_secs(1);
/// How long any other wait may take.
const PATIENCE: Duration = Duration::from_secs(10);
/// Between two alerts from one sender.
const PACE: Duration = Duration::from_millis(150);
/// The second project's Alertmanager token: alice is its nearest.
const API_TOKEN: &str = "am-api-token-0123456789";
const DAVE_PHONE: &str = "+12125550104";

/// Two configurations of one database, each naming a fake Twilio of its
/// own; the fakes stay up while the test runs.
struct Pair {
    configs: [PathBuf; 2],
    twilio: [FakeTwilio; 2],
    _smtp: FakeSmtp,
    _dir: tempfile::TempDir,
}

/// The pair, or None on a SQLite run.
async fn pair(steps: &str) -> Option<Pair> {
    if std::env::var(TEST_POSTGRES).map_or(true, |u| u.is_empty()) {
        eprintln!("{TEST_POSTGRES} is not set: two daemons need PostgreSQL; not run");
        return None;
    }
    let twilio = [FakeTwilio::start().await, FakeTwilio::start().await];
    let smtp = FakeSmtp::start().await.expect("fake smtp");
    let shape = Shape {
        bundle_window: "1s",
        steps,
        repeat: 0,
        sms_per_hour: 20,
        hours: "always",
        bob_notify: "",
    };
    let mut yaml = roster(&twilio[0].base_url(), smtp.addr().port(), &shape).replace(
        "projects:\n",
        "projects:\n  - id: api\n    client: acme\n    team: web\n    responders: [alice]\n    update_every: 1w\n",
    );
    yaml.push_str(&format!(
        "  - id: prom-api\n    type: alertmanager\n    token_sha256: {}\n    project: api\n",
        sha(API_TOKEN)
    ));
    let dir = tempfile::tempdir().expect("temp dir");
    let folders = [dir.path().join("a"), dir.path().join("b")];
    for f in &folders {
        std::fs::create_dir(f).expect("folder");
    }
    let yaml = on_test_store(&yaml, &folders[0]);
    std::fs::copy(folders[0].join("pg.url"), folders[1].join("pg.url")).expect("pg.url");
    for (f, t) in folders.iter().zip(&twilio) {
        let own = yaml.replace(&twilio[0].base_url(), &t.base_url());
        std::fs::write(f.join("tocsin.yaml"), own).expect("config");
        std::fs::write(f.join("twilio.token"), TWILIO_TOKEN).expect("token");
        std::fs::write(f.join("slack.url"), "http://127.0.0.1:9/hook").expect("url");
    }
    Some(Pair {
        configs: folders.map(|f| f.join("tocsin.yaml")),
        twilio,
        _smtp: smtp,
        _dir: dir,
    })
}

/// Posts one alert, to project shop or (`api`) project api; the incident
/// it opened when answered 200.
async fn post(http: &reqwest::Client, base: &str, name: &str, api: bool) -> Option<i64> {
    let r = http
        .post(format!("{base}/api/v1/alertmanager"))
        .bearer_auth(if api { API_TOKEN } else { AM_TOKEN })
        .json(&alert_payload(name))
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let body: Value = r.json().await.ok()?;
    body["outcome"]["opened"][0].as_i64()
}

/// Posts alerts to daemon `to` until `stop`, both projects in turn;
/// returns the incidents answered 200. A daemon that is down refuses the
/// connection: that alert was not accepted, and the next one is tried.
async fn send(bases: Arc<Mutex<[String; 2]>>, to: usize, stop: Arc<AtomicBool>) -> Vec<i64> {
    let http = reqwest::Client::new();
    let mut accepted = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let base = bases.lock().expect("lock")[to].clone();
        accepted.extend(post(&http, &base, &format!("Fail{to}x{n}"), n % 2 == 0).await);
        tokio::time::sleep(PACE).await;
    }
    accepted
}

/// The calls a fake took, with the (incident, number) each was for.
fn calls(twilio: &FakeTwilio) -> Vec<((i64, String), TwilioRequest)> {
    twilio
        .accepted()
        .into_iter()
        .filter(|r| r.resource == Resource::Calls)
        .flat_map(|r| {
            named(r.text())
                .into_iter()
                .map(move |id| ((id, r.to().to_owned()), r.clone()))
        })
        .collect()
}

/// Holds the next call of each daemon in `which`, runs `then` (which
/// makes one of them call), and waits until one took its held call (the
/// others' holds are dropped); returns that daemon and the page it calls.
/// Either daemon may claim any page: when those in `which` make no call
/// for half the patience (the other won every claim), the other's next
/// call is held too.
async fn hold<F: Future<Output = ()>>(
    pair: &Pair,
    which: &[usize],
    kills: &[(usize, DateTime<Utc>)],
    then: F,
) -> (usize, (i64, String)) {
    for &i in which {
        pair.twilio[i].script(Resource::Calls, Reply::Slow(HOLD));
    }
    then.await;
    let started = Instant::now();
    let mut which = which.to_vec();
    loop {
        if which.len() < 2 && started.elapsed() > PATIENCE / 2 {
            let others: Vec<usize> = [0, 1].into_iter().filter(|i| !which.contains(i)).collect();
            for i in others {
                pair.twilio[i].script(Resource::Calls, Reply::Slow(HOLD));
                which.push(i);
            }
        }
        let held = which
            .iter()
            .find_map(|&i| held_now(pair, i, kills).map(|page| (i, page)));
        if let Some((i, page)) = held {
            for t in &pair.twilio {
                t.unscript(Resource::Calls);
            }
            return (i, page);
        }
        assert!(
            started.elapsed() < PATIENCE,
            "no call held after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The page of a held call daemon `i`'s fake took from the daemon now
/// running (not from one killed before), if it has.
fn held_now(pair: &Pair, i: usize, kills: &[(usize, DateTime<Utc>)]) -> Option<(i64, String)> {
    calls(&pair.twilio[i])
        .into_iter()
        .find(|(_, r)| r.held.is_some() && !interrupted(i, r, kills))
        .map(|(page, _)| page)
}

/// Whether daemon `i` was killed after it made the call `r`.
fn interrupted(i: usize, r: &TwilioRequest, kills: &[(usize, DateTime<Utc>)]) -> bool {
    kills.iter().any(|(v, at)| *v == i && *at >= r.at)
}

/// Waits until `twilio` took a call for `page` after `since`; how long that was.
async fn until_resent(twilio: &FakeTwilio, page: &(i64, String), since: DateTime<Utc>) -> Duration {
    let started = Instant::now();
    loop {
        if calls(twilio)
            .iter()
            .any(|(p, r)| p == page && r.at >= since)
        {
            return started.elapsed();
        }
        if started.elapsed() > PATIENCE {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Kills daemon `victim` while its held call for `page` is in flight, and
/// asserts the other sends that page within `TAKEOVER`; returns when it died.
async fn kill_in_flight(
    pair: &Pair,
    procs: &mut [Option<Process>; 2],
    victim: usize,
    page: &(i64, String),
) -> DateTime<Utc> {
    let killed = Utc::now();
    kill_9(procs[victim].take().expect("victim runs"));
    let took = until_resent(&pair.twilio[1 - victim], page, killed).await;
    assert!(
        took <= TAKEOVER,
        "the page {page:?} daemon {victim} had in flight went out from the other after {took:?}, \
         not within {TAKEOVER:?}"
    );
    killed
}

/// A daemon dies with a page in flight while nothing else is due: the
/// other sends it within `TAKEOVER`, not at some later outbox pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_in_flight_on_a_killed_daemon_goes_out_from_the_other_at_once() {
    // One step, an hour long: after the first page nothing falls due.
    let Some(pair) = pair("      - { notify: nearest, via: [voice], wait: 1h }").await else {
        return;
    };
    let http = reqwest::Client::new();
    let mut procs = [
        Some(start(&pair.configs[0]).await),
        Some(start(&pair.configs[1]).await),
    ];
    let base = procs[0].as_ref().expect("runs").base.clone();
    let (owner, page) = hold(&pair, &[0, 1], &[], async {
        post(&http, &base, "Held", false).await.expect("accepted");
    })
    .await;
    assert_eq!(page.1, BOB_PHONE);
    tokio::time::sleep(IDLE).await;
    kill_in_flight(&pair, &mut procs, owner, &page).await;
    kill_9(procs[1 - owner].take().expect("runs"));
    let other = calls(&pair.twilio[1 - owner]);
    assert_eq!(other.len(), 1, "sent once by the other: {other:?}");
}

/// The timeline events of one incident: (kind, at, detail).
async fn timeline(
    http: &reqwest::Client,
    base: &str,
    id: i64,
) -> Vec<(String, DateTime<Utc>, Value)> {
    let r = http
        .get(format!("{base}/api/v1/incidents/{id}"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    assert_eq!(r.status(), 200, "incident {id} answered 2xx but not stored");
    let shown: Value = r.json().await.expect("json");
    shown["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let at = serde_json::from_value(e["at"].clone()).expect("event time");
            (
                e["kind"].as_str().unwrap_or_default().to_owned(),
                at,
                e["detail"].clone(),
            )
        })
        .collect()
}

/// Every incident on the database.
async fn all_incidents(http: &reqwest::Client, base: &str) -> Vec<i64> {
    let r = http
        .get(format!("{base}/api/v1/incidents?state=all&limit=500"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let ids: Vec<i64> = body["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    assert!(ids.len() < 500, "more incidents than one page lists");
    ids
}

/// Waits until every incident's policy is exhausted (its last deadline).
async fn until_exhausted(http: &reqwest::Client, base: &str, ids: &[i64]) {
    let started = Instant::now();
    for &id in ids {
        while !timeline(http, base, id)
            .await
            .iter()
            .any(|(k, ..)| k == "escalation exhausted")
        {
            assert!(
                started.elapsed() < PATIENCE,
                "incident {id} not exhausted after {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn phone(person: &str) -> &'static str {
    match person {
        "alice" => ALICE_PHONE,
        "bob" => BOB_PHONE,
        _ => DAVE_PHONE,
    }
}

/// Runs `ROUNDS` kills while alerts arrive at both daemons, then checks
/// every incident on the database: stored if answered 2xx, every step fired
/// and its page called within `LATE` of its deadline, and each page called
/// once plus once per call of it that a kill interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_either_of_two_daemons_again_and_again_and_every_step_fires_on_time() {
    const ROUNDS: usize = 5;
    let Some(pair) = pair(STEPS).await else {
        return;
    };
    let http = reqwest::Client::new();
    let mut procs = [
        Some(start(&pair.configs[0]).await),
        Some(start(&pair.configs[1]).await),
    ];
    let base = |p: &[Option<Process>; 2], i: usize| p[i].as_ref().expect("runs").base.clone();
    let bases = Arc::new(Mutex::new([base(&procs, 0), base(&procs, 1)]));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders: Vec<_> = (0..2)
        .map(|to| tokio::spawn(send(bases.clone(), to, stop.clone())))
        .collect();
    let mut kills: Vec<(usize, DateTime<Utc>)> = Vec::new();
    let ups = moments(
        17,
        ROUNDS,
        Duration::from_millis(800),
        Duration::from_millis(1500),
    );
    let downs = moments(
        29,
        ROUNDS,
        Duration::from_millis(300),
        Duration::from_millis(700),
    );
    let mut accepted = Vec::new();
    for round in 0..ROUNDS {
        tokio::time::sleep(ups[round]).await;
        let (victim, page) = if round + 1 < ROUNDS {
            // Under load, each in turn (the other when this one wins no
            // claim): its next call is held, then it dies.
            hold(&pair, &[round % 2], &kills, async {}).await
        } else {
            // The last round in the quiet: the load stopped, every step
            // fired. One more alert; the daemon that makes its second call
            // dies in it, and no other row falls due to wake the survivor.
            stop.store(true, Ordering::SeqCst);
            for s in std::mem::take(&mut senders) {
                accepted.extend(s.await.expect("sender"));
            }
            tokio::time::sleep((WAIT * 2).to_std().expect("wait") + PACE).await;
            let to = base(&procs, round % 2);
            let id = post(&http, &to, "Quiet", true).await.expect("accepted");
            accepted.push(id);
            let started = Instant::now();
            while !(0..2).any(|i| calls(&pair.twilio[i]).iter().any(|((n, _), _)| *n == id)) {
                assert!(started.elapsed() < PATIENCE, "incident {id} never called");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let held = hold(&pair, &[0, 1], &kills, async {}).await;
            tokio::time::sleep(IDLE).await;
            held
        };
        kills.push((
            victim,
            kill_in_flight(&pair, &mut procs, victim, &page).await,
        ));
        tokio::time::sleep(downs[round]).await;
        procs[victim] = Some(start(&pair.configs[victim]).await);
        bases.lock().expect("lock")[victim] = base(&procs, victim);
    }
    let live = base(&procs, 0);
    let all = all_incidents(&http, &live).await;
    until_exhausted(&http, &live, &all).await;
    let mut timelines = BTreeMap::new();
    for &id in &all {
        timelines.insert(id, timeline(&http, &live, id).await);
    }
    for p in procs.iter_mut() {
        kill_9(p.take().expect("runs"));
    }

    // Every alert answered 2xx is stored (and enough were to mean anything).
    assert!(accepted.len() >= 30, "too little load: {accepted:?}");
    let missing: Vec<_> = accepted
        .iter()
        .filter(|id| !timelines.contains_key(id))
        .collect();
    assert!(missing.is_empty(), "answered 2xx, not stored: {missing:?}");
    // Every call either fake took, by page, with the daemon that made it.
    let mut got: BTreeMap<(i64, String), Vec<(usize, TwilioRequest)>> = BTreeMap::new();
    for i in 0..2 {
        for (page, r) in calls(&pair.twilio[i]) {
            got.entry(page).or_default().push((i, r));
        }
    }
    let mut problems = Vec::new();
    let mut expected = BTreeSet::new();
    let mut cut = 0;
    for (&id, events) in &timelines {
        for (page, deadline) in steps_on_time(id, events, &mut problems) {
            let calls = got.get(&page).map(Vec::as_slice).unwrap_or_default();
            cut += check_page(&page, deadline, calls, events, &kills, &mut problems);
            expected.insert(page);
        }
    }
    for page in got.keys().filter(|p| !expected.contains(*p)) {
        problems.push(format!("{page:?}: called, never queued"));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(cut >= ROUNDS, "{cut} calls cut by {ROUNDS} kills");
}

/// The incident's two steps and its exhaustion each came within `LATE` of
/// its deadline; returns each step's page with the deadline it had.
fn steps_on_time(
    id: i64,
    events: &[(String, DateTime<Utc>, Value)],
    problems: &mut Vec<String>,
) -> Vec<((i64, String), DateTime<Utc>)> {
    let of = |kind: &'static str| events.iter().filter(move |(k, ..)| k == kind);
    let queued: Vec<_> = of("page queued").collect();
    let (Some(escalated), Some(exhausted)) =
        (of("escalated").next(), of("escalation exhausted").next())
    else {
        problems.push(format!(
            "incident {id}: not escalated and exhausted: {events:?}"
        ));
        return Vec::new();
    };
    if queued.len() != 2 {
        problems.push(format!(
            "incident {id}: {} pages queued, not 2",
            queued.len()
        ));
        return Vec::new();
    }
    let opened = queued[0].1;
    for (what, at, deadline) in [
        ("step 2", escalated.1, opened + WAIT),
        ("exhaustion", exhausted.1, escalated.1 + WAIT),
    ] {
        if at < deadline || at > deadline + LATE {
            problems.push(format!("incident {id}: {what} due {deadline}, fired {at}"));
        }
    }
    queued
        .iter()
        .zip([opened, opened + WAIT])
        .map(|((_, _, detail), deadline)| {
            let person = detail["person"].as_str().unwrap_or_default();
            ((id, phone(person).to_owned()), deadline)
        })
        .collect()
}

/// A page was called within `LATE` of its deadline, its answer recorded for
/// one call, and every other call of it was cut by killing its daemon;
/// returns how many were cut.
fn check_page(
    page: &(i64, String),
    deadline: DateTime<Utc>,
    calls: &[(usize, TwilioRequest)],
    events: &[(String, DateTime<Utc>, Value)],
    kills: &[(usize, DateTime<Utc>)],
    problems: &mut Vec<String>,
) -> usize {
    let Some(first) = calls.iter().map(|(_, r)| r.at).min() else {
        problems.push(format!("{page:?}: never called"));
        return 0;
    };
    if first > deadline + LATE {
        problems.push(format!("{page:?}: due {deadline}, first called {first}"));
    }
    let recorded: BTreeSet<&str> = events
        .iter()
        .filter(|(k, ..)| k == "page sent")
        .filter_map(|(_, _, d)| d["provider_id"].as_str())
        .collect();
    let (kept, others): (Vec<_>, Vec<_>) = calls
        .iter()
        .partition(|(_, r)| r.sid.as_deref().is_some_and(|s| recorded.contains(s)));
    if kept.len() != 1 {
        let seen: Vec<_> = calls
            .iter()
            .map(|(i, r)| format!("daemon {i} at {} sid {:?}", r.at, r.sid))
            .collect();
        problems.push(format!(
            "{page:?}: {} calls recorded, not 1 (calls: {}; recorded sids: {recorded:?})",
            kept.len(),
            seen.join(", ")
        ));
    }
    for (i, r) in &others {
        if !interrupted(*i, r, kills) {
            problems.push(format!(
                "{page:?}: called again by daemon {i} at {}, never cut",
                r.at
            ));
        }
    }
    others.len()
}
