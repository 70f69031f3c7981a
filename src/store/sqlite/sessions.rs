//! SQL behind the web UI: sign-in (`crate::signin`: one-time links and
//! sessions, both stored as the SHA-256 of their token) and the change mark
//! live pages watch. Times are Unix milliseconds.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::incidents::{from_ms, ms};
use crate::signin::{NewLink, NewSession, Session};
use crate::store::StoreResult;

const COLUMNS: &str = "id, person, csrf, created_at, expires_at";

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        person: r.get(1)?,
        csrf: r.get(2)?,
        created_at: from_ms(r.get(3)?),
        expires_at: from_ms(r.get(4)?),
    })
}

/// The one insert of a session, whichever door signed the person in.
fn insert_session(
    t: &rusqlite::Transaction<'_>,
    person: String,
    session: NewSession,
) -> rusqlite::Result<Session> {
    super::exec(
        t,
        "INSERT INTO sessions (hash, person, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            session.hash,
            person,
            session.csrf,
            ms(session.created_at),
            ms(session.expires_at)
        ],
    )?;
    Ok(Session {
        id: t.last_insert_rowid(),
        person,
        csrf: session.csrf,
        created_at: session.created_at,
        expires_at: session.expires_at,
    })
}

impl SqliteStore {
    /// Keeps a new sign-in link (and forgets links long expired).
    pub async fn insert_signin_link(&self, link: NewLink) -> StoreResult<()> {
        self.write(move |t| {
            super::exec(
                t,
                "DELETE FROM signin_links WHERE expires_at < ?1",
                params![ms(link.expires_at - chrono::Duration::days(1))],
            )?;
            super::exec(
                t,
                "INSERT INTO signin_links (hash, person, expires_at) VALUES (?1, ?2, ?3)",
                params![link.hash, link.person, ms(link.expires_at)],
            )?;
            Ok(())
        })
        .await
    }

    /// How many of `person`'s sign-in links are still unused and valid.
    pub async fn live_signin_links(&self, person: String, now: DateTime<Utc>) -> StoreResult<i64> {
        self.read(move |c| {
            Ok(super::row(
                c,
                "SELECT COUNT(*) FROM signin_links
                 WHERE person = ?1 AND used_at IS NULL AND expires_at > ?2",
                params![person, ms(now)],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Uses the link `hash` once and opens `session` for its person, in one
    /// transaction; `None` when the link is unknown, used or expired.
    /// `session.person` is ignored: the link says who.
    pub async fn redeem_signin_link(
        &self,
        hash: String,
        session: NewSession,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>> {
        self.write(move |t| {
            let person: Option<String> = t
                .prepare_cached(
                    "UPDATE signin_links SET used_at = ?2
                     WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2
                     RETURNING person",
                )?
                .query_row(params![hash, ms(now)], |r| r.get(0))
                .optional()?;
            let Some(person) = person else {
                return Ok(None);
            };
            Ok(Some(insert_session(t, person, session)?))
        })
        .await
    }

    /// Opens `session` for `session.person`, signed in by the identity
    /// provider or the trusted proxy.
    pub async fn open_session(&self, session: NewSession) -> StoreResult<Session> {
        self.write(move |t| Ok(insert_session(t, session.person.clone(), session)?))
            .await
    }

    /// The live session whose cookie hashes to `hash`.
    pub async fn session(&self, hash: String, now: DateTime<Utc>) -> StoreResult<Option<Session>> {
        self.read(move |c| {
            Ok(super::row(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM sessions
                     WHERE hash = ?1 AND revoked_at IS NULL AND expires_at > ?2"
                ),
                params![hash, ms(now)],
                session_row,
            )
            .optional()?)
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
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM sessions
                 WHERE person = ?1 AND revoked_at IS NULL AND expires_at > ?2
                 ORDER BY id DESC LIMIT 100"
            ))?;
            let rows = stmt.query_map(params![person, ms(now)], session_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Signs out session `id` of `person` (another's id changes nothing);
    /// true when it was live.
    pub async fn revoke_session(
        &self,
        person: String,
        id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write(move |t| {
            Ok(super::exec(
                t,
                "UPDATE sessions SET revoked_at = ?3
                 WHERE id = ?1 AND person = ?2 AND revoked_at IS NULL",
                params![id, person, ms(now)],
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
        self.write(move |t| {
            Ok(super::exec(
                t,
                "UPDATE sessions SET revoked_at = ?2 WHERE person = ?1 AND revoked_at IS NULL",
                params![person, ms(now)],
            )?)
        })
        .await
    }

    /// A number that grows with every change to any incident (its
    /// timeline's last event): the web UI's live pages poll it.
    pub async fn change_mark(&self) -> StoreResult<i64> {
        self.read(|c| {
            Ok(super::row(
                c,
                "SELECT COALESCE(MAX(id), 0) FROM timeline",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }
}
