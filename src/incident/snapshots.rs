//! Which Alertmanager/Grafana snapshot each group last delivered, kept in
//! memory so that a re-sent snapshot (repeat_interval, an HA peer's copy) is
//! answered without a write transaction.
//!
//! The store stays the authority (`Repo::seen_delivery`): this map only
//! answers "duplicate" when it mirrors every committed delivery of the group.
//! A request that writes holds a [`Ticket`] from the check until after its
//! commit (the ticket travels through the write job, so a cancelled request
//! still holds it until the job is done); while any ticket of a group is
//! out, the group's requests go to the store. Two tickets of one group that
//! overlap may commit in either order, so both forget the group instead of
//! recording; so does a ticket dropped without [`Ticket::committed`] (store
//! failure, cancelled request). A forgotten or evicted group is always safe:
//! its next delivery asks the store again.
//!
//! Bounded in entries and in bytes (group keys are up to
//! `limits::GROUP_KEY` long): past either, the least recently used idle
//! groups are forgotten until half the budget is free.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// Groups remembered at most; past this, idle ones are forgotten.
const CAPACITY: usize = 50_000;
/// Bytes the remembered groups may take, keys and snapshots counted.
pub const BUDGET_BYTES: usize = 16 << 20;
/// What a group costs beside its strings: map entry, vectors, counters.
const GROUP_OVERHEAD: usize = 160;
/// What one remembered snapshot costs beside its text.
const ENTRY_OVERHEAD: usize = 40;

/// The pre-check's answer.
pub enum Check {
    /// The store's answer would be "duplicate": nothing to write.
    Duplicate,
    /// Go through the store, holding this ticket until the commit.
    Write(Ticket),
}

#[derive(Default)]
struct Group {
    /// The last snapshot the store recorded for the group.
    last: Option<String>,
    /// Snapshots recorded within the HA copy window, with when.
    recent: Vec<(String, DateTime<Utc>)>,
    /// Requests of the group between check and commit.
    in_flight: u32,
    /// Two requests overlapped since the group was last idle: their commit
    /// order is unknown, so none of them may be recorded.
    mixed: bool,
    /// When the group was last checked (a counter): eviction order.
    used: u64,
}

/// How a ticket ended.
enum Done {
    /// Committed, and the store recorded this snapshot as the group's last.
    Recorded(String, DateTime<Utc>, Duration),
    /// Committed as a duplicate: the store did not change.
    Unchanged,
    /// Not known to be committed.
    Unknown,
}

impl Group {
    fn forget(&mut self) {
        self.last = None;
        self.recent.clear();
    }

    fn release(&mut self, done: Done) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match done {
            Done::Recorded(snapshot, at, window) if !self.mixed => {
                self.recent
                    .retain(|(s, t)| *s != snapshot && *t >= at - window);
                self.recent.push((snapshot.clone(), at));
                self.last = Some(snapshot);
            }
            Done::Unchanged if !self.mixed => {}
            _ => self.forget(),
        }
        if self.in_flight == 0 {
            self.mixed = false;
        }
    }

    fn idle_and_empty(&self) -> bool {
        self.in_flight == 0 && self.last.is_none() && self.recent.is_empty()
    }

    /// Bytes the group takes under `key`, roughly but never less.
    fn cost(&self, key: &Key) -> usize {
        GROUP_OVERHEAD
            + key.0.len()
            + key.1.len()
            + self.last.as_ref().map_or(0, String::len)
            + self
                .recent
                .iter()
                .map(|(s, _)| s.len() + ENTRY_OVERHEAD)
                .sum::<usize>()
    }
}

type Key = (String, String);

#[derive(Default)]
struct State {
    groups: HashMap<Key, Group>,
    /// The latest `now` checked. The store prunes the copy window by the
    /// `now` of each delivery it records, so after the clock steps back a
    /// snapshot is a copy only within the window of this instant.
    latest: Option<DateTime<Utc>>,
    /// The sum of the groups' costs.
    bytes: usize,
    /// Counts checks, to order groups by last use.
    clock: u64,
}

impl State {
    /// Changes the group of `key` (if kept) through `f`, keeping `bytes`
    /// true and dropping the group when nothing is left of it.
    fn update(&mut self, key: &Key, f: impl FnOnce(&mut Group)) {
        let Some(g) = self.groups.get_mut(key) else {
            return;
        };
        let before = g.cost(key);
        f(g);
        let after = if g.idle_and_empty() {
            self.groups.remove(key);
            0
        } else {
            g.cost(key)
        };
        self.bytes = self.bytes.saturating_sub(before) + after;
    }

    /// Forgets the least recently used idle groups until at most `entries`
    /// groups taking at most `bytes` are left (or only busy ones are).
    fn evict(&mut self, entries: usize, bytes: usize) {
        let mut idle: Vec<(u64, Key)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.in_flight == 0)
            .map(|(k, g)| (g.used, k.clone()))
            .collect();
        idle.sort_unstable();
        for (_, key) in idle {
            if self.groups.len() <= entries && self.bytes <= bytes {
                break;
            }
            if let Some(g) = self.groups.remove(&key) {
                self.bytes = self.bytes.saturating_sub(g.cost(&key));
            }
        }
    }
}

/// Cheap to clone: clones share one map.
#[derive(Clone)]
pub struct Snapshots {
    state: Arc<Mutex<State>>,
    capacity: usize,
    budget: usize,
    /// Never answers: every delivery goes to the store (other daemons
    /// record deliveries of the same groups that this map never sees).
    off: bool,
}

impl Default for Snapshots {
    fn default() -> Self {
        Self::with_limits(CAPACITY, BUDGET_BYTES)
    }
}

impl Snapshots {
    /// At most `capacity` groups taking at most `budget` bytes.
    pub fn with_limits(capacity: usize, budget: usize) -> Self {
        Self {
            state: Arc::default(),
            capacity,
            budget,
            off: false,
        }
    }

    /// A mirror that remembers nothing: for a store shared by several daemons.
    pub fn off() -> Self {
        Self {
            off: true,
            ..Self::with_limits(0, 0)
        }
    }

    /// Whether `snapshot` of `(integration, group_key)` is a known duplicate
    /// at `now`, as `seen_delivery` with the same `window` would decide.
    pub fn check(
        &self,
        integration: &str,
        group_key: &str,
        snapshot: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Check {
        let key = (integration.to_string(), group_key.to_string());
        if self.off {
            return Check::Write(self.ticket(key, snapshot, now, window, false));
        }
        let Ok(mut state) = self.state.lock() else {
            return Check::Write(self.ticket(key, snapshot, now, window, false));
        };
        let latest = state.latest.map_or(now, |l| l.max(now));
        state.latest = Some(latest);
        let horizon = latest - window;
        state.clock += 1;
        let used = state.clock;
        if let Some(g) = state.groups.get_mut(&key)
            && g.in_flight == 0
            && (g.last.as_deref() == Some(snapshot)
                || g.recent
                    .iter()
                    .any(|(s, at)| s == snapshot && *at >= now - window && *at >= horizon))
        {
            g.used = used;
            return Check::Duplicate;
        }
        if !state.groups.contains_key(&key) {
            let cost = Group::default().cost(&key);
            if state.groups.len() >= self.capacity || state.bytes + cost > self.budget {
                // Half the room at once, so that a flood of new groups
                // does not scan the map on every request.
                state.evict(self.capacity / 2, self.budget / 2);
            }
            state.bytes += cost;
        }
        let g = state.groups.entry(key.clone()).or_default();
        g.in_flight += 1;
        g.mixed |= g.in_flight > 1;
        g.used = used;
        drop(state);
        Check::Write(self.ticket(key, snapshot, now, window, true))
    }

    fn ticket(
        &self,
        key: Key,
        snapshot: &str,
        at: DateTime<Utc>,
        window: Duration,
        counted: bool,
    ) -> Ticket {
        Ticket {
            state: self.state.clone(),
            key,
            snapshot: snapshot.to_string(),
            at,
            window,
            counted,
        }
    }

    /// The store forgot the group's deliveries (its incident was ended by
    /// hand): forget them too, and so do requests of the group in flight,
    /// whose commits may have come before the store forgot.
    pub fn forget(&self, integration: &str, group_key: &str) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let key = (integration.to_string(), group_key.to_string());
        if let Some(g) = state.groups.get_mut(&key) {
            g.forget();
            g.mixed |= g.in_flight > 0;
            if g.idle_and_empty() {
                state.groups.remove(&key);
            }
        }
    }

    /// Groups remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.groups.len()).unwrap_or(0)
    }

    /// Bytes the remembered groups take, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.state.lock().map(|s| s.bytes).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One writing request of a group, from the check to its commit.
pub struct Ticket {
    state: Arc<Mutex<State>>,
    key: Key,
    snapshot: String,
    /// The request's `now`, the same instant its transaction records.
    at: DateTime<Utc>,
    window: Duration,
    /// Whether `in_flight` was incremented for this ticket.
    counted: bool,
}

impl Ticket {
    /// The store committed; `duplicate` is what `seen_delivery` answered.
    pub fn committed(mut self, duplicate: bool) {
        let done = if duplicate {
            Done::Unchanged
        } else {
            Done::Recorded(std::mem::take(&mut self.snapshot), self.at, self.window)
        };
        self.release(done);
    }

    fn release(&mut self, done: Done) {
        if !std::mem::replace(&mut self.counted, false) {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.update(&self.key, |g| g.release(done));
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Not known to be committed: what the store holds for the group is
        // unknown, so the store decides its next deliveries.
        self.release(Done::Unknown);
    }
}

#[cfg(test)]
#[path = "snapshots_tests.rs"]
mod tests;
