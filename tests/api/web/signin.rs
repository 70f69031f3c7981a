//! Signing in by one-time link, sessions, CSRF and the security headers.

use chrono::Duration;
use reqwest::header;

use super::*;

#[tokio::test]
async fn every_page_without_a_session_redirects_to_signin_and_back() {
    let d = spawn_daemon().await;
    for (path, next) in [
        ("/", "%2F"),
        ("/?state=all", "%2F%3Fstate%3Dall"),
        ("/incidents/1", "%2Fincidents%2F1"),
        ("/events", "%2Fevents"),
    ] {
        for cookie in ["", "tocsin_session=forged"] {
            let r = browser()
                .get(d.url(path))
                .header(header::COOKIE, cookie)
                .send()
                .await
                .expect("get");
            assert_eq!(r.status(), 303, "{path} {cookie}");
            assert_eq!(
                header_of(&r, header::LOCATION),
                format!("/signin?next={next}")
            );
        }
    }
    // The sign-in page itself is open, and keeps where to go back to.
    let r = browser()
        .get(d.url("/signin?next=%2F%3Fstate%3Dall"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("body");
    assert!(
        html.contains(r#"name="next" value="/?state=all""#),
        "{html}"
    );
}

#[tokio::test]
async fn a_signin_link_works_once_and_sets_a_safe_cookie() {
    let d = spawn_daemon().await;
    let path = signin_path(&d, BOB_TOKEN).await;
    // Opening the link (a mail scanner's GET) signs nobody in.
    let (status, body) = page(&d, "", &path).await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"value="signin""#), "{body}");

    let (status, cookie, set, location) = open_link(&d, &path).await;
    assert_eq!((status, location.as_str()), (303, "/"));
    for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    let cookie = cookie.expect("session cookie");
    let (status, html) = page(&d, &cookie, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Incidents</h1>"), "{html}");

    // Used: a second try opens nothing.
    let (status, again, _, _) = open_link(&d, &path).await;
    assert_eq!((status, again), (410, None));
}

#[tokio::test]
async fn a_signin_link_expires_after_fifteen_minutes() {
    let d = spawn_daemon().await;
    let fresh = signin_path(&d, BOB_TOKEN).await;
    let stale = signin_path(&d, BOB_TOKEN).await;
    d.advance(Duration::minutes(14)).await;
    assert_eq!(open_link(&d, &fresh).await.0, 303);
    d.advance(Duration::minutes(1)).await;
    let (status, cookie, _, _) = open_link(&d, &stale).await;
    assert_eq!((status, cookie), (410, None));
}

#[tokio::test]
async fn the_signin_form_answers_alike_whoever_asks() {
    let d = spawn_daemon().await;
    let ask = |who: &'static str| {
        let d = &d;
        async move {
            let r = browser()
                .post(d.url("/signin"))
                .form(&[("who", who), ("via", "sms"), ("next", "/")])
                .send()
                .await
                .expect("post");
            (
                r.status().as_u16(),
                r.text().await.expect("body").replace(who, "WHO"),
            )
        }
    };
    let known = ask("bob").await;
    assert_eq!(known.0, 200);
    assert_eq!(ask("nobody").await, known);
    assert_eq!(ask("bob@example.com").await, known);
    // A wrong field is named, and nothing is sent.
    let r = browser()
        .post(d.url("/signin"))
        .form(&[("who", "bob"), ("via", "pigeon")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("via:"));
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let d = spawn_daemon().await;
    let cookie = sign_in(&d, BOB_TOKEN).await;
    let (_, html) = page(&d, &cookie, "/").await;
    let token = csrf(&html);
    for form in [vec![], vec![("csrf", "")], vec![("csrf", "0123abcd")]] {
        let (status, _) = post_form(&d, &cookie, "/signout", &form).await;
        assert_eq!(status, 403, "{form:?}");
        assert_eq!(page(&d, &cookie, "/").await.0, 200, "still signed in");
    }
    let (status, location) = post_form(&d, &cookie, "/signout", &[("csrf", &token)]).await;
    assert_eq!((status, location.as_str()), (303, "/signin"));
    assert_eq!(page(&d, &cookie, "/").await.0, 303, "signed out");
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_of_the_person_only() {
    let d = spawn_daemon().await;
    let phone = sign_in(&d, BOB_TOKEN).await;
    let laptop = sign_in(&d, BOB_TOKEN).await;
    let alice = sign_in(&d, ADMIN_TOKEN).await;
    let token = csrf(&page(&d, &laptop, "/").await.1);
    let form = [("csrf", token.as_str()), ("everywhere", "1")];
    assert_eq!(post_form(&d, &laptop, "/signout", &form).await.0, 303);
    assert_eq!(page(&d, &phone, "/").await.0, 303);
    assert_eq!(page(&d, &laptop, "/").await.0, 303);
    assert_eq!(page(&d, &alice, "/").await.0, 200);
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_assets_are_cached() {
    let d = spawn_daemon().await;
    let cookie = sign_in(&d, BOB_TOKEN).await;
    for path in ["/", "/signin"] {
        let r = browser()
            .get(d.url(path))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .expect("get");
        let csp = header_of(&r, header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("style-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header_of(&r, header::X_FRAME_OPTIONS), "DENY", "{path}");
        assert_eq!(
            header_of(&r, header::REFERRER_POLICY),
            "no-referrer",
            "{path}"
        );
        assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-store", "{path}");
        let html = r.text().await.expect("body");
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "{path}: inline code"
        );
    }
    let html = page(&d, &cookie, "/").await.1;
    let re = regex::Regex::new(r#"(/assets/app\.[0-9a-f]{12}\.(css|js))""#).expect("regex");
    let assets: Vec<String> = re.captures_iter(&html).map(|c| c[1].to_string()).collect();
    assert_eq!(assets.len(), 2, "{html}");
    for asset in assets {
        let r = browser().get(d.url(&asset)).send().await.expect("get");
        assert_eq!(r.status(), 200, "{asset}");
        assert!(
            header_of(&r, header::CACHE_CONTROL).contains("immutable"),
            "{asset}"
        );
    }
    let r = browser()
        .get(d.url("/assets/app.000000000000.css"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn what_an_alert_says_is_shown_as_text() {
    let d = spawn_daemon().await;
    let r = d
        .post_json(
            "/v2/enqueue",
            "",
            &serde_json::json!({
                "routing_key": PD_TOKEN,
                "event_action": "trigger",
                "payload": {
                    "summary": "<script>alert(1)</script> disk full",
                    "source": "db-1",
                    "severity": "critical"
                }
            }),
        )
        .await;
    assert_eq!(r.status(), 202);
    let cookie = sign_in(&d, BOB_TOKEN).await;
    let (status, html) = page(&d, &cookie, "/").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; disk full"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
}

#[tokio::test]
async fn tocsin_login_prints_a_link_that_signs_the_cli_user_in() {
    let d = spawn_daemon().await;
    let o = crate::cli::as_token(&d, BOB_TOKEN, &["login"]).await;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let out = crate::cli::stdout(&o);
    let url = out.trim();
    assert_eq!(out.lines().count(), 1, "{out}");
    let path = url
        .strip_prefix("https://tocsin.example")
        .expect("public url");
    assert!(path.starts_with("/signin/"), "{url}");
    let (status, cookie, _, _) = open_link(&d, path).await;
    assert_eq!(status, 303);
    let cookie = cookie.expect("cookie");
    assert!(
        page(&d, &cookie, "/")
            .await
            .1
            .contains(r#"title="Signed in as bob""#)
    );
    // Without a valid token: a one-line user error, no link.
    let o = crate::cli::as_token(&d, "wrong-token", &["login"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(crate::cli::stdout(&o).is_empty());
}

#[tokio::test]
async fn another_site_cannot_sign_a_browser_in_with_its_own_link() {
    let d = spawn_daemon().await;
    let path = signin_path(&d, BOB_TOKEN).await;
    let r = browser()
        .post(d.url(&path))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("next", "/")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    assert!(header_of(&r, header::SET_COOKIE).is_empty());
    // The link is still good from our own page.
    let r = browser()
        .post(d.url(&path))
        .header(header::ORIGIN, "https://tocsin.example")
        .form(&[("next", "/")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
}
