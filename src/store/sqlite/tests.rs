use super::*;

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested/dir/tocsin.db");
    (dir, path)
}

fn schema(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
        .expect("prepare");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows")
}

#[tokio::test]
async fn migrates_from_empty_and_reopens_idempotently() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open creates folder and file");
    assert_eq!(
        store.schema_version().await.expect("version"),
        MIGRATIONS.len()
    );
    store.close();
    let first = schema(&path);
    let again = SqliteStore::open(&path).expect("reopen");
    assert_eq!(
        again.schema_version().await.expect("version"),
        MIGRATIONS.len()
    );
    assert_eq!(schema(&path), first, "re-opening changes nothing");
}

#[tokio::test]
async fn migrates_from_every_earlier_version() {
    let (_dir, fresh) = temp_db();
    SqliteStore::open(&fresh).expect("fresh").close();
    let expected = schema(&fresh);
    for version in 0..MIGRATIONS.len() {
        let (_d, path) = temp_db();
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        let mut conn = open_conn(&path).expect("open");
        migrate_to(&mut conn, version).expect("partial migration");
        drop(conn);
        let store = SqliteStore::open(&path).expect("upgrade");
        assert_eq!(
            store.schema_version().await.expect("v"),
            MIGRATIONS.len(),
            "from {version}"
        );
        store.close();
        assert_eq!(
            schema(&path),
            expected,
            "schema upgraded from version {version}"
        );
    }
}

#[tokio::test]
async fn refuses_a_newer_schema() {
    let (_dir, path) = temp_db();
    SqliteStore::open(&path).expect("open").close();
    let conn = Connection::open(&path).expect("open");
    conn.pragma_update(None, "user_version", 999)
        .expect("set version");
    drop(conn);
    let err = SqliteStore::open(&path).err().expect("must refuse");
    assert!(err.to_string().contains("newer than this tocsin"), "{err}");
}

#[tokio::test]
async fn group_commit_isolates_failing_jobs() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    let mut handles = Vec::new();
    for i in 0..50 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            s.write(move |t| {
                t.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, 'v')",
                    [format!("k{i}")],
                )?;
                if i % 10 == 0 {
                    return Err(StoreError::Conflict("refused".into()));
                }
                Ok(i)
            })
            .await
        }));
    }
    let mut ok = 0;
    for h in handles {
        if h.await.expect("join").is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 45);
    let count: i64 = store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM meta", [], |r| r.get(0))?))
        .await
        .expect("count");
    assert_eq!(count, 45, "failed jobs leave nothing behind");
}

#[tokio::test]
async fn failing_store_reports_unavailable_and_recovers() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    store.set_fail_writes(true);
    let err = store.meta_get_or_insert("secret", "a".into()).await;
    assert!(matches!(err, Err(StoreError::Unavailable(_))), "{err:?}");
    assert_eq!(
        store.meta_get("secret").await.expect("read"),
        None,
        "nothing committed"
    );
    store.set_fail_writes(false);
    assert_eq!(
        store
            .meta_get_or_insert("secret", "b".into())
            .await
            .expect("write"),
        "b"
    );
    assert_eq!(
        store
            .meta_get_or_insert("secret", "c".into())
            .await
            .expect("write"),
        "b"
    );
}

fn new_incident(title: &str) -> crate::incident::NewIncident {
    crate::incident::NewIncident {
        project: "shop".into(),
        client: "acme".into(),
        title: title.into(),
        severity: crate::ingest::alert::Severity::Critical,
        critical: true,
        source: crate::ingest::alert::Source::Trigger,
        integration: None,
        dedup_key: None,
        client_reported: false,
        labels: Default::default(),
        annotations: Default::default(),
        links: Vec::new(),
        details: serde_json::Value::Null,
        started_at: chrono::DateTime::UNIX_EPOCH,
    }
}

/// A fresh database at the latest schema, opened as the writer opens it.
fn migrated_db() -> (tempfile::TempDir, Connection) {
    let (dir, path) = temp_db();
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    let mut conn = open_conn(&path).expect("open");
    migrations::migrate(&mut conn).expect("migrate");
    (dir, conn)
}

/// What a paging decision needs, over `roster`, on a Wednesday morning.
fn paging_ctx(roster: &crate::config::Roster) -> crate::escalation::paging::Ctx<'_> {
    crate::escalation::paging::Ctx {
        roster,
        secret: b"k",
        now: crate::escalation::fixture::utc("2026-11-25T10:00:00Z"),
    }
}

#[tokio::test]
async fn paged_to_counts_open_incidents_paged_or_assigned() {
    use crate::incident::{Actor, State};
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("instant");
    let paged = move |repo: &mut dyn crate::incident::Repo, state: State, to: &str| {
        let id = repo.insert(&new_incident("x"), state, now)?;
        let detail = serde_json::json!({"person": to, "via": "sms"});
        repo.append(id, now, &Actor::System, "page queued", detail)?;
        Ok::<_, StoreError>(id)
    };
    let (got, expected) = store
        .transact(move |repo| {
            let triggered = paged(repo, State::Triggered, "bob")?;
            let acked = paged(repo, State::Acknowledged, "bob")?;
            paged(repo, State::Resolved, "bob")?;
            paged(repo, State::Downgraded, "bob")?;
            paged(repo, State::Triggered, "alice")?;
            // Assigned without a page (acknowledged in the UI, say).
            let assigned = repo.insert(&new_incident("y"), State::Triggered, now)?;
            repo.set_state(assigned, State::Acknowledged, now, Some("bob"))?;
            let got = (repo.paged_to("bob")?, repo.paged_to("carol")?);
            Ok((got, (vec![triggered, acked, assigned], vec![])))
        })
        .await
        .expect("transact");
    assert_eq!(got, expected);
}

#[tokio::test]
async fn sms_sids_and_opt_outs() {
    use crate::incident::SmsClaim;
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("instant");
    let steps = store
        .transact(move |repo| {
            let mut seen = vec![repo.claim_sms("SM1", "bob", now)?];
            seen.push(repo.claim_sms("SM1", "bob", now)?);
            repo.set_sms_reply("SM1", "<Response/>")?;
            seen.push(repo.claim_sms("SM1", "bob", now)?);
            repo.release_sms("SM1")?;
            seen.push(repo.claim_sms("SM1", "bob", now)?);
            // Forgotten after the memory window.
            let later = now + crate::incident::repo::SMS_SID_MEMORY + chrono::Duration::seconds(1);
            seen.push(repo.claim_sms("SM1", "bob", later)?);
            let mut opted = vec![crate::incident::opted_out(repo, "bob")];
            repo.set_sms_opt_out("bob", "+4915110000002", Some(now))?;
            repo.set_sms_opt_out("bob", "+4915110000002", Some(later))?;
            opted.push(crate::incident::opted_out(repo, "bob"));
            let first_stop = repo.sms_opted_out_at("bob")? == Some(now);
            repo.set_sms_opt_out("bob", "+4915110000002", None)?;
            opted.push(crate::incident::opted_out(repo, "bob"));
            Ok((seen, opted, first_stop))
        })
        .await
        .expect("transact");
    assert_eq!(
        steps,
        (
            vec![
                SmsClaim::New,
                SmsClaim::Seen { reply: None },
                SmsClaim::Seen {
                    reply: Some("<Response/>".into())
                },
                SmsClaim::New,
                SmsClaim::New,
            ],
            vec![false, true, false],
            true
        )
    );
}

#[tokio::test]
async fn migration_8_keeps_each_groups_last_snapshot_and_the_recent_ones() {
    let (_dir, path) = temp_db();
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    let mut conn = open_conn(&path).expect("open");
    migrate_to(&mut conn, 7).expect("to 7");
    let minute = 60_000;
    let now = 1_000 * minute;
    for (group, key, at) in [
        ("g1", "old", now - 60 * minute),
        ("g1", "older-last", now - 30 * minute),
        ("g2", "a", now - 9 * minute),
        ("g2", "b", now - 20 * minute),
        ("g2", "c", now),
    ] {
        conn.execute(
            "INSERT INTO deliveries (integration, group_key, key, at) VALUES ('prom', ?1, ?2, ?3)",
            rusqlite::params![group, key, at],
        )
        .expect("insert");
    }
    migrate_to(&mut conn, 8).expect("to 8");
    let pairs = |sql: &str| -> Vec<(String, String)> {
        let mut stmt = conn.prepare(sql).expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let last = pairs("SELECT group_key, key FROM delivery_last ORDER BY group_key");
    assert_eq!(
        last,
        [
            ("g1".into(), "older-last".into()),
            ("g2".into(), "c".into())
        ]
    );
    let recent = pairs("SELECT group_key, key FROM deliveries ORDER BY id");
    assert_eq!(
        recent,
        [("g2".into(), "a".into()), ("g2".into(), "c".into())]
    );
}

#[tokio::test]
async fn migration_13_numbers_each_clients_incidents_and_keeps_what_they_were_told() {
    let (_dir, path) = temp_db();
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    let mut conn = open_conn(&path).expect("open");
    migrate_to(&mut conn, 12).expect("to 12");
    for (id, client, reported) in [
        (1, "acme", 0),
        (2, "big_co", 0),
        (3, "acme", 1),
        (4, "acme", 0),
        (5, "big_co", 0),
    ] {
        conn.execute(
            "INSERT INTO incidents (id, project, client, title, severity, state, critical, source,
                client_reported, labels, annotations, links, details, created_at, last_seen_at)
             VALUES (?1, 'shop', ?2, 't', 'critical', 'resolved', 1, 'alertmanager', ?3,
                '{}', '{}', '[]', 'null', ?1 * 1000, ?1 * 1000)",
            rusqlite::params![id, client, reported],
        )
        .expect("insert incident");
    }
    conn.execute(
        "INSERT INTO timeline (incident, at, actor, kind, detail)
         VALUES (4, 0, 'system', 'client post queued', '{}'), (5, 0, 'system', 'page queued', '{}')",
        [],
    )
    .expect("insert events");
    migrate_to(&mut conn, 13).expect("to 13");
    let mut stmt = conn
        .prepare("SELECT ref_prefix, ref_seq, announced, started_at FROM incidents ORDER BY id")
        .expect("prepare");
    let rows: Vec<(String, i64, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        [
            ("ACME".into(), 1, 0, 1000),
            ("BIG-CO".into(), 1, 0, 2000),
            ("ACME".into(), 2, 1, 3000),
            ("ACME".into(), 3, 1, 4000),
            ("BIG-CO".into(), 2, 0, 5000),
        ]
    );
}

#[tokio::test]
async fn each_client_counts_its_own_incidents() {
    use crate::incident::{ReadRepo, Repo, State};
    let (_dir, conn) = migrated_db();
    let mut repo = incidents::TxRepo::new(&conn);
    let now = chrono::DateTime::UNIX_EPOCH;
    let mut refs = Vec::new();
    for client in ["acme", "globex", "acme", "big_co", "acme"] {
        let new = crate::incident::NewIncident {
            client: client.into(),
            ..new_incident("t")
        };
        let id = repo.insert(&new, State::Triggered, now).expect("insert");
        refs.push((id, repo.get(id).expect("get").reference));
    }
    let names: Vec<&str> = refs.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        names,
        ["ACME-1", "GLOBEX-1", "ACME-2", "BIG-CO-1", "ACME-3"]
    );
    let reader = incidents::Reader { conn: &conn };
    assert_eq!(reader.by_reference("ACME", 2).expect("found"), refs[2].0);
    assert!(matches!(
        reader.by_reference("ACME", 4),
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn a_group_keeps_only_the_deliveries_its_duplicate_check_reads() {
    use chrono::{Duration, TimeZone, Utc};
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
    let window = Duration::seconds(60);
    let seen = |key: &'static str, secs: i64| {
        let store = store.clone();
        async move {
            store
                .transact(move |repo| {
                    repo.seen_delivery("prom", "g", key, t0 + Duration::seconds(secs), window)
                })
                .await
                .expect("stored")
        }
    };
    assert!(!seen("A", 0).await);
    assert!(!seen("B", 10).await);
    assert!(seen("A", 20).await, "an HA copy of A");
    assert!(seen("B", 50).await, "the last one");
    assert!(!seen("C", 100).await);
    let rows: Vec<String> = store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT key FROM deliveries UNION ALL SELECT 'last:' || key FROM delivery_last",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .expect("read");
    assert_eq!(rows, ["last:C"], "A and B are past the window");
    assert!(!seen("A", 110).await, "A again is a re-fire");
    assert!(seen("C", 115).await, "C is within its window");
}

#[tokio::test]
async fn a_commit_wakes_only_the_tasks_whose_rows_it_stored() {
    use std::time::Duration;
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    let wakers = Wakers {
        timers: Arc::new(tokio::sync::Notify::new()),
        outbox: Arc::new(tokio::sync::Notify::new()),
        forgotten: Arc::new(|_: &[(String, String)]| {}),
    };
    store.set_wakers(wakers.clone());
    // A stored permit makes `notified()` ready at once; none, and it waits.
    let woken = |n: &Arc<tokio::sync::Notify>| {
        let n = n.clone();
        async move {
            tokio::time::timeout(Duration::from_millis(20), n.notified())
                .await
                .is_ok()
        }
    };
    store
        .transact(|repo| repo.touch(1, chrono::Utc::now()))
        .await
        .expect("commit");
    assert!(!woken(&wakers.timers).await && !woken(&wakers.outbox).await);
    let due = chrono::Utc::now();
    store
        .transact(move |repo| {
            repo.set_timer(&crate::incident::Timer {
                kind: "test".into(),
                key: "1".into(),
                due,
                data: serde_json::json!({}),
            })
        })
        .await
        .expect("commit");
    assert!(
        woken(&wakers.timers).await,
        "a stored timer wakes the timer task"
    );
    assert!(!woken(&wakers.outbox).await);
    // A failed transaction stores nothing and wakes nobody.
    let failed = store
        .transact(move |repo| {
            repo.set_timer(&crate::incident::Timer {
                kind: "test".into(),
                key: "2".into(),
                due,
                data: serde_json::json!({}),
            })?;
            Err::<(), _>(crate::store::StoreError::NotFound)
        })
        .await;
    assert!(failed.is_err());
    assert!(!woken(&wakers.timers).await);
}

#[tokio::test]
async fn a_database_reached_through_a_symbolic_link_commits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let real = dir.path().join("real");
    std::fs::create_dir_all(&real).expect("mkdir");
    std::fs::File::create(real.join("tocsin.db")).expect("create");
    let link = dir.path().join("tocsin.db");
    std::os::unix::fs::symlink(real.join("tocsin.db"), &link).expect("symlink");
    let store = SqliteStore::open(&link).expect("open");
    store
        .meta_get_or_insert("k", "v".into())
        .await
        .expect("the write is answered as committed");
    assert_eq!(
        store.meta_get("k").await.expect("read").as_deref(),
        Some("v")
    );
}

#[tokio::test]
async fn a_commit_wakes_its_task_even_when_the_caller_has_gone() {
    use std::time::Duration;
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    let wakers = Wakers {
        timers: Arc::new(tokio::sync::Notify::new()),
        outbox: Arc::new(tokio::sync::Notify::new()),
        forgotten: Arc::new(|_: &[(String, String)]| {}),
    };
    store.set_wakers(wakers.clone());
    let due = chrono::Utc::now();
    let write = store.transact(move |repo| {
        repo.set_timer(&crate::incident::Timer {
            kind: "test".into(),
            key: "1".into(),
            due,
            data: serde_json::json!({}),
        })
    });
    // Polled once (the job is queued), then dropped: a client that hung up.
    let _ = tokio::time::timeout(Duration::ZERO, write).await;
    tokio::time::timeout(Duration::from_secs(10), wakers.timers.notified())
        .await
        .expect("the timer task is woken after the commit");
    let timers = store.query(|r| r.timers("test")).await.expect("read");
    assert_eq!(timers.len(), 1, "and the timer was stored");
}

#[tokio::test]
async fn a_failed_sync_refuses_every_later_write_and_fails_readiness() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    store
        .meta_get_or_insert("a", "1".into())
        .await
        .expect("durable");
    // The WAL can no longer be synced (as if the disk had failed).
    std::fs::remove_file(wal_path(&path)).expect("remove the WAL");
    assert!(
        store.meta_get_or_insert("b", "2".into()).await.is_err(),
        "not answered as stored"
    );
    assert!(store.ping().await.is_err(), "readiness fails");
    assert!(
        store.meta_get_or_insert("c", "3".into()).await.is_err(),
        "every later write is refused"
    );
}

#[tokio::test]
async fn a_job_reads_its_own_timeline_events_in_the_order_it_appended_them() {
    use crate::incident::{Actor, Repo, State};
    let (_dir, mut conn) = migrated_db();
    let tx = conn.transaction().expect("tx");
    let mut repo = incidents::TxRepo::new(&tx);
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("instant");
    let id = repo
        .insert(&new_incident("db down"), State::Triggered, now)
        .expect("insert");
    // More than one statement writes at once.
    let kinds: Vec<String> = (0..19).map(|i| format!("event {i}")).collect();
    for (i, kind) in kinds.iter().enumerate() {
        let detail = serde_json::json!({"n": i});
        repo.append(id, now, &Actor::System, kind, detail)
            .expect("append");
    }
    let read: Vec<String> = repo
        .timeline(id)
        .expect("timeline")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(read, kinds);
    repo.append(id, now, &Actor::System, "last", serde_json::json!({}))
        .expect("append");
    repo.flush().expect("flush");
    let stored: i64 = tx
        .query_row(
            "SELECT count(*) FROM timeline WHERE incident = ?1",
            [id],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(stored, 20);
}

#[tokio::test]
async fn a_job_reads_back_every_change_it_made_to_its_incident() {
    use crate::incident::{Diagnosis, Repo, State};
    let (_dir, mut conn) = migrated_db();
    let tx = conn.transaction().expect("tx");
    let mut repo = incidents::TxRepo::new(&tx);
    // Sub-millisecond instants: the store keeps whole milliseconds.
    let at =
        |s: i64| chrono::DateTime::from_timestamp(1_800_000_000 + s, 123_456_789).expect("instant");
    let mut new = new_incident("db down");
    new.integration = Some("prom".into());
    new.dedup_key = Some("g1".into());
    new.labels.insert("severity".into(), "critical".into());
    new.annotations
        .insert("runbook".into(), "https://wiki/db".into());
    new.links.push(crate::ingest::alert::Link {
        href: "https://grafana/d/1".into(),
        text: "dashboard".into(),
    });
    new.details = serde_json::json!({"load": 0.1, "hosts": ["db1", "db2"], "n": -3});
    new.started_at = at(-60);
    let id = repo.insert(&new, State::Triggered, at(0)).expect("insert");
    // Read through the job's repo (which keeps the last incident it read)
    // and straight from the transaction: they must agree after each write.
    let agree = |repo: &mut incidents::TxRepo<'_>, step: &str| {
        let through = serde_json::to_value(repo.get(id).expect("get")).expect("json");
        let fresh =
            serde_json::to_value(incidents::TxRepo::new(&tx).get(id).expect("get")).expect("json");
        assert_eq!(through, fresh, "after {step}");
        through
    };
    agree(&mut repo, "insert");
    repo.touch(id, at(0)).expect("touch when opened");
    agree(&mut repo, "touch when opened");
    repo.find_open("prom", "g1").expect("find").expect("open");
    repo.upsert_alert(id, "fp1", "firing", "s", &Default::default(), at(1))
        .expect("alert");
    assert_eq!(agree(&mut repo, "a new alert")["alert_count"], 1);
    repo.touch(id, at(2)).expect("touch");
    agree(&mut repo, "touch");
    repo.set_assignee(id, "alice").expect("assign");
    assert_eq!(agree(&mut repo, "assign")["assignee"], "alice");
    repo.set_diagnosis(
        id,
        &Diagnosis {
            provider_ticket: Some("T-1".into()),
            ..Default::default()
        },
    )
    .expect("diagnose");
    assert_eq!(agree(&mut repo, "diagnosis")["provider_ticket"], "T-1");
    repo.set_state(id, State::Acknowledged, at(3), None)
        .expect("ack");
    assert_eq!(agree(&mut repo, "acknowledge")["state"], "acknowledged");
    repo.mark_announced(id).expect("announce");
    assert_eq!(agree(&mut repo, "announce")["announced"], true);
    // Another incident read in between replaces the kept one.
    let other = repo
        .insert(&new_incident("other"), State::Triggered, at(4))
        .expect("insert");
    assert_eq!(repo.get(other).expect("get").title, "other");
    assert_eq!(agree(&mut repo, "reading another")["title"], "db down");
}

#[tokio::test]
async fn a_notice_keeps_its_own_sms_and_never_holds_a_page_back() {
    use crate::config::ChannelType;
    use crate::escalation::{delivery, fixture, paging::Ctx};
    use crate::incident::{OutboxRow, Repo, State};
    let (_dir, mut conn) = migrated_db();
    let tx = conn.transaction().expect("tx");
    let mut repo = incidents::TxRepo::new(&tx);
    let roster = fixture::roster();
    let ctx = paging_ctx(&roster);
    let now = ctx.now;
    let window = roster.limits.sms_bundle_window.to_chrono();
    let m2 = &roster.people["m2"];
    let id = repo
        .insert(&new_incident("db down"), State::Triggered, now)
        .expect("incident");
    let row = |kind: &str, subject: &str, body: &str| OutboxRow {
        incident: Some(id),
        ..OutboxRow::to_person(kind, m2, ChannelType::Sms, subject.into(), body.into(), now)
    };
    // A notice queued first, then two pages, all due now.
    let notice = repo
        .insert_outbox(&row("notice", "handed over", "tocsin: lead handed you #1"))
        .expect("notice");
    let page = repo
        .insert_outbox(&row("page", "#1 db down", "page text"))
        .expect("page");
    let other_page = repo
        .insert_outbox(&row("page", "#1 db down again", "page text"))
        .expect("page");
    let claimed = delivery::claim(&mut repo, &ctx, 10).expect("claim");
    // The pages go at once, as one SMS; the notice is not folded into it
    // and waits out the SMS window.
    assert_eq!(claimed.len(), 1, "{claimed:#?}");
    assert_eq!(claimed[0].row.id, page);
    assert_eq!(
        claimed[0].bundled.iter().map(|b| b.id).collect::<Vec<_>>(),
        [other_page]
    );
    let waiting = repo.outbox(notice).expect("row");
    assert_eq!(
        (waiting.status.as_str(), waiting.bundle_of, waiting.due_at),
        ("pending", None, now + window)
    );
    // Then the notice goes alone, in its own words, and does not take a
    // page due shortly after into its message.
    let later = Ctx {
        now: now + window,
        ..ctx
    };
    let next_page = repo
        .insert_outbox(&OutboxRow {
            due_at: later.now + chrono::Duration::seconds(10),
            ..row("page", "#1 still down", "page text")
        })
        .expect("page");
    let claimed = delivery::claim(&mut repo, &later, 10).expect("claim");
    assert_eq!(claimed.len(), 1, "{claimed:#?}");
    assert_eq!(claimed[0].row.id, notice);
    assert_eq!(claimed[0].row.body, "tocsin: lead handed you #1");
    assert!(claimed[0].bundled.is_empty());
    let kept = repo.outbox(next_page).expect("row");
    assert_eq!((kept.status.as_str(), kept.bundle_of), ("pending", None));
}

#[tokio::test]
async fn an_undelivered_bundle_falls_back_once_per_incident_and_person() {
    use crate::config::ChannelType;
    use crate::escalation::{delivery, fixture};
    use crate::incident::{OutboxRow, Repo, State};
    let (_dir, mut conn) = migrated_db();
    let tx = conn.transaction().expect("tx");
    let mut repo = incidents::TxRepo::new(&tx);
    let roster = fixture::roster();
    let ctx = paging_ctx(&roster);
    let now = ctx.now;
    let m2 = &roster.people["m2"];
    let first = repo
        .insert(&new_incident("db down"), State::Triggered, now)
        .expect("incident");
    let second = repo
        .insert(&new_incident("disk full"), State::Triggered, now)
        .expect("incident");
    let page = |id: i64| OutboxRow {
        incident: Some(id),
        fallback: vec!["voice".into()],
        ..OutboxRow::to_person("page", m2, ChannelType::Sms, "s".into(), "b".into(), now)
    };
    // The first incident paged twice (a re-page folded beside the first).
    for id in [first, first, second] {
        repo.insert_outbox(&page(id)).expect("page");
    }
    let claimed = delivery::claim(&mut repo, &ctx, 10).expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].bundled.len(), 2);
    delivery::record(
        &mut repo,
        &ctx,
        &claimed[0],
        "twilio",
        &Ok(Some("SM1".into())),
        0.5,
    )
    .expect("record");
    assert!(delivery::report(&mut repo, &ctx, "SM1", "undelivered", Some(30003)).expect("report"));
    let calls = |id: i64| {
        outbox::for_incident(&tx, id)
            .expect("rows")
            .into_iter()
            .filter(|r| r.channel == "voice")
            .count()
    };
    assert_eq!((calls(first), calls(second)), (1, 1));
    // Every SMS row of the bundle is failed, and a repeated report changes nothing.
    let failed = |id: i64| {
        outbox::for_incident(&tx, id)
            .expect("rows")
            .into_iter()
            .filter(|r| r.channel == "sms" && r.status == "failed")
            .count()
    };
    assert_eq!((failed(first), failed(second)), (2, 1));
    delivery::report(&mut repo, &ctx, "SM1", "undelivered", Some(30003)).expect("report");
    assert_eq!((calls(first), calls(second)), (1, 1));
}

#[tokio::test]
async fn a_report_that_beats_the_record_of_its_send_still_falls_back() {
    use crate::config::ChannelType;
    use crate::escalation::{delivery, fixture, paging::Ctx};
    use crate::incident::{OutboxRow, Repo, State};
    let (_dir, mut conn) = migrated_db();
    let tx = conn.transaction().expect("tx");
    let mut repo = incidents::TxRepo::new(&tx);
    let roster = fixture::roster();
    let ctx = paging_ctx(&roster);
    let now = ctx.now;
    let m2 = &roster.people["m2"];
    let id = repo
        .insert(&new_incident("db down"), State::Triggered, now)
        .expect("incident");
    repo.insert_outbox(&OutboxRow {
        incident: Some(id),
        fallback: vec!["voice".into()],
        ..OutboxRow::to_person("page", m2, ChannelType::Sms, "s".into(), "b".into(), now)
    })
    .expect("page");
    let claimed = delivery::claim(&mut repo, &ctx, 10).expect("claim");
    // Twilio's callbacks come before the worker records the send; an older
    // status arriving last does not replace the furthest.
    for status in ["sent", "undelivered", "queued"] {
        let found = delivery::report(&mut repo, &ctx, "SM9", status, Some(30003)).expect("report");
        assert!(!found);
    }
    assert_eq!(
        repo.early_report("SM9").expect("kept"),
        Some(("undelivered".to_string(), Some(30003)))
    );
    delivery::record(
        &mut repo,
        &ctx,
        &claimed[0],
        "twilio",
        &Ok(Some("SM9".into())),
        0.5,
    )
    .expect("record");
    let rows = outbox::for_incident(&tx, id).expect("rows");
    let sms = rows.iter().find(|r| r.channel == "sms").expect("sms row");
    assert_eq!(sms.status, "failed");
    assert_eq!(rows.iter().filter(|r| r.channel == "voice").count(), 1);
    assert_eq!(repo.early_report("SM9").expect("gone"), None);
    // Reports for ids no row ever carries are dropped after a day.
    delivery::report(&mut repo, &ctx, "SMother", "delivered", None).expect("report");
    let next_day = Ctx {
        now: now + chrono::Duration::days(1) + chrono::Duration::seconds(1),
        ..ctx
    };
    delivery::report(&mut repo, &next_day, "SMnew", "sent", None).expect("report");
    assert_eq!(repo.early_report("SMother").expect("pruned"), None);
    assert!(repo.early_report("SMnew").expect("kept").is_some());
}

#[tokio::test]
async fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    store
        .meta_get_or_insert("a", "1".into())
        .await
        .expect("write");
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    for file in [
        path.clone(),
        wal_path(&path),
        PathBuf::from(format!("{}-shm", path.display())),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let dir = path.parent().expect("folder");
    assert_eq!(mode(dir), 0o700, "the folder tocsin created");
    assert_eq!(mode(dir.parent().expect("nested")), 0o700, "and its parent");
}

#[tokio::test]
async fn readiness_fails_while_writes_fail_and_recovers_with_them() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    store.ready().await.expect("ready");
    store.set_fail_writes(true);
    assert!(store.meta_get_or_insert("a", "1".into()).await.is_err());
    assert!(store.ready().await.is_err(), "not ready while writes fail");
    assert!(store.ping().await.is_ok(), "but alive: no restart helps");
    store.set_fail_writes(false);
    store
        .write(|_| Ok(()))
        .await
        .expect("a batch that changes nothing");
    assert!(
        store.inner.health.failure().is_some(),
        "proves nothing about writes"
    );
    store
        .ready()
        .await
        .expect("the probe write succeeds: ready again");
    store.ready().await.expect("still ready");
}

/// Polls `fut` once: far enough for a store call to queue its job.
async fn queue<F: std::future::Future + Unpin>(fut: &mut F) {
    tokio::select! {
        biased;
        _ = fut => panic!("answered while the writer was held"),
        _ = std::future::ready(()) => {}
    }
}

/// During a storm the writer's queue is full of ingest; an acknowledgement
/// (any prompt job: paging, actions, timers) queued behind it is written
/// first, in a batch of its own.
#[tokio::test]
async fn an_acknowledgement_is_written_before_the_ingest_queued_ahead_of_it() {
    type Waiting<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = StoreResult<()>> + 'a>>;
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    let order = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = |label: String| {
        let order = order.clone();
        move |_: &mut dyn crate::incident::Repo| {
            order.lock().expect("order").push(label.clone());
            Ok(())
        }
    };
    // The writer is busy with one job until every job below is queued.
    let (held_tx, held_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let mut busy = Box::pin(store.write(move |_| {
        let _ = held_tx.send(());
        let _ = release_rx.recv();
        Ok(())
    }));
    queue(&mut busy).await;
    held_rx.recv().expect("the writer runs the first job");
    let mut waiting: Vec<Waiting<'_>> = Vec::new();
    for i in 0..5 {
        let mut ingest: Waiting<'_> = Box::pin(store.transact_bulk(log(format!("ingest {i}"))));
        queue(&mut ingest).await;
        waiting.push(ingest);
    }
    let mut ack: Waiting<'_> = Box::pin(store.transact(log("acknowledge".into())));
    queue(&mut ack).await;
    waiting.push(ack);
    release_tx.send(()).expect("release the writer");
    busy.await.expect("first job");
    for w in waiting {
        w.await.expect("written");
    }
    assert_eq!(
        *order.lock().expect("order"),
        [
            "acknowledge",
            "ingest 0",
            "ingest 1",
            "ingest 2",
            "ingest 3",
            "ingest 4"
        ]
    );
}

/// Ingest batches run without a savepoint per job: a job that fails undoes
/// the try, and the batch runs again a savepoint per job, so the failing job
/// leaves nothing and every other job of its batch is written once.
#[tokio::test]
async fn a_failing_ingest_job_leaves_nothing_and_the_rest_of_its_batch_is_written() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    let runs = Arc::new(Mutex::new(Vec::<i32>::new()));
    // The writer is busy until every ingest job below is queued, so they
    // make one batch.
    let (held_tx, held_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let mut busy = Box::pin(store.write(move |_| {
        let _ = held_tx.send(());
        let _ = release_rx.recv();
        Ok(())
    }));
    queue(&mut busy).await;
    held_rx.recv().expect("the writer runs the first job");
    let mut waiting = Vec::new();
    for i in 0..6 {
        let runs = runs.clone();
        let mut job = Box::pin(
            store.transact_bulk(move |repo: &mut dyn crate::incident::Repo| {
                runs.lock().expect("runs").push(i);
                repo.record_change_event(
                    "int",
                    "proj",
                    chrono::Utc::now(),
                    &format!("change {i}"),
                    serde_json::json!({}),
                )?;
                if i == 3 {
                    return Err(StoreError::Conflict("refused".into()));
                }
                Ok(i)
            }),
        );
        queue(&mut job).await;
        waiting.push(job);
    }
    release_tx.send(()).expect("release the writer");
    busy.await.expect("first job");
    let mut answers = Vec::new();
    for w in waiting {
        answers.push(w.await.ok());
    }
    assert_eq!(answers, [Some(0), Some(1), Some(2), None, Some(4), Some(5)]);
    let stored: Vec<String> = store
        .read(|c| {
            let mut st = c.prepare("SELECT summary FROM change_events ORDER BY id")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
        .expect("read");
    assert_eq!(
        stored,
        ["change 0", "change 1", "change 2", "change 4", "change 5"],
        "the failed job left nothing; the others are written once each"
    );
    // The try without savepoints stopped at the failing job; then every job
    // ran again, each in its own savepoint.
    assert_eq!(*runs.lock().expect("runs"), [0, 1, 2, 3, 0, 1, 2, 3, 4, 5]);
}
