//! The postmortems pages: the list with due dates; one postmortem's editor
//! (the four questions and the client summary, a Markdown preview), its
//! review steps (submit; the lead's approve, reopen and publish, publish
//! showing the exact client text first) and its action items. Every change
//! goes through `followup::lifecycle`, as `/api/v1/postmortems` does.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::markdown::to_html;
use super::{Chrome, Posted, Viewer, WebError, When, render};
use crate::app::Shared;
use crate::escalation::paging::Ctx;
use crate::followup::actions::{ActionItem, Status};
use crate::followup::channel::person_name;
use crate::followup::lifecycle::{self, ActionRequest, Edit, FlowError};
use crate::followup::postmortem::{self, CLIENT_SUMMARY, Postmortem, QUESTIONS, Sections, Verb};
use crate::incident::Repo;

impl From<FlowError> for WebError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::NotFound(_) => WebError::NotFound,
            FlowError::Forbidden(m) => WebError::Forbidden(m),
            FlowError::Conflict(m) => WebError::Conflict(m),
            FlowError::Invalid { field, reason } => WebError::bad(field, reason),
            FlowError::Store(s) => s.into(),
        }
    }
}

/// Runs followup logic in one transaction with the paging context.
async fn transact<R, F>(app: &Shared, f: F) -> Result<R, WebError>
where
    R: Send + 'static,
    F: FnOnce(&mut dyn Repo, &Ctx<'_>) -> Result<R, FlowError> + Send + 'static,
{
    Ok(app
        .transact_paging(move |repo, ctx| FlowError::in_job(f(repo, ctx)))
        .await??)
}

struct ListRow {
    id: i64,
    title: String,
    state: String,
    author: String,
    due: When,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "postmortems.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<ListRow>,
}

/// `GET /postmortems`.
pub async fn list(State(app): State<Shared>, viewer: Viewer) -> Response {
    let fetched = app
        .store
        .query(|r| r.postmortems(None, crate::limits::PAGE_MAX))
        .await;
    let pms = match fetched {
        Ok(p) => p,
        Err(e) => return WebError::from(e).into_response(),
    };
    let (roster, now) = (app.roster(), app.clock.now());
    let rows = pms
        .iter()
        .map(|p| ListRow {
            id: p.id,
            title: p.title.clone(),
            state: p.state.to_string(),
            author: person_name(&roster, &p.author).to_string(),
            due: When::new(p.due_at, viewer.person.timezone, now),
            overdue: !p.state.is_final() && p.due_at <= now,
        })
        .collect();
    render(&ListPage {
        chrome: Chrome::new("Postmortems", "/postmortems", &viewer),
        rows,
    })
}

/// One section of the editor.
struct Section {
    key: &'static str,
    question: &'static str,
    text: String,
    /// The text as Markdown, rendered safe.
    preview: String,
    public: bool,
}

struct ActionRow {
    id: i64,
    title: String,
    owner: String,
    deadline: When,
    state: &'static str,
    priority: &'static str,
    done: bool,
}

#[derive(Template)]
#[template(path = "postmortem.html")]
struct EditPage {
    chrome: Chrome,
    id: i64,
    incident: i64,
    title: String,
    state: String,
    author: String,
    approver: String,
    due: When,
    editable: bool,
    no_measures_needed: bool,
    sections: Vec<Section>,
    /// Whether the sections show unsaved text (a preview).
    previewing: bool,
    /// Exactly what the client reads on publish.
    client_text: String,
    is_lead: bool,
    /// Which review buttons to offer: (verb, label).
    steps: Vec<(&'static str, &'static str)>,
    /// What approval still needs.
    missing: Vec<String>,
    actions: Vec<ActionRow>,
    /// Who may own an action item: (id, name).
    people: Vec<(String, String)>,
}

fn sections(s: &Sections) -> Vec<Section> {
    let texts = [
        &s.what_happened,
        &s.how_fixed,
        &s.cause,
        &s.measures,
        &s.client_summary,
    ];
    QUESTIONS
        .iter()
        .chain([&CLIENT_SUMMARY])
        .zip(texts)
        .map(|(&(key, question), text)| Section {
            key,
            question,
            text: text.clone(),
            preview: to_html(text),
            public: key == CLIENT_SUMMARY.0,
        })
        .collect()
}

fn page(
    app: &Shared,
    viewer: &Viewer,
    pm: &Postmortem,
    actions: &[ActionItem],
    previewing: bool,
) -> EditPage {
    let (roster, now) = (app.roster(), app.clock.now());
    let tz = viewer.person.timezone;
    let lead = roster.teams.get(&pm.team).map(|t| t.lead.as_str());
    let is_lead = lead == Some(viewer.person.id.as_str());
    let steps = [
        (Verb::Submit, "submit", "Submit for review"),
        (Verb::Approve, "approve", "Approve"),
        (Verb::Reopen, "reopen", "Reopen for a correction"),
    ]
    .into_iter()
    .filter(|(verb, _, _)| {
        // Offer what would change something for this viewer.
        matches!(
            postmortem::transition(
                pm,
                *verb,
                &viewer.person.id,
                lead.unwrap_or(""),
                actions.len()
            ),
            Ok(Some(_))
        ) || (*verb == Verb::Approve && is_lead && pm.state == postmortem::PmState::Submitted)
    })
    .map(|(_, v, label)| (v, label))
    .collect();
    let mut people: Vec<(String, String)> = roster
        .people
        .values()
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect();
    people.sort_by(|a, b| a.1.cmp(&b.1));
    EditPage {
        chrome: Chrome::new(format!("Postmortem #{}", pm.id), "/postmortems", viewer),
        id: pm.id,
        incident: pm.incident,
        title: pm.title.clone(),
        state: pm.state.to_string(),
        author: person_name(&roster, &pm.author).to_string(),
        approver: person_name(&roster, &pm.approver).to_string(),
        due: When::new(pm.due_at, tz, now),
        editable: postmortem::check_editable(pm).is_ok(),
        no_measures_needed: pm.no_measures_needed,
        sections: sections(&pm.sections),
        previewing,
        client_text: postmortem::publication(pm),
        is_lead,
        steps,
        missing: postmortem::missing_for_approval(pm, actions.len()),
        actions: actions
            .iter()
            .map(|a| ActionRow {
                id: a.id,
                title: a.title.clone(),
                owner: person_name(&roster, &a.assignee).to_string(),
                deadline: When::new(a.deadline, tz, now),
                state: match a.status(now) {
                    Status::Open => "open",
                    Status::Overdue => "overdue",
                    Status::Done => "done",
                },
                priority: a.priority.as_str(),
                done: a.done_at.is_some(),
            })
            .collect(),
        people,
    }
}

async fn load(app: &Shared, id: i64) -> Result<(Postmortem, Vec<ActionItem>), WebError> {
    Ok(app
        .store
        .query(move |r| Ok((r.postmortem(id)?, r.actions_of(id)?)))
        .await?)
}

/// `GET /postmortems/{id}`.
pub async fn show(State(app): State<Shared>, viewer: Viewer, Path(id): Path<i64>) -> Response {
    match load(&app, id).await {
        Ok((pm, actions)) => render(&page(&app, &viewer, &pm, &actions, false)),
        Err(e) => e.into_response(),
    }
}

/// The editor's form.
#[derive(Debug, Deserialize)]
pub struct EditForm {
    /// `save` or `preview`.
    action: String,
    title: Option<String>,
    what_happened: Option<String>,
    how_fixed: Option<String>,
    cause: Option<String>,
    measures: Option<String>,
    client_summary: Option<String>,
    no_measures_needed: Option<String>,
}

/// `POST /postmortems/{id}`: `action=preview` shows the typed text
/// rendered, storing nothing; `action=save` stores it.
pub async fn edit(
    State(app): State<Shared>,
    Path(id): Path<i64>,
    posted: Posted<EditForm>,
) -> Response {
    let (viewer, f) = (posted.viewer, posted.form);
    let edit = Edit {
        title: f.title,
        author: None,
        what_happened: f.what_happened,
        how_fixed: f.how_fixed,
        cause: f.cause,
        measures: f.measures,
        client_summary: f.client_summary,
        no_measures_needed: Some(f.no_measures_needed.is_some()),
    };
    if f.action == "preview" {
        return match load(&app, id).await {
            Ok((mut pm, actions)) => {
                preview_onto(&mut pm, &edit);
                render(&page(&app, &viewer, &pm, &actions, true))
            }
            Err(e) => e.into_response(),
        };
    }
    let by = viewer.person.id.clone();
    match transact(&app, move |repo, ctx| {
        lifecycle::edit(repo, ctx, id, &edit, &by)
    })
    .await
    {
        Ok(_) => Redirect::to(&format!("/postmortems/{id}")).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The typed text over the stored one, for a preview only.
fn preview_onto(pm: &mut Postmortem, e: &Edit) {
    let s = &mut pm.sections;
    for (field, new) in [
        (&mut pm.title, &e.title),
        (&mut s.what_happened, &e.what_happened),
        (&mut s.how_fixed, &e.how_fixed),
        (&mut s.cause, &e.cause),
        (&mut s.measures, &e.measures),
        (&mut s.client_summary, &e.client_summary),
    ] {
        if let Some(text) = new {
            field.clone_from(text);
        }
    }
    pm.no_measures_needed = e.no_measures_needed.unwrap_or(pm.no_measures_needed);
}

#[derive(Debug, Deserialize)]
pub struct StepForm {
    /// submit | approve | publish | reopen
    verb: String,
}

/// `POST /postmortems/{id}/step`: a review step.
pub async fn step(
    State(app): State<Shared>,
    Path(id): Path<i64>,
    posted: Posted<StepForm>,
) -> Response {
    let Ok(verb) = posted.form.verb.parse::<Verb>() else {
        return WebError::bad("verb", "submit, approve, publish or reopen").into_response();
    };
    let by = posted.viewer.person.id;
    match transact(&app, move |repo, ctx| {
        lifecycle::step(repo, ctx, id, verb, &by)
    })
    .await
    {
        Ok(_) => Redirect::to(&format!("/postmortems/{id}")).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    title: String,
    assignee: String,
    deadline: String,
    priority: Option<String>,
}

/// `POST /postmortems/{id}/actions`: a new action item.
pub async fn add_action(
    State(app): State<Shared>,
    Path(id): Path<i64>,
    posted: Posted<ActionForm>,
) -> Response {
    let f = posted.form;
    let req = ActionRequest {
        title: f.title,
        assignee: f.assignee,
        deadline: f.deadline,
        priority: f.priority.filter(|p| !p.is_empty()),
    };
    let by = posted.viewer.person.id;
    match transact(&app, move |repo, ctx| {
        lifecycle::add_action(repo, ctx, id, &req, &by)
    })
    .await
    {
        Ok(_) => Redirect::to(&format!("/postmortems/{id}#actions")).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct DoneForm {}

/// `POST /actions/{id}/done`: an action item is done.
pub async fn action_done(
    State(app): State<Shared>,
    Path(id): Path<i64>,
    posted: Posted<DoneForm>,
) -> Response {
    let by = posted.viewer.person.id;
    match transact(&app, move |repo, ctx| lifecycle::done(repo, ctx, id, &by)).await {
        Ok((item, _)) => {
            Redirect::to(&format!("/postmortems/{}#actions", item.postmortem)).into_response()
        }
        Err(e) => e.into_response(),
    }
}
