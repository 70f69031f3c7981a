//! Liveness, readiness and reload: `/healthz` says the process answers;
//! `/readyz` says the store answers and takes writes (it fails while writes
//! fail), and shows an admin the configuration files and the outcome of the
//! last reload, so a failed SIGHUP is visible.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

use super::auth;
use super::error::ApiError;
use crate::app::Shared;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "alive", "version": env!("CARGO_PKG_VERSION")}))
}

pub async fn readyz(State(app): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let store = app.store.ready().await;
    let status = if store.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let ready = if store.is_ok() { "ready" } else { "not ready" };
    let roster = app.roster();
    // Paths and errors are for the people who run tocsin, not for anyone.
    if auth::admin(&roster, &headers).is_err() {
        return (status, Json(json!({ "status": ready })));
    }
    let reload = app.reload_status();
    let body = json!({
        "status": ready,
        "store": match &store { Ok(()) => "ok".to_string(), Err(e) => e.to_string() },
        "config": {
            "loaded_at": reload.loaded_at,
            "files": roster.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "summary": roster.summary(),
            "generation": reload.generation,
        },
        "last_reload": reload.last,
    });
    (status, Json(body))
}

/// `POST /api/v1/reload` (admins): the same as SIGHUP, answered with the outcome.
pub async fn reload(
    State(app): State<Shared>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    auth::admin(&app.roster(), &headers)?;
    match app.reload_and_rearm().await {
        Ok(summary) => Ok((
            StatusCode::OK,
            Json(json!({"status": "reloaded", "summary": summary})),
        )),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "status": "kept the running configuration",
                "errors": errors.0.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            })),
        )),
    }
}

/// `GET /metrics`: Prometheus text format. Public, like `/healthz`, so a
/// scraper needs no token; it exposes counts only, never ids or numbers.
pub async fn metrics(State(app): State<Shared>) -> impl IntoResponse {
    if let Ok(counts) = app.store.query(|r| r.count_by_state()).await {
        for state in [
            "triggered",
            "acknowledged",
            "resolved",
            "downgraded",
            "suppressed",
        ] {
            let n = counts
                .iter()
                .find(|(s, _)| s.as_str() == state)
                .map_or(0, |(_, n)| *n);
            app.metrics.set_incidents(state, n.max(0) as u64);
        }
    }
    // Read at scrape time: the outbox worker turns too often to count each time.
    if let Ok(depth) = app.store.query(|r| r.outbox_depth()).await {
        app.metrics.set_outbox_depth(depth.max(0) as u64);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        app.metrics.render(),
    )
}
