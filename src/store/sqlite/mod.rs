//! The SQLite store: one file, WAL, `synchronous=FULL` so a commit survives
//! power loss, not only a crash.
//!
//! One writer thread owns the write connection and is fed by a channel: the
//! jobs waiting when it wakes run in one transaction, each in its own
//! savepoint (one job's failure does not undo another's), and one commit
//! holds them all (group commit). Callers are answered only once the commit
//! is on disk. Readers use their own connections; WAL lets them run beside
//! the writer.
//!
//! The fsync is pipelined: the writer commits with `synchronous=NORMAL`
//! (the WAL frames are written, not synced) and hands the batch's callers to
//! a sync thread, which `fdatasync`s the WAL file and only then answers them,
//! while the writer runs the next batch. A caller is answered after a sync
//! that started after its commit was written, so an answered write survives
//! power loss exactly as with `synchronous=FULL`. The sync thread keeps the
//! WAL open (reopened only when the file is replaced), so a commit never
//! needs a new descriptor: running out of descriptors cannot fail it. A
//! failed `fdatasync` poisons the store: the commits are visible already and
//! later syncs would not report the lost pages, so from then on every write
//! is refused and `ping` fails (readiness and the systemd watchdog with it,
//! so the unit is restarted and recovers from what the disk holds). A failed
//! open only fails that batch (nothing was lost; the next sync covers it). A
//! new WAL file's directory entry is synced before the first answer that
//! depends on it. (With `NORMAL`, SQLite still syncs the WAL before each
//! checkpoint and the database file after it.)
//!
//! Readiness follows the writes: after a batch fails to commit or sync,
//! `ready` fails until a write succeeds again (it tries a probe write itself).
//!
//! The writer's queue has two lanes. Ingest (`transact_bulk`) is the bulk
//! lane; everything else — the outbox's claims and records, acknowledgements
//! and other actions, timers — is the prompt lane, and a batch is made of
//! prompt jobs alone whenever any wait: during an alert storm a page or an
//! acknowledgement waits for the batch being written, never behind the
//! storm's queue (`Queue`).
//!
//! A savepoint per job costs a copy of every page the job touches (about a
//! tenth of an ingest's writing). A job alone in its batch needs none (its
//! failure rolls the transaction back). Ingest jobs can be run again, so a
//! batch of them runs without savepoints; if one fails, the whole
//! transaction is rolled back and the batch runs again with a savepoint per
//! job, as a batch of several other jobs does. Nothing is answered before
//! the commit, so the first run leaves no trace.

mod incidents;
mod maintenance;
mod migrations;
mod outbox;
mod overrides;
mod postmortems;
mod queue;
mod reports;
mod sessions;
mod sms;
mod sync;

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction};
use tokio::sync::oneshot;

pub use migrations::{MIGRATIONS, migrate_to};
pub use queue::Lane;
use queue::Queue;
use sync::{Synced, Wal, WriteHealth, sync_loop};

use super::{StoreError, StoreResult};

/// A write job: run in the writer's transaction, then told whether its
/// commit is durable.
trait Job: Send {
    /// Runs (again, after a rollback, if it can be); false when it failed
    /// and its writes must be undone.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Whether `run` may be called again once its writes are rolled back.
    fn rerunnable(&self) -> bool;
    /// What to tell the caller once the commit has (or has not) happened.
    fn finish(self: Box<Self>) -> Completer;
}

type Completer = Box<dyn FnOnce(bool) + Send>;

/// A job on its way to the writer, with its lane.
type Queued = (Lane, Box<dyn Job>);

/// A job's body: `FnMut` so that a bulk job can run again.
type Body<R> = Box<dyn FnMut(&Transaction<'_>) -> StoreResult<R> + Send>;

struct WriteJob<R, D> {
    body: Body<R>,
    rerun: bool,
    result: Option<StoreResult<R>>,
    reply: oneshot::Sender<StoreResult<R>>,
    durable: D,
}

impl<R, D> Job for WriteJob<R, D>
where
    R: Send + 'static,
    D: FnOnce(&R) + Send + 'static,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        let result = (self.body)(tx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn rerunnable(&self) -> bool {
        self.rerun
    }

    fn finish(self: Box<Self>) -> Completer {
        let WriteJob {
            result,
            reply,
            durable,
            ..
        } = *self;
        Box::new(move |committed: bool| {
            let out = match result {
                Some(Ok(_)) if !committed => Err(StoreError::Unavailable("commit failed".into())),
                Some(other) => other,
                None => Err(StoreError::Unavailable("the job did not run".into())),
            };
            if let Ok(r) = &out {
                durable(r);
            }
            let _ = reply.send(out);
        })
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<Queued>>>,
    readers: Mutex<Vec<Connection>>,
    /// Test hook: make every write fail as a full or read-only disk would.
    fail_writes: Arc<AtomicBool>,
    /// Set when a sync failed: nothing may be written or answered any more.
    poisoned: Arc<AtomicBool>,
    /// How the last batch ended, for readiness.
    health: WriteHealth,
    /// Woken after a commit that stored a timer or an outbox row.
    wakers: std::sync::OnceLock<Wakers>,
    /// When (ms) a job last dropped the alert snapshots past their copy
    /// window (`seen_delivery`).
    pruned_at: Arc<AtomicI64>,
}

/// The tasks that sleep until the next timer or outbox row is due.
#[derive(Clone)]
pub struct Wakers {
    pub timers: Arc<tokio::sync::Notify>,
    pub outbox: Arc<tokio::sync::Notify>,
    /// Told the alert groups a commit forgot, so an in-memory copy of
    /// their deliveries forgets them too.
    pub forgotten: Arc<Forgotten>,
}

/// Called with the `(integration, group key)` pairs a commit forgot.
pub type Forgotten = dyn Fn(&[(String, String)]) + Send + Sync;

/// What the probe write of `ready` stores: room for an alert or two (one
/// with a few KB of text appends 100-150 KB to the WAL), so "ready" means
/// space for real writes, not for a byte — nor only for the WAL space a
/// failed commit already took.
const PROBE_BYTES: usize = 256 * 1024;

/// The WAL file beside the database (SQLite's naming).
fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

fn open_conn(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Every statement is prepared once per connection (see `exec`, `row`).
    conn.set_prepared_statement_cache_capacity(256);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Each job runs in a savepoint, whose undo pages go to a sub-journal; on
    // disk (past 64 KiB per batch) that is a write for every page touched.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating the file and its folder) and migrates to the latest schema.
    /// The files are created private (0600, the folder 0700): they may hold
    /// the link-signing key.
    pub fn open(path: &Path) -> StoreResult<Self> {
        create_private(path)?;
        let mut conn = open_conn(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        let (from, to) = migrations::migrate(&mut conn)
            .map_err(|e| StoreError::Unavailable(format!("migrating {}: {e}", path.display())))?;
        if from != to {
            tracing::info!(from, to, path = %path.display(), "database schema migrated");
        }
        let fail_writes = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Queued>();
        // The sync thread (below) makes each commit durable before its callers hear of it.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| StoreError::Unavailable(format!("configuring {}: {e}", path.display())))?;
        let poisoned = Arc::new(AtomicBool::new(false));
        let health = WriteHealth::default();
        let fail = fail_writes.clone();
        let (sync_tx, sync_rx) = mpsc::channel::<Synced>();
        // The name SQLite itself uses (symbolic links resolved), not ours.
        let wal = wal_path(conn.path().map_or(path, Path::new));
        std::thread::Builder::new()
            .name("tocsin-store-sync".into())
            .spawn({
                let (poisoned, health) = (poisoned.clone(), health.clone());
                move || sync_loop(Wal::new(wal), sync_rx, &poisoned, &health)
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start sync thread: {e}")))?;
        std::thread::Builder::new()
            .name("tocsin-store-writer".into())
            .spawn({
                let (poisoned, health) = (poisoned.clone(), health.clone());
                move || writer_loop(conn, rx, fail, poisoned, health, sync_tx)
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(Some(tx)),
                readers: Mutex::new(Vec::new()),
                fail_writes,
                poisoned,
                health,
                wakers: std::sync::OnceLock::new(),
                pruned_at: Arc::new(AtomicI64::new(i64::MIN)),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Who to wake after a commit that stored a timer or an outbox row: the
    /// store sees every such write, so no caller can forget to.
    pub fn set_wakers(&self, wakers: Wakers) {
        let _ = self.inner.wakers.set(wakers);
    }

    /// Makes writes fail (true) or work again (false); for fault tests.
    pub fn set_fail_writes(&self, fail: bool) {
        self.inner.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Runs `f` in the writer's transaction; resolves after the commit.
    pub async fn write<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
    {
        self.write_then(Lane::Prompt, f, |_| {}).await
    }

    /// `write` in `lane`, and `durable` runs with the result once the commit
    /// is on disk — on the store's side, so it runs even if the caller has gone.
    async fn write_then<R, F, D>(&self, lane: Lane, f: F, durable: D) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
        D: FnOnce(&R) + Send + 'static,
    {
        let mut f = Some(f);
        let body: Body<R> = Box::new(move |t| match f.take() {
            Some(f) => f(t),
            None => Err(StoreError::Unavailable("a job ran twice".into())),
        });
        self.submit(lane, body, false, durable).await
    }

    /// Queues `body` and waits for its answer, given after the commit is
    /// durable; `rerun` says whether it may run again after a rollback.
    async fn submit<R, D>(
        &self,
        lane: Lane,
        body: Body<R>,
        rerun: bool,
        durable: D,
    ) -> StoreResult<R>
    where
        R: Send + 'static,
        D: FnOnce(&R) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<R>>();
        let job: Box<dyn Job> = Box::new(WriteJob {
            body,
            rerun,
            result: None,
            reply: tx,
            durable,
        });
        let sender = self
            .inner
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer lock poisoned".into()))?
            .clone()
            .ok_or_else(|| StoreError::Unavailable("store is closed".into()))?;
        sender
            .send((lane, job))
            .map_err(|_| StoreError::Unavailable("writer thread stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer thread stopped".into()))?
    }

    /// Runs `f` on a reader connection on the blocking pool.
    pub async fn read<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers.lock().ok().and_then(|mut v| v.pop());
            let conn = match conn {
                Some(c) => c,
                None => open_conn(&inner.path)?,
            };
            let out = f(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("reader task failed: {e}")))?
    }

    /// Runs incident logic in one write transaction (committed before it
    /// resolves), in the prompt lane.
    pub async fn transact<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn crate::incident::Repo) -> StoreResult<R> + Send + 'static,
    {
        let mut f = Some(f);
        let once = move |repo: &mut dyn crate::incident::Repo| match f.take() {
            Some(f) => f(repo),
            None => Err(StoreError::Unavailable("a job ran twice".into())),
        };
        self.transact_in(Lane::Prompt, false, once).await
    }

    /// `transact` in the bulk lane: for ingest, which a storm sends by the
    /// thousand, so that pages and acknowledgements go first. `f` may run
    /// more than once (its writes rolled back in between), so it must act
    /// only through the repo.
    pub async fn transact_bulk<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn crate::incident::Repo) -> StoreResult<R> + Send + 'static,
    {
        self.transact_in(Lane::Bulk, true, f).await
    }

    async fn transact_in<R, F>(&self, lane: Lane, rerun: bool, mut f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn crate::incident::Repo) -> StoreResult<R> + Send + 'static,
    {
        let wakers = self.inner.wakers.get().cloned();
        let pruned_at = self.inner.pruned_at.clone();
        let body: Body<(R, incidents::Touched)> = Box::new(move |t| {
            let mut repo = incidents::TxRepo::new(t, &pruned_at);
            let out = f(&mut repo)?;
            repo.flush()?;
            Ok((out, repo.touched))
        });
        let (out, _) = self
            .submit(
                lane,
                body,
                rerun,
                // After the commit is durable (woken earlier, a task could
                // read the old state and sleep past the new deadline), and
                // whether or not the caller still waits.
                move |(_, touched): &(R, incidents::Touched)| {
                    if let Some(w) = wakers {
                        if touched.timers {
                            w.timers.notify_one();
                        }
                        if touched.outbox {
                            w.outbox.notify_one();
                        }
                        if !touched.forgotten.is_empty() {
                            (w.forgotten)(&touched.forgotten);
                        }
                    }
                },
            )
            .await?;
        Ok(out)
    }

    /// Runs read-side incident queries on a reader connection.
    pub async fn query<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn crate::incident::ReadRepo) -> StoreResult<R> + Send + 'static,
    {
        self.read(move |c| f(&incidents::Reader { conn: c })).await
    }

    /// Readiness: a read round trip, and no failed sync.
    pub async fn ping(&self) -> StoreResult<()> {
        if self.inner.poisoned.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "a sync of the database failed; writes are refused until a restart".into(),
            ));
        }
        self.read(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    /// Readiness: `ping`, and writes work. After a batch failed to commit
    /// or sync, a probe write must succeed first (only then: a healthy
    /// store answers without writing).
    pub async fn ready(&self) -> StoreResult<()> {
        self.ping().await?;
        let Some(why) = self.inner.health.failure() else {
            return Ok(());
        };
        // Changed each time, so every probe writes its pages.
        let value = format!("{} {}", now_nanos(), " ".repeat(PROBE_BYTES));
        self.write(move |t| {
            exec(
                t,
                "INSERT INTO meta (key, value) VALUES ('write_probe', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [&value],
            )?;
            Ok(())
        })
        .await
        .map_err(|_| StoreError::Unavailable(format!("writes fail: {why}")))
    }

    pub async fn schema_version(&self) -> StoreResult<usize> {
        self.read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize))
            .await
    }

    pub async fn meta_get(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.read(move |c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }

    /// Stores `value` unless the key exists; returns the stored value.
    pub async fn meta_get_or_insert(&self, key: &str, value: String) -> StoreResult<String> {
        let key = key.to_string();
        self.write(move |t| {
            t.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
                [&key, &value],
            )?;
            Ok(
                t.query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| {
                    r.get(0)
                })?,
            )
        })
        .await
    }

    /// Stops accepting writes; the writer thread ends when the queue is drained.
    pub fn close(&self) {
        if let Ok(mut w) = self.inner.writer.lock() {
            w.take();
        }
    }
}

/// `execute` through the connection's statement cache: the SQL is parsed
/// once per connection, not once per call.
pub(crate) fn exec<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// `query_row` through the statement cache.
pub(crate) fn row<T, P, F>(conn: &Connection, sql: &str, params: P, f: F) -> rusqlite::Result<T>
where
    P: rusqlite::Params,
    F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
{
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// Creates the database file 0600 (and its folder 0700) unless it exists;
/// SQLite gives the -wal and -shm files the database file's mode.
fn create_private(path: &Path) -> StoreResult<()> {
    let cannot = |what: &Path, e: std::io::Error| {
        StoreError::Unavailable(format!("cannot create {}: {e}", what.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| cannot(dir, e))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(cannot(path, e)),
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn writer_loop(
    mut conn: Connection,
    rx: mpsc::Receiver<Queued>,
    fail: Arc<AtomicBool>,
    poisoned: Arc<AtomicBool>,
    health: WriteHealth,
    sync: mpsc::Sender<Synced>,
) {
    let mut queue = Queue::default();
    loop {
        if queue.is_empty() {
            match rx.recv() {
                Ok((lane, job)) => queue.push(lane, job),
                Err(_) => break,
            }
        }
        // Everything waiting is sorted into its lane before a batch is
        // chosen, so a prompt job sent after a thousand bulk ones goes first.
        while let Ok((lane, job)) = rx.try_recv() {
            queue.push(lane, job);
        }
        let batch = queue.next_batch();
        // After a failed sync nothing more is committed: a commit would be
        // visible (a retried alert would look stored) without being durable.
        let refuse = fail.load(Ordering::SeqCst) || poisoned.load(Ordering::SeqCst);
        let changes = conn.total_changes();
        let (committed, finish) = run_batch(&mut conn, batch, refuse);
        // A batch that changed nothing wrote nothing: its success says
        // nothing about whether writes work.
        let wrote = conn.total_changes() > changes;
        let failed = if !committed {
            health.record(Err("a commit failed".into()));
            finish
        } else {
            match sync.send((finish, wrote)) {
                Ok(()) => continue,
                Err(mpsc::SendError((finish, _))) => {
                    // No sync thread: the commit cannot be made durable here.
                    tracing::error!("store: sync thread stopped");
                    health.record(Err("the sync thread stopped".into()));
                    finish
                }
            }
        };
        for f in failed {
            f(false);
        }
    }
}

/// Runs the jobs in one transaction; returns whether it committed and what
/// to tell each caller.
fn run_batch(
    conn: &mut Connection,
    mut batch: Vec<Box<dyn Job>>,
    fail: bool,
) -> (bool, Vec<Completer>) {
    // A job alone, or jobs that can run again, go without savepoints: a
    // lone job's failure is undone with the transaction; otherwise a
    // failure undoes the whole try and the batch runs again below, one
    // savepoint per job.
    let alone = batch.len() == 1;
    if alone || batch.iter().all(|j| j.rerunnable()) {
        match conn.transaction() {
            Ok(tx) => {
                if batch.iter_mut().all(|job| job.run(&tx)) {
                    let committed = commit(tx, fail);
                    return (committed, batch.into_iter().map(|j| j.finish()).collect());
                }
                let _ = tx.rollback();
                if alone {
                    // Its answer is its own error; the store is fine.
                    return (true, batch.into_iter().map(|j| j.finish()).collect());
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store: cannot begin transaction");
                return (false, batch.into_iter().map(|j| j.finish()).collect());
            }
        }
    }
    let tx = match conn.transaction() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "store: cannot begin transaction");
            // Nothing was written: each caller hears the commit failed.
            return (false, batch.into_iter().map(|j| j.finish()).collect());
        }
    };
    let mut finish = Vec::with_capacity(batch.len());
    for mut job in batch {
        if exec(&tx, "SAVEPOINT job", []).is_err() {
            job.run(&tx);
            finish.push(job.finish());
            continue;
        }
        // A failed job must leave nothing behind; the others still commit.
        if !job.run(&tx) {
            let _ = exec(&tx, "ROLLBACK TO job", []);
        }
        let _ = exec(&tx, "RELEASE job", []);
        finish.push(job.finish());
    }
    (commit(tx, fail), finish)
}

/// Commits `tx` (rolls it back when writes are made to fail); whether it committed.
fn commit(tx: Transaction<'_>, fail: bool) -> bool {
    if fail {
        let _ = tx.rollback();
        return false;
    }
    match tx.commit() {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "store: commit failed");
            false
        }
    }
}

#[cfg(test)]
mod tests;
