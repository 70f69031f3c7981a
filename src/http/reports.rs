//! `GET /api/v1/reports?from=&to=&by=`: incidents, MTTA, MTTR, pages and
//! follow-up figures per project, client, team or person (any person's
//! token). The rows come from the store in one query; `reports` counts them.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use crate::app::Shared;
use crate::reports::{self, By, Group, Range, Spread};

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
}

pub async fn show(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    auth::person(&roster, &headers)?;
    let now = app.clock.now();
    let time = |field: &'static str, s: &Option<String>| {
        s.as_deref()
            .map(|s| crate::when::parse(s, roster.timezone).map_err(|e| ApiError::bad(field, e)))
            .transpose()
    };
    let (from, to) = (time("from", &q.from)?, time("to", &q.to)?);
    let range = Range::new(from, to, now).map_err(|(field, why)| ApiError::bad(field, why))?;
    let by: By = match q.by.as_deref() {
        None => By::Project,
        Some(s) => s.parse().map_err(|e: String| ApiError::bad("by", e))?,
    };
    let as_of = range.as_of(now);
    let rows = app
        .store
        .query(move |r| r.report_rows(range, as_of))
        .await?;
    let groups = reports::build(&rows, by, &roster, as_of);
    Ok(Json(json!({
        "from": range.from,
        "to": range.to,
        "by": by.as_str(),
        "groups": groups.iter().map(group_json).collect::<Vec<_>>(),
    })))
}

fn spread_json(s: Spread) -> Value {
    json!({"p50_seconds": s.p50, "p90_seconds": s.p90})
}

fn group_json(g: &Group) -> Value {
    json!({
        "key": g.key,
        "incidents": g.incidents,
        "acknowledged": g.acknowledged,
        "resolved": g.resolved,
        "mtta": spread_json(g.mtta),
        "mttr": spread_json(g.mttr),
        "pages": g.pages,
        "night_pages": g.night_pages,
        "postmortems_due": g.postmortems_due,
        "postmortems_overdue": g.postmortems_overdue,
        "actions_open": g.actions_open,
        "actions_overdue": g.actions_overdue,
    })
}
