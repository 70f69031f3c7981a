//! The PostgreSQL store's own machinery: its migrations, and the claims of
//! several daemons on one database. Run when `TOCSIN_TEST_POSTGRES` names
//! a server (`.ci/run` starts one); what every store must do is tested on
//! both in `store/tests/`.

use std::time::Duration;

use super::*;
use crate::store::test_db;

/// A new, empty database on the test server; `None` on a run without one.
fn database() -> Option<String> {
    test_db::server().map(|server| test_db::create_test_database(&server))
}

/// Runs `f` on a client of its own, off the test's runtime.
async fn admin<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
) -> T {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        f(&mut c).expect("admin statement")
    })
    .await
    .expect("admin task")
}

/// Every table column, index and trigger of the database, one line each.
async fn schema(url: &str) -> Vec<String> {
    admin(url, |c| {
        let rows = c.query(
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' '
                    || is_nullable || ' ' || coalesce(column_default, '')
               FROM information_schema.columns WHERE table_schema = 'public'
             UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL SELECT tgname FROM pg_trigger WHERE NOT tgisinternal
             ORDER BY 1",
            &[],
        )?;
        rows.iter().map(|r| r.try_get(0)).collect()
    })
    .await
}

#[tokio::test]
async fn migrates_from_empty_and_reopens_idempotently() {
    let Some(url) = database() else { return };
    let store = PgStore::open_async(url.clone())
        .await
        .expect("open migrates");
    assert_eq!(store.schema_version().await.expect("v"), MIGRATIONS.len());
    store.close();
    drop(store);
    let first = schema(&url).await;
    assert!(
        first.iter().any(|l| l.starts_with("incidents.ref_seq")),
        "{first:#?}"
    );
    let again = PgStore::open_async(url.clone()).await.expect("reopen");
    assert_eq!(again.schema_version().await.expect("v"), MIGRATIONS.len());
    assert_eq!(schema(&url).await, first, "re-opening changes nothing");
}

#[tokio::test]
async fn migrates_from_every_earlier_version() {
    let Some(fresh) = database() else { return };
    drop(PgStore::open_async(fresh.clone()).await.expect("fresh"));
    let expected = schema(&fresh).await;
    for version in 0..MIGRATIONS.len() {
        let Some(url) = database() else { return };
        admin(&url, move |c| {
            c.batch_execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")?;
            for sql in &MIGRATIONS[..version] {
                c.batch_execute(sql)?;
            }
            c.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&(version as i64)],
            )
        })
        .await;
        let store = PgStore::open_async(url.clone()).await.expect("upgrade");
        let v = store.schema_version().await.expect("v");
        assert_eq!(v, MIGRATIONS.len(), "from {version}");
        assert_eq!(schema(&url).await, expected, "upgraded from {version}");
    }
}

#[tokio::test]
async fn refuses_a_newer_schema() {
    let Some(url) = database() else { return };
    drop(PgStore::open_async(url.clone()).await.expect("open"));
    admin(&url, |c| {
        c.execute("UPDATE schema_version SET version = 999", &[])
    })
    .await;
    let err = PgStore::open_async(url).await.err().expect("must refuse");
    assert!(err.to_string().contains("newer than this tocsin"), "{err}");
}

/// Two daemons on one database: what one claimed is its own while it
/// lives, and goes to the other as soon as it is gone.
#[tokio::test]
async fn a_gone_daemons_claims_go_to_the_other_a_live_ones_stay() {
    use crate::escalation::{delivery, fixture, paging::Ctx};
    use crate::incident::OutboxRow;
    let Some(url) = database() else { return };
    let a = PgStore::open_async(url.clone()).await.expect("daemon a");
    let b = PgStore::open_async(url.clone()).await.expect("daemon b");
    let roster = std::sync::Arc::new(fixture::roster());
    let now = fixture::utc("2026-11-25T10:00:00Z");
    let claim = |store: &PgStore| {
        let roster = roster.clone();
        let store = store.clone();
        async move {
            store
                .transact(move |repo| {
                    let ctx = Ctx {
                        roster: &roster,
                        secret: b"k",
                        now,
                    };
                    let claimed = delivery::claim(repo, &ctx, 10)?;
                    Ok(claimed.iter().map(|c| c.row.id).collect::<Vec<_>>())
                })
                .await
                .expect("claim")
        }
    };
    let email = |n: u32| OutboxRow {
        incident: None,
        ..OutboxRow::to_person(
            "notice",
            // r1 has an email address (a row to an address the person
            // lacks fails at claim).
            &roster.people["r1"],
            crate::config::ChannelType::Email,
            format!("notice {n}"),
            "b".into(),
            now,
        )
    };
    let row = email(1);
    let id = a
        .transact(move |repo| repo.insert_outbox(&row))
        .await
        .expect("queued");
    assert_eq!(claim(&a).await, [id], "a claims it");
    assert_eq!(claim(&b).await, Vec::<i64>::new(), "not while a lives");
    // b starting up re-queues what a crash left: not a live daemon's claims.
    let requeued = b
        .transact(|repo| repo.requeue_in_flight(chrono::DateTime::<chrono::Utc>::MAX_UTC))
        .await
        .expect("recover");
    assert!(requeued.is_empty(), "{requeued:#?}");
    a.close();
    drop(a);
    // The lock goes with a's connections, which close on a thread of their own.
    let mut taken = Vec::new();
    for _ in 0..50 {
        taken = claim(&b).await;
        if !taken.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(taken, [id], "b sends what a was sending");
}

/// A daemon whose machine vanishes never closes its connections: the server
/// must find them dead itself (keepalives) to free the daemon's locks, and
/// end a session left idle inside a transaction.
#[tokio::test]
async fn every_session_asks_the_server_to_find_a_vanished_daemon() {
    let Some(url) = database() else { return };
    let shown = tokio::task::spawn_blocking(move || {
        let store =
            PgStore::open(&format!("{url}?options=-c%20statement_timeout%3D7000")).expect("open");
        let pool = store.inner.pool.clone().expect("pool");
        let mut c = pool.get().expect("connection");
        let names = [
            "tcp_keepalives_idle",
            "tcp_keepalives_interval",
            "tcp_keepalives_count",
            "idle_in_transaction_session_timeout",
            "statement_timeout",
        ];
        names
            .iter()
            .map(|n| {
                let row = c.client.query_one(&format!("SHOW {n}"), &[]).expect("show");
                row.get::<_, String>(0)
            })
            .collect::<Vec<_>>()
    })
    .await
    .expect("task");
    // The URL's own options are kept.
    assert_eq!(shown, ["10", "5", "3", "15s", "7s"]);
}

/// Runs `f` on a client of its own, off the test's runtime, with a cache.
async fn cached<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(&mut postgres::Client, &mut cache::Statements) -> T + Send + 'static,
) -> T {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        f(&mut c, &mut cache::Statements::default())
    })
    .await
    .expect("cache task")
}

/// How many statements the session has prepared with `sql`, as the server sees it.
fn on_server(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
        &[&sql],
    )
    .expect("prepared statements")
    .get(0)
}

const ANSWER: &str = "SELECT $1::BIGINT + 1";

#[tokio::test]
async fn a_statement_is_prepared_once_per_connection() {
    let Some(url) = database() else { return };
    let (ours, server) = cached(&url, |c, statements| {
        let mut db = cache::Cached::session(c, statements);
        for n in [1_i64, 2, 3] {
            let row = db.query_one(ANSWER, &[&n]).expect("answer");
            assert_eq!(row.get::<_, i64>(0), n + 1);
        }
        (statements.prepared(), on_server(c, ANSWER))
    })
    .await;
    assert_eq!((ours, server), (1, 1));
    // Another connection has a cache of its own.
    let other = cached(&url, |c, statements| {
        cache::Cached::session(c, statements)
            .query_one(ANSWER, &[&1_i64])
            .expect("answer");
        statements.prepared()
    })
    .await;
    assert_eq!(other, 1);
}

#[tokio::test]
async fn a_statement_the_server_lost_is_prepared_again() {
    let Some(url) = database() else { return };
    let (answer, prepared) = cached(&url, |c, statements| {
        cache::Cached::session(c, statements)
            .query_one(ANSWER, &[&1_i64])
            .expect("first");
        c.batch_execute("DEALLOCATE ALL").expect("deallocate");
        let row = cache::Cached::session(c, statements)
            .query_one(ANSWER, &[&41_i64])
            .expect("prepared again");
        (row.get::<_, i64>(0), statements.prepared())
    })
    .await;
    assert_eq!((answer, prepared), (42, 2));
}

#[tokio::test]
async fn a_transaction_that_finds_its_statement_lost_fails_and_the_next_prepares_again() {
    let Some(url) = database() else { return };
    let (failed, answer, prepared) = cached(&url, |c, statements| {
        cache::Cached::session(c, statements)
            .query_one(ANSWER, &[&1_i64])
            .expect("first");
        c.batch_execute("DEALLOCATE ALL").expect("deallocate");
        let failed = {
            let mut tx = c.transaction().expect("begin");
            cache::Cached::transaction(&mut tx, statements)
                .query_one(ANSWER, &[&1_i64])
                .is_err()
        };
        let mut tx = c.transaction().expect("begin");
        let row = cache::Cached::transaction(&mut tx, statements)
            .query_one(ANSWER, &[&41_i64])
            .expect("prepared again");
        tx.commit().expect("commit");
        (failed, row.get::<_, i64>(0), statements.prepared())
    })
    .await;
    assert_eq!((failed, answer, prepared), (true, 42, 2));
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let Some(url) = database() else { return };
    let (prepared, on_server) = cached(&url, |c, statements| {
        let mut db = cache::Cached::session(c, statements);
        for n in 0..600 {
            db.query_one(&format!("SELECT {n}::BIGINT"), &[])
                .expect("select");
        }
        db.query_one("SELECT 0::BIGINT", &[]).expect("select");
        let prepared = statements.prepared();
        let left: i64 = c
            .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
            .expect("count")
            .get(0);
        (prepared, left)
    })
    .await;
    // Past 512 texts the cache starts again: the first text is prepared
    // anew, and the server holds no more than the cache does (plus the
    // count's own statement).
    assert_eq!(prepared, 601);
    assert!(on_server <= 90, "{on_server}");
}
