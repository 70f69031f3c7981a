//! The web UI: server-rendered HTML pages beside the JSON API (`http/`).
//! Both are doors into the same domain functions; no rule lives here twice.
//! Must not: hold a rule of its own (routing, escalation, incident state,
//! message words), change anything on a GET, or put anything unescaped in
//! a page.
//!
//! # Building blocks
//!
//! **Add a page.** Write `templates/NAME.html` starting with
//! `{% extends "base.html" %}` and filling `{% block content %}`; derive
//! `askama::Template` on a struct with `#[template(path = "NAME.html")]` and
//! a field `chrome: Chrome` (title, which nav entry is current, the viewer
//! for the header). Build it with [`Chrome::new`] and answer with
//! [`render`]. Add the route in [`router`]. Every `{{ value }}` is
//! HTML-escaped (askama's default for `.html`); never use `|safe` on what a
//! user, an alert or a client typed, except the output of
//! `markdown::to_html` (raw HTML in it is already text).
//!
//! **The signed-in person.** Take a [`Viewer`] argument in the handler:
//! without a live session the request is redirected to `/signin?next=…`
//! and comes back after signing in. `viewer.person` is the roster's
//! `Person` (its `timezone` for times), `viewer.session` the stored session.
//!
//! **Forms and CSRF.** Every form that POSTs carries the session's token:
//! `<input type="hidden" name="csrf" value="{{ chrome.csrf }}">`. The
//! handler takes [`Posted<MyForm>`](Posted): it checks the token (403
//! otherwise, before the form is read, so nothing changes) and gives
//! `posted.viewer` and `posted.form`. After acting, answer with
//! `Redirect::to(...)` (303: POST → redirect → GET), so every action works
//! with JavaScript off. Name buttons for what they do, and keep ids and
//! names stable: browser tests find them (`name="action"
//! value="acknowledge"`).
//!
//! **Acting on an incident.** Call [`act::run`](act) with an `act::Act`
//! (acknowledge, resolve, escalate, assign, note, diagnosis, client update):
//! one transaction through the same domain functions as the JSON API. For
//! any other action, call the domain function the matching `http/` handler
//! calls (inside `app.transact_paging`); if the rule you need is buried in a
//! handler, move it into the domain and call it from both doors (as
//! `followup::diagnosis` was). Map errors to [`WebError`]: `bad(field,
//! reason)` (400 naming the field), `NotFound`, `Forbidden` (403),
//! `Conflict`, `Store` (503).
//!
//! **Showing an incident.** `incident::IncidentView` and
//! `templates/incident_summary.html` (`{% include %}` it; it reads `inc`)
//! show state, links, labels and times the same way on every page.
//!
//! **Live pages.** Give the section that should refresh an `id` and
//! `data-live="/events"`: `assets/app.js` reloads that section when any
//! incident changes. Without JavaScript the page is the same, only static.
//!
//! **Sessions.** `app.store.sessions_of(person, now)`,
//! `revoke_session(person, id, now)` and `revoke_sessions_of(person, now)`
//! list and end sessions (for "Me"); `POST /signout` with `everywhere`
//! ends them all.
//!
//! **Times.** [`When::new(t, viewer.person.timezone, now)`](When) gives
//! `iso`, `local` and `ago`; write it as
//! `<time datetime="{{ w.iso }}" title="{{ w.local }}" data-ago>{{ w.ago }}</time>`
//! and `assets/app.js` keeps "12 min ago" current. `now` is `app.clock.now()`.
//!
//! **Headers.** Every response of this router gets the security headers
//! (`Content-Security-Policy` without inline scripts or styles,
//! `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`) and pages
//! `Cache-Control: no-store` (they hold CSRF tokens); only `/assets/` is
//! cached, under a name that changes with its content. So: no `style=`
//! attributes, no inline `<script>`, no `on…=` handlers.

mod ack_link;
mod act;
mod assets;
mod incident;
mod incidents;
mod maintenance;
mod markdown;
mod me;
mod oidc;
mod oncall;
mod postmortems;
mod reports;
mod session;
mod signin;
mod status;
pub mod time;
mod timeline;
mod trusted;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::Shared;
use crate::store::StoreError;
pub use session::{Posted, Viewer};
pub use signin::issue as signin_link;
pub use time::When;

/// The web UI's routes; `http::router` merges them with the API's.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(incidents::list))
        .route("/events", get(incidents::events))
        .route("/a/{token}", get(ack_link::show).post(ack_link::act))
        .route("/incidents/{id}", get(incident::show).post(incident::post))
        .route("/signin", get(signin::form).post(signin::send))
        .route("/signin/{token}", get(signin::confirm).post(signin::open))
        .route("/signout", post(signin::signout))
        .route("/auth/oidc", get(oidc::start))
        .route("/auth/oidc/callback", get(oidc::callback))
        .route("/assets/{file}", get(assets::serve))
        .route("/oncall", get(oncall::show))
        .route("/oncall/shift", post(oncall::shift))
        .route("/oncall/presence", post(oncall::presence))
        .route(
            "/maintenance",
            get(maintenance::list).post(maintenance::start),
        )
        .route("/maintenance/{id}/end", post(maintenance::end))
        .route("/postmortems", get(postmortems::list))
        .route(
            "/postmortems/{id}",
            get(postmortems::show).post(postmortems::edit),
        )
        .route("/postmortems/{id}/step", post(postmortems::step))
        .route("/postmortems/{id}/actions", post(postmortems::add_action))
        .route("/actions/{id}/done", post(postmortems::action_done))
        .route("/reports", get(reports::show))
        .route("/me", get(me::show))
        .route("/me/notify", post(me::notify))
        .route("/me/sessions/{id}/revoke", post(me::revoke))
        .route("/status/{client}", get(status::show))
        .layer(middleware::from_fn(security_headers))
}

/// The navigation entries: (path, label). A page names its current one.
pub const NAV: [(&str, &str); 6] = [
    ("/", "Incidents"),
    ("/oncall", "On call"),
    ("/maintenance", "Maintenance"),
    ("/postmortems", "Postmortems"),
    ("/reports", "Reports"),
    ("/me", "Me"),
];

/// What the base layout needs from every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub title: String,
    /// The path of the current nav entry ("" for none).
    pub current: &'static str,
    /// The viewer's name; `None` on pages without sign-in.
    pub name: Option<String>,
    /// The session's CSRF token ("" without a session).
    pub csrf: String,
    pub css: &'static str,
    pub js: &'static str,
}

impl Chrome {
    /// For a signed-in page.
    pub fn new(title: impl Into<String>, current: &'static str, viewer: &Viewer) -> Self {
        Chrome {
            current,
            name: Some(viewer.person.name.clone()),
            csrf: viewer.csrf().to_string(),
            ..Chrome::public(title)
        }
    }

    /// For a page anyone may see (sign-in, an acknowledge link, errors).
    pub fn public(title: impl Into<String>) -> Self {
        Chrome {
            title: title.into(),
            current: "",
            name: None,
            csrf: String::new(),
            css: assets::css_path(),
            js: assets::js_path(),
        }
    }

    /// The nav entries with whether each is current, for the layout.
    pub fn nav(&self) -> Vec<(&'static str, &'static str, bool)> {
        NAV.iter()
            .map(|(path, label)| (*path, *label, *path == self.current))
            .collect()
    }
}

/// A rendered page, 200.
pub fn render(page: &impl Template) -> Response {
    render_status(StatusCode::OK, page)
}

/// A rendered page with `status`.
pub fn render_status(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page did not render").into_response()
        }
    }
}

/// A short page with one message (errors, "link sent").
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub chrome: Chrome,
    pub text: String,
}

/// A message page with `status`.
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    render_status(
        status,
        &Message {
            chrome: Chrome::public(title),
            text: text.to_string(),
        },
    )
}

/// 403: a form without this session's CSRF token, or not yours to do.
pub fn forbidden(text: &str) -> Response {
    message(StatusCode::FORBIDDEN, "Not allowed", text)
}

/// Why a page could not be served; the only place the UI maps errors to
/// status codes.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A form field was wrong: 400, naming it; nothing changed.
    #[error("{field}: {reason}")]
    Bad { field: String, reason: String },
    #[error("not found")]
    NotFound,
    /// Not this viewer's to do: 403 with why; nothing changed.
    #[error("{0}")]
    Forbidden(String),
    /// The action does not apply in this state: 409.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WebError {
    pub fn bad(field: &str, reason: impl Into<String>) -> Self {
        WebError::Bad {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Bad { field, reason } => message(
                StatusCode::BAD_REQUEST,
                "Check the form",
                &format!("{field}: {reason}. Nothing changed."),
            ),
            WebError::Forbidden(why) => forbidden(&why),
            WebError::Conflict(text) => message(StatusCode::CONFLICT, "Nothing to do", &text),
            WebError::NotFound | WebError::Store(StoreError::NotFound) => {
                message(StatusCode::NOT_FOUND, "Not found", "There is nothing here.")
            }
            WebError::Store(e) => {
                tracing::error!(error = %e, "web page failed");
                message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again",
                    "tocsin could not do this just now; nothing changed. Try again in a minute.",
                )
            }
        }
    }
}

/// Content-Security-Policy of every page: our own files only, no inline
/// script or style, no framing, forms post only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

/// The security headers on every response of the web UI.
async fn security_headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
