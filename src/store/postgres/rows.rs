//! Row decoding and the small query helpers of the PostgreSQL store. The
//! columns are the SQLite store's (times in Unix milliseconds, flags 0/1,
//! JSON as text), so the decoders read the same shapes.

use chrono::{DateTime, Utc};
use postgres::types::{FromSqlOwned, ToSql};
use postgres::{Error, Row};

use super::cache::Sql;

use crate::followup::actions::{ActionItem, Priority};
use crate::followup::postmortem::{PmState, Postmortem, Sections};
use crate::incident::maintenance::{Window, WindowId};
use crate::incident::{Event, Incident, OutboxRow, State, Timer, reference};
use crate::routing::{PresenceMark, Status, StoredOverride};
use crate::store::StoreResult;

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn opt_ms(r: &Row, i: usize) -> Result<Option<DateTime<Utc>>, Error> {
    Ok(r.try_get::<_, Option<i64>>(i)?.map(from_ms))
}

pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn json_col<T: serde::de::DeserializeOwned + Default>(s: String) -> T {
    serde_json::from_str(&s).unwrap_or_default()
}

fn json_value(s: String) -> serde_json::Value {
    serde_json::from_str(&s).unwrap_or(serde_json::Value::Null)
}

/// Every row of `sql`, decoded by `f`.
pub fn all<C: Sql, T>(
    c: &mut C,
    sql: &str,
    p: Params<'_>,
    f: impl Fn(&Row) -> Result<T, Error>,
) -> StoreResult<Vec<T>> {
    let rows = c.query(sql, p)?;
    Ok(rows.iter().map(f).collect::<Result<Vec<_>, _>>()?)
}

/// The row of `sql`, if there is one.
pub fn opt<C: Sql, T>(
    c: &mut C,
    sql: &str,
    p: Params<'_>,
    f: impl Fn(&Row) -> Result<T, Error>,
) -> StoreResult<Option<T>> {
    Ok(c.query_opt(sql, p)?.map(|r| f(&r)).transpose()?)
}

/// The first column of the one row of `sql`.
pub fn scalar<C: Sql, T: FromSqlOwned>(c: &mut C, sql: &str, p: Params<'_>) -> StoreResult<T> {
    Ok(c.query_one(sql, p)?.try_get(0)?)
}

/// Rows changed by `sql`.
pub fn exec<C: Sql>(c: &mut C, sql: &str, p: Params<'_>) -> StoreResult<u64> {
    Ok(c.execute(sql, p)?)
}

pub const INCIDENT: &str = "id, project, client, title, severity, state, critical, source, integration, dedup_key,
    client_reported, labels, annotations, links, details, alert_count, created_at, last_seen_at,
    acknowledged_at, resolved_at, downgraded_at, assignee, layer, reproducible, serious, serious_reason,
    provider_ticket, ref_prefix, ref_seq, started_at, announced";

pub fn incident(r: &Row) -> Result<Incident, Error> {
    let text = |i: usize| r.try_get::<_, String>(i);
    Ok(Incident {
        id: r.try_get(0)?,
        project: text(1)?,
        client: text(2)?,
        title: text(3)?,
        severity: text(4)?
            .parse()
            .unwrap_or(crate::ingest::alert::Severity::Critical),
        state: text(5)?.parse().unwrap_or(State::Triggered),
        critical: r.try_get::<_, i64>(6)? != 0,
        source: serde_json::from_value(serde_json::Value::String(text(7)?))
            .unwrap_or(crate::ingest::alert::Source::Trigger),
        integration: r.try_get(8)?,
        dedup_key: r.try_get(9)?,
        client_reported: r.try_get::<_, i64>(10)? != 0,
        labels: json_col(text(11)?),
        annotations: json_col(text(12)?),
        links: json_col(text(13)?),
        details: json_value(text(14)?),
        alert_count: r.try_get(15)?,
        created_at: from_ms(r.try_get(16)?),
        last_seen_at: from_ms(r.try_get(17)?),
        acknowledged_at: opt_ms(r, 18)?,
        resolved_at: opt_ms(r, 19)?,
        downgraded_at: opt_ms(r, 20)?,
        assignee: r.try_get(21)?,
        layer: r
            .try_get::<_, Option<String>>(22)?
            .and_then(|l| l.parse().ok()),
        reproducible: r.try_get::<_, Option<i64>>(23)?.map(|v| v != 0),
        serious: r.try_get::<_, i64>(24)? != 0,
        serious_reason: r.try_get(25)?,
        provider_ticket: r.try_get(26)?,
        reference: reference::format(&text(27)?, r.try_get(28)?),
        started_at: from_ms(r.try_get(29)?),
        announced: r.try_get::<_, i64>(30)? != 0,
    })
}

pub fn event(r: &Row) -> Result<Event, Error> {
    Ok(Event {
        id: r.try_get(0)?,
        incident: r.try_get(1)?,
        at: from_ms(r.try_get(2)?),
        actor: r.try_get(3)?,
        kind: r.try_get(4)?,
        detail: json_value(r.try_get(5)?),
    })
}

pub fn timer(r: &Row) -> Result<Timer, Error> {
    Ok(Timer {
        kind: r.try_get(0)?,
        key: r.try_get(1)?,
        due: from_ms(r.try_get(2)?),
        data: json_value(r.try_get(3)?),
    })
}

pub fn presence(r: &Row) -> Result<PresenceMark, Error> {
    let status = if r.try_get::<_, String>(0)? == "online" {
        Status::Online
    } else {
        Status::Offline
    };
    Ok(PresenceMark {
        status,
        until: from_ms(r.try_get(1)?),
    })
}

pub const OUTBOX: &str = "id, incident, person, client, kind, channel, target, fallback, tried, subject, body,
    status, attempts, due_at, created_at, sent_at, provider, provider_id, provider_status, last_error, bundle_of, vendor";

pub fn outbox(r: &Row) -> Result<OutboxRow, Error> {
    Ok(OutboxRow {
        id: r.try_get(0)?,
        incident: r.try_get(1)?,
        person: r.try_get(2)?,
        client: r.try_get(3)?,
        kind: r.try_get(4)?,
        channel: r.try_get(5)?,
        target: r.try_get(6)?,
        fallback: json_col(r.try_get(7)?),
        tried: json_col(r.try_get(8)?),
        subject: r.try_get(9)?,
        body: r.try_get(10)?,
        status: r.try_get(11)?,
        attempts: r.try_get::<_, i64>(12)?.clamp(0, i64::from(u32::MAX)) as u32,
        due_at: from_ms(r.try_get(13)?),
        created_at: from_ms(r.try_get(14)?),
        sent_at: opt_ms(r, 15)?,
        provider: r.try_get(16)?,
        provider_id: r.try_get(17)?,
        provider_status: r.try_get(18)?,
        last_error: r.try_get(19)?,
        bundle_of: r.try_get(20)?,
        vendor: r.try_get::<_, i64>(21)?.clamp(0, i64::from(u32::MAX)) as u32,
    })
}

pub const POSTMORTEM: &str =
    "id, incident, team, state, author, approver, title, what_happened, how_fixed,
    cause, measures, no_measures_needed, due_at, created_at, updated_at, submitted_at, approved_at,
    approved_by, published_at, client_summary";

pub fn postmortem(r: &Row) -> Result<Postmortem, Error> {
    Ok(Postmortem {
        id: r.try_get(0)?,
        incident: r.try_get(1)?,
        team: r.try_get(2)?,
        state: r.try_get::<_, String>(3)?.parse().unwrap_or(PmState::Draft),
        author: r.try_get(4)?,
        approver: r.try_get(5)?,
        title: r.try_get(6)?,
        sections: Sections {
            what_happened: r.try_get(7)?,
            how_fixed: r.try_get(8)?,
            cause: r.try_get(9)?,
            measures: r.try_get(10)?,
            client_summary: r.try_get(19)?,
        },
        no_measures_needed: r.try_get::<_, i64>(11)? != 0,
        due_at: from_ms(r.try_get(12)?),
        created_at: from_ms(r.try_get(13)?),
        updated_at: from_ms(r.try_get(14)?),
        submitted_at: opt_ms(r, 15)?,
        approved_at: opt_ms(r, 16)?,
        approved_by: r.try_get(17)?,
        published_at: opt_ms(r, 18)?,
    })
}

pub const ACTION: &str = "id, postmortem, incident, team, title, assignee, deadline, priority,
    created_by, created_at, done_at, done_by";

pub fn action(r: &Row) -> Result<ActionItem, Error> {
    Ok(ActionItem {
        id: r.try_get(0)?,
        postmortem: r.try_get(1)?,
        incident: r.try_get(2)?,
        team: r.try_get(3)?,
        title: r.try_get(4)?,
        assignee: r.try_get(5)?,
        deadline: from_ms(r.try_get(6)?),
        priority: r.try_get::<_, String>(7)?.parse().unwrap_or(Priority::High),
        created_by: r.try_get(8)?,
        created_at: from_ms(r.try_get(9)?),
        done_at: opt_ms(r, 10)?,
        done_by: r.try_get(11)?,
    })
}

pub const WINDOW: &str = "id, scope_kind, scope, matchers, starts_at, ends_at, reason,
    client_reports, created_by, created_at, ended_by, ended_at";

pub fn window(r: &Row) -> Result<Window, Error> {
    use crate::config::{ClientReports, Scope};
    let id: String = r.try_get(2)?;
    let scope = match r.try_get::<_, String>(1)?.as_str() {
        "client" => Scope::Client(id),
        "integration" => Scope::Integration(id),
        _ => Scope::Project(id),
    };
    // Stored from matchers that parsed; one that no longer would is dropped
    // rather than hiding the window.
    let texts: Vec<String> = json_col(r.try_get(3)?);
    Ok(Window {
        id: WindowId::Stored(r.try_get(0)?),
        scope,
        matchers: texts
            .iter()
            .filter_map(|t| crate::ingest::matcher::Matcher::parse(t).ok())
            .collect(),
        from: from_ms(r.try_get(4)?),
        to: from_ms(r.try_get(5)?),
        reason: r.try_get(6)?,
        client_reports: r
            .try_get::<_, String>(7)?
            .parse()
            .unwrap_or(ClientReports::Page),
        created_by: Some(r.try_get(8)?),
        created_at: Some(from_ms(r.try_get(9)?)),
        ended_by: r.try_get(10)?,
        ended_at: opt_ms(r, 11)?,
        cron: None,
    })
}

pub const OVERRIDE: &str =
    "id, schedule, person, from_at, to_at, reason, created_by, created_at, deleted_by, deleted_at";

pub fn stored_override(r: &Row) -> Result<StoredOverride, Error> {
    Ok(StoredOverride {
        id: r.try_get(0)?,
        schedule: r.try_get(1)?,
        person: r.try_get(2)?,
        from: from_ms(r.try_get(3)?),
        to: from_ms(r.try_get(4)?),
        reason: r.try_get(5)?,
        created_by: r.try_get(6)?,
        created_at: from_ms(r.try_get(7)?),
        deleted_by: r.try_get(8)?,
        deleted_at: opt_ms(r, 9)?,
    })
}
