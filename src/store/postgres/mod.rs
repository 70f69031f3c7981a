//! The PostgreSQL store: several daemons on one database.
//!
//! Client: the `postgres` crate (the blocking face of `tokio-postgres`) with
//! an `r2d2` pool. The domain's `Repo` is synchronous and runs inside one
//! transaction, exactly as on SQLite's writer thread, so a blocking client
//! on tokio's blocking pool fits it without a second, async copy of every
//! query; sqlx would need an async `Repo`. TLS is rustls (pure Rust, ring).
//!
//! Writes: every `transact` runs in one PostgreSQL transaction that first
//! takes one transaction-scoped advisory lock, so write transactions run
//! one at a time across all daemons, as on SQLite's one writer. Every rule
//! the domain relies on (one open incident per key, the HA copy window, the
//! client's reference sequence, a timer fired once, a page claimed once,
//! an acknowledgement that stops what is queued) holds as it does on
//! SQLite, with no retry loop and no deadlock. Claims (`take_due`,
//! `due_outbox`) also say `FOR UPDATE SKIP LOCKED`, so they stay exclusive
//! should the lock ever be narrowed. Provider calls run outside any
//! transaction, so daemons still send in parallel. A commit is durable when
//! PostgreSQL answers it (`synchronous_commit` on), and only then is the
//! caller answered; any failure is `Unavailable` (503) and nothing was
//! stored. A daemon cut off from the database (a partition) cannot claim or
//! fire anything; the transaction it had open dies with its connection
//! (releasing the lock), and what it had claimed but not recorded is
//! re-queued by `requeue_in_flight` on the others after five minutes.
//!
//! Wake-ups: a commit that stored a timer or an outbox row wakes this
//! daemon's tasks once it is committed (whether or not its caller still
//! waits) and sends `NOTIFY tocsin_wake`, which a listener thread in every
//! other daemon turns into the same wake-ups; after losing its connection
//! the listener wakes both tasks once it is back (it may have missed some).
//! The listener also looks twice a second for rows left `sending` by a
//! daemon that is gone and wakes the outbox worker, which sends them: a
//! killed daemon's pages in flight move within about a second, even when
//! nothing else falls due. Its timers need nothing: a timer is only ever
//! held inside the transaction that fires it.

mod cache;
mod migrations;
mod repo;
mod rows;
mod sessions;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use migrations::MIGRATIONS;

use super::sqlite::Wakers;
use super::{StoreError, StoreResult};
use cache::Sql;

/// The advisory lock every write transaction takes first ("tocsin-w").
const WRITE_LOCK: i64 = 0x746f_6373_696e_2d77;
/// The first key of the advisory lock each daemon holds while it lives
/// ("tocs" as a 32-bit number; the second key is the daemon's number).
const LIVE_LOCK: i32 = 0x746f_6373;
/// The channel commits notify and every daemon listens on.
const CHANNEL: &str = "tocsin_wake";
/// How often each daemon looks for rows left `sending` by a daemon that is
/// gone (its lock released with its connection): a survivor's outbox
/// worker is woken to send them, even when nothing else falls due.
const TAKEOVER: Duration = Duration::from_millis(500);
/// How long a request waits for the write lock before 503.
const WAIT: Duration = Duration::from_secs(10);
/// How long a request waits for a connection before 503 (the database may
/// be away: a sender should hear so, and retry, before its own timeout).
const CONNECT_WAIT: Duration = Duration::from_secs(3);

type Pool = r2d2::Pool<cache::Manager>;

#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    /// Always `Some` until dropped (see `Drop`).
    pool: Option<Pool>,
    wakers: OnceLock<Wakers>,
    /// This daemon's number, stamped on the outbox rows it claims.
    daemon: i32,
    /// The listening connection, already holding the daemon's lock, until
    /// the listener thread takes it.
    listener: std::sync::Mutex<Option<postgres::Client>>,
    /// Test hook: every write fails as if the database refused it.
    fail_writes: AtomicBool,
    closed: Arc<AtomicBool>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// rustls with the ring provider and the Mozilla roots; PostgreSQL's
/// `sslmode` (in the URL) says whether TLS is tried or required.
pub(super) fn tls() -> StoreResult<MakeRustlsConnect> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(unavailable)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

impl Inner {
    /// Whether this store may write now.
    fn writable(&self) -> StoreResult<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(unavailable("store is closed"));
        }
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(unavailable("writes are failing (test hook)"));
        }
        Ok(())
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<cache::Manager>> {
        self.pool
            .as_ref()
            .ok_or_else(|| unavailable("store is closed"))?
            .get()
            .map_err(unavailable)
    }
}

impl Drop for Inner {
    /// The blocking client closes its connections with a runtime of its
    /// own, which must not happen on a tokio worker: dropped on a thread.
    /// So is the listening connection of a store that never started its
    /// listener thread.
    fn drop(&mut self) {
        let pool = self.pool.take();
        let listener = self.listener.get_mut().ok().and_then(|l| l.take());
        if pool.is_some() || listener.is_some() {
            let _ = std::thread::Builder::new()
                .name("tocsin-store-close".into())
                .spawn(move || drop((pool, listener)));
        }
    }
}

/// What each session asks of the server: TCP keepalives (10 s idle, then
/// every 5 s, 3 misses) so a vanished daemon's connections are closed, and
/// an end to a session idle inside a transaction for 15 s (a frozen process
/// holding the write lock), whose statements then fail and are retried.
const SESSION_OPTIONS: &str = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 \
    -c tcp_keepalives_count=3 -c idle_in_transaction_session_timeout=15000";

impl PgStore {
    /// `open` on the blocking pool: the blocking client must not run on a
    /// tokio worker.
    pub async fn open_async(url: String) -> StoreResult<Self> {
        tokio::task::spawn_blocking(move || Self::open(&url))
            .await
            .map_err(|e| unavailable(format!("store task failed: {e}")))?
    }

    /// Connects (failing after a few seconds when the database does not
    /// answer) and migrates to the latest schema.
    pub fn open(url: &str) -> StoreResult<Self> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| unavailable(format!("the PostgreSQL URL does not parse: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // Either side of a connection finds the other gone within about 25 s
        // when its machine vanishes (no FIN, no RST): the server then drops a
        // dead daemon's liveness lock (its claims move) and any write lock
        // it held. Options in the URL come after ours, so they win.
        config
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        let options = match config.get_options() {
            Some(theirs) => format!("{SESSION_OPTIONS} {theirs}"),
            None => SESSION_OPTIONS.to_string(),
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("tocsin");
        }
        let tls = tls()?;
        let manager = cache::Manager(PostgresConnectionManager::new(config.clone(), tls.clone()));
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .min_idle(Some(1))
            .connection_timeout(CONNECT_WAIT)
            // A connection the server dropped (a restart, a failover) is
            // found out here and replaced, not handed to a request.
            .test_on_check_out(true)
            .build(manager)
            .map_err(|e| unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        {
            let mut c = pool.get().map_err(unavailable)?;
            let (from, to) = migrations::migrate(&mut c.client)
                .map_err(|e| unavailable(format!("migrating PostgreSQL: {e}")))?;
            if from != to {
                tracing::info!(from, to, "database schema migrated");
            }
        }
        // Held before this daemon claims anything: its claims are its own
        // for as long as it lives.
        let daemon = loop {
            // Positive: pg_locks shows the key as an unsigned oid.
            let n = rand::random::<i32>() & 0x7fff_ffff;
            if n != 0 {
                break n;
            }
        };
        let listener = live_connection(&config, tls.clone(), daemon)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                tls,
                pool: Some(pool),
                wakers: OnceLock::new(),
                daemon,
                listener: std::sync::Mutex::new(Some(listener)),
                fail_writes: AtomicBool::new(false),
                closed: Arc::new(AtomicBool::new(false)),
            }),
        })
    }

    /// Who to wake after a commit that stored a timer or an outbox row, here
    /// or in another daemon (the listener thread starts here).
    pub fn set_wakers(&self, wakers: Wakers) {
        if self.inner.wakers.set(wakers.clone()).is_err() {
            return;
        }
        let (config, tls, closed, daemon) = (
            self.inner.config.clone(),
            self.inner.tls.clone(),
            self.inner.closed.clone(),
            self.inner.daemon,
        );
        let first = self.inner.listener.lock().ok().and_then(|mut l| l.take());
        let spawned = std::thread::Builder::new()
            .name("tocsin-store-listen".into())
            .spawn(move || listen(&config, tls, daemon, first, &closed, &wakers));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "store: cannot start the listener thread");
        }
    }

    /// Makes writes fail (true) or work again (false); for fault tests.
    pub fn set_fail_writes(&self, fail: bool) {
        self.inner.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Runs incident logic in one write transaction (committed before it resolves).
    pub async fn transact<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn crate::incident::Repo) -> StoreResult<R> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner.writable()?;
            let mut conn = inner.conn()?;
            let cache::Conn { client, statements } = &mut *conn;
            let mut tx = client.transaction()?;
            tx.batch_execute(&format!(
                "SET LOCAL lock_timeout = '{}s'; SELECT pg_advisory_xact_lock({WRITE_LOCK})",
                WAIT.as_secs()
            ))?;
            let mut cached = cache::Cached::transaction(&mut tx, statements);
            let mut repo = repo::TxRepo {
                tx: &mut cached,
                touched: repo::Touched::default(),
                daemon: inner.daemon,
            };
            let out = f(&mut repo)?;
            let touched = repo.touched;
            let what = match (touched.timers, touched.outbox) {
                (true, true) => Some("timers,outbox"),
                (true, false) => Some("timers"),
                (false, true) => Some("outbox"),
                (false, false) => None,
            };
            if let Some(what) = what {
                // Delivered to every listener at the commit, never before;
                // signed with this daemon's number, whose own listener
                // leaves it to the wake-up below.
                let payload = format!("{what}:{}", inner.daemon);
                cached.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
            }
            tx.commit()?;
            // Here, not after the await: a caller that hung up does not
            // take the wake-up of what it committed with it.
            if let Some(w) = inner.wakers.get() {
                wake(w, &touched);
            }
            Ok(out)
        })
        .await
        .map_err(|e| unavailable(format!("store task failed: {e}")))?
    }

    /// Runs read-side incident queries on a pooled connection.
    pub async fn query<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&dyn crate::incident::ReadRepo) -> StoreResult<R> + Send + 'static,
    {
        self.read(move |c| {
            f(&repo::Reader {
                conn: RefCell::new(c.reborrow()),
            })
        })
        .await
    }

    pub(super) async fn read<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut cache::Cached<'_, postgres::Client>) -> StoreResult<R> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.conn()?;
            f(&mut conn.session())
        })
        .await
        .map_err(|e| unavailable(format!("store task failed: {e}")))?
    }

    /// Readiness: a round trip to the database.
    pub async fn ping(&self) -> StoreResult<()> {
        self.read(|c| {
            c.client.simple_query("SELECT 1")?;
            Ok(())
        })
        .await
    }

    /// Readiness: `ping`, and writes are not refused. Whether a commit is
    /// durable is PostgreSQL's own business (and its replicas').
    pub async fn ready(&self) -> StoreResult<()> {
        self.ping().await?;
        if self.inner.fail_writes.load(Ordering::SeqCst) {
            return Err(unavailable("writes fail"));
        }
        Ok(())
    }

    pub async fn schema_version(&self) -> StoreResult<usize> {
        self.read(|c| Ok(migrations::version(c.client)?)).await
    }

    pub async fn meta_get(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.read(move |c| {
            Ok(
                c.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
                    .map(|r| r.try_get(0))
                    .transpose()?,
            )
        })
        .await
    }

    /// Stores `value` unless the key exists; returns the stored value.
    pub async fn meta_get_or_insert(&self, key: &str, value: String) -> StoreResult<String> {
        self.inner.writable()?;
        let key = key.to_string();
        self.read(move |c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &value],
            )?;
            Ok(
                c.query_one("SELECT value FROM meta WHERE key = $1", &[&key])?
                    .try_get(0)?,
            )
        })
        .await
    }

    /// Stops accepting writes and stops the listener.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
    }
}

/// Wakes the tasks whose rows a commit stored.
fn wake(w: &Wakers, touched: &repo::Touched) {
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

/// A connection that holds this daemon's lock and listens for wake-ups.
fn live_connection(
    config: &postgres::Config,
    tls: MakeRustlsConnect,
    daemon: i32,
) -> StoreResult<postgres::Client> {
    let mut client = config.connect(tls)?;
    client.execute("SELECT pg_advisory_lock($1, $2)", &[&LIVE_LOCK, &daemon])?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok(client)
}

/// The listener thread: `LISTEN tocsin_wake` on the connection that holds
/// the daemon's lock, reconnecting after a failure (and then waking both
/// tasks, since a notification may have been missed meanwhile). While it is
/// disconnected the others may re-queue this daemon's claims: a page in
/// flight then may go out twice, never not at all.
fn listen(
    config: &postgres::Config,
    tls: MakeRustlsConnect,
    daemon: i32,
    mut first: Option<postgres::Client>,
    closed: &AtomicBool,
    wakers: &Wakers,
) {
    while !closed.load(Ordering::SeqCst) {
        let mut client = match first.take() {
            // Listening since the store opened: nothing was missed.
            Some(c) => c,
            None => match live_connection(config, tls.clone(), daemon) {
                Ok(c) => {
                    wakers.timers.notify_one();
                    wakers.outbox.notify_one();
                    c
                }
                Err(e) => {
                    tracing::warn!(error = %e, "store: listener cannot connect; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            },
        };
        let mut statements = cache::Statements::default();
        let mut looked = Instant::now();
        while !closed.load(Ordering::SeqCst) {
            let next = client.notifications().timeout_iter(TAKEOVER).next();
            match next {
                Ok(Some(n)) => {
                    let (what, from) = n.payload().split_once(':').unwrap_or((n.payload(), ""));
                    if from == daemon.to_string() {
                        continue;
                    }
                    wake(
                        wakers,
                        &repo::Touched {
                            timers: what.contains("timers"),
                            outbox: what.contains("outbox"),
                            forgotten: Vec::new(),
                        },
                    );
                }
                Ok(None) if client.is_closed() => break,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "store: listener lost its connection");
                    break;
                }
            }
            if looked.elapsed() < TAKEOVER {
                continue;
            }
            looked = Instant::now();
            match repo::orphaned_claims(&mut cache::Cached::session(&mut client, &mut statements)) {
                Ok(true) => wakers.outbox.notify_one(),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "store: listener cannot look for a gone daemon's pages; reconnecting");
                    break;
                }
            }
        }
    }
}
