//! Versioned, forward-only schema migrations. Version N is the state after
//! `MIGRATIONS[N-1]`; `PRAGMA user_version` records it. Never edit a
//! shipped migration: append a new one.

use rusqlite::Connection;

/// Each entry is applied once, in order, inside one transaction.
pub const MIGRATIONS: &[&str] = &[
    // 1: key/value facts about this database (generated secrets, instance id).
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;",
    // 2: incidents, their timeline and alerts, delivery dedup, presence, durable timers.
    "CREATE TABLE incidents (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        project         TEXT NOT NULL,
        client          TEXT NOT NULL,
        title           TEXT NOT NULL,
        severity        TEXT NOT NULL,
        state           TEXT NOT NULL,
        critical        INTEGER NOT NULL,
        source          TEXT NOT NULL,
        integration     TEXT,
        dedup_key       TEXT,
        client_reported INTEGER NOT NULL DEFAULT 0,
        labels          TEXT NOT NULL,
        annotations     TEXT NOT NULL,
        links           TEXT NOT NULL,
        details         TEXT NOT NULL,
        alert_count     INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,
        last_seen_at    INTEGER NOT NULL,
        acknowledged_at INTEGER,
        resolved_at     INTEGER,
        downgraded_at   INTEGER,
        assignee        TEXT,
        layer           TEXT,
        reproducible    INTEGER,
        serious         INTEGER NOT NULL DEFAULT 0,
        serious_reason  TEXT,
        provider_ticket TEXT
    ) STRICT;
    -- One open incident per key: concurrent duplicates cannot both open one.
    CREATE UNIQUE INDEX incidents_open_key ON incidents (integration, dedup_key)
        WHERE dedup_key IS NOT NULL AND state <> 'resolved';
    CREATE INDEX incidents_by_state ON incidents (state, id);
    CREATE INDEX incidents_by_key ON incidents (integration, dedup_key, resolved_at);
    CREATE TABLE timeline (
        id       INTEGER PRIMARY KEY,
        incident INTEGER NOT NULL REFERENCES incidents (id),
        at       INTEGER NOT NULL,
        actor    TEXT NOT NULL,
        kind     TEXT NOT NULL,
        detail   TEXT NOT NULL
    ) STRICT;
    CREATE INDEX timeline_by_incident ON timeline (incident, id);
    -- The timeline is append-only.
    CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline
        BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END;
    CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline
        BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END;
    CREATE TABLE alerts (
        incident    INTEGER NOT NULL REFERENCES incidents (id),
        fingerprint TEXT NOT NULL,
        status      TEXT NOT NULL,
        summary     TEXT NOT NULL,
        labels      TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        PRIMARY KEY (incident, fingerprint)
    ) STRICT;
    CREATE TABLE deliveries (
        id          INTEGER PRIMARY KEY,
        integration TEXT NOT NULL,
        group_key   TEXT NOT NULL,
        key         TEXT NOT NULL,
        at          INTEGER NOT NULL,
        UNIQUE (integration, group_key, key)
    ) STRICT;
    CREATE INDEX deliveries_by_age ON deliveries (at);
    CREATE TABLE change_events (
        id          INTEGER PRIMARY KEY,
        integration TEXT NOT NULL,
        project     TEXT NOT NULL,
        at          INTEGER NOT NULL,
        summary     TEXT NOT NULL,
        detail      TEXT NOT NULL
    ) STRICT;
    CREATE TABLE presence (
        person TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        until  INTEGER NOT NULL,
        set_by TEXT NOT NULL,
        set_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE timers (
        kind   TEXT NOT NULL,
        key    TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        data   TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (kind, key)
    ) STRICT;
    CREATE INDEX timers_by_due ON timers (due_at);",
    // 3: escalation state per incident and the notification outbox.
    "CREATE TABLE escalations (
        incident INTEGER PRIMARY KEY REFERENCES incidents (id),
        state    TEXT NOT NULL
    ) STRICT;
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        incident        INTEGER REFERENCES incidents (id),
        person          TEXT,
        client          TEXT,
        kind            TEXT NOT NULL,
        channel         TEXT NOT NULL,
        target          TEXT NOT NULL,
        fallback        TEXT NOT NULL DEFAULT '[]',
        tried           TEXT NOT NULL DEFAULT '[]',
        subject         TEXT NOT NULL,
        body            TEXT NOT NULL,
        status          TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        due_at          INTEGER NOT NULL,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER,
        provider        TEXT,
        provider_id     TEXT,
        provider_status TEXT,
        last_error      TEXT,
        bundle_of       INTEGER
    ) STRICT;
    CREATE INDEX outbox_pending ON outbox (due_at) WHERE status = 'pending';
    CREATE INDEX outbox_by_provider_id ON outbox (provider_id);
    CREATE INDEX outbox_by_incident ON outbox (incident);
    CREATE INDEX outbox_by_person ON outbox (person, channel, sent_at);",
    // 4: inbound SMS seen (Twilio may deliver a reply twice) and SMS opt-outs.
    "CREATE TABLE sms_inbound (
        message_sid TEXT PRIMARY KEY,
        person      TEXT NOT NULL,
        at          INTEGER NOT NULL,
        -- The TwiML answered; NULL while the reply is still being acted on.
        reply       TEXT
    ) STRICT;
    CREATE INDEX sms_inbound_by_age ON sms_inbound (at);
    CREATE TABLE sms_opt_outs (
        person       TEXT PRIMARY KEY,
        phone        TEXT NOT NULL,
        opted_out_at INTEGER NOT NULL
    ) STRICT;",
    // 5: postmortems (one per incident) and their action items.
    "CREATE TABLE postmortems (
        id                 INTEGER PRIMARY KEY,
        incident           INTEGER NOT NULL UNIQUE REFERENCES incidents (id),
        team               TEXT NOT NULL,
        state              TEXT NOT NULL,
        author             TEXT NOT NULL,
        approver           TEXT NOT NULL,
        title              TEXT NOT NULL,
        what_happened      TEXT NOT NULL,
        how_fixed          TEXT NOT NULL,
        cause              TEXT NOT NULL,
        measures           TEXT NOT NULL,
        no_measures_needed INTEGER NOT NULL DEFAULT 0,
        due_at             INTEGER NOT NULL,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL,
        submitted_at       INTEGER,
        approved_at        INTEGER,
        approved_by        TEXT,
        published_at       INTEGER
    ) STRICT;
    CREATE TABLE action_items (
        id         INTEGER PRIMARY KEY,
        postmortem INTEGER NOT NULL REFERENCES postmortems (id),
        incident   INTEGER NOT NULL REFERENCES incidents (id),
        team       TEXT NOT NULL,
        title      TEXT NOT NULL,
        assignee   TEXT NOT NULL,
        deadline   INTEGER NOT NULL,
        priority   TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        done_at    INTEGER,
        done_by    TEXT
    ) STRICT;
    CREATE INDEX action_items_by_postmortem ON action_items (postmortem, id);
    CREATE INDEX action_items_open ON action_items (team, deadline) WHERE done_at IS NULL;
    CREATE INDEX action_items_by_assignee ON action_items (assignee, deadline);",
    // 6: indexes for the hot ingest path: "is anything still firing?" and
    // "the group's last snapshot".
    "CREATE INDEX alerts_firing ON alerts (incident) WHERE status = 'firing';
    CREATE INDEX deliveries_by_group ON deliveries (integration, group_key, id);
    CREATE INDEX outbox_sending ON outbox (person, channel) WHERE status = 'sending';",
    // 7: the hourly SMS limit counts messages, and a bundle is one message.
    "CREATE INDEX outbox_sent_messages ON outbox (person, channel, sent_at) WHERE bundle_of IS NULL;",
    // 8: each group's last snapshot in a table of its own; `deliveries`
    // keeps only the snapshots of the HA copy window (older rows are never
    // read), so neither grows with every snapshot ever delivered. Rows of
    // the last ten minutes are kept as they are.
    "CREATE TABLE delivery_last (
        integration TEXT NOT NULL,
        group_key   TEXT NOT NULL,
        key         TEXT NOT NULL,
        PRIMARY KEY (integration, group_key)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO delivery_last (integration, group_key, key)
        SELECT integration, group_key, key FROM deliveries d
        WHERE id = (SELECT max(id) FROM deliveries l
                    WHERE l.integration = d.integration AND l.group_key = d.group_key);
    DELETE FROM deliveries WHERE at < (SELECT max(at) FROM deliveries) - 600000;
    DROP INDEX deliveries_by_group;",
    // 9: outbox indexes that a status change does not rewrite. Saving a row
    // sets every column, so every index over a column it sets was deleted
    // and re-inserted on each claim and each record, whatever changed. Now
    // each lookup has a partial index holding only the rows it can match
    // (SQLite skips a partial index whose condition is false before and
    // after), and the per-person list is over (person, id), which no save
    // touches.
    "DROP INDEX outbox_by_provider_id;
    CREATE INDEX outbox_by_provider_id ON outbox (provider_id) WHERE provider_id IS NOT NULL;
    DROP INDEX outbox_by_person;
    CREATE INDEX outbox_by_person ON outbox (person, id);
    DROP INDEX outbox_sent_messages;
    CREATE INDEX outbox_sent_messages ON outbox (person, channel, sent_at)
        WHERE sent_at IS NOT NULL AND bundle_of IS NULL;
    CREATE INDEX outbox_pending_by_person ON outbox (person, channel) WHERE status = 'pending';",
    // 10: finding stale claims (every minute) and a bundle's rows (on a
    // delivery report) without scanning the outbox.
    "CREATE INDEX outbox_claimed ON outbox (due_at) WHERE status = 'sending';
    CREATE INDEX outbox_bundled ON outbox (bundle_of) WHERE status = 'bundled';",
    // 11: a provider's delivery report that came before its send was
    // recorded (the callback beat the record's commit), kept until then.
    "CREATE TABLE early_reports (
        provider_id TEXT PRIMARY KEY,
        status      TEXT NOT NULL,
        error_code  INTEGER,
        at          INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX early_reports_by_age ON early_reports (at);",
    // 12: the postmortem's client summary, the only text published to the
    // client; empty for postmortems written before it, which approval and
    // publishing then ask for.
    "ALTER TABLE postmortems ADD COLUMN client_summary TEXT NOT NULL DEFAULT '';",
    // 13: the client's own reference of each incident (`ACME-7`: a sequence
    // per reference prefix, so per client), whether the client was told
    // about it, and when the problem started by the alert's own clock.
    // Existing incidents are numbered in the order they were opened, are
    // announced when they were reported by the client or posted about, and
    // started when they arrived.
    "ALTER TABLE incidents ADD COLUMN ref_prefix TEXT NOT NULL DEFAULT '';
    ALTER TABLE incidents ADD COLUMN ref_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE incidents ADD COLUMN announced INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE incidents ADD COLUMN started_at INTEGER NOT NULL DEFAULT 0;
    UPDATE incidents SET
        ref_prefix = replace(replace(upper(client), '_', '-'), '.', '-'),
        started_at = created_at,
        announced = client_reported OR id IN
            (SELECT incident FROM timeline WHERE kind = 'client post queued');
    UPDATE incidents SET ref_seq = numbered.seq FROM
        (SELECT id, row_number() OVER (PARTITION BY ref_prefix ORDER BY id) AS seq
         FROM incidents) AS numbered
        WHERE incidents.id = numbered.id;
    CREATE UNIQUE INDEX incidents_by_reference ON incidents (ref_prefix, ref_seq);",
    // 14: one-off maintenance windows (`POST /api/v1/maintenance`): the
    // scope (`project`, `client` or `integration` and its id), label
    // matchers as a JSON list of their texts, `[starts_at, ends_at)`, and
    // who created it and who ended it early.
    "CREATE TABLE maintenance (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        scope_kind     TEXT NOT NULL,
        scope          TEXT NOT NULL,
        matchers       TEXT NOT NULL,
        starts_at      INTEGER NOT NULL,
        ends_at        INTEGER NOT NULL,
        reason         TEXT NOT NULL,
        client_reports TEXT NOT NULL,
        created_by     TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        ended_by       TEXT,
        ended_at       INTEGER
    ) STRICT;
    CREATE INDEX maintenance_in_force ON maintenance (ends_at) WHERE ended_at IS NULL;",
    // 15: people's own notify ladders set over the API; a row overrides
    // the YAML `notify` of that person until it is deleted.
    "CREATE TABLE notify_rules (
        person TEXT PRIMARY KEY,
        rules  TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at INTEGER NOT NULL
    ) STRICT;",
    // 16: on-call overrides made over the API (the YAML ones stay in the
    // files), kept after deletion for the audit: who created and deleted
    // what, when.
    "CREATE TABLE overrides (
        id         INTEGER PRIMARY KEY,
        schedule   TEXT NOT NULL,
        person     TEXT NOT NULL,
        from_at    INTEGER NOT NULL,
        to_at      INTEGER NOT NULL,
        reason     TEXT,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        deleted_by TEXT,
        deleted_at INTEGER
    ) STRICT;
    CREATE INDEX overrides_live ON overrides (to_at) WHERE deleted_at IS NULL;",
    // 17: which vendor of the channel's failover list (providers.sms,
    // providers.voice) a notification is on, so a restart resumes a page on
    // the vendor it had moved to.
    "ALTER TABLE outbox ADD COLUMN vendor INTEGER NOT NULL DEFAULT 0;",
    // 18: web sign-in. One-time sign-in links and sessions, both kept only
    // as the SHA-256 of their token; a session carries its CSRF token and
    // is revoked (sign out) rather than deleted.
    "CREATE TABLE signin_links (
        hash       TEXT PRIMARY KEY,
        person     TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    ) STRICT;
    CREATE TABLE sessions (
        id         INTEGER PRIMARY KEY,
        hash       TEXT NOT NULL UNIQUE,
        person     TEXT NOT NULL,
        csrf       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) STRICT;
    CREATE INDEX sessions_live ON sessions (person) WHERE revoked_at IS NULL;",
    // 19: fewer index writes per new incident. A group's last snapshot
    // keeps when it was processed, so `deliveries` holds only snapshots a
    // later one replaced within the HA copy window (a group's first
    // snapshot is one row, not two); rows from before keep 0 (their copy
    // window is covered by `deliveries`, which held every snapshot). The
    // flap lookup's index holds resolved incidents only, so opening one
    // does not write it.
    "ALTER TABLE delivery_last ADD COLUMN at INTEGER NOT NULL DEFAULT 0;
    DROP INDEX incidents_by_key;
    CREATE INDEX incidents_resolved_by_key ON incidents (integration, dedup_key, resolved_at)
        WHERE state = 'resolved';",
    // 20: pages fold into a bundle as they wait for its window, and a big
    // bundle is stamped sent in chunks after its SMS: the rows still to
    // stamp (and those of a bundle not yet sent) are found by this.
    "CREATE INDEX outbox_unsent_bundled ON outbox (bundle_of)
        WHERE status = 'bundled' AND sent_at IS NULL;",
    // 21: timers, alerts and the HA copy window's snapshots are found by
    // their primary key alone, so they live in it (`WITHOUT ROWID`): each
    // new incident's two timers and its alert, and each replaced snapshot,
    // write one B-tree less.
    "CREATE TABLE timers_new (
        kind   TEXT NOT NULL,
        key    TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        data   TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (kind, key)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO timers_new (kind, key, due_at, data) SELECT kind, key, due_at, data FROM timers;
    DROP TABLE timers;
    ALTER TABLE timers_new RENAME TO timers;
    CREATE INDEX timers_by_due ON timers (due_at);
    CREATE TABLE alerts_new (
        incident    INTEGER NOT NULL REFERENCES incidents (id),
        fingerprint TEXT NOT NULL,
        status      TEXT NOT NULL,
        summary     TEXT NOT NULL,
        labels      TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        PRIMARY KEY (incident, fingerprint)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO alerts_new (incident, fingerprint, status, summary, labels, first_seen, last_seen)
        SELECT incident, fingerprint, status, summary, labels, first_seen, last_seen FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_new RENAME TO alerts;
    CREATE INDEX alerts_firing ON alerts (incident) WHERE status = 'firing';
    CREATE TABLE deliveries_new (
        integration TEXT NOT NULL,
        group_key   TEXT NOT NULL,
        key         TEXT NOT NULL,
        at          INTEGER NOT NULL,
        PRIMARY KEY (integration, group_key, key)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO deliveries_new (integration, group_key, key, at)
        SELECT integration, group_key, key, at FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_new RENAME TO deliveries;
    CREATE INDEX deliveries_by_age ON deliveries (at);",
    // 22: where a big bundle's delivery report stopped, kept with each
    // chunk (a report is applied a chunk per transaction), so a report a
    // crash cut short is finished at the next start.
    "CREATE TABLE reports_left (
        head       INTEGER NOT NULL,
        status     TEXT NOT NULL,
        after      INTEGER NOT NULL,
        error_code INTEGER,
        send_error TEXT,
        at         INTEGER NOT NULL,
        PRIMARY KEY (head, status)
    ) STRICT, WITHOUT ROWID;",
    // 23: a status callback finds a bundle by its head's provider id; the
    // pages folded into it carry the id too, and no longer each write an
    // entry of the index when the bundle is stamped sent.
    "DROP INDEX outbox_by_provider_id;
    CREATE INDEX outbox_by_provider_id ON outbox (provider_id)
        WHERE provider_id IS NOT NULL AND bundle_of IS NULL;",
    // 24: whom the client's channel was last told investigates an
    // incident, so a second acknowledge by the same person posts nothing.
    "ALTER TABLE incidents ADD COLUMN told_online TEXT;",
];

/// Brings the database to the latest version; returns (from, to).
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<(usize, usize)> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Applies migrations up to `target` (tests build every earlier version).
pub fn migrate_to(conn: &mut Connection, target: usize) -> rusqlite::Result<(usize, usize)> {
    let from: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if from > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {from} is newer than this tocsin ({}); refusing to run an older binary on it",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(from) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok((from, target.max(from)))
}
