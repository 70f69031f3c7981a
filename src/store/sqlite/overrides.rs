//! SQL behind the on-call override parts of `incident::Repo` and
//! `ReadRepo`. Called only from `incidents.rs`; times are Unix milliseconds.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, params};

use super::incidents::{from_ms, ms};
use crate::incident::OverrideFilter;
use crate::routing::{NewOverride, StoredOverride};
use crate::store::StoreResult;

const COLUMNS: &str =
    "id, schedule, person, from_at, to_at, reason, created_by, created_at, deleted_by, deleted_at";

fn override_row(r: &Row<'_>) -> rusqlite::Result<StoredOverride> {
    Ok(StoredOverride {
        id: r.get(0)?,
        schedule: r.get(1)?,
        person: r.get(2)?,
        from: from_ms(r.get(3)?),
        to: from_ms(r.get(4)?),
        reason: r.get(5)?,
        created_by: r.get(6)?,
        created_at: from_ms(r.get(7)?),
        deleted_by: r.get(8)?,
        deleted_at: r.get::<_, Option<i64>>(9)?.map(from_ms),
    })
}

pub fn insert(conn: &Connection, n: &NewOverride) -> StoreResult<i64> {
    super::exec(
        conn,
        "INSERT INTO overrides (schedule, person, from_at, to_at, reason, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            n.schedule,
            n.person,
            ms(n.from),
            ms(n.to),
            n.reason,
            n.created_by,
            ms(n.created_at)
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<StoredOverride> {
    Ok(super::row(
        conn,
        &format!("SELECT {COLUMNS} FROM overrides WHERE id = ?1"),
        params![id],
        override_row,
    )?)
}

/// Marks a live override deleted; false when it was deleted already.
pub fn delete(conn: &Connection, id: i64, by: &str, at: DateTime<Utc>) -> StoreResult<bool> {
    let changed = super::exec(
        conn,
        "UPDATE overrides SET deleted_by = ?2, deleted_at = ?3 WHERE id = ?1 AND deleted_at IS NULL",
        params![id, by, ms(at)],
    )?;
    Ok(changed > 0)
}

/// Overrides by `filter`, oldest created first. The conditions are spelled
/// out (not `?n IS NULL OR …`) so live lookups use the partial index.
pub fn list(conn: &Connection, f: &OverrideFilter) -> StoreResult<Vec<StoredOverride>> {
    let mut conds = vec!["1"];
    if f.schedule.is_some() {
        conds.push("schedule = :schedule");
    }
    if !f.include_deleted {
        conds.push("deleted_at IS NULL");
    }
    if f.ending_after.is_some() {
        conds.push("to_at > :after");
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM overrides WHERE {} ORDER BY created_at, id",
        conds.join(" AND ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut args: Vec<(&str, &dyn rusqlite::ToSql)> = Vec::new();
    if let Some(s) = &f.schedule {
        args.push((":schedule", s));
    }
    let after = f.ending_after.map(ms);
    if let Some(a) = &after {
        args.push((":after", a));
    }
    let rows = stmt.query_map(args.as_slice(), override_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
