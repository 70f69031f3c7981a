//! SQL behind the SMS parts of `incident::Repo`: incidents paged to a person,
//! `MessageSid` deduplication and opt-outs. Called only from `incidents.rs`.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::incidents::{from_ms, ms};
use crate::incident::SmsClaim;
use crate::incident::repo::SMS_SID_MEMORY;
use crate::store::StoreResult;

/// The open incidents `person` was paged for or is assigned: each open
/// incident's own outbox rows (`outbox_by_incident`), not its timeline's
/// JSON, so a reply during a storm of open incidents stays cheap.
pub fn paged_to(conn: &Connection, person: &str) -> StoreResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM incidents i
         WHERE state IN ('triggered', 'acknowledged')
           AND (assignee = ?1 OR EXISTS (
                SELECT 1 FROM outbox o
                WHERE o.incident = i.id AND o.kind = 'page' AND o.person = ?1))
         ORDER BY id",
    )?;
    let ids = stmt
        .query_map([person], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(ids)
}

pub fn claim(
    conn: &Connection,
    sid: &str,
    person: &str,
    now: DateTime<Utc>,
) -> StoreResult<SmsClaim> {
    super::exec(
        conn,
        "DELETE FROM sms_inbound WHERE at < ?1",
        [ms(now - SMS_SID_MEMORY)],
    )?;
    let seen: Option<Option<String>> = super::row(
        conn,
        "SELECT reply FROM sms_inbound WHERE message_sid = ?1",
        [sid],
        |r| r.get(0),
    )
    .optional()?;
    if let Some(reply) = seen {
        return Ok(SmsClaim::Seen { reply });
    }
    super::exec(
        conn,
        "INSERT INTO sms_inbound (message_sid, person, at) VALUES (?1, ?2, ?3)",
        params![sid, person, ms(now)],
    )?;
    Ok(SmsClaim::New)
}

pub fn set_reply(conn: &Connection, sid: &str, reply: &str) -> StoreResult<()> {
    super::exec(
        conn,
        "UPDATE sms_inbound SET reply = ?2 WHERE message_sid = ?1",
        params![sid, reply],
    )?;
    Ok(())
}

pub fn release(conn: &Connection, sid: &str) -> StoreResult<()> {
    super::exec(
        conn,
        "DELETE FROM sms_inbound WHERE message_sid = ?1",
        [sid],
    )?;
    Ok(())
}

pub fn set_opt_out(
    conn: &Connection,
    person: &str,
    phone: &str,
    at: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    match at {
        // A repeated STOP keeps the first opt-out time.
        Some(at) => super::exec(
            conn,
            "INSERT INTO sms_opt_outs (person, phone, opted_out_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (person) DO UPDATE SET phone = ?2",
            params![person, phone, ms(at)],
        )?,
        None => super::exec(conn, "DELETE FROM sms_opt_outs WHERE person = ?1", [person])?,
    };
    Ok(())
}

pub fn opted_out_at(conn: &Connection, person: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let at: Option<i64> = super::row(
        conn,
        "SELECT opted_out_at FROM sms_opt_outs WHERE person = ?1",
        [person],
        |r| r.get(0),
    )
    .optional()?;
    Ok(at.map(from_ms))
}
