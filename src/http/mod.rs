//! The HTTP interface: routes, authentication, and the mapping of errors to
//! status codes. The only module that knows axum and status codes; handlers
//! parse, call the domain, and map the result.

pub mod auth;
pub mod error;
mod escalate;
mod first_response;
mod health;
mod incidents;
mod ingest;
mod maintenance;
mod overrides;
mod page;
mod postmortems;
mod reports;
mod routing;
pub mod serve;
mod signin;
mod twilio;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};

use crate::app::Shared;
use error::ApiError;

pub fn router(app: Shared) -> Router {
    let roster = app.roster();
    let limit = roster.server.max_body_bytes;
    let body_timeout = roster.server.body_timeout.to_std();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/reload", post(health::reload))
        .route("/api/v1/alertmanager", post(ingest::alertmanager))
        .route("/api/v1/grafana", post(ingest::grafana))
        .route("/v2/enqueue", post(ingest::events_v2))
        .route("/v2/change/enqueue", post(ingest::change))
        .route(
            "/generic/2010-04-15/create_event.json",
            post(ingest::events_v1),
        )
        .route("/api/v1/trigger", post(ingest::trigger))
        .route("/api/v1/heartbeat/{id}", post(ingest::heartbeat))
        .route("/api/v1/whoami", get(routing::whoami))
        .route("/api/v1/signin-links", post(signin::create))
        .route(
            "/api/v1/presence/{person}",
            put(routing::put_presence).delete(routing::delete_presence),
        )
        .route("/api/v1/route", get(routing::route))
        .route("/api/v1/oncall", get(routing::oncall))
        .route("/api/v1/schedules/{id}/ical", get(routing::schedule_ical))
        .route(
            "/api/v1/schedules/{id}/overrides",
            get(overrides::list_schedule).post(overrides::create),
        )
        .route("/api/v1/overrides", get(overrides::list))
        .route("/api/v1/overrides/{id}", delete(overrides::delete))
        .route("/api/v1/people/{id}/ical", get(routing::person_ical))
        .route(
            "/api/v1/people/{id}/notify",
            get(routing::get_notify)
                .put(routing::put_notify)
                .delete(routing::delete_notify),
        )
        .route("/api/v1/incidents", get(incidents::list))
        .route(
            "/api/v1/incidents/{id}",
            get(incidents::show).patch(incidents::patch),
        )
        // Static segments win over `{action}` in axum's router (matchit).
        .route(
            "/api/v1/incidents/{id}/assign",
            post(first_response::assign),
        )
        .route(
            "/api/v1/incidents/{id}/updates",
            post(first_response::updates),
        )
        .route("/api/v1/incidents/{id}/notes", post(first_response::notes))
        .route("/api/v1/incidents/{id}/{action}", post(incidents::action))
        .route(
            "/api/v1/incidents/{id}/postmortem",
            post(postmortems::create),
        )
        .route(
            "/api/v1/maintenance",
            get(maintenance::list).post(maintenance::create),
        )
        .route(
            "/api/v1/maintenance/{id}",
            axum::routing::delete(maintenance::end),
        )
        .route("/api/v1/postmortems", get(postmortems::list))
        .route(
            "/api/v1/postmortems/{id}",
            get(postmortems::show).put(postmortems::put),
        )
        .route(
            "/api/v1/postmortems/{id}/actions",
            post(postmortems::add_action),
        )
        .route("/api/v1/postmortems/{id}/{verb}", post(postmortems::step))
        .route("/api/v1/actions", get(postmortems::list_actions))
        .route("/api/v1/reports", get(reports::show))
        .route("/api/v1/actions/{id}/done", post(postmortems::action_done))
        .route("/twilio/sms", post(twilio::sms))
        .route("/twilio/voice", post(twilio::voice))
        .route("/twilio/status", post(twilio::status))
        .merge(crate::web::router())
        // The outer layer refuses a declared oversize body before reading
        // it; `read_body`, inside it, stops a chunked one that grows past it.
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(body_timeout, read_body))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        // Method and URI only: headers carry credentials (the log redacts
        // the URI's tokens, see `logging`).
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().include_headers(false)),
        )
        .with_state(app)
}

/// Reads the whole body within `server.body_timeout` (408 otherwise), so a
/// client that trickles its body cannot hold a connection and its handler.
/// Inside the size limit: what it buffers is bounded by `max_body_bytes`.
async fn read_body(
    State(timeout): State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, usize::MAX)).await;
    let bytes = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if too_large(&e) => return ApiError::TooLarge.into_response(),
        Ok(Err(e)) => return ApiError::bad("body", format!("cannot be read: {e}")).into_response(),
        Err(_) => return ApiError::TooSlow.into_response(),
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Whether reading a body failed on the size limit.
fn too_large(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Counts every request by route pattern and status, and times it
/// (`tocsin_webhook_requests_total`, `tocsin_webhook_request_duration_seconds`).
/// The pattern, never the path, is the label, so ids do not leak into series.
async fn observe(
    State(app): State<Shared>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let endpoint = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    app.metrics.webhook_request(
        &endpoint,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// `server.public_url` without query, fragment or trailing slash: the prefix
/// of every URL tocsin hands out and of every URL Twilio signs.
pub fn public_base(url: &url::Url) -> &str {
    url[..url::Position::AfterPath].trim_end_matches('/')
}
