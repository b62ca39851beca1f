//! The document commit of a whole batch in four round trips, whatever its size: the
//! statements of one round are pipelined on the connection (sent together, answered in
//! order), and each statement writes the rows of every write of the batch at once (arrays
//! unnested into rows) instead of one statement per write and per change.
//!
//! 1. `BEGIN` and the stored versions of the batch's documents, read without a lock: a write
//!    built on another version is a conflict for good (versions only grow), and the others
//!    say how many seqs and positions the batch needs.
//! 2. The numbering (`documents::number`: the transaction's id, seqs and positions under the
//!    short lock of `log_number`, released before the commit) and the documents' rows locked
//!    in position order, with their versions: under those locks no other commit can change a
//!    version, so each write's compare-and-set is decided here, and a write built on another
//!    version is answered [`StorageError::Conflict`] without being sent.
//! 3. The documents created and updated, their bytes, their log entries, their index rows and
//!    the notification; each statement's row count is checked against what the batch holds;
//!    then the points the committed writes settle (`points::settle`, a few statements for each
//!    such write, one account after another in the accounts' order, so that two batches lock
//!    accounts in one order); then `COMMIT`, sent only once every statement succeeded with the
//!    counts expected.
//!
//! Any failure in round 3 (a change hash already logged for its document, say) rolls the whole
//! transaction back, and the caller commits the batch write by write in savepoints instead
//! (`documents`), so that the failing write fails alone, as before. Writes this path does not
//! cover (a creation without a snapshot, a write without changes, one document twice, points
//! of another document than the write's) send the batch that way from the start. Points were
//! once among them: a phone's backlog of residents' reports, a sixth of which earn points, then
//! went write by write, at about five round trips a document.
//!
//! A write's blob references (`DocWrite::blobs`) are three statements for the whole batch:
//! the references no longer listed go, those a device added go in with it, and those known
//! without their adder go in unless recorded already (as `documents::write_blob_refs` does
//! one write at a time).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use deadpool_postgres::Object;
use fieldsync_core::DocId;
use futures_util::future::{join, join_all};
use tokio_postgres::types::ToSql;

use super::columns::{doc_id_at, sql_size};
use super::documents;
use super::index::upsert;
use super::points;
use crate::storage::{Committed, DocBytes, DocWrite, PointsTarget, StorageError, StorageResult};

/// What a bulk commit came to.
pub(super) enum Outcome {
    /// Committed; one result per write, in order.
    Done(Vec<StorageResult<Committed>>),
    /// Nothing is stored (the transaction was rolled back): commit the batch write by write.
    WriteByWrite(StorageError),
}

/// Whether every write of the batch is one this path commits.
pub(super) fn fits(writes: &[DocWrite]) -> bool {
    let mut seen = HashSet::with_capacity(writes.len());
    writes.iter().all(|w| {
        !w.changes.is_empty()
            && w.points.as_ref().is_none_or(|p| p.source == w.doc)
            && (w.base.is_some() || matches!(w.bytes, DocBytes::Snapshot(_)))
            && w.index.as_ref().is_none_or(|i| i.doc() == w.doc)
            && seen.insert(w.doc)
    })
}

/// A statement of round 2 and the rows it must change.
type Sent<'a> =
    Pin<Box<dyn Future<Output = (Result<u64, tokio_postgres::Error>, u64)> + Send + 'a>>;

/// The rows of the batch, column by column, as round 2 sends them.
#[derive(Default)]
struct Columns<'a> {
    /// Creations: row, id, kind, scope, snapshot size, creator, participants, addressed, until.
    new_rows: Vec<i64>,
    new_ids: Vec<&'a [u8]>,
    new_kinds: Vec<&'static str>,
    new_scopes: Vec<&'a str>,
    new_sizes: Vec<i64>,
    new_creators: Vec<&'a str>,
    new_participants: Vec<String>,
    new_addressed: Vec<String>,
    new_until: Vec<Option<i64>>,
    /// Updates: row, size of the new bytes, whether they replace the rest, new version,
    /// participants.
    upd_rows: Vec<i64>,
    upd_sizes: Vec<i64>,
    upd_whole: Vec<bool>,
    upd_versions: Vec<i64>,
    upd_participants: Vec<String>,
    /// Rows whose bytes a snapshot replaces.
    replaced: Vec<i64>,
    /// Bytes appended: row, bytes.
    byte_rows: Vec<i64>,
    byte_values: Vec<&'a [u8]>,
    /// Log entries: seq, row, hash, actor, device, bytes, the author's signature.
    log_seqs: Vec<i64>,
    log_rows: Vec<i64>,
    log_hashes: Vec<&'a [u8]>,
    log_actors: Vec<&'a [u8]>,
    log_devices: Vec<Option<&'a str>>,
    log_bytes: Vec<&'a [u8]>,
    log_sigs: Vec<Option<&'a [u8]>>,
    /// Index rows: the document's row, its last seq, the row.
    index: Vec<(i64, i64, &'a crate::storage::index::IndexRow)>,
    /// Rows whose blob references the batch sets.
    ref_docs: Vec<i64>,
    /// Their references: row, hash, size, media type, the device that added it (if known).
    ref_rows: Vec<i64>,
    ref_hashes: Vec<&'a str>,
    ref_sizes: Vec<i64>,
    ref_media: Vec<&'a str>,
    ref_devices: Vec<Option<&'a str>>,
}

const VERSIONS: &str = "SELECT doc_id, id, version FROM docs WHERE doc_id = ANY($1)";
const CREATE: &str = "INSERT INTO docs (id, doc_id, kind, scope, snapshot_bytes, chunk_bytes, \
     version, created_at, updated_at, created_by, participants, addressed, valid_until) \
     SELECT t.id, t.doc_id, t.kind, t.scope, t.size, 0, 1, $10, $10, t.created_by, \
     t.participants, t.addressed, t.valid_until FROM unnest($1::bigint[], $2::bytea[], \
     $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[]) \
     AS t(id, doc_id, kind, scope, size, created_by, participants, addressed, valid_until)";
const UPDATE: &str = "UPDATE docs AS d SET \
     snapshot_bytes = CASE WHEN t.whole THEN t.size ELSE d.snapshot_bytes END, \
     chunk_bytes = CASE WHEN t.whole THEN 0 ELSE d.chunk_bytes + t.size END, \
     version = t.version, updated_at = $6, participants = t.participants \
     FROM unnest($1::bigint[], $2::bigint[], $3::boolean[], $4::bigint[], $5::text[]) \
     AS t(id, size, whole, version, participants) \
     WHERE d.id = t.id AND d.version = t.version - 1";
const REPLACE: &str = "DELETE FROM doc_bytes WHERE doc = ANY($1)";
const BYTES: &str = "INSERT INTO doc_bytes (doc, bytes) SELECT t.doc, t.bytes \
     FROM unnest($1::bigint[], $2::bytea[]) WITH ORDINALITY AS t(doc, bytes, n) ORDER BY t.n";
const LOG: &str = "INSERT INTO log (seq, doc, hash, actor, device, received_at, bytes, sig) \
     SELECT t.seq, t.doc, t.hash, t.actor, t.device, $7, t.bytes, t.sig FROM unnest($1::bigint[], \
     $2::bigint[], $3::bytea[], $4::bytea[], $5::text[], $6::bytea[], $8::bytea[]) \
     AS t(seq, doc, hash, actor, device, bytes, sig)";
const UNREF: &str = "DELETE FROM blob_refs b WHERE b.doc = ANY($1) AND NOT EXISTS \
     (SELECT 1 FROM unnest($2::bigint[], $3::text[], $4::bigint[]) AS t(doc, hash, size) \
     WHERE t.doc = b.doc AND t.hash = b.hash AND t.size = b.size)";
/// A reference without its adder is looked up by the key's prefix, one probe per reference: a
/// lateral subquery with a LIMIT is never flattened nor hashed (a `NOT EXISTS` was run as a
/// hashed subplan over the whole table, once per commit).
const REF: &str = "INSERT INTO blob_refs (hash, size, media_type, doc, device) \
     SELECT t.hash, t.size, t.media, t.doc, coalesce(t.device, '') FROM unnest($1::bigint[], \
     $2::text[], $3::bigint[], $4::text[], $5::text[]) AS t(doc, hash, size, media, device) \
     LEFT JOIN LATERAL (SELECT true AS held FROM blob_refs b WHERE b.hash = t.hash \
     AND b.doc = t.doc AND b.size = t.size LIMIT 1) h ON t.device IS NULL \
     WHERE t.device IS NOT NULL OR h.held IS NULL ON CONFLICT DO NOTHING";
const NOTIFY: &str = "SELECT pg_notify($1, $2)";

/// Commits `writes` (which [`fits`]) in one transaction on `client`; see the module's
/// documentation. The transaction is over when this returns. An `Err` means the outcome is not
/// known to be a rollback (the connection failed, or the commit itself did).
pub(super) async fn commit(
    client: &Object,
    channel: &str,
    writes: &[DocWrite],
) -> StorageResult<Outcome> {
    let prepared = join_all(
        [VERSIONS, CREATE, UPDATE, REPLACE, BYTES, LOG, UNREF, REF, NOTIFY]
            .map(|sql| client.prepare_cached(sql)),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let [versions, create, update, replace, bytes, log, unref, add_ref, notify] =
        <[_; 9]>::try_from(prepared).map_err(|_| StorageError::Corrupt("statements".into()))?;

    // Round 1: the stored versions, read without a lock, say what the batch needs numbered.
    let keys: Vec<&[u8]> = writes.iter().map(|w| w.doc.as_bytes().as_slice()).collect();
    let (begun, found) = join(
        client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED"),
        client.query(&versions, &[&keys]),
    )
    .await;
    begun?;
    let found = match found {
        Ok(f) => f,
        Err(e) => {
            rollback(client).await;
            return Err(e.into());
        }
    };
    let (needed, _, results) = match decide(writes, (0, 0), &found) {
        Ok(d) => d,
        Err(e) => {
            rollback(client).await;
            return Err(e);
        }
    };
    if needed == (0, 0) {
        // Every write was a conflict: nothing to number or write.
        rollback(client).await;
        return Ok(Outcome::Done(results));
    }

    // Round 2: numbers, then the rows locked and their versions read again under the locks.
    let numbered = documents::number(
        client,
        usize::try_from(needed.0).unwrap_or(0),
        usize::try_from(needed.1).unwrap_or(0),
        &keys,
    )
    .await;
    let (start, given, locked) = match numbered {
        Ok(n) => n,
        Err(e) => {
            rollback(client).await;
            return Err(e);
        }
    };
    let (end, cols, results) = match decide(writes, start, &locked) {
        Ok(d) => d,
        Err(e) => {
            rollback(client).await;
            return Err(e);
        }
    };
    if end.0 == start.0 {
        // Every write is a conflict now: only the mark is committed (see `keep_mark`).
        keep_mark(client).await?;
        return Ok(Outcome::Done(results));
    }
    if end.0 > given.0 || end.1 > given.1 {
        // A document went away between the two reads: more to number than was given.
        keep_mark(client).await?;
        return Ok(Outcome::WriteByWrite(StorageError::CommitFailed(
            "a document went away while the batch was numbered".into(),
        )));
    }

    // Round 3.
    let now = fieldsync_core::time::now_ms();
    let index: Vec<(String, Vec<upsert::Param>)> = match cols
        .index
        .iter()
        .map(|(pos, seq, row)| upsert::statement(*pos, *seq, row))
        .collect::<StorageResult<Vec<_>>>()
    {
        Ok(i) => i,
        Err(e) => {
            rollback(client).await;
            return Err(e);
        }
    };
    let index_prepared = join_all(index.iter().map(|(sql, _)| client.prepare_cached(sql))).await;
    let index_stmts = match index_prepared.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(s) => s,
        Err(e) => {
            rollback(client).await;
            return Ok(Outcome::WriteByWrite(e.into()));
        }
    };
    let index_params: Vec<Vec<&(dyn ToSql + Sync)>> = index
        .iter()
        .map(|(_, values)| values.iter().map(|v| v as &(dyn ToSql + Sync)).collect())
        .collect();
    let seq_text = end.0.to_string();
    let mut sent: Vec<Sent<'_>> = Vec::new();
    let c = &cols;
    // Sent first: what round 3 writes can be undone without undoing the numbering.
    sent.push(Box::pin(async move {
        (client.batch_execute("SAVEPOINT numbered").await.map(|()| 0), 0)
    }));
    if !c.new_rows.is_empty() {
        let n = c.new_rows.len() as u64;
        sent.push(Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 10] = [
                &c.new_rows,
                &c.new_ids,
                &c.new_kinds,
                &c.new_scopes,
                &c.new_sizes,
                &c.new_creators,
                &c.new_participants,
                &c.new_addressed,
                &c.new_until,
                &now,
            ];
            (client.execute(&create, &params).await, n)
        }));
    }
    if !c.upd_rows.is_empty() {
        let n = c.upd_rows.len() as u64;
        sent.push(Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 6] = [
                &c.upd_rows,
                &c.upd_sizes,
                &c.upd_whole,
                &c.upd_versions,
                &c.upd_participants,
                &now,
            ];
            (client.execute(&update, &params).await, n)
        }));
    }
    if !c.replaced.is_empty() {
        // Whatever was stored goes: no count to check.
        sent.push(Box::pin(async move {
            let r = client.execute(&replace, &[&c.replaced]).await;
            let n = r.as_ref().map_or(0, |n| *n);
            (r, n)
        }));
    }
    if !c.byte_rows.is_empty() {
        let n = c.byte_rows.len() as u64;
        sent.push(Box::pin(async move {
            (client.execute(&bytes, &[&c.byte_rows, &c.byte_values]).await, n)
        }));
    }
    let n = c.log_seqs.len() as u64;
    sent.push(Box::pin(async move {
        let params: [&(dyn ToSql + Sync); 8] = [
            &c.log_seqs,
            &c.log_rows,
            &c.log_hashes,
            &c.log_actors,
            &c.log_devices,
            &c.log_bytes,
            &now,
            &c.log_sigs,
        ];
        (client.execute(&log, &params).await, n)
    }));
    if !c.ref_docs.is_empty() {
        // How many references go or come depends on what was recorded: no count to check.
        sent.push(Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 4] =
                [&c.ref_docs, &c.ref_rows, &c.ref_hashes, &c.ref_sizes];
            let r = client.execute(&unref, &params).await;
            let n = r.as_ref().map_or(0, |n| *n);
            (r, n)
        }));
        sent.push(Box::pin(async move {
            let params: [&(dyn ToSql + Sync); 5] =
                [&c.ref_rows, &c.ref_hashes, &c.ref_sizes, &c.ref_media, &c.ref_devices];
            let r = client.execute(&add_ref, &params).await;
            let n = r.as_ref().map_or(0, |n| *n);
            (r, n)
        }));
    }
    for (stmt, params) in index_stmts.iter().zip(&index_params) {
        sent.push(Box::pin(async move { (client.execute(stmt, params).await, 1) }));
    }
    sent.push(Box::pin(async move {
        (client.query(&notify, &[&channel, &seq_text]).await.map(|r| r.len() as u64), 1)
    }));
    let answers = join_all(sent).await;
    let mut failed = None;
    for (answer, expected) in answers {
        match answer {
            Ok(n) if n == expected => {}
            Ok(n) => {
                failed.get_or_insert(StorageError::Corrupt(format!(
                    "a statement of a bulk commit changed {n} rows, not {expected}"
                )));
            }
            Err(e) => {
                failed.get_or_insert(e.into());
            }
        }
    }
    if let Some(e) = failed {
        return write_by_write(client, e).await;
    }

    // The points the committed writes settle, one account at a time in the accounts' order (a
    // lock order every batch keeps); a failure is one of round 3's.
    let mut settled: Vec<&PointsTarget> = writes
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .filter_map(|(w, _)| w.points.as_ref())
        .collect();
    settled.sort_by(|a, b| a.account.cmp(&b.account));
    for target in settled {
        if let Err(e) = points::settle(client, target, now).await {
            return write_by_write(client, e).await;
        }
    }

    client.batch_execute("COMMIT").await.map_err(|e| StorageError::CommitFailed(e.to_string()))?;
    Ok(Outcome::Done(results))
}

/// A failure in round 3 (`e`): back to the savepoint after the numbering, whose mark is kept
/// ([`keep_mark`]), and the batch goes write by write.
async fn write_by_write(client: &Object, e: StorageError) -> StorageResult<Outcome> {
    match client.batch_execute("ROLLBACK TO SAVEPOINT numbered").await {
        Ok(()) => keep_mark(client).await?,
        Err(_) => rollback(client).await,
    }
    Ok(Outcome::WriteByWrite(e))
}

/// Commits the transaction with nothing in it but its numbering's mark (its seqs and
/// positions then a gap readers know of): rolled back, the numbers it was given would be a gap
/// readers must wait out until every transaction older than it has ended (`log_visible`).
async fn keep_mark(client: &Object) -> StorageResult<()> {
    client.batch_execute("COMMIT").await.map_err(|e| StorageError::CommitFailed(e.to_string()))
}

/// Ends the transaction without keeping anything; a failure here means the connection is
/// gone, which the pool notices when it is given back.
pub(super) async fn rollback(client: &Object) {
    if let Err(e) = client.batch_execute("ROLLBACK").await {
        tracing::debug!("rollback of a bulk commit: {e}");
    }
}

/// A point in the numbering: the last seq and the last document position given.
pub(super) type Head = (i64, i64);

/// Decides each write against the stored versions read under the lock, numbering the
/// documents created and the changes logged from the head `start`: the head after, the
/// columns to send, and each write's result.
fn decide<'a>(
    writes: &'a [DocWrite],
    start: Head,
    found: &[tokio_postgres::Row],
) -> StorageResult<(Head, Columns<'a>, Vec<StorageResult<Committed>>)> {
    let mut stored: HashMap<DocId, (i64, i64)> = HashMap::with_capacity(found.len());
    for r in found {
        stored.insert(doc_id_at(r, 0)?, (r.try_get(1)?, r.try_get(2)?));
    }
    let mut head = start;
    let mut c = Columns::default();
    let mut results = Vec::with_capacity(writes.len());
    for w in writes {
        let conflict = StorageError::Conflict { doc: w.doc, expected: w.base };
        let (row, version) = match (w.base, stored.get(&w.doc)) {
            (None, None) => {
                let DocBytes::Snapshot(snapshot) = &w.bytes else {
                    return Err(StorageError::Corrupt(format!(
                        "document {} is created without a snapshot",
                        w.doc
                    )));
                };
                let row = head.1 + 1;
                head.1 = row;
                c.new_rows.push(row);
                c.new_ids.push(w.doc.as_bytes().as_slice());
                c.new_kinds.push(w.kind.as_str());
                c.new_scopes.push(&w.scope);
                c.new_sizes.push(sql_size(snapshot.len() as u64));
                c.new_creators.push(&w.created_by);
                c.new_participants.push(w.participants.join("\n"));
                c.new_addressed
                    .push(w.addressed.iter().map(|a| a.as_str()).collect::<Vec<_>>().join("\n"));
                c.new_until.push(w.until);
                (row, 1u64)
            }
            (Some(base), Some(&(row, v))) if v == sql_size(base) => {
                let version = base + 1;
                let whole = matches!(w.bytes, DocBytes::Snapshot(_));
                c.upd_rows.push(row);
                c.upd_sizes.push(sql_size(w.bytes.len() as u64));
                c.upd_whole.push(whole);
                c.upd_versions.push(sql_size(version));
                c.upd_participants.push(w.participants.join("\n"));
                if whole {
                    c.replaced.push(row);
                }
                (row, version)
            }
            _ => {
                results.push(Err(conflict));
                continue;
            }
        };
        let new_bytes = match &w.bytes {
            DocBytes::Snapshot(b) | DocBytes::Chunk(b) => b,
        };
        if !new_bytes.is_empty() {
            c.byte_rows.push(row);
            c.byte_values.push(new_bytes);
        }
        for change in &w.changes {
            head.0 += 1;
            c.log_seqs.push(head.0);
            c.log_rows.push(row);
            c.log_hashes.push(change.hash.as_slice());
            c.log_actors.push(&change.actor);
            // A relayed change names its author's device; the rest are the pusher's.
            c.log_devices.push(change.device.as_deref().or(w.device.as_deref()));
            c.log_bytes.push(&change.bytes);
            c.log_sigs.push(change.sig.as_deref());
        }
        if let Some(index) = &w.index {
            c.index.push((row, head.0, index));
        }
        if let Some(refs) = &w.blobs {
            c.ref_docs.push(row);
            for r in refs {
                c.ref_rows.push(row);
                c.ref_hashes.push(&r.hash);
                c.ref_sizes.push(sql_size(r.size));
                c.ref_media.push(&r.media_type);
                c.ref_devices.push(r.added_by.as_deref());
            }
        }
        results.push(Ok(Committed { version, last_seq: u64::try_from(head.0).unwrap_or(0) }));
    }
    Ok((head, c, results))
}
