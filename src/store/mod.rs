//! Durable state behind an interface the domain owns.
//!
//! The domain asks for operations ("record this alert", "due timers") and
//! gets domain types back; only `store::sqlite` and `store::postgres` know
//! SQL. [`Store`] is the one type the rest of the daemon holds: which of
//! the two it runs on is decided once, by the configuration.

mod page;
pub mod postgres;
pub mod sqlite;
#[doc(hidden)]
pub mod test_db;
#[cfg(test)]
mod tests;
pub mod transfer;

use std::future::Future;
use std::pin::Pin;

pub use page::{Cursor, Page};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Why a store operation failed, shaped by what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// Nothing was committed; the sender should retry (HTTP 503).
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// The store the daemon runs on: the embedded SQLite file, or a PostgreSQL
/// database shared by several daemons. Each method is the same operation on
/// either.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens the store the configuration names (migrating it).
    pub async fn open(storage: &crate::config::Storage) -> StoreResult<Self> {
        Ok(match &storage.postgres {
            Some(url) => Store::Postgres(PgStore::open_async(url.expose().to_string()).await?),
            None => Store::Sqlite(SqliteStore::open(&storage.sqlite)?),
        })
    }

    /// Whether other daemons write to the same database: in-memory copies
    /// of stored state may then be stale and must not answer for it.
    pub fn shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// The SQLite store, for what only it has (tests of its file).
    pub fn as_sqlite(&self) -> Option<&SqliteStore> {
        match self {
            Store::Sqlite(s) => Some(s),
            Store::Postgres(_) => None,
        }
    }

    pub fn set_wakers(&self, wakers: sqlite::Wakers) {
        match self {
            Store::Sqlite(s) => s.set_wakers(wakers),
            Store::Postgres(s) => s.set_wakers(wakers),
        }
    }

    /// Makes writes fail (true) or work again (false); for fault tests.
    pub fn set_fail_writes(&self, fail: bool) {
        match self {
            Store::Sqlite(s) => s.set_fail_writes(fail),
            Store::Postgres(s) => s.set_fail_writes(fail),
        }
    }

    /// Runs incident logic in one write transaction (committed before it resolves).
    pub async fn transact<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn crate::incident::Repo) -> StoreResult<R> + Send + 'static,
    {
        match self {
            Store::Sqlite(s) => s.transact(f).await,
            Store::Postgres(s) => s.transact(f).await,
        }
    }

    /// Runs monitoring ingest in one write transaction, behind pages and
    /// acknowledgements on SQLite's writer (PostgreSQL has no queue of its
    /// own to order: the same as `transact`). `f` may run more than once,
    /// its writes rolled back in between: it acts only through the repo.
    pub async fn transact_bulk<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn crate::incident::Repo) -> StoreResult<R> + Send + 'static,
    {
        match self {
            Store::Sqlite(s) => s.transact_bulk(f).await,
            Store::Postgres(s) => s.transact(f).await,
        }
    }

    pub async fn insert_signin_link(&self, link: crate::signin::NewLink) -> StoreResult<()> {
        match self {
            Store::Sqlite(s) => s.insert_signin_link(link).await,
            Store::Postgres(s) => s.insert_signin_link(link).await,
        }
    }

    pub async fn live_signin_links(
        &self,
        person: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<i64> {
        match self {
            Store::Sqlite(s) => s.live_signin_links(person, now).await,
            Store::Postgres(s) => s.live_signin_links(person, now).await,
        }
    }

    pub async fn redeem_signin_link(
        &self,
        hash: String,
        session: crate::signin::NewSession,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<crate::signin::Session>> {
        match self {
            Store::Sqlite(s) => s.redeem_signin_link(hash, session, now).await,
            Store::Postgres(s) => s.redeem_signin_link(hash, session, now).await,
        }
    }

    pub async fn open_session(
        &self,
        session: crate::signin::NewSession,
    ) -> StoreResult<crate::signin::Session> {
        match self {
            Store::Sqlite(s) => s.open_session(session).await,
            Store::Postgres(s) => s.open_session(session).await,
        }
    }

    pub async fn session(
        &self,
        hash: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<crate::signin::Session>> {
        match self {
            Store::Sqlite(s) => s.session(hash, now).await,
            Store::Postgres(s) => s.session(hash, now).await,
        }
    }

    pub async fn sessions_of(
        &self,
        person: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<crate::signin::Session>> {
        match self {
            Store::Sqlite(s) => s.sessions_of(person, now).await,
            Store::Postgres(s) => s.sessions_of(person, now).await,
        }
    }

    pub async fn revoke_session(
        &self,
        person: String,
        id: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        match self {
            Store::Sqlite(s) => s.revoke_session(person, id, now).await,
            Store::Postgres(s) => s.revoke_session(person, id, now).await,
        }
    }

    pub async fn revoke_sessions_of(
        &self,
        person: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<usize> {
        match self {
            Store::Sqlite(s) => s.revoke_sessions_of(person, now).await,
            Store::Postgres(s) => s.revoke_sessions_of(person, now).await,
        }
    }

    pub async fn change_mark(&self) -> StoreResult<i64> {
        match self {
            Store::Sqlite(s) => s.change_mark().await,
            Store::Postgres(s) => s.change_mark().await,
        }
    }

    /// Runs read-side incident queries.
    pub async fn query<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn crate::incident::ReadRepo) -> StoreResult<R> + Send + 'static,
    {
        match self {
            Store::Sqlite(s) => s.query(f).await,
            Store::Postgres(s) => s.query(f).await,
        }
    }

    pub async fn ping(&self) -> StoreResult<()> {
        match self {
            Store::Sqlite(s) => s.ping().await,
            Store::Postgres(s) => s.ping().await,
        }
    }

    pub async fn ready(&self) -> StoreResult<()> {
        match self {
            Store::Sqlite(s) => s.ready().await,
            Store::Postgres(s) => s.ready().await,
        }
    }

    pub async fn schema_version(&self) -> StoreResult<usize> {
        match self {
            Store::Sqlite(s) => s.schema_version().await,
            Store::Postgres(s) => s.schema_version().await,
        }
    }

    pub async fn meta_get(&self, key: &str) -> StoreResult<Option<String>> {
        match self {
            Store::Sqlite(s) => s.meta_get(key).await,
            Store::Postgres(s) => s.meta_get(key).await,
        }
    }

    /// Stores `value` unless the key exists; returns the stored value.
    pub async fn meta_get_or_insert(&self, key: &str, value: String) -> StoreResult<String> {
        match self {
            Store::Sqlite(s) => s.meta_get_or_insert(key, value).await,
            Store::Postgres(s) => s.meta_get_or_insert(key, value).await,
        }
    }

    pub fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close(),
            Store::Postgres(s) => s.close(),
        }
    }
}
