//! SQL behind the postmortem and action-item parts of `incident::Repo` and
//! `ReadRepo`. Called only from `incidents.rs`; times are Unix milliseconds.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::incidents::{from_ms, ms};
use crate::followup::actions::{ActionItem, Filter, NewAction, Priority};
use crate::followup::postmortem::{NewPostmortem, PmState, Postmortem, Sections};
use crate::store::{Cursor, StoreError, StoreResult};

const PM_COLUMNS: &str =
    "id, incident, team, state, author, approver, title, what_happened, how_fixed,
    cause, measures, no_measures_needed, due_at, created_at, updated_at, submitted_at, approved_at,
    approved_by, published_at, client_summary";

const ACTION_COLUMNS: &str = "id, postmortem, incident, team, title, assignee, deadline, priority,
    created_by, created_at, done_at, done_by";

fn pm_row(r: &Row<'_>) -> rusqlite::Result<Postmortem> {
    let opt = |i: usize| r.get::<_, Option<i64>>(i).map(|v| v.map(from_ms));
    Ok(Postmortem {
        id: r.get(0)?,
        incident: r.get(1)?,
        team: r.get(2)?,
        state: r.get::<_, String>(3)?.parse().unwrap_or(PmState::Draft),
        author: r.get(4)?,
        approver: r.get(5)?,
        title: r.get(6)?,
        sections: Sections {
            what_happened: r.get(7)?,
            how_fixed: r.get(8)?,
            cause: r.get(9)?,
            measures: r.get(10)?,
            client_summary: r.get(19)?,
        },
        no_measures_needed: r.get::<_, i64>(11)? != 0,
        due_at: from_ms(r.get(12)?),
        created_at: from_ms(r.get(13)?),
        updated_at: from_ms(r.get(14)?),
        submitted_at: opt(15)?,
        approved_at: opt(16)?,
        approved_by: r.get(17)?,
        published_at: opt(18)?,
    })
}

fn action_row(r: &Row<'_>) -> rusqlite::Result<ActionItem> {
    Ok(ActionItem {
        id: r.get(0)?,
        postmortem: r.get(1)?,
        incident: r.get(2)?,
        team: r.get(3)?,
        title: r.get(4)?,
        assignee: r.get(5)?,
        deadline: from_ms(r.get(6)?),
        priority: r.get::<_, String>(7)?.parse().unwrap_or(Priority::High),
        created_by: r.get(8)?,
        created_at: from_ms(r.get(9)?),
        done_at: r.get::<_, Option<i64>>(10)?.map(from_ms),
        done_by: r.get(11)?,
    })
}

pub fn insert(conn: &Connection, n: &NewPostmortem, now: DateTime<Utc>) -> StoreResult<i64> {
    let s = &n.sections;
    let inserted = super::exec(
        conn,
        "INSERT INTO postmortems (incident, team, state, author, approver, title, what_happened,
            how_fixed, cause, measures, client_summary, due_at, created_at, updated_at)
         VALUES (?1, ?2, 'draft', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        params![
            n.incident,
            n.team,
            n.author,
            n.approver,
            n.title,
            s.what_happened,
            s.how_fixed,
            s.cause,
            s.measures,
            s.client_summary,
            ms(n.due_at),
            ms(now)
        ],
    );
    match inserted {
        Ok(_) => Ok(conn.last_insert_rowid()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Conflict(format!(
                "incident {} already has a postmortem",
                n.incident
            )))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn get(conn: &Connection, id: i64) -> StoreResult<Postmortem> {
    super::row(
        conn,
        &format!("SELECT {PM_COLUMNS} FROM postmortems WHERE id = ?1"),
        [id],
        pm_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

pub fn of_incident(conn: &Connection, incident: i64) -> StoreResult<Option<Postmortem>> {
    Ok(super::row(
        conn,
        &format!("SELECT {PM_COLUMNS} FROM postmortems WHERE incident = ?1"),
        [incident],
        pm_row,
    )
    .optional()?)
}

pub fn list(
    conn: &Connection,
    after: Option<Cursor>,
    limit: usize,
) -> StoreResult<Vec<Postmortem>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PM_COLUMNS} FROM postmortems WHERE ?2 IS NULL OR id < ?2
         ORDER BY id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map(params![limit as i64, after.map(|c| c.id)], pm_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn update(conn: &Connection, pm: &Postmortem) -> StoreResult<()> {
    let s = &pm.sections;
    let n = super::exec(
        conn,
        "UPDATE postmortems SET state = ?2, author = ?3, title = ?4, what_happened = ?5,
            how_fixed = ?6, cause = ?7, measures = ?8, no_measures_needed = ?9, updated_at = ?10,
            submitted_at = ?11, approved_at = ?12, approved_by = ?13, published_at = ?14,
            client_summary = ?15
         WHERE id = ?1",
        params![
            pm.id,
            pm.state.as_str(),
            pm.author,
            pm.title,
            s.what_happened,
            s.how_fixed,
            s.cause,
            s.measures,
            pm.no_measures_needed as i64,
            ms(pm.updated_at),
            pm.submitted_at.map(ms),
            pm.approved_at.map(ms),
            pm.approved_by,
            pm.published_at.map(ms),
            s.client_summary,
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn insert_action(conn: &Connection, n: &NewAction, now: DateTime<Utc>) -> StoreResult<i64> {
    super::exec(
        conn,
        "INSERT INTO action_items (postmortem, incident, team, title, assignee, deadline, priority,
            created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            n.postmortem,
            n.incident,
            n.team,
            n.title,
            n.assignee,
            ms(n.deadline),
            n.priority.as_str(),
            n.created_by,
            ms(now)
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn action(conn: &Connection, id: i64) -> StoreResult<ActionItem> {
    super::row(
        conn,
        &format!("SELECT {ACTION_COLUMNS} FROM action_items WHERE id = ?1"),
        [id],
        action_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

pub fn set_action_done(conn: &Connection, item: &ActionItem) -> StoreResult<()> {
    super::exec(
        conn,
        "UPDATE action_items SET done_at = ?2, done_by = ?3 WHERE id = ?1",
        params![item.id, item.done_at.map(ms), item.done_by],
    )?;
    Ok(())
}

fn actions_where(
    conn: &Connection,
    cond: &str,
    args: impl rusqlite::Params,
) -> StoreResult<Vec<ActionItem>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ACTION_COLUMNS} FROM action_items WHERE {cond}"
    ))?;
    let rows = stmt.query_map(args, action_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn actions_of(conn: &Connection, postmortem: i64) -> StoreResult<Vec<ActionItem>> {
    actions_where(conn, "postmortem = ?1 ORDER BY id", [postmortem])
}

pub fn open_actions_of_team(conn: &Connection, team: &str) -> StoreResult<Vec<ActionItem>> {
    actions_where(
        conn,
        "team = ?1 AND done_at IS NULL ORDER BY deadline, id",
        [team],
    )
}

/// Items by status at `now`, optionally of one assignee, by deadline then
/// number, after `after` (key: the deadline in ms).
pub fn actions(
    conn: &Connection,
    filter: Filter,
    assignee: Option<&str>,
    now: DateTime<Utc>,
    after: Option<Cursor>,
    limit: usize,
) -> StoreResult<Vec<ActionItem>> {
    let status = match filter {
        Filter::Open => "done_at IS NULL",
        Filter::Overdue => "done_at IS NULL AND deadline <= ?2",
        Filter::Done => "done_at IS NOT NULL",
        Filter::All => "1",
    };
    actions_where(
        conn,
        &format!(
            "{status} AND (?1 IS NULL OR assignee = ?1) AND ?2 = ?2
             AND (?3 IS NULL OR (deadline, id) > (?3, ?4)) ORDER BY deadline, id LIMIT ?5"
        ),
        params![
            assignee,
            ms(now),
            after.map(|c| c.key),
            after.map(|c| c.id),
            limit as i64
        ],
    )
}
