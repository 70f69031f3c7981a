//! The client status page, `/status/{client}?token=…`: the client's open
//! incidents by its own reference, the exact posts its channel was sent
//! about them, and its published postmortems (the client summary alone).
//! No session: the client's own token (`clients[].token`) opens it. Shows
//! only what `followup::channel` lets a client hear: no global numbers, no
//! internal notes, nothing of another client.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Chrome, WebError, When, message, render};
use crate::app::Shared;
use crate::followup::channel::{client_sees, heard};
use crate::followup::postmortem::{self, PmState};
use crate::incident::StateFilter;

struct Update {
    at: When,
    text: String,
}

struct OpenIncident {
    reference: String,
    title: String,
    state: String,
    started: When,
    /// While acknowledged: since when (a reopen starts it again).
    acknowledged: Option<When>,
    updates: Vec<Update>,
}

struct Published {
    reference: String,
    at: Option<When>,
    text: String,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    chrome: Chrome,
    incidents: Vec<OpenIncident>,
    postmortems: Vec<Published>,
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /status/{client}?token=`: an unknown client and a wrong token get
/// the same 404, so the page tells nothing of who is a client.
pub async fn show(
    State(app): State<Shared>,
    Path(client): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let roster = app.roster();
    let Some(c) = roster.clients.get(&client).filter(|c| {
        c.token
            .as_ref()
            .is_some_and(|t| q.token.as_deref().is_some_and(|given| t.matches(given)))
    }) else {
        return message(StatusCode::NOT_FOUND, "Not found", "There is nothing here.");
    };
    let (name, tz, now) = (c.name.clone(), roster.timezone, app.clock.now());
    let id = c.id.clone();
    let read = app
        .store
        .query(move |r| {
            let mut open = Vec::new();
            for inc in r.list(StateFilter::Open, None, crate::limits::PAGE_MAX)? {
                if inc.client == id && client_sees(&inc) {
                    let said = heard(&r.timeline(inc.id)?);
                    open.push((inc, said));
                }
            }
            let mut published = Vec::new();
            for pm in r.postmortems(None, crate::limits::PAGE_MAX)? {
                if pm.state != PmState::Published {
                    continue;
                }
                let inc = r.get(pm.incident)?;
                if inc.client == id && client_sees(&inc) {
                    published.push((inc.reference.clone(), pm));
                }
            }
            Ok((open, published))
        })
        .await;
    let (open, published) = match read {
        Ok(x) => x,
        Err(e) => return WebError::from(e).into_response(),
    };
    let when = |t: chrono::DateTime<chrono::Utc>| When::new(t, tz, now);
    render(&StatusPage {
        chrome: Chrome::public(format!("{name}: status")),
        incidents: open
            .into_iter()
            .map(|(inc, said)| OpenIncident {
                reference: inc.reference.clone(),
                title: inc.title.clone(),
                state: inc.state.to_string(),
                started: when(inc.started_at),
                acknowledged: (inc.state == crate::incident::State::Acknowledged)
                    .then_some(inc.acknowledged_at)
                    .flatten()
                    .map(when),
                updates: said
                    .into_iter()
                    .map(|(at, text)| Update { at: when(at), text })
                    .collect(),
            })
            .collect(),
        postmortems: published
            .into_iter()
            .map(|(reference, pm)| Published {
                reference,
                at: pm.published_at.map(when),
                text: postmortem::publication(&pm),
            })
            .collect(),
    })
}
