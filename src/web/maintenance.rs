//! The maintenance page: the windows (configured and one-off), a form to
//! start one, "end now" on a stored one. The same rules as
//! `/api/v1/maintenance`: `incident::maintenance::request` parses the form,
//! `maintenance::may_manage` decides who, `maintenance::create`/`end` act.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Chrome, Posted, Viewer, WebError, When, render};
use crate::app::Shared;
use crate::config::Scope;
use crate::escalation::paging;
use crate::incident::maintenance::request::{self, Request, scope_parts};
use crate::incident::maintenance::{self, Window, WindowId};

struct Row {
    /// The stored window's number; `None` for a configured one.
    number: Option<i64>,
    /// For the element id: the number or the configured id.
    anchor: String,
    name: String,
    scope: String,
    reason: String,
    from: When,
    to: When,
    active: bool,
    ended: bool,
    may_end: bool,
}

#[derive(Template)]
#[template(path = "maintenance.html")]
struct MaintenancePage {
    chrome: Chrome,
    rows: Vec<Row>,
    /// Scopes the form offers: (value `kind:id`, label).
    scopes: Vec<(String, String)>,
}

fn row(w: &Window, viewer: &Viewer, roster: &crate::config::Roster, now: DateTime<Utc>) -> Row {
    let tz = viewer.person.timezone;
    let (kind, id) = scope_parts(&w.scope);
    let number = match &w.id {
        WindowId::Stored(n) => Some(*n),
        WindowId::Config(_) => None,
    };
    let ended = w.ended_at.is_some_and(|t| t <= now) || w.to <= now;
    Row {
        number,
        anchor: match &w.id {
            WindowId::Stored(n) => n.to_string(),
            WindowId::Config(c) => c.clone(),
        },
        name: match &w.id {
            WindowId::Stored(n) => format!("#{n}"),
            WindowId::Config(c) => c.clone(),
        },
        scope: format!("{kind} {id}"),
        reason: w.reason.clone(),
        from: When::new(w.from, tz, now),
        to: When::new(w.ended_at.unwrap_or(w.to).min(w.to), tz, now),
        active: w.from <= now && !ended,
        ended,
        may_end: number.is_some()
            && !ended
            && maintenance::may_manage(roster, &viewer.person.id, &w.scope),
    }
}

/// `GET /maintenance`.
pub async fn list(State(app): State<Shared>, viewer: Viewer) -> Response {
    let now = app.clock.now();
    let stored = match app.store.query(move |r| r.windows(now, 100)).await {
        Ok(s) => s,
        Err(e) => return WebError::from(e).into_response(),
    };
    let roster = app.roster();
    let rows = request::listed(&roster, stored, now)
        .iter()
        .map(|w| row(w, &viewer, &roster, now))
        .collect();
    let mut scopes: Vec<(String, String)> = Vec::new();
    scopes.extend(
        roster
            .projects
            .values()
            .map(|p| (format!("project:{}", p.id), format!("Project {}", p.name))),
    );
    scopes.extend(
        roster
            .clients
            .values()
            .map(|c| (format!("client:{}", c.id), format!("Client {}", c.name))),
    );
    scopes.extend(
        roster
            .integrations
            .keys()
            .map(|i| (format!("integration:{i}"), format!("Integration {i}"))),
    );
    render(&MaintenancePage {
        chrome: Chrome::new("Maintenance", "/maintenance", &viewer),
        rows,
        scopes,
    })
}

/// The form to start a window.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    /// `project:shop`, `client:acme` or `integration:am`.
    scope: String,
    /// A duration (`2h`) from now, or…
    #[serde(rename = "for")]
    duration: Option<String>,
    /// …an end time.
    to: Option<String>,
    reason: Option<String>,
    client_reports: Option<String>,
}

fn filled(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `POST /maintenance`: starts a window now.
pub async fn start(State(app): State<Shared>, posted: Posted<StartForm>) -> Response {
    match start_window(&app, posted.viewer, posted.form).await {
        Ok(()) => Redirect::to("/maintenance").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn start_window(app: &Shared, viewer: Viewer, f: StartForm) -> Result<(), WebError> {
    let roster = app.roster();
    let person = viewer.person.id;
    let (kind, id) = f
        .scope
        .split_once(':')
        .ok_or_else(|| WebError::bad("scope", "pick a project, client or integration"))?;
    // The same rule as the API: a duration or an end time, not both.
    let mut r = Request {
        duration: filled(f.duration),
        to: filled(f.to),
        reason: f.reason,
        client_reports: filled(f.client_reports),
        ..Request::default()
    };
    match kind {
        "project" => r.project = Some(id.to_string()),
        "client" => r.client = Some(id.to_string()),
        "integration" => r.integration = Some(id.to_string()),
        _ => {
            return Err(WebError::bad(
                "scope",
                "pick a project, client or integration",
            ));
        }
    }
    let now = app.clock.now();
    let w = request::parse(&roster, &r, &person, now, viewer.person.timezone)
        .map_err(|e| WebError::bad(e.field, e.reason))?;
    if !maintenance::may_manage(&roster, &person, &w.scope) {
        return Err(not_yours(&person, &w.scope));
    }
    app.transact_paging_at(now, move |repo, _| {
        maintenance::create(repo, &w, now).map(|_| ())
    })
    .await?;
    Ok(())
}

fn not_yours(person: &str, scope: &Scope) -> WebError {
    let (kind, id) = scope_parts(scope);
    WebError::Forbidden(format!(
        "{person} may not manage maintenance of {kind} {id}: admins and the team leads concerned may."
    ))
}

#[derive(Debug, Deserialize)]
pub struct EndForm {}

/// `POST /maintenance/{id}/end`: ends a stored window now; what it held
/// pages (or resolves) at once.
pub async fn end(
    State(app): State<Shared>,
    Path(number): Path<i64>,
    posted: Posted<EndForm>,
) -> Response {
    match end_window(&app, posted.viewer, number).await {
        Ok(()) => Redirect::to("/maintenance").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn end_window(app: &Shared, viewer: Viewer, number: i64) -> Result<(), WebError> {
    let roster = app.roster();
    let person = viewer.person.id;
    let existing = app
        .store
        .transact(move |repo| repo.window(number))
        .await?
        .ok_or(WebError::NotFound)?;
    if !maintenance::may_manage(&roster, &person, &existing.scope) {
        return Err(not_yours(&person, &existing.scope));
    }
    let now = app.clock.now();
    let ended = app
        .transact_paging_at(now, move |repo, ctx| {
            let ended = maintenance::end(repo, ctx.roster, number, &person, ctx.now)?;
            if let Some((_, out)) = &ended {
                paging::sync(repo, ctx, out, "system")?;
            }
            Ok(ended)
        })
        .await?
        .ok_or(WebError::NotFound)?;
    app.after_ingest(&ended.1, "maintenance");
    Ok(())
}
