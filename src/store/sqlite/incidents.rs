//! `incident::Repo` and `ReadRepo` over SQLite. Times are stored as Unix
//! milliseconds; JSON columns hold labels, links and details.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::config::NotifyRule;
use crate::incident::model::Actor;
use crate::incident::reference;
use crate::incident::{
    AttachedAlert, Diagnosis, Event, Incident, NewIncident, OverrideFilter, ReadRepo, Repo,
    SmsClaim, State, StateFilter, Timer,
};
use crate::incident::{BundleHead, BundleSummary, OutboxRow, ReportLeft};
use crate::routing::{NewOverride, PresenceMark, Status, StoredOverride};

use super::maintenance;
use super::outbox;
use super::overrides;
use super::postmortems as pm;
use crate::followup::actions::{ActionItem, Filter as ActionFilter, NewAction};
use crate::followup::postmortem::{NewPostmortem, Postmortem};
use crate::incident::maintenance::{NewWindow, Window};
use crate::store::{Cursor, StoreError, StoreResult};

pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn opt_ms(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.map(from_ms)
}

fn json_col<T: serde::de::DeserializeOwned + Default>(s: String) -> T {
    serde_json::from_str(&s).unwrap_or_default()
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

const COLUMNS: &str = "id, project, client, title, severity, state, critical, source, integration, dedup_key,
    client_reported, labels, annotations, links, details, alert_count, created_at, last_seen_at,
    acknowledged_at, resolved_at, downgraded_at, assignee, layer, reproducible, serious, serious_reason,
    provider_ticket, ref_prefix, ref_seq, started_at, announced";

fn incident_row(r: &Row<'_>) -> rusqlite::Result<Incident> {
    let text = |i: usize| r.get::<_, String>(i);
    Ok(Incident {
        id: r.get(0)?,
        project: text(1)?,
        client: text(2)?,
        title: text(3)?,
        severity: text(4)?
            .parse()
            .unwrap_or(crate::ingest::alert::Severity::Critical),
        state: text(5)?.parse().unwrap_or(State::Triggered),
        critical: r.get::<_, i64>(6)? != 0,
        source: serde_json::from_value(serde_json::Value::String(text(7)?))
            .unwrap_or(crate::ingest::alert::Source::Trigger),
        integration: r.get(8)?,
        dedup_key: r.get(9)?,
        client_reported: r.get::<_, i64>(10)? != 0,
        labels: json_col(text(11)?),
        annotations: json_col(text(12)?),
        links: json_col(text(13)?),
        details: serde_json::from_str(&text(14)?).unwrap_or(serde_json::Value::Null),
        alert_count: r.get(15)?,
        created_at: from_ms(r.get(16)?),
        last_seen_at: from_ms(r.get(17)?),
        acknowledged_at: opt_ms(r.get(18)?),
        resolved_at: opt_ms(r.get(19)?),
        downgraded_at: opt_ms(r.get(20)?),
        assignee: r.get(21)?,
        layer: r.get::<_, Option<String>>(22)?.and_then(|l| l.parse().ok()),
        reproducible: r.get::<_, Option<i64>>(23)?.map(|v| v != 0),
        serious: r.get::<_, i64>(24)? != 0,
        serious_reason: r.get(25)?,
        provider_ticket: r.get(26)?,
        reference: reference::format(&text(27)?, r.get(28)?),
        started_at: from_ms(r.get(29)?),
        announced: r.get::<_, i64>(30)? != 0,
    })
}

fn get(conn: &Connection, id: i64) -> StoreResult<Incident> {
    super::row(
        conn,
        &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
        [id],
        incident_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

fn source_str(s: crate::ingest::alert::Source) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn timer_row(r: &Row<'_>) -> rusqlite::Result<Timer> {
    Ok(Timer {
        kind: r.get(0)?,
        key: r.get(1)?,
        due: from_ms(r.get(2)?),
        data: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or(serde_json::Value::Null),
    })
}

fn presence_row(r: &Row<'_>) -> rusqlite::Result<PresenceMark> {
    let status = if r.get::<_, String>(0)? == "online" {
        Status::Online
    } else {
        Status::Offline
    };
    Ok(PresenceMark {
        status,
        until: from_ms(r.get(1)?),
    })
}

/// Keeps a replaced snapshot of a group (processed at `at`, ms) for the
/// HA copy window.
fn keep_recent(
    conn: &Connection,
    integration: &str,
    group_key: &str,
    key: &str,
    at: i64,
) -> StoreResult<()> {
    super::exec(
        conn,
        "INSERT INTO deliveries (integration, group_key, key, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (integration, group_key, key) DO UPDATE SET at = excluded.at",
        params![integration, group_key, key, at],
    )?;
    Ok(())
}

/// How often jobs drop alert snapshots past their copy window (ms).
const PRUNE_EVERY_MS: i64 = 1000;

/// A `Repo` bound to the writer's transaction, for one job.
pub struct TxRepo<'a> {
    pub conn: &'a Connection,
    /// What the transaction changed that a background task waits on.
    pub touched: Touched,
    /// The incident last read, as stored now: one job reads the incident
    /// it works on many times (opening, routing, paging, reminders), and
    /// decoding the row was the writer's largest single cost. Every method
    /// that writes `incidents` updates it as the row now reads (`kept`) or
    /// drops it (`changed`); it lives for one job, so a rolled-back job
    /// cannot leave it behind. The incident a job inserts is kept as
    /// written, so it is never read back.
    cached: Option<Incident>,
    /// The incident this job inserted.
    opened: Option<i64>,
    /// An incident this job marked seen, and when (ms).
    seen: Option<(i64, i64)>,
    /// The store's last drop of old alert snapshots (ms).
    pruned_at: &'a AtomicI64,
    /// Timeline events the job appended, not yet written: they go in
    /// together, one statement (`flush`), before anything reads the
    /// timeline and when the job ends.
    appended: Vec<Appended>,
}

/// A timeline row: incident, at (ms), actor, kind, detail.
type Appended = (i64, i64, String, String, String);

/// Most timeline rows one statement writes (a new incident appends four).
const APPEND_ROWS: usize = 8;

/// The statement that writes `n` timeline rows (1..=APPEND_ROWS), built once.
fn append_sql(n: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        (1..=APPEND_ROWS)
            .map(|n| {
                let rows = vec!["(?, ?, ?, ?, ?)"; n].join(", ");
                format!("INSERT INTO timeline (incident, at, actor, kind, detail) VALUES {rows}")
            })
            .collect()
    });
    &all[n.clamp(1, APPEND_ROWS) - 1]
}

impl<'a> TxRepo<'a> {
    pub fn new(conn: &'a Connection, pruned_at: &'a AtomicI64) -> Self {
        TxRepo {
            conn,
            touched: Touched::default(),
            cached: None,
            opened: None,
            seen: None,
            pruned_at,
            appended: Vec::new(),
        }
    }

    /// After a write to `incidents` whose effect the kept row cannot follow.
    fn changed(&mut self) {
        self.cached = None;
    }

    /// The kept incident, when it is `id`: a write to its row that
    /// succeeded updates it to what the row now holds.
    fn kept(&mut self, id: i64) -> Option<&mut Incident> {
        self.cached.as_mut().filter(|i| i.id == id)
    }

    /// Writes the timeline events appended so far. Called before the
    /// timeline is read in the job and when the job ends (`transact`).
    pub fn flush(&mut self) -> StoreResult<()> {
        for chunk in self.appended.chunks(APPEND_ROWS) {
            let mut stmt = self.conn.prepare_cached(append_sql(chunk.len()))?;
            let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 5);
            for (incident, at, actor, kind, detail) in chunk {
                values.extend([incident as &dyn rusqlite::ToSql, at, actor, kind, detail]);
            }
            stmt.execute(values.as_slice())?;
        }
        self.appended.clear();
        Ok(())
    }
}

/// Which waiting tasks a committed transaction must wake.
#[derive(Debug, Default, Clone)]
pub struct Touched {
    pub timers: bool,
    pub outbox: bool,
    /// Alert groups whose last snapshot was forgotten (`forget_delivery`).
    pub forgotten: Vec<(String, String)>,
}

impl Repo for TxRepo<'_> {
    fn get(&mut self, id: i64) -> StoreResult<Incident> {
        if let Some(i) = self.cached.as_ref().filter(|i| i.id == id) {
            // Debug builds (every test run) check the kept row against the
            // store, so a write that forgot `changed()` fails loudly.
            if cfg!(debug_assertions) {
                let fresh = get(self.conn, id)?;
                debug_assert_eq!(
                    serde_json::to_value(&fresh).ok(),
                    serde_json::to_value(i).ok(),
                    "incident {id} kept by the job differs from the store"
                );
            }
            return Ok(i.clone());
        }
        let i = get(self.conn, id)?;
        self.cached = Some(i.clone());
        Ok(i)
    }

    fn state_of(&mut self, id: i64) -> StoreResult<State> {
        if let Some(i) = self.cached.as_ref().filter(|i| i.id == id) {
            return Ok(i.state);
        }
        let state: String = super::row(
            self.conn,
            "SELECT state FROM incidents WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
        // Read as `incident_row` reads it.
        Ok(state.parse().unwrap_or(State::Triggered))
    }

    fn find_open(&mut self, integration: &str, key: &str) -> StoreResult<Option<Incident>> {
        let found = super::row(self.conn,
                &format!("SELECT {COLUMNS} FROM incidents WHERE integration = ?1 AND dedup_key = ?2 AND state <> 'resolved'"),
                params![integration, key],
                incident_row,
            )
            .optional()?;
        if let Some(i) = &found {
            self.cached = Some(i.clone());
        }
        Ok(found)
    }

    fn find_open_id(&mut self, integration: &str, key: &str) -> StoreResult<Option<i64>> {
        // Decoding the whole row was most of a join's lookup (callgrind).
        if let Some(i) = &self.cached
            && i.integration.as_deref() == Some(integration)
            && i.dedup_key.as_deref() == Some(key)
            && i.state != State::Resolved
        {
            return Ok(Some(i.id));
        }
        Ok(super::row(
            self.conn,
            "SELECT id FROM incidents WHERE integration = ?1 AND dedup_key = ?2 AND state <> 'resolved'",
            params![integration, key],
            |r| r.get(0),
        )
        .optional()?)
    }

    fn find_resolved_since(
        &mut self,
        integration: &str,
        key: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<Incident>> {
        Ok(super::row(
            self.conn,
            &format!(
                    "SELECT {COLUMNS} FROM incidents WHERE integration = ?1 AND dedup_key = ?2
                     AND state = 'resolved' AND resolved_at >= ?3 ORDER BY resolved_at DESC LIMIT 1"
                ),
            params![integration, key, ms(since)],
            incident_row,
        )
        .optional()?)
    }

    fn insert(&mut self, n: &NewIncident, state: State, now: DateTime<Utc>) -> StoreResult<i64> {
        self.changed();
        let t = ms(now);
        let prefix = reference::prefix(&n.client);
        let (links, details) = (to_json(&n.links), to_json(&n.details));
        // The client's sequence is taken in this transaction (the writer is
        // the only one), and the unique index makes any slip an error. Not
        // `RETURNING`: SQLite runs it through a temporary table, which cost
        // more than the insert itself (callgrind, the store writer).
        let seq: i64 = super::row(
            self.conn,
            "SELECT coalesce(max(ref_seq), 0) + 1 FROM incidents WHERE ref_prefix = ?1",
            [&prefix],
            |r| r.get(0),
        )?;
        super::exec(self.conn,
            "INSERT INTO incidents (project, client, title, severity, state, critical, source, integration,
                dedup_key, client_reported, labels, annotations, links, details, alert_count, created_at,
                last_seen_at, downgraded_at, started_at, ref_prefix, ref_seq, announced)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0, ?15, ?15, ?16, ?17, ?18,
                ?19, ?10)",
            params![
                n.project,
                n.client,
                n.title,
                n.severity.as_str(),
                state.as_str(),
                n.critical as i64,
                source_str(n.source),
                n.integration,
                n.dedup_key,
                n.client_reported as i64,
                to_json(&n.labels),
                to_json(&n.annotations),
                links,
                details,
                t,
                (state == State::Downgraded).then_some(t),
                ms(n.started_at),
                prefix,
                seq,
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        self.opened = Some(id);
        // Kept as `incident_row` would read it back (times in whole ms,
        // JSON columns decoded from what was stored).
        self.cached = Some(Incident {
            id,
            reference: reference::format(&prefix, seq),
            project: n.project.clone(),
            client: n.client.clone(),
            title: n.title.clone(),
            severity: n.severity,
            state,
            critical: n.critical,
            source: n.source,
            integration: n.integration.clone(),
            dedup_key: n.dedup_key.clone(),
            client_reported: n.client_reported,
            labels: n.labels.clone(),
            annotations: n.annotations.clone(),
            links: json_col(links),
            details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
            alert_count: 0,
            started_at: from_ms(ms(n.started_at)),
            created_at: from_ms(t),
            last_seen_at: from_ms(t),
            acknowledged_at: None,
            resolved_at: None,
            downgraded_at: (state == State::Downgraded).then(|| from_ms(t)),
            assignee: None,
            layer: None,
            reproducible: None,
            serious: false,
            serious_reason: None,
            provider_ticket: None,
            announced: n.client_reported,
        });
        Ok(id)
    }

    fn set_state(
        &mut self,
        id: i64,
        state: State,
        now: DateTime<Utc>,
        assignee: Option<&str>,
    ) -> StoreResult<()> {
        let t = ms(now);
        let column = match state {
            State::Acknowledged => "acknowledged_at",
            State::Resolved => "resolved_at",
            State::Downgraded => "downgraded_at",
            // Back to triggered (or held by a window): open again.
            State::Triggered | State::Suppressed => "resolved_at",
        };
        let value = (!matches!(state, State::Triggered | State::Suppressed)).then_some(t);
        let n = super::exec(
            self.conn,
            &format!(
                "UPDATE incidents SET state = ?1, {column} = ?2, assignee = coalesce(?3, assignee) WHERE id = ?4"
            ),
            params![state.as_str(), value, assignee, id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(i) = self.kept(id) {
            i.state = state;
            let at = value.map(from_ms);
            match state {
                State::Acknowledged => i.acknowledged_at = at,
                State::Downgraded => i.downgraded_at = at,
                State::Resolved | State::Triggered | State::Suppressed => i.resolved_at = at,
            }
            if let Some(a) = assignee {
                i.assignee = Some(a.to_string());
            }
        }
        Ok(())
    }

    fn set_diagnosis(&mut self, id: i64, d: &Diagnosis) -> StoreResult<()> {
        self.changed();
        super::exec(self.conn,
            "UPDATE incidents SET layer = coalesce(?1, layer), reproducible = coalesce(?2, reproducible),
                serious = coalesce(?3, serious), serious_reason = coalesce(?4, serious_reason),
                severity = coalesce(?5, severity), provider_ticket = coalesce(?6, provider_ticket)
             WHERE id = ?7",
            params![
                d.layer.map(|l| l.as_str()),
                d.reproducible.map(|r| r as i64),
                d.serious.map(|s| s as i64),
                d.serious_reason,
                d.severity.map(|s| s.as_str()),
                d.provider_ticket,
                id
            ],
        )?;
        Ok(())
    }

    fn raise(&mut self, id: i64, severity: crate::ingest::alert::Severity) -> StoreResult<()> {
        self.changed();
        super::exec(
            self.conn,
            "UPDATE incidents SET critical = 1, severity = ?2 WHERE id = ?1",
            params![id, severity.as_str()],
        )?;
        Ok(())
    }

    fn mark_announced(&mut self, id: i64) -> StoreResult<()> {
        let n = super::exec(
            self.conn,
            "UPDATE incidents SET announced = 1 WHERE id = ?1",
            [id],
        )?;
        if let Some(i) = self.kept(id).filter(|_| n > 0) {
            i.announced = true;
        }
        Ok(())
    }

    fn told_online(&mut self, id: i64) -> StoreResult<Option<String>> {
        super::row(
            self.conn,
            "SELECT told_online FROM incidents WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotFound)
    }

    fn set_told_online(&mut self, id: i64, who: Option<&str>) -> StoreResult<()> {
        super::exec(
            self.conn,
            "UPDATE incidents SET told_online = ?1 WHERE id = ?2",
            params![who, id],
        )?;
        Ok(())
    }

    fn set_assignee(&mut self, id: i64, person: &str) -> StoreResult<()> {
        let n = super::exec(
            self.conn,
            "UPDATE incidents SET assignee = ?1 WHERE id = ?2",
            params![person, id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(i) = self.kept(id) {
            i.assignee = Some(person.to_string());
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
        self.appended.push((
            id,
            ms(now),
            actor.to_string(),
            kind.to_string(),
            to_json(&detail),
        ));
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
        // An incident this job opened has no alert but those it counted.
        let none_yet = self.opened == Some(id) && self.kept(id).is_some_and(|i| i.alert_count == 0);
        // Most alerts of a snapshot are as the last one left them (every
        // snapshot repeats the whole group): one statement for those; a new
        // one takes two, as before; a changed status three.
        if !none_yet
            && super::exec(
                self.conn,
                "UPDATE alerts SET summary = ?4, last_seen = ?5
                 WHERE incident = ?1 AND fingerprint = ?2 AND status = ?3",
                params![id, fingerprint, status, summary, ms(now)],
            )? > 0
        {
            return Ok(Some(status.to_string()));
        }
        let inserted = super::exec(
            self.conn,
            "INSERT INTO alerts (incident, fingerprint, status, summary, labels, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (incident, fingerprint) DO NOTHING",
            params![id, fingerprint, status, summary, to_json(labels), ms(now)],
        )? > 0;
        let previous: Option<String> = if inserted {
            None
        } else {
            // There, with the other status.
            let was = super::row(
                self.conn,
                "SELECT status FROM alerts WHERE incident = ?1 AND fingerprint = ?2",
                params![id, fingerprint],
                |r| r.get(0),
            )?;
            super::exec(
                self.conn,
                "UPDATE alerts SET status = ?3, summary = ?4, last_seen = ?5
                 WHERE incident = ?1 AND fingerprint = ?2",
                params![id, fingerprint, status, summary, ms(now)],
            )?;
            Some(was)
        };
        if previous.is_none() {
            // Kept incrementally: counting on every join grows with the group.
            // The same statement marks the incident seen (the job's `touch`
            // then has nothing to write).
            let n = super::exec(
                self.conn,
                "UPDATE incidents SET alert_count = alert_count + 1, last_seen_at = ?2 WHERE id = ?1",
                params![id, ms(now)],
            )?;
            if n > 0 {
                self.seen = Some((id, ms(now)));
            }
            if let Some(i) = self.kept(id).filter(|_| n > 0) {
                i.alert_count += 1;
                i.last_seen_at = from_ms(ms(now));
            }
        }
        Ok(previous)
    }

    fn any_firing(&mut self, id: i64) -> StoreResult<bool> {
        Ok(super::row(
            self.conn,
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE incident = ?1 AND status = 'firing')",
            [id],
            |r| r.get(0),
        )?)
    }

    fn touch(&mut self, id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let at = from_ms(ms(now));
        // An incident opened by this job, or given an alert by it, was last
        // seen now already.
        if self.seen == Some((id, ms(now))) || self.kept(id).is_some_and(|i| i.last_seen_at == at) {
            return Ok(());
        }
        let n = super::exec(
            self.conn,
            "UPDATE incidents SET last_seen_at = ?1 WHERE id = ?2",
            params![ms(now), id],
        )?;
        if let Some(i) = self.kept(id).filter(|_| n > 0) {
            i.last_seen_at = at;
        }
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
        let last: Option<(String, i64)> = super::row(
            self.conn,
            "SELECT key, at FROM delivery_last WHERE integration = ?1 AND group_key = ?2",
            params![integration, group_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
        let duplicate = last.as_ref().is_some_and(|(k, _)| k == key)
            || super::row(
                self.conn,
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE integration = ?1 AND group_key = ?2 AND key = ?3 AND at >= ?4)",
                params![integration, group_key, key, since],
                |r| r.get(0),
            )?;
        if duplicate {
            return Ok(true);
        }
        super::exec(
            self.conn,
            "INSERT INTO delivery_last (integration, group_key, key, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (integration, group_key) DO UPDATE SET key = excluded.key, at = excluded.at",
            params![integration, group_key, key, ms(now)],
        )?;
        // The snapshot it replaces is kept while an HA copy of it can still
        // come; a group's first snapshot writes only its last row.
        if let Some((previous, at)) = last.filter(|(_, at)| *at >= since) {
            keep_recent(self.conn, integration, group_key, &previous, at)?;
        }
        // Out of the copy window, a snapshot is never read again (the check
        // above ignores it): dropped at most once a second, not for every
        // alert (a rolled-back job's drop waits for the next one).
        let now = ms(now);
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= PRUNE_EVERY_MS || now < last {
            self.pruned_at.store(now, Ordering::Relaxed);
            super::exec(
                self.conn,
                "DELETE FROM deliveries WHERE at < ?1",
                params![since],
            )?;
        }
        Ok(false)
    }

    fn forget_delivery(&mut self, integration: &str, group_key: &str) -> StoreResult<()> {
        // Its last snapshot still counts within the copy window.
        super::exec(
            self.conn,
            "INSERT INTO deliveries (integration, group_key, key, at)
             SELECT integration, group_key, key, at FROM delivery_last
             WHERE integration = ?1 AND group_key = ?2
             ON CONFLICT (integration, group_key, key) DO UPDATE SET at = excluded.at",
            params![integration, group_key],
        )?;
        super::exec(
            self.conn,
            "DELETE FROM delivery_last WHERE integration = ?1 AND group_key = ?2",
            params![integration, group_key],
        )?;
        self.touched
            .forgotten
            .push((integration.to_string(), group_key.to_string()));
        Ok(())
    }

    fn set_timer(&mut self, t: &Timer) -> StoreResult<()> {
        self.touched.timers = true;
        super::exec(
            self.conn,
            "INSERT INTO timers (kind, key, due_at, data) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, key) DO UPDATE SET due_at = ?3, data = ?4",
            params![t.kind, t.key, ms(t.due), to_json(&t.data)],
        )?;
        Ok(())
    }

    fn set_timer_if_absent(&mut self, t: &Timer) -> StoreResult<()> {
        self.touched.timers = true;
        super::exec(
            self.conn,
            "INSERT OR IGNORE INTO timers (kind, key, due_at, data) VALUES (?1, ?2, ?3, ?4)",
            params![t.kind, t.key, ms(t.due), to_json(&t.data)],
        )?;
        Ok(())
    }

    fn delete_timer(&mut self, kind: &str, key: &str) -> StoreResult<()> {
        super::exec(
            self.conn,
            "DELETE FROM timers WHERE kind = ?1 AND key = ?2",
            params![kind, key],
        )?;
        Ok(())
    }

    fn take_due(&mut self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Timer>> {
        let timers = {
            // The limit is a literal: SQLite re-prepares a statement with a
            // bound LIMIT on every run.
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT kind, key, due_at, data FROM timers WHERE due_at <= ?1 ORDER BY due_at, kind, key LIMIT {limit}"
            ))?;
            let rows = stmt.query_map(params![ms(now)], timer_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        for t in &timers {
            super::exec(
                self.conn,
                "DELETE FROM timers WHERE kind = ?1 AND key = ?2",
                params![t.kind, t.key],
            )?;
        }
        Ok(timers)
    }

    fn presence(&mut self, person: &str) -> StoreResult<Option<PresenceMark>> {
        Ok(super::row(
            self.conn,
            "SELECT status, until FROM presence WHERE person = ?1",
            [person],
            presence_row,
        )
        .optional()?)
    }

    fn notify_rules(&mut self, person: &str) -> StoreResult<Option<Vec<NotifyRule>>> {
        let text: Option<String> = super::row(
            self.conn,
            "SELECT rules FROM notify_rules WHERE person = ?1",
            [person],
            |r| r.get(0),
        )
        .optional()?;
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
                super::exec(
                    self.conn,
                    "INSERT INTO notify_rules (person, rules, set_by, set_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (person) DO UPDATE SET rules = ?2, set_by = ?3, set_at = ?4",
                    params![person, text, set_by, ms(now)],
                )?
            }
            None => super::exec(
                self.conn,
                "DELETE FROM notify_rules WHERE person = ?1",
                [person],
            )?,
        };
        Ok(n > 0)
    }

    fn clear_presence(&mut self, person: &str) -> StoreResult<bool> {
        Ok(super::exec(
            self.conn,
            "DELETE FROM presence WHERE person = ?1",
            [person],
        )? > 0)
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
        super::exec(self.conn,
            "INSERT INTO presence (person, status, until, set_by, set_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (person) DO UPDATE SET status = ?2, until = ?3, set_by = ?4, set_at = ?5",
            params![person, status, ms(mark.until), set_by, ms(now)],
        )?;
        Ok(())
    }

    fn escalation(&mut self, id: i64) -> StoreResult<Option<crate::escalation::EscalationState>> {
        outbox::escalation(self.conn, id)
    }

    fn put_escalation(
        &mut self,
        id: i64,
        state: &crate::escalation::EscalationState,
    ) -> StoreResult<()> {
        outbox::put_escalation(self.conn, id, state)
    }

    fn insert_outbox(&mut self, row: &OutboxRow) -> StoreResult<i64> {
        // A row folded into a waiting SMS is sent with it: no claim to wake.
        self.touched.outbox |= row.status != "bundled";
        outbox::insert(self.conn, row)
    }

    fn update_outbox(&mut self, row: &OutboxRow) -> StoreResult<()> {
        self.touched.outbox = true;
        outbox::update(self.conn, row)
    }

    fn outbox(&mut self, id: i64) -> StoreResult<OutboxRow> {
        outbox::get(self.conn, id)
    }

    fn outbox_due(&mut self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        Ok(super::row(
            self.conn,
            "SELECT status = 'pending' AND due_at <= ?2 FROM outbox WHERE id = ?1",
            params![id, ms(now)],
            |r| r.get(0),
        )?)
    }

    fn due_outbox(&mut self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        outbox::due(self.conn, now, limit)
    }

    fn defer_pending(
        &mut self,
        person: &str,
        channel: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<usize> {
        self.touched.outbox = true;
        outbox::defer(self.conn, person, channel, until)
    }

    fn bundle_head(
        &mut self,
        person: &str,
        channel: &str,
        due_by: DateTime<Utc>,
    ) -> StoreResult<Option<BundleHead>> {
        outbox::head(self.conn, person, channel, due_by)
    }

    fn fold_into(
        &mut self,
        head: i64,
        person: &str,
        channel: &str,
        due_by: DateTime<Utc>,
    ) -> StoreResult<usize> {
        self.touched.outbox = true;
        outbox::fold_into(self.conn, head, person, channel, due_by)
    }

    fn leave_out_stopped(&mut self, head: i64) -> StoreResult<usize> {
        self.touched.outbox = true;
        outbox::leave_out_stopped(self.conn, head)
    }

    fn bundle_summary(&mut self, head: &OutboxRow) -> StoreResult<BundleSummary> {
        outbox::summary(self.conn, head)
    }

    fn finish_bundle(&mut self, head: &OutboxRow, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        self.touched.outbox = true;
        outbox::finish_bundle(self.conn, head, limit)
    }

    fn unfinished_bundles(&mut self) -> StoreResult<Vec<i64>> {
        self.touched.outbox = true;
        outbox::unfinished_bundles(self.conn)
    }

    fn unbundle(&mut self, head: i64) -> StoreResult<()> {
        self.touched.outbox = true;
        outbox::unbundle(self.conn, head)?;
        Ok(())
    }

    fn last_sent(&mut self, person: &str, channel: &str) -> StoreResult<Option<DateTime<Utc>>> {
        outbox::last_sent(self.conn, person, channel)
    }

    fn sent_since(
        &mut self,
        person: &str,
        channel: &str,
        since: DateTime<Utc>,
        at_most: u32,
    ) -> StoreResult<i64> {
        outbox::sent_since(self.conn, person, channel, since, at_most)
    }

    fn cancel_pages(&mut self, incident: i64) -> StoreResult<i64> {
        self.touched.outbox = true;
        outbox::cancel_pages(self.conn, incident, None)
    }

    fn cancel_pages_to(&mut self, incident: i64, person: &str) -> StoreResult<i64> {
        self.touched.outbox = true;
        outbox::cancel_pages(self.conn, incident, Some(person))
    }

    fn page_channels_since(
        &mut self,
        incident: i64,
        person: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        outbox::page_channels_since(self.conn, incident, person, since)
    }

    fn pages_sent(&mut self, incident: i64) -> StoreResult<Vec<OutboxRow>> {
        outbox::pages_sent(self.conn, incident)
    }

    fn outbox_by_provider_id(&mut self, provider_id: &str) -> StoreResult<Option<OutboxRow>> {
        outbox::by_provider_id(self.conn, provider_id)
    }

    fn bundled_into(&mut self, head: i64, after: i64, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        outbox::bundled_into(self.conn, head, after, limit)
    }

    fn fell_back_in_bundle(
        &mut self,
        head: i64,
        incident: Option<i64>,
        person: Option<&str>,
    ) -> StoreResult<bool> {
        outbox::fell_back_in_bundle(self.conn, head, incident, person)
    }

    fn keep_report_left(&mut self, left: &ReportLeft, at: DateTime<Utc>) -> StoreResult<()> {
        outbox::keep_report_left(self.conn, left, at)
    }

    fn drop_report_left(&mut self, left: &ReportLeft) -> StoreResult<()> {
        outbox::drop_report_left(self.conn, left)
    }

    fn reports_left(&mut self, before: DateTime<Utc>) -> StoreResult<Vec<ReportLeft>> {
        outbox::reports_left(self.conn, before)
    }

    fn early_report(&mut self, provider_id: &str) -> StoreResult<Option<(String, Option<u32>)>> {
        outbox::early_report(self.conn, provider_id)
    }

    fn keep_early_report(
        &mut self,
        provider_id: &str,
        status: &str,
        error_code: Option<u32>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        outbox::keep_early_report(self.conn, provider_id, status, error_code, at)
    }

    fn drop_early_report(&mut self, provider_id: &str) -> StoreResult<()> {
        outbox::drop_early_report(self.conn, provider_id)
    }

    fn requeue_in_flight(&mut self, claimed_before: DateTime<Utc>) -> StoreResult<Vec<OutboxRow>> {
        self.touched.outbox = true;
        outbox::requeue_in_flight(self.conn, claimed_before)
    }

    fn record_change_event(
        &mut self,
        integration: &str,
        project: &str,
        now: DateTime<Utc>,
        summary: &str,
        detail: serde_json::Value,
    ) -> StoreResult<i64> {
        super::exec(
            self.conn,
            "INSERT INTO change_events (integration, project, at, summary, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![integration, project, ms(now), summary, to_json(&detail)],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn paged_to(&mut self, person: &str) -> StoreResult<Vec<i64>> {
        // It reads the job's own "page queued" events too.
        self.flush()?;
        super::sms::paged_to(self.conn, person)
    }

    fn claim_sms(&mut self, sid: &str, person: &str, now: DateTime<Utc>) -> StoreResult<SmsClaim> {
        super::sms::claim(self.conn, sid, person, now)
    }

    fn set_sms_reply(&mut self, sid: &str, reply: &str) -> StoreResult<()> {
        super::sms::set_reply(self.conn, sid, reply)
    }

    fn release_sms(&mut self, sid: &str) -> StoreResult<()> {
        super::sms::release(self.conn, sid)
    }

    fn set_sms_opt_out(
        &mut self,
        person: &str,
        phone: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        super::sms::set_opt_out(self.conn, person, phone, at)
    }

    fn sms_opted_out_at(&mut self, person: &str) -> StoreResult<Option<DateTime<Utc>>> {
        super::sms::opted_out_at(self.conn, person)
    }

    fn timeline(&mut self, id: i64) -> StoreResult<Vec<Event>> {
        self.flush()?;
        timeline(self.conn, id)
    }

    fn timer(&mut self, kind: &str, key: &str) -> StoreResult<Option<Timer>> {
        Ok(super::row(
            self.conn,
            "SELECT kind, key, due_at, data FROM timers WHERE kind = ?1 AND key = ?2",
            params![kind, key],
            timer_row,
        )
        .optional()?)
    }

    fn insert_postmortem(&mut self, new: &NewPostmortem, now: DateTime<Utc>) -> StoreResult<i64> {
        pm::insert(self.conn, new, now)
    }

    fn postmortem(&mut self, id: i64) -> StoreResult<Postmortem> {
        pm::get(self.conn, id)
    }

    fn postmortem_of(&mut self, incident: i64) -> StoreResult<Option<Postmortem>> {
        pm::of_incident(self.conn, incident)
    }

    fn update_postmortem(&mut self, p: &Postmortem) -> StoreResult<()> {
        pm::update(self.conn, p)
    }

    fn insert_action(&mut self, new: &NewAction, now: DateTime<Utc>) -> StoreResult<i64> {
        pm::insert_action(self.conn, new, now)
    }

    fn action(&mut self, id: i64) -> StoreResult<ActionItem> {
        pm::action(self.conn, id)
    }

    fn update_action(&mut self, item: &ActionItem) -> StoreResult<()> {
        pm::set_action_done(self.conn, item)
    }

    fn actions_of(&mut self, postmortem: i64) -> StoreResult<Vec<ActionItem>> {
        pm::actions_of(self.conn, postmortem)
    }

    fn insert_override(&mut self, new: &NewOverride) -> StoreResult<i64> {
        overrides::insert(self.conn, new)
    }

    fn override_by_id(&mut self, id: i64) -> StoreResult<StoredOverride> {
        overrides::get(self.conn, id)
    }

    fn delete_override(&mut self, id: i64, by: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        overrides::delete(self.conn, id, by, at)
    }

    fn overrides(&mut self, filter: &OverrideFilter) -> StoreResult<Vec<StoredOverride>> {
        overrides::list(self.conn, filter)
    }

    fn open_actions_of_team(&mut self, team: &str) -> StoreResult<Vec<ActionItem>> {
        pm::open_actions_of_team(self.conn, team)
    }

    fn active_windows(&mut self, now: DateTime<Utc>) -> StoreResult<Vec<Window>> {
        maintenance::active(self.conn, now)
    }

    fn insert_window(&mut self, w: &NewWindow, now: DateTime<Utc>) -> StoreResult<i64> {
        maintenance::insert(self.conn, w, now)
    }

    fn window(&mut self, id: i64) -> StoreResult<Option<Window>> {
        maintenance::get(self.conn, id)
    }

    fn end_window(&mut self, id: i64, by: &str, now: DateTime<Utc>) -> StoreResult<()> {
        maintenance::end(self.conn, id, by, now)
    }

    fn suppressed(&mut self) -> StoreResult<Vec<Incident>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM incidents WHERE state = 'suppressed' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], incident_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

fn timeline(conn: &Connection, id: i64) -> StoreResult<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, incident, at, actor, kind, detail FROM timeline WHERE incident = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Event {
            id: r.get(0)?,
            incident: r.get(1)?,
            at: from_ms(r.get(2)?),
            actor: r.get(3)?,
            kind: r.get(4)?,
            detail: serde_json::from_str(&r.get::<_, String>(5)?)
                .unwrap_or(serde_json::Value::Null),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Read-side queries on a reader connection.
pub struct Reader<'a> {
    pub conn: &'a Connection,
}

impl ReadRepo for Reader<'_> {
    fn list(
        &self,
        filter: StateFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<Incident>> {
        let states: &[&str] = match filter {
            StateFilter::Open => &["triggered", "acknowledged"],
            StateFilter::Only(s) => &[s.as_str()],
            StateFilter::All => &[],
        };
        let before = if after.is_some() { " AND id < ?2" } else { "" };
        let sql = if states.is_empty() {
            format!("SELECT {COLUMNS} FROM incidents WHERE 1{before} ORDER BY id DESC LIMIT ?1")
        } else {
            // The newest of each state from `incidents_by_state`, then the
            // newest of those: a short walk down the index per state, where
            // `state IN (…) ORDER BY id` read and sorted every open incident
            // (or scanned the whole history for them). The states are the
            // store's own words, never the caller's.
            let newest: Vec<String> = states
                .iter()
                .map(|s| {
                    format!(
                        "SELECT id FROM (SELECT id FROM incidents WHERE state = '{s}'{before}
                         ORDER BY id DESC LIMIT ?1)"
                    )
                })
                .collect();
            format!(
                "SELECT {COLUMNS} FROM incidents WHERE id IN ({}) ORDER BY id DESC LIMIT ?1",
                newest.join(" UNION ALL ")
            )
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = match after {
            Some(c) => stmt.query_map(params![limit as i64, c.id], incident_row)?,
            None => stmt.query_map(params![limit as i64], incident_row)?,
        };
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn timeline(&self, id: i64) -> StoreResult<Vec<Event>> {
        timeline(self.conn, id)
    }

    fn alerts(&self, id: i64) -> StoreResult<Vec<AttachedAlert>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT fingerprint, status, summary, first_seen, last_seen FROM alerts WHERE incident = ?1 ORDER BY first_seen, fingerprint",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(AttachedAlert {
                fingerprint: r.get(0)?,
                status: r.get(1)?,
                summary: r.get(2)?,
                first_seen: from_ms(r.get(3)?),
                last_seen: from_ms(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn get(&self, id: i64) -> StoreResult<Incident> {
        get(self.conn, id)
    }

    fn by_reference(&self, prefix: &str, seq: i64) -> StoreResult<i64> {
        Ok(super::row(
            self.conn,
            "SELECT id FROM incidents WHERE ref_prefix = ?1 AND ref_seq = ?2",
            params![prefix, seq],
            |r| r.get(0),
        )?)
    }

    fn next_timer(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<i64> = super::row(self.conn, "SELECT min(due_at) FROM timers", [], |r| {
            r.get(0)
        })?;
        Ok(v.map(from_ms))
    }

    fn timers(&self, kind: &str) -> StoreResult<Vec<Timer>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT kind, key, due_at, data FROM timers WHERE kind = ?1 ORDER BY due_at",
        )?;
        let rows = stmt.query_map([kind], timer_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn outbox_for(&self, incident: i64) -> StoreResult<Vec<OutboxRow>> {
        outbox::for_incident(self.conn, incident)
    }

    fn outbox_depth(&self) -> StoreResult<i64> {
        outbox::depth(self.conn)
    }

    fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let v: Option<i64> = super::row(
            self.conn,
            "SELECT min(due_at) FROM outbox WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )?;
        Ok(v.map(from_ms))
    }

    fn all_notify_rules(&self) -> StoreResult<BTreeMap<String, Vec<NotifyRule>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT person, rules FROM notify_rules")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (person, text) = row?;
            if let Ok(rules) = serde_json::from_str(&text) {
                out.insert(person, rules);
            }
        }
        Ok(out)
    }

    fn presence_marks(&self, now: DateTime<Utc>) -> StoreResult<BTreeMap<String, PresenceMark>> {
        let mut stmt = self
            .conn
            .prepare("SELECT person, status, until FROM presence WHERE until > ?1")?;
        let rows = stmt.query_map([ms(now)], |r| {
            let status = if r.get::<_, String>(1)? == "online" {
                Status::Online
            } else {
                Status::Offline
            };
            Ok((
                r.get::<_, String>(0)?,
                PresenceMark {
                    status,
                    until: from_ms(r.get(2)?),
                },
            ))
        })?;
        Ok(rows.collect::<Result<BTreeMap<_, _>, _>>()?)
    }

    fn outbox_to(&self, person: &str) -> StoreResult<Vec<OutboxRow>> {
        outbox::to_person(self.conn, person)
    }

    fn postmortems(&self, after: Option<Cursor>, limit: usize) -> StoreResult<Vec<Postmortem>> {
        pm::list(self.conn, after, limit)
    }

    fn postmortem(&self, id: i64) -> StoreResult<Postmortem> {
        pm::get(self.conn, id)
    }

    fn actions_of(&self, postmortem: i64) -> StoreResult<Vec<ActionItem>> {
        pm::actions_of(self.conn, postmortem)
    }

    fn overrides(&self, filter: &OverrideFilter) -> StoreResult<Vec<StoredOverride>> {
        overrides::list(self.conn, filter)
    }

    fn actions(
        &self,
        filter: ActionFilter,
        assignee: Option<&str>,
        now: DateTime<Utc>,
        after: Option<Cursor>,
        limit: usize,
    ) -> StoreResult<Vec<ActionItem>> {
        pm::actions(self.conn, filter, assignee, now, after, limit)
    }

    fn windows(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Window>> {
        maintenance::upcoming(self.conn, now, limit)
    }

    fn report_rows(
        &self,
        range: crate::reports::Range,
        as_of: DateTime<Utc>,
    ) -> StoreResult<crate::reports::Rows> {
        super::reports::rows(self.conn, range, as_of)
    }

    fn count_by_state(&self) -> StoreResult<Vec<(State, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*) FROM incidents GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (s, n) = row?;
            if let Ok(state) = s.parse() {
                out.push((state, n));
            }
        }
        Ok(out)
    }
}
