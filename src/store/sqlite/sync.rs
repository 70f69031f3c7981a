//! The sync thread: makes each committed batch durable before its callers
//! hear of it, through a WAL descriptor opened once and kept (a commit never
//! needs a new descriptor, so running out of them cannot fail one), and
//! records how each batch ended for readiness.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use super::Completer;

/// A committed batch's callers, and whether it changed any row.
pub(super) type Synced = (Vec<Completer>, bool);

/// Why the last batch failed to commit or sync; `None` once one succeeds.
#[derive(Clone, Default)]
pub(super) struct WriteHealth(Arc<Mutex<Option<String>>>);

impl WriteHealth {
    pub(super) fn record(&self, outcome: Result<(), String>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = outcome.err();
    }

    pub(super) fn failure(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Answers committed batches once the WAL holding them is on disk. One
/// `fdatasync` covers every batch committed before it started.
pub(super) fn sync_loop(
    mut wal: Wal,
    rx: mpsc::Receiver<Synced>,
    poisoned: &AtomicBool,
    health: &WriteHealth,
) {
    while let Ok((mut done, mut wrote)) = rx.recv() {
        while let Ok((more, more_wrote)) = rx.try_recv() {
            done.extend(more);
            wrote |= more_wrote;
        }
        let outcome = if poisoned.load(Ordering::SeqCst) {
            Err("a sync of the database failed".to_string())
        } else {
            wal.sync().map_err(|e| match e {
                SyncError::Open(e) => {
                    // Nothing was lost: the pages wait in the page cache and
                    // the next sync of the file covers them.
                    tracing::error!(error = %e, wal = %wal.path.display(), "store: cannot open the WAL to sync it; refusing this batch");
                    format!("cannot open the WAL: {e}")
                }
                SyncError::Lost(e) => {
                    // Those commits are visible but may not be on disk, and
                    // a later sync would not report the lost pages: nothing
                    // may be answered from here on.
                    tracing::error!(error = %e, wal = %wal.path.display(), "store: syncing the WAL failed; refusing every write until a restart");
                    poisoned.store(true, Ordering::SeqCst);
                    format!("syncing the WAL failed: {e}")
                }
            })
        };
        let ok = outcome.is_ok();
        // Only a batch that wrote shows that writes work again.
        if wrote || !ok {
            health.record(outcome);
        }
        for f in done {
            f(ok);
        }
    }
}

/// The WAL and its folder, opened once and kept open.
pub(super) struct Wal {
    path: PathBuf,
    /// The open WAL and its inode.
    file: Option<(File, u64)>,
    dir: Option<File>,
    /// The WAL file whose directory entry is known to be on disk.
    durable_inode: Option<u64>,
}

#[derive(Debug)]
pub(super) enum SyncError {
    /// No descriptor: nothing was synced, nothing was lost.
    Open(std::io::Error),
    /// The sync failed, or the WAL SQLite writes to is gone: answered
    /// commits may not survive a restart.
    Lost(std::io::Error),
}

impl Wal {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            dir: None,
            durable_inode: None,
        }
    }

    pub(super) fn sync(&mut self) -> Result<(), SyncError> {
        // A `stat` takes no descriptor; the file is reopened only when replaced.
        let on_disk = match std::fs::metadata(&self.path) {
            Ok(m) => m.ino(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SyncError::Lost(e)),
            Err(e) => return Err(SyncError::Open(e)),
        };
        let file = match self.file.take() {
            Some((file, inode)) if inode == on_disk => (file, inode),
            _ => {
                let file = File::open(&self.path).map_err(SyncError::Open)?;
                let inode = file.metadata().map_err(SyncError::Open)?.ino();
                (file, inode)
            }
        };
        let (file, inode) = self.file.insert(file);
        file.sync_data().map_err(SyncError::Lost)?;
        if self.durable_inode != Some(*inode) {
            // A new WAL file: its directory entry must be on disk too.
            if let Some(parent) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let dir = match self.dir.take() {
                    Some(dir) => dir,
                    None => File::open(parent).map_err(SyncError::Open)?,
                };
                self.dir.insert(dir).sync_all().map_err(SyncError::Lost)?;
            }
            self.durable_inode = Some(*inode);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wal_that_cannot_be_opened_is_retried_one_that_is_gone_is_lost() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db-wal");
        let mut wal = Wal::new(path.clone());
        // A socket cannot be opened (ENXIO), as a descriptor limit would refuse.
        let socket = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        assert!(matches!(wal.sync(), Err(SyncError::Open(_))));
        drop(socket);
        std::fs::remove_file(&path).expect("remove the socket");
        assert!(matches!(wal.sync(), Err(SyncError::Lost(_))), "gone");
        std::fs::write(&path, b"frames").expect("a WAL");
        wal.sync().expect("synced once it opens");
        let held = wal.file.as_ref().map(|(_, inode)| *inode);
        wal.sync().expect("synced again");
        assert_eq!(wal.file.as_ref().map(|(_, i)| *i), held, "kept open");
        // Replaced: the new file is opened.
        std::fs::remove_file(&path).expect("remove");
        std::fs::write(&path, b"new frames").expect("a new WAL");
        wal.sync().expect("synced");
        let now = std::fs::metadata(&path).expect("stat").ino();
        assert_eq!(wal.file.as_ref().map(|(_, i)| *i), Some(now));
    }
}
