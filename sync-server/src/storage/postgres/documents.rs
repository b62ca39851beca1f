//! Document commits: a batch of [`DocWrite`]s in one transaction, each in a savepoint of its
//! own so that a failing write leaves the others of the batch untouched, with its log entries,
//! blob references, index row and points in the same savepoint.
//!
//! # The log's order
//!
//! A reader must never read past seq N while a smaller seq is still to commit, or a device
//! that pulled up to N would never be sent the smaller one. Seqs and document positions come
//! from sequences, which give numbers in the order they are asked for, not the order their
//! transactions commit; so a transaction takes its numbers and its transaction id together,
//! under a short advisory lock released before its commit (`log_number`, schema v4), and
//! records them in `log_marks`. Ids and numbers are then given in the same order, and a
//! reader's end of the log (`log_visible`) is the mark of the latest numbering transaction
//! below its snapshot's xmin: all of those have finished, every transaction still running was
//! numbered after them, so every seq up to that mark is visible or never will be (a rolled back
//! transaction leaves a gap, which no reader waits for). Commits of several transactions, and
//! of several instances, overlap and share the WAL flush; the lock covers the numbering only.
//! The transaction takes its id there, so nothing before it may write or lock a row.
//!
//! Rows are locked in one order (the documents' positions) right after the numbering, so two
//! commits that write the same documents wait for each other instead of deadlocking.
//!
//! # Two writers of one document
//!
//! A write names the version it was built on, and the update is a compare-and-set on it
//! (`UPDATE … WHERE version = base`): a write built on a version that is no longer the stored
//! one fails with [`StorageError::Conflict`] and changes nothing, whichever instance made the
//! other write.

use tokio_postgres::IsolationLevel;

use super::columns::sql_size;
use super::db::{Tx, execute, query, query_opt};
use crate::storage::{BlobRef, Committed, DocBytes, DocWrite, StorageError, StorageResult};

/// The numbers a commit gives out, from the range `log_number` gave it.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// The last seq given.
    seq: i64,
    /// The last document position given.
    docs: i64,
}

/// Numbers the transaction on `client` (which must not have a transaction id yet: see the
/// module's documentation) for `changes` log entries and `created` documents, and locks the
/// rows of the documents `ids` that exist, in position order. Returns the head before the
/// numbers given (the first seq given is its `seq + 1`, the first position its `docs + 1`),
/// the head after them, and the locked rows (`doc_id`, `id`, `version`).
pub(super) async fn number(
    client: &impl deadpool_postgres::GenericClient,
    changes: usize,
    created: usize,
    ids: &[&[u8]],
) -> StorageResult<((i64, i64), (i64, i64), Vec<tokio_postgres::Row>)> {
    let changes = i64::try_from(changes).unwrap_or(i64::MAX);
    let created = i64::try_from(created).unwrap_or(i64::MAX);
    let numbered = client.prepare_cached("SELECT last_seq, last_doc FROM log_number($1, $2)");
    let lock = client.prepare_cached(
        "SELECT doc_id, id, version FROM docs WHERE doc_id = ANY($1) ORDER BY id FOR UPDATE",
    );
    let (numbered, lock) = futures_util::future::join(numbered, lock).await;
    let (numbered, lock) = (numbered?, lock?);
    // Pipelined: the numbering runs first, so the row locks come after the transaction's id.
    let (row, locked) = futures_util::future::join(
        client.query_one(&numbered, &[&changes, &created]),
        client.query(&lock, &[&ids]),
    )
    .await;
    let row = row?;
    let locked = locked?;
    let (last_seq, last_doc): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    Ok(((last_seq - changes, last_doc - created), (last_seq, last_doc), locked))
}

/// Commits `writes` in one transaction on `client`, each write in a savepoint of its own (see
/// the module's documentation); one result per write. `group` sends a batch this way when
/// `bulk` does not take it, or failed on it.
pub(crate) async fn commit_write_by_write(
    client: &mut deadpool_postgres::Object,
    channel: &str,
    writes: &[DocWrite],
) -> StorageResult<Vec<StorageResult<Committed>>> {
    let mut tx =
        client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start().await?;
    let now = fieldsync_core::time::now_ms();
    // Numbers for every change and creation of the batch; a failing write leaves a gap.
    let changes = writes.iter().map(|w| w.changes.len()).sum();
    let created = writes.iter().filter(|w| w.base.is_none()).count();
    let ids: Vec<&[u8]> = writes.iter().map(|w| w.doc.as_bytes().as_slice()).collect();
    let ((seq, docs), _, _) = number(&tx, changes, created, &ids).await?;
    let start = Head { seq, docs };
    let mut head = start;
    let mut results = Vec::with_capacity(writes.len());
    for w in writes {
        let before = head;
        let sp = tx.savepoint("doc_write").await?;
        match apply(&sp, w, now, &mut head).await {
            Ok(c) => {
                sp.commit().await?;
                results.push(Ok(c));
            }
            Err(e) => {
                sp.rollback().await?;
                // Its numbers stay given (a gap), so that the next write's follow them.
                head = skip(before, w);
                results.push(Err(e));
            }
        }
    }
    // Committed even when every write failed: its mark closes the range it was given, which
    // readers would otherwise wait out (`bulk::keep_mark`).
    if head.seq > start.seq {
        // Other instances hear of the new end when (and only if) this commits: see `listen`.
        execute(&tx, "SELECT pg_notify($1, $2)", &[&channel, &head.seq.to_string()]).await?;
    }
    tx.commit().await.map_err(|e| StorageError::CommitFailed(e.to_string()))?;
    Ok(results)
}

/// The head after `w`'s numbers when `w` failed: they stay given, unused.
fn skip(before: Head, w: &DocWrite) -> Head {
    let changes = i64::try_from(w.changes.len()).unwrap_or(i64::MAX);
    Head { seq: before.seq + changes, docs: before.docs + i64::from(w.base.is_none()) }
}

/// One document write, inside its savepoint.
async fn apply(tx: &Tx<'_>, w: &DocWrite, now: i64, head: &mut Head) -> StorageResult<Committed> {
    let id = w.doc.as_bytes().as_slice();
    let conflict = || StorageError::Conflict { doc: w.doc, expected: w.base };
    let participants = w.participants.join("\n");
    // One statement decides and writes: a creation of a document that exists, or an update of
    // one whose stored version is not the one the write was built on (or that does not
    // exist), changes no row and is a conflict.
    let (row, version) = match w.base {
        None => {
            let DocBytes::Snapshot(snapshot) = &w.bytes else {
                return Err(StorageError::Corrupt(format!(
                    "document {} is created without a snapshot",
                    w.doc
                )));
            };
            let row = head.docs + 1;
            let addressed = w.addressed.iter().map(|a| a.as_str()).collect::<Vec<_>>().join("\n");
            let created = execute(
                tx,
                "INSERT INTO docs (id, doc_id, kind, scope, snapshot_bytes, chunk_bytes, version, \
                 created_at, updated_at, created_by, participants, addressed, valid_until) \
                 VALUES ($1, $2, $3, $4, $5, 0, 1, $6, $6, $7, $8, $9, $10) \
                 ON CONFLICT (doc_id) DO NOTHING",
                &[
                    &row,
                    &id,
                    &w.kind.as_str(),
                    &w.scope,
                    &sql_size(snapshot.len() as u64),
                    &now,
                    &w.created_by,
                    &participants,
                    &addressed,
                    &w.until,
                ],
            )
            .await?;
            if created != 1 {
                return Err(conflict());
            }
            head.docs = row;
            insert_bytes(tx, row, snapshot).await?;
            (row, 1u64)
        }
        Some(base) => {
            let version = base + 1;
            // Compare-and-set on the version: a write built on another version changes nothing.
            let sql = match &w.bytes {
                DocBytes::Snapshot(_) => {
                    "UPDATE docs SET snapshot_bytes = $3, chunk_bytes = 0, version = $4, \
                     updated_at = $5, participants = $6 WHERE doc_id = $1 AND version = $2 \
                     RETURNING id"
                }
                DocBytes::Chunk(_) => {
                    "UPDATE docs SET chunk_bytes = chunk_bytes + $3, version = $4, \
                     updated_at = $5, participants = $6 WHERE doc_id = $1 AND version = $2 \
                     RETURNING id"
                }
            };
            let size = sql_size(w.bytes.len() as u64);
            let updated = query_opt(
                tx,
                sql,
                &[&id, &sql_size(base), &size, &sql_size(version), &now, &participants],
            )
            .await?;
            let Some(updated) = updated else {
                return Err(conflict());
            };
            let row: i64 = updated.try_get(0)?;
            match &w.bytes {
                DocBytes::Snapshot(snapshot) => {
                    execute(tx, "DELETE FROM doc_bytes WHERE doc = $1", &[&row]).await?;
                    insert_bytes(tx, row, snapshot).await?;
                }
                DocBytes::Chunk(chunk) => insert_bytes(tx, row, chunk).await?,
            }
            (row, version)
        }
    };
    let last_seq = log(tx, w, row, now, head).await?;
    if let Some(refs) = &w.blobs {
        write_blob_refs(tx, row, refs).await?;
    }
    if let Some(index) = &w.index {
        if index.doc() != w.doc {
            return Err(StorageError::Corrupt(format!(
                "the write of document {} carries the index row of {}",
                w.doc,
                index.doc()
            )));
        }
        let seq =
            if last_seq > 0 { last_seq } else { super::index::rows::last_seq(tx, row).await? };
        super::index::upsert::upsert(tx, row, seq, index).await?;
    }
    if let Some(target) = &w.points {
        if target.source != w.doc {
            return Err(StorageError::Corrupt(format!(
                "the write of document {} settles the points of {}",
                w.doc, target.source
            )));
        }
        super::points::settle(tx, target, now).await?;
    }
    Ok(Committed { version, last_seq: u64::try_from(last_seq).unwrap_or(0) })
}

/// Appends the write's changes to the log with the next seqs; the last seq given (0: none).
async fn log(tx: &Tx<'_>, w: &DocWrite, row: i64, now: i64, head: &mut Head) -> StorageResult<i64> {
    if w.changes.is_empty() {
        return Ok(0);
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO log (seq, doc, hash, actor, device, received_at, bytes, sig) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    for c in &w.changes {
        let seq = head.seq + 1;
        let device = c.device.as_ref().or(w.device.as_ref());
        tx.execute(
            &stmt,
            &[&seq, &row, &c.hash.as_slice(), &c.actor, &device, &now, &c.bytes, &c.sig],
        )
        .await?;
        head.seq = seq;
    }
    Ok(head.seq)
}

/// Makes the recorded references of document `row` those of `refs`: references no longer
/// listed go, new ones come with the device that added them, and who added a reference that
/// stays is kept.
async fn write_blob_refs(tx: &Tx<'_>, row: i64, refs: &[BlobRef]) -> StorageResult<()> {
    let recorded =
        query(tx, "SELECT DISTINCT hash, size FROM blob_refs WHERE doc = $1", &[&row]).await?;
    for r in recorded {
        let (hash, size): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
        if !refs.iter().any(|r| r.hash == hash && sql_size(r.size) == size) {
            execute(
                tx,
                "DELETE FROM blob_refs WHERE doc = $1 AND hash = $2 AND size = $3",
                &[&row, &hash, &size],
            )
            .await?;
        }
    }
    for r in refs {
        let size = sql_size(r.size);
        match &r.added_by {
            Some(device) => {
                execute(
                    tx,
                    "INSERT INTO blob_refs (hash, size, media_type, doc, device) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    &[&r.hash, &size, &r.media_type, &row, device],
                )
                .await?;
            }
            None => {
                execute(
                    tx,
                    "INSERT INTO blob_refs (hash, size, media_type, doc, device) \
                     SELECT $1, $2, $3, $4, '' WHERE NOT EXISTS \
                     (SELECT 1 FROM blob_refs WHERE hash = $1 AND doc = $4 AND size = $2)",
                    &[&r.hash, &size, &r.media_type, &row],
                )
                .await?;
            }
        }
    }
    Ok(())
}

async fn insert_bytes(tx: &Tx<'_>, row: i64, bytes: &[u8]) -> StorageResult<()> {
    if !bytes.is_empty() {
        execute(tx, "INSERT INTO doc_bytes (doc, bytes) VALUES ($1, $2)", &[&row, &bytes]).await?;
    }
    Ok(())
}
