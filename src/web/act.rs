//! Every incident action the web UI offers, as one door into the same
//! domain functions the JSON API calls (`paging::act`,
//! `paging::escalate_now`, `assign::assign`, `notes::add`,
//! `diagnosis::diagnose`, `channel::post_update`), each in one transaction.

use serde_json::json;

use super::WebError;
use crate::app::Shared;
use crate::escalation::paging;
use crate::followup::{assign, channel, diagnosis};
use crate::incident::apply::ActError;
use crate::incident::transition::Action;
use crate::incident::{Actor, Diagnosis, Incident};

/// What "via" the timeline records for actions taken on the incident page.
pub const VIA: &str = "web";

/// One action on an incident, its fields already checked.
#[derive(Debug, Clone)]
pub enum Act {
    State {
        action: Action,
        note: Option<String>,
    },
    /// With an optional note for the timeline.
    Escalate(Option<String>),
    Assign(String),
    Note(String),
    Diagnose(Diagnosis),
    Update(String),
}

/// Does `act` on incident `id` as `person` (`via` says where, for the
/// timeline): the incident after it, and whether it changed.
pub async fn run(
    app: &Shared,
    id: i64,
    person: &str,
    act: Act,
    via: &'static str,
) -> Result<(Incident, bool), WebError> {
    let person = person.to_string();
    let now = app.clock.now();
    let result = app
        .transact_paging(move |repo, ctx| {
            let actor = Actor::Person(person.clone());
            ActError::in_job(match act {
                Act::State { action, note } => {
                    paging::act(repo, ctx, id, action, &actor, via, json!({"note": note}))
                }
                Act::Escalate(note) => {
                    paging::escalate_now(repo, ctx, id, &person, via, note.as_deref()).map(changed)
                }
                Act::Assign(to) => assign::assign(repo, ctx, id, &to, &actor),
                Act::Note(text) => {
                    crate::incident::notes::add(repo, id, &actor, &text, now).map(changed)
                }
                Act::Diagnose(d) => diagnosis::diagnose(repo, ctx, id, &d, &actor).map(changed),
                Act::Update(text) => {
                    channel::post_update(repo, ctx, id, &person, &text).map(|(i, _)| changed(i))
                }
            })
        })
        .await?;
    match result {
        Ok((incident, changed)) => {
            if changed {
                app.after_action(id);
            }
            Ok((incident, changed))
        }
        Err(ActError::NotFound) => Err(WebError::NotFound),
        Err(ActError::Illegal(state)) => Err(WebError::Conflict(format!(
            "Incident {id} is {state}: nothing changed."
        ))),
        Err(ActError::NobodyLeft) => Err(WebError::Conflict(ActError::nobody_left(id))),
        Err(ActError::Store(e)) => Err(e.into()),
    }
}

fn changed(i: Incident) -> (Incident, bool) {
    (i, true)
}
