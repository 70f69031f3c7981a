//! The store-level suite: every test body runs against [`Store`] on SQLite
//! (a file in a temporary folder) and, when `TOCSIN_TEST_POSTGRES` names a
//! server, again on a fresh PostgreSQL database of its own. Tests of one
//! store's own machinery (SQLite's file, writer lanes and migrations,
//! PostgreSQL's migrations and daemon locks) stay beside that store.

mod bundles;
mod deliveries;
mod incidents;
mod outbox;
mod sessions;
mod timers;
mod wakeups;

use std::future::Future;

use super::{PgStore, SqliteStore, Store, test_db};

/// Runs `test` on every store this run has: SQLite always, and PostgreSQL
/// when [`test_db::TEST_POSTGRES`] is set (then it runs or the test fails:
/// a run asked for PostgreSQL never passes without it).
pub(super) async fn on_each_store<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(&dir.path().join("tocsin.db")).expect("open SQLite");
    run("SQLite", Store::Sqlite(sqlite), &test).await;
    if let Some(server) = test_db::server() {
        run("PostgreSQL", open_postgres(&server).await, &test).await;
    }
}

/// A store on a new, empty PostgreSQL database on `server`.
pub(super) async fn open_postgres(server: &str) -> Store {
    let url = test_db::create_test_database(server);
    Store::Postgres(PgStore::open_async(url).await.expect("open PostgreSQL"))
}

async fn run<F, Fut>(name: &'static str, store: Store, test: &F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let on = OnStore(name);
    test(store.clone()).await;
    store.close();
    drop(on);
}

/// Says which store a failing body ran on.
struct OnStore(&'static str);

impl Drop for OnStore {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("failed on {}", self.0);
        }
    }
}

/// The first column of every row of `sql`, read straight from the store's
/// tables (the same SQL on both).
pub(super) async fn column(store: &Store, sql: &'static str) -> Vec<String> {
    match store {
        Store::Sqlite(s) => {
            s.read(move |c| {
                let mut stmt = c.prepare(sql)?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
        }
        Store::Postgres(s) => {
            s.read(move |c| {
                let rows = c.client.query(sql, &[])?;
                Ok(rows
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?)
            })
            .await
        }
    }
    .expect("read")
}

/// A critical incident of the shop, with nothing else set.
pub(super) fn new_incident(title: &str) -> crate::incident::NewIncident {
    crate::incident::NewIncident {
        project: "shop".into(),
        client: "acme".into(),
        title: title.into(),
        severity: crate::ingest::alert::Severity::Critical,
        critical: true,
        source: crate::ingest::alert::Source::Trigger,
        integration: None,
        dedup_key: None,
        client_reported: false,
        labels: Default::default(),
        annotations: Default::default(),
        links: Vec::new(),
        details: serde_json::Value::Null,
        started_at: chrono::DateTime::UNIX_EPOCH,
    }
}

/// An instant in 2027, `s` seconds on.
pub(super) fn at(s: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).expect("instant")
}
