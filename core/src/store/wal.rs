//! Keeping the write-ahead log small: checkpoints off the commit path, a bounded WAL under
//! writes without pause, and a truncated one when the app is idle or closes the store.
//!
//! SQLite's automatic checkpoint runs inside whichever commit crosses the threshold and fsyncs
//! the WAL and the database there, which put 10–17 ms into one edit in a few hundred: the writer
//! connection turns it off. A thread with its own connection runs a PASSIVE checkpoint (it never
//! waits for readers or the writer) shortly after writes. But under writes without pause a
//! passive checkpoint never catches up with the last commit, so the log never starts over: 10,000
//! reports written back to back left a 742 MB WAL beside an 8 MB database. So once the log
//! passes [`RESTART_BYTES`] (its frames, as SQLite's commit hook counts them), the writer asks
//! the thread to start the log over, and goes on. The thread copies the log into the database
//! with PASSIVE checkpoints beside the writes, each copying what was written during the one
//! before, until one copies the log whole (the next commit then writes the log from its start,
//! in the blocks the file already has: see [`LIMIT_BYTES`]). Only if the writes stay ahead for
//! [`PASSES`] checkpoints does the writer run a RESTART checkpoint after its next commit, which
//! copies what is left; it waits at most [`RESTART_WAIT`] for readers to leave the old frames,
//! and the writer tries again after a later commit if they had not; past [`HARD_BYTES`] it
//! waits as long as for any lock, for readers and for a checkpoint of the thread's under way
//! (see [`restart_within_bound`]). Past [`WRITER_RESTART_BYTES`] (a thread still at work), the
//! writer runs the RESTART after its commit without waiting for the thread. (The writer ran the
//! RESTART itself before: copying the whole log inside one commit put 17–25 ms into one edit
//! in about two hundred.) After [`IDLE`] without writes, and when the store is dropped, the
//! thread truncates the WAL to nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::hooks::Wal;

use super::key::StoreKey;
use crate::error::CoreError;

/// How long the thread waits after a write before a passive checkpoint.
const DELAY: Duration = Duration::from_millis(250);
/// After this long without writes, the WAL is truncated.
const IDLE: Duration = Duration::from_secs(2);
/// The size of the log past which the writer asks the thread to get the log to start over.
pub(crate) const RESTART_BYTES: u64 = 10 * 1024 * 1024;
/// The size of the log past which the writer restarts the log after its commit without waiting
/// for the thread.
pub(crate) const WRITER_RESTART_BYTES: u64 = 12 * 1024 * 1024;
/// No restart of the log under way.
const IDLE_LOG: u8 = 0;
/// The writer asked the thread to get the log to start over.
const ASKED: u8 = 1;
/// The thread's checkpoints did not catch up with the writes: the writer restarts the log
/// after its next commit, with little left to copy.
const LEFT_TO_WRITER: u8 = 2;
/// What SQLite cuts the WAL file back to when the log starts over (`journal_size_limit`): past
/// the log's own bound, so that under writes the log starts over in the blocks the file already
/// has. Cut back to 4 MiB, the commit that started the log over freed 8 MiB of file, and the
/// file took them back a commit at a time. Idle or closed, the thread truncates it to nothing.
pub(crate) const LIMIT_BYTES: u64 = 16 * 1024 * 1024;
/// PASSIVE checkpoints tried, each copying what the writes added during the one before,
/// before the thread leaves the restart to the writer.
const PASSES: usize = 8;
/// How long a restart or truncation waits for readers. (A checkpoint of the thread's under way
/// refuses another at once, whatever the wait: see [`restart_within_bound`].)
const RESTART_WAIT: Duration = Duration::from_millis(50);
/// The size of the log past which the writer's restart waits for readers and the thread's
/// checkpoint as long as for any lock ([`BUSY`]), not [`RESTART_WAIT`]: the bound of the WAL.
/// Commits do not fsync (`synchronous=NORMAL`), so while a checkpoint's fsync stalls on a busy
/// disk the writer kept committing: a test's WAL reached 23 MB on a loaded CI machine.
const HARD_BYTES: u64 = 14 * 1024 * 1024;
/// How long the writer connection waits for a lock otherwise.
pub(crate) const BUSY: Duration = Duration::from_secs(10);

/// Bytes of a WAL frame's header, before its page.
const WAL_FRAME_HEADER: u64 = 24;
/// SQLite's page size, for a page size the connection does not say.
const DEFAULT_PAGE: u64 = 4096;

/// Bytes of one frame of `conn`'s log: its page and the frame's header.
fn frame_bytes(conn: &Connection) -> Result<u64, CoreError> {
    use rusqlite::types::Value;
    // SQLCipher answers as text, under the name `cipher_page_size`.
    let page = match conn.pragma_query_value(None, "page_size", |r| r.get(0))? {
        Value::Integer(n) => n.unsigned_abs(),
        Value::Text(t) => t.trim().parse().unwrap_or(DEFAULT_PAGE),
        _ => DEFAULT_PAGE,
    };
    Ok(page + WAL_FRAME_HEADER)
}

/// Runs a checkpoint of `mode` on `conn`, waiting at most `wait` for locks; whether it
/// completed (every frame of the log checkpointed).
fn checkpoint(conn: &Connection, mode: &str, wait: Duration, then: Duration) -> bool {
    try_checkpoint(conn, mode, wait, then).unwrap_or(false)
}

/// [`checkpoint`], or `None` where SQLite failed (logged) rather than found the log busy.
fn try_checkpoint(conn: &Connection, mode: &str, wait: Duration, then: Duration) -> Option<bool> {
    let _ = conn.busy_timeout(wait);
    let done = conn
        .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })
        .map(|(busy, log, copied)| busy == 0 && log == copied)
        .map_err(|e| tracing::debug!("{mode} checkpoint: {e}"))
        .ok();
    let _ = conn.busy_timeout(then);
    done
}

/// The writer's RESTART past [`HARD_BYTES`], the bound of the log. SQLite's busy handler waits
/// for readers to leave the log, but while the thread's own checkpoint runs, SQLite refuses
/// another at once, without waiting (the log reached 17 MiB so, past a 14 MiB bound): the
/// writer then tries again every millisecond, for at most [`BUSY`] in all.
fn restart_within_bound(conn: &Connection) {
    let until = Instant::now() + BUSY;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if try_checkpoint(conn, "RESTART", left, BUSY) != Some(false) || left.is_zero() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Handle to the checkpoint thread; dropping it stops the thread, which truncates the WAL.
pub(crate) struct WalKeeper {
    writes: Arc<AtomicU64>,
    /// Frames in the log after the writer's last commit, as SQLite's commit hook gives them:
    /// the log's size, which the file's is not once the log has started over in it.
    log_frames: Arc<AtomicU64>,
    /// Bytes of one frame: a page and its header.
    frame_bytes: u64,
    /// Where a restart of the log stands: [`IDLE_LOG`], [`ASKED`] or [`LEFT_TO_WRITER`].
    restarting: Arc<AtomicU8>,
    /// A message asks the thread to start the log over; dropping it stops the thread.
    restart: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WalKeeper {
    /// Starts the thread, its connection unlocked with `key` (none: a plaintext store), and
    /// hooks the commits of the writer connection `writer` to count the log's frames.
    pub(crate) fn start(
        path: PathBuf,
        key: Option<Arc<StoreKey>>,
        writer: &mut Connection,
    ) -> Result<WalKeeper, CoreError> {
        let frame_bytes = frame_bytes(writer)?;
        let log_frames = Arc::new(AtomicU64::new(0));
        let counted = log_frames.clone();
        writer.wal_hook(Some(move |_: &mut Wal, frames: std::ffi::c_int| {
            counted.store(u64::try_from(frames).unwrap_or(0), Ordering::Relaxed);
            Ok(())
        }))?;
        let writes = Arc::new(AtomicU64::new(0));
        let restarting = Arc::new(AtomicU8::new(IDLE_LOG));
        let (restart, requests) = mpsc::channel::<()>();
        let (seen_writes, asked) = (writes.clone(), restarting.clone());
        let thread = std::thread::Builder::new()
            .name("fieldsync-wal".into())
            .spawn(move || {
                let quick = Duration::from_millis(50);
                let opened = Connection::open(&path).map_err(CoreError::from).and_then(|c| {
                    c.busy_timeout(quick)?;
                    // The writer checked the key; a checkpoint reads no schema.
                    super::key::set_key(&c, key.as_deref())?;
                    Ok(c)
                });
                let conn = match opened {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!("WAL thread cannot open {}: {e}", path.display());
                        return;
                    }
                };
                let mut done = 0u64;
                let mut last_write = Instant::now();
                let mut truncated = true;
                loop {
                    match requests.recv_timeout(DELAY) {
                        Ok(()) => {
                            // Copy the log beside the writes, again while they added to it: a
                            // log copied whole starts over at the next commit. Only if the
                            // writes keep ahead, the writer copies the rest (a RESTART).
                            let copied =
                                (0..PASSES).any(|_| checkpoint(&conn, "PASSIVE", quick, quick));
                            let next = if copied { IDLE_LOG } else { LEFT_TO_WRITER };
                            asked.store(next, Ordering::Release);
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                        Err(RecvTimeoutError::Timeout) => {}
                    }
                    let now = seen_writes.load(Ordering::Relaxed);
                    if now != done {
                        done = now;
                        last_write = Instant::now();
                        truncated = false;
                        checkpoint(&conn, "PASSIVE", quick, quick);
                    } else if !truncated && last_write.elapsed() >= IDLE {
                        truncated = checkpoint(&conn, "TRUNCATE", RESTART_WAIT, quick);
                    }
                }
                checkpoint(&conn, "TRUNCATE", RESTART_WAIT, quick);
            })
            .map_err(|e| tracing::warn!("no WAL thread: {e}"))
            .ok();
        Ok(WalKeeper {
            writes,
            log_frames,
            frame_bytes,
            restarting,
            restart: Some(restart),
            thread,
        })
    }

    /// A write committed on the writer connection `conn`: a checkpoint is due soon, and the log
    /// is to start over if it has grown past [`RESTART_BYTES`] (see the module's doc for who
    /// restarts it).
    pub(crate) fn wrote(&self, conn: &Connection) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let len = self.log_frames.load(Ordering::Relaxed) * self.frame_bytes;
        if self.writer_restarts(len) {
            if len > HARD_BYTES {
                restart_within_bound(conn);
            } else {
                checkpoint(conn, "RESTART", RESTART_WAIT, BUSY);
            }
        }
    }

    /// Whether the writer restarts the log now, after a commit that left `len` bytes of WAL;
    /// asks the thread to when a restart is due and the thread can take it.
    fn writer_restarts(&self, len: u64) -> bool {
        if len > WRITER_RESTART_BYTES {
            // The thread is still at work: the writer copies the rest, waiting for readers.
            return true;
        }
        match self.restarting.load(Ordering::Acquire) {
            LEFT_TO_WRITER => {
                // The thread copied most of the log; the writer copies the rest and restarts.
                self.restarting.store(IDLE_LOG, Ordering::Release);
                len > RESTART_BYTES
            }
            ASKED => false,
            _ if len <= RESTART_BYTES => false,
            _ => {
                // Marked before the request, so that the thread's answer is not overwritten.
                self.restarting.store(ASKED, Ordering::Release);
                let asked = self.thread.is_some()
                    && self.restart.as_ref().is_some_and(|r| r.send(()).is_ok());
                if !asked {
                    self.restarting.store(IDLE_LOG, Ordering::Release);
                }
                !asked
            }
        }
    }
}

impl Drop for WalKeeper {
    fn drop(&mut self) {
        drop(self.restart.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> Connection {
        let c = Connection::open(path).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        c
    }

    /// Past the bound, a checkpoint already running (the thread's) does not make the writer's
    /// restart give up at once: the writer waits for it, and its next commit starts the log over.
    #[test]
    fn past_the_bound_the_writers_restart_waits_out_a_checkpoint_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = open(&path);
        // 40 MB of log, which the thread's PASSIVE checkpoint takes a while to copy, holding
        // SQLite's checkpoint lock all the while.
        writer
            .execute_batch(
                "CREATE TABLE t (x BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
                 INSERT INTO t SELECT zeroblob(4000) FROM n;",
            )
            .unwrap();
        let thread = std::thread::spawn(move || checkpoint(&open(&path), "PASSIVE", BUSY, BUSY));
        std::thread::sleep(Duration::from_millis(5));

        restart_within_bound(&writer);
        writer.execute("INSERT INTO t VALUES (zeroblob(4000))", []).unwrap();
        thread.join().unwrap();
        // The log's frames, read once no checkpoint holds the lock.
        let (busy, frames): (i64, i64) = writer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(busy, 0);
        assert!(frames <= 4, "the log went on after the restart: {frames} frames");
    }
}
