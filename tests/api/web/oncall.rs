//! The on-call page: who is on call now, the shifts, "take this shift",
//! "cover me" and the presence toggle, each changing what the API shows.

use serde_json::Value;

use super::*;
use crate::overrides::{on_call, yaml};

async fn api(d: &Daemon, path: &str) -> Value {
    let r = d
        .http
        .get(d.url(path))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.expect("json")
}

#[tokio::test]
async fn the_page_shows_who_is_on_call_and_the_shifts() {
    let d = spawn_with(&yaml("")).await;
    let bob = sign_in(&d, BOB_TOKEN).await;
    let (status, html) = page(&d, &bob, "/oncall").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"id="schedule-web-primary""#), "{html}");
    assert!(html.contains("Now: <strong>dave</strong>"), "{html}");
    // dave's week (another's: take it), then bob's (his own: cover me).
    assert!(html.contains(r#"value="take""#), "{html}");
    assert!(html.contains(r#"value="cover""#), "{html}");
    // Cover me hands over the whole shift, past the week shown.
    assert!(
        html.contains(r#"name="to" value="2026-12-07T08:00:00Z""#),
        "{html}"
    );
    let (status, month) = page(&d, &bob, "/oncall?view=month").await;
    assert_eq!(status, 200);
    assert!(month.matches(r#"class="shift"#).count() > html.matches(r#"class="shift"#).count());
    // carol (an admin outside the schedule and its team) cannot be put on
    // call here: no "take this shift" the form would then refuse.
    let carol = sign_in(&d, crate::overrides::CAROL_TOKEN).await;
    let (status, html) = page(&d, &carol, "/oncall").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="schedule-web-primary""#), "{html}");
    assert!(!html.contains(r#"value="take""#), "{html}");
}

#[tokio::test]
async fn take_this_shift_and_cover_me_make_overrides() {
    let d = spawn_with(&yaml("")).await;
    let bob = sign_in(&d, BOB_TOKEN).await;
    let (_, html) = page(&d, &bob, "/oncall").await;
    let token = csrf(&html);
    // Without the token: refused, nothing changes.
    let take = [
        ("schedule", "web-primary"),
        ("from", "2026-11-25T09:00:00Z"),
        ("to", "2026-11-30T08:00:00Z"),
    ];
    let (status, _) = post_form(&d, &bob, "/oncall/shift", &take).await;
    assert_eq!(status, 403);
    assert_eq!(
        on_call(&d, "2026-11-26T12:00:00Z").await,
        ("dave".into(), false)
    );

    let mut with = take.to_vec();
    with.push(("csrf", &token));
    let (status, location) = post_form(&d, &bob, "/oncall/shift", &with).await;
    assert_eq!((status, location.as_str()), (303, "/oncall"));
    assert_eq!(
        on_call(&d, "2026-11-26T12:00:00Z").await,
        ("bob".into(), true)
    );
    let (_, html) = page(&d, &bob, "/oncall").await;
    assert!(html.contains("Now: <strong>bob</strong>"), "{html}");

    // Cover me: dave takes bob's own week.
    let cover = [
        ("csrf", token.as_str()),
        ("schedule", "web-primary"),
        ("from", "2026-11-30T08:00:00Z"),
        ("to", "2026-12-07T08:00:00Z"),
        ("person", "dave"),
    ];
    let (status, _) = post_form(&d, &bob, "/oncall/shift", &cover).await;
    assert_eq!(status, 303);
    assert_eq!(
        on_call(&d, "2026-12-01T12:00:00Z").await,
        ("dave".into(), true)
    );

    // Putting someone else on someone else's shift is the lead's: 403.
    let other = [
        ("csrf", token.as_str()),
        ("schedule", "web-primary"),
        ("from", "2026-12-07T08:00:00Z"),
        ("to", "2026-12-14T08:00:00Z"),
        ("person", "alice"),
    ];
    let (status, _) = post_form(&d, &bob, "/oncall/shift", &other).await;
    assert_eq!(status, 403);
    // Bad input names the field.
    let bad = [
        ("csrf", token.as_str()),
        ("schedule", "web-primary"),
        ("from", "soon"),
        ("to", "later"),
    ];
    let r = browser()
        .post(d.url("/oncall/shift"))
        .header(reqwest::header::COOKIE, &bob)
        .form(&bad)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("from:"));
}

#[tokio::test]
async fn im_online_for_sets_the_presence_the_api_shows() {
    let d = spawn_with(&yaml("")).await;
    let bob = sign_in(&d, BOB_TOKEN).await;
    let (_, html) = page(&d, &bob, "/oncall").await;
    assert!(html.contains(r#"id="presence-bob""#), "{html}");
    let token = csrf(&html);
    let online = [
        ("csrf", token.as_str()),
        ("person", "bob"),
        ("status", "online"),
        ("ttl", "2h"),
    ];
    let (status, location) = post_form(&d, &bob, "/oncall/presence", &online).await;
    assert_eq!((status, location.as_str()), (303, "/oncall#presence"));
    let v = api(&d, "/api/v1/people/bob/notify").await;
    assert_eq!(v["presence"]["status"], "online", "{v}");
    assert_eq!(v["presence"]["until"], "2026-11-25T11:00:00Z", "{v}");
    let (_, html) = page(&d, &bob, "/oncall").await;
    assert!(html.contains("online until Wed 25 Nov 12:00 CET"), "{html}");

    // Too long, someone else's, no token: refused, the mark stays.
    let long = [
        ("csrf", token.as_str()),
        ("person", "bob"),
        ("status", "online"),
        ("ttl", "99d"),
    ];
    assert_eq!(post_form(&d, &bob, "/oncall/presence", &long).await.0, 400);
    let dave = [
        ("csrf", token.as_str()),
        ("person", "dave"),
        ("status", "online"),
        ("ttl", "1h"),
    ];
    assert_eq!(post_form(&d, &bob, "/oncall/presence", &dave).await.0, 403);
    let clear = [("person", "bob"), ("status", "clear")];
    assert_eq!(post_form(&d, &bob, "/oncall/presence", &clear).await.0, 403);
    let v = api(&d, "/api/v1/people/bob/notify").await;
    assert_eq!(v["presence"]["until"], "2026-11-25T11:00:00Z", "{v}");

    let clear = [
        ("csrf", token.as_str()),
        ("person", "bob"),
        ("status", "clear"),
    ];
    assert_eq!(post_form(&d, &bob, "/oncall/presence", &clear).await.0, 303);
    assert_eq!(
        api(&d, "/api/v1/people/bob/notify").await["presence"],
        Value::Null
    );
}
