//! Wiring: configuration, store, clock, HTTP server, signals and systemd.
//!
//! `start` is the seam tests use: it takes an already-bound listener and a
//! clock, so a test binds 127.0.0.1:0 and drives time by hand. `serve_blocking`
//! is what `tocsin serve` runs: logging, signals, sd_notify around `start`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::{Clock, SystemClock};
use crate::config::{self, ConfigErrors, Roster};
use crate::store::Store;

/// State shared by every request and background task.
pub type Shared = Arc<AppState>;

pub struct AppState {
    roster: RwLock<Arc<Roster>>,
    config_path: PathBuf,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    reload: Mutex<ReloadStatus>,
    /// One reload at a time, from reading the open incidents to rearming:
    /// a SIGHUP and an API reload together cannot swap in the older files.
    reloading: tokio::sync::Mutex<()>,
    /// Wakes the timer task when a nearer deadline may have been stored.
    pub wake: Arc<tokio::sync::Notify>,
    /// Wakes the outbox worker when a notification may be due.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    notifiers: RwLock<Arc<crate::notify::notifier::Notifiers>>,
    http: reqwest::Client,
    pub metrics: crate::metrics::Metrics,
    /// Each alert group's last snapshot, so re-sends skip the writer.
    pub snapshots: crate::incident::snapshots::Snapshots,
    /// Paces the "alerts ingested" lines in a storm.
    log_budget: Mutex<crate::log_budget::Budget>,
    /// Signs acknowledge links: `server.secret`, or a random key generated
    /// once and kept in the store so links survive restarts.
    secret: Vec<u8>,
    /// Turns true when the daemon stops: long-lived responses (the web
    /// UI's event streams) end so that shutdown does not wait for them.
    pub stopping: watch::Receiver<bool>,
}

/// What `/readyz` shows about configuration loads.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadStatus {
    pub loaded_at: DateTime<Utc>,
    /// Increments on every successful load.
    pub generation: u64,
    pub last: Option<ReloadOutcome>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReloadOutcome {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub errors: Vec<String>,
}

impl AppState {
    /// The running configuration. Readers hold an `Arc`, so a reload never
    /// shows them half a config.
    pub fn roster(&self) -> Arc<Roster> {
        self.roster
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn reload_status(&self) -> ReloadStatus {
        self.reload
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The HTTP client every provider and sign-in call shares (timeouts
    /// set, rustls).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The providers of the running configuration.
    pub fn notifiers(&self) -> Arc<crate::notify::notifier::Notifiers> {
        self.notifiers
            .read()
            .map(|n| n.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Runs `f` in one store transaction with what paging needs (the
    /// running roster, the link secret, the clock's now).
    pub async fn transact_paging<R, F>(&self, f: F) -> crate::store::StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(
                &mut dyn crate::incident::Repo,
                &crate::escalation::paging::Ctx<'_>,
            ) -> crate::store::StoreResult<R>
            + Send
            + 'static,
    {
        self.transact_paging_at(self.clock.now(), f).await
    }

    /// `transact_paging` at a `now` the caller already read (and used).
    pub async fn transact_paging_at<R, F>(
        &self,
        now: DateTime<Utc>,
        f: F,
    ) -> crate::store::StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(
                &mut dyn crate::incident::Repo,
                &crate::escalation::paging::Ctx<'_>,
            ) -> crate::store::StoreResult<R>
            + Send
            + 'static,
    {
        let parts = self.parts_at(now);
        // Whatever it queued or scheduled wakes its task (the store does it).
        self.store.transact(move |repo| f(repo, &parts.ctx())).await
    }

    /// `transact_paging_at` for alerts from monitoring: the store's bulk
    /// lane, so that a storm of them never delays a page or an acknowledgement.
    /// `f` may run more than once (see `Store::transact_bulk`).
    pub async fn transact_ingest_at<R, F>(
        &self,
        now: DateTime<Utc>,
        mut f: F,
    ) -> crate::store::StoreResult<R>
    where
        R: Send + 'static,
        F: FnMut(
                &mut dyn crate::incident::Repo,
                &crate::escalation::paging::Ctx<'_>,
            ) -> crate::store::StoreResult<R>
            + Send
            + 'static,
    {
        let parts = self.parts_at(now);
        self.store
            .transact_bulk(move |repo| f(repo, &parts.ctx()))
            .await
    }

    /// What a paging transaction at `now` needs, owned so a job can keep it.
    fn parts_at(&self, now: DateTime<Utc>) -> PagingParts {
        PagingParts {
            roster: self.roster(),
            secret: self.secret.clone(),
            now,
        }
    }

    /// What paging needs for a transaction at `now`.
    pub fn paging_parts(&self) -> (Arc<Roster>, Vec<u8>, DateTime<Utc>) {
        (self.roster(), self.secret.clone(), self.clock.now())
    }

    /// The key that signs and checks acknowledge-link tokens.
    pub fn link_secret(&self) -> &[u8] {
        &self.secret
    }

    /// Counts a received alert (metrics).
    pub fn metrics_alert(&self, source: &str, status: &str) {
        self.metrics.alert_received(source, status);
    }

    /// Whether this state change gets a line of its own (`log_budget`); when
    /// not, it is counted into the second's summary line. Writes the summary
    /// of a second that has ended first.
    fn ingest_line(&self, out: &crate::incident::apply::Outcome, source: &str) -> bool {
        let now = std::time::Instant::now();
        let Ok(mut budget) = self.log_budget.lock() else {
            return true;
        };
        let summary = budget.take(now);
        let own_line = budget.admit(now);
        if !own_line {
            budget.fold(
                source,
                out.opened.len(),
                out.reopened.len(),
                out.resolved.len(),
                out.suppressed.len(),
            );
        }
        drop(budget);
        log_folded(&summary);
        own_line
    }

    /// Writes the summary of held-back ingest lines: of a second that has
    /// ended, or (`all`, at shutdown) whatever is held back.
    pub fn flush_ingest_log(&self, all: bool) {
        let summary = self.log_budget.lock().map(|mut b| {
            if all {
                b.drain()
            } else {
                b.take(std::time::Instant::now())
            }
        });
        if let Ok(s) = summary {
            log_folded(&s);
        }
    }

    /// After an ingest (committed, or answered as a known re-send): log and count.
    pub fn after_ingest(&self, out: &crate::incident::apply::Outcome, source: &str) {
        // A state change is worth a line at info; a re-send or a joined alert is not.
        if out.opened.is_empty()
            && out.reopened.is_empty()
            && out.resolved.is_empty()
            && out.suppressed.is_empty()
        {
            tracing::debug!(source, attached = ?out.attached, duplicate = out.duplicate, "alerts ingested");
        } else if self.ingest_line(out, source) {
            tracing::info!(source, opened = ?out.opened, reopened = ?out.reopened, resolved = ?out.resolved, suppressed = ?out.suppressed, "alerts ingested");
        }
        if out.duplicate {
            self.metrics.duplicate_alert(source);
        }
    }

    /// After a state action: cancelled or new deadlines take effect at once.
    pub fn after_action(&self, id: i64) {
        tracing::info!(incident = id, "incident changed");
    }

    /// How late a timer fired (seconds), by kind.
    pub fn observe_timer_lag(&self, _kind: &str, seconds: f64) {
        self.metrics.observe_escalation_lag(seconds);
    }

    /// [`Self::reload`], then the deadlines the new files need, before the
    /// caller hears that the reload took: a notice or heartbeat deadline
    /// asked after the answer follows the new files.
    pub async fn reload_and_rearm(&self) -> Result<String, ConfigErrors> {
        let _one = self.reloading.lock().await;
        // Read before the files: an incident the new files would orphan
        // refuses the reload (`incident::orphans`).
        let open = match self.watched_incidents().await {
            Ok(v) => v,
            Err(e) => {
                let error = format!("cannot read the open incidents to check the reload: {e}");
                return Err(self.refuse(self.clock.now(), vec![self.about_main_file(error)]));
            }
        };
        let summary = self.reload(&open)?;
        if let Err(e) = self.ensure_deadlines().await {
            tracing::error!(error = %e, "reload: cannot schedule deadlines");
        }
        Ok(summary)
    }

    /// Deadlines every configured heartbeat, maintenance window, shift
    /// notice and digest needs (start-up and reload).
    async fn ensure_deadlines(&self) -> crate::store::StoreResult<()> {
        let roster = self.roster();
        let now = self.clock.now();
        self.store
            .transact(move |repo| {
                crate::incident::heartbeat::ensure_deadlines(repo, &roster, now)?;
                crate::incident::maintenance::ensure_timers(repo, &roster, now)?;
                crate::escalation::shifts::ensure(repo, &roster, now)?;
                crate::followup::remind::ensure_digests(repo, &roster, now)
            })
            .await?;
        Ok(())
    }

    /// Every incident a reload must not orphan (`orphans::watched`).
    async fn watched_incidents(&self) -> crate::store::StoreResult<Vec<crate::incident::Incident>> {
        use crate::incident::{State, StateFilter};
        let mut all = Vec::new();
        for filter in [StateFilter::Open, StateFilter::Only(State::Suppressed)] {
            let mut after = None;
            loop {
                let page = self
                    .store
                    .query(move |r| r.list(filter, after, 500))
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(crate::store::Cursor::at(last.id));
                all.extend(page);
            }
        }
        Ok(all)
    }

    /// Records a refused reload and says why.
    fn refuse(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        errors: Vec<crate::config::ConfigError>,
    ) -> ConfigErrors {
        let mut status = self.reload.lock().unwrap_or_else(|p| p.into_inner());
        for e in &errors {
            tracing::error!(error = %e, "reload refused; keeping the running configuration");
        }
        status.last = Some(ReloadOutcome {
            at: now,
            ok: false,
            errors: errors.iter().map(|e| e.to_string()).collect(),
        });
        ConfigErrors(errors)
    }

    /// A reason to refuse a reload that no line of the files holds: told
    /// against the main file.
    fn about_main_file(&self, message: String) -> crate::config::ConfigError {
        crate::config::ConfigError {
            file: self.config_path.clone(),
            line: 1,
            column: 1,
            message,
        }
    }

    /// Re-reads the files; on any error, or when they would leave one of
    /// `open` without its project or assignee, keeps the running
    /// configuration.
    fn reload(&self, open: &[crate::incident::Incident]) -> Result<String, ConfigErrors> {
        let now = self.clock.now();
        let new = match config::load(&self.config_path) {
            Ok(new) => new,
            Err(errors) => {
                return Err(self.refuse(now, errors.0));
            }
        };
        let old = self.roster();
        let orphaned = crate::incident::orphans::orphaned(&old, &new, open);
        if !orphaned.is_empty() {
            let errors = orphaned
                .into_iter()
                .map(|m| self.about_main_file(m))
                .collect();
            return Err(self.refuse(now, errors));
        }
        if new.server.listen != old.server.listen || new.storage.sqlite != old.storage.sqlite {
            tracing::warn!("server.listen and storage.sqlite changes take effect after a restart");
        }
        warn_world_writable(&new.files);
        let notifiers =
            match crate::notify::notifier::Notifiers::from_roster(&new, &self.http, &self.secret) {
                Ok(n) => n,
                Err(e) => {
                    let error = self.about_main_file(format!("providers: {e}"));
                    return Err(self.refuse(now, vec![error]));
                }
            };
        let summary = new.summary();
        let mut status = self.reload.lock().unwrap_or_else(|p| p.into_inner());
        *self.roster.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
        *self.notifiers.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(notifiers);
        status.loaded_at = now;
        status.generation += 1;
        status.last = Some(ReloadOutcome {
            at: now,
            ok: true,
            errors: vec![],
        });
        tracing::info!(%summary, "configuration reloaded");
        Ok(summary)
    }
}

/// A running daemon: its address, state and a way to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Shared,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    engine: tokio::task::JoinHandle<()>,
    outbox: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Graceful stop: in-flight requests finish, then the store closes.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server
            .await
            .context("server task")?
            .context("server")?;
        let _ = self.engine.await;
        let _ = self.outbox.await;
        self.state.store.close();
        Ok(())
    }
}

/// Opens the store and serves on `listener` until `stop`.
pub async fn start(
    config_path: &Path,
    roster: Roster,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Running> {
    start_with(config_path, roster, listener, clock, true).await
}

/// As [`start`]; without `workers` the timer task and the outbox worker do
/// not run, and a test drives them step by step (`engine::tick`,
/// `outbox::run_once`) so every message is accounted for.
pub async fn start_with(
    config_path: &Path,
    roster: Roster,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
    workers: bool,
) -> anyhow::Result<Running> {
    warn_world_writable(&roster.files);
    let store = Store::open(&roster.storage)
        .await
        .context("opening the store")?;
    let now = clock.now();
    let http = crate::notify::notifier::http_client();
    let secret = match &roster.server.secret {
        Some(s) => s.expose().as_bytes().to_vec(),
        None => store
            .meta_get_or_insert("link_secret", hex::encode(rand::random::<[u8; 32]>()))
            .await
            .context("storing the generated link secret")?
            .into_bytes(),
    };
    let notifiers = crate::notify::notifier::Notifiers::from_roster(&roster, &http, &secret)
        .map_err(|e| anyhow::anyhow!("providers: {e}"))?;
    let (wake, outbox_wake) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let (tx, rx) = watch::channel(false);
    // Other daemons on the same database record deliveries this one never
    // sees: the mirror would answer for a group it no longer mirrors.
    let snapshots = if store.shared() {
        crate::incident::snapshots::Snapshots::off()
    } else {
        crate::incident::snapshots::Snapshots::default()
    };
    let mirror = snapshots.clone();
    store.set_wakers(crate::store::sqlite::Wakers {
        timers: wake.clone(),
        outbox: outbox_wake.clone(),
        forgotten: Arc::new(move |groups| {
            for (integration, group_key) in groups {
                mirror.forget(integration, group_key);
            }
        }),
    });
    let state: Shared = Arc::new(AppState {
        roster: RwLock::new(Arc::new(roster)),
        config_path: config_path.to_path_buf(),
        store,
        clock,
        reloading: tokio::sync::Mutex::new(()),
        reload: Mutex::new(ReloadStatus {
            loaded_at: now,
            generation: 1,
            last: None,
        }),
        wake,
        outbox_wake,
        notifiers: RwLock::new(Arc::new(notifiers)),
        http,
        metrics: crate::metrics::Metrics::new(),
        snapshots,
        log_budget: Mutex::default(),
        secret,
        stopping: rx.clone(),
    });
    state
        .ensure_deadlines()
        .await
        .context("scheduling heartbeat deadlines")?;
    let addr = listener.local_addr()?;
    let router = crate::http::router(state.clone());
    let server = &state.roster().server;
    let limits = crate::http::serve::Limits {
        max_connections: server.max_connections,
        header_timeout: server.header_timeout.to_std(),
    };
    crate::outbox::recover(&state)
        .await
        .context("re-queueing notifications in flight")?;
    let (engine, outbox) = if workers {
        (
            crate::engine::spawn(state.clone(), state.wake.clone(), rx.clone()),
            crate::outbox::spawn(state.clone(), state.outbox_wake.clone(), rx.clone()),
        )
    } else {
        (tokio::spawn(async {}), tokio::spawn(async {}))
    };
    spawn_log_ticker(state.clone(), rx.clone());
    let server = tokio::spawn(crate::http::serve::serve(listener, router, limits, rx));
    Ok(Running {
        addr,
        state,
        shutdown: tx,
        server,
        engine,
        outbox,
    })
}

/// The summary lines (one a source) of a second's held-back "alerts
/// ingested" lines. Counts, not incident numbers: `opened_count`.
fn log_folded(summary: &std::collections::BTreeMap<String, crate::log_budget::Folded>) {
    for (source, f) in summary {
        tracing::info!(
            source,
            ingests = f.ingests,
            opened_count = f.opened,
            reopened_count = f.reopened,
            resolved_count = f.resolved,
            suppressed_count = f.suppressed,
            "alerts ingested: {} more in the last second, counted on this line (past {} lines a second; each change is on its incident's timeline)",
            f.ingests,
            crate::log_budget::PER_SECOND
        );
    }
}

/// Writes the held-back ingest lines' summary once a second, so a storm's
/// last second is reported even when nothing follows it (`serve` writes
/// what is left at shutdown).
fn spawn_log_ticker(state: Shared, mut stopping: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => state.flush_ingest_log(false),
                _ = stopping.changed() => break,
            }
        }
    });
}

/// Anyone on the machine could rewrite who gets paged (and with which
/// tokens): say so, naming the file.
fn warn_world_writable(files: &[PathBuf]) {
    use std::os::unix::fs::PermissionsExt;
    for file in files {
        if std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o002 != 0) {
            tracing::warn!(file = %file.display(), "configuration file is world-writable; run chmod o-w on it");
        }
    }
}

/// `tocsin serve`: logging, config, signals, systemd readiness and watchdog.
pub fn serve_blocking(config_path: &Path) -> anyhow::Result<()> {
    crate::logging::init();
    let roster = config::load(config_path).map_err(|errors| {
        eprintln!("{errors}");
        anyhow::anyhow!("{} configuration error(s); nothing started", errors.0.len())
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(config_path, roster))
}

async fn serve(config_path: &Path, roster: Roster) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // Installed before we announce readiness, so no early signal is lost.
    let term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let listen = roster.server.listen;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let running = start(config_path, roster, listener, Arc::new(SystemClock::new())).await?;
    tracing::info!(addr = %running.addr, "tocsin listening");
    crate::systemd::notify_ready(&format!("listening on {}", running.addr));
    crate::systemd::spawn_watchdog(running.state.clone());
    wait_for_signals(&running.state, term, hup).await;
    crate::systemd::notify_stopping();
    tracing::info!("shutting down");
    let state = running.state.clone();
    let stopped = running.stop().await;
    state.flush_ingest_log(true);
    stopped
}

/// Returns on SIGTERM or SIGINT; reloads on SIGHUP.
async fn wait_for_signals(
    state: &Shared,
    mut term: tokio::signal::unix::Signal,
    mut hup: tokio::signal::unix::Signal,
) {
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = tokio::signal::ctrl_c() => return,
            _ = hup.recv() => {
                crate::systemd::notify_reloading();
                let _ = state.reload_and_rearm().await;
                crate::systemd::notify_ready("configuration reloaded");
            }
        }
    }
}

/// The running roster, the link secret and the instant of one paging
/// transaction; `ctx` lends them as the paging context.
struct PagingParts {
    roster: Arc<Roster>,
    secret: Vec<u8>,
    now: DateTime<Utc>,
}

impl PagingParts {
    fn ctx(&self) -> crate::escalation::paging::Ctx<'_> {
        crate::escalation::paging::Ctx {
            roster: &self.roster,
            secret: &self.secret,
            now: self.now,
        }
    }
}
