//! The "Me" page: my channels, my notify ladder (as the API then shows it),
//! my sessions (sign one out).

use serde_json::{Value, json};

use super::*;

async fn notify(d: &Daemon) -> Value {
    let r = d
        .http
        .get(d.url("/api/v1/people/bob/notify"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("get");
    r.json().await.expect("json")
}

#[tokio::test]
async fn my_notify_rules_are_set_from_the_page() {
    let d = spawn_daemon().await;
    let bob = sign_in(&d, BOB_TOKEN).await;
    let (status, html) = page(&d, &bob, "/me").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"id="channel-email">bob@example.com"#),
        "{html}"
    );
    assert!(html.contains("From the configuration."), "{html}");
    let token = csrf(&html);
    let rules = [
        ("csrf", token.as_str()),
        ("action", "save"),
        ("via0", "email"),
        ("after0", "0s"),
        ("via1", "sms"),
        ("via1", "voice"),
        ("after1", "2m"),
        ("after2", ""),
    ];
    assert_eq!(post_form(&d, &bob, "/me/notify", &rules[1..]).await.0, 403);
    assert_eq!(notify(&d).await["source"], "yaml");
    let (status, location) = post_form(&d, &bob, "/me/notify", &rules).await;
    assert_eq!((status, location.as_str()), (303, "/me#notify"));
    let v = notify(&d).await;
    assert_eq!(v["source"], "api");
    assert_eq!(
        v["rules"],
        json!([{"via": ["email"], "after": "0s"}, {"via": ["sms", "voice"], "after": "2m"}])
    );
    let (_, html) = page(&d, &bob, "/me").await;
    assert!(html.contains("Set here."), "{html}");

    // bob has no chat handle: 400 naming the rung, nothing changes.
    let bad = [("csrf", token.as_str()), ("via0", "chat")];
    let r = browser()
        .post(d.url("/me/notify"))
        .header(reqwest::header::COOKIE, &bob)
        .form(&bad)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("rules[0].via"));
    assert_eq!(notify(&d).await["source"], "api");

    let reset = [("csrf", token.as_str()), ("action", "reset")];
    assert_eq!(post_form(&d, &bob, "/me/notify", &reset).await.0, 303);
    assert_eq!(notify(&d).await["source"], "yaml");
}

#[tokio::test]
async fn i_sign_out_another_session_of_mine() {
    let d = spawn_daemon().await;
    let phone = sign_in(&d, BOB_TOKEN).await;
    let laptop = sign_in(&d, BOB_TOKEN).await;
    let (_, html) = page(&d, &laptop, "/me").await;
    assert_eq!(html.matches(r#"id="session-"#).count(), 2, "{html}");
    assert_eq!(html.matches("this one").count(), 1, "{html}");
    let re = regex::Regex::new(r#"action="/me/sessions/(\d+)/revoke""#).expect("regex");
    let other = re
        .captures(&html)
        .map(|c| c[1].to_string())
        .expect("another session");
    let token = csrf(&html);
    let path = format!("/me/sessions/{other}/revoke");
    assert_eq!(
        post_form(&d, &laptop, &path, &[("csrf", &token)]).await.0,
        303
    );
    assert_eq!(page(&d, &phone, "/me").await.0, 303);
    assert_eq!(page(&d, &laptop, "/me").await.0, 200);
}
