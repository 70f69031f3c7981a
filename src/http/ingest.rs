//! Alert sources: Alertmanager, Grafana, PagerDuty Events v2/v1 and change
//! events, client reports. Each handler authenticates, parses with
//! `crate::ingest`, applies in one transaction, and answers only after the
//! commit; a store failure answers 503 so the sender retries.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use super::auth;
use super::error::ApiError;
use crate::app::Shared;
use crate::config::IntegrationKind;
use crate::escalation::paging;
use crate::incident::apply::{self, ClientReport};
use crate::incident::snapshots::Check;
use crate::ingest::alert::Severity;
use crate::ingest::{alertmanager, change_event, events_v1, events_v2, grafana};
use crate::limits;

pub async fn alertmanager(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let roster = app.roster();
    let integration = auth::integration(&roster, &headers, IntegrationKind::Alertmanager)?.clone();
    let webhook = alertmanager::parse(&body).map_err(|e| ApiError::bad(e.field, e.reason))?;
    group(app, integration, webhook, "alertmanager").await
}

pub async fn grafana(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let roster = app.roster();
    let integration = auth::integration(&roster, &headers, IntegrationKind::Grafana)?.clone();
    if let Some(secret) = &integration.signing_secret {
        let header = headers
            .get("x-grafana-alerting-signature")
            .and_then(|v| v.to_str().ok());
        let ts = headers
            .get("x-grafana-alerting-timestamp")
            .and_then(|v| v.to_str().ok());
        // The daemon's clock decides freshness, so a replay is refused in tests too.
        grafana::check(
            secret.expose().as_bytes(),
            &body,
            header,
            ts,
            app.clock.now(),
        )
        .map_err(|e| {
            tracing::warn!(integration = %integration.id, "Grafana webhook refused: {e}");
            ApiError::Unauthorized(e.to_string())
        })?;
    }
    let webhook = grafana::parse(&body).map_err(|e| ApiError::bad(e.field, e.reason))?;
    group(app, integration, webhook, "grafana").await
}

async fn group(
    app: Shared,
    integration: crate::config::Integration,
    webhook: alertmanager::Webhook,
    source: &'static str,
) -> Result<Response, ApiError> {
    for a in &webhook.alerts {
        app.metrics_alert(source, a.status.as_str());
    }
    let delivery = alertmanager::idempotency_key(&webhook);
    // One reading of the clock for the check and the transaction: the
    // mirror's copy window must not outlast the store's.
    let now = app.clock.now();
    let check = app.snapshots.check(
        &integration.id,
        &webhook.group_key,
        &delivery,
        now,
        apply::HA_COPY_WINDOW,
    );
    let ticket = match check {
        Check::Write(ticket) => ticket,
        Check::Duplicate => {
            // Already stored: answered without a write transaction.
            let out = apply::Outcome {
                duplicate: true,
                ..Default::default()
            };
            app.after_ingest(&out, source);
            return Ok(ingested(&out));
        }
    };
    // The ticket rides through the write job's answer so that it is
    // released only after the commit, even if this request is cancelled
    // meanwhile (the job may run twice: it hands on a shared slot).
    let slot = Arc::new(Mutex::new(Some(ticket)));
    let (out, slot) = app
        .transact_ingest_at(now, move |repo, ctx| {
            let out =
                apply::ingest_group(repo, ctx.roster, &integration, &webhook, &delivery, ctx.now)?;
            paging::sync(repo, ctx, &out, &format!("integration:{}", integration.id))?;
            Ok((out, slot.clone()))
        })
        .await?;
    let taken = slot.lock().ok().and_then(|mut t| t.take());
    if let Some(ticket) = taken {
        ticket.committed(out.duplicate);
    }
    app.after_ingest(&out, source);
    Ok(ingested(&out))
}

/// The answer to an accepted alert, serialized straight from the outcome.
#[derive(serde::Serialize)]
struct Ingested<'a> {
    status: &'static str,
    outcome: &'a apply::Outcome,
}

fn ingested(out: &apply::Outcome) -> Response {
    (
        StatusCode::OK,
        Json(Ingested {
            status: "ok",
            outcome: out,
        }),
    )
        .into_response()
}

fn pd_unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["'routing_key' is not a configured integration key"]})),
    )
        .into_response()
}

fn pd_too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({"status": "invalid event", "message": "Event object is too large", "errors": ["the event body is larger than 512 KB"]})),
    )
        .into_response()
}

fn pd_reply((code, body): (u16, Value)) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        Json(body),
    )
        .into_response()
}

fn new_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// `POST /v2/enqueue`: PagerDuty Events API v2.
pub async fn events_v2(State(app): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    if body.len() > limits::EVENT_BODY_BYTES {
        return Ok(pd_too_large());
    }
    let event = match events_v2::parse(&body, new_key) {
        Ok(e) => e,
        Err(e) => return Ok(pd_reply(e.response())),
    };
    events(app, event, events_v2::accepted).await
}

/// `POST /generic/2010-04-15/create_event.json`: the legacy Events v1.
pub async fn events_v1(State(app): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    if body.len() > limits::EVENT_BODY_BYTES {
        return Ok(pd_too_large());
    }
    let event = match events_v1::parse(&body, new_key) {
        Ok(e) => e,
        Err(e) => return Ok(pd_reply(e.response())),
    };
    events(app, event, events_v1::accepted).await
}

async fn events(
    app: Shared,
    event: events_v2::Event,
    accepted: fn(&str) -> (u16, Value),
) -> Result<Response, ApiError> {
    let roster = app.roster();
    let Some(integration) =
        auth::integration_by_token(&roster, &event.routing_key, IntegrationKind::Events).cloned()
    else {
        return Ok(pd_unauthorized());
    };
    app.metrics_alert(
        "events",
        if event.action == events_v2::Action::Resolve {
            "resolved"
        } else {
            "firing"
        },
    );
    let key = event.dedup_key.clone();
    let out = app
        .transact_ingest_at(app.clock.now(), move |repo, ctx| {
            let out = apply::ingest_event(repo, ctx.roster, &integration, &event, ctx.now)?;
            paging::sync(repo, ctx, &out, &format!("integration:{}", integration.id))?;
            Ok(out)
        })
        .await?;
    app.after_ingest(&out, "events");
    Ok(pd_reply(accepted(&key)))
}

/// `POST /v2/change/enqueue`: change events are recorded, never paged.
pub async fn change(State(app): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    if body.len() > limits::EVENT_BODY_BYTES {
        return Ok(pd_too_large());
    }
    let ev = match change_event::parse(&body) {
        Ok(e) => e,
        Err(e) => return Ok(pd_reply(e.response())),
    };
    let roster = app.roster();
    let Some(integration) =
        auth::integration_by_token(&roster, &ev.routing_key, IntegrationKind::Events).cloned()
    else {
        return Ok(pd_unauthorized());
    };
    let now = app.clock.now();
    let detail = json!({"source": ev.source, "timestamp": ev.timestamp, "custom_details": ev.custom_details, "links": ev.links});
    app.store
        .transact_bulk(move |repo| {
            repo.record_change_event(
                &integration.id,
                &integration.project,
                now,
                &ev.summary,
                detail.clone(),
            )
        })
        .await?;
    Ok(pd_reply(change_event::accepted()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    summary: Option<String>,
    details: Option<Value>,
    severity: Option<String>,
    project: Option<String>,
    dedup_key: Option<String>,
}

/// `POST /api/v1/trigger`: a client reports a problem.
pub async fn trigger(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let roster = app.roster();
    let client = auth::client(&roster, &headers)?.clone();
    let b: TriggerBody = super::error::json_body(&body)?;
    let summary = b
        .summary
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let summary = summary
        .ok_or_else(|| ApiError::bad("summary", "required, a short description of the problem"))?;
    limits::SUMMARY
        .check(&summary)
        .map_err(|reason| ApiError::bad("summary", reason))?;
    if let Some(details) = &b.details {
        limits::json(details, limits::DETAILS)
            .map_err(|reason| ApiError::bad("details", reason))?;
    }
    let severity = match b.severity {
        Some(s) => s
            .parse::<Severity>()
            .map_err(|e| ApiError::bad("severity", e.to_string()))?,
        None => client.severity,
    };
    let projects: Vec<&String> = roster
        .projects
        .values()
        .filter(|p| p.client == client.id)
        .map(|p| &p.id)
        .collect();
    let project = match b.project {
        Some(p) if projects.contains(&&p) => p,
        Some(p) => {
            return Err(ApiError::bad(
                "project",
                format!("{p:?} is not a project of client {}", client.id),
            ));
        }
        None if projects.len() == 1 => projects[0].clone(),
        None => {
            return Err(ApiError::bad(
                "project",
                format!(
                    "required: client {} has several projects ({})",
                    client.id,
                    projects
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    };
    if b.dedup_key
        .as_ref()
        .is_some_and(|k| k.is_empty() || limits::DEDUP_KEY.check(k).is_err())
    {
        let max = limits::DEDUP_KEY.max();
        return Err(ApiError::bad(
            "dedup_key",
            format!("must be 1 to {max} characters"),
        ));
    }
    let report = ClientReport {
        client: client.id.clone(),
        project,
        summary,
        details: b.details.unwrap_or(Value::Null),
        severity,
        dedup_key: b.dedup_key,
    };
    app.metrics_alert("trigger", "firing");
    // Routed and paged like any alert, in the same transaction.
    let (out, reference) = app
        .transact_paging(move |repo, ctx| {
            let out = apply::client_trigger(repo, ctx.roster, &report, ctx.now)?;
            paging::sync(repo, ctx, &out, &format!("client:{}", report.client))?;
            let id = out.incidents().first().copied();
            let reference = id.map(|id| repo.get(id)).transpose()?;
            Ok((out, reference.map(|i| i.reference)))
        })
        .await?;
    app.after_ingest(&out, "trigger");
    // The client hears its own reference, never the global number (which
    // would tell it how many incidents other clients had).
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "ok", "reference": reference})),
    )
        .into_response())
}

/// `POST /api/v1/heartbeat/{id}`: a ping moves the deadline. Authenticated
/// by the heartbeat's own token, or by any integration token when it has none.
/// The token is checked before the id, so ids cannot be listed without one.
pub async fn heartbeat(
    State(app): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let roster = app.roster();
    let token = auth::bearer(&headers)
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization: Bearer token".into()))?;
    if !auth::heartbeat_or_integration(&roster, &token) {
        return Err(ApiError::Unauthorized("unknown token".into()));
    }
    let hb = roster
        .heartbeats
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("heartbeat {id:?}")))?;
    let presented = crate::config::secret::TokenHash::of(&token);
    let allowed = match hb.token {
        Some(h) => h.is(&presented),
        None => roster.integrations.values().any(|i| i.token.is(&presented)),
    };
    if !allowed {
        return Err(ApiError::Unauthorized(
            "token does not belong to this heartbeat".into(),
        ));
    }
    let out = app
        .transact_paging(move |repo, ctx| {
            let out = crate::incident::heartbeat::ping(repo, &hb, ctx.now)?;
            paging::sync(repo, ctx, &out, &format!("heartbeat:{}", hb.id))?;
            Ok(out)
        })
        .await?;
    app.after_ingest(&out, "heartbeat");
    Ok((
        StatusCode::OK,
        Json(json!({"status": "ok", "resolved": out.resolved})),
    )
        .into_response())
}
