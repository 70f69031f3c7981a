//! Alerts and actions applied to incidents: deduplication, flapping,
//! auto-resolve and the state machine, each change with its timeline event.
//! Runs inside one store transaction through [`Repo`]; pure otherwise.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::maintenance::{self, Subject};
use super::model::{Actor, Incident, NewIncident, State, own_start};
use super::repo::{Diagnosis, Repo};
use super::transition::{self, Action, Transition};
use crate::config::{Integration, Roster};
use crate::ingest::alert::{Alert, AlertStatus, Severity, Source};
use crate::ingest::alertmanager::Webhook;
use crate::ingest::events_v2;
use crate::ingest::matcher::Matcher;
use crate::store::{StoreError, StoreResult};

/// What an ingest call did; the escalation layer starts paging for `opened`
/// and `reopened` incidents that are triggered.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Outcome {
    pub duplicate: bool,
    pub opened: Vec<i64>,
    pub reopened: Vec<i64>,
    pub attached: Vec<i64>,
    pub acknowledged: Vec<i64>,
    pub resolved: Vec<i64>,
    pub downgraded: Vec<i64>,
    /// Opened inside a maintenance window: paging waits for its end.
    pub suppressed: Vec<i64>,
}

impl Outcome {
    pub fn incidents(&self) -> Vec<i64> {
        let mut all: Vec<i64> = [
            &self.opened,
            &self.reopened,
            &self.attached,
            &self.acknowledged,
            &self.resolved,
            &self.suppressed,
        ]
        .into_iter()
        .flatten()
        .copied()
        .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// An HA peer's copy of a snapshot arrives within this of the original
/// (Alertmanager peers wait `position × peer_timeout`, 15 s each).
pub const HA_COPY_WINDOW: chrono::Duration = chrono::Duration::seconds(60);

/// Where an alert goes: the integration's first matching route.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub project: String,
    pub severity: Severity,
    pub critical: bool,
}

pub fn route(integration: &Integration, alert: &Alert) -> Routed {
    let hit = integration.routes.iter().find(|r| {
        r.matchers
            .iter()
            .all(|m: &Matcher| m.matches(&alert.labels))
    });
    let severity = hit
        .and_then(|r| r.severity)
        .or(alert.severity)
        .or_else(|| {
            alert
                .labels
                .get("severity")
                .and_then(|s| Severity::from_label(s))
        })
        // An unlabelled alert pages: a missed page is worse than a noisy one.
        .unwrap_or(Severity::Critical);
    Routed {
        project: hit
            .and_then(|r| r.project.clone())
            .unwrap_or_else(|| integration.project.clone()),
        severity,
        critical: hit.is_none_or(|r| r.critical),
    }
}

fn new_incident(
    roster: &Roster,
    integration: &Integration,
    alert: &Alert,
    routed: &Routed,
    key: &str,
    title: String,
    started_at: DateTime<Utc>,
) -> NewIncident {
    let client = roster
        .projects
        .get(&routed.project)
        .map(|p| p.client.clone())
        .unwrap_or_default();
    NewIncident {
        project: routed.project.clone(),
        client,
        title,
        severity: routed.severity,
        critical: routed.critical,
        source: alert.source,
        integration: Some(integration.id.clone()),
        dedup_key: Some(key.to_string()),
        client_reported: false,
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        links: alert.links.clone(),
        details: alert.details.clone(),
        started_at,
    }
}

/// Triggered, downgraded (`critical: false`), or suppressed by the
/// maintenance window the alert falls in (recorded on the timeline by
/// [`file`]).
fn initial_state(
    repo: &mut dyn Repo,
    roster: &Roster,
    integration: &Integration,
    alert: &Alert,
    routed: &Routed,
    now: DateTime<Utc>,
) -> StoreResult<(State, Option<maintenance::Window>)> {
    let client = roster
        .projects
        .get(&routed.project)
        .map_or("", |p| p.client.as_str());
    let subject = Subject {
        project: &routed.project,
        client,
        integration: Some(&integration.id),
        labels: &alert.labels,
        client_report: false,
    };
    maintenance::opening_state(repo, roster, &subject, routed.critical, now)
}

/// Files an incident that just opened (or reopened): paging, or held by
/// a maintenance window.
fn file(
    repo: &mut dyn Repo,
    out: &mut Outcome,
    id: i64,
    reopened: bool,
    window: Option<&maintenance::Window>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    match window {
        Some(w) => {
            maintenance::record(repo, id, w, actor, now)?;
            out.suppressed.push(id);
        }
        None if reopened => out.reopened.push(id),
        None => out.opened.push(id),
    }
    Ok(())
}

/// Finds the open incident for `key`, reopens a flapping one (when
/// `reopen_flaps`), or opens a new one.
#[allow(clippy::too_many_arguments)]
fn open_or_attach(
    repo: &mut dyn Repo,
    roster: &Roster,
    integration: &Integration,
    key: &str,
    first: &Alert,
    title: String,
    now: DateTime<Utc>,
    out: &mut Outcome,
    reopen_flaps: bool,
) -> StoreResult<Incident> {
    if let Some(open) = repo.find_open(&integration.id, key)? {
        out.attached.push(open.id);
        return Ok(open);
    }
    open_or_reopen(
        repo,
        roster,
        integration,
        key,
        first,
        first.starts_at,
        title,
        now,
        out,
        reopen_flaps,
    )
}

/// No incident of `key` is open: reopens one resolved within the flap
/// window, or opens a new one that started at `started` (the alerts' own
/// start, if they said).
#[allow(clippy::too_many_arguments)]
fn open_or_reopen(
    repo: &mut dyn Repo,
    roster: &Roster,
    integration: &Integration,
    key: &str,
    first: &Alert,
    started: Option<DateTime<Utc>>,
    title: String,
    now: DateTime<Utc>,
    out: &mut Outcome,
    reopen_flaps: bool,
) -> StoreResult<Incident> {
    let actor = Actor::Integration(integration.id.clone());
    let since = now - roster.limits.flap_window.to_chrono();
    let flapped = if reopen_flaps {
        repo.find_resolved_since(&integration.id, key, since)?
    } else {
        None
    };
    // A flap is the alerts resolving and firing again; an incident a person
    // ended stays ended, and what fires now is a new incident.
    let flapped = match flapped {
        Some(prev) if resolved_by_hand(repo, prev.id)? => None,
        other => other,
    };
    if let Some(prev) = flapped {
        let routed = route(integration, first);
        let (state, window) = initial_state(repo, roster, integration, first, &routed, now)?;
        // A record that fires again with an alert that pages now pages.
        if routed.critical && !prev.critical {
            repo.raise(prev.id, routed.severity)?;
        }
        repo.set_state(prev.id, state, now, None)?;
        repo.append(
            prev.id,
            now,
            &actor,
            "reopened",
            json!({
                "reason": "flap",
                "window": roster.limits.flap_window.to_string(),
                "resolved_at": prev.resolved_at,
            }),
        )?;
        file(repo, out, prev.id, true, window.as_ref(), &actor, now)?;
        return repo.get(prev.id);
    }
    let routed = route(integration, first);
    let started_at = own_start(started, now);
    let new = new_incident(roster, integration, first, &routed, key, title, started_at);
    let (state, window) = initial_state(repo, roster, integration, first, &routed, now)?;
    let id = repo.insert(&new, state, now)?;
    repo.append(
        id,
        now,
        &actor,
        "opened",
        json!({
            "state": state,
            "severity": routed.severity,
            "critical": routed.critical,
            "project": routed.project,
            "source": first.source,
            "title": new.title,
            "started_at": started_at,
        }),
    )?;
    file(repo, out, id, false, window.as_ref(), &actor, now)?;
    repo.get(id)
}

/// Whether the incident's last resolution was a person's (or anyone's but
/// its integration's).
fn resolved_by_hand(repo: &mut dyn Repo, id: i64) -> StoreResult<bool> {
    Ok(repo
        .timeline(id)?
        .iter()
        .rev()
        .find(|e| e.kind == "resolved")
        .is_some_and(|e| !e.actor.starts_with("integration:")))
}

fn title_for(alerts: &[&Alert]) -> String {
    match alerts {
        [] => String::new(),
        [one] => one.summary.clone(),
        [first, rest @ ..] => format!("{} (+{} more)", first.summary, rest.len()),
    }
}

/// An Alertmanager or Grafana group notification.
pub fn ingest_group(
    repo: &mut dyn Repo,
    roster: &Roster,
    integration: &Integration,
    webhook: &Webhook,
    delivery: &str,
    now: DateTime<Utc>,
) -> StoreResult<Outcome> {
    let mut out = Outcome::default();
    if repo.seen_delivery(
        &integration.id,
        &webhook.group_key,
        delivery,
        now,
        HA_COPY_WINDOW,
    )? {
        out.duplicate = true;
        return Ok(out);
    }
    let mut firing: Vec<&Alert> = webhook
        .alerts
        .iter()
        .filter(|a| a.status == AlertStatus::Firing)
        .collect();
    // A join needs the incident's id alone: the full row is not read.
    let (id, joined) = match repo.find_open_id(&integration.id, &webhook.group_key)? {
        Some(id) => {
            out.attached.push(id);
            (id, true)
        }
        None if firing.is_empty() => return Ok(out), // resolved alerts of no open incident
        None => {
            // The incident is routed, named and rated by the first alert
            // that pages: a warning listed before a critical alert must not
            // open a record that pages nobody.
            if let Some(i) = firing.iter().position(|a| route(integration, a).critical) {
                firing[..=i].rotate_right(1);
            }
            let title = title_for(&firing);
            let started = firing.iter().filter_map(|a| a.starts_at).min();
            let opened = open_or_reopen(
                repo,
                roster,
                integration,
                &webhook.group_key,
                firing[0],
                started,
                title,
                now,
                &mut out,
                true,
            )?;
            (opened.id, false)
        }
    };
    let newly = attach_alerts(repo, integration, id, &webhook.alerts, now)?;
    if joined {
        raise_for(repo, roster, integration, id, &newly, now, &mut out)?;
    }
    if webhook.truncated_alerts > 0 {
        repo.append(
            id,
            now,
            &Actor::Integration(integration.id.clone()),
            "alerts truncated",
            json!({
                "truncated_alerts": webhook.truncated_alerts,
            }),
        )?;
    }
    repo.touch(id, now)?;
    // An alert of this snapshot is firing, so the incident has one: no need
    // to ask the store.
    if firing.is_empty() {
        auto_resolve(repo, integration, id, now, &mut out)?;
    }
    Ok(out)
}

/// Stores the snapshot's alerts on incident `id`; returns those that fire
/// anew (first seen firing, or firing again).
fn attach_alerts<'a>(
    repo: &mut dyn Repo,
    integration: &Integration,
    id: i64,
    alerts: &'a [Alert],
    now: DateTime<Utc>,
) -> StoreResult<Vec<&'a Alert>> {
    let actor = Actor::Integration(integration.id.clone());
    let mut newly = Vec::new();
    for a in alerts {
        let previous = repo.upsert_alert(
            id,
            &a.dedup_key,
            a.status.as_str(),
            &a.summary,
            &a.labels,
            now,
        )?;
        let kind = match (previous.as_deref(), a.status) {
            (None, AlertStatus::Firing) => "alert attached",
            (None, AlertStatus::Resolved) => "alert attached (resolved)",
            (Some("firing"), AlertStatus::Resolved) => "alert resolved",
            (Some("resolved"), AlertStatus::Firing) => "alert fired again",
            _ => continue,
        };
        if a.status == AlertStatus::Firing {
            newly.push(a);
        }
        repo.append(
            id,
            now,
            &actor,
            kind,
            json!({
                "fingerprint": a.dedup_key,
                "summary": a.summary,
                "labels": a.labels,
            }),
        )?;
    }
    Ok(newly)
}

/// An alert that pages fired anew in the group of a non-critical record
/// (opened by a warning, say): the record becomes critical at that
/// alert's severity and is filed as if it had just opened: triggered and
/// paging, or held by a maintenance window that covers it. An incident a
/// person downgraded stays critical-but-downgraded: that was their call,
/// and this changes nothing.
fn raise_for(
    repo: &mut dyn Repo,
    roster: &Roster,
    integration: &Integration,
    id: i64,
    newly: &[&Alert],
    now: DateTime<Utc>,
    out: &mut Outcome,
) -> StoreResult<()> {
    let Some((alert, routed)) = newly
        .iter()
        .map(|a| (*a, route(integration, a)))
        .find(|(_, r)| r.critical)
    else {
        return Ok(());
    };
    // Only a record (downgraded) can be non-critical: its state alone,
    // cheap to read, rules out the usual join.
    if repo.state_of(id)? != State::Downgraded || repo.get(id)?.critical {
        return Ok(());
    }
    let actor = Actor::Integration(integration.id.clone());
    repo.raise(id, routed.severity)?;
    repo.append(
        id,
        now,
        &actor,
        "raised",
        json!({
            "reason": "an alert that pages joined",
            "fingerprint": alert.dedup_key,
            "summary": alert.summary,
            "severity": routed.severity,
        }),
    )?;
    let (state, window) = initial_state(repo, roster, integration, alert, &routed, now)?;
    repo.set_state(id, state, now, None)?;
    file(repo, out, id, true, window.as_ref(), &actor, now)
}

fn auto_resolve(
    repo: &mut dyn Repo,
    integration: &Integration,
    id: i64,
    now: DateTime<Utc>,
    out: &mut Outcome,
) -> StoreResult<()> {
    if !integration.auto_resolve || repo.any_firing(id)? {
        return Ok(());
    }
    let incident = repo.get(id)?;
    if incident.state == State::Resolved {
        return Ok(());
    }
    repo.set_state(id, State::Resolved, now, None)?;
    repo.append(
        id,
        now,
        &Actor::Integration(integration.id.clone()),
        "resolved",
        json!({
            "how": "all alerts resolved",
            "from": incident.state,
        }),
    )?;
    out.resolved.push(id);
    Ok(())
}

/// A PagerDuty Events API (v1 or v2) event.
pub fn ingest_event(
    repo: &mut dyn Repo,
    roster: &Roster,
    integration: &Integration,
    event: &events_v2::Event,
    now: DateTime<Utc>,
) -> StoreResult<Outcome> {
    let mut out = Outcome::default();
    let actor = Actor::Integration(integration.id.clone());
    let key = &event.dedup_key;
    match (event.action, &event.alert) {
        (events_v2::Action::Trigger, Some(alert)) => {
            // PagerDuty semantics: after a resolve the same key opens a new incident.
            let inc = open_or_attach(
                repo,
                roster,
                integration,
                key,
                alert,
                alert.summary.clone(),
                now,
                &mut out,
                false,
            )?;
            let previous =
                repo.upsert_alert(inc.id, key, "firing", &alert.summary, &alert.labels, now)?;
            if previous.is_some() {
                repo.append(
                    inc.id,
                    now,
                    &actor,
                    "repeated trigger",
                    json!({"dedup_key": key, "summary": alert.summary}),
                )?;
            }
            repo.touch(inc.id, now)?;
        }
        (events_v2::Action::Trigger, None) => {}
        (events_v2::Action::Acknowledge, _) => {
            if let Some(inc) = repo.find_open(&integration.id, key)?
                && act(
                    repo,
                    inc.id,
                    Action::Acknowledge,
                    &actor,
                    "integration",
                    now,
                    json!({"dedup_key": key}),
                )
                .is_ok()
            {
                out.acknowledged.push(inc.id);
            }
        }
        (events_v2::Action::Resolve, _) => {
            if let Some(inc) = repo.find_open(&integration.id, key)? {
                repo.upsert_alert(inc.id, key, "resolved", &inc.title, &BTreeMap::new(), now)?;
                if act(
                    repo,
                    inc.id,
                    Action::Resolve,
                    &actor,
                    "integration",
                    now,
                    json!({"dedup_key": key}),
                )
                .is_ok()
                {
                    out.resolved.push(inc.id);
                }
            }
        }
    }
    Ok(out)
}

/// A client's own report through `POST /api/v1/trigger`.
pub struct ClientReport {
    pub client: String,
    pub project: String,
    pub summary: String,
    pub details: serde_json::Value,
    pub severity: Severity,
    pub dedup_key: Option<String>,
}

/// A client's report pages through a maintenance window unless the window
/// says `client_reports: hold`.
pub fn client_trigger(
    repo: &mut dyn Repo,
    roster: &Roster,
    report: &ClientReport,
    now: DateTime<Utc>,
) -> StoreResult<Outcome> {
    let mut out = Outcome::default();
    let integration = format!("client:{}", report.client);
    let actor = Actor::Client(report.client.clone());
    if let Some(key) = &report.dedup_key
        && let Some(open) = repo.find_open(&integration, key)?
    {
        repo.append(
            open.id,
            now,
            &actor,
            "client report repeated",
            json!({"summary": report.summary}),
        )?;
        repo.touch(open.id, now)?;
        out.attached.push(open.id);
        return Ok(out);
    }
    let new = NewIncident {
        project: report.project.clone(),
        client: report.client.clone(),
        title: report.summary.clone(),
        severity: report.severity,
        critical: true,
        source: Source::Trigger,
        integration: Some(integration),
        dedup_key: report.dedup_key.clone(),
        client_reported: true,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        links: Vec::new(),
        details: report.details.clone(),
        started_at: now,
    };
    let subject = Subject {
        project: &new.project,
        client: &new.client,
        integration: new.integration.as_deref(),
        labels: &new.labels,
        client_report: true,
    };
    let (state, window) = maintenance::opening_state(repo, roster, &subject, true, now)?;
    let id = repo.insert(&new, state, now)?;
    repo.append(
        id,
        now,
        &actor,
        "opened",
        json!({
            "state": state,
            "severity": report.severity,
            "client_reported": true,
            "project": report.project,
            "title": report.summary,
            "started_at": now,
        }),
    )?;
    file(repo, &mut out, id, false, window.as_ref(), &actor, now)?;
    Ok(out)
}

/// Why an action could not be applied.
#[derive(Debug)]
pub enum ActError {
    NotFound,
    Illegal(State),
    /// An escalation by hand found nobody but the asker to page; nothing
    /// changed.
    NobodyLeft,
    Store(StoreError),
}

impl ActError {
    /// What a person who asked to escalate incident `id` is told when
    /// nobody is left to page.
    pub fn nobody_left(id: i64) -> String {
        format!("Incident {id}: nobody is left to page, so it stays as it is.")
    }

    /// For a write job: a store failure fails the job, so its savepoint is
    /// rolled back and nothing it wrote before the failure is kept (the
    /// caller gets a 503); a refusal is the job's answer.
    pub fn in_job<T>(r: Result<T, ActError>) -> StoreResult<Result<T, ActError>> {
        match r {
            Err(ActError::Store(e)) => Err(e),
            other => Ok(other),
        }
    }
}

impl From<StoreError> for ActError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ActError::NotFound,
            other => ActError::Store(other),
        }
    }
}

/// Applies a state action with its timeline event. `how` says by which path
/// (api, cli, sms, voice, link, integration); acknowledging assigns the
/// incident to the person who did it.
pub fn act(
    repo: &mut dyn Repo,
    id: i64,
    action: Action,
    actor: &Actor,
    how: &str,
    now: DateTime<Utc>,
    detail: serde_json::Value,
) -> Result<(Incident, bool), ActError> {
    let incident = repo.get(id)?;
    let changed = match transition::apply(incident.state, action).map_err(ActError::Illegal)? {
        Transition::Unchanged => false,
        Transition::To(state) => {
            let assignee = match (action, actor) {
                (Action::Acknowledge, Actor::Person(p)) => Some(p.as_str()),
                _ => None,
            };
            repo.set_state(id, state, now, assignee)?;
            let kind = match action {
                Action::Acknowledge => "acknowledged",
                Action::Resolve => "resolved",
                Action::Downgrade => "downgraded",
                Action::Reopen => "reopened",
                Action::Unacknowledge => "acknowledgement timed out",
                Action::Escalate => "back to triggered",
                Action::EndMaintenance => "maintenance over",
            };
            let mut d = json!({"how": how, "from": incident.state});
            if let (Some(obj), serde_json::Value::Object(extra)) = (d.as_object_mut(), detail) {
                obj.extend(extra);
            }
            repo.append(id, now, actor, kind, d)?;
            true
        }
    };
    Ok((repo.get(id)?, changed))
}

/// `PATCH /api/v1/incidents/{id}`: records the diagnosis on the timeline.
pub fn diagnose(
    repo: &mut dyn Repo,
    id: i64,
    d: &Diagnosis,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Incident, ActError> {
    repo.get(id)?;
    repo.set_diagnosis(id, d)?;
    let mut detail = serde_json::Map::new();
    if let Some(l) = d.layer {
        detail.insert("layer".into(), json!(l));
    }
    if let Some(r) = d.reproducible {
        detail.insert("reproducible".into(), json!(r));
    }
    if let Some(s) = d.serious {
        detail.insert("serious".into(), json!(s));
    }
    if let Some(r) = &d.serious_reason {
        detail.insert("serious_reason".into(), json!(r));
    }
    if let Some(s) = d.severity {
        detail.insert("severity".into(), json!(s));
    }
    if let Some(t) = &d.provider_ticket {
        detail.insert("provider_ticket".into(), json!(t));
    }
    repo.append(
        id,
        now,
        actor,
        "diagnosis",
        serde_json::Value::Object(detail),
    )?;
    Ok(repo.get(id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_a_job_a_store_failure_fails_the_job_and_a_refusal_is_its_answer() {
        let failed =
            ActError::in_job::<()>(Err(ActError::Store(StoreError::Unavailable("disk".into()))));
        assert!(matches!(failed, Err(StoreError::Unavailable(_))));
        let refused = ActError::in_job::<()>(Err(ActError::Illegal(State::Resolved)));
        assert!(matches!(
            refused,
            Ok(Err(ActError::Illegal(State::Resolved)))
        ));
        assert!(matches!(
            ActError::in_job::<()>(Err(ActError::NotFound)),
            Ok(Err(ActError::NotFound))
        ));
        assert!(matches!(ActError::in_job(Ok(7)), Ok(Ok(7))));
    }
}
