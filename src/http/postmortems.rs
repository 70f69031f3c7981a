//! `/api/v1/postmortems` and `/api/v1/actions`: list, create by hand, show,
//! edit, the review steps, action items. Every call needs a person token;
//! who may approve, publish and reopen is decided in `followup`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use crate::app::Shared;
use crate::escalation::paging::Ctx;
use crate::followup::actions::Filter;
use crate::followup::lifecycle::{self, ActionRequest, Edit, FlowError};
use crate::followup::postmortem::{self, CLIENT_SUMMARY, QUESTIONS, Verb};
use crate::incident::Actor;
use crate::store::{Cursor, StoreError};

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::NotFound(what) => ApiError::NotFound(what),
            FlowError::Forbidden(m) => ApiError::Forbidden(m),
            FlowError::Conflict(m) => ApiError::Conflict(m),
            FlowError::Invalid { field, reason } => ApiError::bad(field, reason),
            FlowError::Store(s) => s.into(),
        }
    }
}

fn parse_id(what: &str, id: &str) -> Result<i64, ApiError> {
    id.trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad("id", format!("{id:?} is not a {what} number")))
}

fn body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    super::error::json_body(bytes)
}

/// Runs followup logic in one transaction with the paging context.
async fn transact<R, F>(app: &Shared, f: F) -> Result<R, ApiError>
where
    R: Send + 'static,
    F: FnOnce(&mut dyn crate::incident::Repo, &Ctx<'_>) -> Result<R, FlowError> + Send + 'static,
{
    let out = app
        .transact_paging(move |repo, ctx| FlowError::in_job(f(repo, ctx)))
        .await??;
    Ok(out)
}

async fn full(app: &Shared, id: i64) -> Result<Value, ApiError> {
    let now = app.clock.now();
    let (pm, actions) = app
        .store
        .query(move |r| Ok((r.postmortem(id)?, r.actions_of(id)?)))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound(format!("postmortem {id}")),
            other => other.into(),
        })?;
    let mut v = serde_json::to_value(&pm).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "actions".into(),
            Value::Array(actions.iter().map(|a| a.view(now)).collect()),
        );
        let questions: serde_json::Map<String, Value> = QUESTIONS
            .iter()
            .chain([&CLIENT_SUMMARY])
            .map(|(k, q)| ((*k).to_string(), json!(q)))
            .collect();
        obj.insert("questions".into(), Value::Object(questions));
        // Which section the client reads; the others stay internal.
        obj.insert("public".into(), json!([CLIENT_SUMMARY.0]));
    }
    Ok(json!({"postmortem": v, "on_publish": postmortem::on_publish(&pm)}))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

pub async fn list(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    auth::person(&app.roster(), &headers)?;
    let page = super::page::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let fetched = app
        .store
        .query(move |r| r.postmortems(page.after, page.fetch()))
        .await?;
    let (pms, next) = page.split(fetched, |p| Cursor::at(p.id));
    let items: Vec<Value> = pms
        .iter()
        .map(|p| {
            json!({"id": p.id, "incident": p.incident, "state": p.state, "author": p.author,
                   "approver": p.approver, "title": p.title, "due_at": p.due_at})
        })
        .collect();
    Ok(Json(
        json!({"postmortems": items, "next_cursor": super::page::next(next)}),
    ))
}

/// `POST /api/v1/incidents/{id}/postmortem`: a postmortem for any incident.
pub async fn create(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let person = auth::person(&app.roster(), &headers)?.id.clone();
    let id = super::incidents::incident_id(&app, &id).await?;
    let pm = transact(&app, move |repo, ctx| {
        lifecycle::create(repo, ctx, id, &Actor::Person(person))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(full(&app, pm.id).await?)))
}

pub async fn show(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth::person(&app.roster(), &headers)?;
    let id = parse_id("postmortem", &id)?;
    Ok(Json(full(&app, id).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutBody {
    title: Option<String>,
    author: Option<String>,
    what_happened: Option<String>,
    how_fixed: Option<String>,
    cause: Option<String>,
    measures: Option<String>,
    client_summary: Option<String>,
    no_measures_needed: Option<bool>,
}

pub async fn put(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let person = auth::person(&app.roster(), &headers)?.id.clone();
    let id = parse_id("postmortem", &id)?;
    let b: PutBody = body(&bytes)?;
    let edit = Edit {
        title: b.title,
        author: b.author,
        what_happened: b.what_happened,
        how_fixed: b.how_fixed,
        cause: b.cause,
        measures: b.measures,
        client_summary: b.client_summary,
        no_measures_needed: b.no_measures_needed,
    };
    transact(&app, move |repo, ctx| {
        lifecycle::edit(repo, ctx, id, &edit, &person)
    })
    .await?;
    Ok(Json(full(&app, id).await?))
}

/// `POST /api/v1/postmortems/{id}/{submit,approve,publish,reopen}`.
pub async fn step(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, verb)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let person = auth::person(&app.roster(), &headers)?.id.clone();
    let id = parse_id("postmortem", &id)?;
    let verb: Verb = verb
        .parse()
        .map_err(|_| ApiError::NotFound(format!("action {verb:?}")))?;
    let (_, changed) = transact(&app, move |repo, ctx| {
        lifecycle::step(repo, ctx, id, verb, &person)
    })
    .await?;
    let mut v = full(&app, id).await?;
    v["changed"] = json!(changed);
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    title: String,
    assignee: String,
    deadline: String,
    priority: Option<String>,
}

pub async fn add_action(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let person = auth::person(&app.roster(), &headers)?.id.clone();
    let id = parse_id("postmortem", &id)?;
    let b: ActionBody = super::error::json_body(&bytes)?;
    let req = ActionRequest {
        title: b.title,
        assignee: b.assignee,
        deadline: b.deadline,
        priority: b.priority,
    };
    let item = transact(&app, move |repo, ctx| {
        lifecycle::add_action(repo, ctx, id, &req, &person)
    })
    .await?;
    let now = app.clock.now();
    Ok((StatusCode::CREATED, Json(json!({"action": item.view(now)}))))
}

pub async fn action_done(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let person = auth::person(&app.roster(), &headers)?.id.clone();
    let id = parse_id("action", &id)?;
    let (item, changed) = transact(&app, move |repo, ctx| {
        lifecycle::done(repo, ctx, id, &person)
    })
    .await?;
    let now = app.clock.now();
    Ok(Json(json!({"action": item.view(now), "changed": changed})))
}

#[derive(Debug, Deserialize)]
pub struct ActionsQuery {
    state: Option<String>,
    assignee: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub async fn list_actions(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ActionsQuery>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    auth::person(&roster, &headers)?;
    let filter: Filter = q
        .state
        .as_deref()
        .unwrap_or("open")
        .parse()
        .map_err(|e: String| ApiError::bad("state", e))?;
    if let Some(a) = &q.assignee
        && !roster.people.contains_key(a)
    {
        return Err(ApiError::NotFound(format!("person {a:?}")));
    }
    let page = super::page::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let now = app.clock.now();
    let assignee = q.assignee.clone();
    let fetched = app
        .store
        .query(move |r| r.actions(filter, assignee.as_deref(), now, page.after, page.fetch()))
        .await?;
    let (items, next) = page.split(fetched, |i| Cursor {
        key: i.deadline.timestamp_millis(),
        id: i.id,
    });
    let items: Vec<Value> = items.iter().map(|i| i.view(now)).collect();
    Ok(Json(
        json!({"actions": items, "next_cursor": super::page::next(next)}),
    ))
}
