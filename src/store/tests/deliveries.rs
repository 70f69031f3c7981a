//! The Alertmanager duplicate check: which snapshots a group keeps.

use chrono::Duration;

use super::{at, column, on_each_store};
use crate::store::Store;

/// Whether group `g` of integration `prom` already had snapshot `key`, asked
/// `secs` after the start, with a 60 s copy window.
async fn seen(store: &Store, key: &'static str, secs: i64) -> bool {
    store
        .transact(move |repo| repo.seen_delivery("prom", "g", key, at(secs), Duration::seconds(60)))
        .await
        .expect("stored")
}

#[tokio::test]
async fn a_group_keeps_only_the_deliveries_its_duplicate_check_reads() {
    on_each_store(|store| async move {
        let seen = |key: &'static str, secs: i64| seen(&store, key, secs);
        assert!(!seen("A", 0).await);
        assert!(!seen("B", 10).await);
        assert!(seen("A", 20).await, "an HA copy of A");
        assert!(seen("B", 50).await, "the last one");
        assert!(!seen("C", 100).await);
        let rows = column(
            &store,
            "SELECT key FROM deliveries UNION ALL SELECT 'last:' || key FROM delivery_last",
        )
        .await;
        assert_eq!(rows, ["last:C"], "A and B are past the window");
        assert!(!seen("A", 110).await, "A again is a re-fire");
        assert!(seen("C", 115).await, "C is within its window");
    })
    .await;
}

#[tokio::test]
async fn a_forgotten_groups_last_snapshot_still_counts_within_the_window() {
    on_each_store(|store| async move {
        let seen = |key: &'static str, secs: i64| seen(&store, key, secs);
        assert!(!seen("A", 0).await);
        store
            .transact(|repo| repo.forget_delivery("prom", "g"))
            .await
            .expect("forget");
        assert!(seen("A", 30).await, "an HA copy after the group resolved");
        assert!(!seen("B", 40).await);
        store
            .transact(|repo| repo.forget_delivery("prom", "g"))
            .await
            .expect("forget");
        assert!(!seen("B", 200).await, "past the window: new again");
    })
    .await;
}

/// Old snapshots are dropped at most once a second: one left a moment past
/// its window still does not count.
#[tokio::test]
async fn a_snapshot_past_its_window_does_not_count_before_it_is_dropped() {
    on_each_store(|store| async move {
        let seen = |key: &'static str, ms: i64| {
            let store = store.clone();
            async move {
                let now = at(0) + Duration::milliseconds(ms);
                store
                    .transact(move |r| {
                        r.seen_delivery("prom", "g", key, now, Duration::seconds(60))
                    })
                    .await
                    .expect("stored")
            }
        };
        assert!(!seen("A", 0).await);
        assert!(!seen("B", 59_500).await, "A is kept as B replaces it");
        assert!(!seen("C", 60_200).await, "B is kept; A is past its window");
        assert!(!seen("A", 60_300).await, "A again is a re-fire");
        assert!(seen("B", 60_400).await, "B is within its window");
        assert!(seen("A", 60_500).await, "the re-fire is the group's last");
    })
    .await;
}
