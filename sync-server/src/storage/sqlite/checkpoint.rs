//! Checkpoints of the write-ahead log on a thread of their own. SQLite's automatic checkpoint
//! runs on the connection that commits, here the writer thread, which every push waits on: a
//! checkpoint copies the log's pages into the database file and syncs it, and under a bulk
//! upload it took a sixth of the writer's time. The writer's WAL hook now only wakes this
//! thread, which checkpoints on a connection of its own (PASSIVE: it never blocks the writer or
//! a reader) while the writer goes on committing.
//!
//! The log is checkpointed from the same size as SQLite's automatic checkpoint
//! ([`WAKE_PAGES`]). Should this thread fall behind, or a long read keep a checkpoint from
//! finishing, the writer checkpoints itself past [`WRITER_PAGES`], as it did before, so the log
//! cannot grow without bound.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

use crate::storage::{StorageError, StorageResult};

/// Pages in the log from which this thread is woken: SQLite's own automatic checkpoint size.
const WAKE_PAGES: i32 = 1000;
/// Pages in the log from which the writer checkpoints itself (PASSIVE) after a commit.
const WRITER_PAGES: i32 = 4 * WAKE_PAGES;

/// The checkpointing thread. It stops once the writer connection's hook that wakes it is gone
/// ([`Checkpointer::stop`]).
pub(crate) struct Checkpointer {
    thread: JoinHandle<()>,
    /// Log pages this thread has copied into the database file.
    copied: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the thread for the database at `path` and hooks `writer`'s commits to it.
    pub(crate) fn start(path: &Path, writer: &mut Connection) -> StorageResult<Checkpointer> {
        Self::start_at(path, writer, WAKE_PAGES, WRITER_PAGES)
    }

    /// [`Checkpointer::start`] with the thread woken from `wake` pages in the log and the
    /// writer checkpointing itself from `writer_pages`.
    fn start_at(
        path: &Path,
        writer: &mut Connection,
        wake_pages: i32,
        writer_pages: i32,
    ) -> StorageResult<Checkpointer> {
        let conn = Connection::open(path)?;
        // A connection learns that the file is in WAL mode when it first reads it; until then
        // a checkpoint does nothing.
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Corrupt(format!("the database is in {mode} mode, not WAL")));
        }
        let copied = Arc::new(AtomicU64::new(0));
        let (wake, woken) = sync_channel::<()>(1);
        writer.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
            if pages >= writer_pages {
                // Busy (a checkpoint of this thread's running) is not a failure of the commit.
                if let Err(e) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                    tracing::debug!(pages, "the writer's checkpoint did not run: {e}");
                }
            } else if pages >= wake_pages {
                // Full: a wake-up is pending already, and one checkpoint takes in every page.
                if let Err(TrySendError::Disconnected(())) = wake.try_send(()) {
                    tracing::warn!("the checkpoint thread is gone");
                }
            }
            Ok(())
        }))?;
        let count = copied.clone();
        let thread = std::thread::Builder::new()
            .name("fieldsync-sqlite-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    match conn.wal_checkpoint_v2(Some(rusqlite::MAIN_DB), CheckpointMode::PASSIVE) {
                        Ok((_, done)) => {
                            count.fetch_add(u64::try_from(done).unwrap_or(0), Ordering::Relaxed);
                        }
                        Err(e) => tracing::warn!("WAL checkpoint failed: {e}"),
                    }
                }
            })
            .map_err(|source| StorageError::Io { path: path.display().to_string(), source })?;
        Ok(Checkpointer { thread, copied })
    }

    /// Log pages this thread has copied into the database file so far (counted again when a
    /// checkpoint finds them copied already).
    #[cfg(test)]
    fn copied(&self) -> u64 {
        self.copied.load(Ordering::Relaxed)
    }

    /// Stops the thread and waits for it: unhooks `writer` (which drops the thread's wake-up,
    /// so it ends after its checkpoint under way) and joins it. Call it just before closing the
    /// writer: its connection is then the last open, and SQLite copies the whole log into the
    /// database file when it closes and removes the log. Were both connections closed at once,
    /// each could see the other still open, and neither would.
    pub(crate) fn stop(self, writer: &mut Connection) {
        if let Err(e) = writer.wal_hook(None::<fn(&mut Wal, i32) -> rusqlite::Result<()>>) {
            // The thread's wake-up is still hooked: waiting would never end. It stops when the
            // writer closes.
            tracing::error!("the writer's WAL hook could not be removed: {e}");
            return;
        }
        if self.thread.join().is_err() {
            tracing::error!("the checkpoint thread panicked");
        }
        tracing::debug!(pages = self.copied.load(Ordering::Relaxed), "checkpoint thread stopped");
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// A database in WAL mode with one table, and its writer connection.
    fn database() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
        (dir, path, conn)
    }

    /// Commits `n` transactions of one 16 KiB row each (five pages in the log).
    fn commit(conn: &Connection, n: usize) {
        for _ in 0..n {
            conn.execute("INSERT INTO t (b) VALUES (zeroblob(16384))", []).unwrap();
        }
    }

    fn wal_bytes(path: &Path) -> u64 {
        std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len())
    }

    #[test]
    fn the_thread_checkpoints_the_log_and_the_writer_keeps_writing_into_it() {
        let (_dir, path, mut conn) = database();
        let ckpt = Checkpointer::start_at(&path, &mut conn, 20, 200).unwrap();
        commit(&conn, 2);
        let mut written = 2;
        assert_eq!(ckpt.copied(), 0, "no checkpoint below the wake-up size");
        let deadline = Instant::now() + Duration::from_secs(10);
        while ckpt.copied() == 0 {
            assert!(Instant::now() < deadline, "the thread never checkpointed");
            commit(&conn, 1);
            written += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        // A thousand pages more (4 MiB): the writer starts the log again from the top once it
        // is copied, which the writer's own checkpoint finishes under sustained writes.
        for _ in 0..200 {
            commit(&conn, 1);
            written += 1;
            std::thread::sleep(Duration::from_micros(200));
        }
        let before = ckpt.copied();
        assert!(before >= 20, "{before} pages copied");
        assert!(wal_bytes(&path) < 2 * 1024 * 1024, "the log grew to {} bytes", wal_bytes(&path));
        let count: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(count, written, "every commit kept");
        ckpt.stop(&mut conn);
    }

    #[test]
    fn the_writer_checkpoints_itself_when_the_thread_falls_behind() {
        let (_dir, path, mut conn) = database();
        // The thread is never woken: only the writer's own checkpoint can bound the log.
        let ckpt = Checkpointer::start_at(&path, &mut conn, i32::MAX, 40).unwrap();
        commit(&conn, 400);
        assert_eq!(ckpt.copied(), 0);
        assert!(wal_bytes(&path) < 1024 * 1024, "the log grew to {} bytes", wal_bytes(&path));
        ckpt.stop(&mut conn);
    }

    #[test]
    fn a_database_not_in_wal_mode_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
        match Checkpointer::start(&path, &mut conn) {
            Err(StorageError::Corrupt(m)) => assert!(m.contains("not WAL"), "{m}"),
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("a database in rollback-journal mode was taken"),
        }
    }

    /// Stopped, the thread ends, and the writer then closes last: the log is copied into the
    /// database file and removed.
    #[test]
    fn the_thread_stops_and_the_writer_closing_last_removes_the_log() {
        let (_dir, path, mut conn) = database();
        let ckpt = Checkpointer::start_at(&path, &mut conn, 1, i32::MAX).unwrap();
        commit(&conn, 30);
        let (done, stopped) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            ckpt.stop(&mut conn);
            drop(conn);
            let _ = done.send(());
        });
        stopped.recv_timeout(Duration::from_secs(10)).expect("the checkpoint thread stopped");
        assert!(!path.with_extension("db-wal").exists(), "the log is removed");
        let count: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 30);
    }
}
