//! Prepared statements kept per connection: each SQL text is parsed and
//! planned by the server once per connection, and every later run is one
//! round trip (Bind/Execute) instead of two (Parse/Describe first).
//!
//! The cache lives beside its client in the pool's `Conn`, so a statement
//! is never used on another connection, and a connection the pool replaces
//! starts empty. Prepared statements belong to the session: they survive
//! commit and rollback. Should the server have lost them all the same
//! (`DEALLOCATE ALL`, a pooler that moved the session), the cache is
//! emptied and, outside a transaction, the statement is prepared again
//! once; inside one, whose block the error has aborted, that transaction
//! fails (503, nothing stored) and the next one prepares afresh.

use std::collections::HashMap;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Error, GenericClient, Row, Statement};
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Past this many SQL texts a connection's cache is emptied: texts built
/// from a variable number of parameters cannot grow it without bound.
const LIMIT: usize = 512;

/// A pooled connection: the client and the statements prepared on it.
pub struct Conn {
    pub client: postgres::Client,
    pub statements: Statements,
}

impl Conn {
    /// The client, with its cache, outside any transaction.
    pub fn session(&mut self) -> Cached<'_, postgres::Client> {
        Cached::session(&mut self.client, &mut self.statements)
    }
}

/// The statements prepared on one connection, by SQL text.
#[derive(Default)]
pub struct Statements {
    by_sql: HashMap<String, Statement>,
    /// How many times a statement was prepared (for the tests).
    prepared: u64,
}

impl Statements {
    #[cfg(test)]
    pub fn prepared(&self) -> u64 {
        self.prepared
    }
}

/// The pool's manager: r2d2_postgres's, each connection with an empty cache.
pub struct Manager(pub PostgresConnectionManager<MakeRustlsConnect>);

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = Error;

    fn connect(&self) -> Result<Conn, Error> {
        Ok(Conn {
            client: self.0.connect()?,
            statements: Statements::default(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// A client (or a transaction on it) that runs SQL through its
/// connection's cache.
pub struct Cached<'a, C> {
    pub client: &'a mut C,
    statements: &'a mut Statements,
    /// Whether a statement the server lost may be prepared again and run:
    /// not inside a transaction, which the failure aborted.
    retry: bool,
}

impl<'a> Cached<'a, postgres::Client> {
    pub fn session(client: &'a mut postgres::Client, statements: &'a mut Statements) -> Self {
        Cached {
            client,
            statements,
            retry: true,
        }
    }
}

impl<'a, 'b> Cached<'a, postgres::Transaction<'b>> {
    pub fn transaction(
        tx: &'a mut postgres::Transaction<'b>,
        statements: &'a mut Statements,
    ) -> Self {
        Cached {
            client: tx,
            statements,
            retry: false,
        }
    }
}

/// Whether `e` says the server no longer has the prepared statement, or
/// that its plan no longer fits the schema.
fn lost(e: &Error) -> bool {
    match e.code() {
        Some(c) if *c == SqlState::INVALID_SQL_STATEMENT_NAME => true,
        Some(c) if *c == SqlState::FEATURE_NOT_SUPPORTED => e
            .as_db_error()
            .is_some_and(|d| d.message().contains("cached plan")),
        _ => false,
    }
}

impl<C: GenericClient> Cached<'_, C> {
    pub fn reborrow(&mut self) -> Cached<'_, C> {
        Cached {
            client: self.client,
            statements: self.statements,
            retry: self.retry,
        }
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, Error> {
        if let Some(s) = self.statements.by_sql.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.prepared += 1;
        if self.statements.by_sql.len() >= LIMIT {
            self.statements.by_sql.clear();
        }
        self.statements.by_sql.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Runs `run` with the prepared `sql`; a statement the server lost is
    /// forgotten (with every other: they went together) and, outside a
    /// transaction, prepared again once.
    fn with<T>(
        &mut self,
        sql: &str,
        run: impl Fn(&mut C, &Statement) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let s = self.statement(sql)?;
        match run(self.client, &s) {
            Err(e) if lost(&e) => {
                self.statements.by_sql.clear();
                if !self.retry {
                    return Err(e);
                }
                let s = self.statement(sql)?;
                run(self.client, &s)
            }
            done => done,
        }
    }
}

/// What the store's queries need of a connection: `GenericClient`'s calls,
/// through the cache.
pub trait Sql {
    fn query(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>;
    fn query_opt(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error>;
    fn query_one(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>;
    fn execute(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>;
}

impl<C: GenericClient> Sql for Cached<'_, C> {
    fn query(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        self.with(sql, |c, s| c.query(s, p))
    }

    fn query_opt(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error> {
        self.with(sql, |c, s| c.query_opt(s, p))
    }

    fn query_one(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        self.with(sql, |c, s| c.query_one(s, p))
    }

    fn execute(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        self.with(sql, |c, s| c.execute(s, p))
    }
}
