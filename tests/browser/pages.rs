//! The pages as a person uses them, in Chromium.

use serde_json::json;

use crate::helpers::*;
use crate::ui;

#[tokio::test]
async fn signs_in_by_link_and_sees_a_new_incident_appear_live() {
    let Some(ui) = ui().await else { return };
    let b = ui.browser(1280).await;
    b.goto(&ui.d.url("/")).await;
    b.wait_for_url("the sign-in page", |u| u.ends_with("/signin?next=%2F"))
        .await;
    ui.sign_in(&b, BOB_TOKEN).await;
    assert_eq!(b.text("h1").await, "Incidents");
    b.find("p.empty").await;

    // A mark on this page: a reload would wipe it.
    b.run("window.stayed = 'here';", json!([])).await;
    let id = ui.open("DiskFull", json!({})).await;
    let row = format!("#incident-{id}");
    let text = b.text(&row).await;
    assert!(text.contains("DiskFull on db-1"), "{text}");
    assert_eq!(b.run("return window.stayed;", json!([])).await, "here");
}

#[tokio::test]
async fn acknowledges_from_the_incident_page_and_the_client_hears() {
    let Some(ui) = ui().await else { return };
    let id = ui.open("DiskFull", json!({})).await;
    let b = ui.browser(1280).await;
    ui.sign_in(&b, BOB_TOKEN).await;
    b.goto(&ui.d.url(&format!("/incidents/{id}"))).await;
    b.click("#acknowledge").await;
    b.wait_for_text("the acknowledged state", |t| t.contains("acknowledged"))
        .await;
    assert_eq!(b.text("#state").await, "acknowledged");
    assert_eq!(ui.state(id).await, "acknowledged");
    let posts = ui.client_posts().await;
    assert_eq!(posts.len(), 1, "{posts:?}");
}

#[tokio::test]
async fn acknowledges_from_the_ack_link_on_a_phone_and_the_client_hears() {
    let Some(ui) = ui().await else { return };
    let id = ui.open("DiskFull", json!({})).await;
    let b = ui.browser(360).await;
    b.goto(&ui.d.url(&ui.ack_path(id, "bob"))).await;
    // Readable at 360 px: nothing wider than the screen, big buttons.
    let width = b
        .run("return document.documentElement.scrollWidth;", json!([]))
        .await;
    assert!(
        width.as_f64().is_some_and(|w| w <= 360.0),
        "page is {width} px wide"
    );
    let (w, h) = b.size("#acknowledge").await;
    assert!(w >= 44.0 && h >= 44.0, "the button is {w}×{h}");
    b.click("#acknowledge").await;
    let next = b.text("#next").await;
    assert!(next.contains("Record a diagnosis"), "{next}");
    assert_eq!(ui.state(id).await, "acknowledged");
    let posts = ui.client_posts().await;
    assert_eq!(posts.len(), 1, "{posts:?}");
}

#[tokio::test]
async fn every_page_without_a_session_goes_to_signin() {
    let Some(ui) = ui().await else { return };
    let id = ui.open("DiskFull", json!({})).await;
    let b = ui.browser(1280).await;
    for (path, next) in [
        ("/".to_string(), "%2F".to_string()),
        ("/?state=all".to_string(), "%2F%3Fstate%3Dall".to_string()),
        (format!("/incidents/{id}"), format!("%2Fincidents%2F{id}")),
        ("/oncall".to_string(), "%2Foncall".to_string()),
        ("/maintenance".to_string(), "%2Fmaintenance".to_string()),
        ("/postmortems".to_string(), "%2Fpostmortems".to_string()),
        ("/reports".to_string(), "%2Freports".to_string()),
        ("/me".to_string(), "%2Fme".to_string()),
    ] {
        b.goto(&ui.d.url(&path)).await;
        let want = format!("/signin?next={next}");
        b.wait_for_url(&want, |u| u.ends_with(&want)).await;
        assert!(
            b.text("form#signin")
                .await
                .contains("Send me a sign-in link")
        );
    }
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let Some(ui) = ui().await else { return };
    let id = ui.open("DiskFull", json!({})).await;
    let b = ui.browser(1280).await;
    ui.sign_in(&b, BOB_TOKEN).await;
    b.goto(&ui.d.url(&format!("/incidents/{id}"))).await;
    b.run(
        "document.querySelectorAll('input[name=csrf]').forEach(function (e) { e.remove(); });",
        json!([]),
    )
    .await;
    b.click("#acknowledge").await;
    let body = b
        .wait_for_text("the refusal", |t| t.contains("Not allowed"))
        .await;
    assert!(body.contains("This form has expired"), "{body}");
    assert_eq!(ui.state(id).await, "triggered");
    assert!(ui.client_posts().await.is_empty());
}

#[tokio::test]
async fn a_label_with_a_script_renders_as_text() {
    let Some(ui) = ui().await else { return };
    let id = ui
        .open("DiskFull", json!({ "team": "<script>alert(1)</script>" }))
        .await;
    let b = ui.browser(1280).await;
    ui.sign_in(&b, BOB_TOKEN).await;
    b.goto(&ui.d.url(&format!("/incidents/{id}"))).await;
    let body = b
        .wait_for_text("the label", |t| t.contains("<script>alert(1)</script>"))
        .await;
    assert!(body.contains("DiskFull"), "{body}");
    assert_eq!(b.alert_text().await, None, "a script ran");
    let scripts = b
        .run(
            "return Array.from(document.scripts).filter(function (s) { return !s.src; }).length;",
            json!([]),
        )
        .await;
    assert_eq!(scripts, 0, "inline script in the page");
}

#[tokio::test]
async fn takes_a_shift_and_the_calendar_changes() {
    let Some(ui) = ui().await else { return };
    let b = ui.browser(1280).await;
    ui.sign_in(&b, BOB_TOKEN).await;
    b.goto(&ui.d.url("/oncall")).await;
    let now = b.text("#oncall-now-web-primary").await;
    assert!(now.contains("dave"), "{now}");
    // dave's week, the first shift shown: bob takes it.
    b.click(r#"#schedule-web-primary li.shift:not(.mine) button[value="take"]"#)
        .await;
    b.wait_for_text("the override in the calendar", |t| t.contains("override"))
        .await;
    let now = b.text("#oncall-now-web-primary").await;
    assert!(now.contains("bob"), "{now}");
    let first = b.text("#schedule-web-primary li.shift.override.mine").await;
    assert!(first.contains("override"), "{first}");
}

#[tokio::test]
async fn a_client_update_reaches_the_status_page() {
    let Some(ui) = ui().await else { return };
    let id = ui.open("DiskFull", json!({})).await;
    let b = ui.browser(1280).await;
    ui.sign_in(&b, BOB_TOKEN).await;
    b.goto(&ui.d.url(&format!("/incidents/{id}"))).await;
    b.click("#acknowledge").await;
    b.wait_for_text("the acknowledged state", |t| t.contains("acknowledged"))
        .await;
    let words = "Checkout is slow; we are moving the database to a bigger disk.";
    b.fill("#update-text", words).await;
    b.click("#preview-update").await;
    let preview = b.text("#preview").await;
    assert!(preview.contains(words), "{preview}");
    b.click("#send-update").await;
    // Sent: back on the incident's page, without the preview.
    b.wait_gone("#send-update").await;
    let posts = ui.client_posts().await;
    assert!(posts.iter().any(|p| p.contains(words)), "{posts:?}");

    b.goto(&ui.d.url(&format!("/status/acme?token={CLIENT_TOKEN}")))
        .await;
    let body = b
        .wait_for_text("the update on the status page", |t| t.contains(words))
        .await;
    assert!(body.contains("ACME-1"), "{body}");
}

#[tokio::test]
async fn writes_and_approves_a_postmortem() {
    let Some(ui) = ui().await else { return };
    let id = ui.open("DiskFull", json!({})).await;
    ui.serious_resolved(id).await;
    let b = ui.browser(1280).await;
    ui.sign_in(&b, BOB_TOKEN).await;
    b.goto(&ui.d.url("/postmortems")).await;
    b.click("#postmortem-1 a").await;
    for (section, text) in [
        ("#what_happened", "The shop's disk filled up."),
        ("#how_fixed", "We moved the database to a **bigger** disk."),
        ("#cause", "Logs were never rotated."),
        ("#measures", "Rotate logs daily."),
        (
            "#client_summary",
            "The shop was slow for 90 minutes; it is fixed.",
        ),
    ] {
        b.fill(section, text).await;
    }
    b.click("#no_measures_needed").await;
    b.click(r#"button[value="preview"]"#).await;
    b.find("#preview-note").await;
    let preview = b.text("#preview").await;
    assert!(preview.contains("bigger"), "{preview}");
    b.click(r#"button[value="save"]"#).await;
    b.wait_gone("#preview-note").await;
    b.click("#step-submit").await;
    b.wait_for_text("the submitted state", |t| t.contains("submitted"))
        .await;
    assert_eq!(b.text("#postmortem-state").await, "submitted");

    // The team lead approves, sees the client's exact text, publishes.
    ui.sign_in(&b, ADMIN_TOKEN).await;
    b.goto(&ui.d.url("/postmortems/1")).await;
    b.click("#step-approve").await;
    b.wait_gone("#step-approve").await;
    let client_text = b.text("#client-text").await;
    assert_eq!(
        client_text,
        "The shop was slow for 90 minutes; it is fixed."
    );
    assert_eq!(b.text("#postmortem-state").await, "approved");
}
