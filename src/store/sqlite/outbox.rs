//! SQL of the escalation state and the notification outbox.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::incidents::{from_ms, ms};
use crate::escalation::EscalationState;
use crate::incident::{BUNDLE_PREVIEW, BundleHead, BundleSummary, OutboxRow, ReportLeft};
use crate::store::{StoreError, StoreResult};

const COLUMNS: &str = "id, incident, person, client, kind, channel, target, fallback, tried, subject, body,
    status, attempts, due_at, created_at, sent_at, provider, provider_id, provider_status, last_error, bundle_of, vendor";

// The per-person lookups of the paging path, each over its own index
// (migration 9; `tests::each_lookup_uses_its_index`).
// Pages only: a notice's SMS (a reminder) opens no window for pages.
// Newest first down the index, so the first page found ends the walk.
const LAST_SENT: &str = "SELECT sent_at FROM outbox
    WHERE person = ?1 AND channel = ?2 AND sent_at IS NOT NULL AND bundle_of IS NULL
      AND kind = 'page'
    ORDER BY sent_at DESC LIMIT 1";
const LAST_SENDING: &str = "SELECT max(due_at) FROM outbox
    WHERE person = ?1 AND channel = ?2 AND status = 'sending' AND kind = 'page'";
const SENT_SINCE: &str = "SELECT 1 FROM outbox
    WHERE person = ?1 AND channel = ?2 AND sent_at >= ?3 AND sent_at IS NOT NULL AND bundle_of IS NULL";
// A person's SMS wait for the end of their bundle window together: one
// statement, however many are queued (an alert storm queues thousands).
const DEFER: &str = "UPDATE outbox SET due_at = ?3
    WHERE status = 'pending' AND person = ?1 AND channel = ?2 AND due_at < ?3";
// A page still wanted: of an incident still triggered (the state
// `delivery::still_paging` asks for).
macro_rules! paging {
    () => {
        "(incident IS NULL
          OR EXISTS (SELECT 1 FROM incidents i WHERE i.id = outbox.incident AND i.state = 'triggered'))"
    };
}
// The oldest page of a person's queue on a channel: the bundle's head.
const HEAD_SQL: &str = concat!(
    "SELECT id, due_at FROM outbox
     WHERE status = 'pending' AND person = ?1 AND channel = ?2 AND kind = 'page' AND due_at <= ?3 AND ",
    paging!(),
    " ORDER BY id LIMIT 1"
);
// The pages that fold into bundle ?1: pending, due by ?4, still wanted.
const FOLD: &str = concat!(
    "UPDATE outbox SET status = 'bundled', bundle_of = ?1
     WHERE status = 'pending' AND person = ?2 AND channel = ?3 AND kind = 'page'
       AND id <> ?1 AND due_at <= ?4 AND ",
    paging!()
);
// Pages folded into bundle ?1 whose incident stopped paging.
const LEAVE_OUT: &str = concat!(
    "UPDATE outbox SET status = 'cancelled', bundle_of = NULL
     WHERE bundle_of = ?1 AND status = 'bundled' AND sent_at IS NULL AND NOT ",
    paging!()
);
// Rows folded into a pending row that is about to fold into bundle ?1 move
// to ?1 first: bundles never nest.
const FLATTEN: &str = "UPDATE outbox SET bundle_of = ?1
    WHERE status = 'bundled' AND sent_at IS NULL AND bundle_of IN (SELECT id FROM outbox
        WHERE status = 'pending' AND person = ?2 AND channel = ?3 AND kind = 'page'
          AND id <> ?1 AND due_at <= ?4)";
// The rows folded into bundle ?1 and not sent yet (index of migration 20).
const UNSENT_IN: &str = "bundle_of = ?1 AND status = 'bundled' AND sent_at IS NULL";
// Stamps bundle ?1's unsent rows up to id ?5 as sent with it.
const STAMP_UNSENT_IN: &str = "UPDATE outbox SET sent_at = ?2, provider = ?3, provider_id = ?4
    WHERE bundle_of = ?1 AND status = 'bundled' AND sent_at IS NULL AND id <= ?5";
const UNBUNDLE: &str = "UPDATE outbox SET status = 'pending', bundle_of = NULL
    WHERE bundle_of = ?1 AND status = 'bundled' AND sent_at IS NULL";
// Folded rows whose head will never be sent (neither queued, nor being
// sent, nor sent): a crash between a head's end and its unbundling.
// (A failed head whose failure is still being applied to its pages, a
// chunk per transaction, keeps them: `reports_left` names it.)
const ORPHANED_IN_BUNDLE: &str = "UPDATE outbox SET status = 'pending', bundle_of = NULL
    WHERE status = 'bundled' AND sent_at IS NULL AND NOT EXISTS (SELECT 1 FROM outbox h
        WHERE h.id = outbox.bundle_of AND (h.status IN ('pending', 'sending') OR h.sent_at IS NOT NULL))
      AND NOT EXISTS (SELECT 1 FROM reports_left r WHERE r.head = outbox.bundle_of)";
const UNFINISHED: &str = "SELECT id FROM outbox WHERE id IN (SELECT bundle_of FROM outbox
    WHERE status = 'bundled' AND sent_at IS NULL) AND sent_at IS NOT NULL ORDER BY id";
const TO_PERSON: &str = "person = ?1 ORDER BY id";
// Rows folded into a bundle carry its provider id too: the head is the one
// without `bundle_of`.
const BY_PROVIDER_ID: &str = "provider_id = ?1 AND bundle_of IS NULL ORDER BY id DESC LIMIT 1";
const BUNDLED_INTO: &str = "bundle_of = ?1 AND status = 'bundled' AND id > ?2 ORDER BY id";
// Claims older than the given instant, and the rows folded into them.
// (Sorted by id in Rust: with `ORDER BY id` SQLite prefers scanning the
// whole table in id order.)
const CLAIMED_BEFORE: &str = "status = 'sending' AND due_at < ?1";
const UNBUNDLE_CLAIMED_BEFORE: &str = "UPDATE outbox SET status = 'pending', bundle_of = NULL
    WHERE status = 'bundled' AND bundle_of IN (SELECT id FROM outbox WHERE status = 'sending' AND due_at < ?1)";
const REQUEUE_CLAIMED_BEFORE: &str =
    "UPDATE outbox SET status = 'pending' WHERE status = 'sending' AND due_at < ?1";

fn list(s: String) -> Vec<String> {
    serde_json::from_str(&s).unwrap_or_default()
}

fn row(r: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        incident: r.get(1)?,
        person: r.get(2)?,
        client: r.get(3)?,
        kind: r.get(4)?,
        channel: r.get(5)?,
        target: r.get(6)?,
        fallback: list(r.get(7)?),
        tried: list(r.get(8)?),
        subject: r.get(9)?,
        body: r.get(10)?,
        status: r.get(11)?,
        attempts: r.get::<_, i64>(12)?.max(0) as u32,
        due_at: from_ms(r.get(13)?),
        created_at: from_ms(r.get(14)?),
        sent_at: r.get::<_, Option<i64>>(15)?.map(from_ms),
        provider: r.get(16)?,
        provider_id: r.get(17)?,
        provider_status: r.get(18)?,
        last_error: r.get(19)?,
        bundle_of: r.get(20)?,
        vendor: r.get::<_, i64>(21)?.max(0) as u32,
    })
}

fn query(
    conn: &Connection,
    cond: &str,
    args: impl rusqlite::Params,
) -> StoreResult<Vec<OutboxRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE {cond}"))?;
    let rows = stmt.query_map(args, row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn escalation(conn: &Connection, id: i64) -> StoreResult<Option<EscalationState>> {
    let text: Option<String> = super::row(
        conn,
        "SELECT state FROM escalations WHERE incident = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

pub fn put_escalation(conn: &Connection, id: i64, state: &EscalationState) -> StoreResult<()> {
    let text = serde_json::to_string(state).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    super::exec(
        conn,
        "INSERT INTO escalations (incident, state) VALUES (?1, ?2)
         ON CONFLICT (incident) DO UPDATE SET state = ?2",
        params![id, text],
    )?;
    Ok(())
}

fn json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub fn insert(conn: &Connection, r: &OutboxRow) -> StoreResult<i64> {
    super::exec(conn,
        "INSERT INTO outbox (incident, person, client, kind, channel, target, fallback, tried, subject, body,
            status, attempts, due_at, created_at, sent_at, provider, provider_id, provider_status, last_error, bundle_of, vendor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
        params![
            r.incident,
            r.person,
            r.client,
            r.kind,
            r.channel,
            r.target,
            json(&r.fallback),
            json(&r.tried),
            r.subject,
            r.body,
            r.status,
            r.attempts as i64,
            ms(r.due_at),
            ms(r.created_at),
            r.sent_at.map(ms),
            r.provider,
            r.provider_id,
            r.provider_status,
            r.last_error,
            r.bundle_of,
            r.vendor as i64,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn update(conn: &Connection, r: &OutboxRow) -> StoreResult<()> {
    let n = super::exec(conn,
        "UPDATE outbox SET fallback = ?2, tried = ?3, body = ?4, status = ?5, attempts = ?6, due_at = ?7,
            sent_at = ?8, provider = ?9, provider_id = ?10, provider_status = ?11, last_error = ?12, bundle_of = ?13,
            vendor = ?14
         WHERE id = ?1",
        params![
            r.id,
            json(&r.fallback),
            json(&r.tried),
            r.body,
            r.status,
            r.attempts as i64,
            ms(r.due_at),
            r.sent_at.map(ms),
            r.provider,
            r.provider_id,
            r.provider_status,
            r.last_error,
            r.bundle_of,
            r.vendor as i64,
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<OutboxRow> {
    query(conn, "id = ?1", [id])?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

pub fn due(conn: &Connection, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<OutboxRow>> {
    // A literal limit: a bound LIMIT makes SQLite re-prepare on every run.
    query(
        conn,
        &format!("status = 'pending' AND due_at <= ?1 ORDER BY due_at, id LIMIT {limit}"),
        params![ms(now)],
    )
}

pub fn defer(
    conn: &Connection,
    person: &str,
    channel: &str,
    until: DateTime<Utc>,
) -> StoreResult<usize> {
    Ok(super::exec(
        conn,
        DEFER,
        params![person, channel, ms(until)],
    )?)
}

/// Only what folding reads of the head: a whole row costs more to decode
/// than the lookup itself.
pub fn head(
    conn: &Connection,
    person: &str,
    channel: &str,
    due_by: DateTime<Utc>,
) -> StoreResult<Option<BundleHead>> {
    let found = super::row(conn, HEAD_SQL, params![person, channel, ms(due_by)], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })
    .optional()?;
    Ok(found.map(|(id, due)| BundleHead {
        id,
        due_at: from_ms(due),
    }))
}

pub fn fold_into(
    conn: &Connection,
    head: i64,
    person: &str,
    channel: &str,
    due_by: DateTime<Utc>,
) -> StoreResult<usize> {
    let args = params![head, person, channel, ms(due_by)];
    super::exec(conn, FLATTEN, args)?;
    Ok(super::exec(conn, FOLD, args)?)
}

pub fn leave_out_stopped(conn: &Connection, head: i64) -> StoreResult<usize> {
    Ok(super::exec(conn, LEAVE_OUT, [head])?)
}

pub fn summary(conn: &Connection, head: &OutboxRow) -> StoreResult<BundleSummary> {
    let (rows, others): (i64, i64) = super::row(
        conn,
        &format!(
            "SELECT count(*), count(DISTINCT CASE WHEN incident IS NOT ?2 THEN incident END)
             FROM outbox WHERE {UNSENT_IN}"
        ),
        params![head.id, head.incident],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT coalesce(incident, 0), subject FROM outbox WHERE {UNSENT_IN} ORDER BY id LIMIT {BUNDLE_PREVIEW}"
    ))?;
    let first = stmt
        .query_map([head.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BundleSummary {
        rows: rows.max(0) as usize,
        others: others.max(0) as usize,
        first,
    })
}

pub fn finish_bundle(
    conn: &Connection,
    head: &OutboxRow,
    limit: usize,
) -> StoreResult<Vec<OutboxRow>> {
    let Some(sent_at) = head.sent_at else {
        return Ok(Vec::new());
    };
    // The chunk is read, then stamped: SQLite runs `RETURNING` through a
    // temporary table, which cost about as much as the update (callgrind).
    // A literal limit: a bound LIMIT makes SQLite re-prepare on every run.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE {UNSENT_IN} ORDER BY id LIMIT {limit}"
    ))?;
    let mut rows = stmt
        .query_map([head.id], row)?
        .collect::<Result<Vec<_>, _>>()?;
    let Some(last) = rows.last().map(|r| r.id) else {
        return Ok(rows);
    };
    // The rows just read, and no others: the writer is the only one.
    super::exec(
        conn,
        STAMP_UNSENT_IN,
        params![head.id, ms(sent_at), head.provider, head.provider_id, last],
    )?;
    let sent_at = from_ms(ms(sent_at));
    for r in &mut rows {
        r.sent_at = Some(sent_at);
        r.provider.clone_from(&head.provider);
        r.provider_id.clone_from(&head.provider_id);
    }
    Ok(rows)
}

pub fn unfinished_bundles(conn: &Connection) -> StoreResult<Vec<i64>> {
    super::exec(conn, ORPHANED_IN_BUNDLE, [])?;
    let mut stmt = conn.prepare_cached(UNFINISHED)?;
    let ids = stmt.query_map([], |r| r.get(0))?;
    Ok(ids.collect::<Result<Vec<_>, _>>()?)
}

pub fn unbundle(conn: &Connection, head: i64) -> StoreResult<usize> {
    Ok(super::exec(conn, UNBUNDLE, [head])?)
}

pub fn last_sent(
    conn: &Connection,
    person: &str,
    channel: &str,
) -> StoreResult<Option<DateTime<Utc>>> {
    // Two indexed lookups: the latest sent row, and a row being sent now
    // (which counts as sent at its claim, so a second SMS claimed during
    // the first's provider call is bundled). Rows folded into a bundle are
    // stamped with their bundle's `sent_at`, so the bundles alone give the
    // latest.
    let sent: Option<i64> =
        super::row(conn, LAST_SENT, params![person, channel], |r| r.get(0)).optional()?;
    let sending: Option<i64> =
        super::row(conn, LAST_SENDING, params![person, channel], |r| r.get(0))?;
    Ok(sent.max(sending).map(from_ms))
}

pub fn sent_since(
    conn: &Connection,
    person: &str,
    channel: &str,
    since: DateTime<Utc>,
    at_most: u32,
) -> StoreResult<i64> {
    // Pages folded into a bundle went out in one message. Counted here, not
    // with a bound LIMIT (which SQLite re-prepares on every run).
    let mut stmt = conn.prepare_cached(SENT_SINCE)?;
    let mut rows = stmt.query(params![person, channel, ms(since)])?;
    let mut n = 0;
    while n < i64::from(at_most) && rows.next()?.is_some() {
        n += 1;
    }
    Ok(n)
}

pub fn cancel_pages(conn: &Connection, incident: i64, person: Option<&str>) -> StoreResult<i64> {
    // Folded into a bundle that has not gone out: it goes out without them.
    let folded = super::exec(
        conn,
        "UPDATE outbox SET status = 'cancelled', bundle_of = NULL
         WHERE incident = ?1 AND kind = 'page' AND status = 'bundled' AND sent_at IS NULL
           AND (?2 IS NULL OR person = ?2)
           AND EXISTS (SELECT 1 FROM outbox h WHERE h.id = outbox.bundle_of AND h.status = 'pending')",
        params![incident, person],
    )?;
    // Other incidents' pages folded into one of these go back on their own.
    super::exec(
        conn,
        "UPDATE outbox SET status = 'pending', bundle_of = NULL
         WHERE status = 'bundled' AND sent_at IS NULL AND bundle_of IN (SELECT id FROM outbox
             WHERE incident = ?1 AND kind = 'page' AND status = 'pending'
               AND (?2 IS NULL OR person = ?2))",
        params![incident, person],
    )?;
    let pending = super::exec(
        conn,
        "UPDATE outbox SET status = 'cancelled'
         WHERE incident = ?1 AND kind = 'page' AND status = 'pending' AND (?2 IS NULL OR person = ?2)",
        params![incident, person],
    )?;
    Ok((folded + pending) as i64)
}

pub fn page_channels_since(
    conn: &Connection,
    incident: i64,
    person: &str,
    since: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT channel FROM outbox WHERE incident = ?1 AND person = ?2 AND kind = 'page' AND created_at >= ?3",
    )?;
    let rows = stmt.query_map(params![incident, person, ms(since)], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn pages_sent(conn: &Connection, incident: i64) -> StoreResult<Vec<OutboxRow>> {
    query(
        conn,
        "incident = ?1 AND kind = 'page' AND sent_at IS NOT NULL AND status IN ('sent', 'delivered', 'bundled') ORDER BY id",
        [incident],
    )
}

pub fn by_provider_id(conn: &Connection, pid: &str) -> StoreResult<Option<OutboxRow>> {
    Ok(query(conn, BY_PROVIDER_ID, [pid])?.into_iter().next())
}

pub fn bundled_into(
    conn: &Connection,
    head: i64,
    after: i64,
    limit: usize,
) -> StoreResult<Vec<OutboxRow>> {
    // A literal limit: a bound LIMIT makes SQLite re-prepare on every run.
    query(
        conn,
        &format!("{BUNDLED_INTO} LIMIT {limit}"),
        [head, after],
    )
}

pub fn fell_back_in_bundle(
    conn: &Connection,
    head: i64,
    incident: Option<i64>,
    person: Option<&str>,
) -> StoreResult<bool> {
    // A page without an incident or a person never falls back.
    let (Some(incident), Some(person)) = (incident, person) else {
        return Ok(false);
    };
    Ok(super::row(
        conn,
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE incident = ?2 AND person = ?3
            AND status = 'failed' AND (id = ?1 OR bundle_of = ?1))",
        params![head, incident, person],
        |r| r.get(0),
    )?)
}

pub fn keep_report_left(
    conn: &Connection,
    left: &ReportLeft,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    super::exec(
        conn,
        "INSERT INTO reports_left (head, after, status, error_code, send_error, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (head, status) DO UPDATE SET after = ?2, error_code = ?4, send_error = ?5, at = ?6",
        params![left.head, left.after, left.status, left.error_code, left.send_error, ms(at)],
    )?;
    Ok(())
}

pub fn drop_report_left(conn: &Connection, left: &ReportLeft) -> StoreResult<()> {
    super::exec(
        conn,
        "DELETE FROM reports_left WHERE head = ?1 AND status = ?2",
        params![left.head, left.status],
    )?;
    Ok(())
}

pub fn reports_left(conn: &Connection, before: DateTime<Utc>) -> StoreResult<Vec<ReportLeft>> {
    let mut stmt = conn.prepare_cached(
        "SELECT head, after, status, error_code, send_error FROM reports_left WHERE at < ?1 ORDER BY head, status",
    )?;
    let rows = stmt.query_map([ms(before)], |r| {
        Ok(ReportLeft {
            head: r.get(0)?,
            after: r.get(1)?,
            status: r.get(2)?,
            error_code: r
                .get::<_, Option<i64>>(3)?
                .and_then(|c| u32::try_from(c).ok()),
            send_error: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn early_report(
    conn: &Connection,
    provider_id: &str,
) -> StoreResult<Option<(String, Option<u32>)>> {
    Ok(super::row(
        conn,
        "SELECT status, error_code FROM early_reports WHERE provider_id = ?1",
        [provider_id],
        |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?)),
    )
    .optional()?
    .map(|(s, c)| (s, c.and_then(|c| u32::try_from(c).ok()))))
}

pub fn keep_early_report(
    conn: &Connection,
    provider_id: &str,
    status: &str,
    error_code: Option<u32>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    // A report nobody claimed within a day is for no row of ours (another
    // application on the same account): bounded, not kept for ever.
    super::exec(
        conn,
        "DELETE FROM early_reports WHERE at < ?1",
        [ms(at - chrono::Duration::days(1))],
    )?;
    super::exec(
        conn,
        "INSERT INTO early_reports (provider_id, status, error_code, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (provider_id) DO UPDATE SET status = ?2, error_code = ?3, at = ?4",
        params![provider_id, status, error_code.map(i64::from), ms(at)],
    )?;
    Ok(())
}

pub fn drop_early_report(conn: &Connection, provider_id: &str) -> StoreResult<()> {
    super::exec(
        conn,
        "DELETE FROM early_reports WHERE provider_id = ?1",
        [provider_id],
    )?;
    Ok(())
}

pub fn requeue_in_flight(
    conn: &Connection,
    claimed_before: DateTime<Utc>,
) -> StoreResult<Vec<OutboxRow>> {
    let before = ms(claimed_before);
    let mut rows = query(conn, CLAIMED_BEFORE, [before])?;
    rows.sort_by_key(|r| r.id);
    // Rows folded into a bundle that was in flight go back on their own.
    super::exec(conn, UNBUNDLE_CLAIMED_BEFORE, [before])?;
    super::exec(conn, REQUEUE_CLAIMED_BEFORE, [before])?;
    Ok(rows)
}

pub fn for_incident(conn: &Connection, incident: i64) -> StoreResult<Vec<OutboxRow>> {
    query(conn, "incident = ?1 ORDER BY id", [incident])
}

/// Every row addressed to `person`, oldest first (postmortem reminders, digests).
pub fn to_person(conn: &Connection, person: &str) -> StoreResult<Vec<OutboxRow>> {
    query(conn, TO_PERSON, [person])
}

pub fn depth(conn: &Connection) -> StoreResult<i64> {
    Ok(super::row(
        conn,
        // Counts over the partial indexes, not a scan of the whole outbox.
        // Pages folded into a bundle not sent yet are waiting too.
        "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending')
              + (SELECT count(*) FROM outbox WHERE status = 'sending')
              + (SELECT count(*) FROM outbox WHERE status = 'bundled' AND sent_at IS NULL)",
        [],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        let rows = stmt
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        rows.join("; ")
    }

    #[test]
    fn each_lookup_uses_its_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = super::super::open_conn(&dir.path().join("t.db")).expect("open");
        super::super::migrations::migrate(&mut conn).expect("migrate");
        let select = |cond: &str| format!("SELECT {COLUMNS} FROM outbox WHERE {cond}");
        for (sql, index) in [
            (LAST_SENT.to_string(), "outbox_sent_messages"),
            (LAST_SENDING.to_string(), "outbox_sending"),
            (SENT_SINCE.to_string(), "outbox_sent_messages"),
            (DEFER.to_string(), "outbox_pending_by_person"),
            (FOLD.to_string(), "outbox_pending_by_person"),
            (HEAD_SQL.to_string(), "outbox_pending_by_person"),
            (FLATTEN.to_string(), "outbox_unsent_bundled"),
            (FLATTEN.to_string(), "outbox_pending_by_person"),
            (select(UNSENT_IN), "outbox_unsent_bundled"),
            (STAMP_UNSENT_IN.to_string(), "outbox_unsent_bundled"),
            (UNBUNDLE.to_string(), "outbox_unsent_bundled"),
            (LEAVE_OUT.to_string(), "outbox_unsent_bundled"),
            (ORPHANED_IN_BUNDLE.to_string(), "outbox_unsent_bundled"),
            (UNFINISHED.to_string(), "outbox_unsent_bundled"),
            (select(TO_PERSON), "outbox_by_person"),
            (select(BY_PROVIDER_ID), "outbox_by_provider_id"),
            (select(BUNDLED_INTO), "outbox_bundled"),
            (select(CLAIMED_BEFORE), "outbox_claimed"),
            (UNBUNDLE_CLAIMED_BEFORE.to_string(), "outbox_bundled"),
            (UNBUNDLE_CLAIMED_BEFORE.to_string(), "outbox_claimed"),
            (REQUEUE_CLAIMED_BEFORE.to_string(), "outbox_claimed"),
        ] {
            let p = plan(&conn, &sql);
            assert!(p.contains(index), "{sql}\n uses {p}, not {index}");
            assert!(!p.contains("TEMP B-TREE"), "{sql}\n sorts: {p}");
        }
    }
}
