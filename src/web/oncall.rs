//! The on-call page: who is on call now in each schedule, the shifts of the
//! coming week or month with overrides marked, "take this shift" and
//! "cover me" (`oncall::overrides`, as `POST /api/v1/schedules/{id}/overrides`),
//! and each person's presence with "I'm online for …"
//! (`oncall::selfservice`, as `PUT /api/v1/presence/{person}`).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::{Chrome, Posted, Viewer, WebError, When, render};
use crate::app::Shared;
use crate::followup::channel::person_name;
use crate::incident::OverrideFilter;
use crate::oncall::overrides::{self, OverrideError, Request};
use crate::oncall::selfservice::{self, SelfError};
use crate::routing::{PresenceMark, Status};

/// How long "I'm online for …" may be picked, as offered on the page.
const ONLINE_FOR: [&str; 5] = ["30m", "1h", "2h", "4h", "8h"];

impl From<OverrideError> for WebError {
    fn from(e: OverrideError) -> Self {
        match e {
            OverrideError::Invalid { field, reason } => WebError::bad(field, reason),
            OverrideError::Forbidden(m) => WebError::Forbidden(m),
            OverrideError::NotFound(_) => WebError::NotFound,
            OverrideError::Store(e) => e.into(),
        }
    }
}

impl From<SelfError> for WebError {
    fn from(e: SelfError) -> Self {
        match e {
            SelfError::Invalid { field, reason } => WebError::Bad { field, reason },
            SelfError::Forbidden(m) => WebError::Forbidden(m),
            SelfError::NotFound(_) => WebError::NotFound,
        }
    }
}

/// One shift of the calendar.
struct ShiftRow {
    person: String,
    name: String,
    from: When,
    to: When,
    /// RFC 3339, for the take/cover forms.
    from_iso: String,
    to_iso: String,
    is_override: bool,
    mine: bool,
}

struct ScheduleView {
    id: String,
    name: String,
    now_name: String,
    until: Option<When>,
    now_override: bool,
    shifts: Vec<ShiftRow>,
    /// Who may cover: (id, name), the viewer left out.
    others: Vec<(String, String)>,
    /// Whether the viewer may be put on call here (take a shift).
    can_take: bool,
}

struct PersonRow {
    id: String,
    name: String,
    /// "online until …", "offline until …", or "" (working hours decide).
    status: String,
    online: bool,
    may_set: bool,
}

#[derive(Template)]
#[template(path = "oncall.html")]
struct OncallPage {
    chrome: Chrome,
    month: bool,
    schedules: Vec<ScheduleView>,
    people: Vec<PersonRow>,
    online_for: [&'static str; 5],
}

#[derive(Debug, Deserialize)]
pub struct ViewQuery {
    view: Option<String>,
}

/// `GET /oncall[?view=month]`.
pub async fn show(
    State(app): State<Shared>,
    viewer: Viewer,
    Query(q): Query<ViewQuery>,
) -> Response {
    let now = app.clock.now();
    let read = app
        .store
        .query(move |r| {
            Ok((
                r.overrides(&OverrideFilter::default())?,
                r.presence_marks(now)?,
            ))
        })
        .await;
    let (stored, marks) = match read {
        Ok(x) => x,
        Err(e) => return WebError::from(e).into_response(),
    };
    let roster = app.roster();
    let month = q.view.as_deref() == Some("month");
    let until = now + Duration::days(if month { 30 } else { 7 });
    let tz = viewer.person.timezone;
    let when = |t: DateTime<Utc>| When::new(t, tz, now);
    let schedules = roster
        .schedules
        .values()
        .map(|s| {
            let rot = crate::escalation::targets::rotation(&roster, s, &stored);
            let current = rot.on_call(now);
            let eligible = overrides::eligible(&roster, s);
            let can_take = eligible.contains(&viewer.person.id.as_str());
            let mut others: Vec<(String, String)> = eligible
                .into_iter()
                .filter(|p| *p != viewer.person.id)
                .map(|p| (p.to_string(), person_name(&roster, p).to_string()))
                .collect();
            others.sort();
            others.dedup();
            ScheduleView {
                id: s.id.clone(),
                name: s.name.clone(),
                now_name: current
                    .as_ref()
                    .map_or("nobody", |c| person_name(&roster, &c.person))
                    .to_string(),
                until: current
                    .as_ref()
                    .filter(|c| c.end != DateTime::<Utc>::MAX_UTC)
                    .map(|c| when(c.end)),
                now_override: current.as_ref().is_some_and(|c| c.is_override),
                shifts: rot
                    .shifts_overlapping(now, until)
                    .into_iter()
                    .map(|x| {
                        // The whole shift, past the view's end; "for ever"
                        // (nobody else in the rotation) up to the view's end.
                        let end = rot
                            .on_call(x.start)
                            .filter(|c| c.person == x.person)
                            .map_or(x.end, |c| c.end);
                        let end = if end == DateTime::<Utc>::MAX_UTC {
                            until
                        } else {
                            end
                        };
                        ShiftRow {
                            name: person_name(&roster, &x.person).to_string(),
                            mine: x.person == viewer.person.id,
                            from: when(x.start),
                            to: when(end),
                            from_iso: iso(x.start.max(now)),
                            to_iso: iso(end),
                            is_override: x.is_override,
                            person: x.person,
                        }
                    })
                    .collect(),
                others,
                can_take,
            }
        })
        .collect();
    let people = roster
        .people
        .values()
        .map(|p| {
            let mark = marks.get(&p.id).filter(|m| m.holds_at(now));
            PersonRow {
                id: p.id.clone(),
                name: p.name.clone(),
                status: mark.map(|m| presence_words(m, &when)).unwrap_or_default(),
                online: mark.is_some_and(|m| m.status == Status::Online),
                may_set: selfservice::may_set(&roster, &viewer.person.id, &p.id),
            }
        })
        .collect();
    render(&OncallPage {
        chrome: Chrome::new("On call", "/oncall", &viewer),
        month,
        schedules,
        people,
        online_for: ONLINE_FOR,
    })
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn presence_words(m: &PresenceMark, when: &impl Fn(DateTime<Utc>) -> When) -> String {
    let state = match m.status {
        Status::Online => "online",
        Status::Offline => "offline",
    };
    if m.is_open_ended() {
        format!("{state} until cleared")
    } else {
        format!("{state} until {}", when(m.until).local)
    }
}

/// A shift to take or hand over.
#[derive(Debug, Deserialize)]
pub struct ShiftForm {
    schedule: String,
    from: String,
    to: String,
    /// Who covers ("cover me"); absent: the viewer takes it.
    person: Option<String>,
    reason: Option<String>,
}

/// `POST /oncall/shift`: "take this shift" (no `person`) or "cover me"
/// (`person` takes the viewer's shift): an override, as the API makes one.
pub async fn shift(State(app): State<Shared>, posted: Posted<ShiftForm>) -> Response {
    let (viewer, f) = (posted.viewer, posted.form);
    let caller = viewer.person.id.clone();
    let req = Request {
        person: f.person.unwrap_or_else(|| caller.clone()),
        from: f.from,
        to: f.to,
        reason: f.reason,
    };
    let schedule = f.schedule;
    let done = app
        .transact_paging(move |repo, ctx| {
            OverrideError::in_job(overrides::create(repo, ctx, &caller, &schedule, &req))
        })
        .await;
    match done {
        Ok(Ok(_)) => Redirect::to("/oncall").into_response(),
        Ok(Err(e)) => WebError::from(e).into_response(),
        Err(e) => WebError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct PresenceForm {
    person: String,
    /// online | offline | clear
    status: String,
    ttl: Option<String>,
}

/// `POST /oncall/presence`: "I'm online for …", offline, or clear the mark.
pub async fn presence(State(app): State<Shared>, posted: Posted<PresenceForm>) -> Response {
    match set_presence(&app, posted.viewer, posted.form).await {
        Ok(()) => Redirect::to("/oncall#presence").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn set_presence(app: &Shared, viewer: Viewer, f: PresenceForm) -> Result<(), WebError> {
    let roster = app.roster();
    let caller = viewer.person.id;
    let what = format!("set the presence of {}", f.person);
    selfservice::target(&roster, &caller, &f.person, &what)?;
    let now = app.clock.now();
    let target = f.person;
    if f.status == "clear" {
        app.store
            .transact(move |repo| repo.clear_presence(&target))
            .await?;
        return Ok(());
    }
    let ttl = f.ttl.as_deref().filter(|t| !t.is_empty());
    let mark = selfservice::mark(&roster, Some(f.status.as_str()), ttl, now)?;
    app.store
        .transact(move |repo| repo.set_presence(&target, &mark, &caller, now))
        .await?;
    Ok(())
}
