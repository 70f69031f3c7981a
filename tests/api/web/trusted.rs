//! `server.auth.trusted_header`: the proxy's header signs the person in
//! only on connections from a configured proxy address.

use reqwest::header;

use super::*;

async fn spawn_behind(proxies: &str) -> Daemon {
    let yaml = roster_yaml("").replace(
        "  admins: [alice]\n",
        &format!(
            "  admins: [alice]\n  auth:\n    trusted_header:\n      header: X-Forwarded-Email\n      proxies: {proxies}\n"
        ),
    );
    spawn_with(&yaml).await
}

/// GET `path` as the proxy would send it: (status, Location, session cookie
/// set or "", body).
async fn via_proxy(
    d: &Daemon,
    path: &str,
    email: &str,
    cookie: &str,
) -> (u16, String, String, String) {
    let r = browser()
        .get(d.url(path))
        .header("X-Forwarded-Email", email)
        .header(header::COOKIE, cookie)
        .send()
        .await
        .expect("get");
    let set = header_of(&r, header::SET_COOKIE);
    let session = set
        .split(';')
        .next()
        .filter(|c| c.starts_with("tocsin_session="))
        .unwrap_or_default()
        .to_string();
    (
        r.status().as_u16(),
        header_of(&r, header::LOCATION),
        session,
        r.text().await.expect("body"),
    )
}

#[tokio::test]
async fn the_proxy_header_signs_in_from_the_proxy() {
    // The test connects from 127.0.0.1: here, the proxy.
    let d = spawn_behind("[127.0.0.1]").await;
    let (status, location, _, _) = via_proxy(&d, "/?state=all", "bob@example.com", "").await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/signin?next=%2F%3Fstate%3Dall")
    );
    let (status, location, session, _) =
        via_proxy(&d, "/signin?next=%2F%3Fstate%3Dall", "bob@example.com", "").await;
    assert_eq!((status, location.as_str()), (303, "/?state=all"));
    assert!(!session.is_empty());
    let (status, _, _, html) = via_proxy(&d, "/", "bob@example.com", &session).await;
    assert_eq!(status, 200, "{html}");
    let live = d
        .state()
        .store
        .sessions_of("bob".into(), t0())
        .await
        .expect("sessions");
    assert_eq!(live.len(), 1, "the same stored session as a sign-in link's");

    // The proxy now vouches for someone else: bob's session does not serve them.
    let (status, location, _, _) = via_proxy(&d, "/", "alice", &session).await;
    assert_eq!((status, location.as_str()), (303, "/signin?next=%2F"));
    // Someone the roster does not know is told so, and gets no session.
    let (status, _, session, body) = via_proxy(&d, "/signin", "eve@example.com", "").await;
    assert_eq!((status, session.as_str()), (403, ""));
    assert!(body.contains("eve@example.com is not on tocsin"), "{body}");
}

#[tokio::test]
async fn the_header_from_anywhere_else_is_ignored() {
    let d = spawn_behind("[10.0.0.5]").await;
    let (status, location, session, _) =
        via_proxy(&d, "/signin?next=%2F", "bob@example.com", "").await;
    assert_eq!((status, location.as_str(), session.as_str()), (200, "", ""));
    let (status, location, _, _) = via_proxy(&d, "/", "bob@example.com", "").await;
    assert_eq!((status, location.as_str()), (303, "/signin?next=%2F"));
    assert!(
        d.state()
            .store
            .sessions_of("bob".into(), t0())
            .await
            .expect("sessions")
            .is_empty()
    );
}
