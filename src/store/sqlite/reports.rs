//! SQL behind `ReadRepo::report_rows`: everything a report counts, read in
//! one query (a `UNION ALL` of four selects over one column shape, told
//! apart by `kind`). Called only from `incidents.rs`; times are Unix
//! milliseconds.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, params};

use super::incidents::{from_ms, ms};
use crate::reports::{ActionRow, IncidentRow, PageRow, PostmortemRow, Range, Rows};
use crate::store::StoreResult;

/// Columns: kind, project, client, person, channel, t1, t2, t3.
/// - incidents opened (arrived) in the range: assignee; started, acked, resolved;
/// - pages sent in the range (bundled ones too): person, channel; sent;
/// - postmortems due in the range: author; due, approved;
/// - action items open at `as_of`: assignee; deadline.
const REPORT: &str = "
    SELECT 'incident', project, client, assignee, NULL,
           started_at, acknowledged_at, resolved_at
      FROM incidents WHERE created_at >= ?1 AND created_at < ?2
    UNION ALL
    SELECT 'page', i.project, i.client, o.person, o.channel, o.sent_at, NULL, NULL
      FROM outbox o LEFT JOIN incidents i ON i.id = o.incident
     WHERE o.kind = 'page' AND o.status IN ('sent', 'delivered', 'bundled')
       AND o.sent_at >= ?1 AND o.sent_at < ?2
    UNION ALL
    SELECT 'postmortem', i.project, i.client, p.author, NULL, p.due_at, p.approved_at, NULL
      FROM postmortems p JOIN incidents i ON i.id = p.incident
     WHERE p.due_at >= ?1 AND p.due_at < ?2
    UNION ALL
    SELECT 'action', i.project, i.client, a.assignee, NULL, a.deadline, NULL, NULL
      FROM action_items a JOIN incidents i ON i.id = a.incident
     WHERE a.created_at <= ?3 AND (a.done_at IS NULL OR a.done_at > ?3)";

pub fn rows(conn: &Connection, range: Range, as_of: DateTime<Utc>) -> StoreResult<Rows> {
    let mut stmt = conn.prepare_cached(REPORT)?;
    let mut out = Rows::default();
    let mut rows = stmt.query(params![ms(range.from), ms(range.to), ms(as_of)])?;
    while let Some(r) = rows.next()? {
        add(&mut out, r)?;
    }
    Ok(out)
}

fn add(out: &mut Rows, r: &Row<'_>) -> rusqlite::Result<()> {
    let at = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(from_ms))
    };
    let first = at(5)?.unwrap_or(DateTime::<Utc>::MIN_UTC);
    match r.get::<_, String>(0)?.as_str() {
        "incident" => out.incidents.push(IncidentRow {
            project: r.get(1)?,
            client: r.get(2)?,
            assignee: r.get(3)?,
            started_at: first,
            acknowledged_at: at(6)?,
            resolved_at: at(7)?,
        }),
        "page" => out.pages.push(PageRow {
            project: r.get(1)?,
            client: r.get(2)?,
            person: r.get(3)?,
            channel: r.get(4)?,
            sent_at: first,
        }),
        "postmortem" => out.postmortems.push(PostmortemRow {
            project: r.get(1)?,
            client: r.get(2)?,
            author: r.get(3)?,
            due_at: first,
            approved_at: at(6)?,
        }),
        _ => out.actions.push(ActionRow {
            project: r.get(1)?,
            client: r.get(2)?,
            assignee: r.get(3)?,
            deadline: first,
        }),
    }
    Ok(())
}
