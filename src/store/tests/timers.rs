//! Durable deadlines: stored, moved, and taken once.

use super::{at, on_each_store};
use crate::incident::Timer;

fn timer(key: &str, due: i64) -> Timer {
    Timer {
        kind: "test".into(),
        key: key.into(),
        due: at(due),
        data: serde_json::json!({"key": key}),
    }
}

#[tokio::test]
async fn a_timer_is_set_moved_kept_and_deleted() {
    on_each_store(|store| async move {
        let (moved, kept, deleted) = store
            .transact(|repo| {
                repo.set_timer(&timer("a", 10))?;
                repo.set_timer(&timer("a", 20))?;
                let moved = repo.timer("test", "a")?;
                repo.set_timer_if_absent(&timer("a", 30))?;
                let kept = repo.timer("test", "a")?;
                repo.set_timer(&timer("b", 5))?;
                repo.delete_timer("test", "b")?;
                Ok((moved, kept, repo.timer("test", "b")?))
            })
            .await
            .expect("transact");
        assert_eq!(moved.map(|t| t.due), Some(at(20)));
        assert_eq!(kept.map(|t| t.due), Some(at(20)), "if absent: kept");
        assert_eq!(deleted, None);
        let next = store.query(|r| r.next_timer()).await.expect("read");
        assert_eq!(next, Some(at(20)));
    })
    .await;
}

/// Many takers at once (timer tasks of one daemon or of several on one
/// database): each due timer is taken by exactly one, in due order.
#[tokio::test]
async fn each_due_timer_is_taken_once() {
    on_each_store(|store| async move {
        store
            .transact(|repo| {
                for i in 0..40 {
                    repo.set_timer(&timer(&format!("t{i:02}"), 40 - i))?;
                }
                repo.set_timer(&timer("later", 1000))
            })
            .await
            .expect("set");
        let mut takers = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            takers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = store
                        .transact(|repo| repo.take_due(at(100), 3))
                        .await
                        .expect("take");
                    if batch.is_empty() {
                        return got;
                    }
                    let dues: Vec<_> = batch.iter().map(|t| t.due).collect();
                    assert!(dues.is_sorted(), "{dues:?}");
                    got.extend(batch.into_iter().map(|t| t.key));
                }
            }));
        }
        let mut taken = Vec::new();
        for t in takers {
            taken.extend(t.await.expect("taker"));
        }
        taken.sort();
        let mut expected: Vec<String> = (0..40).map(|i| format!("t{i:02}")).collect();
        expected.sort();
        assert_eq!(taken, expected, "every due timer once");
        let left = store.query(|r| r.timers("test")).await.expect("read");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].key, "later");
        assert_eq!(left[0].data, serde_json::json!({"key": "later"}));
    })
    .await;
}
