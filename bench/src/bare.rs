//! The calibration rows, each run as a child process of this binary (so it
//! does not share the load generator's runtime) and driven by the same
//! client, payloads and concurrency as the ingest loads:
//!
//! - the bare handler parses the JSON body and answers 200: the ceiling any
//!   server doing real work can approach on the machine the run is on;
//! - the durable floor does that and also stores each body as one SQLite
//!   row before answering: WAL, group commit (one transaction for whatever
//!   queued meanwhile), and the fsync pipelined as tocsin's store does it
//!   (the writer commits with `synchronous=NORMAL` and goes on; a second
//!   thread fsyncs the WAL, then answers every request it covered). It is
//!   the least any server that answers 2xx only once an alert is on disk
//!   must do, so it bounds what such a server can reach here.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use anyhow::{Context, bail};
use axum::http::StatusCode;
use tokio::sync::oneshot;

/// The flag that turns this binary into the bare server.
pub const FLAG: &str = "--bare-server";
/// The flag (with a database path) that turns it into the durable floor.
pub const FLOOR_FLAG: &str = "--floor-server";

/// A body to store, and where to say it is on disk.
type Stored = (axum::body::Bytes, oneshot::Sender<bool>);

/// Runs the bare server (or, with `floor`, the durable floor on that file)
/// until killed; prints `listening <port>` first.
pub fn serve(floor: Option<PathBuf>) -> anyhow::Result<()> {
    let writer = match floor {
        Some(path) => {
            let (tx, rx) = mpsc::channel::<Stored>();
            let (synced_tx, synced_rx) = mpsc::channel::<Vec<Stored>>();
            let conn = open_floor(&path)?;
            let mut wal = path.clone().into_os_string();
            wal.push("-wal");
            let wal = std::fs::File::open(&wal)?;
            // The WAL's directory entry is on disk before any answer, as
            // tocsin's store makes sure once.
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            std::thread::spawn(move || floor_writer(conn, rx, synced_tx));
            std::thread::spawn(move || floor_sync(wal, synced_rx));
            Some(tx)
        }
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let app = axum::Router::new().route(
            "/bare",
            axum::routing::post(move |body: axum::body::Bytes| {
                let writer = writer.clone();
                async move {
                    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&body) {
                        let err = serde_json::json!({"error": e.to_string()});
                        return (StatusCode::BAD_REQUEST, axum::Json(err));
                    }
                    if let Some(writer) = writer {
                        let (done, stored) = oneshot::channel();
                        let on_disk =
                            writer.send((body, done)).is_ok() && stored.await.unwrap_or(false);
                        if !on_disk {
                            let err = serde_json::json!({"error": "not stored"});
                            return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(err));
                        }
                    }
                    (
                        StatusCode::OK,
                        axum::Json(serde_json::json!({"status": "ok"})),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening {}", listener.local_addr()?.port());
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}

fn open_floor(path: &Path) -> anyhow::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // The fsync is the sync thread's (`floor_sync`).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS intake (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
    )?;
    Ok(conn)
}

/// Group commit: waits for one body, takes every other one queued by then,
/// stores them in one transaction, and hands the batch to the sync thread.
fn floor_writer(
    mut conn: rusqlite::Connection,
    rx: mpsc::Receiver<Stored>,
    synced: mpsc::Sender<Vec<Stored>>,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        if store_batch(&mut conn, &batch).is_err() {
            for (_, done) in batch {
                let _ = done.send(false);
            }
            continue;
        }
        if synced.send(batch).is_err() {
            return;
        }
    }
}

/// One fsync of the WAL for every batch committed before it; then each
/// request of those batches hears that it is on disk.
fn floor_sync(wal: std::fs::File, rx: mpsc::Receiver<Vec<Stored>>) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        batches.extend(rx.try_iter());
        let on_disk = wal.sync_data().is_ok();
        for (_, done) in batches.into_iter().flatten() {
            let _ = done.send(on_disk);
        }
    }
}

fn store_batch(conn: &mut rusqlite::Connection, batch: &[Stored]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached("INSERT INTO intake (body) VALUES (?1)")?;
        for (body, _) in batch {
            insert.execute([&body[..]])?;
        }
    }
    tx.commit()
}

pub struct Bare {
    child: Child,
    pub url: String,
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bare {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The bare server.
    pub fn start() -> anyhow::Result<Bare> {
        Bare::spawn(&[FLAG.as_ref()])
    }

    /// The durable floor, storing into `db`.
    pub fn start_floor(db: &Path) -> anyhow::Result<Bare> {
        Bare::spawn(&[FLOOR_FLAG.as_ref(), db.as_os_str()])
    }

    fn spawn(args: &[&std::ffi::OsStr]) -> anyhow::Result<Bare> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the bare server")?;
        let out = child.stdout.take().context("bare server stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let Some(port) = line.trim().strip_prefix("listening ") else {
            let _ = child.kill();
            bail!("bare server said {line:?}");
        };
        let url = format!("http://127.0.0.1:{port}/bare");
        Ok(Bare { child, url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every body queued is stored and answered as stored, through the
    /// writer and the sync thread.
    #[test]
    fn the_floor_stores_every_body_before_answering() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("floor.db");
        let conn = open_floor(&path)?;
        let wal = std::fs::File::open(dir.path().join("floor.db-wal"))?;
        let (tx, rx) = mpsc::channel::<Stored>();
        let (synced_tx, synced_rx) = mpsc::channel();
        let writer = std::thread::spawn(move || floor_writer(conn, rx, synced_tx));
        let sync = std::thread::spawn(move || floor_sync(wal, synced_rx));
        let answers: Vec<_> = (0..3)
            .map(|i| {
                let (done, stored) = oneshot::channel();
                let body = axum::body::Bytes::from(format!("{{\"n\":{i}}}"));
                tx.send((body, done)).map(|_| stored)
            })
            .collect::<Result<_, _>>()?;
        drop(tx);
        for stored in answers {
            assert!(stored.blocking_recv()?);
        }
        let _ = writer.join();
        let _ = sync.join();
        let rows: i64 = rusqlite::Connection::open(&path)?.query_row(
            "SELECT count(*) FROM intake",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(rows, 3);
        Ok(())
    }
}
