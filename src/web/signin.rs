//! Signing in and out: the sign-in form (a one-time link sent through one
//! of the person's own channels), the link's page (a button: opening the
//! link alone signs nobody in, since mail scanners follow links), and
//! signing out here or everywhere.
//!
//! The sign-in form answers the same whether or not the person exists, so
//! it does not tell who is on the roster. It carries no CSRF token (there
//! is no session yet): a forged post only sends the person their own link.

use askama::Template;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::{self, Posted, random_token, safe_next};
use super::{Chrome, WebError, message, render, trusted};
use crate::app::Shared;
use crate::config::ChannelType;
use crate::incident::OutboxRow;
use crate::signin;
use crate::store::StoreResult;

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    chrome: Chrome,
    next: String,
    /// `/auth/oidc?next=…` when single sign-on is configured.
    sso: Option<String>,
}

/// `GET /signin`: who are you, and where should the link go. Behind the
/// trusted proxy, the person its header names is signed in at once.
pub async fn form(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let roster = app.roster();
    if let Some(who) = trusted::named(&roster, peer, &headers) {
        return match signin::find(&roster, &who) {
            Some(person) => sign_in_as(&app, &person.id, q.next.as_deref()).await,
            None => message(
                StatusCode::FORBIDDEN,
                "Not on the roster",
                &format!("{who} is not on tocsin's roster. Ask an admin to add you."),
            ),
        };
    }
    let next = safe_next(q.next.as_deref());
    render(&SigninPage {
        chrome: Chrome::public("Sign in"),
        sso: roster
            .server
            .auth
            .oidc
            .as_ref()
            .map(|_| format!("/auth/oidc?next={}", session::encode(&next))),
        next,
    })
}

#[derive(Debug, Deserialize)]
pub struct SendForm {
    #[serde(default)]
    who: String,
    #[serde(default)]
    via: String,
    next: Option<String>,
}

/// `POST /signin`: sends a sign-in link if `who` is on the roster with an
/// address on `via`; the answer is the same either way.
pub async fn send(State(app): State<Shared>, Form(f): Form<SendForm>) -> Response {
    let who = f.who.trim();
    if who.is_empty() {
        return WebError::bad("who", "give your person id or email").into_response();
    }
    if let Err(reason) = crate::limits::NAME.check(who) {
        return WebError::bad("who", reason).into_response();
    }
    let Some(via) = channel(&f.via) else {
        return WebError::bad("via", "pick email, chat or sms").into_response();
    };
    let roster = app.roster();
    let next = safe_next(f.next.as_deref());
    if let Some(person) = signin::find(&roster, who).filter(|p| p.address(via).is_some()) {
        match app
            .store
            .live_signin_links(person.id.clone(), app.clock.now())
            .await
        {
            Ok(n) if n >= signin::MAX_LIVE_LINKS => return sent(who, &f.via),
            Ok(_) => {}
            Err(e) => return WebError::from(e).into_response(),
        }
        let url = match issue(&app, &person.id, &next).await {
            Ok(url) => url,
            Err(e) => return WebError::from(e).into_response(),
        };
        let (subject, body) = signin::message(&url);
        let row = OutboxRow::to_person("notice", person, via, subject, body, app.clock.now());
        if let Err(e) = app
            .store
            .transact(move |repo| repo.insert_outbox(&row))
            .await
        {
            return WebError::from(e).into_response();
        }
    }
    sent(who, &f.via)
}

/// The one answer of the sign-in form, whoever asked.
fn sent(who: &str, via: &str) -> Response {
    message(
        StatusCode::OK,
        "Check your messages",
        &format!(
            "If {who} is on the roster with {via}, a sign-in link is on its way. It works once, for 15 minutes."
        ),
    )
}

/// A new sign-in link for `person`, stored hashed; returns its URL.
pub async fn issue(app: &Shared, person: &str, next: &str) -> StoreResult<String> {
    let token = random_token();
    let now = app.clock.now();
    app.store
        .insert_signin_link(signin::link(person, &token, now))
        .await?;
    let base = crate::http::public_base(&app.roster().server.public_url).to_string();
    let next = if next == "/" {
        String::new()
    } else {
        format!("?next={}", session::encode(next))
    };
    Ok(format!("{base}/signin/{token}{next}"))
}

fn channel(via: &str) -> Option<ChannelType> {
    match via {
        "email" => Some(ChannelType::Email),
        "chat" => Some(ChannelType::Chat),
        "sms" => Some(ChannelType::Sms),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "signin_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    next: String,
}

/// `GET /signin/{token}`: a button that signs in (only the POST does).
pub async fn confirm(Path(_token): Path<String>, Query(q): Query<Next>) -> Response {
    render(&ConfirmPage {
        chrome: Chrome::public("Sign in"),
        next: safe_next(q.next.as_deref()),
    })
}

#[derive(Debug, Deserialize)]
pub struct OpenForm {
    next: Option<String>,
}

/// `POST /signin/{token}`: uses the link once and opens a session.
pub async fn open(
    State(app): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(f): Form<OpenForm>,
) -> Response {
    if !session::same_origin(&headers, &app.roster().server.public_url) {
        return super::forbidden("This sign-in came from another site. Open your link again.");
    }
    let now = app.clock.now();
    let cookie = random_token();
    let new = signin::session("", &cookie, &random_token(), now);
    let opened = match app
        .store
        .redeem_signin_link(signin::hash(&token), new, now)
        .await
    {
        Ok(opened) => opened,
        Err(e) => return WebError::from(e).into_response(),
    };
    if opened.is_none() {
        return message(
            StatusCode::GONE,
            "Link used or expired",
            "This sign-in link was used already or is older than 15 minutes. Ask for a new one.",
        );
    }
    signed_in(&app, &cookie, f.next.as_deref())
}

/// Opens a session for `person`, whom the identity provider or the trusted
/// proxy vouched for: the same stored session a sign-in link opens.
pub async fn sign_in_as(app: &Shared, person: &str, next: Option<&str>) -> Response {
    let cookie = random_token();
    let new = signin::session(person, &cookie, &random_token(), app.clock.now());
    match app.store.open_session(new).await {
        Ok(_) => signed_in(app, &cookie, next),
        Err(e) => WebError::from(e).into_response(),
    }
}

/// The answer once a session is open: its cookie, and on to `next`.
fn signed_in(app: &Shared, cookie: &str, next: Option<&str>) -> Response {
    let mut resp = Redirect::to(&safe_next(next)).into_response();
    set_cookie(&mut resp, &session::set_cookie(cookie, secure(app)));
    resp
}

#[derive(Debug, Deserialize)]
pub struct SignoutForm {
    /// Present: every session of this person ends, not only this one.
    everywhere: Option<String>,
}

/// `POST /signout`: ends this session, or all of the person's.
pub async fn signout(State(app): State<Shared>, posted: Posted<SignoutForm>) -> Response {
    let (viewer, now) = (posted.viewer, app.clock.now());
    let done = if posted.form.everywhere.is_some() {
        app.store
            .revoke_sessions_of(viewer.person.id.clone(), now)
            .await
            .map(|_| ())
    } else {
        app.store
            .revoke_session(viewer.person.id.clone(), viewer.session.id, now)
            .await
            .map(|_| ())
    };
    if let Err(e) = done {
        return WebError::from(e).into_response();
    }
    let mut resp = Redirect::to("/signin").into_response();
    set_cookie(&mut resp, &session::clear_cookie(secure(&app)));
    resp
}

/// Whether cookies get `Secure`: the daemon is reached over https.
pub fn secure(app: &Shared) -> bool {
    app.roster().server.public_url.scheme() == "https"
}

pub fn set_cookie(resp: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}
