//! The outbox worker: claims due notifications in a transaction, hands them
//! to providers outside it, records each answer in another. Wakes when a
//! row is queued, when the clock is moved by hand, or at the next retry.
//!
//! Delivery is at-least-once. A row is marked `sending` before the provider
//! call; after a crash such rows are sent again, so a page can go out twice
//! when the process dies during its provider call: at most one duplicate per
//! page per crash.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::app::Shared;
use crate::escalation::delivery::{self, Claimed};
use crate::escalation::paging::Ctx;
use crate::store::StoreResult;

/// Rows claimed at once; sent concurrently.
const BATCH: usize = 32;

/// Sends everything due now; returns how many rows were handed to providers.
pub async fn run_once(state: &Shared) -> StoreResult<usize> {
    let mut total = 0;
    let mut idle_passes = 0;
    loop {
        let roster = state.roster();
        let now = state.clock.now();
        let secret = state.link_secret().to_vec();
        let claimed = state
            .store
            .transact(move |repo| {
                delivery::claim(
                    repo,
                    &Ctx {
                        roster: &roster,
                        secret: &secret,
                        now,
                    },
                    BATCH,
                )
            })
            .await?;
        if claimed.is_empty() {
            // A claim can fail a row for good and queue its fallback (an
            // opted-out number): that row is due now, so look once more.
            let due_now = state
                .store
                .query(|r| r.next_outbox_due())
                .await?
                .is_some_and(|t| t <= now);
            idle_passes += 1;
            if due_now && idle_passes < 5 {
                continue;
            }
            return Ok(total);
        }
        total += claimed.len();
        let notifiers = state.notifiers();
        // Each answer is recorded as soon as its own call returns, not after
        // the batch's slowest: a provider's status callback (an undelivered
        // SMS) finds the row by the provider id recorded here, and one that
        // came before it would be dropped, and its fallback with it.
        let sends = claimed.into_iter().map(|c| {
            let notifiers = notifiers.clone();
            let state = state.clone();
            async move {
                let (provider, result) = match notifiers.for_row(&c.row) {
                    None => (
                        "none",
                        Err(crate::notify::SendError::Permanent {
                            code: None,
                            reason: format!("no provider for channel {}", c.row.channel),
                        }),
                    ),
                    Some(n) => {
                        let started = std::time::Instant::now();
                        let result = n.send(&c.row).await;
                        tracing::debug!(
                            outbox = c.row.id,
                            ms = started.elapsed().as_millis() as u64,
                            ok = result.is_ok(),
                            "provider call"
                        );
                        (n.provider(), result)
                    }
                };
                record(&state, c, provider, result).await
            }
        });
        // Every answer gets its chance to be recorded; then the first
        // failure (a row left `sending` is re-queued by `reap`).
        for recorded in futures_join(sends).await {
            recorded?;
        }
    }
}

async fn record(
    state: &Shared,
    c: Claimed,
    provider: &'static str,
    result: Result<Option<String>, crate::notify::SendError>,
) -> StoreResult<()> {
    let outcome = match &result {
        Ok(_) => crate::metrics::NotificationOutcome::Sent,
        Err(_) => crate::metrics::NotificationOutcome::Failed,
    };
    state
        .metrics
        .notification(&c.row.channel, provider, outcome);
    if result.is_ok() && c.row.kind == "page" && c.row.attempts == 1 && c.row.tried.is_empty() {
        let age = (state.clock.now() - c.row.created_at)
            .num_milliseconds()
            .max(0) as f64
            / 1000.0;
        state.metrics.observe_alert_to_page(age);
    }
    let roster = state.roster();
    let now = state.clock.now();
    let secret = state.link_secret().to_vec();
    let jitter: f64 = rand::random();
    state
        .store
        .transact(move |repo| {
            delivery::record(
                repo,
                &Ctx {
                    roster: &roster,
                    secret: &secret,
                    now,
                },
                &c,
                provider,
                &result,
                jitter,
            )
        })
        .await
}

/// Runs futures concurrently and returns their outputs in order.
async fn futures_join<F>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(v) => out.push(v),
            Err(e) => tracing::error!(error = %e, "a provider call panicked"),
        }
    }
    out
}

/// Longer than any provider call (the HTTP client gives up after 15 s):
/// a row `sending` for longer had its answer lost.
const STALE_CLAIM: chrono::Duration = chrono::Duration::minutes(5);

/// Re-queues rows a crash left in flight; run once at start-up.
pub async fn recover(state: &Shared) -> StoreResult<usize> {
    requeue(state, chrono::DateTime::<chrono::Utc>::MAX_UTC).await
}

/// Re-queues rows whose provider answer could not be recorded (the store
/// failed after the call), so a page is never stuck in `sending`.
pub async fn reap(state: &Shared) -> StoreResult<usize> {
    requeue(state, state.clock.now() - STALE_CLAIM).await
}

async fn requeue(
    state: &Shared,
    claimed_before: chrono::DateTime<chrono::Utc>,
) -> StoreResult<usize> {
    let now = state.clock.now();
    let n = state
        .store
        .transact(move |repo| delivery::recover(repo, now, claimed_before))
        .await?;
    if n > 0 {
        tracing::warn!(
            rows = n,
            "re-queued notifications whose provider call had no recorded answer"
        );
    }
    Ok(n)
}

/// Starts the worker; it stops when `stop` turns true.
pub fn spawn(
    state: Shared,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut clock = state.clock.subscribe();
        let mut last_reap = std::time::Instant::now();
        loop {
            if last_reap.elapsed() >= Duration::from_secs(60) {
                last_reap = std::time::Instant::now();
                if let Err(e) = reap(&state).await {
                    tracing::error!(error = %e, "re-queueing stale notifications failed");
                }
            }
            if let Err(e) = run_once(&state).await {
                tracing::error!(error = %e, "outbox run failed; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let next = state.store.query(|r| r.next_outbox_due()).await;
            if !crate::engine::wait_for(&state, next, &mut clock, &wake, &mut stop).await {
                return;
            }
        }
    })
}
