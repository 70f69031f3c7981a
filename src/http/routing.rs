//! Nearest responder and on-call: presence marks, the route explanation,
//! who is on call, and iCal feeds of shifts.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use crate::app::Shared;
use crate::config::{Roster, Schedule};
use crate::duration::Span;
use crate::escalation::targets::{self, RouteContext};
use crate::followup::channel::person_name;
use crate::incident::OverrideFilter;
use crate::oncall::selfservice::{self, SelfError};
use crate::routing::{self, FeedShift, PresenceMark, StoredOverride};

/// How far ahead the iCal feeds reach.
const ICAL_WEEKS: i64 = 8;

pub async fn whoami(
    State(app): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    let p = auth::person(&roster, &headers)?;
    Ok(Json(
        json!({"person": p.id, "name": p.name, "admin": roster.is_admin(&p.id)}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    status: Option<String>,
    ttl: Option<String>,
}

impl From<SelfError> for ApiError {
    fn from(e: SelfError) -> Self {
        match e {
            SelfError::Invalid { field, reason } => ApiError::bad(field, reason),
            SelfError::Forbidden(m) => ApiError::Forbidden(m),
            SelfError::NotFound(what) => ApiError::NotFound(what),
        }
    }
}

pub async fn put_presence(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(person): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    let caller = auth::person(&roster, &headers)?.id.clone();
    selfservice::target(
        &roster,
        &caller,
        &person,
        &format!("set the presence of {person}"),
    )?;
    let b: PresenceBody = super::error::json_body(&body)?;
    let now = app.clock.now();
    let mark = selfservice::mark(&roster, b.status.as_deref(), b.ttl.as_deref(), now)?;
    let (stored, status) = (mark, mark.status);
    let target = person.clone();
    app.store
        .transact(move |repo| repo.set_presence(&target, &stored, &caller, now))
        .await?;
    let until = (!mark.is_open_ended()).then_some(mark.until);
    Ok(Json(
        json!({"person": person, "status": status, "until": until}),
    ))
}

/// `DELETE /api/v1/presence/{person}`: the mark goes, working hours decide
/// again. Allowed to whoever may set it.
pub async fn delete_presence(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(person): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    let caller = auth::person(&roster, &headers)?.id.clone();
    selfservice::target(
        &roster,
        &caller,
        &person,
        &format!("clear the presence of {person}"),
    )?;
    let target = person.clone();
    let cleared = app
        .store
        .transact(move |repo| repo.clear_presence(&target))
        .await?;
    Ok(Json(json!({"person": person, "cleared": cleared})))
}

#[derive(Debug, Deserialize)]
pub struct RouteQuery {
    project: Option<String>,
    at: Option<String>,
}

fn parse_at(
    at: Option<&str>,
    roster: &Roster,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    match at {
        None | Some("") | Some("now") => Ok(now),
        Some(s) => crate::when::parse(s, roster.timezone).map_err(|e| ApiError::bad("at", e)),
    }
}

/// Every live stored override: what the doors that show a schedule merge
/// with its YAML (`targets::rotation`).
pub(super) async fn live_overrides(app: &Shared) -> Result<Vec<StoredOverride>, ApiError> {
    Ok(app
        .store
        .query(|r| r.overrides(&OverrideFilter::default()))
        .await?)
}

async fn marks(
    app: &Shared,
    at: DateTime<Utc>,
) -> Result<BTreeMap<String, PresenceMark>, ApiError> {
    Ok(app.store.query(move |r| r.presence_marks(at)).await?)
}

pub async fn route(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<RouteQuery>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    auth::person(&roster, &headers)?;
    let project = q
        .project
        .ok_or_else(|| ApiError::bad("project", "required"))?;
    let p = roster
        .projects
        .get(&project)
        .ok_or_else(|| ApiError::NotFound(format!("project {project:?}")))?;
    let at = parse_at(q.at.as_deref(), &roster, app.clock.now())?;
    let marks = marks(&app, at).await?;
    let presence = |id: &str| marks.get(id).cloned();
    let rules = app.store.query(|r| r.all_notify_rules()).await?;
    let notify = |id: &str| rules.get(id).cloned();
    let overrides = live_overrides(&app).await?;
    let ctx = RouteContext {
        roster: &roster,
        project: &project,
        presence: &presence,
        client_reported: false,
        assignee: None,
        notify: &notify,
        overrides: &overrides,
    };
    let d = targets::decision(&ctx, at);
    let on_call = p
        .schedule
        .as_ref()
        .and_then(|s| roster.schedules.get(s))
        .and_then(|s| targets::rotation(&roster, s, &overrides).on_call(at));
    // Exactly what step 1 would queue now: every channel fired at once, and
    // the later rungs of each person's notify ladder.
    let first_step: Vec<Value> = roster
        .policies
        .get(&p.escalation_policy)
        .map(|pol| crate::escalation::policy::start(pol, &ctx, at).1)
        .unwrap_or_default()
        .into_iter()
        .map(|page| {
            let later: Vec<Value> = page
                .later
                .iter()
                .map(|l| json!({"after": crate::duration::Span::from_secs(l.after_secs).to_string(), "channels": l.channels}))
                .collect();
            json!({"person": page.person, "channels": page.channels, "later": later, "reason": page.reason})
        })
        .collect();
    let first_channel = first_step
        .first()
        .and_then(|p| p["channels"].as_array())
        .map(|cs| {
            cs.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("+")
        })
        .unwrap_or_default();
    Ok(Json(json!({
        "project": project,
        "at": at,
        "schedule": p.schedule,
        "on_call": on_call,
        "order": d.candidates.iter().map(|c| {
            let mut v = json!(c);
            v["rank"] = json!(targets::rank(&ctx, &c.person, at));
            v
        }).collect::<Vec<_>>(),
        "picked": d.picked,
        "first_page": d.first_page,
        "first_channel": first_channel,
        "first_step": first_step,
    })))
}

#[derive(Debug, Deserialize)]
pub struct AtQuery {
    at: Option<String>,
}

pub async fn oncall(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<AtQuery>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    auth::person(&roster, &headers)?;
    let at = parse_at(q.at.as_deref(), &roster, app.clock.now())?;
    let overrides = live_overrides(&app).await?;
    let schedules: Vec<Value> = roster
        .schedules
        .values()
        .map(|s| {
            let rot = targets::rotation(&roster, s, &overrides);
            let shift = rot.on_call(at);
            // Nobody on call now (before the schedule starts, or a gap):
            // the next hand-off is when someone comes on, and who.
            let coming = match shift {
                None => rot
                    .shifts(at, at + chrono::Duration::weeks(ICAL_WEEKS))
                    .into_iter()
                    .next(),
                Some(_) => None,
            };
            json!({
                "schedule": s.id,
                "name": s.name,
                "timezone": s.timezone.name(),
                "person": shift.as_ref().map(|x| x.person.clone()),
                "since": shift.as_ref().map(|x| x.start),
                "until": shift.as_ref().map(|x| x.end),
                "is_override": shift.as_ref().is_some_and(|x| x.is_override),
                // The stored override in force, with who set it and why.
                "override": routing::overrides::in_force(&overrides, &s.id, at)
                    .map(|o| json!({"id": o.id, "reason": o.reason, "created_by": o.created_by})),
                "next_handoff": coming.as_ref().map(|c| c.start).or_else(|| rot.next_handoff(at)),
                // Who takes over when this shift ends (or who comes on).
                "next_person": shift
                    .as_ref()
                    .and_then(|x| rot.on_call(x.end))
                    .map(|x| x.person)
                    .or(coming.map(|c| c.person)),
            })
        })
        .collect();
    Ok(Json(json!({"at": at, "schedules": schedules})))
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn calendar_person<'r>(
    roster: &'r Roster,
    token: Option<&str>,
) -> Result<&'r crate::config::Person, ApiError> {
    let token = token.ok_or_else(|| {
        ApiError::Unauthorized("missing ?token= (a person's calendar token)".into())
    })?;
    let (presented, mut found) = (crate::config::secret::TokenHash::of(token), None);
    for p in roster.people.values() {
        if p.calendar_token.is_some_and(|h| h.is(&presented)) && found.is_none() {
            found = Some(p);
        }
    }
    found.ok_or_else(|| ApiError::Unauthorized("unknown calendar token".into()))
}

fn calendar(name: &str, shifts: &[FeedShift], now: DateTime<Utc>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        routing::ical::render(name, shifts, now),
    )
        .into_response()
}

/// The schedule's shifts of the feed window from `now`, the one in
/// progress from its real start, with the names people read.
fn feed_shifts(
    roster: &Roster,
    s: &Schedule,
    overrides: &[StoredOverride],
    now: DateTime<Utc>,
) -> Vec<FeedShift> {
    targets::rotation(roster, s, overrides)
        .shifts_overlapping(now, now + chrono::Duration::weeks(ICAL_WEEKS))
        .into_iter()
        .map(|shift| FeedShift {
            schedule: s.id.clone(),
            schedule_name: s.name.clone(),
            person_name: person_name(roster, &shift.person).to_string(),
            shift,
        })
        .collect()
}

/// `GET /api/v1/schedules/{id}/ical?token=`: the schedule's shifts.
pub async fn schedule_ical(
    State(app): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let roster = app.roster();
    calendar_person(&roster, q.token.as_deref())?;
    let s = roster
        .schedules
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("schedule {id:?}")))?;
    let now = app.clock.now();
    let overrides = live_overrides(&app).await?;
    let shifts = feed_shifts(&roster, s, &overrides, now);
    Ok(calendar(&format!("On call: {}", s.name), &shifts, now))
}

/// `GET /api/v1/people/{id}/ical?token=`: one person's shifts in every schedule.
pub async fn person_ical(
    State(app): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let roster = app.roster();
    let p = calendar_person(&roster, q.token.as_deref())?;
    if p.id != id {
        return Err(ApiError::Forbidden(
            "a calendar token opens only its own person's feed".into(),
        ));
    }
    let now = app.clock.now();
    let overrides = live_overrides(&app).await?;
    let mut shifts: Vec<FeedShift> = roster
        .schedules
        .values()
        .flat_map(|s| feed_shifts(&roster, s, &overrides, now))
        .filter(|f| f.shift.person == p.id)
        .collect();
    shifts.sort_by_key(|f| f.shift.start);
    Ok(calendar(&format!("On call: {}", p.name), &shifts, now))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    via: Vec<String>,
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyBody {
    rules: Vec<RuleBody>,
}

fn rules_json(rules: &[crate::config::NotifyRule]) -> Value {
    rules
        .iter()
        .map(|r| {
            json!({"via": r.via, "after": if r.after_secs == 0 { "0s".to_string() } else { Span::from_secs(r.after_secs).to_string() }})
        })
        .collect()
}

/// The caller may see and change `person`'s rules (themselves, their lead,
/// an admin); the person must exist. `verb` words a refusal: "see", "change".
fn notify_target<'r>(
    roster: &'r Roster,
    headers: &HeaderMap,
    person: &str,
    verb: &str,
) -> Result<(&'r crate::config::Person, String), ApiError> {
    let caller = auth::person(roster, headers)?.id.clone();
    let p = selfservice::target(
        roster,
        &caller,
        person,
        &format!("{verb} how {person} is notified"),
    )?;
    Ok((p, caller))
}

async fn notify_answer(app: &Shared, p: &crate::config::Person) -> Result<Json<Value>, ApiError> {
    let id = p.id.clone();
    let now = app.clock.now();
    let (own, marks) = app
        .store
        .query(move |r| Ok((r.all_notify_rules()?.remove(&id), r.presence_marks(now)?)))
        .await?;
    let presence = marks
        .get(&p.id)
        .map(|m| json!({"status": m.status, "until": (!m.is_open_ended()).then_some(m.until)}));
    let (rules, source) = match &own {
        Some(r) => (r.as_slice(), "api"),
        None => (p.notify.as_slice(), "yaml"),
    };
    Ok(Json(json!({
        "person": p.id,
        "rules": rules_json(rules),
        "source": source,
        "yaml_rules": rules_json(&p.notify),
        "channels": p.channels,
        "presence": presence,
    })))
}

/// `GET /api/v1/people/{id}/notify`: the ladder in force (set over the API,
/// else the YAML one), the YAML default, and the presence mark.
pub async fn get_notify(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(person): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    let (p, _) = notify_target(&roster, &headers, &person, "see")?;
    notify_answer(&app, p).await
}

/// `PUT /api/v1/people/{id}/notify` `{"rules": [{"via": [..], "after": "2m"}]}`:
/// overrides the YAML ladder until deleted.
pub async fn put_notify(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(person): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    let (p, caller) = notify_target(&roster, &headers, &person, "change")?;
    let b: NotifyBody = super::error::json_body(&body)?;
    let rungs: Vec<(Vec<String>, Option<String>)> =
        b.rules.into_iter().map(|r| (r.via, r.after)).collect();
    let rules = selfservice::ladder(p, &rungs)?;
    let (target, now) = (person.clone(), app.clock.now());
    app.store
        .transact(move |repo| repo.set_notify_rules(&target, Some(&rules), &caller, now))
        .await?;
    notify_answer(&app, p).await
}

/// `DELETE /api/v1/people/{id}/notify`: back to the YAML ladder.
pub async fn delete_notify(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(person): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let roster = app.roster();
    let (p, caller) = notify_target(&roster, &headers, &person, "change")?;
    let (target, now) = (person.clone(), app.clock.now());
    app.store
        .transact(move |repo| repo.set_notify_rules(&target, None, &caller, now))
        .await?;
    notify_answer(&app, p).await
}
