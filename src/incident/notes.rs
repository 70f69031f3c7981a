//! Notes on an incident: how it was found, what was tried, how it was
//! fixed. Each is a `note` event on the append-only timeline; the
//! postmortem's "How was the problem fixed?" starts from them and from the
//! notes given with acknowledge, resolve and downgrade.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::apply::ActError;
use super::model::{Actor, Event, Incident};
use super::repo::Repo;
use crate::store::StoreError;

/// Appends `text` as a note by `by`; any state, a resolved incident too.
pub fn add(
    repo: &mut dyn Repo,
    id: i64,
    by: &Actor,
    text: &str,
    now: DateTime<Utc>,
) -> Result<Incident, ActError> {
    match repo.get(id) {
        Err(StoreError::NotFound) => return Err(ActError::NotFound),
        Err(e) => return Err(ActError::Store(e)),
        Ok(_) => {}
    }
    repo.append(id, now, by, "note", json!({"text": text}))?;
    Ok(repo.get(id)?)
}

/// Every note of a timeline in order, with the event it came with: `note`
/// events' text, and the `note` given with an action (the resolution note
/// is how the fix is remembered).
pub fn of(events: &[Event]) -> Vec<(&Event, &str)> {
    events
        .iter()
        .filter_map(|e| {
            let text = if e.kind == "note" {
                e.detail["text"].as_str()
            } else {
                e.detail["note"].as_str()
            };
            text.filter(|t| !t.trim().is_empty()).map(|t| (e, t))
        })
        .collect()
}
