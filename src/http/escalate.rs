//! `POST /api/v1/incidents/{id}/escalate`: bring in the next step now.

use axum::Json;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::app::Shared;
use crate::escalation::paging;
use crate::incident::apply::ActError;

pub async fn escalate(
    app: Shared,
    id: i64,
    person: String,
    via: &'static str,
    note: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let incident = app
        .transact_paging(move |repo, ctx| {
            ActError::in_job(paging::escalate_now(
                repo,
                ctx,
                id,
                &person,
                via,
                note.as_deref(),
            ))
        })
        .await?
        .map_err(|e| match e {
            ActError::NotFound => ApiError::NotFound(format!("incident {id}")),
            ActError::Illegal(state) => ApiError::IllegalTransition {
                id,
                state: state.as_str().into(),
            },
            ActError::NobodyLeft => ApiError::Conflict(ActError::nobody_left(id)),
            ActError::Store(s) => s.into(),
        })?;
    app.after_action(id);
    Ok(Json(json!({"incident": incident})))
}
