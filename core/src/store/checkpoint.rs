//! WAL checkpoints off the commit path.
//!
//! SQLite's automatic checkpoint runs inside whichever commit crosses the threshold and fsyncs the
//! WAL and the database there, which put 10–17 ms into one edit in a few hundred. The writer
//! connection turns it off; this thread, with its own connection, runs a PASSIVE checkpoint (it
//! never waits for readers or the writer) shortly after writes, and stops when the store is dropped.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How long the thread waits after a write before checkpointing.
const DELAY: Duration = Duration::from_millis(250);

/// Handle to the checkpoint thread; dropping it stops the thread.
pub(crate) struct Checkpointer {
    writes: Arc<AtomicU64>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(path: PathBuf) -> Checkpointer {
        let writes = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = mpsc::channel::<()>();
        let seen_writes = writes.clone();
        let thread = std::thread::Builder::new()
            .name("fieldsync-checkpoint".into())
            .spawn(move || {
                let conn = match Connection::open(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!("checkpoint thread cannot open {}: {e}", path.display());
                        return;
                    }
                };
                let _ = conn.busy_timeout(Duration::from_millis(50));
                let mut done = 0u64;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(DELAY) {
                    let now = seen_writes.load(Ordering::Relaxed);
                    if now != done {
                        done = now;
                        if let Err(e) =
                            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                        {
                            tracing::debug!("passive checkpoint: {e}");
                        }
                    }
                }
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            })
            .map_err(|e| tracing::warn!("no checkpoint thread: {e}"))
            .ok();
        Checkpointer { writes, stop: Some(stop), thread }
    }

    /// A write committed: a checkpoint is due soon.
    pub(crate) fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
