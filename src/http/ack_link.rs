//! Acknowledge links, `/a/{token}`: `GET` shows a confirmation page, only
//! `POST` acts (link-preview bots and mail scanners follow GETs). The token
//! (`notify::ack_token`) binds incident, person and action, and expires.
//!
//! Must not: change anything on `GET`, or put anything unescaped in a page.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use crate::app::Shared;
use crate::escalation::paging;
use crate::incident::apply::ActError;
use crate::incident::transition::Action as Transition;
use crate::incident::{Actor, Incident, State as IncidentState};
use crate::notify::Action;
use crate::notify::ack_token::{self, Claims, TokenError};
use crate::store::StoreError;

/// `GET /a/{token}`: what the link would do, and a button to do it.
pub async fn show(State(app): State<Shared>, Path(token): Path<String>) -> Response {
    let (claims, id) = match check(&app, &token) {
        Ok(ok) => ok,
        Err(refusal) => return refusal.page(),
    };
    let incident = match app.store.query(move |r| r.get(id)).await {
        Ok(incident) => incident,
        Err(StoreError::NotFound) => return not_found(id),
        Err(e) => return unavailable(e.into()),
    };
    let verb = verb(claims.action);
    let mut body = describe(&incident);
    if can(claims.action, incident.state) {
        // No `action` attribute: the form posts back to this very URL.
        body.push_str(&format!(
            r#"<form method="post"><button type="submit">{verb} incident {id}</button></form>"#
        ));
    } else {
        body.push_str(&format!(
            "<p>Nothing to do: incident {id} is {}.</p>",
            incident.state
        ));
    }
    page(StatusCode::OK, &format!("{verb} incident {id}"), &body)
}

/// `POST /a/{token}`: acts as the person the link was sent to.
pub async fn act(State(app): State<Shared>, Path(token): Path<String>) -> Response {
    let (claims, id) = match check(&app, &token) {
        Ok(ok) => ok,
        Err(refusal) => return refusal.page(),
    };
    let action = match claims.action {
        Action::Ack => Transition::Acknowledge,
        Action::Resolve => Transition::Resolve,
        Action::Escalate => {
            return match super::twilio::escalate_words(&app, id, claims.person, "link").await {
                Ok(text) => page(StatusCode::OK, "Escalated", &para(&text)),
                Err(e) => unavailable(e),
            };
        }
    };
    let person = claims.person;
    let result = app
        .transact_paging(move |repo, ctx| {
            let actor = Actor::Person(person);
            ActError::in_job(paging::act(
                repo,
                ctx,
                id,
                action,
                &actor,
                "link",
                json!({}),
            ))
        })
        .await;
    let result = match result {
        Ok(r) => r,
        Err(e) => return unavailable(e.into()),
    };
    let status = match &result {
        Ok((_, changed)) => {
            if *changed {
                app.after_action(id);
            }
            StatusCode::OK
        }
        Err(ActError::NotFound) => return not_found(id),
        Err(ActError::Illegal(_)) => StatusCode::CONFLICT,
        Err(ActError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
    };
    match super::twilio::outcome_words(id, action, result) {
        Ok(text) => page(status, &format!("Incident {id}"), &para(&text)),
        Err(e) => unavailable(e.into()),
    }
}

/// Why a link does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Tampered or not a token at all.
    Invalid,
    Expired,
    /// Sent to a person since removed from the roster.
    NotOnRoster,
}

impl Refusal {
    fn page(self) -> Response {
        let (status, title, text) = match self {
            Refusal::Invalid => (
                StatusCode::BAD_REQUEST,
                "Invalid link",
                "This link is not valid.",
            ),
            Refusal::Expired => (
                StatusCode::GONE,
                "Link expired",
                "This link has expired; acknowledge by SMS reply or in tocsin.",
            ),
            Refusal::NotOnRoster => (
                StatusCode::FORBIDDEN,
                "Invalid link",
                "This link was sent to someone no longer on the roster.",
            ),
        };
        page(status, title, &para(text))
    }
}

/// The token's claims and incident number, or why the link does nothing.
fn check(app: &Shared, token: &str) -> Result<(Claims, i64), Refusal> {
    let claims =
        ack_token::verify(app.link_secret(), token, app.clock.now()).map_err(|e| match e {
            TokenError::Expired => Refusal::Expired,
            TokenError::Malformed | TokenError::BadSignature => Refusal::Invalid,
        })?;
    if !app.roster().people.contains_key(&claims.person) {
        return Err(Refusal::NotOnRoster);
    }
    // Never issued: `ack_url` signs only numbers that fit.
    let id = i64::try_from(claims.incident).map_err(|_| Refusal::Invalid)?;
    Ok((claims, id))
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Ack => "Acknowledge",
        Action::Resolve => "Resolve",
        Action::Escalate => "Escalate",
    }
}

/// Whether the button would change anything from `state` (the rule chat
/// buttons follow too).
fn can(action: Action, state: IncidentState) -> bool {
    crate::notify::interactive::offers(action, state)
}

fn describe(incident: &Incident) -> String {
    let mut rows = format!(
        "<dl><dt>Incident</dt><dd>{}</dd><dt>Project</dt><dd>{}</dd>\
         <dt>Title</dt><dd>{}</dd><dt>Severity</dt><dd>{}</dd><dt>State</dt><dd>{}</dd>",
        incident.id,
        escape(&incident.project),
        escape(&incident.title),
        incident.severity,
        incident.state,
    );
    if let Some(who) = &incident.assignee {
        rows.push_str(&format!("<dt>Assignee</dt><dd>{}</dd>", escape(who)));
    }
    rows.push_str("</dl>");
    rows
}

fn para(text: &str) -> String {
    format!("<p>{}</p>", escape(text))
}

fn not_found(id: i64) -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Unknown incident",
        &para(&format!("Incident {id} does not exist.")),
    )
}

fn unavailable(e: ApiError) -> Response {
    tracing::error!(error = %e, "acknowledge link failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        &para("tocsin could not store this just now; nothing changed. Try again in a minute."),
    )
}

/// An HTML page; `body` is already escaped. Never cached, never indexed,
/// and the token in the URL never leaks through a Referer.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title} · tocsin</title></head>\
         <body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    let mut resp = (status, html).into_response();
    let headers = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    resp
}

/// Escapes text for HTML content and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn escape_table() {
        fn check(input: &str, expected: &str) {
            assert_eq!(escape(input), expected, "{input:?}");
        }
        check("plain", "plain");
        check(
            "<script>alert('x')</script>",
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;",
        );
        check(r#"a "b" & c"#, "a &quot;b&quot; &amp; c");
        check("&amp;", "&amp;amp;");
        check("zoë 🔥", "zoë 🔥");
    }

    #[test]
    fn button_only_when_it_changes_something() {
        use IncidentState::*;
        fn check(action: Action, state: IncidentState, expected: bool) {
            assert_eq!(can(action, state), expected, "{action:?} from {state:?}");
        }
        check(Action::Ack, Triggered, true);
        check(Action::Ack, Acknowledged, false);
        check(Action::Ack, Resolved, false);
        check(Action::Ack, Downgraded, false);
        check(Action::Resolve, Triggered, true);
        check(Action::Resolve, Acknowledged, true);
        check(Action::Resolve, Downgraded, true);
        check(Action::Resolve, Resolved, false);
        check(Action::Escalate, Triggered, true);
        check(Action::Escalate, Acknowledged, true);
        check(Action::Escalate, Resolved, false);
    }

    #[test]
    fn ack_url_round_trips() {
        let public: url::Url = "https://tocsin.example/base/".parse().expect("url");
        let expires = DateTime::from_timestamp(1_800_000_000, 0).expect("instant");
        let claims = ack_token::Claims {
            incident: 42,
            person: "bob".into(),
            action: Action::Resolve,
            expires,
        };
        let link = ack_token::url(&public, b"k", &claims);
        let token = link
            .strip_prefix("https://tocsin.example/base/a/")
            .expect("prefix");
        let now = DateTime::from_timestamp(1_700_000_000, 0).expect("instant");
        let claims = ack_token::verify(b"k", token, now).expect("valid");
        assert_eq!(
            (claims.incident, claims.person.as_str(), claims.action),
            (42, "bob", Action::Resolve)
        );
    }
}
