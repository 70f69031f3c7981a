//! `/api/v1/incidents`: list, show with timeline, state actions and the
//! diagnosis `PATCH`. Every call needs a person token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use crate::app::Shared;
use crate::escalation::paging;
use crate::followup::diagnosis;
use crate::incident::apply::ActError;
use crate::incident::reference::{self, Key};
use crate::incident::transition::Action;
use crate::incident::{Actor, StateFilter};
use crate::limits;
use crate::store::{Cursor, StoreError};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn parse_filter(s: Option<&str>) -> Result<StateFilter, ApiError> {
    match s.unwrap_or("open") {
        "open" => Ok(StateFilter::Open),
        "all" => Ok(StateFilter::All),
        other => other.parse().map(StateFilter::Only).map_err(|_| {
            ApiError::bad(
                "state",
                "expected open, all, triggered, acknowledged, resolved, downgraded or suppressed",
            )
        }),
    }
}

pub async fn list(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    auth::person(&app.roster(), &headers)?;
    let filter = parse_filter(q.state.as_deref())?;
    let page = super::page::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let fetched = app
        .store
        .query(move |r| r.list(filter, page.after, page.fetch()))
        .await?;
    let (incidents, next) = page.split(fetched, |i| Cursor::at(i.id));
    Ok(Json(
        json!({"incidents": incidents, "next_cursor": super::page::next(next)}),
    ))
}

/// The incident a path names: its number (`42`, `#42`) or a client's
/// reference (`ACME-7`, any case; 404 when no incident has it).
pub(super) async fn incident_id(app: &Shared, id: &str) -> Result<i64, ApiError> {
    match Key::parse(id) {
        Some(Key::Number(n)) => Ok(n),
        Some(Key::Reference { prefix, seq }) => {
            let shown = reference::format(&prefix, seq);
            app.store
                .query(move |r| r.by_reference(&prefix, seq))
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => ApiError::NotFound(format!("incident {shown}")),
                    other => other.into(),
                })
        }
        None => Err(ApiError::bad(
            "id",
            format!("{id:?} is not an incident number or reference"),
        )),
    }
}

pub async fn show(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth::person(&app.roster(), &headers)?;
    let id = incident_id(&app, &id).await?;
    let (incident, alerts, timeline) = app
        .store
        .query(move |r| Ok((r.get(id)?, r.alerts(id)?, r.timeline(id)?)))
        .await
        .map_err(|e| not_found(e, id))?;
    Ok(Json(
        json!({"incident": incident, "alerts": alerts, "timeline": timeline}),
    ))
}

fn not_found(e: crate::store::StoreError, id: i64) -> ApiError {
    match e {
        crate::store::StoreError::NotFound => ApiError::NotFound(format!("incident {id}")),
        other => other.into(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// How the action was taken (api, cli); recorded on the timeline.
    via: Option<String>,
    note: Option<String>,
}

pub(super) fn act_error(e: ActError, id: i64) -> ApiError {
    match e {
        ActError::NotFound => ApiError::NotFound(format!("incident {id}")),
        ActError::Illegal(state) => ApiError::IllegalTransition {
            id,
            state: state.as_str().into(),
        },
        ActError::NobodyLeft => ApiError::Conflict(ActError::nobody_left(id)),
        ActError::Store(s) => s.into(),
    }
}

/// An optional action body: `via` ("api", the default, or "cli") and a
/// checked `note`.
fn action_body(body: &[u8]) -> Result<(&'static str, Option<String>), ApiError> {
    let b: ActionBody = if body.is_empty() {
        ActionBody::default()
    } else {
        super::error::json_body(body)?
    };
    let via = match b.via.as_deref() {
        None | Some("api") => "api",
        Some("cli") => "cli",
        Some(other) => return Err(ApiError::bad("via", format!("{other:?} is not api or cli"))),
    };
    if let Some(note) = &b.note {
        limits::NOTE
            .check(note)
            .map_err(|reason| ApiError::bad("note", reason))?;
    }
    Ok((via, b.note))
}

pub async fn action(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, verb)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    let person = auth::person(&roster, &headers)?.id.clone();
    let id = incident_id(&app, &id).await?;
    let action = match verb.as_str() {
        "acknowledge" => Action::Acknowledge,
        "resolve" => Action::Resolve,
        "downgrade" => Action::Downgrade,
        "escalate" => {
            let (via, note) = action_body(&body)?;
            return super::escalate::escalate(app, id, person, via, note).await;
        }
        other => return Err(ApiError::NotFound(format!("action {other:?}"))),
    };
    let (via, note) = action_body(&body)?;
    let detail = json!({"note": note});
    let (incident, changed) = app
        .transact_paging(move |repo, ctx| {
            ActError::in_job(paging::act(
                repo,
                ctx,
                id,
                action,
                &Actor::Person(person),
                via,
                detail,
            ))
        })
        .await?
        .map_err(|e| act_error(e, id))?;
    if changed {
        app.after_action(id);
    }
    Ok(Json(json!({"incident": incident, "changed": changed})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    layer: Option<String>,
    reproducible: Option<bool>,
    serious: Option<bool>,
    serious_reason: Option<String>,
    severity: Option<String>,
    provider_ticket: Option<String>,
}

pub async fn patch(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let person = auth::person(&app.roster(), &headers)?.id.clone();
    let id = incident_id(&app, &id).await?;
    let b: PatchBody = super::error::json_body(&body)?;
    let d = diagnosis::check(diagnosis::Sent {
        layer: b.layer,
        reproducible: b.reproducible,
        serious: b.serious,
        serious_reason: b.serious_reason,
        severity: b.severity,
        provider_ticket: b.provider_ticket,
    })
    .map_err(|e| ApiError::bad(e.field, e.reason))?;
    let incident = app
        .transact_paging(move |repo, ctx| {
            ActError::in_job(diagnosis::diagnose(
                repo,
                ctx,
                id,
                &d,
                &Actor::Person(person),
            ))
        })
        .await?
        .map_err(|e| act_error(e, id))?;
    app.after_action(id);
    Ok(Json(json!({"incident": incident})))
}
