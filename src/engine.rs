//! The one timer task: sleeps until the earliest durable deadline, wakes
//! early when the clock is moved by hand or a nearer deadline is stored,
//! and fires what is due. Each timer is removed and acted on in the same
//! transaction, so a deadline fires once, and after a restart every pending
//! deadline fires at its stored time (an overdue one at once).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::app::Shared;
use crate::escalation::paging::{self, Ctx};
use crate::followup;
use crate::followup::reminders;
use crate::incident::apply::Outcome;
use crate::incident::{Repo, Timer, heartbeat, maintenance};
use crate::store::StoreResult;

/// Most timers fired in one transaction.
const BATCH: usize = 200;

/// What one firing did, for the caller to act on after the commit.
#[derive(Debug, Default)]
pub struct Fired {
    pub timers: Vec<Timer>,
    pub outcome: Outcome,
}

fn fire_one(repo: &mut dyn Repo, ctx: &Ctx<'_>, t: &Timer, out: &mut Outcome) -> StoreResult<()> {
    let id = || t.key.parse::<i64>().ok();
    let o = match t.kind.as_str() {
        heartbeat::TIMER => {
            let o = heartbeat::missed(repo, ctx.roster, &t.key, t.due, ctx.now)?;
            paging::sync(repo, ctx, &o, &format!("heartbeat:{}", t.key))?;
            o
        }
        maintenance::TIMER => {
            let o = maintenance::fire(repo, ctx.roster, t, ctx.now)?;
            paging::sync(repo, ctx, &o, "system")?;
            o
        }
        paging::ESCALATION_TIMER => {
            if let Some(id) = id() {
                paging::on_deadline(repo, ctx, id)?;
            }
            Outcome::default()
        }
        crate::escalation::shifts::TIMER => {
            crate::escalation::shifts::fire(repo, ctx, t)?;
            Outcome::default()
        }
        paging::ACK_TIMEOUT_TIMER => {
            if let Some(id) = id() {
                paging::ack_timed_out(repo, ctx, id)?;
            }
            Outcome::default()
        }
        k if reminders::KINDS.contains(&k) => {
            reminders::fire(repo, ctx, t)?;
            Outcome::default()
        }
        kind if followup::remind::handles(kind) => {
            followup::remind::fire(repo, ctx, t)?;
            Outcome::default()
        }
        other => {
            tracing::warn!(kind = other, key = %t.key, "dropping a timer of unknown kind");
            Outcome::default()
        }
    };
    out.opened.extend(o.opened);
    out.reopened.extend(o.reopened);
    out.resolved.extend(o.resolved);
    Ok(())
}

/// Fires every timer due at the clock's now; returns how many fired.
pub async fn tick(state: &Shared) -> StoreResult<usize> {
    let mut total = 0;
    loop {
        let (roster, secret, now) = state.paging_parts();
        let fired = state
            .store
            .transact(move |repo| {
                let timers = repo.take_due(now, BATCH)?;
                let ctx = Ctx {
                    roster: &roster,
                    secret: &secret,
                    now,
                };
                let mut outcome = Outcome::default();
                for t in &timers {
                    fire_one(repo, &ctx, t, &mut outcome)?;
                }
                Ok(Fired { timers, outcome })
            })
            .await;
        let fired = match fired {
            Ok(f) => f,
            // One bad timer must not hold back the others: fire them one by one.
            Err(e) => {
                tracing::error!(error = %e, "firing a batch of timers failed; firing one by one");
                return Ok(total + one_by_one(state).await?);
            }
        };
        let n = fired.timers.len();
        for t in &fired.timers {
            let lag = (now - t.due).num_milliseconds().max(0) as f64 / 1000.0;
            state.observe_timer_lag(&t.kind, lag);
        }
        if n > 0 {
            state.after_ingest(&fired.outcome, "timer");
        }
        total += n;
        if n < BATCH {
            return Ok(total);
        }
    }
}

/// Fires due timers each in its own transaction. A timer whose firing
/// fails is postponed by a minute (and logged) instead of blocking the rest;
/// it is retried, never dropped.
async fn one_by_one(state: &Shared) -> StoreResult<usize> {
    let mut fired = 0;
    for _ in 0..BATCH {
        let (roster, secret, now) = state.paging_parts();
        let result = state
            .store
            .transact(move |repo| {
                let Some(t) = repo.take_due(now, 1)?.pop() else {
                    return Ok(None);
                };
                let ctx = Ctx {
                    roster: &roster,
                    secret: &secret,
                    now,
                };
                let mut outcome = Outcome::default();
                fire_one(repo, &ctx, &t, &mut outcome)?;
                Ok(Some(outcome))
            })
            .await;
        match result {
            Ok(None) => break,
            Ok(Some(outcome)) => {
                fired += 1;
                state.after_ingest(&outcome, "timer");
            }
            Err(e) => {
                let now = state.clock.now();
                let postponed = state
                    .store
                    .transact(move |repo| {
                        let Some(mut t) = repo.take_due(now, 1)?.pop() else {
                            return Ok(None);
                        };
                        t.due = now + chrono::Duration::minutes(1);
                        repo.set_timer(&t)?;
                        Ok(Some((t.kind, t.key)))
                    })
                    .await?;
                tracing::error!(error = %e, timer = ?postponed, "a timer failed to fire; retrying it in a minute");
            }
        }
    }
    Ok(fired)
}

/// Sleeps until `next` (an hour when nothing is scheduled, a second when
/// the store did not answer), or until the clock is moved by hand, a nearer
/// deadline may have been stored (`wake`), or `stop`. Returns false on stop.
/// Shared by the timer task and the outbox worker.
pub(crate) async fn wait_for(
    state: &Shared,
    next: StoreResult<Option<chrono::DateTime<chrono::Utc>>>,
    clock: &mut watch::Receiver<chrono::DateTime<chrono::Utc>>,
    wake: &Notify,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let wait = match next {
        Ok(Some(next)) => (next - state.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO),
        Ok(None) => Duration::from_secs(3600),
        Err(_) => Duration::from_secs(1),
    };
    if wait.is_zero() {
        // Due already (another batch, or a deadline set in the past).
        tokio::task::yield_now().await;
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = clock.changed() => true,
        _ = wake.notified() => true,
        _ = stop.changed() => false,
    }
}

/// Starts the timer task; it stops when `stop` turns true.
pub fn spawn(
    state: Shared,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut clock = state.clock.subscribe();
        loop {
            if let Err(e) = tick(&state).await {
                // The store itself failed: wait a little instead of spinning.
                tracing::error!(error = %e, "firing timers failed; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let next = state.store.query(|r| r.next_timer()).await;
            if !wait_for(&state, next, &mut clock, &wake, &mut stop).await {
                return;
            }
        }
    })
}
