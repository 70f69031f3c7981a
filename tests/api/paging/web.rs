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

/// The sign-in link in a message, as a path on this daemon.
fn signin_link(text: &str) -> String {
    // Mail bodies may be quoted-printable: undo its soft line breaks.
    let text = text
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let re = regex::Regex::new(r"https://tocsin\.example(/signin/[0-9a-f]{64}(\?next=[^\s]+)?)")
        .expect("regex");
    re.captures(&text)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no sign-in link in {text}"))
}

#[tokio::test]
async fn the_signin_form_sends_a_link_by_the_channel_picked_and_brings_you_back() {
    let rig = rig().await;
    let r = browser()
        .get(rig.d.url("/incidents/7"))
        .send()
        .await
        .expect("get");
    let back = "/signin?next=%2Fincidents%2F7";
    assert_eq!(crate::web::header_of(&r, reqwest::header::LOCATION), back);
    let ask = |who: &'static str, via: &'static str| {
        let d = &rig.d;
        async move {
            let r = browser()
                .post(d.url("/signin"))
                .form(&[("who", who), ("via", via), ("next", "/incidents/7")])
                .send()
                .await
                .expect("post");
            assert_eq!(r.status(), 200, "{who} {via}");
        }
    };
    // Only bob has an email address; nobody is not on the roster.
    for (who, via) in [
        ("bob@example.com", "email"),
        ("nobody", "email"),
        ("alice", "email"),
    ] {
        ask(who, via).await;
    }
    rig.d.settle().await;
    let mails = rig.smtp.received();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0].to, vec!["bob@example.com".to_string()]);
    let link = signin_link(&mails[0].data);

    // The link's page keeps where to go; its button signs in and goes there.
    let (status, html) = crate::web::page(&rig.d, "", &link).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"name="next" value="/incidents/7""#),
        "{html}"
    );
    let r = browser()
        .post(rig.d.url(&link))
        .form(&[("next", "/incidents/7")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
    assert_eq!(
        crate::web::header_of(&r, reqwest::header::LOCATION),
        "/incidents/7"
    );

    // By SMS; asking again and again sends no more than three live links.
    for _ in 0..4 {
        ask("bob", "sms").await;
    }
    // SMS to one person go at most one per `sms_bundle_window` (1m).
    pass(&rig.d, Duration::minutes(6), Duration::minutes(1)).await;
    let sms_sent = rig.twilio.accepted();
    assert_eq!(
        sms_sent.len(),
        3,
        "one email used, three by SMS: {sms_sent:#?}"
    );
    assert!(sms_sent.iter().all(|s| s.to() == BOB_PHONE));
    signin_link(sms_sent[0].text());
    let none = Vec::new;
    rig.finish(
        &[
            Sent {
                channel: "email",
                to: "bob@example.com".into(),
                incidents: none(),
            },
            Sent {
                channel: "sms",
                to: BOB_PHONE.into(),
                incidents: none(),
            },
            Sent {
                channel: "sms",
                to: BOB_PHONE.into(),
                incidents: none(),
            },
            Sent {
                channel: "sms",
                to: BOB_PHONE.into(),
                incidents: none(),
            },
        ],
        3,
    )
    .await;
}

#[tokio::test]
async fn escalating_on_the_ack_link_pages_the_next_step_now() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    let re = regex::Regex::new(r"https://tocsin\.example(/a/[^\s]+)").expect("regex");
    let link = re
        .captures(rig.twilio.accepted()[0].text())
        .map(|c| c[1].to_string())
        .expect("an acknowledge link in the SMS");
    let r = browser()
        .post(rig.d.url(&link))
        .form(&[("action", "escalate")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    // The token is in the URL: it must not leak through a Referer or a cache.
    for (name, value) in [
        (reqwest::header::REFERRER_POLICY, "no-referrer"),
        (reqwest::header::CACHE_CONTROL, "no-store"),
        (reqwest::header::X_FRAME_OPTIONS, "DENY"),
    ] {
        assert_eq!(crate::web::header_of(&r, name.clone()), value, "{name}");
    }
    let html = r.text().await.expect("html");
    assert!(html.contains(&format!("Incident {id} escalated")), "{html}");
    rig.d.settle().await;
    assert_eq!(rig.state(id).await, "triggered");
    rig.finish(&[sms(BOB_PHONE, &[id]), call(ALICE_PHONE, id)], 2)
        .await;
}

/// Someone else acknowledged first: bob's link says who and tells him
/// nothing to do next (the client heard of alice, not him); the incident
/// page says who too.
#[tokio::test]
async fn acting_after_someone_else_says_who_and_nothing_more() {
    let rig = rig().await;
    let id = rig.open("DiskFull").await;
    let sent = rig.twilio.accepted();
    let re = regex::Regex::new(r"https://tocsin\.example(/a/[^\s]+)").expect("regex");
    let link = re
        .captures(sent[0].text())
        .map(|c| c[1].to_string())
        .expect("an acknowledge link in the SMS");
    assert_eq!(rig.act(id, "acknowledge", ADMIN_TOKEN).await, 200);
    let r = browser()
        .post(rig.d.url(&link))
        .form(&[("action", "acknowledge")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    assert!(html.contains("was already acknowledged by"), "{html}");
    assert!(!html.contains("told you are online"), "{html}");

    let cookie = sign_in(&rig.d, BOB_TOKEN).await;
    let path = format!("/incidents/{id}");
    let (_, page_html) = page(&rig.d, &cookie, &path).await;
    let token = csrf(&page_html);
    let r = browser()
        .post(rig.d.url(&path))
        .header(reqwest::header::COOKIE, &cookie)
        .form(&[("csrf", token.as_str()), ("action", "acknowledge")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 409);
    let body = r.text().await.expect("body");
    assert!(body.contains("was already acknowledged by"), "{body}");
    assert_eq!(rig.events(id, "acknowledged").await.len(), 1);
}
