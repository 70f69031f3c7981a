//! One incident: what fired (alerts, labels, runbook and source links, the
//! alert's own start), the timeline in sentences, and every action as a
//! plain form (POST, then a redirect back here).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::act::{self, Act};
use super::{Chrome, Posted, Viewer, WebError, When, render, timeline};
use crate::app::Shared;
use crate::config::Roster;
use crate::followup::{channel, diagnosis};
use crate::incident::transition::Action;
use crate::incident::{AttachedAlert, Event, Incident, State as IncidentState};
use crate::limits;
use crate::notify::Action as NotifyAction;
use crate::notify::interactive::offers;

/// A link an alert sent; only http(s) ones become links.
pub struct LinkView {
    pub href: String,
    pub text: String,
    pub clickable: bool,
}

/// What every view of an incident shows (this page, the acknowledge link).
pub struct IncidentView {
    pub id: i64,
    pub state: String,
    pub severity: String,
    pub project: String,
    pub client: String,
    pub assignee: String,
    pub started: When,
    pub opened: When,
    pub acknowledged: Option<When>,
    pub resolved: Option<When>,
    pub runbook: Option<LinkView>,
    pub links: Vec<LinkView>,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub can_acknowledge: bool,
    pub can_resolve: bool,
    pub can_escalate: bool,
}

impl IncidentView {
    pub fn new(i: &Incident, roster: &Roster, tz: Tz, now: DateTime<Utc>) -> Self {
        let when = |t: DateTime<Utc>| When::new(t, tz, now);
        let links: Vec<LinkView> = i
            .links
            .iter()
            .map(|l| link(&l.href, &l.text))
            .chain(
                i.annotations
                    .get("runbook_url")
                    .filter(|u| !i.links.iter().any(|l| &l.href == *u))
                    .map(|u| link(u, "Runbook")),
            )
            .collect();
        let runbook = links
            .iter()
            .find(|l| l.text.eq_ignore_ascii_case("runbook"))
            .map(|l| link(&l.href, &l.text));
        IncidentView {
            id: i.id,
            state: i.state.to_string(),
            severity: i.severity.to_string(),
            project: i.project.clone(),
            client: i.client.clone(),
            assignee: i
                .assignee
                .as_deref()
                .map(|a| channel::person_name(roster, a).to_string())
                .unwrap_or_default(),
            started: when(i.started_at),
            opened: when(i.created_at),
            acknowledged: i.acknowledged_at.map(when),
            resolved: i.resolved_at.map(when),
            runbook,
            links,
            labels: i
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            annotations: i
                .annotations
                .iter()
                .filter(|(k, _)| k.as_str() != "runbook_url")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            // The one rule every door's buttons follow (chat buttons too):
            // a button only where it acts.
            can_acknowledge: offers(NotifyAction::Ack, i.state),
            can_resolve: offers(NotifyAction::Resolve, i.state),
            can_escalate: offers(NotifyAction::Escalate, i.state),
        }
    }
}

fn link(href: &str, text: &str) -> LinkView {
    let clickable = url::Url::parse(href).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    LinkView {
        href: href.to_string(),
        text: text.to_string(),
        clickable,
    }
}

struct AlertView {
    fingerprint: String,
    status: String,
    summary: String,
    first_seen: When,
    last_seen: When,
}

/// What the client would read for a status update, before it is sent.
struct Preview {
    title: String,
    body: String,
    /// Why the client would not get it at all.
    withheld: Option<String>,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    chrome: Chrome,
    inc: IncidentView,
    alerts: Vec<AlertView>,
    timeline: Vec<(When, String)>,
    people: Vec<(String, String)>,
    layers: [&'static str; 5],
    can_downgrade: bool,
    diagnosis: Vec<(&'static str, String)>,
    preview: Option<Preview>,
    draft: String,
}

/// `GET /incidents/{id}`.
pub async fn show(State(app): State<Shared>, viewer: Viewer, Path(id): Path<String>) -> Response {
    page(&app, &viewer, &id, None).await
}

async fn page(app: &Shared, viewer: &Viewer, id: &str, draft: Option<String>) -> Response {
    let Ok(id) = id.trim_start_matches('#').parse::<i64>() else {
        return WebError::NotFound.into_response();
    };
    let fetched = app
        .store
        .query(move |r| Ok((r.get(id)?, r.alerts(id)?, r.timeline(id)?)))
        .await;
    match fetched {
        Ok((i, alerts, events)) => render(&build(app, viewer, &i, &alerts, &events, draft)),
        Err(e) => WebError::from(e).into_response(),
    }
}

fn build(
    app: &Shared,
    viewer: &Viewer,
    i: &Incident,
    alerts: &[AttachedAlert],
    events: &[Event],
    draft: Option<String>,
) -> IncidentPage {
    let (roster, now, tz) = (app.roster(), app.clock.now(), viewer.person.timezone);
    let when = |t| When::new(t, tz, now);
    let preview = draft.as_ref().map(|text| {
        let (title, body) = channel::update_post(&roster, i, &viewer.person.id, text);
        let withheld = channel::update_withheld(&roster, i);
        Preview {
            title,
            body,
            withheld,
        }
    });
    let diagnosis = [
        ("Layer", i.layer.map(|l| l.as_str().to_string())),
        (
            "Reproducible",
            i.reproducible
                .map(|r| if r { "yes" } else { "no" }.to_string()),
        ),
        (
            "Serious",
            i.serious
                .then(|| i.serious_reason.clone().unwrap_or_else(|| "yes".into())),
        ),
        ("Provider ticket", i.provider_ticket.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    IncidentPage {
        chrome: Chrome::new(format!("{} {}", i.reference, i.title), "/", viewer),
        inc: IncidentView::new(i, &roster, tz, now),
        alerts: alerts
            .iter()
            .map(|a| AlertView {
                fingerprint: a.fingerprint.clone(),
                status: a.status.clone(),
                summary: a.summary.clone(),
                first_seen: when(a.first_seen),
                last_seen: when(a.last_seen),
            })
            .collect(),
        timeline: events
            .iter()
            .rev()
            .map(|e| (when(e.at), timeline::sentence(&roster, e)))
            .collect(),
        people: roster
            .people
            .values()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect(),
        layers: [
            "application",
            "infrastructure",
            "third_party",
            "content",
            "unknown",
        ],
        can_downgrade: matches!(
            i.state,
            IncidentState::Triggered | IncidentState::Acknowledged
        ),
        diagnosis,
        preview,
        draft: draft.unwrap_or_default(),
    }
}

/// Every field any action's form may send; each action reads its own.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    action: String,
    note: Option<String>,
    text: Option<String>,
    person: Option<String>,
    layer: Option<String>,
    reproducible: Option<String>,
    serious: Option<String>,
    serious_reason: Option<String>,
    severity: Option<String>,
    provider_ticket: Option<String>,
}

/// `POST /incidents/{id}`: the action its button names, then back here.
pub async fn post(
    State(app): State<Shared>,
    Path(id): Path<String>,
    posted: Posted<ActionForm>,
) -> Response {
    let Posted { viewer, form } = posted;
    if form.action == "preview" {
        return match limits::NOTE.required(form.text.as_deref().unwrap_or_default()) {
            Ok(text) => page(&app, &viewer, &id, Some(text)).await,
            Err(reason) => WebError::bad("text", reason).into_response(),
        };
    }
    let Ok(number) = id.parse::<i64>() else {
        return WebError::NotFound.into_response();
    };
    let act = match parse(&app.roster(), form) {
        Ok(act) => act,
        Err(e) => return e.into_response(),
    };
    let state_action = match &act {
        Act::State { action, .. } => Some(*action),
        _ => None,
    };
    match act::run(&app, number, &viewer.person.id, act, act::VIA).await {
        // Someone else did it first (a page loaded before): said, not a
        // silent return to the page.
        Ok((incident, false)) if let Some(action) = state_action => {
            let words = crate::notify::message::outcome_words(
                &app.roster(),
                number,
                action,
                Ok((incident, false)),
            )
            .unwrap_or_default();
            WebError::Conflict(format!("{words} Nothing changed.")).into_response()
        }
        Ok(_) => Redirect::to(&format!("/incidents/{number}")).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Blank form fields are absent ones.
fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The action a form asks for, its fields checked.
pub fn parse(roster: &Roster, f: ActionForm) -> Result<Act, WebError> {
    let note = || -> Result<Option<String>, WebError> {
        given(f.note.clone())
            .map(|n| {
                limits::NOTE
                    .required(&n)
                    .map_err(|r| WebError::bad("note", r))
            })
            .transpose()
    };
    let text = || {
        limits::NOTE
            .required(f.text.as_deref().unwrap_or_default())
            .map_err(|r| WebError::bad("text", r))
    };
    let state = |action| -> Result<Act, WebError> {
        Ok(Act::State {
            action,
            note: note()?,
        })
    };
    match f.action.as_str() {
        "acknowledge" => state(Action::Acknowledge),
        "resolve" => state(Action::Resolve),
        "downgrade" => state(Action::Downgrade),
        "escalate" => Ok(Act::Escalate(note()?)),
        "note" => Ok(Act::Note(text()?)),
        "update" => Ok(Act::Update(text()?)),
        "assign" => match given(f.person.clone()) {
            Some(p) if roster.people.contains_key(&p) => Ok(Act::Assign(p)),
            _ => Err(WebError::bad("person", "pick someone on the roster")),
        },
        "diagnose" => {
            let reproducible = match given(f.reproducible.clone()).as_deref() {
                None => None,
                Some("yes") => Some(true),
                Some("no") => Some(false),
                Some(_) => return Err(WebError::bad("reproducible", "yes or no")),
            };
            diagnosis::check(diagnosis::Sent {
                layer: given(f.layer.clone()),
                reproducible,
                serious: given(f.serious.clone()).map(|_| true),
                serious_reason: given(f.serious_reason.clone()),
                severity: given(f.severity.clone()),
                provider_ticket: given(f.provider_ticket.clone()),
            })
            .map(Act::Diagnose)
            .map_err(|e| WebError::bad(e.field, e.reason))
        }
        _ => Err(WebError::bad("action", "unknown action")),
    }
}
