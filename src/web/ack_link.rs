//! The acknowledge link, `/a/{token}`: the incident's page for the person
//! the page was sent to, without sign-in, with Acknowledge, Resolve and
//! Escalate buttons, the runbook, and after acting, what the guide says to
//! do next. `GET` never changes anything (link-preview bots and mail
//! scanners follow GETs); only the buttons' `POST` acts.
//!
//! The token (`notify::ack_token`) is signed, bound to incident and person,
//! and expires; it is the proof a POST came from the link (there is no
//! session to carry a CSRF token, and another site cannot know the token).
//! A POST without `action` does what the token names.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::act::{self, Act};
use super::incident::IncidentView;
use super::{Chrome, WebError, message, render_status};
use crate::app::Shared;
use crate::config::Roster;
use crate::followup::channel::{self, About};
use crate::incident::transition::Action as Transition;
use crate::incident::{Incident, State as IncidentState};
use crate::limits;
use crate::notify::Action;
use crate::notify::ack_token::{self, Claims, TokenError};
use crate::store::StoreError;

/// The timeline's "via" for actions taken through the link.
const VIA: &str = "link";

#[derive(Template)]
#[template(path = "ack.html")]
struct AckPage {
    chrome: Chrome,
    inc: IncidentView,
    /// The action the link was sent for: its button comes first.
    primary: &'static str,
    /// What happened, after a button.
    outcome: Option<String>,
    /// What the guide says to do next, after a button.
    next: Vec<String>,
}

/// `GET /a/{token}`: the incident and its buttons.
pub async fn show(State(app): State<Shared>, Path(token): Path<String>) -> Response {
    let (claims, id) = match check(&app, &token) {
        Ok(ok) => ok,
        Err(refusal) => return refusal.page(),
    };
    match app.store.query(move |r| r.get(id)).await {
        Ok(incident) => page(&app, &claims, &incident, StatusCode::OK, None, vec![]),
        Err(e) => store_error(e, id),
    }
}

/// `POST /a/{token}`: acts as the person the link was sent to.
pub async fn act(State(app): State<Shared>, Path(token): Path<String>, body: Bytes) -> Response {
    let (claims, id) = match check(&app, &token) {
        Ok(ok) => ok,
        Err(refusal) => return refusal.page(),
    };
    let field = |name: &str| {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    // A POST that names no action does what the link was sent for: ntfy's
    // Acknowledge and Resolve buttons post no body.
    let action = match field("action").as_deref() {
        None => claims.action,
        Some("acknowledge") => Action::Ack,
        Some("resolve") => Action::Resolve,
        Some("escalate") => Action::Escalate,
        Some(_) => {
            return WebError::bad("action", "acknowledge, resolve or escalate").into_response();
        }
    };
    let note = match field("note").map(|n| limits::NOTE.required(&n)).transpose() {
        Ok(note) => note,
        Err(reason) => return WebError::bad("note", reason).into_response(),
    };
    let doing = match action {
        Action::Ack => Act::State {
            action: Transition::Acknowledge,
            note,
        },
        Action::Resolve => Act::State {
            action: Transition::Resolve,
            note,
        },
        Action::Escalate => Act::Escalate(note),
    };
    match act::run(&app, id, &claims.person, doing, VIA).await {
        Ok((incident, changed)) => {
            let roster = app.roster();
            let outcome = match action {
                Action::Ack => outcome(&roster, id, Transition::Acknowledge, &incident, changed),
                Action::Resolve => outcome(&roster, id, Transition::Resolve, &incident, changed),
                Action::Escalate => crate::notify::message::escalated_words(id),
            };
            // Nothing to do next for whoever did nothing: the guide's steps
            // are for the one who acknowledged or resolved.
            let next = if changed || action == Action::Escalate {
                what_next(&roster, &incident, action)
            } else {
                Vec::new()
            };
            page(
                &app,
                &claims,
                &incident,
                StatusCode::OK,
                Some(outcome),
                next,
            )
        }
        Err(e) => e.into_response(),
    }
}

fn outcome(
    roster: &Roster,
    id: i64,
    action: Transition,
    incident: &Incident,
    changed: bool,
) -> String {
    crate::notify::message::outcome_words(roster, id, action, Ok((incident.clone(), changed)))
        .unwrap_or_default()
}

fn page(
    app: &Shared,
    claims: &Claims,
    incident: &Incident,
    status: StatusCode,
    outcome: Option<String>,
    next: Vec<String>,
) -> Response {
    let (roster, now) = (app.roster(), app.clock.now());
    let tz = roster
        .people
        .get(&claims.person)
        .map_or(roster.timezone, |p| p.timezone);
    let title = format!("{} {}", incident.reference, incident.title);
    render_status(
        status,
        &AckPage {
            chrome: Chrome::public(title),
            inc: IncidentView::new(incident, &roster, tz, now),
            primary: match claims.action {
                Action::Ack => "acknowledge",
                Action::Resolve => "resolve",
                Action::Escalate => "escalate",
            },
            outcome,
            next,
        },
    )
}

/// The guide's next steps after `action` (its "first response, in order").
pub fn what_next(roster: &Roster, inc: &Incident, action: Action) -> Vec<String> {
    let told = roster.clients.contains_key(&inc.client)
        && channel::withheld(inc, About::Acknowledged, None).is_none();
    let every = roster
        .projects
        .get(&inc.project)
        .map(|p| p.update_every.to_string());
    let mut steps = Vec::new();
    match (action, inc.state) {
        (Action::Ack, IncidentState::Acknowledged) => {
            steps.push(if told {
                "The client's channel was told you are online and investigating: no need to post that yourself.".to_string()
            } else {
                "This incident is internal: the client was not told.".to_string()
            });
            steps.push("Record a diagnosis: is it reproducible, and on which layer (application, infrastructure, third party, content)? A third party: open a ticket with them.".into());
            if told && let Some(every) = every {
                steps.push(format!(
                    "Update the client at least every {every} until it is solved or agreed non-critical."
                ));
            }
            steps.push(
                "Can't fix it yourself? Assign it to someone of the team, or escalate.".into(),
            );
        }
        (Action::Resolve, IncidentState::Resolved) => {
            steps.push(
                "Write down how it was fixed as a note: the postmortem starts from it.".into(),
            );
            steps.push("Serious (long outage, data loss, any loss for the client)? Mark it serious: a postmortem follows on the next business day.".into());
        }
        (Action::Escalate, _) => {
            steps.push(
                "The next people are paged now. Stay on it until one of them acknowledges.".into(),
            );
        }
        _ => {}
    }
    steps
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
        message(status, title, text)
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

fn store_error(e: StoreError, id: i64) -> Response {
    match e {
        StoreError::NotFound => message(
            StatusCode::NOT_FOUND,
            "Unknown incident",
            &format!("Incident {id} does not exist."),
        ),
        other => WebError::from(other).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

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
