//! SQL behind the maintenance-window part of `incident::Repo` and
//! `ReadRepo`. Called only from `incidents.rs`; times are Unix milliseconds.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::incidents::{from_ms, ms};
use crate::config::{ClientReports, Scope};
use crate::incident::maintenance::{NewWindow, Window, WindowId};
use crate::ingest::matcher::Matcher;
use crate::store::StoreResult;

const COLUMNS: &str = "id, scope_kind, scope, matchers, starts_at, ends_at, reason,
    client_reports, created_by, created_at, ended_by, ended_at";

fn scope_parts(s: &Scope) -> (&'static str, &str) {
    match s {
        Scope::Project(p) => ("project", p),
        Scope::Client(c) => ("client", c),
        Scope::Integration(i) => ("integration", i),
    }
}

fn window_row(r: &Row<'_>) -> rusqlite::Result<Window> {
    let id: String = r.get(2)?;
    let scope = match r.get::<_, String>(1)?.as_str() {
        "client" => Scope::Client(id),
        "integration" => Scope::Integration(id),
        _ => Scope::Project(id),
    };
    // Stored from matchers that parsed; one that no longer would is dropped
    // rather than hiding the window.
    let texts: Vec<String> = serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default();
    Ok(Window {
        id: WindowId::Stored(r.get(0)?),
        scope,
        matchers: texts
            .iter()
            .filter_map(|t| Matcher::parse(t).ok())
            .collect(),
        from: from_ms(r.get(4)?),
        to: from_ms(r.get(5)?),
        reason: r.get(6)?,
        client_reports: r
            .get::<_, String>(7)?
            .parse()
            .unwrap_or(ClientReports::Page),
        created_by: Some(r.get(8)?),
        created_at: Some(from_ms(r.get(9)?)),
        ended_by: r.get(10)?,
        ended_at: r.get::<_, Option<i64>>(11)?.map(from_ms),
        cron: None,
    })
}

pub fn active(conn: &Connection, now: DateTime<Utc>) -> StoreResult<Vec<Window>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM maintenance
         WHERE ended_at IS NULL AND ends_at > ?1 AND starts_at <= ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([ms(now)], window_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn upcoming(conn: &Connection, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Window>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM maintenance
         WHERE ended_at IS NULL AND ends_at > ?1 ORDER BY starts_at, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![ms(now), limit as i64], window_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn insert(conn: &Connection, w: &NewWindow, now: DateTime<Utc>) -> StoreResult<i64> {
    let (kind, id) = scope_parts(&w.scope);
    let matchers: Vec<String> = w.matchers.iter().map(|m| m.to_string()).collect();
    let client_reports = match w.client_reports {
        ClientReports::Page => "page",
        ClientReports::Hold => "hold",
    };
    super::exec(
        conn,
        "INSERT INTO maintenance (scope_kind, scope, matchers, starts_at, ends_at, reason,
            client_reports, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            kind,
            id,
            serde_json::to_string(&matchers).unwrap_or_else(|_| "[]".into()),
            ms(w.from),
            ms(w.to),
            w.reason,
            client_reports,
            w.created_by,
            ms(now),
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<Option<Window>> {
    Ok(super::row(
        conn,
        &format!("SELECT {COLUMNS} FROM maintenance WHERE id = ?1"),
        [id],
        window_row,
    )
    .optional()?)
}

pub fn end(conn: &Connection, id: i64, by: &str, now: DateTime<Utc>) -> StoreResult<()> {
    super::exec(
        conn,
        "UPDATE maintenance SET ended_by = ?2, ended_at = ?3 WHERE id = ?1 AND ended_at IS NULL",
        params![id, by, ms(now)],
    )?;
    Ok(())
}
