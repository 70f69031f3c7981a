//! The incidents page: open incidents first, newest first.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{Chrome, Viewer, WebError, When, render};
use crate::app::Shared;
use crate::incident::{Incident, StateFilter};

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
    fn new(i: &Incident, viewer: &Viewer, now: chrono::DateTime<chrono::Utc>) -> Self {
        Row {
            id: i.id,
            reference: i.reference.clone(),
            project: i.project.clone(),
            client: i.client.clone(),
            title: i.title.clone(),
            severity: i.severity.to_string(),
            state: i.state.to_string(),
            assignee: i.assignee.clone().unwrap_or_default(),
            opened: When::new(i.created_at, viewer.person.timezone, now),
        }
    }
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

/// `GET /`: the open incidents.
pub async fn list(State(app): State<Shared>, viewer: Viewer) -> Response {
    let fetched = app
        .store
        .query(move |r| r.list(StateFilter::Open, None, crate::limits::PAGE_MAX))
        .await;
    let incidents = match fetched {
        Ok(list) => list,
        Err(e) => return WebError::from(e).into_response(),
    };
    let now = app.clock.now();
    render(&IncidentsPage {
        rows: incidents
            .iter()
            .map(|i| Row::new(i, &viewer, now))
            .collect(),
        chrome: Chrome::new("Incidents", "/", &viewer),
    })
}
