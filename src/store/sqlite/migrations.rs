//! Versioned, forward-only schema migrations. Version N is the state after
//! `MIGRATIONS[N-1]`; `PRAGMA user_version` records it. Never edit a
//! shipped migration: append a new one.

use rusqlite::Connection;

/// Each entry is applied once, in order, inside one transaction.
pub const MIGRATIONS: &[&str] = &[
    // 1: key/value facts about this database (generated secrets, instance id).
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;",
];

/// Brings the database to the latest version; returns (from, to).
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<(usize, usize)> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Applies migrations up to `target` (tests build every earlier version).
pub fn migrate_to(conn: &mut Connection, target: usize) -> rusqlite::Result<(usize, usize)> {
    let from: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if from > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {from} is newer than this tocsin ({}); refusing to run an older binary on it",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(from) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok((from, target.max(from)))
}
