//! The client status page: by the client's token only; its own open
//! incidents by its reference, the exact posts it was sent; nothing
//! internal, nothing of another client.

use serde_json::{Value, json};

use super::*;
use crate::ingest::{am_alert, am_payload};

const GLOBEX_TOKEN: &str = "client-globex-0123456789";
const GX_AM_TOKEN: &str = "gx-am-token-0123456789ab";

/// acme (project shop, integration prom) and globex (project store,
/// integration gx), both on log channels.
async fn spawn() -> Daemon {
    let extra = format!(
        "  - id: gx\n    type: alertmanager\n    token_sha256: {}\n    project: store\n",
        sha(GX_AM_TOKEN)
    );
    let yaml = roster_yaml(&extra).replace(
        "projects:\n",
        &format!(
            "  - id: globex\n    channel: {{ type: log, name: \"#globex\" }}\n    token_sha256: {}\n\
             projects:\n  - id: store\n    client: globex\n    team: web\n    responders: [bob]\n",
            sha(GLOBEX_TOKEN)
        ),
    );
    spawn_with(&yaml).await
}

/// Opens an incident through `token`; its global number.
async fn alert(d: &Daemon, token: &str, name: &str) -> i64 {
    let r = d
        .post_json(
            "/api/v1/alertmanager",
            token,
            &am_payload(name, vec![am_alert(name, "a", "firing")]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    v["outcome"]["opened"][0].as_i64().expect("opened")
}

async fn post(d: &Daemon, path: &str, body: Value) {
    let r = d.post_json(path, BOB_TOKEN, &body).await;
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

#[tokio::test]
async fn the_status_page_shows_what_the_client_was_told_and_nothing_else() {
    let d = spawn().await;
    let globex = alert(&d, GX_AM_TOKEN, "GlobexDown").await;
    post(
        &d,
        &format!("/api/v1/incidents/{globex}/acknowledge"),
        json!({}),
    )
    .await;
    let disk = alert(&d, AM_TOKEN, "DiskFull").await;
    assert_eq!(disk, 2);
    post(&d, "/api/v1/incidents/2/acknowledge", json!({})).await;
    post(
        &d,
        "/api/v1/incidents/2/updates",
        json!({"text": "We are restoring the disk."}),
    )
    .await;
    post(
        &d,
        "/api/v1/incidents/2/notes",
        json!({"text": "old host, secret fix"}),
    )
    .await;
    // Never acknowledged: the client was never told.
    alert(&d, AM_TOKEN, "CpuQuiet").await;
    d.settle().await;

    let (status, html) = page(&d, "", &format!("/status/acme?token={CLIENT_TOKEN}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"id="incident-ACME-1""#), "{html}");
    assert!(html.contains("DiskFull"), "{html}");
    assert!(html.contains("We are restoring the disk."), "{html}");
    // When the problem started (the alert's start), and since when someone
    // is on it (not "acknowledged since" the start).
    assert!(
        html.contains(r#"started <time datetime="2026-11-25T08:59:00Z""#),
        "{html}"
    );
    assert!(
        html.contains(r#"acknowledged <time datetime="2026-11-25T09:00:00Z""#),
        "{html}"
    );
    for leak in [
        "old host",
        "CpuQuiet",
        "ACME-2",
        "GlobexDown",
        "GLOBEX",
        "/incidents/",
        "#2",
        "Sign out",
    ] {
        assert!(
            !html.contains(leak),
            "{leak:?} on acme's status page:\n{html}"
        );
    }

    let (status, html) = page(&d, "", &format!("/status/globex?token={GLOBEX_TOKEN}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("GLOBEX-1") && !html.contains("DiskFull"),
        "{html}"
    );
}

#[tokio::test]
async fn the_status_page_needs_the_clients_own_token() {
    let d = spawn().await;
    for path in [
        "/status/acme".to_string(),
        "/status/acme?token=wrong".to_string(),
        format!("/status/acme?token={GLOBEX_TOKEN}"),
        format!("/status/nobody?token={CLIENT_TOKEN}"),
        format!("/status/acme?token={BOB_TOKEN}"),
    ] {
        let (status, html) = page(&d, "", &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!html.contains("Open incidents"), "{path}");
    }
}

#[tokio::test]
async fn the_other_new_pages_need_a_session() {
    let d = spawn().await;
    for (path, next) in [
        ("/oncall?view=month", "%2Foncall%3Fview%3Dmonth"),
        ("/maintenance", "%2Fmaintenance"),
        ("/postmortems", "%2Fpostmortems"),
        ("/postmortems/1", "%2Fpostmortems%2F1"),
        ("/reports", "%2Freports"),
        ("/me", "%2Fme"),
    ] {
        let r = browser().get(d.url(path)).send().await.expect("get");
        assert_eq!(r.status(), 303, "{path}");
        let location = header_of(&r, reqwest::header::LOCATION);
        assert_eq!(location, format!("/signin?next={next}"), "{path}");
    }
    // A form without a session changes nothing either: to sign-in.
    for path in [
        "/oncall/presence",
        "/maintenance",
        "/me/notify",
        "/postmortems/1/step",
    ] {
        let (status, location) = post_form(&d, "", path, &[("csrf", "x")]).await;
        assert_eq!(status, 303, "{path}");
        assert!(location.starts_with("/signin"), "{path}: {location}");
    }
}
