//! `/api/v1/maintenance`: list the windows (stored and YAML), start a
//! one-off window, end one early. Starting and ending need an admin or the
//! lead of every team the window's scope touches; listing, any person.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use crate::app::Shared;
use crate::config::{Roster, Scope};
use crate::escalation::paging;
use crate::incident::maintenance::request::{self, Request, scope_parts};
use crate::incident::maintenance::{self, NewWindow, Window};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    project: Option<String>,
    client: Option<String>,
    integration: Option<String>,
    #[serde(default)]
    matchers: Vec<String>,
    from: Option<String>,
    to: Option<String>,
    /// A duration from `from` (`2h`), instead of `to`.
    #[serde(rename = "for")]
    duration: Option<String>,
    reason: Option<String>,
    client_reports: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
}

/// A window as the API shows it.
pub fn to_json(w: &Window, now: DateTime<Utc>) -> Value {
    let (kind, id) = scope_parts(&w.scope);
    let ended = w.ended_at.is_some_and(|t| t <= now);
    json!({
        "id": w.id.to_json(),
        kind: id,
        "matchers": w.matchers.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        "from": w.from,
        "to": w.to,
        "reason": w.reason,
        "client_reports": w.client_reports,
        "active": w.from <= now && now < w.to && !ended,
        "cron": w.cron,
        "created_by": w.created_by,
        "created_at": w.created_at,
        "ended_by": w.ended_by,
        "ended_at": w.ended_at,
    })
}

pub async fn list(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    auth::person(&roster, &headers)?;
    let now = app.clock.now();
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let stored = app.store.query(move |r| r.windows(now, limit)).await?;
    let all: Vec<Value> = request::listed(&roster, stored, now)
        .iter()
        .map(|w| to_json(w, now))
        .collect();
    Ok(Json(json!({"maintenance": all})))
}

/// The body as a window, or a 400 naming the first bad field.
fn parse(
    roster: &Roster,
    b: CreateBody,
    by: &str,
    now: DateTime<Utc>,
) -> Result<NewWindow, ApiError> {
    let r = Request {
        project: b.project,
        client: b.client,
        integration: b.integration,
        matchers: b.matchers,
        from: b.from,
        to: b.to,
        duration: b.duration,
        reason: b.reason,
        client_reports: b.client_reports,
    };
    request::parse(roster, &r, by, now, roster.timezone)
        .map_err(|e| ApiError::bad(e.field, e.reason))
}

fn forbidden(person: &str, scope: &Scope) -> ApiError {
    let (kind, id) = scope_parts(scope);
    ApiError::Forbidden(format!(
        "{person} may not manage maintenance of {kind} {id}: admins and the lead of every team concerned may"
    ))
}

pub async fn create(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let roster = app.roster();
    let person = auth::person(&roster, &headers)?.id.clone();
    let b: CreateBody = super::error::json_body(&body)?;
    let now = app.clock.now();
    let w = parse(&roster, b, &person, now)?;
    if !maintenance::may_manage(&roster, &person, &w.scope) {
        return Err(forbidden(&person, &w.scope));
    }
    let window = app
        .transact_paging_at(now, move |repo, _| {
            let id = maintenance::create(repo, &w, now)?;
            repo.window(id)
        })
        .await?
        .ok_or_else(|| ApiError::Unavailable("the stored window vanished".into()))?;
    tracing::info!(window = %window.id, person, "maintenance window started");
    Ok((StatusCode::CREATED, Json(to_json(&window, now))).into_response())
}

/// Ends a window early: what it held pages (or resolves) at once.
pub async fn end(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    let person = auth::person(&roster, &headers)?.id.clone();
    let Ok(number) = id.parse::<i64>() else {
        return Err(if roster.maintenance.contains_key(&id) {
            ApiError::Conflict(format!(
                "maintenance {id} is in the configuration: remove it there and reload"
            ))
        } else {
            ApiError::bad("id", format!("{id:?} is not a window number"))
        });
    };
    let not_found = || ApiError::NotFound(format!("maintenance {number}"));
    let existing = app
        .store
        .transact(move |repo| repo.window(number))
        .await?
        .ok_or_else(not_found)?;
    if !maintenance::may_manage(&roster, &person, &existing.scope) {
        return Err(forbidden(&person, &existing.scope));
    }
    let now = app.clock.now();
    let by = person.clone();
    let (window, out) = app
        .transact_paging_at(now, move |repo, ctx| {
            let ended = maintenance::end(repo, ctx.roster, number, &by, ctx.now)?;
            if let Some((_, out)) = &ended {
                paging::sync(repo, ctx, out, "system")?;
            }
            Ok(ended)
        })
        .await?
        .ok_or_else(not_found)?;
    app.after_ingest(&out, "maintenance");
    tracing::info!(window = number, person, "maintenance window ended");
    Ok(Json(json!({
        "maintenance": to_json(&window, now),
        "paged": out.reopened,
        "resolved": out.resolved,
    })))
}
