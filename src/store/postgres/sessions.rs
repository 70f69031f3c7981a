//! SQL behind the web UI on PostgreSQL: sign-in links, sessions and the
//! change mark live pages watch (the same operations as
//! `store::sqlite::sessions`). Times are Unix milliseconds.

use chrono::{DateTime, Utc};
use postgres::Row;

use super::cache::{Cached, Conn, Sql};
use super::rows::{from_ms, ms};
use super::{PgStore, unavailable};
use crate::signin::{NewLink, NewSession, Session};
use crate::store::StoreResult;

const COLUMNS: &str = "id, person, csrf, created_at, expires_at";

fn session_row(r: &Row) -> Result<Session, postgres::Error> {
    Ok(Session {
        id: r.try_get(0)?,
        person: r.try_get(1)?,
        csrf: r.try_get(2)?,
        created_at: from_ms(r.try_get(3)?),
        expires_at: from_ms(r.try_get(4)?),
    })
}

/// Stores a session for `person` (the one insert both sign-in doors use).
fn insert_session(
    t: &mut impl Sql,
    person: String,
    session: NewSession,
) -> Result<Session, postgres::Error> {
    let id: i64 = t
        .query_one(
            "INSERT INTO sessions (hash, person, csrf, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &session.hash,
                &person,
                &session.csrf,
                &ms(session.created_at),
                &ms(session.expires_at),
            ],
        )?
        .try_get(0)?;
    Ok(Session {
        id,
        person,
        csrf: session.csrf,
        created_at: session.created_at,
        expires_at: session.expires_at,
    })
}

impl PgStore {
    /// One transaction of its own: sessions touch no incident, so they
    /// do not take the incidents' write lock.
    async fn write_plain<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Cached<'_, postgres::Transaction<'_>>) -> StoreResult<R> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner.writable()?;
            let mut conn = inner.conn()?;
            let Conn { client, statements } = &mut *conn;
            let mut tx = client.transaction()?;
            let out = f(&mut Cached::transaction(&mut tx, statements))?;
            tx.commit()?;
            Ok(out)
        })
        .await
        .map_err(|e| unavailable(format!("store task failed: {e}")))?
    }

    /// Keeps a new sign-in link (and forgets links long expired).
    pub async fn insert_signin_link(&self, link: NewLink) -> StoreResult<()> {
        self.write_plain(move |t| {
            t.execute(
                "DELETE FROM signin_links WHERE expires_at < $1",
                &[&ms(link.expires_at - chrono::Duration::days(1))],
            )?;
            t.execute(
                "INSERT INTO signin_links (hash, person, expires_at) VALUES ($1, $2, $3)",
                &[&link.hash, &link.person, &ms(link.expires_at)],
            )?;
            Ok(())
        })
        .await
    }

    /// How many of `person`'s sign-in links are still unused and valid.
    pub async fn live_signin_links(&self, person: String, now: DateTime<Utc>) -> StoreResult<i64> {
        self.read(move |c| {
            Ok(c.query_one(
                "SELECT COUNT(*) FROM signin_links
                 WHERE person = $1 AND used_at IS NULL AND expires_at > $2",
                &[&person, &ms(now)],
            )?
            .try_get(0)?)
        })
        .await
    }

    /// Uses the link `hash` once and opens `session` for its person, in one
    /// transaction; `None` when the link is unknown, used or expired.
    pub async fn redeem_signin_link(
        &self,
        hash: String,
        session: NewSession,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        self.write_plain(move |t| {
            let Some(person) = t
                .query_opt(
                    "UPDATE signin_links SET used_at = $2
                     WHERE hash = $1 AND used_at IS NULL AND expires_at > $2
                     RETURNING person",
                    &[&hash, &ms(now)],
                )?
                .map(|r| r.try_get::<_, String>(0))
                .transpose()?
            else {
                return Ok(None);
            };
            Ok(Some(insert_session(t, person, session)?))
        })
        .await
    }

    /// Opens `session` for `session.person`, signed in by the identity
    /// provider or the trusted proxy.
    pub async fn open_session(&self, session: NewSession) -> StoreResult<Session> {
        self.write_plain(move |t| Ok(insert_session(t, session.person.clone(), session)?))
            .await
    }

    /// The live session whose cookie hashes to `hash`.
    pub async fn session(&self, hash: String, now: DateTime<Utc>) -> StoreResult<Option<Session>> {
        self.read(move |c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM sessions
                     WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2"
                ),
                &[&hash, &ms(now)],
            )?
            .map(|r| session_row(&r))
            .transpose()?)
        })
        .await
    }

    /// A person's live sessions, newest first.
    pub async fn sessions_of(
        &self,
        person: String,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Session>> {
        self.read(move |c| {
            let rows = c.query(
                &format!(
                    "SELECT {COLUMNS} FROM sessions
                     WHERE person = $1 AND revoked_at IS NULL AND expires_at > $2
                     ORDER BY id DESC LIMIT 100"
                ),
                &[&person, &ms(now)],
            )?;
            Ok(rows
                .iter()
                .map(session_row)
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Signs out session `id` of `person`; true when it was live.
    pub async fn revoke_session(
        &self,
        person: String,
        id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write_plain(move |t| {
            Ok(t.execute(
                "UPDATE sessions SET revoked_at = $3
                 WHERE id = $1 AND person = $2 AND revoked_at IS NULL",
                &[&id, &person, &ms(now)],
            )? > 0)
        })
        .await
    }

    /// Signs `person` out everywhere; how many sessions ended.
    pub async fn revoke_sessions_of(
        &self,
        person: String,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        self.write_plain(move |t| {
            Ok(t.execute(
                "UPDATE sessions SET revoked_at = $2 WHERE person = $1 AND revoked_at IS NULL",
                &[&person, &ms(now)],
            )? as usize)
        })
        .await
    }

    /// A number that grows with every change to any incident (its
    /// timeline's last event): the web UI's live pages poll it.
    pub async fn change_mark(&self) -> StoreResult<i64> {
        self.read(|c| {
            Ok(
                c.query_one("SELECT COALESCE(MAX(id), 0)::BIGINT FROM timeline", &[])?
                    .try_get(0)?,
            )
        })
        .await
    }
}
