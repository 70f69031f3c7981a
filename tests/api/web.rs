//! The web UI over HTTP, as a browser uses it: sign-in by one-time link,
//! the session cookie, CSRF on every form, the security headers, escaping.
//! `web/` holds the pages' own tests.

mod incident;
mod maintenance;
mod me;
mod oidc;
mod oncall;
mod postmortems;
mod reports;
mod signin;
mod status;
mod trusted;

use reqwest::header;

use crate::helpers::*;

/// A browser without JavaScript: follows no redirect (tests read them),
/// sends the cookie it is given.
pub(super) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Opens a sign-in link; (status, the session cookie's `name=value` if set,
/// the whole Set-Cookie, Location).
pub(super) async fn open_link(d: &Daemon, path: &str) -> (u16, Option<String>, String, String) {
    let r = browser()
        .post(d.url(path))
        .form(&[("next", "/")])
        .send()
        .await
        .expect("post");
    let set = header_of(&r, header::SET_COOKIE);
    let cookie = set
        .split(';')
        .next()
        .filter(|c| c.starts_with("tocsin_session=") && c.len() > "tocsin_session=".len())
        .map(str::to_string);
    (
        r.status().as_u16(),
        cookie,
        set,
        header_of(&r, header::LOCATION),
    )
}

/// Signs the holder of `token` in; the `Cookie` header value.
pub(super) async fn sign_in(d: &Daemon, token: &str) -> String {
    let path = signin_path(d, token).await;
    let (status, cookie, _, _) = open_link(d, &path).await;
    assert_eq!(status, 303);
    cookie.expect("session cookie")
}

/// GET `path` with `cookie`: status and body.
pub(super) async fn page(d: &Daemon, cookie: &str, path: &str) -> (u16, String) {
    let r = browser()
        .get(d.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .expect("get");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// POST a form to `path` with `cookie`: status and Location.
pub(super) async fn post_form(
    d: &Daemon,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let r = browser()
        .post(d.url(path))
        .header(header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), header_of(&r, header::LOCATION))
}

/// The CSRF token in a page's forms.
pub(super) fn csrf(html: &str) -> String {
    let re = regex::Regex::new(r#"name="csrf" value="([0-9a-f]+)""#).expect("regex");
    re.captures(html)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no csrf token in {html}"))
}

pub(super) fn header_of(r: &reqwest::Response, name: header::HeaderName) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
