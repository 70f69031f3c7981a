//! The web UI's doors stop paging like every other door: acknowledging on
//! the incident page and on the acknowledge link; a form without its CSRF
//! token changes nothing. Every message every fake received is checked.

use chrono::Duration;

use super::rig::*;
use crate::helpers::*;
use crate::web::{browser, csrf, page, post_form, sign_in};

#[tokio::test]
async fn acknowledging_on_the_incident_page_stops_paging() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    let cookie = sign_in(&rig.d, BOB_TOKEN).await;
    let path = format!("/incidents/{id}");
    let (status, html) = page(&rig.d, &cookie, &path).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"name="action" value="acknowledge""#),
        "{html}"
    );

    // Without the session's token: refused, and paging goes on.
    let (status, _) = post_form(&rig.d, &cookie, &path, &[("action", "acknowledge")]).await;
    assert_eq!(status, 403);
    assert_eq!(rig.state(id).await, "triggered");

    let token = csrf(&html);
    let form = [("csrf", token.as_str()), ("action", "acknowledge")];
    let (status, location) = post_form(&rig.d, &cookie, &path, &form).await;
    assert_eq!((status, location), (303, path.clone()));
    assert_eq!(rig.state(id).await, "acknowledged");
    let acks = rig.events(id, "acknowledged").await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["actor"], "person:bob");
    assert_eq!(acks[0]["detail"]["how"], "web");
    let (_, html) = page(&rig.d, &cookie, &path).await;
    assert!(html.contains("bob acknowledged it (via web)"), "{html}");

    pass(&rig.d, Duration::minutes(50), Duration::minutes(1)).await;
    assert_eq!(rig.events(id, "escalated").await.len(), 0);
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}

#[tokio::test]
async fn acknowledging_on_the_ack_link_stops_paging_and_says_what_next() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    let sent = rig.twilio.accepted();
    let re = regex::Regex::new(r"https://tocsin\.example(/a/[^\s]+)").expect("regex");
    let link = re
        .captures(sent[0].text())
        .map(|c| c[1].to_string())
        .expect("an acknowledge link in the SMS");

    // Opening it changes nothing, and shows the three buttons.
    let r = browser().get(rig.d.url(&link)).send().await.expect("get");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    for action in ["acknowledge", "resolve", "escalate"] {
        assert!(
            html.contains(&format!(r#"name="action" value="{action}""#)),
            "{action}: {html}"
        );
    }
    assert_eq!(rig.state(id).await, "triggered");

    let r = browser()
        .post(rig.d.url(&link))
        .form(&[("action", "acknowledge")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    for words in [
        format!("Incident {id} acknowledged."),
        "What next".to_string(),
        "The client&#39;s channel was told you are online".to_string(),
        "Record a diagnosis".to_string(),
        "Update the client at least every 7d".to_string(),
    ] {
        assert!(html.contains(&words), "{words}: {html}");
    }
    assert!(
        !html.contains(r#"value="acknowledge""#),
        "no second acknowledge: {html}"
    );
    assert_eq!(rig.state(id).await, "acknowledged");
    assert_eq!(
        rig.events(id, "acknowledged").await[0]["detail"]["how"],
        "link"
    );

    pass(&rig.d, Duration::minutes(50), Duration::minutes(1)).await;
    rig.finish(&[sms(BOB_PHONE, &[id])], 1).await;
}
