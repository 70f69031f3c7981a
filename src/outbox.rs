//! The outbox worker: claims due notifications in a transaction, hands them
//! to providers outside it, records each answer in another. Wakes when a
//! row is queued, when the clock is moved by hand, or at the next retry.
//! Every claimed row is its own task and the worker claims again while
//! others are in flight: pages to different people never wait on one
//! another's provider call or record.
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

/// Rows claimed at once.
const BATCH: usize = 32;
/// Provider calls in flight at most. Each claimed row is sent and recorded
/// in its own task and the worker claims again as soon as rows are queued,
/// so a slow call, or the record of a bundle of thousands, holds one slot
/// and delays nobody else's page.
const IN_FLIGHT: usize = 64;

/// The rows being sent, each its provider call and the record of its answer.
type InFlight = tokio::task::JoinSet<StoreResult<()>>;

/// Sends everything due now and waits for every answer to be recorded, as
/// often as answers queue more (a fallback); returns how many rows were
/// handed to providers. The first failure to record an answer is returned
/// once every call has ended (a row left `sending` is re-queued by `reap`).
pub async fn run_once(state: &Shared) -> StoreResult<usize> {
    let mut inflight = InFlight::new();
    let mut total = 0;
    let mut failed = None;
    loop {
        match dispatch(state, &mut inflight).await {
            Ok(n) => total += n,
            Err(e) => failed = Some(e),
        }
        if inflight.is_empty() {
            break;
        }
        while let Some(done) = inflight.join_next().await {
            if let Err(e) = joined(done) {
                failed.get_or_insert(e);
            }
        }
        if failed.is_some() {
            break;
        }
    }
    failed.map_or(Ok(total), Err)
}

/// Claims what is due now, as far as free slots allow, and starts each
/// row's provider call in its own task; returns how many rows it claimed.
async fn dispatch(state: &Shared, inflight: &mut InFlight) -> StoreResult<usize> {
    let mut total = 0;
    let mut idle_passes = 0;
    while inflight.len() < IN_FLIGHT {
        let limit = (IN_FLIGHT - inflight.len()).min(BATCH);
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
                    limit,
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
            break;
        }
        total += claimed.len();
        let notifiers = state.notifiers();
        for c in claimed {
            inflight.spawn(deliver(state.clone(), notifiers.clone(), c));
        }
    }
    Ok(total)
}

/// One row's provider call, then the record of its answer. Each answer is
/// recorded as soon as its own call returns, not after the slowest of its
/// batch: a provider's status callback (an undelivered SMS) finds the row by
/// the provider id recorded here, and one that came before it would be
/// dropped, and its fallback with it.
async fn deliver(
    state: Shared,
    notifiers: Arc<crate::notify::notifier::Notifiers>,
    c: Claimed,
) -> StoreResult<()> {
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
            let result = n.send_offering(&c.row, c.offer.as_ref()).await;
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

/// A finished task's outcome; a panicked provider call is logged (its row
/// stays `sending` and is re-queued by `reap`).
fn joined(done: Result<StoreResult<()>, tokio::task::JoinError>) -> StoreResult<()> {
    done.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a provider call panicked");
        Ok(())
    })
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
    let (head, big) = (c.row.id, c.bundled > delivery::BUNDLE_CHUNK);
    let early = state
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
        .await?;
    // A failure report that came first fails the whole bundle: applied
    // before the rest is stamped, so no failed page is stamped sent.
    if let Some(left) = early {
        report_more(state, left).await?;
    }
    if big {
        finish_bundle(state, head).await?;
    }
    Ok(())
}

/// Stamps the rest of a sent bundle's rows, a chunk per transaction (the
/// record of its send stamped the first). A bundle that was not sent has
/// nothing left to stamp.
async fn finish_bundle(state: &Shared, head: i64) -> StoreResult<()> {
    while state
        .store
        .transact(move |repo| delivery::finish_bundle(repo, head))
        .await?
    {}
    Ok(())
}

/// A provider's delivery report, down the one path every vendor's reports
/// take: a big bundle's folded rows a chunk per transaction, all of them
/// before the vendor is answered.
pub async fn report(
    state: &Shared,
    provider_id: String,
    status: String,
    error_code: Option<u32>,
) -> StoreResult<()> {
    let done = state
        .transact_paging(move |repo, ctx| {
            delivery::report(repo, ctx, &provider_id, &status, error_code)
        })
        .await?;
    if let delivery::Reported::More(left) = done {
        report_more(state, left).await?;
    }
    Ok(())
}

/// The rest of a big bundle's report, a chunk per transaction.
async fn report_more(state: &Shared, mut left: crate::incident::ReportLeft) -> StoreResult<()> {
    loop {
        let done = state
            .transact_paging(move |repo, ctx| delivery::report_more(repo, ctx, left))
            .await?;
        match done {
            delivery::Reported::More(rest) => left = rest,
            _ => return Ok(()),
        }
    }
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
    // Bundles a crash stopped halfway through stamping, and bundles'
    // delivery reports it cut short (a failure not yet applied to all their
    // pages, which fall back to the next channel), are finished in a task
    // of their own: the worker goes on claiming meanwhile. While running,
    // only reports left alone since `claimed_before`: a live one moves on
    // every few milliseconds.
    let (heads, reports) = state
        .store
        .transact(move |repo| {
            Ok((
                repo.unfinished_bundles()?,
                repo.reports_left(claimed_before)?,
            ))
        })
        .await?;
    if !heads.is_empty() || !reports.is_empty() {
        let state = state.clone();
        tokio::spawn(async move {
            for left in reports {
                let head = left.head;
                tracing::warn!(
                    outbox = head,
                    "finishing a bundle's delivery report a restart cut short"
                );
                if let Err(e) = report_more(&state, left).await {
                    tracing::error!(error = %e, outbox = head, "applying a bundle's delivery report failed; the next reap retries");
                }
            }
            for head in heads {
                if let Err(e) = finish_bundle(&state, head).await {
                    tracing::error!(error = %e, outbox = head, "stamping a sent bundle failed; the next reap retries");
                }
            }
        });
    }
    Ok(n)
}

/// Starts the worker; it stops when `stop` turns true, once the calls in
/// flight have ended and their answers are recorded.
pub fn spawn(
    state: Shared,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut clock = state.clock.subscribe();
        let mut last_reap = std::time::Instant::now();
        let mut inflight = InFlight::new();
        // Claim when woken (a row queued, the clock moved, a row due) or
        // when a slot frees while all were taken; not after every answer.
        let mut claim = true;
        loop {
            if last_reap.elapsed() >= Duration::from_secs(60) {
                last_reap = std::time::Instant::now();
                if let Err(e) = reap(&state).await {
                    tracing::error!(error = %e, "re-queueing stale notifications failed");
                }
            }
            if claim && let Err(e) = dispatch(&state, &mut inflight).await {
                tracing::error!(error = %e, "outbox run failed; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let full = inflight.len() >= IN_FLIGHT;
            // With every slot taken, only an answer (or stop) matters.
            let next = if full {
                Ok(None)
            } else {
                state.store.query(|r| r.next_outbox_due()).await
            };
            tokio::select! {
                go = crate::engine::wait_for(&state, next, &mut clock, &wake, &mut stop) => {
                    if !go {
                        break;
                    }
                    claim = !full;
                }
                Some(done) = inflight.join_next() => {
                    if let Err(e) = joined(done) {
                        tracing::error!(error = %e, "recording a provider's answer failed");
                    }
                    claim = full;
                }
            }
        }
        while let Some(done) = inflight.join_next().await {
            if let Err(e) = joined(done) {
                tracing::error!(error = %e, "recording a provider's answer failed");
            }
        }
    })
}
