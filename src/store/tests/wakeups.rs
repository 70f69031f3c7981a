//! Who a commit wakes: the timer task for a stored deadline, the outbox
//! worker for a stored notification, nobody for anything else.

use std::sync::Arc;
use std::time::Duration;

use super::on_each_store;
use crate::incident::Timer;
use crate::store::sqlite::Wakers;

fn wakers() -> Wakers {
    Wakers {
        timers: Arc::new(tokio::sync::Notify::new()),
        outbox: Arc::new(tokio::sync::Notify::new()),
        forgotten: Arc::new(|_: &[(String, String)]| {}),
    }
}

fn timer(key: &str) -> Timer {
    Timer {
        kind: "test".into(),
        key: key.into(),
        due: chrono::Utc::now(),
        data: serde_json::json!({}),
    }
}

/// Whether `n` was woken (a stored permit makes `notified()` ready at
/// once; none, and it waits).
async fn woken(n: &Arc<tokio::sync::Notify>) -> bool {
    tokio::time::timeout(Duration::from_millis(50), n.notified())
        .await
        .is_ok()
}

#[tokio::test]
async fn a_commit_wakes_only_the_tasks_whose_rows_it_stored() {
    on_each_store(|store| async move {
        let wakers = wakers();
        store.set_wakers(wakers.clone());
        store
            .transact(|repo| repo.touch(1, chrono::Utc::now()))
            .await
            .expect("commit");
        assert!(!woken(&wakers.timers).await, "timers woken for nothing");
        assert!(!woken(&wakers.outbox).await, "outbox woken for nothing");
        store
            .transact(|repo| repo.set_timer(&timer("1")))
            .await
            .expect("commit");
        assert!(
            woken(&wakers.timers).await,
            "a stored timer wakes the timer task"
        );
        assert!(!woken(&wakers.outbox).await);
        // A failed transaction stores nothing and wakes nobody.
        let failed = store
            .transact(|repo| {
                repo.set_timer(&timer("2"))?;
                Err::<(), _>(crate::store::StoreError::NotFound)
            })
            .await;
        assert!(failed.is_err());
        assert!(
            !woken(&wakers.timers).await,
            "one commit wakes its task once"
        );
    })
    .await;
}

#[tokio::test]
async fn a_commit_wakes_its_task_even_when_the_caller_has_gone() {
    on_each_store(|store| async move {
        let wakers = wakers();
        store.set_wakers(wakers.clone());
        let write = store.transact(|repo| repo.set_timer(&timer("1")));
        // Polled once (the job is under way), then dropped: a client that hung up.
        let _ = tokio::time::timeout(Duration::ZERO, write).await;
        tokio::time::timeout(Duration::from_secs(10), wakers.timers.notified())
            .await
            .expect("the timer task is woken after the commit");
        let timers = store.query(|r| r.timers("test")).await.expect("read");
        assert_eq!(timers.len(), 1, "and the timer was stored");
    })
    .await;
}
