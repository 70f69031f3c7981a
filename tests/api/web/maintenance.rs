//! The maintenance page: start a window, end it early; who may; bad input.

use serde_json::Value;

use super::*;

async fn windows(d: &Daemon) -> Vec<Value> {
    let r = d
        .http
        .get(d.url("/api/v1/maintenance"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("get");
    let v: Value = r.json().await.expect("json");
    v["maintenance"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_lead_starts_and_ends_a_window_from_the_page() {
    let d = spawn_daemon().await;
    let alice = sign_in(&d, ADMIN_TOKEN).await;
    let (status, html) = page(&d, &alice, "/maintenance").await;
    assert_eq!(status, 200);
    assert!(html.contains("No maintenance windows."), "{html}");
    assert!(html.contains(r#"<option value="project:shop">"#), "{html}");
    let token = csrf(&html);

    let start = [
        ("scope", "project:shop"),
        ("for", "2h"),
        ("reason", "db <upgrade>"),
    ];
    assert_eq!(post_form(&d, &alice, "/maintenance", &start).await.0, 403);
    assert!(windows(&d).await.is_empty());
    let mut with = start.to_vec();
    with.push(("csrf", &token));
    let (status, location) = post_form(&d, &alice, "/maintenance", &with).await;
    assert_eq!((status, location.as_str()), (303, "/maintenance"));
    let w = windows(&d).await;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0]["reason"], "db <upgrade>");
    assert_eq!(w[0]["active"], true);
    assert_eq!(w[0]["to"], "2026-11-25T11:00:00Z");

    let (_, html) = page(&d, &alice, "/maintenance").await;
    assert!(
        html.contains("db &#60;upgrade&#62;") || html.contains("db &lt;upgrade&gt;"),
        "{html}"
    );
    assert!(html.contains(r#"action="/maintenance/1/end""#), "{html}");
    let (status, _) = post_form(&d, &alice, "/maintenance/1/end", &[("csrf", &token)]).await;
    assert_eq!(status, 303);
    let w = windows(&d).await;
    assert!(w.is_empty() || w[0]["ended_at"].is_string(), "{w:?}");
}

#[tokio::test]
async fn a_member_may_not_and_bad_input_names_the_field() {
    let d = spawn_daemon().await;
    let bob = sign_in(&d, BOB_TOKEN).await;
    let (_, html) = page(&d, &bob, "/maintenance").await;
    let token = csrf(&html);
    let start = [
        ("csrf", token.as_str()),
        ("scope", "project:shop"),
        ("for", "2h"),
        ("reason", "deploy"),
    ];
    assert_eq!(post_form(&d, &bob, "/maintenance", &start).await.0, 403);
    let alice = sign_in(&d, ADMIN_TOKEN).await;
    let (_, html) = page(&d, &alice, "/maintenance").await;
    let token = csrf(&html);
    for (form, field) in [
        (
            vec![("scope", "project:shop"), ("for", "2h"), ("reason", " ")],
            "reason:",
        ),
        (
            vec![("scope", "project:nope"), ("for", "2h"), ("reason", "x")],
            "project:",
        ),
        (
            vec![("scope", "project:shop"), ("for", "soon"), ("reason", "x")],
            "for:",
        ),
        (
            vec![("scope", "shop"), ("for", "2h"), ("reason", "x")],
            "scope:",
        ),
    ] {
        let mut form = form;
        form.push(("csrf", &token));
        let r = browser()
            .post(d.url("/maintenance"))
            .header(reqwest::header::COOKIE, &alice)
            .form(&form)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 400, "{form:?}");
        let body = r.text().await.expect("body");
        assert!(body.contains(field), "{field} in {body}");
    }
    assert!(windows(&d).await.is_empty());
}

/// An end time typed on the page is read in the viewer's zone, which the
/// page shows times in; a duration and an end time together are refused
/// as the API refuses them.
#[tokio::test]
async fn an_end_time_is_read_in_the_viewers_zone() {
    let yaml = roster_yaml("").replace(
        "  - id: alice\n",
        "  - id: alice\n    timezone: America/New_York\n",
    );
    let d = spawn_with(&yaml).await;
    let alice = sign_in(&d, ADMIN_TOKEN).await;
    let (_, html) = page(&d, &alice, "/maintenance").await;
    let token = csrf(&html);
    let both = [
        ("csrf", token.as_str()),
        ("scope", "project:shop"),
        ("for", "2h"),
        ("to", "2026-11-25 20:00"),
        ("reason", "db upgrade"),
    ];
    let r = browser()
        .post(d.url("/maintenance"))
        .header(reqwest::header::COOKIE, &alice)
        .form(&both)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("to:"));
    assert!(windows(&d).await.is_empty());
    let until = [
        ("csrf", token.as_str()),
        ("scope", "project:shop"),
        ("for", ""),
        ("to", "2026-11-25 20:00"),
        ("reason", "db upgrade"),
    ];
    let (status, _) = post_form(&d, &alice, "/maintenance", &until).await;
    assert_eq!(status, 303);
    let w = windows(&d).await;
    assert_eq!(w.len(), 1, "{w:?}");
    // 20:00 in New York (EST) is 01:00 UTC the next day.
    assert_eq!(w[0]["to"], "2026-11-26T01:00:00Z");
}
