//! Acknowledgement timeout: an acknowledged incident that nobody resolves or
//! updates within the policy's `ack_timeout` goes back to paging.
//!
//! Owns only the expiry test. Must not change incident state or read the
//! clock; the engine decides what an expiry does.

use chrono::{DateTime, Utc};

use crate::config::Policy;
use crate::escalation::after;

/// Whether the acknowledgement has lapsed at `now`: no resolve or update for
/// `ack_timeout` since the later of `acknowledged_at` and `last_activity`.
/// Expired exactly at the timeout; never when the policy has no timeout.
pub fn ack_expired(
    policy: &Policy,
    acknowledged_at: DateTime<Utc>,
    last_activity: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let Some(timeout) = policy.ack_timeout else {
        return false;
    };
    let since = acknowledged_at.max(last_activity);
    match after(since, timeout) {
        Some(deadline) => now >= deadline,
        // A deadline beyond the representable range never arrives.
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::Span;
    use crate::escalation::fixture::utc;

    fn policy(timeout: Option<u64>) -> Policy {
        Policy {
            id: "p".into(),
            steps: Vec::new(),
            repeat: 0,
            ack_timeout: timeout.map(Span::from_secs),
        }
    }

    fn check(timeout: Option<u64>, acked: &str, activity: &str, now: &str, expected: bool) {
        let got = ack_expired(&policy(timeout), utc(acked), utc(activity), utc(now));
        assert_eq!(
            got, expected,
            "timeout {timeout:?} acked {acked} activity {activity} now {now}"
        );
    }

    #[test]
    fn expiry() {
        let acked = "2026-11-25T10:00:00Z";
        let cases: &[(Option<u64>, &str, bool)] = &[
            // No timeout: never.
            (None, "2036-01-01T00:00:00Z", false),
            // One second before, exactly at, after the timeout.
            (Some(3600), "2026-11-25T10:59:59Z", false),
            (Some(3600), "2026-11-25T11:00:00Z", true),
            (Some(3600), "2026-11-25T11:00:01Z", true),
        ];
        for &(timeout, now, expected) in cases {
            check(timeout, acked, acked, now, expected);
        }
    }

    #[test]
    fn activity_restarts_the_timer() {
        let acked = "2026-11-25T10:00:00Z";
        let update = "2026-11-25T10:40:00Z";
        let cases: &[(&str, &str, bool)] = &[
            (update, "2026-11-25T11:00:00Z", false),
            (update, "2026-11-25T11:39:59Z", false),
            (update, "2026-11-25T11:40:00Z", true),
            // Activity recorded before the acknowledgement does not shorten it.
            ("2026-11-25T09:00:00Z", "2026-11-25T10:59:59Z", false),
            ("2026-11-25T09:00:00Z", "2026-11-25T11:00:00Z", true),
        ];
        for &(activity, now, expected) in cases {
            check(Some(3600), acked, activity, now, expected);
        }
    }

    #[test]
    fn huge_timeout_does_not_overflow() {
        check(
            Some(u64::MAX / 2),
            "2026-11-25T10:00:00Z",
            "2026-11-25T10:00:00Z",
            "2262-01-01T00:00:00Z",
            false,
        );
    }
}
