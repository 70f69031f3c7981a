//! On-call overrides over HTTP: `POST`/`GET /api/v1/schedules/{id}/overrides`,
//! `GET /api/v1/overrides`, `DELETE /api/v1/overrides/{id}`. Parse, call
//! `oncall::overrides` in one transaction, map the result.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use crate::app::Shared;
use crate::config::{Roster, Schedule};
use crate::incident::OverrideFilter;
use crate::oncall::overrides::{self, OverrideError, Request};
use crate::routing::StoredOverride;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    person: Option<String>,
    from: Option<String>,
    to: Option<String>,
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    schedule: Option<String>,
    include_deleted: Option<bool>,
    include_past: Option<bool>,
}

fn map(e: OverrideError) -> ApiError {
    match e {
        OverrideError::Invalid { field, reason } => ApiError::bad(field, reason),
        OverrideError::Forbidden(m) => ApiError::Forbidden(m),
        OverrideError::NotFound(what) => ApiError::NotFound(what),
        OverrideError::Store(e) => e.into(),
    }
}

/// A stored override as the API shows it, with its audit.
fn stored_view(o: &StoredOverride) -> Value {
    let mut v = json!(o);
    v["source"] = json!("api");
    v
}

/// A YAML override: read-only, no id.
fn yaml_view(s: &Schedule, o: &crate::config::Override) -> Value {
    json!({"id": null, "source": "yaml", "schedule": s.id, "person": o.person,
           "from": o.from, "to": o.to})
}

/// `POST /api/v1/schedules/{id}/overrides` `{person, from, to, reason?}`.
pub async fn create(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(schedule): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = auth::person(&app.roster(), &headers)?.id.clone();
    let b: CreateBody = super::error::json_body(&bytes)?;
    let req = Request {
        person: b.person.unwrap_or_default(),
        from: b.from.unwrap_or_default(),
        to: b.to.unwrap_or_default(),
        reason: b.reason,
    };
    let created = app
        .transact_paging(move |repo, ctx| {
            OverrideError::in_job(overrides::create(repo, ctx, &caller, &schedule, &req))
        })
        .await?
        .map_err(map)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"override": stored_view(&created)})),
    ))
}

/// `DELETE /api/v1/overrides/{id}`: kept for the audit, out of the schedule.
pub async fn delete(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = auth::person(&app.roster(), &headers)?.id.clone();
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad("id", format!("{id:?} is not an override number")))?;
    let (changed, o) = app
        .transact_paging(move |repo, ctx| {
            OverrideError::in_job(overrides::delete(repo, ctx, &caller, id))
        })
        .await?
        .map_err(map)?;
    Ok(Json(
        json!({"override": stored_view(&o), "changed": changed}),
    ))
}

/// `GET /api/v1/schedules/{id}/overrides`: one schedule's, YAML ones too.
pub async fn list_schedule(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(schedule): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    auth::person(&roster, &headers)?;
    if !roster.schedules.contains_key(&schedule) {
        return Err(ApiError::NotFound(format!("schedule {schedule:?}")));
    }
    list_of(&app, &roster, Some(schedule), &q).await
}

/// `GET /api/v1/overrides[?schedule=]`: every schedule's.
pub async fn list(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    auth::person(&roster, &headers)?;
    if let Some(s) = q.schedule.as_deref()
        && !roster.schedules.contains_key(s)
    {
        return Err(ApiError::bad("schedule", format!("unknown schedule {s:?}")));
    }
    list_of(&app, &roster, q.schedule.clone(), &q).await
}

/// YAML overrides, then stored ones, each by start; ended ones only with
/// `include_past`, deleted ones only with `include_deleted`.
async fn list_of(
    app: &Shared,
    roster: &Roster,
    schedule: Option<String>,
    q: &ListQuery,
) -> Result<Json<Value>, ApiError> {
    let now = app.clock.now();
    let ending_after: Option<DateTime<Utc>> = (!q.include_past.unwrap_or(false)).then_some(now);
    let filter = OverrideFilter {
        schedule: schedule.clone(),
        include_deleted: q.include_deleted.unwrap_or(false),
        ending_after,
    };
    let mut stored = app.store.query(move |r| r.overrides(&filter)).await?;
    stored.sort_by_key(|o| (o.from, o.created_at, o.id));
    let mut out: Vec<Value> = Vec::new();
    for s in roster
        .schedules
        .values()
        .filter(|s| schedule.as_ref().is_none_or(|id| *id == s.id))
    {
        out.extend(
            s.overrides
                .iter()
                .filter(|o| ending_after.is_none_or(|t| o.to > t))
                .map(|o| yaml_view(s, o)),
        );
    }
    out.extend(stored.iter().map(stored_view));
    Ok(Json(json!({"at": now, "overrides": out})))
}
