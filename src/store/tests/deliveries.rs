//! The Alertmanager duplicate check: which snapshots a group keeps.

use chrono::{Duration, TimeZone, Utc};

use super::{column, on_each_store};

#[tokio::test]
async fn a_group_keeps_only_the_deliveries_its_duplicate_check_reads() {
    on_each_store(|store| async move {
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
            .single()
            .expect("instant");
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
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
            .single()
            .expect("instant");
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
