//! Keeps the log readable in an alert storm. Every ingest that changes an
//! incident's state is logged on a line of its own, up to [`PER_SECOND`]
//! lines a second; past that, the changes are counted and one summary line
//! a second says how many there were (each is on its incident's timeline
//! and in the metrics all the same). journald drops a service's lines past
//! its rate limit (10,000 in 30 s by default): without this, a storm of new
//! incidents would crowd out the warnings that matter most during it, and
//! it would cost a formatted line and a write for every alert.
//!
//! Log lines are paced by the machine's monotonic clock, not the daemon's
//! clock: this is about how fast lines reach the journal, not about when
//! incidents happen.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// State-change lines written one by one in any second.
pub const PER_SECOND: u32 = 20;

const WINDOW: Duration = Duration::from_secs(1);

/// What the lines held back in one window would have said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Folded {
    /// Ingests not logged one by one.
    pub ingests: u64,
    pub opened: u64,
    pub reopened: u64,
    pub resolved: u64,
    pub suppressed: u64,
}

#[derive(Debug, Default)]
pub struct Budget {
    /// When the current window started; None before the first line.
    window: Option<Instant>,
    /// Lines written in the current window.
    used: u32,
    /// What the current window held back, by source (`alertmanager`, …).
    folded: BTreeMap<String, Folded>,
}

impl Budget {
    /// Whether an ingest at `now` gets its own line. When it does not, the
    /// caller folds it ([`Budget::fold`]) into the window's summary.
    pub fn admit(&mut self, now: Instant) -> bool {
        if self.window.is_none_or(|w| ended(w, now)) {
            self.window = Some(now);
            self.used = 0;
        }
        if self.used < PER_SECOND {
            self.used += 1;
            true
        } else {
            false
        }
    }

    /// Counts an ingest from `source` that was not logged on its own line.
    pub fn fold(
        &mut self,
        source: &str,
        opened: usize,
        reopened: usize,
        resolved: usize,
        suppressed: usize,
    ) {
        let f = self.folded.entry(source.to_string()).or_default();
        f.ingests += 1;
        f.opened += opened as u64;
        f.reopened += reopened as u64;
        f.resolved += resolved as u64;
        f.suppressed += suppressed as u64;
    }

    /// The summary, by source, of a window that has ended by `now`, once;
    /// empty while the window runs or when it held nothing back. Taken before [`admit`]
    /// (which starts the next window) and once a second by a ticker, so a
    /// storm's last second is reported even when nothing follows it.
    ///
    /// [`admit`]: Budget::admit
    pub fn take(&mut self, now: Instant) -> BTreeMap<String, Folded> {
        match self.window {
            Some(w) if ended(w, now) => std::mem::take(&mut self.folded),
            _ => BTreeMap::new(),
        }
    }

    /// Whatever is held back, window ended or not (at shutdown).
    pub fn drain(&mut self) -> BTreeMap<String, Folded> {
        std::mem::take(&mut self.folded)
    }
}

/// Whether the window that started at `start` is over at `now`.
fn ended(start: Instant, now: Instant) -> bool {
    now >= start + WINDOW
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_budget_ingests_are_folded_into_one_summary_per_second() {
        let t0 = Instant::now();
        let mut b = Budget::default();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        for i in 0..PER_SECOND {
            assert!(b.admit(ms(u64::from(i))), "line {i}");
        }
        assert!(!b.admit(ms(500)));
        b.fold("alertmanager", 1, 0, 0, 0);
        assert!(!b.admit(ms(999)));
        b.fold("alertmanager", 2, 1, 0, 1);
        b.fold("grafana", 0, 0, 1, 0);
        // Not before the window ends.
        assert!(b.take(ms(999)).is_empty());
        let summary = b.take(ms(1000));
        let by_source: Vec<(&str, &Folded)> =
            summary.iter().map(|(s, f)| (s.as_str(), f)).collect();
        assert_eq!(
            by_source,
            [
                (
                    "alertmanager",
                    &Folded {
                        ingests: 2,
                        opened: 3,
                        reopened: 1,
                        resolved: 0,
                        suppressed: 1
                    }
                ),
                (
                    "grafana",
                    &Folded {
                        ingests: 1,
                        resolved: 1,
                        ..Folded::default()
                    }
                ),
            ]
        );
        assert!(b.take(ms(1001)).is_empty(), "reported once");
        // A new window writes lines again.
        assert!(b.admit(ms(1000)));
        assert!(b.drain().is_empty());
    }

    #[test]
    fn a_quiet_daemon_logs_every_change() {
        let t0 = Instant::now();
        let mut b = Budget::default();
        for s in 0..100 {
            assert!(b.admit(t0 + Duration::from_secs(s)));
            assert!(b.take(t0 + Duration::from_secs(s)).is_empty());
        }
    }

    #[test]
    fn shutdown_drains_a_running_window() {
        let t0 = Instant::now();
        let mut b = Budget::default();
        for _ in 0..PER_SECOND {
            b.admit(t0);
        }
        assert!(!b.admit(t0));
        b.fold("alertmanager", 1, 0, 0, 0);
        assert!(b.take(t0).is_empty());
        assert_eq!(b.drain()["alertmanager"].opened, 1);
        assert!(b.drain().is_empty());
    }
}
