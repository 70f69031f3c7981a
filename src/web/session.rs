//! Who is looking: the session cookie, the [`Viewer`] extractor (no
//! session: a redirect to the sign-in page and back), and the CSRF check
//! every POST passes through ([`Posted`]).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::{WebError, forbidden};
use crate::app::Shared;
use crate::config::Person;
use crate::signin::{self, Session};

/// The session cookie's name.
pub const COOKIE: &str = "tocsin_session";

/// The signed-in person and their session.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub person: Person,
    pub session: Session,
}

impl Viewer {
    /// The token every form of this session carries (`name="csrf"`).
    pub fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

impl FromRequestParts<Shared> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, Response> {
        let back = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let to_signin = || Redirect::to(&format!("/signin?next={}", encode(&back))).into_response();
        let Some(cookie) = cookie(&parts.headers) else {
            return Err(to_signin());
        };
        let session = app
            .store
            .session(signin::hash(&cookie), app.clock.now())
            .await
            .map_err(|e| WebError::from(e).into_response())?;
        let Some(session) = session else {
            return Err(to_signin());
        };
        let roster = app.roster();
        // Removed from the roster since: the session no longer opens anything.
        let Some(person) = roster.people.get(&session.person).cloned() else {
            return Err(to_signin());
        };
        // The trusted proxy now vouches for someone else: sign them in.
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>()
            && let Some(who) = super::trusted::named(&roster, *peer, &parts.headers)
            && signin::find(&roster, &who).is_none_or(|p| p.id != person.id)
        {
            return Err(to_signin());
        }
        Ok(Viewer { person, session })
    }
}

/// A POSTed form of a signed-in viewer whose `csrf` field matched the
/// session's token: 403 otherwise, before the form is even read.
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<Shared> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Shared) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, app).await?;
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|_| WebError::bad("body", "cannot be read").into_response())?;
        let sent = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if !csrf_matches(&sent, viewer.csrf()) {
            return Err(forbidden(
                "This form has expired or came from another site. Go back, reload, try again.",
            ));
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        let Form(form) = Form::<T>::from_request(req, app)
            .await
            .map_err(|e| WebError::bad("form", e.body_text()).into_response())?;
        Ok(Posted { viewer, form })
    }
}

/// Whether a POST came from our own pages. A browser's
/// `Sec-Fetch-Site` says so first (`same-origin`, or `none` for a user's
/// own action); our `Referrer-Policy: no-referrer` makes Chromium send
/// `Origin: null` even on our own forms. Without it: no `Origin` (not a
/// browser, or an old one), or an `Origin` that is `public_url`'s or the
/// `Host` asked for. Stops another site from signing a browser in with a
/// link of its own (login CSRF), where no session token exists yet.
pub fn same_origin(headers: &HeaderMap, public_url: &url::Url) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str().map(|o| o.trim_end_matches('/')) else {
        return false;
    };
    let public = public_url.origin().ascii_serialization();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let asked = origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest == host);
    origin == public || asked
}

/// Constant-time; an empty token never matches.
pub fn csrf_matches(sent: &str, expected: &str) -> bool {
    !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
}

/// The session cookie's value, if sent.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Secure when the
/// daemon is reached over https.
pub fn set_cookie(value: &str, secure: bool) -> String {
    let max_age = signin::SESSION_TTL.num_seconds();
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// `Set-Cookie` that forgets the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// A random token (sign-in link, cookie, CSRF): 256 bits, hex.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Percent-encodes a path for a `next=` parameter.
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Where to go after signing in: only a path on this site (never
/// `//evil.example` or a full URL), else the incidents page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_session_cookie_among_others() {
        fn check(header: &str, expected: Option<&str>) {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, header.parse().expect("header"));
            assert_eq!(cookie(&h).as_deref(), expected, "{header}");
        }
        check("tocsin_session=abc", Some("abc"));
        check("a=1; tocsin_session=abc; b=2", Some("abc"));
        check("tocsin_session=", None);
        check("other=abc", None);
        check("tocsin_sessionx=abc", None);
    }

    #[test]
    fn next_stays_on_this_site() {
        fn check(next: Option<&str>, expected: &str) {
            assert_eq!(safe_next(next), expected, "{next:?}");
        }
        check(None, "/");
        check(Some("/incidents/4?x=1"), "/incidents/4?x=1");
        check(Some("//evil.example/"), "/");
        check(Some("https://evil.example/"), "/");
        check(Some("/\\evil.example"), "/");
    }

    #[test]
    fn same_origin_table() {
        fn check(origin: Option<&str>, host: &str, expected: bool) {
            let mut h = HeaderMap::new();
            if let Some(o) = origin {
                h.insert(header::ORIGIN, o.parse().expect("header"));
            }
            h.insert(header::HOST, host.parse().expect("header"));
            let public: url::Url = "https://tocsin.example/".parse().expect("url");
            assert_eq!(same_origin(&h, &public), expected, "{origin:?} {host}");
        }
        check(None, "tocsin.example", true);
        check(Some("https://tocsin.example"), "10.0.0.1:8080", true);
        check(Some("http://localhost:8080"), "localhost:8080", true);
        check(Some("https://evil.example"), "tocsin.example", false);
        check(Some("null"), "tocsin.example", false);
        // A browser's own word wins over `Origin: null`.
        fn fetched(site: &str, expected: bool) {
            let mut h = HeaderMap::new();
            h.insert(header::ORIGIN, "null".parse().expect("header"));
            h.insert("sec-fetch-site", site.parse().expect("header"));
            let public: url::Url = "https://tocsin.example/".parse().expect("url");
            assert_eq!(same_origin(&h, &public), expected, "{site}");
        }
        fetched("same-origin", true);
        fetched("none", true);
        fetched("same-site", false);
        fetched("cross-site", false);
    }

    #[test]
    fn csrf_table() {
        fn check(sent: &str, expected: &str, ok: bool) {
            assert_eq!(csrf_matches(sent, expected), ok, "{sent:?} vs {expected:?}");
        }
        check("abc", "abc", true);
        check("abd", "abc", false);
        check("", "", false);
        check("ab", "abc", false);
    }

    #[test]
    fn cookie_attributes() {
        let c = set_cookie("v", true);
        for part in [
            "tocsin_session=v",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
        ] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(!set_cookie("v", false).contains("Secure"));
    }
}
