//! The incidents page: open incidents first (newest first), filters by
//! state, project, client and "mine" (a plain GET form), and live updates
//! through Server-Sent Events (`/events`) where JavaScript runs.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;

use super::{Chrome, Viewer, WebError, When, render};
use crate::app::Shared;
use crate::incident::{Incident, StateFilter};

/// How often a live page's stream looks for changes.
const POLL: Duration = Duration::from_secs(1);

/// One row of the list, ready to show.
struct Row {
    id: i64,
    reference: String,
    project: String,
    client: String,
    title: String,
    severity: String,
    state: String,
    assignee: String,
    opened: When,
}

impl Row {
    fn new(
        i: &Incident,
        app: &Shared,
        viewer: &Viewer,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let roster = app.roster();
        Row {
            id: i.id,
            reference: i.reference.clone(),
            project: i.project.clone(),
            client: i.client.clone(),
            title: i.title.clone(),
            severity: i.severity.to_string(),
            state: i.state.to_string(),
            assignee: i
                .assignee
                .as_deref()
                .map(|a| crate::followup::channel::person_name(&roster, a).to_string())
                .unwrap_or_default(),
            opened: When::new(i.created_at, viewer.person.timezone, now),
        }
    }
}

/// The list's filters, as the GET form sends them (blank: any).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    state: String,
    #[serde(default)]
    project: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    mine: String,
}

impl Filters {
    fn keeps(&self, i: &Incident, me: &str) -> bool {
        (self.project.is_empty() || i.project == self.project)
            && (self.client.is_empty() || i.client == self.client)
            && (self.mine.is_empty() || i.assignee.as_deref() == Some(me))
    }
}

/// `open` (the default), `all`, or one state.
fn state_filter(s: &str) -> Result<StateFilter, WebError> {
    match s {
        "" | "open" => Ok(StateFilter::Open),
        "all" => Ok(StateFilter::All),
        other => other
            .parse()
            .map(StateFilter::Only)
            .map_err(|_| WebError::bad("state", "pick a state from the list")),
    }
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    f: Filters,
    states: [&'static str; 7],
    projects: Vec<String>,
    clients: Vec<String>,
}

/// `GET /`: the incidents, open ones unless the filters say otherwise.
pub async fn list(State(app): State<Shared>, viewer: Viewer, Query(f): Query<Filters>) -> Response {
    let filter = match state_filter(&f.state) {
        Ok(filter) => filter,
        Err(e) => return e.into_response(),
    };
    let fetched = app
        .store
        .query(move |r| r.list(filter, None, crate::limits::PAGE_MAX))
        .await;
    let incidents = match fetched {
        Ok(list) => list,
        Err(e) => return WebError::from(e).into_response(),
    };
    let (now, roster) = (app.clock.now(), app.roster());
    let rows = incidents
        .iter()
        .filter(|i| f.keeps(i, &viewer.person.id))
        .map(|i| Row::new(i, &app, &viewer, now))
        .collect();
    render(&IncidentsPage {
        rows,
        states: [
            "open",
            "all",
            "triggered",
            "acknowledged",
            "resolved",
            "downgraded",
            "suppressed",
        ],
        projects: roster.projects.keys().cloned().collect(),
        clients: roster.clients.keys().cloned().collect(),
        f,
        chrome: Chrome::new("Incidents", "/", &viewer),
    })
}

/// `GET /events`: one `changed` event whenever any incident changes (a new
/// one, a new state, a note); live pages reload their list on it.
pub async fn events(
    State(app): State<Shared>,
    _viewer: Viewer,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let start = app.store.change_mark().await.unwrap_or(0);
    let stream = futures_util::stream::unfold((app, start), |(app, seen)| async move {
        let (mut seen, mut stopping) = (seen, app.stopping.clone());
        loop {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                // The daemon stops: end the stream (the browser reconnects).
                _ = stopping.wait_for(|s| *s) => return None,
            }
            // A read that fails is tried again at the next tick.
            if let Ok(mark) = app.store.change_mark().await
                && mark != seen
            {
                seen = mark;
                let event = Event::default().event("message").data("changed");
                return Some((Ok(event), (app, seen)));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
