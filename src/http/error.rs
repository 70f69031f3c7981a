//! `ApiError`: the one place where failures become status codes. Handlers
//! stay parse → call → map; the cause is logged once and never leaked.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 naming the field and the reason.
    #[error("{field}: {reason}")]
    BadRequest { field: String, reason: String },
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// 409 with the current state, e.g. resolving a resolved incident.
    #[error("{0}")]
    Conflict(String),
    /// 409: the action is not legal in the incident's current state.
    #[error("incident {id} is {state}")]
    IllegalTransition { id: i64, state: String },
    /// 408: the request body did not arrive in time (`server.body_timeout`).
    #[error("request body too slow")]
    TooSlow,
    /// 413: the request body is over `server.max_body_bytes`.
    #[error("request body too large")]
    TooLarge,
    /// 503: nothing was stored; the sender should retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn bad(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::BadRequest {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("resource".into()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadRequest { field, reason } => (
                StatusCode::BAD_REQUEST,
                json!({"error": format!("{field}: {reason}"), "field": field, "reason": reason}),
            ),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, json!({"error": m})),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, json!({"error": m})),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                json!({"error": format!("{what} not found")}),
            ),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, json!({"error": m})),
            ApiError::IllegalTransition { id, state } => (
                StatusCode::CONFLICT,
                json!({"error": format!("incident {id} is {state}"), "state": state}),
            ),
            ApiError::TooSlow => (
                StatusCode::REQUEST_TIMEOUT,
                json!({"error": "request body too slow"}),
            ),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "request body too large (server.max_body_bytes)"}),
            ),
            ApiError::Unavailable(cause) => {
                tracing::error!(cause = %cause, "store unavailable; answering 503");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "store unavailable: nothing was stored, retry later"}),
                )
            }
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}
