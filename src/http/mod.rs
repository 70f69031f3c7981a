//! The HTTP interface: routes, authentication, and the mapping of errors to
//! status codes. The only module that knows axum and status codes; handlers
//! parse, call the domain, and map the result.

pub mod auth;
pub mod error;
mod health;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::app::Shared;

pub fn router(app: Shared) -> Router {
    let limit = app.roster().server.max_body_bytes;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/v1/reload", post(health::reload))
        // Both: the layer refuses a declared oversize body before reading it,
        // the extractor limit catches chunked bodies that grow past it.
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}
