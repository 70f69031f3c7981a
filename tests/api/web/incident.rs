//! The incidents list and one incident's page: what they show (escaped),
//! their filters and forms, and the live stream.

use serde_json::json;

use super::*;
use crate::ingest::{am_alert, am_payload};

/// Opens an incident from an Alertmanager alert with a hostile label and a
/// runbook; returns its number.
async fn open_hostile(d: &Daemon) -> i64 {
    let mut alert = am_alert("DiskFull", "db-1", "firing");
    alert["labels"]["team"] = json!("<script>alert(1)</script>");
    alert["annotations"]["runbook_url"] = json!("https://wiki.example/runbooks/disk");
    alert["annotations"]["description"] = json!("javascript:alert(2)");
    let r = d
        .post_json(
            "/api/v1/alertmanager",
            AM_TOKEN,
            &am_payload("DiskFull", vec![alert]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    v["outcome"]["opened"][0].as_i64().expect("opened")
}

#[tokio::test]
async fn the_incident_page_shows_what_fired_as_text() {
    let d = spawn_daemon().await;
    let id = open_hostile(&d).await;
    let cookie = sign_in(&d, BOB_TOKEN).await;
    let (status, html) = page(&d, &cookie, &format!("/incidents/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains(r#"id="runbook" href="https://wiki.example/runbooks/disk""#),
        "{html}"
    );
    assert!(
        html.contains(r#"href="http://prom:9090/graph?g0.expr=up""#),
        "source link: {html}"
    );
    // The alert's own start (08:59 UTC), in bob's zone (Berlin).
    assert!(html.contains("Wed 25 Nov 09:59 CET"), "{html}");
    assert!(
        html.contains("Integration prom opened the incident"),
        "{html}"
    );
    assert!(!html.contains(r#""kind""#), "no JSON: {html}");
    for button in [
        "acknowledge",
        "resolve",
        "escalate",
        "preview",
        "diagnose",
        "assign",
        "note",
    ] {
        assert!(
            html.contains(&format!(r#"name="action" value="{button}""#)),
            "{button}"
        );
    }
    // Escalating takes an optional why, as the API and the link do.
    assert!(html.contains(r#"id="escalate-note""#), "{html}");
    // Unknown incidents are a plain 404.
    assert_eq!(page(&d, &cookie, "/incidents/999").await.0, 404);
}

#[tokio::test]
async fn the_client_update_is_previewed_exactly_then_sent() {
    let d = spawn_daemon().await;
    let id = open_hostile(&d).await;
    let cookie = sign_in(&d, BOB_TOKEN).await;
    let path = format!("/incidents/{id}");
    let token = csrf(&page(&d, &cookie, &path).await.1);
    let r = browser()
        .post(d.url(&path))
        .header(header::COOKIE, &cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("action", "preview"),
            ("text", "Disk <b>grows</b>"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    assert!(
        html.contains("Update on incident ACME-1 (DiskFull on db-1) from bob: Disk &#60;b&#62;grows&#60;/b&#62;"),
        "{html}"
    );
    assert!(html.contains(r#"value="update""#), "{html}");
    let shown: serde_json::Value = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show")
        .json()
        .await
        .expect("json");
    let updates = shown["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "status update")
        .count();
    assert_eq!(updates, 0, "a preview sends nothing");

    let form = [
        ("csrf", token.as_str()),
        ("action", "update"),
        ("text", "Disk <b>grows</b>"),
    ];
    assert_eq!(post_form(&d, &cookie, &path, &form).await.0, 303);
    let (_, html) = page(&d, &cookie, &path).await;
    assert!(
        html.contains("bob updated the client: Disk &#60;b&#62;grows"),
        "{html}"
    );
    assert!(
        html.contains("tocsin posted to the client&#39;s channel by #acme"),
        "{html}"
    );
}

#[tokio::test]
async fn a_bad_diagnosis_names_its_field_and_changes_nothing() {
    let d = spawn_daemon().await;
    let id = open_hostile(&d).await;
    let cookie = sign_in(&d, BOB_TOKEN).await;
    let path = format!("/incidents/{id}");
    let token = csrf(&page(&d, &cookie, &path).await.1);
    let form = [
        ("csrf", token.as_str()),
        ("action", "diagnose"),
        ("serious", "yes"),
        ("layer", ""),
    ];
    let r = browser()
        .post(d.url(&path))
        .header(header::COOKIE, &cookie)
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("html").contains("serious_reason:"));
    let form = [
        ("csrf", token.as_str()),
        ("action", "diagnose"),
        ("layer", "third_party"),
        ("reproducible", "no"),
        ("provider_ticket", "AWS-123"),
    ];
    assert_eq!(post_form(&d, &cookie, &path, &form).await.0, 303);
    let (_, html) = page(&d, &cookie, &path).await;
    assert!(
        html.contains("<dt>Layer</dt><dd>third_party</dd>"),
        "{html}"
    );
    assert!(
        html.contains("<dt>Provider ticket</dt><dd>AWS-123</dd>"),
        "{html}"
    );
}

#[tokio::test]
async fn the_list_filters_by_state_project_client_and_mine() {
    let d = spawn_daemon().await;
    let id = open_hostile(&d).await;
    let cookie = sign_in(&d, BOB_TOKEN).await;
    let row = format!(r#"id="incident-{id}""#);
    for (query, shown) in [
        ("/", true),
        ("/?state=open&project=shop&client=acme", true),
        ("/?state=resolved", false),
        ("/?mine=1", false),
    ] {
        let (status, html) = page(&d, &cookie, query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(html.contains(&row), shown, "{query}: {html}");
    }
    assert_eq!(page(&d, &cookie, "/?state=bogus").await.0, 400);
    let token = csrf(&page(&d, &cookie, "/").await.1);
    let form = [("csrf", token.as_str()), ("action", "acknowledge")];
    post_form(&d, &cookie, &format!("/incidents/{id}"), &form).await;
    let (_, html) = page(&d, &cookie, "/?mine=1").await;
    assert!(html.contains(&row), "acknowledged by bob, so his: {html}");
}

#[tokio::test]
async fn the_live_stream_says_when_an_incident_changes() {
    let d = spawn_daemon().await;
    let cookie = sign_in(&d, BOB_TOKEN).await;
    assert_eq!(
        browser()
            .get(d.url("/events"))
            .send()
            .await
            .expect("get")
            .status(),
        303
    );
    let mut r = browser()
        .get(d.url("/events"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert!(header_of(&r, header::CONTENT_TYPE).starts_with("text/event-stream"));
    open_hostile(&d).await;
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), r.chunk())
        .await
        .expect("an event within 10 s")
        .expect("stream")
        .expect("a chunk");
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("data: changed"), "{text}");
    // Stopping the daemon ends the stream instead of waiting for it.
    tokio::time::timeout(std::time::Duration::from_secs(10), d.stop())
        .await
        .expect("stops with a stream open");
}
