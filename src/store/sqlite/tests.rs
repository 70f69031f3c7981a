//! The SQLite store's own machinery: its file, migrations, writer lanes,
//! group commit and fsync. What every store must do is tested on both in
//! `store/tests/`.

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
async fn migration_21_keeps_every_timer_alert_and_recent_snapshot() {
    let (_dir, path) = temp_db();
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    let mut conn = open_conn(&path).expect("open");
    migrate_to(&mut conn, 20).expect("to 20");
    conn.execute_batch(
        "INSERT INTO incidents (id, project, client, title, severity, state, critical, source,
            labels, annotations, links, details, created_at, last_seen_at)
         VALUES (7, 'shop', 'acme', 't', 'critical', 'triggered', 1, 'alertmanager',
            '{}', '{}', '[]', '{}', 1, 1);
         INSERT INTO alerts (incident, fingerprint, status, summary, labels, first_seen, last_seen)
         VALUES (7, 'f1', 'firing', 'disk full', '{\"a\":\"b\"}', 10, 20),
                (7, 'f2', 'resolved', 'cpu', '{}', 11, 21);
         INSERT INTO deliveries (integration, group_key, key, at)
         VALUES ('prom', 'g1', 'k1', 5), ('prom', 'g1', 'k2', 6);
         INSERT INTO timers (kind, key, due_at, data)
         VALUES ('escalation', '7', 1000, '{}'), ('action_digest', 't1', 2000, '{\"cron\":\"0 9 * * MON\"}');",
    )
    .expect("rows at 20");
    migrate_to(&mut conn, 21).expect("to 21");
    let all = |sql: &str| -> Vec<Vec<String>> {
        let mut stmt = conn.prepare(sql).expect("prepare");
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            (0..n)
                .map(|i| {
                    r.get::<_, rusqlite::types::Value>(i)
                        .map(|v| format!("{v:?}"))
                })
                .collect()
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    };
    assert_eq!(
        all("SELECT * FROM alerts ORDER BY fingerprint"),
        [
            [
                "Integer(7)",
                "Text(\"f1\")",
                "Text(\"firing\")",
                "Text(\"disk full\")",
                "Text(\"{\\\"a\\\":\\\"b\\\"}\")",
                "Integer(10)",
                "Integer(20)"
            ],
            [
                "Integer(7)",
                "Text(\"f2\")",
                "Text(\"resolved\")",
                "Text(\"cpu\")",
                "Text(\"{}\")",
                "Integer(11)",
                "Integer(21)"
            ],
        ]
    );
    assert_eq!(
        all("SELECT * FROM timers ORDER BY due_at"),
        [
            [
                "Text(\"escalation\")",
                "Text(\"7\")",
                "Integer(1000)",
                "Text(\"{}\")"
            ],
            [
                "Text(\"action_digest\")",
                "Text(\"t1\")",
                "Integer(2000)",
                "Text(\"{\\\"cron\\\":\\\"0 9 * * MON\\\"}\")"
            ],
        ]
    );
    assert_eq!(
        all("SELECT * FROM deliveries ORDER BY at"),
        [
            [
                "Text(\"prom\")",
                "Text(\"g1\")",
                "Text(\"k1\")",
                "Integer(5)"
            ],
            [
                "Text(\"prom\")",
                "Text(\"g1\")",
                "Text(\"k2\")",
                "Integer(6)"
            ],
        ]
    );
    let firing = all("SELECT fingerprint FROM alerts WHERE incident = 7 AND status = 'firing'");
    assert_eq!(firing, [["Text(\"f1\")"]]);
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

/// A job alone in its batch runs without a savepoint: when it fails, its
/// writes go with the transaction, the caller hears its own error, and the
/// store stays ready.
#[tokio::test]
async fn a_lone_failing_job_leaves_nothing_and_the_store_stays_ready() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).expect("open");
    let err = store
        .write(|t| {
            t.execute("INSERT INTO meta (key, value) VALUES ('lone', 'v')", [])?;
            Err::<(), _>(StoreError::Conflict("refused".into()))
        })
        .await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(store.meta_get("lone").await.expect("read"), None);
    store.ready().await.expect("still ready");
    store
        .write(|t| Ok(t.execute("INSERT INTO meta (key, value) VALUES ('next', 'v')", [])?))
        .await
        .expect("the next write");
    assert_eq!(
        store.meta_get("next").await.expect("read").as_deref(),
        Some("v")
    );
}
