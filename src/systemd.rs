//! systemd integration through `sd_notify`: readiness, reload and stop
//! notices, and a watchdog ping that is sent only while the store answers.
//! Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op.

use sd_notify::NotifyState;

use crate::app::Shared;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

pub fn notify_ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn notify_reloading() {
    send(&[NotifyState::Reloading]);
}

pub fn notify_stopping() {
    send(&[NotifyState::Stopping]);
}

/// Pings the watchdog at half its interval, but only after a store round
/// trip succeeds, so a wedged daemon is restarted by systemd.
pub fn spawn_watchdog(state: Shared) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = interval / 2;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match state.store.ping().await {
                Ok(()) => send(&[NotifyState::Watchdog]),
                Err(e) => {
                    tracing::error!(error = %e, "store did not answer; withholding watchdog ping")
                }
            }
        }
    });
}
