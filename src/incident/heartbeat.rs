//! Heartbeats (dead man's switch): each ping moves a durable deadline; a
//! missed deadline opens an incident, the next ping resolves it.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::apply::{self, Outcome};
use super::maintenance;
use super::model::{Actor, NewIncident, State, own_start};
use super::repo::{Repo, Timer};
use super::transition::Action;
use crate::config::{Heartbeat, Roster};
use crate::ingest::alert::{Severity, Source};
use crate::store::StoreResult;

pub const TIMER: &str = "heartbeat";

fn integration(hb: &Heartbeat) -> String {
    format!("heartbeat:{}", hb.id)
}

fn deadline(hb: &Heartbeat, from: DateTime<Utc>) -> Timer {
    Timer {
        kind: TIMER.into(),
        key: hb.id.clone(),
        due: from + hb.interval.to_chrono() + hb.grace.to_chrono(),
        data: json!({"since": from}),
    }
}

/// A ping: the next deadline moves; an open "missed" incident resolves.
pub fn ping(repo: &mut dyn Repo, hb: &Heartbeat, now: DateTime<Utc>) -> StoreResult<Outcome> {
    let mut out = Outcome::default();
    repo.set_timer(&deadline(hb, now))?;
    if let Some(open) = repo.find_open(&integration(hb), &hb.id)? {
        let actor = Actor::Heartbeat(hb.id.clone());
        if apply::act(
            repo,
            open.id,
            Action::Resolve,
            &actor,
            "heartbeat ping",
            now,
            json!({}),
        )
        .is_ok()
        {
            out.resolved.push(open.id);
        }
    }
    Ok(out)
}

/// Every configured heartbeat gets a deadline, counted from start-up when
/// it has never pinged, so a monitor that never comes up is noticed.
pub fn ensure_deadlines(
    repo: &mut dyn Repo,
    roster: &Roster,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for hb in roster.heartbeats.values() {
        // A deadline armed under other settings (a reload changed the
        // interval or grace) is counted again from the same last ping; one
        // already due is left to fire.
        let since = match repo.timer(TIMER, &hb.id)? {
            // Due, or held to a maintenance window's end: left as it is.
            Some(t) if t.due <= now || t.data["held"] == true => continue,
            Some(t) => t.data["since"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map_or(now, |s| s.with_timezone(&Utc)),
            None => now,
        };
        repo.set_timer(&deadline(hb, since))?;
    }
    Ok(())
}

/// The deadline passed without a ping. Inside a maintenance window of its
/// project nothing opens: the deadline moves to the window's end, so a
/// heartbeat still silent then opens its incident.
pub fn missed(
    repo: &mut dyn Repo,
    roster: &Roster,
    id: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Outcome> {
    let mut out = Outcome::default();
    // Removed from the configuration since: nothing to watch.
    let Some(hb) = roster.heartbeats.get(id) else {
        return Ok(out);
    };
    if repo.find_open(&integration(hb), &hb.id)?.is_some() {
        return Ok(out);
    }
    let client = roster
        .projects
        .get(&hb.project)
        .map(|p| p.client.clone())
        .unwrap_or_default();
    let integration_id = integration(hb);
    let subject = maintenance::Subject {
        project: &hb.project,
        client: &client,
        integration: Some(&integration_id),
        labels: &Default::default(),
        client_report: false,
    };
    if let Some(w) = maintenance::covering(repo, roster, &subject, now)? {
        repo.set_timer(&Timer {
            due: w.to,
            data: json!({"since": due, "held": true}),
            ..deadline(hb, due)
        })?;
        return Ok(out);
    }
    // The problem started when the deadline passed (earlier than now when
    // the daemon was down at that time).
    let started_at = own_start(Some(due), now);
    let new = NewIncident {
        project: hb.project.clone(),
        client,
        title: hb.summary.clone(),
        severity: Severity::Critical,
        critical: true,
        source: Source::Heartbeat,
        integration: Some(integration(hb)),
        dedup_key: Some(hb.id.clone()),
        client_reported: false,
        labels: Default::default(),
        annotations: Default::default(),
        links: Vec::new(),
        details: json!({"interval": hb.interval.to_string(), "grace": hb.grace.to_string()}),
        started_at,
    };
    let id = repo.insert(&new, State::Triggered, now)?;
    repo.append(id, now, &Actor::Heartbeat(hb.id.clone()), "opened", json!({
        "state": State::Triggered,
        "reason": format!("no ping from heartbeat {} since its deadline {}", hb.id, due.to_rfc3339()),
        "project": hb.project,
        "title": hb.summary,
        "started_at": started_at,
    }))?;
    out.opened.push(id);
    Ok(out)
}
