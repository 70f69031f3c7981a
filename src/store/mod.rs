//! Durable state behind an interface the domain owns.
//!
//! The domain asks for operations ("record this alert", "due timers") and
//! gets domain types back; only `store::sqlite` knows SQL. A PostgreSQL
//! backend would be a second implementation of the same operations.

mod page;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

pub use page::{Cursor, Page};
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

pub type StoreResult<T> = Result<T, StoreError>;
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;
