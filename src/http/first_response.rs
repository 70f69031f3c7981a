//! The guide's first response over HTTP: `POST .../assign` (step 3),
//! `POST .../updates` (step 4) and `POST .../notes`. Parse, call the
//! domain, map the result.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use super::incidents::{act_error, incident_id};
use crate::app::Shared;
use crate::followup::{assign as assigning, channel};
use crate::incident::Actor;
use crate::incident::apply::ActError;
use crate::limits;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    person: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    text: String,
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    super::error::json_body(bytes)
}

/// `POST /api/v1/incidents/{id}/assign` `{"person": id}`.
pub async fn assign(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let by = auth::person(&app.roster(), &headers)?.id.clone();
    let id = incident_id(&app, &id).await?;
    let b: AssignBody = body(&bytes)?;
    if !app.roster().people.contains_key(&b.person) {
        return Err(ApiError::NotFound(format!("person {:?}", b.person)));
    }
    let (incident, changed) = app
        .transact_paging(move |repo, ctx| {
            ActError::in_job(assigning::assign(
                repo,
                ctx,
                id,
                &b.person,
                &Actor::Person(by),
            ))
        })
        .await?
        .map_err(|e| act_error(e, id))?;
    app.after_action(id);
    Ok(Json(json!({"incident": incident, "changed": changed})))
}

/// The text of an update or a note: present and within [`limits::NOTE`].
fn update_text(text: &str) -> Result<String, ApiError> {
    limits::NOTE
        .required(text)
        .map_err(|reason| ApiError::bad("text", reason))
}

/// `POST /api/v1/incidents/{id}/updates` `{"text": "..."}`.
pub async fn updates(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let person = auth::person(&app.roster(), &headers)?.id.clone();
    let id = incident_id(&app, &id).await?;
    let b: UpdateBody = body(&bytes)?;
    let text = update_text(&b.text)?;
    let (incident, withheld) = app
        .transact_paging(move |repo, ctx| {
            ActError::in_job(channel::post_update(repo, ctx, id, &person, &text))
        })
        .await?
        .map_err(|e| act_error(e, id))?;
    app.after_action(id);
    // Kept on the timeline either way; `posted` says whether the client
    // will read it, `withheld` why not.
    Ok(Json(json!({
        "incident": incident,
        "posted": withheld.is_none(),
        "withheld": withheld,
    })))
}

/// `POST /api/v1/incidents/{id}/notes` `{"text": "..."}`: kept on the
/// timeline, never sent to anyone.
pub async fn notes(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let person = auth::person(&app.roster(), &headers)?.id.clone();
    let id = incident_id(&app, &id).await?;
    let b: UpdateBody = body(&bytes)?;
    let text = update_text(&b.text)?;
    let now = app.clock.now();
    let incident = app
        .store
        .transact(move |repo| {
            ActError::in_job(crate::incident::notes::add(
                repo,
                id,
                &Actor::Person(person),
                &text,
                now,
            ))
        })
        .await?
        .map_err(|e| act_error(e, id))?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({"incident": incident})),
    ))
}
