//! The real binary (system clock, short waits) killed with SIGKILL while
//! pages are due or in flight, and restarted on the same database: every
//! incident is still paged at every step, and no page arrives more than
//! twice (the outbox's documented bound: one duplicate per page per crash).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tocsin::notify::email::fake_smtp::FakeSmtp;

use super::rig::{ALICE_PHONE, BOB_PHONE, Shape, TWILIO_TOKEN, alert_payload, roster, twilio_sent};
use crate::fakes::{FakeTwilio, Reply, Resource};
use crate::helpers::{AM_TOKEN, Process, TEST_POSTGRES, on_test_store};

/// Incidents opened at once.
const INCIDENTS: usize = 4;
/// How long any one wait may take.
const PATIENCE: Duration = Duration::from_secs(8);

/// bob by SMS, then alice by phone; two seconds apart, no repeat.
const STEPS: &str = r#"      - { notify: nearest, via: [sms], wait: 2s }
      - { notify: next, via: [voice], wait: 2s }"#;

pub(super) async fn start(config: &Path) -> Process {
    let config: PathBuf = config.to_path_buf();
    tokio::task::spawn_blocking(move || Process::start(&config))
        .await
        .expect("start tocsin")
}

/// SIGKILL, then reap: no clean shutdown of any kind.
pub(super) fn kill_9(p: Process) {
    p.signal("KILL");
    drop(p);
}

/// How often each (channel, recipient, incident) page was delivered.
fn counts(twilio: &FakeTwilio) -> BTreeMap<(&'static str, String, i64), usize> {
    let mut out = BTreeMap::new();
    for sent in twilio_sent(twilio) {
        for id in sent.incidents {
            *out.entry((sent.channel, sent.to.clone(), id)).or_default() += 1;
        }
    }
    out
}

/// Waits until the fake has been asked for a `resource` at least once.
async fn until_requested(twilio: &FakeTwilio, resource: Resource) {
    let started = Instant::now();
    while !twilio.requests().iter().any(|r| r.resource == resource) {
        assert!(
            started.elapsed() < PATIENCE,
            "no {resource:?} request after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every incident has had `pages`, each a (channel, recipient).
async fn until_paged(twilio: &FakeTwilio, ids: &[i64], pages: &[(&'static str, &str)]) {
    let started = Instant::now();
    loop {
        let got = counts(twilio);
        let missing: Vec<_> = ids
            .iter()
            .flat_map(|id| pages.iter().map(move |(c, to)| (*c, to.to_string(), *id)))
            .filter(|k| !got.contains_key(k))
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "still missing after {PATIENCE:?}: {missing:?}; got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_paging_loses_nothing_and_duplicates_at_most_once() {
    let twilio = FakeTwilio::start().await;
    // Never used by this policy; the roster names an SMTP server all the same.
    let smtp = FakeSmtp::start().await.expect("fake smtp");
    let shape = Shape {
        bundle_window: "1s",
        steps: STEPS,
        repeat: 0,
        sms_per_hour: 20,
        // The system clock: everyone online whatever the time.
        hours: "always",
        bob_notify: "",
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(
        &config,
        on_test_store(
            &roster(&twilio.base_url(), smtp.addr().port(), &shape),
            dir.path(),
        ),
    )
    .expect("config");
    std::fs::write(dir.path().join("twilio.token"), TWILIO_TOKEN).expect("token");
    std::fs::write(dir.path().join("slack.url"), "http://127.0.0.1:9/hook").expect("url");

    // The first SMS and the first call are taken by "Twilio" but answered
    // only after a while: each crash below lands while one is in flight.
    let hold = Reply::Slow(Duration::from_secs(3));
    twilio.script(Resource::Messages, hold.clone());
    twilio.script(Resource::Calls, hold);

    let http = reqwest::Client::new();
    let p = start(&config).await;
    let mut ids = Vec::new();
    for n in 0..INCIDENTS {
        let r = http
            .post(format!("{}/api/v1/alertmanager", p.base))
            .bearer_auth(AM_TOKEN)
            .json(&alert_payload(&format!("Crash{n}")))
            .send()
            .await
            .expect("post alert");
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        ids.push(body["outcome"]["opened"][0].as_i64().expect("opened"));
    }
    // Stored and answered 200; pages due, the first SMS in flight: crash.
    until_requested(&twilio, Resource::Messages).await;
    kill_9(p);

    let p = start(&config).await;
    until_paged(&twilio, &ids, &[("sms", BOB_PHONE)]).await;
    // Mid-escalation: the calls fall due two seconds in; crash during one.
    until_requested(&twilio, Resource::Calls).await;
    kill_9(p);

    let p = start(&config).await;
    until_paged(&twilio, &ids, &[("sms", BOB_PHONE), ("voice", ALICE_PHONE)]).await;
    // Past every deadline (the policy is exhausted after four seconds).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got = counts(&twilio);
    kill_9(p);
    let mut expected: Vec<_> = ids
        .iter()
        .flat_map(|&id| {
            [
                ("sms", BOB_PHONE.to_string(), id),
                ("voice", ALICE_PHONE.to_string(), id),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        expected,
        "every incident paged at every step, nothing else"
    );
    for (page, n) in &got {
        assert!(*n <= 2, "{page:?} delivered {n} times: {got:?}");
    }
    // Both crashes hit a provider call: that page went out again, once.
    for channel in ["sms", "voice"] {
        assert!(
            got.iter().any(|((c, _, _), n)| *c == channel && *n == 2),
            "no {channel} page was in flight at a crash: {got:?}"
        );
    }
}

/// Waits spread over the load, each `from` plus up to `spread`: a small
/// LCG so the moments look random but every run is the same.
pub(super) fn moments(seed: u64, n: usize, from: Duration, spread: Duration) -> Vec<Duration> {
    let mut x = seed;
    let spread = spread.as_millis().max(1) as u64;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            from + Duration::from_millis((x >> 33) % spread)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_steady_alerts_loses_no_accepted_alert() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    const SENDERS: usize = 4;
    const KILLS: usize = 3;
    let twilio = FakeTwilio::start().await;
    let smtp = FakeSmtp::start().await.expect("fake smtp");
    // One SMS step, long enough that only first pages are sent; pages to
    // bob are bundled, one message a second.
    let shape = Shape {
        bundle_window: "1s",
        steps: "      - { notify: nearest, via: [sms], wait: 1h }",
        repeat: 0,
        sms_per_hour: 10_000,
        hours: "always",
        bob_notify: "",
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(
        &config,
        on_test_store(
            &roster(&twilio.base_url(), smtp.addr().port(), &shape),
            dir.path(),
        ),
    )
    .expect("config");
    std::fs::write(dir.path().join("twilio.token"), TWILIO_TOKEN).expect("token");
    std::fs::write(dir.path().join("slack.url"), "http://127.0.0.1:9/hook").expect("url");

    let mut p = start(&config).await;
    let base = Arc::new(Mutex::new(p.base.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    // Every incident whose alert was answered 2xx.
    let accepted = Arc::new(Mutex::new(Vec::<i64>::new()));
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let (base, stop, accepted) = (base.clone(), stop.clone(), accepted.clone());
        senders.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let url = format!("{}/api/v1/alertmanager", base.lock().expect("lock"));
                let sent = http
                    .post(url)
                    .bearer_auth(AM_TOKEN)
                    .json(&alert_payload(&format!("Steady{s}x{n}")))
                    .send()
                    .await;
                let body = match sent {
                    Ok(r) if r.status() == 200 => r.json::<Value>().await.ok(),
                    // Killed mid-request, or not listening yet: not accepted.
                    _ => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        None
                    }
                };
                if let Some(id) = body.and_then(|b| b["outcome"]["opened"][0].as_i64()) {
                    accepted.lock().expect("lock").push(id);
                }
            }
        }));
    }
    // A PostgreSQL write is a few round trips per statement: the same load
    // takes longer to mean as much.
    let slower = if std::env::var(TEST_POSTGRES).is_ok_and(|u| !u.is_empty()) {
        4
    } else {
        1
    };
    for wait in moments(
        7,
        KILLS,
        Duration::from_millis(150),
        Duration::from_millis(250),
    ) {
        tokio::time::sleep(wait * slower).await;
        kill_9(p);
        p = start(&config).await;
        *base.lock().expect("lock") = p.base.clone();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.await.expect("sender");
    }
    let ids = accepted.lock().expect("lock").clone();
    assert!(ids.len() >= 20, "too little load to mean anything: {ids:?}");

    // Every accepted alert is an incident in the store...
    let http = reqwest::Client::new();
    for id in &ids {
        let r = http
            .get(format!("{}/api/v1/incidents/{id}", p.base))
            .bearer_auth(crate::helpers::BOB_TOKEN)
            .send()
            .await
            .expect("show");
        assert_eq!(r.status(), 200, "incident {id} answered 2xx but not stored");
    }
    // ...and was paged; none named more than once per crash beyond the first.
    until_named_or_counted(&twilio, &http, &p.base, &ids).await;
    let got = counts(&twilio);
    kill_9(p);
    for id in &ids {
        let n = got.get(&("sms", BOB_PHONE.to_string(), *id)).copied();
        assert!(
            n.unwrap_or(0) <= 1 + KILLS,
            "incident {id} paged {n:?} times"
        );
    }
}

/// Waits until every incident was named in an SMS to bob, or counted in a
/// bundle's `+N more`: its timeline records the page sent in a message the
/// fake took.
async fn until_named_or_counted(
    twilio: &FakeTwilio,
    http: &reqwest::Client,
    base: &str,
    ids: &[i64],
) {
    let started = Instant::now();
    loop {
        let named = counts(twilio);
        let sids: Vec<String> = twilio
            .accepted()
            .into_iter()
            .filter(|m| m.resource == Resource::Messages && more(m.text()))
            .filter_map(|m| m.sid)
            .collect();
        let mut missing = Vec::new();
        for &id in ids {
            if !named.contains_key(&("sms", BOB_PHONE.to_string(), id))
                && !sent_in(http, base, id, &sids).await
            {
                missing.push(id);
            }
        }
        if missing.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "still missing after {PATIENCE:?}: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether an SMS ends with `+N more: <link>`.
fn more(text: &str) -> bool {
    text.lines()
        .last()
        .is_some_and(|l| l.starts_with('+') && l.contains(" more: "))
}

/// Whether the incident's timeline records its page sent in one of `sids`.
async fn sent_in(http: &reqwest::Client, base: &str, id: i64, sids: &[String]) -> bool {
    let Ok(r) = http
        .get(format!("{base}/api/v1/incidents/{id}"))
        .bearer_auth(crate::helpers::BOB_TOKEN)
        .send()
        .await
    else {
        return false;
    };
    let shown: Value = r.json().await.unwrap_or_default();
    shown["timeline"].as_array().into_iter().flatten().any(|e| {
        e["kind"] == "page sent"
            && e["detail"]["provider_id"]
                .as_str()
                .is_some_and(|sid| sids.iter().any(|s| s == sid))
    })
}

/// Two daemons on one PostgreSQL database; one is killed while it pages and
/// never comes back: the survivor sends what the dead one had in flight and
/// fires every later step. (PostgreSQL only: on a SQLite run it says so.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_one_of_two_daemons_and_the_other_pages_every_step() {
    if std::env::var(TEST_POSTGRES).map_or(true, |u| u.is_empty()) {
        eprintln!("{TEST_POSTGRES} is not set: two daemons need PostgreSQL; not run");
        return;
    }
    let twilio = FakeTwilio::start().await;
    let smtp = FakeSmtp::start().await.expect("fake smtp");
    let shape = Shape {
        bundle_window: "1s",
        steps: STEPS,
        repeat: 0,
        sms_per_hour: 20,
        hours: "always",
        bob_notify: "",
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(
        &config,
        on_test_store(
            &roster(&twilio.base_url(), smtp.addr().port(), &shape),
            dir.path(),
        ),
    )
    .expect("config");
    std::fs::write(dir.path().join("twilio.token"), TWILIO_TOKEN).expect("token");
    std::fs::write(dir.path().join("slack.url"), "http://127.0.0.1:9/hook").expect("url");
    twilio.script(Resource::Messages, Reply::Slow(Duration::from_secs(3)));

    let http = reqwest::Client::new();
    let a = start(&config).await;
    let mut ids = Vec::new();
    for n in 0..INCIDENTS {
        let r = http
            .post(format!("{}/api/v1/alertmanager", a.base))
            .bearer_auth(AM_TOKEN)
            .json(&alert_payload(&format!("Peer{n}")))
            .send()
            .await
            .expect("post alert");
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        ids.push(body["outcome"]["opened"][0].as_i64().expect("opened"));
    }
    // The first daemon has an SMS in flight; the second joins (and leaves
    // that claim alone: its owner lives), then the first dies for good.
    until_requested(&twilio, Resource::Messages).await;
    let b = start(&config).await;
    kill_9(a);
    until_paged(&twilio, &ids, &[("sms", BOB_PHONE), ("voice", ALICE_PHONE)]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got = counts(&twilio);
    kill_9(b);
    let mut expected: Vec<_> = ids
        .iter()
        .flat_map(|&id| {
            [
                ("sms", BOB_PHONE.to_string(), id),
                ("voice", ALICE_PHONE.to_string(), id),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        expected,
        "every incident paged at every step, nothing else"
    );
    for (page, n) in &got {
        assert!(*n <= 2, "{page:?} delivered {n} times: {got:?}");
    }
}
