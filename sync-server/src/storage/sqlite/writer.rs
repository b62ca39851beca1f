//! The one writer connection of the database, on its own thread: every write of the server
//! goes through it. Document writes use group commit: writes that arrive while a transaction is
//! being committed wait and go into the next one together, so many small pushes share one
//! commit; each document write runs in its own SAVEPOINT, so a failing write leaves the others
//! of the batch untouched; a write's index row is upserted inside the same savepoint, so it
//! commits with the write or not at all, and so are the points a report's write settles. Every other write (accounts, photos' metadata, refusals) is a
//! [`Job`] run in a transaction of its own, in the order it arrived.

use std::sync::mpsc::{Receiver, TryRecvError};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::columns::sql_size;
use crate::storage::{BlobRef, Committed, DocBytes, DocWrite, StorageError, StorageResult};

/// Most jobs (requests) committed in one transaction.
const MAX_JOBS: usize = 256;
/// Most bytes of document data committed in one transaction (beyond the first job).
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// The answer to one job: per write, what it became.
pub(crate) type Reply = StorageResult<Vec<StorageResult<Committed>>>;

/// A write other than a document commit: it runs on the writer connection and answers through
/// what it captured (see [`in_transaction`]).
pub(crate) type Job = Box<dyn FnOnce(&Connection) + Send>;

/// Runs `f` in an IMMEDIATE transaction on the writer connection: committed when it returns
/// `Ok`, rolled back otherwise.
pub(crate) fn in_transaction<R>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StorageResult<R>,
) -> StorageResult<R> {
    run_cached(conn, "BEGIN IMMEDIATE")?;
    let result = f(conn).and_then(|r| run_cached(conn, "COMMIT").map(|()| r));
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

/// What the writer thread is asked to do.
pub(crate) enum Msg {
    /// Commit these writes.
    Commit {
        /// The writes, each all-or-nothing.
        writes: Vec<DocWrite>,
        /// Where the answer goes.
        reply: oneshot::Sender<Reply>,
    },
    /// Run this write in a transaction of its own (it sends its own answer).
    Run(Job),
    /// Finish the queued jobs and stop.
    Close(oneshot::Sender<()>),
}

/// Runs the writer until it is told to close or every sender is gone; then stops its checkpoint
/// thread and closes the connection.
pub(crate) fn run(mut conn: Connection, rx: Receiver<Msg>, checkpoints: Checkpointer) {
    let mut closing: Option<oneshot::Sender<()>> = None;
    while closing.is_none() {
        let Ok(first) = rx.recv() else { break };
        let mut jobs = Vec::new();
        let mut bytes = 0usize;
        match first {
            Msg::Commit { writes, reply } => {
                bytes += DocWrite::data_len(&writes);
                jobs.push((writes, reply));
            }
            Msg::Run(job) => job(&conn),
            Msg::Close(done) => closing = Some(done),
        }
        while jobs.len() < MAX_JOBS && bytes < MAX_BYTES {
            match rx.try_recv() {
                Ok(Msg::Commit { writes, reply }) => {
                    bytes += DocWrite::data_len(&writes);
                    jobs.push((writes, reply));
                }
                Ok(Msg::Run(job)) => job(&conn),
                Ok(Msg::Close(done)) => {
                    closing = Some(done);
                    break;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if !jobs.is_empty() {
            commit_batch(&conn, jobs);
        }
    }
    // Closing: whatever is still queued is committed before the connection goes.
    let rest: Vec<_> = rx
        .try_iter()
        .filter_map(|m| match m {
            Msg::Commit { writes, reply } => Some((writes, reply)),
            Msg::Run(job) => {
                job(&conn);
                None
            }
            Msg::Close(done) => {
                let _ = done.send(());
                None
            }
        })
        .collect();
    if !rest.is_empty() {
        commit_batch(&conn, rest);
    }
    if let Err(e) = conn.execute_batch("PRAGMA optimize") {
        tracing::debug!("PRAGMA optimize failed: {e}");
    }
    // The checkpoint thread's connection closes first, so that this one, closing last, copies
    // the whole log into the database file and removes it.
    checkpoints.stop(&mut conn);
    drop(conn);
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

fn commit_batch(conn: &Connection, jobs: Vec<(Vec<DocWrite>, oneshot::Sender<Reply>)>) {
    let now = fieldsync_core::time::now_ms();
    let outcome = (|| -> StorageResult<Vec<Vec<StorageResult<Committed>>>> {
        run_cached(conn, "BEGIN IMMEDIATE")?;
        let mut all = Vec::with_capacity(jobs.len());
        for (writes, _) in &jobs {
            all.push(writes.iter().map(|w| write_one(conn, w, now)).collect());
        }
        run_cached(conn, "COMMIT")?;
        Ok(all)
    })();
    match outcome {
        Ok(all) => {
            let writes: usize = all.iter().map(Vec::len).sum();
            tracing::trace!(jobs = jobs.len(), writes, "group commit");
            for ((_, reply), results) in jobs.into_iter().zip(all) {
                let _ = reply.send(Ok(results));
            }
        }
        Err(e) => {
            tracing::error!(jobs = jobs.len(), "commit failed: {e}");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let message = e.to_string();
            for (_, reply) in jobs {
                let _ = reply.send(Err(StorageError::CommitFailed(message.clone())));
            }
        }
    }
}

/// Runs a statement without parameters from the statement cache.
fn run_cached(conn: &Connection, sql: &str) -> StorageResult<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// One document write inside its own savepoint.
fn write_one(conn: &Connection, w: &DocWrite, now: i64) -> StorageResult<Committed> {
    run_cached(conn, "SAVEPOINT doc_write")?;
    match apply(conn, w, now) {
        Ok(c) => {
            run_cached(conn, "RELEASE doc_write")?;
            Ok(c)
        }
        Err(e) => {
            run_cached(conn, "ROLLBACK TO doc_write")?;
            run_cached(conn, "RELEASE doc_write")?;
            Err(e)
        }
    }
}

fn apply(conn: &Connection, w: &DocWrite, now: i64) -> StorageResult<Committed> {
    let id = w.doc.as_bytes().as_slice();
    let found: Option<(i64, i64)> = conn
        .prepare_cached("SELECT id, version FROM docs WHERE doc_id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let conflict = || StorageError::Conflict { doc: w.doc, expected: w.base };
    let (row, version) = match (w.base, found) {
        (None, None) => {
            let DocBytes::Snapshot(snapshot) = &w.bytes else {
                return Err(StorageError::Corrupt(format!(
                    "document {} is created without a snapshot",
                    w.doc
                )));
            };
            conn.prepare_cached(
                "INSERT INTO docs (doc_id, kind, scope, snapshot_bytes, chunk_bytes, version, \
                 created_at, updated_at, created_by, participants, addressed, valid_until) \
                 VALUES (?1, ?2, ?3, ?4, 0, 1, ?5, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                id,
                w.kind.as_str(),
                w.scope,
                snapshot.len() as i64,
                now,
                w.created_by,
                w.participants.join("\n"),
                w.addressed.iter().map(|a| a.as_str()).collect::<Vec<_>>().join("\n"),
                w.until
            ])?;
            let row = conn.last_insert_rowid();
            insert_bytes(conn, row, snapshot)?;
            (row, 1u64)
        }
        (Some(base), Some((row, stored))) if u64::try_from(stored).ok() == Some(base) => {
            let version = base + 1;
            match &w.bytes {
                DocBytes::Snapshot(snapshot) => {
                    conn.prepare_cached("DELETE FROM doc_bytes WHERE doc = ?1")?.execute([row])?;
                    insert_bytes(conn, row, snapshot)?;
                    conn.prepare_cached(
                        "UPDATE docs SET snapshot_bytes = ?2, chunk_bytes = 0, version = ?3, \
                         updated_at = ?4, participants = ?5 WHERE id = ?1",
                    )?
                    .execute(params![
                        row,
                        snapshot.len() as i64,
                        version as i64,
                        now,
                        w.participants.join("\n")
                    ])?;
                }
                DocBytes::Chunk(chunk) => {
                    insert_bytes(conn, row, chunk)?;
                    conn.prepare_cached(
                        "UPDATE docs SET chunk_bytes = chunk_bytes + ?2, version = ?3, \
                         updated_at = ?4, participants = ?5 WHERE id = ?1",
                    )?
                    .execute(params![
                        row,
                        chunk.len() as i64,
                        version as i64,
                        now,
                        w.participants.join("\n")
                    ])?;
                }
            }
            (row, version)
        }
        _ => return Err(conflict()),
    };
    let mut last_seq = 0u64;
    let mut insert = conn.prepare_cached(
        "INSERT INTO log (doc, hash, actor, device, received_at, bytes, sig) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for c in &w.changes {
        insert.execute(params![
            row,
            c.hash.as_slice(),
            c.actor.as_slice(),
            c.device.as_deref().or(w.device.as_deref()),
            now,
            c.bytes.as_slice(),
            c.sig.as_deref()
        ])?;
        last_seq = u64::try_from(conn.last_insert_rowid()).unwrap_or(0);
    }
    if let Some(refs) = &w.blobs {
        write_blob_refs(conn, row, refs)?;
    }
    if let Some(index) = &w.index {
        if index.doc() != w.doc {
            return Err(StorageError::Corrupt(format!(
                "the write of document {} carries the index row of {}",
                w.doc,
                index.doc()
            )));
        }
        let seq = if last_seq > 0 { last_seq } else { super::index::rows::last_seq(conn, row)? };
        super::index::upsert::upsert(conn, row, seq, index)?;
    }
    if let Some(target) = &w.points {
        if target.source != w.doc {
            return Err(StorageError::Corrupt(format!(
                "the write of document {} settles the points of {}",
                w.doc, target.source
            )));
        }
        super::points::settle(conn, target, now)?;
    }
    Ok(Committed { version, last_seq })
}

/// Makes the recorded references of document `row` those of `refs`: references no longer
/// listed go, new ones come with the device that added them, and who added a reference that
/// stays is kept.
fn write_blob_refs(conn: &Connection, row: i64, refs: &[BlobRef]) -> StorageResult<()> {
    let recorded: Vec<(String, i64)> = conn
        .prepare_cached("SELECT DISTINCT hash, size FROM blob_refs WHERE doc = ?1")?
        .query_map([row], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (hash, size) in recorded {
        if !refs.iter().any(|r| r.hash == hash && sql_size(r.size) == size) {
            conn.prepare_cached(
                "DELETE FROM blob_refs WHERE doc = ?1 AND hash = ?2 AND size = ?3",
            )?
            .execute(params![row, hash, size])?;
        }
    }
    for r in refs {
        let size = sql_size(r.size);
        match &r.added_by {
            Some(device) => {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO blob_refs (hash, size, media_type, doc, device) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![r.hash, size, r.media_type, row, device])?;
            }
            None => {
                conn.prepare_cached(
                    "INSERT INTO blob_refs (hash, size, media_type, doc, device) \
                     SELECT ?1, ?2, ?3, ?4, '' WHERE NOT EXISTS \
                     (SELECT 1 FROM blob_refs WHERE hash = ?1 AND doc = ?4 AND size = ?2)",
                )?
                .execute(params![r.hash, size, r.media_type, row])?;
            }
        }
    }
    Ok(())
}

fn insert_bytes(conn: &Connection, row: i64, bytes: &[u8]) -> StorageResult<()> {
    if !bytes.is_empty() {
        conn.prepare_cached("INSERT INTO doc_bytes (doc, bytes) VALUES (?1, ?2)")?
            .execute(params![row, bytes])?;
    }
    Ok(())
}
