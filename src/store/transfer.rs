//! `tocsin migrate-store`: copies every table of a SQLite database into an
//! empty PostgreSQL database (the two schemas match column for column), in
//! one PostgreSQL transaction, and checks each table's count before the
//! commit. Nothing is written to the SQLite file beyond bringing it to the
//! latest schema.

use std::path::Path;

use postgres::types::{ToSql, Type};

use super::{PgStore, SqliteStore};

/// The tables whose order matters, parents before children (the foreign
/// keys); any other table of the SQLite file is copied after them, so a new
/// table is never left behind (and one PostgreSQL lacks is an error).
const TABLES: &[&str] = &[
    "meta",
    "incidents",
    "timeline",
    "alerts",
    "deliveries",
    "delivery_last",
    "change_events",
    "presence",
    "timers",
    "escalations",
    "outbox",
    "early_reports",
    "sms_inbound",
    "sms_opt_outs",
    "postmortems",
    "action_items",
    "maintenance",
    "notify_rules",
    "overrides",
];

/// Copies `sqlite` into the empty database at `url`; returns each table's
/// row count (equal on both sides, or nothing is committed).
pub fn sqlite_to_postgres(sqlite: &Path, url: &str) -> Result<Vec<(String, u64)>, String> {
    if !sqlite.exists() {
        return Err(format!("{} does not exist", sqlite.display()));
    }
    // Both at the latest schema first (each store migrates when opened).
    SqliteStore::open(sqlite)
        .map_err(|e| format!("{}: {e}", sqlite.display()))?
        .close();
    drop(PgStore::open(url).map_err(|e| e.to_string())?);
    let src =
        rusqlite::Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("{}: {e}", sqlite.display()))?;
    let config: postgres::Config = url
        .parse()
        .map_err(|e| format!("the PostgreSQL URL does not parse: {e}"))?;
    let mut dst = config
        .connect(super::postgres::tls().map_err(|e| e.to_string())?)
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    let pg = |e: postgres::Error| format!("PostgreSQL: {e}");
    let lite = |e: rusqlite::Error| format!("SQLite: {e}");
    let mut tables: Vec<String> = {
        let mut stmt = src
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .map_err(lite)?;
        stmt.query_map([], |r| r.get(0))
            .map_err(lite)?
            .collect::<Result<_, _>>()
            .map_err(lite)?
    };
    tables.sort_by_key(|t| TABLES.iter().position(|k| k == t).unwrap_or(TABLES.len()));
    let mut tx = dst.transaction().map_err(pg)?;
    for table in &tables {
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .and_then(|r| r.try_get(0))
            .map_err(pg)?;
        if n > 0 {
            return Err(format!(
                "the PostgreSQL database is not empty ({table} has {n} rows): copy into a new one"
            ));
        }
    }
    let mut counts = Vec::new();
    for table in &tables {
        let columns: Vec<String> = {
            let mut stmt = src
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
                ))
                .map_err(lite)?;
            stmt.query_map([], |r| r.get(0))
                .map_err(lite)?
                .collect::<Result<_, _>>()
                .map_err(lite)?
        };
        let list = columns.join(", ");
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {table} ({list}) VALUES ({})",
                marks.join(", ")
            ))
            .map_err(|e| format!("{table}: {}", pg(e)))?;
        let types = insert.params().to_vec();
        let mut read = src
            .prepare(&format!("SELECT {list} FROM {table}"))
            .map_err(lite)?;
        let mut rows = read.query([]).map_err(lite)?;
        let mut copied = 0u64;
        while let Some(row) = rows.next().map_err(lite)? {
            let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(columns.len());
            for (i, ty) in types.iter().enumerate() {
                let v = row.get_ref(i).map_err(lite)?;
                values.push(value(v, ty).map_err(|e| format!("{table}.{}: {e}", columns[i]))?);
            }
            let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|b| b.as_ref()).collect();
            tx.execute(&insert, &refs)
                .map_err(|e| format!("{table}: {}", pg(e)))?;
            copied += 1;
        }
        let stored: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .and_then(|r| r.try_get(0))
            .map_err(pg)?;
        if u64::try_from(stored).ok() != Some(copied) {
            return Err(format!(
                "{table}: {copied} rows read but {stored} stored; nothing was committed"
            ));
        }
        if columns.iter().any(|c| c == "id") {
            // New rows continue after the copied numbers.
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                        (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                ),
                &[],
            )
            .map_err(pg)?;
        }
        counts.push((table.to_string(), copied));
    }
    tx.commit().map_err(pg)?;
    Ok(counts)
}

/// One SQLite value as the PostgreSQL column's type wants it.
fn value(v: rusqlite::types::ValueRef<'_>, ty: &Type) -> Result<Box<dyn ToSql + Sync>, String> {
    use rusqlite::types::ValueRef;
    Ok(match (v, ty) {
        (ValueRef::Null, &Type::INT8) => Box::new(None::<i64>),
        (ValueRef::Null, _) => Box::new(None::<String>),
        (ValueRef::Integer(n), &Type::INT8) => Box::new(n),
        (ValueRef::Text(t), &Type::TEXT) => Box::new(String::from_utf8_lossy(t).into_owned()),
        (ValueRef::Integer(n), &Type::TEXT) => Box::new(n.to_string()),
        (other, ty) => return Err(format!("{:?} cannot be stored as {ty}", other.data_type())),
    })
}
