//! The daemon's log as an operator reads it: written to a file (systemd's
//! journal, `docker logs`), at debug level, in both formats. No colour
//! codes, one event per line, no credential.

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

const LINK_TOKEN: &str = "LinkTokenFromAPage-0123456789";

/// What a busy debug log sees: a calendar feed, an acknowledge link opened
/// and pressed, API calls with Bearer tokens, and a page (a multi-line SMS,
/// which the `log` provider logs with its acknowledge link).
async fn traffic(base: &str) {
    let http = reqwest::Client::new();
    let calendar = format!("{base}/api/v1/people/alice/ical?token={ALICE_CALENDAR}");
    let r = http.get(calendar).send().await.expect("ical");
    assert_eq!(r.status(), 200);
    let link = format!("{base}/a/{LINK_TOKEN}");
    http.get(&link).send().await.expect("link page");
    http.post(&link).send().await.expect("link action");
    let r = http
        .get(format!("{base}/api/v1/incidents"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 200);
    let mut alert = am_alert("DiskFull", "db-1", "firing");
    alert["annotations"]["summary"] = "Disk full\non db-1".into();
    let r = http
        .post(format!("{base}/api/v1/alertmanager"))
        .bearer_auth(AM_TOKEN)
        .json(&am_payload("DiskFull", vec![alert]))
        .send()
        .await
        .expect("alert");
    assert_eq!(r.status(), 200);
}

/// One event starts every line: a JSON object, or a text line opening with
/// its RFC 3339 timestamp and level.
fn is_one_event(line: &str, format: &str) -> bool {
    if format == "json" {
        return serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.is_object());
    }
    let mut words = line.split_whitespace();
    let stamp = words.next().unwrap_or("");
    let level = words.next().unwrap_or("");
    stamp.len() > 20
        && stamp.as_bytes()[4] == b'-'
        && stamp.ends_with('Z')
        && ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level)
}

#[tokio::test]
async fn the_log_has_no_colour_one_event_per_line_and_no_token() {
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("tocsin.yaml");
        // Everyone online, so the first page is an SMS (with its link) at any hour.
        let yaml = roster_yaml("").replace("mon-fri 09:00-18:00", "always");
        std::fs::write(&config, yaml).expect("write config");
        let log = dir.path().join("tocsin.log");
        let mut p = Process::start_logging_to(
            &config,
            &log,
            &[("RUST_LOG", "debug"), ("TOCSIN_LOG_FORMAT", format)],
        );
        traffic(&p.base).await;
        eventually("the page in the log", || async {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("log provider: not sent").then_some(())
        })
        .await;
        p.signal("TERM");
        p.child.wait().expect("stopped");

        let text = std::fs::read_to_string(&log).expect("read log");
        assert!(!text.contains('\x1b'), "{format}: colour codes in a file");
        for line in text.lines() {
            assert!(
                is_one_event(line, format),
                "{format}: not one event:\n{line}"
            );
        }
        let page = text
            .lines()
            .find(|l| l.contains("log provider: not sent"))
            .expect("page logged");
        assert!(page.contains("Disk full on db-1"), "{format}: {page}");
        assert!(page.contains("/a/…"), "{format}: {page}");
        for secret in [ALICE_CALENDAR, LINK_TOKEN, BOB_TOKEN, AM_TOKEN] {
            assert!(!text.contains(secret), "{format}: {secret} logged");
        }
        // The redacted requests were logged all the same.
        for request in ["/api/v1/people/alice/ical?token=…", "/a/…"] {
            assert!(text.contains(request), "{format}: no {request}");
        }
    }
}

/// An alert storm keeps the log readable: past 20 state-change lines a
/// second, the changes are counted on one summary line a second, and every
/// new incident is in exactly one line or one count.
#[tokio::test]
async fn a_storm_is_logged_in_one_summary_line_a_second() {
    const GROUPS: usize = 200;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(&config, roster_yaml("")).expect("write config");
    let log = dir.path().join("tocsin.log");
    let mut p = Process::start_logging_to(&config, &log, &[("RUST_LOG", "info")]);
    let mut senders = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let base = p.base.clone();
        senders.spawn(async move {
            let http = reqwest::Client::new();
            for i in (worker..GROUPS).step_by(16) {
                let name = format!("Storm{i}");
                let r = http
                    .post(format!("{base}/api/v1/alertmanager"))
                    .bearer_auth(AM_TOKEN)
                    .json(&am_payload(&name, vec![am_alert(&name, "a", "firing")]))
                    .send()
                    .await
                    .expect("alert");
                assert_eq!(r.status(), 200);
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done.expect("sender");
    }
    p.signal("TERM");
    p.child.wait().expect("stopped");

    let text = std::fs::read_to_string(&log).expect("read log");
    let own: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("alerts ingested") && l.contains("opened=["))
        .collect();
    let counted: usize = text
        .lines()
        .filter(|l| l.contains("counted on this line"))
        .map(|l| {
            assert!(l.contains("source=\"alertmanager\""), "{l}");
            let n = l.split("opened_count=").nth(1).expect("opened_count");
            n.split_whitespace()
                .next()
                .unwrap_or("")
                .parse::<usize>()
                .expect("a count")
        })
        .sum();
    assert_eq!(own.len() + counted, GROUPS);
    // Lines are paced by one-second windows, so no second of the log holds
    // more than two windows' 20 lines (with room for when each was written).
    let stamps: Vec<chrono::DateTime<chrono::Utc>> = own
        .iter()
        .map(|l| {
            let stamp = l.split_whitespace().next().unwrap_or("");
            chrono::DateTime::parse_from_rfc3339(stamp)
                .expect("a timestamp")
                .to_utc()
        })
        .collect();
    for (i, start) in stamps.iter().enumerate() {
        let within = stamps[i..]
            .iter()
            .take_while(|t| **t < *start + chrono::Duration::seconds(1))
            .count();
        assert!(within <= 60, "{within} lines within a second of {start}");
    }
}
