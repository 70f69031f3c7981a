//! Time as a dependency. Domain code takes `now` as an argument; only the
//! engine and the HTTP edge read a [`Clock`]. Tests drive a [`ManualClock`]
//! so schedules and escalations are checked at exact instants without sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// The source of "now" for the daemon.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves when the clock is moved by hand; never for the system clock.
    /// Timers select over this and their deadline, so a test's `advance`
    /// wakes them at once.
    fn subscribe(&self) -> watch::Receiver<DateTime<Utc>>;
}

/// Wall-clock time.
#[derive(Debug)]
pub struct SystemClock {
    // Kept alive so subscribers never see a closed channel.
    tx: watch::Sender<DateTime<Utc>>,
}

impl SystemClock {
    pub fn new() -> Self {
        let (tx, _) = watch::channel(Utc::now());
        Self { tx }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn subscribe(&self) -> watch::Receiver<DateTime<Utc>> {
        self.tx.subscribe()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<DateTime<Utc>>>,
    tx: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        let (tx, _) = watch::channel(start);
        Self {
            inner: Arc::new(Mutex::new(start)),
            tx: Arc::new(tx),
        }
    }

    /// Moves time forward and wakes every timer waiting on this clock.
    pub fn advance(&self, by: chrono::Duration) {
        let now = {
            let mut t = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            *t += by;
            *t
        };
        self.tx.send_replace(now);
    }

    /// Sets an absolute instant (may go backwards, for tests of odd clocks).
    pub fn set(&self, to: DateTime<Utc>) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = to;
        self.tx.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn subscribe(&self) -> watch::Receiver<DateTime<Utc>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test]
    async fn manual_clock_advances_and_wakes_subscribers() {
        let start = Utc
            .with_ymd_and_hms(2026, 3, 29, 0, 0, 0)
            .single()
            .expect("valid date");
        let clock = ManualClock::new(start);
        let mut rx = clock.subscribe();
        clock.advance(chrono::Duration::minutes(10));
        assert!(rx.changed().await.is_ok());
        assert_eq!(*rx.borrow(), start + chrono::Duration::minutes(10));
        assert_eq!(clock.now(), start + chrono::Duration::minutes(10));
    }
}
