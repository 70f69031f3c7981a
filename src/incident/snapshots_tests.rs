use chrono::{Duration, TimeZone, Utc};

use super::*;

const WINDOW: Duration = Duration::seconds(60);

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap() + Duration::seconds(secs)
}

fn check(s: &Snapshots, group: &str, snap: &str, at: i64) -> Option<Ticket> {
    match s.check("prom", group, snap, t(at), WINDOW) {
        Check::Duplicate => None,
        Check::Write(ticket) => Some(ticket),
    }
}

/// Checks and commits as the store would answer (`duplicate`).
fn deliver(s: &Snapshots, group: &str, snap: &str, at: i64, duplicate: bool) {
    check(s, group, snap, at)
        .expect("goes to the store")
        .committed(duplicate);
}

#[test]
fn an_unknown_group_goes_to_the_store_then_its_last_snapshot_is_known() {
    let s = Snapshots::default();
    deliver(&s, "g", "A", 0, false);
    assert!(
        check(&s, "g", "A", 3600).is_none(),
        "the last one, whenever"
    );
    assert!(check(&s, "g", "B", 1).is_some(), "another snapshot");
    assert!(check(&s, "other", "A", 1).is_some(), "another group");
    assert!(
        matches!(s.check("grafana", "g", "A", t(1), WINDOW), Check::Write(_)),
        "another integration"
    );
}

#[test]
fn an_earlier_snapshot_is_a_copy_only_within_the_window() {
    let s = Snapshots::default();
    deliver(&s, "g", "A", 0, false);
    deliver(&s, "g", "B", 10, false);
    assert!(check(&s, "g", "A", 60).is_none(), "an HA copy of A");
    let again = check(&s, "g", "A", 61).expect("A again after the window: a re-fire");
    again.committed(false);
    assert!(check(&s, "g", "A", 62).is_none());
    assert!(check(&s, "g", "B", 65).is_none(), "B within its window");
    assert!(
        check(&s, "g", "B", 71).is_some(),
        "B is old and not the last"
    );
}

#[test]
fn a_group_with_a_request_in_flight_goes_to_the_store() {
    let s = Snapshots::default();
    deliver(&s, "g", "A", 0, false);
    let b = check(&s, "g", "B", 1).expect("new");
    assert!(
        check(&s, "g", "A", 2).is_some(),
        "A's status is not known now"
    );
    b.committed(false);
    // The overlapping request above was dropped uncommitted: unknown.
    assert!(check(&s, "g", "B", 3).is_some());
}

#[test]
fn overlapping_requests_are_not_recorded() {
    let s = Snapshots::default();
    let a = check(&s, "g", "A", 0).expect("new");
    let b = check(&s, "g", "B", 0).expect("new");
    // The store may have committed them in either order.
    b.committed(false);
    a.committed(false);
    assert!(check(&s, "g", "A", 1).is_some());
    assert!(check(&s, "g", "B", 1).is_some());
    assert!(s.is_empty(), "nothing known is nothing kept");
    // Alone again, the group is recorded as before.
    deliver(&s, "g", "B", 2, false);
    assert!(check(&s, "g", "B", 3).is_none());
}

#[test]
fn a_ticket_dropped_without_a_commit_forgets_the_group() {
    let s = Snapshots::default();
    deliver(&s, "g", "A", 0, false);
    drop(check(&s, "g", "B", 1).expect("new"));
    assert!(
        check(&s, "g", "A", 2).is_some(),
        "B may or may not be stored"
    );
    assert!(s.is_empty());
}

#[test]
fn a_duplicate_answered_by_the_store_changes_nothing() {
    let s = Snapshots::default();
    deliver(&s, "g", "A", 0, false);
    deliver(&s, "g", "B", 1, false);
    // Forget nothing, learn nothing: A was a copy the store already had.
    deliver(&s, "g", "A", 100, true);
    assert!(check(&s, "g", "B", 200).is_none(), "B is still the last");
}

#[test]
fn past_capacity_idle_groups_are_forgotten() {
    let s = Snapshots::with_limits(2, BUDGET_BYTES);
    deliver(&s, "g1", "A", 0, false);
    deliver(&s, "g2", "A", 0, false);
    let busy = check(&s, "g2", "B", 1).expect("new");
    deliver(&s, "g3", "A", 2, false);
    assert_eq!(s.len(), 2);
    busy.committed(false);
    assert!(check(&s, "g2", "B", 4).is_none(), "a busy group was kept");
    assert!(check(&s, "g3", "A", 4).is_none());
    assert!(
        check(&s, "g1", "A", 5).is_some(),
        "forgotten: asks the store"
    );
}

#[test]
fn after_the_clock_steps_back_the_window_ends_where_the_store_pruned() {
    let s = Snapshots::default();
    deliver(&s, "g", "K", 0, false);
    deliver(&s, "g", "J", 10, false);
    // Another group's delivery at 100 made the store prune everything
    // older than 40, K of g included.
    deliver(&s, "h", "A", 100, false);
    assert!(check(&s, "g", "J", 44).is_none(), "J is still g's last");
    let again = check(&s, "g", "K", 45).expect("K is no copy any more: the store decides");
    // The store records it as a re-fire.
    again.committed(false);
    assert!(check(&s, "g", "K", 46).is_none(), "now K is the last");
}

#[test]
fn past_the_byte_budget_the_least_recently_used_idle_groups_are_forgotten() {
    const BUDGET: usize = 1 << 20;
    let s = Snapshots::with_limits(CAPACITY, BUDGET);
    // Group keys as long as Alertmanager may send (`limits::GROUP_KEY`).
    let key = |i: usize| format!("{i}:{}", "k".repeat(crate::limits::GROUP_KEY.max() - 8));
    deliver(&s, "hot", "A", 0, false);
    let busy = check(&s, &key(0), "A", 0).expect("new");
    for i in 1..1000 {
        deliver(&s, &key(i), "A", 1, false);
        assert!(s.bytes() <= BUDGET, "{} bytes after {i} groups", s.bytes());
        // A group in use stays.
        assert!(check(&s, "hot", "A", 2).is_none(), "after {i} groups");
    }
    assert!(s.bytes() > BUDGET / 2, "the budget is used");
    assert!(
        s.len() <= BUDGET / crate::limits::GROUP_KEY.max() + 2,
        "{} groups",
        s.len()
    );
    assert!(
        check(&s, &key(1), "A", 3).is_some(),
        "an old group asks the store"
    );
    assert!(
        check(&s, &key(999), "A", 3).is_none(),
        "a recent one is known"
    );
    busy.committed(false);
    assert!(
        check(&s, &key(0), "A", 3).is_none(),
        "a busy group is never evicted"
    );
}

#[test]
fn the_byte_count_follows_what_is_kept() {
    let s = Snapshots::default();
    assert_eq!(s.bytes(), 0);
    deliver(&s, "g", "A", 0, false);
    let one = s.bytes();
    assert!(one >= "prom".len() + "g".len() + "A".len());
    deliver(&s, "g", "B", 1, false);
    assert!(s.bytes() > one, "two snapshots in the window");
    drop(check(&s, "g", "C", 2).expect("new"));
    assert_eq!((s.len(), s.bytes()), (0, 0), "forgotten entirely");
}

#[test]
fn a_mirror_that_is_off_sends_every_delivery_to_the_store() {
    let s = Snapshots::off();
    for at in [0, 1, 3600] {
        deliver(&s, "g", "A", at, false);
    }
    assert!(check(&s, "g", "A", 3601).is_some(), "never a duplicate");
    assert_eq!(s.bytes(), 0, "remembers nothing");
}
