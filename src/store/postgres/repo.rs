//! `incident::Repo` over one PostgreSQL transaction and `ReadRepo` over a
//! pooled connection: the SQLite store's statements in PostgreSQL's dialect
//! (`$n` parameters, `RETURNING id`, `ON CONFLICT DO NOTHING`).

use std::cell::RefCell;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::cache::{Cached, Sql};
use super::rows::{self, exec, from_ms, ms, opt, scalar, to_json};
use crate::config::{ClientReports, NotifyRule, Scope};
use crate::followup::actions::{ActionItem, Filter as ActionFilter, NewAction};
use crate::followup::postmortem::{NewPostmortem, Postmortem};
use crate::incident::maintenance::{NewWindow, Window};
use crate::incident::model::Actor;
use crate::incident::repo::SMS_SID_MEMORY;
use crate::incident::{
    AttachedAlert, BUNDLE_PREVIEW, BundleHead, BundleSummary, Diagnosis, Event, Incident,
    NewIncident, OutboxRow, OverrideFilter, ReadRepo, Repo, ReportLeft, SmsClaim, State,
    StateFilter, Timer, reference,
};
use crate::reports::{ActionRow, IncidentRow, PageRow, PostmortemRow, Range, Rows};
use crate::routing::{NewOverride, PresenceMark, Status, StoredOverride};
use crate::store::{Cursor, StoreError, StoreResult};

/// Which waiting tasks a committed transaction must wake (here and, through
/// `NOTIFY`, in every other daemon on the database).
#[derive(Debug, Default, Clone)]
pub struct Touched {
    pub timers: bool,
    pub outbox: bool,
    /// Alert groups whose last snapshot was forgotten (`forget_delivery`).
    pub forgotten: Vec<(String, String)>,
}

/// A `Repo` bound to one transaction.
pub struct TxRepo<'a, 'b, 'c> {
    pub tx: &'a mut Cached<'b, postgres::Transaction<'c>>,
    pub touched: Touched,
    /// This daemon's number (`super::LIVE_LOCK`), stamped on its claims.
    pub daemon: i32,
}

/// The numbers of the daemons alive on this database: each holds the
/// advisory lock (`LIVE_LOCK`, its number) on its listening connection.
const LIVE: &str = "SELECT objid::BIGINT FROM pg_locks
    WHERE locktype = 'advisory' AND classid = 1953457011 AND objsubid = 2 AND granted
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// A page still wanted: of an incident still triggered.
const PAGING: &str = "(incident IS NULL
    OR EXISTS (SELECT 1 FROM incidents i WHERE i.id = outbox.incident AND i.state = 'triggered'))";

/// The rows folded into bundle $1 and not sent yet.
const UNSENT_IN: &str = "bundle_of = $1 AND status = 'bundled' AND sent_at IS NULL";

/// Rows a daemon that is gone was sending (`due_outbox` re-queues them).
fn orphaned() -> String {
    format!("status = 'sending' AND claimed_by NOT IN ({LIVE})")
}

/// Whether a daemon that is gone left rows `sending`: the next outbox pass
/// of any daemon sends them.
pub fn orphaned_claims<C: Sql>(c: &mut C) -> StoreResult<bool> {
    scalar(
        c,
        &format!("SELECT EXISTS (SELECT 1 FROM outbox WHERE {})", orphaned()),
        &[],
    )
}

/// Milliseconds of year 10000: a `claimed_before` past it is start-up
/// recovery ("every claim"), which on a shared database means the claims
/// of daemons that are gone, never those of a daemon still sending.
const RECOVER_ALL: i64 = 253_402_300_800_000;

fn get<C: Sql>(c: &mut C, id: i64) -> StoreResult<Incident> {
    opt(
        c,
        &format!("SELECT {} FROM incidents WHERE id = $1", rows::INCIDENT),
        &[&id],
        rows::incident,
    )?
    .ok_or(StoreError::NotFound)
}

fn timeline<C: Sql>(c: &mut C, id: i64) -> StoreResult<Vec<Event>> {
    rows::all(
        c,
        "SELECT id, incident, at, actor, kind, detail FROM timeline WHERE incident = $1 ORDER BY id",
        &[&id],
        rows::event,
    )
}

/// Keeps a replaced snapshot of a group (processed at `at`, ms) for the
/// HA copy window.
fn keep_recent<C: Sql>(
    c: &mut C,
    integration: &str,
    group_key: &str,
    key: &str,
    at: i64,
) -> StoreResult<()> {
    exec(
        c,
        "INSERT INTO deliveries (integration, group_key, key, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (integration, group_key, key) DO UPDATE SET at = excluded.at",
        &[&integration, &group_key, &key, &at],
    )?;
    Ok(())
}

fn source_str(s: crate::ingest::alert::Source) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn outbox_where<C: Sql>(c: &mut C, cond: &str, p: rows::Params<'_>) -> StoreResult<Vec<OutboxRow>> {
    rows::all(
        c,
        &format!("SELECT {} FROM outbox WHERE {cond}", rows::OUTBOX),
        p,
        rows::outbox,
    )
}

fn postmortem<C: Sql>(c: &mut C, id: i64) -> StoreResult<Postmortem> {
    opt(
        c,
        &format!("SELECT {} FROM postmortems WHERE id = $1", rows::POSTMORTEM),
        &[&id],
        rows::postmortem,
    )?
    .ok_or(StoreError::NotFound)
}

fn actions_where<C: Sql>(
    c: &mut C,
    cond: &str,
    p: rows::Params<'_>,
) -> StoreResult<Vec<ActionItem>> {
    rows::all(
        c,
        &format!("SELECT {} FROM action_items WHERE {cond}", rows::ACTION),
        p,
        rows::action,
    )
}

fn overrides<C: Sql>(c: &mut C, f: &OverrideFilter) -> StoreResult<Vec<StoredOverride>> {
    // Spelled out, not `$n IS NULL OR ...`, so live lookups use the partial index.
    let mut conds = vec!["TRUE".to_string()];
    let mut args: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::new();
    if let Some(s) = &f.schedule {
        args.push(s);
        conds.push(format!("schedule = ${}", args.len()));
    }
    if !f.include_deleted {
        conds.push("deleted_at IS NULL".into());
    }
    let after = f.ending_after.map(ms);
    if let Some(a) = &after {
        args.push(a);
        conds.push(format!("to_at > ${}", args.len()));
    }
    rows::all(
        c,
        &format!(
            "SELECT {} FROM overrides WHERE {} ORDER BY created_at, id",
            rows::OVERRIDE,
            conds.join(" AND ")
        ),
        &args,
        rows::stored_override,
    )
}

impl TxRepo<'_, '_, '_> {
    /// As on SQLite: folded into a bundle not sent, cancelled; folded into
    /// one of these, back on their own; then the pending ones. Of the pages
    /// to `person` only, when given.
    fn cancel_pages_of(&mut self, incident: i64, person: Option<&str>) -> StoreResult<i64> {
        self.touched.outbox = true;
        let folded = exec(
            self.tx,
            "UPDATE outbox SET status = 'cancelled', bundle_of = NULL
             WHERE incident = $1 AND kind = 'page' AND status = 'bundled' AND sent_at IS NULL
               AND ($2::TEXT IS NULL OR person = $2)
               AND EXISTS (SELECT 1 FROM outbox h WHERE h.id = outbox.bundle_of AND h.status = 'pending')",
            &[&incident, &person],
        )?;
        exec(
            self.tx,
            "UPDATE outbox SET status = 'pending', bundle_of = NULL
             WHERE status = 'bundled' AND sent_at IS NULL AND bundle_of IN (SELECT id FROM outbox
                 WHERE incident = $1 AND kind = 'page' AND status = 'pending'
                   AND ($2::TEXT IS NULL OR person = $2))",
            &[&incident, &person],
        )?;
        let pending = exec(
            self.tx,
            "UPDATE outbox SET status = 'cancelled'
             WHERE incident = $1 AND kind = 'page' AND status = 'pending'
               AND ($2::TEXT IS NULL OR person = $2)",
            &[&incident, &person],
        )?;
        Ok((folded + pending) as i64)
    }
}

impl Repo for TxRepo<'_, '_, '_> {
    fn get(&mut self, id: i64) -> StoreResult<Incident> {
        get(self.tx, id)
    }

    fn find_open(&mut self, integration: &str, key: &str) -> StoreResult<Option<Incident>> {
        opt(
            self.tx,
            &format!(
                "SELECT {} FROM incidents WHERE integration = $1 AND dedup_key = $2 AND state <> 'resolved'",
                rows::INCIDENT
            ),
            &[&integration, &key],
            rows::incident,
        )
    }

    fn find_open_id(&mut self, integration: &str, key: &str) -> StoreResult<Option<i64>> {
        opt(
            self.tx,
            "SELECT id FROM incidents WHERE integration = $1 AND dedup_key = $2 AND state <> 'resolved'",
            &[&integration, &key],
            |r| r.try_get(0),
        )
    }

    fn find_resolved_since(
        &mut self,
        integration: &str,
        key: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<Incident>> {
        opt(
            self.tx,
            &format!(
                "SELECT {} FROM incidents WHERE integration = $1 AND dedup_key = $2
                 AND state = 'resolved' AND resolved_at >= $3 ORDER BY resolved_at DESC LIMIT 1",
                rows::INCIDENT
            ),
            &[&integration, &key, &ms(since)],
            rows::incident,
        )
    }

    fn insert(&mut self, n: &NewIncident, state: State, now: DateTime<Utc>) -> StoreResult<i64> {
        let t = ms(now);
        let downgraded = (state == State::Downgraded).then_some(t);
        // The client's sequence is taken under the store's write lock, and
        // the unique index makes any slip an error.
        scalar(
            self.tx,
            "INSERT INTO incidents (project, client, title, severity, state, critical, source, integration,
                dedup_key, client_reported, labels, annotations, links, details, alert_count, created_at,
                last_seen_at, downgraded_at, started_at, ref_prefix, ref_seq, announced)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, $15, $15, $16, $17, $18,
                (SELECT coalesce(max(ref_seq), 0) + 1 FROM incidents WHERE ref_prefix = $18), $10)
             RETURNING id",
            &[
                &n.project,
                &n.client,
                &n.title,
                &n.severity.as_str(),
                &state.as_str(),
                &(n.critical as i64),
                &source_str(n.source),
                &n.integration,
                &n.dedup_key,
                &(n.client_reported as i64),
                &to_json(&n.labels),
                &to_json(&n.annotations),
                &to_json(&n.links),
                &to_json(&n.details),
                &t,
                &downgraded,
                &ms(n.started_at),
                &reference::prefix(&n.client),
            ],
        )
    }

    fn set_state(
        &mut self,
        id: i64,
        state: State,
        now: DateTime<Utc>,
        assignee: Option<&str>,
    ) -> StoreResult<()> {
        let column = match state {
            State::Acknowledged => "acknowledged_at",
            State::Resolved => "resolved_at",
            State::Downgraded => "downgraded_at",
            // Back to triggered (or held by a window): open again.
            State::Triggered | State::Suppressed => "resolved_at",
        };
        let value = (!matches!(state, State::Triggered | State::Suppressed)).then_some(ms(now));
        let n = exec(
            self.tx,
            &format!(
                "UPDATE incidents SET state = $1, {column} = $2, assignee = coalesce($3, assignee) WHERE id = $4"
            ),
            &[&state.as_str(), &value, &assignee, &id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn set_diagnosis(&mut self, id: i64, d: &Diagnosis) -> StoreResult<()> {
        exec(
            self.tx,
            "UPDATE incidents SET layer = coalesce($1, layer), reproducible = coalesce($2, reproducible),
                serious = coalesce($3, serious), serious_reason = coalesce($4, serious_reason),
                severity = coalesce($5, severity), provider_ticket = coalesce($6, provider_ticket)
             WHERE id = $7",
            &[
                &d.layer.map(|l| l.as_str()),
                &d.reproducible.map(|r| r as i64),
                &d.serious.map(|s| s as i64),
                &d.serious_reason,
                &d.severity.map(|s| s.as_str()),
                &d.provider_ticket,
                &id,
            ],
        )?;
        Ok(())
    }

    fn raise(&mut self, id: i64, severity: crate::ingest::alert::Severity) -> StoreResult<()> {
        exec(
            self.tx,
            "UPDATE incidents SET critical = 1, severity = $2 WHERE id = $1",
            &[&id, &severity.as_str()],
        )?;
        Ok(())
    }

    fn mark_announced(&mut self, id: i64) -> StoreResult<()> {
        exec(
            self.tx,
            "UPDATE incidents SET announced = 1 WHERE id = $1",
            &[&id],
        )?;
        Ok(())
    }

    fn told_online(&mut self, id: i64) -> StoreResult<Option<String>> {
        opt(
            self.tx,
            "SELECT told_online FROM incidents WHERE id = $1",
            &[&id],
            |r| r.try_get(0),
        )?
        .ok_or(StoreError::NotFound)
    }

    fn set_told_online(&mut self, id: i64, who: Option<&str>) -> StoreResult<()> {
        exec(
            self.tx,
            "UPDATE incidents SET told_online = $1 WHERE id = $2",
            &[&who, &id],
        )?;
        Ok(())
    }

    fn set_assignee(&mut self, id: i64, person: &str) -> StoreResult<()> {
        let n = exec(
            self.tx,
            "UPDATE incidents SET assignee = $1 WHERE id = $2",
            &[&person, &id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn append(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        actor: &Actor,
        kind: &str,
        detail: serde_json::Value,
    ) -> StoreResult<()> {
        exec(
            self.tx,
            "INSERT INTO timeline (incident, at, actor, kind, detail) VALUES ($1, $2, $3, $4, $5)",
            &[
                &id,
                &ms(now),
                &actor.to_string(),
                &kind,
                &detail.to_string(),
            ],
        )?;
        Ok(())
    }

    fn upsert_alert(
        &mut self,
        id: i64,
        fingerprint: &str,
        status: &str,
        summary: &str,
        labels: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        // Most alerts of a snapshot are as the last one left them (every
        // snapshot repeats the whole group): one statement for those; a new
        // one takes two; a changed status three.
        let unchanged = exec(
            self.tx,
            "UPDATE alerts SET summary = $4, last_seen = $5
             WHERE incident = $1 AND fingerprint = $2 AND status = $3",
            &[&id, &fingerprint, &status, &summary, &ms(now)],
        )?;
        if unchanged > 0 {
            return Ok(Some(status.to_string()));
        }
        let inserted = exec(
            self.tx,
            "INSERT INTO alerts (incident, fingerprint, status, summary, labels, first_seen, last_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (incident, fingerprint) DO NOTHING",
            &[&id, &fingerprint, &status, &summary, &to_json(labels), &ms(now)],
        )? > 0;
        let previous: Option<String> = if inserted {
            None
        } else {
            // There, with the other status.
            let was: String = scalar(
                self.tx,
                "SELECT status FROM alerts WHERE incident = $1 AND fingerprint = $2",
                &[&id, &fingerprint],
            )?;
            exec(
                self.tx,
                "UPDATE alerts SET status = $3, summary = $4, last_seen = $5
                 WHERE incident = $1 AND fingerprint = $2",
                &[&id, &fingerprint, &status, &summary, &ms(now)],
            )?;
            Some(was)
        };
        if previous.is_none() {
            exec(
                self.tx,
                "UPDATE incidents SET alert_count = alert_count + 1, last_seen_at = $2 WHERE id = $1",
                &[&id, &ms(now)],
            )?;
        }
        Ok(previous)
    }

    fn any_firing(&mut self, id: i64) -> StoreResult<bool> {
        scalar(
            self.tx,
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE incident = $1 AND status = 'firing')",
            &[&id],
        )
    }

    fn touch(&mut self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        exec(
            self.tx,
            "UPDATE incidents SET last_seen_at = $1 WHERE id = $2",
            &[&ms(now), &id],
        )?;
        Ok(())
    }

    fn seen_delivery(
        &mut self,
        integration: &str,
        group_key: &str,
        key: &str,
        now: DateTime<Utc>,
        recent: chrono::Duration,
    ) -> StoreResult<bool> {
        let since = ms(now - recent);
        let last: Option<(String, i64)> = opt(
            self.tx,
            "SELECT key, at FROM delivery_last WHERE integration = $1 AND group_key = $2",
            &[&integration, &group_key],
            |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        )?;
        let duplicate = last.as_ref().is_some_and(|(k, _)| k == key)
            || scalar::<_, bool>(
                self.tx,
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE integration = $1 AND group_key = $2 AND key = $3 AND at >= $4)",
                &[&integration, &group_key, &key, &since],
            )?;
        if duplicate {
            return Ok(true);
        }
        exec(
            self.tx,
            "INSERT INTO delivery_last (integration, group_key, key, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (integration, group_key) DO UPDATE SET key = excluded.key, at = excluded.at",
            &[&integration, &group_key, &key, &ms(now)],
        )?;
        // The snapshot it replaces is kept while an HA copy of it can still
        // come; a group's first snapshot writes only its last row (as on SQLite).
        if let Some((previous, at)) = last.filter(|(_, at)| *at >= since) {
            keep_recent(self.tx, integration, group_key, &previous, at)?;
        }
        // Out of the copy window, a snapshot is never read again.
        exec(self.tx, "DELETE FROM deliveries WHERE at < $1", &[&since])?;
        Ok(false)
    }

    fn forget_delivery(&mut self, integration: &str, group_key: &str) -> StoreResult<()> {
        // Its last snapshot still counts within the copy window.
        exec(
            self.tx,
            "INSERT INTO deliveries (integration, group_key, key, at)
             SELECT integration, group_key, key, at FROM delivery_last
             WHERE integration = $1 AND group_key = $2
             ON CONFLICT (integration, group_key, key) DO UPDATE SET at = excluded.at",
            &[&integration, &group_key],
        )?;
        exec(
            self.tx,
            "DELETE FROM delivery_last WHERE integration = $1 AND group_key = $2",
            &[&integration, &group_key],
        )?;
        self.touched
            .forgotten
            .push((integration.to_string(), group_key.to_string()));
        Ok(())
    }

    fn set_timer(&mut self, t: &Timer) -> StoreResult<()> {
        self.touched.timers = true;
        exec(
            self.tx,
            "INSERT INTO timers (kind, key, due_at, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind, key) DO UPDATE SET due_at = $3, data = $4",
            &[&t.kind, &t.key, &ms(t.due), &t.data.to_string()],
        )?;
        Ok(())
    }

    fn set_timer_if_absent(&mut self, t: &Timer) -> StoreResult<()> {
        self.touched.timers = true;
        exec(
            self.tx,
            "INSERT INTO timers (kind, key, due_at, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind, key) DO NOTHING",
            &[&t.kind, &t.key, &ms(t.due), &t.data.to_string()],
        )?;
        Ok(())
    }

    fn delete_timer(&mut self, kind: &str, key: &str) -> StoreResult<()> {
        exec(
            self.tx,
            "DELETE FROM timers WHERE kind = $1 AND key = $2",
            &[&kind, &key],
        )?;
        Ok(())
    }

    fn take_due(&mut self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Timer>> {
        // Deleted in the transaction that fires them: a timer fires once,
        // on whichever daemon takes it first.
        let mut timers = rows::all(
            self.tx,
            "DELETE FROM timers WHERE (kind, key) IN (
                SELECT kind, key FROM timers WHERE due_at <= $1
                ORDER BY due_at, kind, key LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING kind, key, due_at, data",
            &[&ms(now), &(limit as i64)],
            rows::timer,
        )?;
        timers.sort_by(|a, b| (a.due, &a.kind, &a.key).cmp(&(b.due, &b.kind, &b.key)));
        Ok(timers)
    }

    fn presence(&mut self, person: &str) -> StoreResult<Option<PresenceMark>> {
        opt(
            self.tx,
            "SELECT status, until FROM presence WHERE person = $1",
            &[&person],
            rows::presence,
        )
    }

    fn set_presence(
        &mut self,
        person: &str,
        mark: &PresenceMark,
        set_by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let status = match mark.status {
            Status::Online => "online",
            Status::Offline => "offline",
        };
        exec(
            self.tx,
            "INSERT INTO presence (person, status, until, set_by, set_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (person) DO UPDATE SET status = $2, until = $3, set_by = $4, set_at = $5",
            &[&person, &status, &ms(mark.until), &set_by, &ms(now)],
        )?;
        Ok(())
    }

    fn notify_rules(&mut self, person: &str) -> StoreResult<Option<Vec<NotifyRule>>> {
        let text: Option<String> = opt(
            self.tx,
            "SELECT rules FROM notify_rules WHERE person = $1",
            &[&person],
            |r| r.try_get(0),
        )?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    fn set_notify_rules(
        &mut self,
        person: &str,
        rules: Option<&[NotifyRule]>,
        set_by: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let n = match rules {
            Some(rules) => {
                let text = serde_json::to_string(rules)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                exec(
                    self.tx,
                    "INSERT INTO notify_rules (person, rules, set_by, set_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (person) DO UPDATE SET rules = $2, set_by = $3, set_at = $4",
                    &[&person, &text, &set_by, &ms(now)],
                )?
            }
            None => exec(
                self.tx,
                "DELETE FROM notify_rules WHERE person = $1",
                &[&person],
            )?,
        };
        Ok(n > 0)
    }

    fn clear_presence(&mut self, person: &str) -> StoreResult<bool> {
        Ok(exec(
            self.tx,
            "DELETE FROM presence WHERE person = $1",
            &[&person],
        )? > 0)
    }

    fn escalation(&mut self, id: i64) -> StoreResult<Option<crate::escalation::EscalationState>> {
        let text: Option<String> = opt(
            self.tx,
            "SELECT state FROM escalations WHERE incident = $1",
            &[&id],
            |r| r.try_get(0),
        )?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    fn put_escalation(
        &mut self,
        id: i64,
        state: &crate::escalation::EscalationState,
    ) -> StoreResult<()> {
        let text =
            serde_json::to_string(state).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        exec(
            self.tx,
            "INSERT INTO escalations (incident, state) VALUES ($1, $2)
             ON CONFLICT (incident) DO UPDATE SET state = $2",
            &[&id, &text],
        )?;
        Ok(())
    }

    fn insert_outbox(&mut self, r: &OutboxRow) -> StoreResult<i64> {
        // A row folded into a waiting SMS is sent with it: no claim to wake.
        self.touched.outbox |= r.status != "bundled";
        let claimer = (r.status == "sending").then_some(i64::from(self.daemon));
        scalar(
            self.tx,
            "INSERT INTO outbox (incident, person, client, kind, channel, target, fallback, tried, subject, body,
                status, attempts, due_at, created_at, sent_at, provider, provider_id, provider_status, last_error, bundle_of,
                claimed_by, vendor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
             RETURNING id",
            &[
                &r.incident,
                &r.person,
                &r.client,
                &r.kind,
                &r.channel,
                &r.target,
                &to_json(&r.fallback),
                &to_json(&r.tried),
                &r.subject,
                &r.body,
                &r.status,
                &i64::from(r.attempts),
                &ms(r.due_at),
                &ms(r.created_at),
                &r.sent_at.map(ms),
                &r.provider,
                &r.provider_id,
                &r.provider_status,
                &r.last_error,
                &r.bundle_of,
                &claimer,
                &i64::from(r.vendor),
            ],
        )
    }

    fn update_outbox(&mut self, r: &OutboxRow) -> StoreResult<()> {
        self.touched.outbox = true;
        let claimer = (r.status == "sending").then_some(i64::from(self.daemon));
        let n = exec(
            self.tx,
            "UPDATE outbox SET fallback = $2, tried = $3, body = $4, status = $5, attempts = $6, due_at = $7,
                sent_at = $8, provider = $9, provider_id = $10, provider_status = $11, last_error = $12, bundle_of = $13,
                claimed_by = $14, vendor = $15
             WHERE id = $1",
            &[
                &r.id,
                &to_json(&r.fallback),
                &to_json(&r.tried),
                &r.body,
                &r.status,
                &i64::from(r.attempts),
                &ms(r.due_at),
                &r.sent_at.map(ms),
                &r.provider,
                &r.provider_id,
                &r.provider_status,
                &r.last_error,
                &r.bundle_of,
                &claimer,
                &i64::from(r.vendor),
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn outbox(&mut self, id: i64) -> StoreResult<OutboxRow> {
        outbox_where(self.tx, "id = $1", &[&id])?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)
    }

    fn due_outbox(&mut self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        // What a daemon that is gone was sending goes back first: the
        // survivors send it now, not at the next reap.
        exec(
            self.tx,
            &format!(
                "UPDATE outbox SET status = 'pending', claimed_by = NULL WHERE {}",
                orphaned()
            ),
            &[],
        )?;
        outbox_where(
            self.tx,
            "status = 'pending' AND due_at <= $1 ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&ms(now), &(limit as i64)],
        )
    }

    fn defer_pending(
        &mut self,
        person: &str,
        channel: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<usize> {
        self.touched.outbox = true;
        Ok(exec(
            self.tx,
            "UPDATE outbox SET due_at = $3
             WHERE status = 'pending' AND person = $1 AND channel = $2 AND due_at < $3",
            &[&person, &channel, &ms(until)],
        )? as usize)
    }

    fn bundle_head(
        &mut self,
        person: &str,
        channel: &str,
        due_by: DateTime<Utc>,
    ) -> StoreResult<Option<BundleHead>> {
        opt(
            self.tx,
            &format!(
                "SELECT id, due_at FROM outbox
                 WHERE status = 'pending' AND person = $1 AND channel = $2 AND kind = 'page' AND due_at <= $3
                   AND {PAGING} ORDER BY id LIMIT 1"
            ),
            &[&person, &channel, &ms(due_by)],
            |r| {
                Ok(BundleHead {
                    id: r.try_get(0)?,
                    due_at: from_ms(r.try_get(1)?),
                })
            },
        )
    }

    fn fold_into(
        &mut self,
        head: i64,
        person: &str,
        channel: &str,
        due_by: DateTime<Utc>,
    ) -> StoreResult<usize> {
        self.touched.outbox = true;
        let args: rows::Params<'_> = &[&head, &person, &channel, &ms(due_by)];
        // Bundles never nest (as on SQLite).
        exec(
            self.tx,
            "UPDATE outbox SET bundle_of = $1
             WHERE status = 'bundled' AND sent_at IS NULL AND bundle_of IN (SELECT id FROM outbox
                 WHERE status = 'pending' AND person = $2 AND channel = $3 AND kind = 'page'
                   AND id <> $1 AND due_at <= $4)",
            args,
        )?;
        Ok(exec(
            self.tx,
            &format!(
                "UPDATE outbox SET status = 'bundled', bundle_of = $1
                 WHERE status = 'pending' AND person = $2 AND channel = $3 AND kind = 'page'
                   AND id <> $1 AND due_at <= $4 AND {PAGING}"
            ),
            args,
        )? as usize)
    }

    fn leave_out_stopped(&mut self, head: i64) -> StoreResult<usize> {
        self.touched.outbox = true;
        Ok(exec(
            self.tx,
            &format!(
                "UPDATE outbox SET status = 'cancelled', bundle_of = NULL
                 WHERE {UNSENT_IN} AND NOT {PAGING}"
            ),
            &[&head],
        )? as usize)
    }

    fn bundle_summary(&mut self, head: &OutboxRow) -> StoreResult<BundleSummary> {
        let counts = self.tx.query_one(
            &format!(
                "SELECT count(*), count(DISTINCT CASE WHEN incident IS DISTINCT FROM $2 THEN incident END)
                 FROM outbox WHERE {UNSENT_IN}"
            ),
            &[&head.id, &head.incident],
        )?;
        let (rows, others): (i64, i64) = (counts.try_get(0)?, counts.try_get(1)?);
        let first = rows::all(
            self.tx,
            &format!(
                "SELECT coalesce(incident, 0), subject FROM outbox WHERE {UNSENT_IN}
                 ORDER BY id LIMIT {BUNDLE_PREVIEW}"
            ),
            &[&head.id],
            |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        )?;
        Ok(BundleSummary {
            rows: rows.max(0) as usize,
            others: others.max(0) as usize,
            first,
        })
    }

    fn finish_bundle(&mut self, head: &OutboxRow, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        let Some(sent_at) = head.sent_at else {
            return Ok(Vec::new());
        };
        self.touched.outbox = true;
        let mut rows = rows::all(
            self.tx,
            &format!(
                "UPDATE outbox SET sent_at = $2, provider = $3, provider_id = $4
                 WHERE id IN (SELECT id FROM outbox WHERE {UNSENT_IN} ORDER BY id LIMIT {limit})
                 RETURNING {}",
                rows::OUTBOX
            ),
            &[&head.id, &ms(sent_at), &head.provider, &head.provider_id],
            rows::outbox,
        )?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    fn unfinished_bundles(&mut self) -> StoreResult<Vec<i64>> {
        self.touched.outbox = true;
        // Folded rows whose head will never be sent go back (as on SQLite).
        exec(
            self.tx,
            "UPDATE outbox SET status = 'pending', bundle_of = NULL
             WHERE status = 'bundled' AND sent_at IS NULL AND NOT EXISTS (SELECT 1 FROM outbox h
                 WHERE h.id = outbox.bundle_of AND (h.status IN ('pending', 'sending') OR h.sent_at IS NOT NULL))
               AND NOT EXISTS (SELECT 1 FROM reports_left r WHERE r.head = outbox.bundle_of)",
            &[],
        )?;
        rows::all(
            self.tx,
            "SELECT id FROM outbox
             WHERE id IN (SELECT bundle_of FROM outbox WHERE status = 'bundled' AND sent_at IS NULL)
               AND sent_at IS NOT NULL ORDER BY id",
            &[],
            |r| r.try_get(0),
        )
    }

    fn unbundle(&mut self, head: i64) -> StoreResult<()> {
        self.touched.outbox = true;
        exec(
            self.tx,
            "UPDATE outbox SET status = 'pending', bundle_of = NULL
             WHERE bundle_of = $1 AND status = 'bundled' AND sent_at IS NULL",
            &[&head],
        )?;
        Ok(())
    }

    fn last_sent(&mut self, person: &str, channel: &str) -> StoreResult<Option<DateTime<Utc>>> {
        // A row being sent counts as sent at its claim (see the SQLite store).
        // Pages only (see the SQLite store).
        let sent: Option<i64> = opt(
            self.tx,
            "SELECT sent_at FROM outbox
             WHERE person = $1 AND channel = $2 AND sent_at IS NOT NULL AND bundle_of IS NULL
               AND kind = 'page'
             ORDER BY sent_at DESC LIMIT 1",
            &[&person, &channel],
            |r| r.try_get(0),
        )?;
        let sending: Option<i64> = scalar(
            self.tx,
            "SELECT max(due_at) FROM outbox
             WHERE person = $1 AND channel = $2 AND status = 'sending' AND kind = 'page'",
            &[&person, &channel],
        )?;
        Ok(sent.max(sending).map(from_ms))
    }

    fn sent_since(
        &mut self,
        person: &str,
        channel: &str,
        since: DateTime<Utc>,
        at_most: u32,
    ) -> StoreResult<i64> {
        scalar(
            self.tx,
            "SELECT count(*) FROM (SELECT 1 FROM outbox
                WHERE person = $1 AND channel = $2 AND sent_at >= $3 AND sent_at IS NOT NULL
                  AND bundle_of IS NULL LIMIT $4) AS s",
            &[&person, &channel, &ms(since), &i64::from(at_most)],
        )
    }

    fn cancel_pages(&mut self, incident: i64) -> StoreResult<i64> {
        self.cancel_pages_of(incident, None)
    }

    fn cancel_pages_to(&mut self, incident: i64, person: &str) -> StoreResult<i64> {
        self.cancel_pages_of(incident, Some(person))
    }

    fn page_channels_since(
        &mut self,
        incident: i64,
        person: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        rows::all(
            self.tx,
            "SELECT channel FROM outbox WHERE incident = $1 AND person = $2 AND kind = 'page' AND created_at >= $3",
            &[&incident, &person, &ms(since)],
            |r| r.try_get(0),
        )
    }

    fn pages_sent(&mut self, incident: i64) -> StoreResult<Vec<OutboxRow>> {
        outbox_where(
            self.tx,
            "incident = $1 AND kind = 'page' AND sent_at IS NOT NULL AND status IN ('sent', 'delivered', 'bundled') ORDER BY id",
            &[&incident],
        )
    }

    fn outbox_by_provider_id(&mut self, provider_id: &str) -> StoreResult<Option<OutboxRow>> {
        Ok(outbox_where(
            self.tx,
            "provider_id = $1 AND bundle_of IS NULL ORDER BY id DESC LIMIT 1",
            &[&provider_id],
        )?
        .into_iter()
        .next())
    }

    fn bundled_into(&mut self, head: i64, after: i64, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        outbox_where(
            self.tx,
            &format!("bundle_of = $1 AND status = 'bundled' AND id > $2 ORDER BY id LIMIT {limit}"),
            &[&head, &after],
        )
    }

    fn fell_back_in_bundle(
        &mut self,
        head: i64,
        incident: Option<i64>,
        person: Option<&str>,
    ) -> StoreResult<bool> {
        // A page without an incident or a person never falls back; `=`
        // (not `IS NOT DISTINCT FROM`) so the incident's index serves it.
        let (Some(incident), Some(person)) = (incident, person) else {
            return Ok(false);
        };
        Ok(opt(
            self.tx,
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE incident = $2 AND person = $3
                AND status = 'failed' AND (id = $1 OR bundle_of = $1))",
            &[&head, &incident, &person],
            |r| r.try_get(0),
        )?
        .unwrap_or(false))
    }

    fn keep_report_left(&mut self, left: &ReportLeft, at: DateTime<Utc>) -> StoreResult<()> {
        exec(
            self.tx,
            "INSERT INTO reports_left (head, after, status, error_code, send_error, at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (head, status) DO UPDATE SET after = $2, error_code = $4, send_error = $5, at = $6",
            &[
                &left.head,
                &left.after,
                &left.status,
                &left.error_code.map(i64::from),
                &left.send_error,
                &ms(at),
            ],
        )?;
        Ok(())
    }

    fn drop_report_left(&mut self, left: &ReportLeft) -> StoreResult<()> {
        exec(
            self.tx,
            "DELETE FROM reports_left WHERE head = $1 AND status = $2",
            &[&left.head, &left.status],
        )?;
        Ok(())
    }

    fn reports_left(&mut self, before: DateTime<Utc>) -> StoreResult<Vec<ReportLeft>> {
        rows::all(
            self.tx,
            "SELECT head, after, status, error_code, send_error FROM reports_left WHERE at < $1 ORDER BY head, status",
            &[&ms(before)],
            |r| {
                Ok(ReportLeft {
                    head: r.try_get(0)?,
                    after: r.try_get(1)?,
                    status: r.try_get(2)?,
                    error_code: r
                        .try_get::<_, Option<i64>>(3)?
                        .and_then(|c| u32::try_from(c).ok()),
                    send_error: r.try_get(4)?,
                })
            },
        )
    }

    fn early_report(&mut self, provider_id: &str) -> StoreResult<Option<(String, Option<u32>)>> {
        Ok(opt(
            self.tx,
            "SELECT status, error_code FROM early_reports WHERE provider_id = $1",
            &[&provider_id],
            |r| Ok((r.try_get(0)?, r.try_get::<_, Option<i64>>(1)?)),
        )?
        .map(|(s, c)| (s, c.and_then(|c| u32::try_from(c).ok()))))
    }

    fn keep_early_report(
        &mut self,
        provider_id: &str,
        status: &str,
        error_code: Option<u32>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // A report nobody claimed within a day is for no row of ours.
        exec(
            self.tx,
            "DELETE FROM early_reports WHERE at < $1",
            &[&ms(at - chrono::Duration::days(1))],
        )?;
        exec(
            self.tx,
            "INSERT INTO early_reports (provider_id, status, error_code, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (provider_id) DO UPDATE SET status = $2, error_code = $3, at = $4",
            &[&provider_id, &status, &error_code.map(i64::from), &ms(at)],
        )?;
        Ok(())
    }

    fn drop_early_report(&mut self, provider_id: &str) -> StoreResult<()> {
        exec(
            self.tx,
            "DELETE FROM early_reports WHERE provider_id = $1",
            &[&provider_id],
        )?;
        Ok(())
    }

    fn requeue_in_flight(&mut self, claimed_before: DateTime<Utc>) -> StoreResult<Vec<OutboxRow>> {
        self.touched.outbox = true;
        // Claims of a daemon that is gone (its lock released with its
        // connection) go back at once; those of a live daemon only when
        // older than `claimed_before` (its answer could not be recorded).
        let before = ms(claimed_before);
        let stale = format!(
            "status = 'sending' AND (claimed_by IS NULL OR claimed_by NOT IN ({LIVE})
                OR ($1 < {RECOVER_ALL} AND due_at < $1))"
        );
        let rows = outbox_where(self.tx, &format!("{stale} ORDER BY id"), &[&before])?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        // Rows folded into a bundle that was in flight go back on their own.
        exec(
            self.tx,
            "UPDATE outbox SET status = 'pending', bundle_of = NULL
             WHERE status = 'bundled' AND bundle_of = ANY($1)",
            &[&ids],
        )?;
        exec(
            self.tx,
            "UPDATE outbox SET status = 'pending', claimed_by = NULL WHERE id = ANY($1)",
            &[&ids],
        )?;
        Ok(rows)
    }

    fn record_change_event(
        &mut self,
        integration: &str,
        project: &str,
        now: DateTime<Utc>,
        summary: &str,
        detail: serde_json::Value,
    ) -> StoreResult<i64> {
        scalar(
            self.tx,
            "INSERT INTO change_events (integration, project, at, summary, detail) VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
            &[&integration, &project, &ms(now), &summary, &detail.to_string()],
        )
    }

    fn paged_to(&mut self, person: &str) -> StoreResult<Vec<i64>> {
        rows::all(
            self.tx,
            "SELECT id FROM incidents i
             WHERE state IN ('triggered', 'acknowledged')
               AND (assignee = $1 OR EXISTS (
                    SELECT 1 FROM outbox o
                    WHERE o.incident = i.id AND o.kind = 'page' AND o.person = $1))
             ORDER BY id",
            &[&person],
            |r| r.try_get(0),
        )
    }

    fn claim_sms(&mut self, sid: &str, person: &str, now: DateTime<Utc>) -> StoreResult<SmsClaim> {
        exec(
            self.tx,
            "DELETE FROM sms_inbound WHERE at < $1",
            &[&ms(now - SMS_SID_MEMORY)],
        )?;
        let seen: Option<Option<String>> = opt(
            self.tx,
            "SELECT reply FROM sms_inbound WHERE message_sid = $1",
            &[&sid],
            |r| r.try_get(0),
        )?;
        if let Some(reply) = seen {
            return Ok(SmsClaim::Seen { reply });
        }
        exec(
            self.tx,
            "INSERT INTO sms_inbound (message_sid, person, at) VALUES ($1, $2, $3)",
            &[&sid, &person, &ms(now)],
        )?;
        Ok(SmsClaim::New)
    }

    fn set_sms_reply(&mut self, sid: &str, reply: &str) -> StoreResult<()> {
        exec(
            self.tx,
            "UPDATE sms_inbound SET reply = $2 WHERE message_sid = $1",
            &[&sid, &reply],
        )?;
        Ok(())
    }

    fn release_sms(&mut self, sid: &str) -> StoreResult<()> {
        exec(
            self.tx,
            "DELETE FROM sms_inbound WHERE message_sid = $1",
            &[&sid],
        )?;
        Ok(())
    }

    fn set_sms_opt_out(
        &mut self,
        person: &str,
        phone: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        match at {
            // A repeated STOP keeps the first opt-out time.
            Some(at) => exec(
                self.tx,
                "INSERT INTO sms_opt_outs (person, phone, opted_out_at) VALUES ($1, $2, $3)
                 ON CONFLICT (person) DO UPDATE SET phone = $2",
                &[&person, &phone, &ms(at)],
            )?,
            None => exec(
                self.tx,
                "DELETE FROM sms_opt_outs WHERE person = $1",
                &[&person],
            )?,
        };
        Ok(())
    }

    fn sms_opted_out_at(&mut self, person: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let at: Option<i64> = opt(
            self.tx,
            "SELECT opted_out_at FROM sms_opt_outs WHERE person = $1",
            &[&person],
            |r| r.try_get(0),
        )?;
        Ok(at.map(from_ms))
    }

    fn timeline(&mut self, id: i64) -> StoreResult<Vec<Event>> {
        timeline(self.tx, id)
    }

    fn timer(&mut self, kind: &str, key: &str) -> StoreResult<Option<Timer>> {
        opt(
            self.tx,
            "SELECT kind, key, due_at, data FROM timers WHERE kind = $1 AND key = $2",
            &[&kind, &key],
            rows::timer,
        )
    }

    fn insert_postmortem(&mut self, n: &NewPostmortem, now: DateTime<Utc>) -> StoreResult<i64> {
        let taken: bool = scalar(
            self.tx,
            "SELECT EXISTS (SELECT 1 FROM postmortems WHERE incident = $1)",
            &[&n.incident],
        )?;
        if taken {
            return Err(StoreError::Conflict(format!(
                "incident {} already has a postmortem",
                n.incident
            )));
        }
        let s = &n.sections;
        scalar(
            self.tx,
            "INSERT INTO postmortems (incident, team, state, author, approver, title, what_happened,
                how_fixed, cause, measures, client_summary, due_at, created_at, updated_at)
             VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
             RETURNING id",
            &[
                &n.incident,
                &n.team,
                &n.author,
                &n.approver,
                &n.title,
                &s.what_happened,
                &s.how_fixed,
                &s.cause,
                &s.measures,
                &s.client_summary,
                &ms(n.due_at),
                &ms(now),
            ],
        )
    }

    fn postmortem(&mut self, id: i64) -> StoreResult<Postmortem> {
        postmortem(self.tx, id)
    }

    fn postmortem_of(&mut self, incident: i64) -> StoreResult<Option<Postmortem>> {
        opt(
            self.tx,
            &format!(
                "SELECT {} FROM postmortems WHERE incident = $1",
                rows::POSTMORTEM
            ),
            &[&incident],
            rows::postmortem,
        )
    }

    fn update_postmortem(&mut self, pm: &Postmortem) -> StoreResult<()> {
        let s = &pm.sections;
        let n = exec(
            self.tx,
            "UPDATE postmortems SET state = $2, author = $3, title = $4, what_happened = $5,
                how_fixed = $6, cause = $7, measures = $8, no_measures_needed = $9, updated_at = $10,
                submitted_at = $11, approved_at = $12, approved_by = $13, published_at = $14,
                client_summary = $15
             WHERE id = $1",
            &[
                &pm.id,
                &pm.state.as_str(),
                &pm.author,
                &pm.title,
                &s.what_happened,
                &s.how_fixed,
                &s.cause,
                &s.measures,
                &(pm.no_measures_needed as i64),
                &ms(pm.updated_at),
                &pm.submitted_at.map(ms),
                &pm.approved_at.map(ms),
                &pm.approved_by,
                &pm.published_at.map(ms),
                &s.client_summary,
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn insert_action(&mut self, n: &NewAction, now: DateTime<Utc>) -> StoreResult<i64> {
        scalar(
            self.tx,
            "INSERT INTO action_items (postmortem, incident, team, title, assignee, deadline, priority,
                created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &n.postmortem,
                &n.incident,
                &n.team,
                &n.title,
                &n.assignee,
                &ms(n.deadline),
                &n.priority.as_str(),
                &n.created_by,
                &ms(now),
            ],
        )
    }

    fn action(&mut self, id: i64) -> StoreResult<ActionItem> {
        actions_where(self.tx, "id = $1", &[&id])?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)
    }

    fn update_action(&mut self, item: &ActionItem) -> StoreResult<()> {
        exec(
            self.tx,
            "UPDATE action_items SET done_at = $2, done_by = $3 WHERE id = $1",
            &[&item.id, &item.done_at.map(ms), &item.done_by],
        )?;
        Ok(())
    }

    fn actions_of(&mut self, postmortem: i64) -> StoreResult<Vec<ActionItem>> {
        actions_where(self.tx, "postmortem = $1 ORDER BY id", &[&postmortem])
    }

    fn open_actions_of_team(&mut self, team: &str) -> StoreResult<Vec<ActionItem>> {
        actions_where(
            self.tx,
            "team = $1 AND done_at IS NULL ORDER BY deadline, id",
            &[&team],
        )
    }

    fn active_windows(&mut self, now: DateTime<Utc>) -> StoreResult<Vec<Window>> {
        rows::all(
            self.tx,
            &format!(
                "SELECT {} FROM maintenance
                 WHERE ended_at IS NULL AND ends_at > $1 AND starts_at <= $1 ORDER BY id",
                rows::WINDOW
            ),
            &[&ms(now)],
            rows::window,
        )
    }

    fn insert_window(&mut self, w: &NewWindow, now: DateTime<Utc>) -> StoreResult<i64> {
        let (kind, id) = match &w.scope {
            Scope::Project(p) => ("project", p),
            Scope::Client(c) => ("client", c),
            Scope::Integration(i) => ("integration", i),
        };
        let matchers: Vec<String> = w.matchers.iter().map(|m| m.to_string()).collect();
        let client_reports = match w.client_reports {
            ClientReports::Page => "page",
            ClientReports::Hold => "hold",
        };
        scalar(
            self.tx,
            "INSERT INTO maintenance (scope_kind, scope, matchers, starts_at, ends_at, reason,
                client_reports, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &kind,
                id,
                &to_json(&matchers),
                &ms(w.from),
                &ms(w.to),
                &w.reason,
                &client_reports,
                &w.created_by,
                &ms(now),
            ],
        )
    }

    fn window(&mut self, id: i64) -> StoreResult<Option<Window>> {
        opt(
            self.tx,
            &format!("SELECT {} FROM maintenance WHERE id = $1", rows::WINDOW),
            &[&id],
            rows::window,
        )
    }

    fn end_window(&mut self, id: i64, by: &str, now: DateTime<Utc>) -> StoreResult<()> {
        exec(
            self.tx,
            "UPDATE maintenance SET ended_by = $2, ended_at = $3 WHERE id = $1 AND ended_at IS NULL",
            &[&id, &by, &ms(now)],
        )?;
        Ok(())
    }

    fn suppressed(&mut self) -> StoreResult<Vec<Incident>> {
        rows::all(
            self.tx,
            &format!(
                "SELECT {} FROM incidents WHERE state = 'suppressed' ORDER BY id",
                rows::INCIDENT
            ),
            &[],
            rows::incident,
        )
    }

    fn insert_override(&mut self, n: &NewOverride) -> StoreResult<i64> {
        scalar(
            self.tx,
            "INSERT INTO overrides (schedule, person, from_at, to_at, reason, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &n.schedule,
                &n.person,
                &ms(n.from),
                &ms(n.to),
                &n.reason,
                &n.created_by,
                &ms(n.created_at),
            ],
        )
    }

    fn override_by_id(&mut self, id: i64) -> StoreResult<StoredOverride> {
        opt(
            self.tx,
            &format!("SELECT {} FROM overrides WHERE id = $1", rows::OVERRIDE),
            &[&id],
            rows::stored_override,
        )?
        .ok_or(StoreError::NotFound)
    }

    fn delete_override(&mut self, id: i64, by: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(exec(
            self.tx,
            "UPDATE overrides SET deleted_by = $2, deleted_at = $3 WHERE id = $1 AND deleted_at IS NULL",
            &[&id, &by, &ms(at)],
        )? > 0)
    }

    fn overrides(&mut self, filter: &OverrideFilter) -> StoreResult<Vec<StoredOverride>> {
        overrides(self.tx, filter)
    }
}

/// Read-side queries on a pooled connection, outside any write transaction.
pub struct Reader<'a> {
    pub conn: RefCell<Cached<'a, postgres::Client>>,
}

impl Reader<'_> {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Cached<'_, postgres::Client>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut c = self
            .conn
            .try_borrow_mut()
            .map_err(|_| StoreError::Unavailable("reader connection busy".into()))?;
        f(&mut c)
    }
}

impl ReadRepo for Reader<'_> {
    fn list(
        &self,
        filter: StateFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<Incident>> {
        let state = match filter {
            StateFilter::Only(s) => Some(s.as_str()),
            _ => None,
        };
        let cond = match filter {
            StateFilter::Open => "state IN ('triggered', 'acknowledged')",
            StateFilter::Only(_) => "state = $2",
            StateFilter::All => "TRUE",
        };
        let sql = format!(
            "SELECT {} FROM incidents WHERE {cond} AND ($2::TEXT IS NULL OR TRUE)
             AND ($3::BIGINT IS NULL OR id < $3) ORDER BY id DESC LIMIT $1",
            rows::INCIDENT
        );
        let before = after.map(|c| c.id);
        self.with(|c| rows::all(c, &sql, &[&(limit as i64), &state, &before], rows::incident))
    }

    fn timeline(&self, id: i64) -> StoreResult<Vec<Event>> {
        self.with(|c| timeline(c, id))
    }

    fn alerts(&self, id: i64) -> StoreResult<Vec<AttachedAlert>> {
        self.with(|c| {
            rows::all(
                c,
                "SELECT fingerprint, status, summary, first_seen, last_seen FROM alerts
                 WHERE incident = $1 ORDER BY first_seen, fingerprint",
                &[&id],
                |r| {
                    Ok(AttachedAlert {
                        fingerprint: r.try_get(0)?,
                        status: r.try_get(1)?,
                        summary: r.try_get(2)?,
                        first_seen: from_ms(r.try_get(3)?),
                        last_seen: from_ms(r.try_get(4)?),
                    })
                },
            )
        })
    }

    fn get(&self, id: i64) -> StoreResult<Incident> {
        self.with(|c| get(c, id))
    }

    fn by_reference(&self, prefix: &str, seq: i64) -> StoreResult<i64> {
        self.with(|c| {
            opt(
                c,
                "SELECT id FROM incidents WHERE ref_prefix = $1 AND ref_seq = $2",
                &[&prefix, &seq],
                |r| r.try_get(0),
            )?
            .ok_or(StoreError::NotFound)
        })
    }

    fn count_by_state(&self) -> StoreResult<Vec<(State, i64)>> {
        let counts: Vec<(String, i64)> = self.with(|c| {
            rows::all(
                c,
                "SELECT state, count(*) FROM incidents GROUP BY state",
                &[],
                |r| Ok((r.try_get(0)?, r.try_get(1)?)),
            )
        })?;
        Ok(counts
            .into_iter()
            .filter_map(|(s, n)| s.parse().ok().map(|s| (s, n)))
            .collect())
    }

    fn next_timer(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<i64> = self.with(|c| scalar(c, "SELECT min(due_at) FROM timers", &[]))?;
        Ok(v.map(from_ms))
    }

    fn timers(&self, kind: &str) -> StoreResult<Vec<Timer>> {
        self.with(|c| {
            rows::all(
                c,
                "SELECT kind, key, due_at, data FROM timers WHERE kind = $1 ORDER BY due_at",
                &[&kind],
                rows::timer,
            )
        })
    }

    fn outbox_for(&self, incident: i64) -> StoreResult<Vec<OutboxRow>> {
        self.with(|c| outbox_where(c, "incident = $1 ORDER BY id", &[&incident]))
    }

    fn outbox_depth(&self) -> StoreResult<i64> {
        self.with(|c| {
            scalar(
                c,
                // Counts over the partial indexes, not a scan (as on SQLite).
                "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending')
                      + (SELECT count(*) FROM outbox WHERE status = 'sending')
                      + (SELECT count(*) FROM outbox WHERE status = 'bundled' AND sent_at IS NULL)",
                &[],
            )
        })
    }

    fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<i64> = self.with(|c| {
            scalar(
                c,
                "SELECT min(due_at) FROM outbox WHERE status = 'pending'",
                &[],
            )
        })?;
        Ok(v.map(from_ms))
    }

    fn presence_marks(&self, now: DateTime<Utc>) -> StoreResult<BTreeMap<String, PresenceMark>> {
        let marks = self.with(|c| {
            rows::all(
                c,
                "SELECT status, until, person FROM presence WHERE until > $1",
                &[&ms(now)],
                |r| Ok((r.try_get::<_, String>(2)?, rows::presence(r)?)),
            )
        })?;
        Ok(marks.into_iter().collect())
    }

    fn all_notify_rules(&self) -> StoreResult<BTreeMap<String, Vec<NotifyRule>>> {
        let texts: Vec<(String, String)> = self.with(|c| {
            rows::all(c, "SELECT person, rules FROM notify_rules", &[], |r| {
                Ok((r.try_get(0)?, r.try_get(1)?))
            })
        })?;
        Ok(texts
            .into_iter()
            .filter_map(|(p, t)| serde_json::from_str(&t).ok().map(|rules| (p, rules)))
            .collect())
    }

    fn outbox_to(&self, person: &str) -> StoreResult<Vec<OutboxRow>> {
        self.with(|c| outbox_where(c, "person = $1 ORDER BY id", &[&person]))
    }

    fn postmortems(&self, after: Option<Cursor>, limit: usize) -> StoreResult<Vec<Postmortem>> {
        let before = after.map(|c| c.id);
        self.with(|c| {
            rows::all(
                c,
                &format!(
                    "SELECT {} FROM postmortems WHERE $2::BIGINT IS NULL OR id < $2
                     ORDER BY id DESC LIMIT $1",
                    rows::POSTMORTEM
                ),
                &[&(limit as i64), &before],
                rows::postmortem,
            )
        })
    }

    fn postmortem(&self, id: i64) -> StoreResult<Postmortem> {
        self.with(|c| postmortem(c, id))
    }

    fn actions_of(&self, postmortem: i64) -> StoreResult<Vec<ActionItem>> {
        self.with(|c| actions_where(c, "postmortem = $1 ORDER BY id", &[&postmortem]))
    }

    fn actions(
        &self,
        filter: ActionFilter,
        assignee: Option<&str>,
        now: DateTime<Utc>,
        after: Option<Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<ActionItem>> {
        let status = match filter {
            ActionFilter::Open => "done_at IS NULL",
            ActionFilter::Overdue => "done_at IS NULL AND deadline <= $2",
            ActionFilter::Done => "done_at IS NOT NULL",
            ActionFilter::All => "TRUE",
        };
        let sql = format!(
            "{status} AND ($1::TEXT IS NULL OR assignee = $1) AND $2::BIGINT IS NOT NULL
             AND ($3::BIGINT IS NULL OR (deadline, id) > ($3, $4::BIGINT)) ORDER BY deadline, id LIMIT $5"
        );
        let (key, id) = (after.map(|c| c.key), after.map(|c| c.id));
        self.with(|c| actions_where(c, &sql, &[&assignee, &ms(now), &key, &id, &(limit as i64)]))
    }

    fn windows(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Window>> {
        self.with(|c| {
            rows::all(
                c,
                &format!(
                    "SELECT {} FROM maintenance
                     WHERE ended_at IS NULL AND ends_at > $1 ORDER BY starts_at, id LIMIT $2",
                    rows::WINDOW
                ),
                &[&ms(now), &(limit as i64)],
                rows::window,
            )
        })
    }

    fn overrides(&self, filter: &OverrideFilter) -> StoreResult<Vec<StoredOverride>> {
        self.with(|c| overrides(c, filter))
    }

    fn report_rows(&self, range: Range, as_of: DateTime<Utc>) -> StoreResult<Rows> {
        let mut out = Rows::default();
        let raw = self.with(|c| {
            Ok(c.query(
                "SELECT 'incident'::TEXT, project, client, assignee, NULL::TEXT,
                       started_at, acknowledged_at, resolved_at
                  FROM incidents WHERE created_at >= $1 AND created_at < $2
                UNION ALL
                SELECT 'page', i.project, i.client, o.person, o.channel, o.sent_at, NULL, NULL
                  FROM outbox o LEFT JOIN incidents i ON i.id = o.incident
                 WHERE o.kind = 'page' AND o.status IN ('sent', 'delivered', 'bundled')
                   AND o.sent_at >= $1 AND o.sent_at < $2
                UNION ALL
                SELECT 'postmortem', i.project, i.client, p.author, NULL, p.due_at, p.approved_at, NULL
                  FROM postmortems p JOIN incidents i ON i.id = p.incident
                 WHERE p.due_at >= $1 AND p.due_at < $2
                UNION ALL
                SELECT 'action', i.project, i.client, a.assignee, NULL, a.deadline, NULL, NULL
                  FROM action_items a JOIN incidents i ON i.id = a.incident
                 WHERE a.created_at <= $3 AND (a.done_at IS NULL OR a.done_at > $3)",
                &[&ms(range.from), &ms(range.to), &ms(as_of)],
            )?)
        })?;
        for r in &raw {
            let at = |i: usize| -> Result<Option<DateTime<Utc>>, postgres::Error> {
                Ok(r.try_get::<_, Option<i64>>(i)?.map(from_ms))
            };
            let first = at(5)?.unwrap_or(DateTime::<Utc>::MIN_UTC);
            match r.try_get::<_, String>(0)?.as_str() {
                "incident" => out.incidents.push(IncidentRow {
                    project: r.try_get(1)?,
                    client: r.try_get(2)?,
                    assignee: r.try_get(3)?,
                    started_at: first,
                    acknowledged_at: at(6)?,
                    resolved_at: at(7)?,
                }),
                "page" => out.pages.push(PageRow {
                    project: r.try_get(1)?,
                    client: r.try_get(2)?,
                    person: r.try_get(3)?,
                    channel: r.try_get(4)?,
                    sent_at: first,
                }),
                "postmortem" => out.postmortems.push(PostmortemRow {
                    project: r.try_get(1)?,
                    client: r.try_get(2)?,
                    author: r.try_get(3)?,
                    due_at: first,
                    approved_at: at(6)?,
                }),
                _ => out.actions.push(ActionRow {
                    project: r.try_get(1)?,
                    client: r.try_get(2)?,
                    assignee: r.try_get(3)?,
                    deadline: first,
                }),
            }
        }
        Ok(out)
    }
}
