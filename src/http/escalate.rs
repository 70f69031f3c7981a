//! `POST /api/v1/incidents/{id}/escalate`: bring in the next step now.

use axum::Json;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::app::Shared;
use crate::incident::Actor;

pub async fn escalate(
    app: Shared,
    id: i64,
    person: String,
    via: &'static str,
) -> Result<Json<Value>, ApiError> {
    let now = app.clock.now();
    let incident = app
        .store
        .transact(move |repo| {
            let inc = repo.get(id)?;
            repo.append(
                id,
                now,
                &Actor::Person(person),
                "escalation requested",
                json!({"how": via}),
            )?;
            Ok(inc)
        })
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => ApiError::NotFound(format!("incident {id}")),
            other => other.into(),
        })?;
    Ok(Json(json!({"incident": incident})))
}
