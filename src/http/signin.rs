//! `POST /api/v1/signin-links`: a one-time web sign-in link for the caller
//! (what `tocsin login` prints). The same link the sign-in form sends.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use crate::app::Shared;

pub async fn create(
    State(app): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let person = auth::person(&app.roster(), &headers)?.id.clone();
    let url = crate::web::signin_link(&app, &person, "/").await?;
    let expires_at = app.clock.now() + crate::signin::LINK_TTL;
    Ok(Json(
        json!({"url": url, "person": person, "expires_at": expires_at}),
    ))
}
