//! Reads of documents and the log, each in the caller's one REPEATABLE READ transaction (see
//! `db::Db::read`), so that what a read returns comes from one snapshot. The end of the log,
//! and of the document positions, is the watermark of that snapshot (the view `log_visible`,
//! see `documents`): every seq up to it is visible or never will be, while a seq after it may
//! be visible before a smaller one that commits later. Every read of the log, of document
//! positions and of index rows by seq stops there.

use std::str::FromStr;

use fieldsync_core::DocId;
use fieldsync_core::model::Kind;

use super::columns::{AUDIENCE, audience_at, doc_id_at, sql_size, to_u64};
use deadpool_postgres::GenericClient;

use super::db::{Tx, query, query_one, query_opt};
use crate::storage::{
    Audience, CatchUpPage, CatchUpReader, DocMeta, DocSignatures, LogItem, LogPage, LogRecord,
    StorageError, StorageResult, StoredDoc, WholeDoc,
};

/// Most entries in one log page, whatever their size.
const MAX_PAGE_ENTRIES: usize = 50_000;

/// The row and metadata of a document.
async fn find(tx: &Tx<'_>, id: DocId) -> StorageResult<Option<(i64, DocMeta)>> {
    let Some(r) = query_opt(
        tx,
        "SELECT id, kind, scope, snapshot_bytes, chunk_bytes, version FROM docs \
         WHERE doc_id = $1",
        &[&id.as_bytes().as_slice()],
    )
    .await?
    else {
        return Ok(None);
    };
    let kind: &str = r.try_get(1)?;
    let kind = Kind::from_str(kind)
        .map_err(|_| StorageError::Corrupt(format!("document {id} has unknown kind {kind:?}")))?;
    Ok(Some((
        r.try_get(0)?,
        DocMeta {
            kind,
            scope: r.try_get(2)?,
            snapshot_bytes: to_u64(r.try_get(3)?),
            chunk_bytes: to_u64(r.try_get(4)?),
            version: to_u64(r.try_get(5)?),
        },
    )))
}

/// A document's stored bytes: snapshot, then chunks.
async fn bytes_of(tx: &Tx<'_>, row: i64, capacity: u64) -> StorageResult<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    for r in query(tx, "SELECT bytes FROM doc_bytes WHERE doc = $1 ORDER BY id", &[&row]).await? {
        out.extend_from_slice(r.try_get::<_, &[u8]>(0)?);
    }
    Ok(out)
}

pub(crate) async fn load(tx: &Tx<'_>, ids: &[DocId]) -> StorageResult<Vec<Option<StoredDoc>>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some((row, meta)) = find(tx, *id).await? else {
            out.push(None);
            continue;
        };
        let bytes = bytes_of(tx, row, meta.stored_bytes()).await?;
        out.push(Some(StoredDoc { meta, bytes }));
    }
    Ok(out)
}

/// See `DocumentStorage::versions`: one statement for all of them.
pub(crate) async fn versions(
    tx: &impl GenericClient,
    ids: &[DocId],
) -> StorageResult<Vec<Option<u64>>> {
    let keys: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes().as_slice()).collect();
    let rows =
        query(tx, "SELECT doc_id, version FROM docs WHERE doc_id = ANY($1)", &[&keys]).await?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for r in &rows {
        found.insert(doc_id_at(r, 0)?, to_u64(r.try_get(1)?));
    }
    Ok(ids.iter().map(|id| found.get(id).copied()).collect())
}

/// The audience of the document in row `row`.
async fn audience_of(tx: &Tx<'_>, row: i64) -> StorageResult<Audience> {
    let r =
        query_one(tx, &format!("SELECT {AUDIENCE} FROM docs d WHERE d.id = $1"), &[&row]).await?;
    audience_at(&r, 0)
}

pub(crate) async fn whole(
    tx: &Tx<'_>,
    ids: &[DocId],
    max_bytes: usize,
) -> StorageResult<(Vec<WholeDoc>, usize)> {
    let mut out = Vec::new();
    let mut used = 0usize;
    for (i, id) in ids.iter().enumerate() {
        let Some((row, meta)) = find(tx, *id).await? else { continue };
        let size = usize::try_from(meta.stored_bytes()).unwrap_or(usize::MAX);
        if !out.is_empty() && used.saturating_add(size) > max_bytes {
            return Ok((out, i));
        }
        used = used.saturating_add(size);
        let audience = audience_of(tx, row).await?;
        let bytes = bytes_of(tx, row, meta.stored_bytes()).await?;
        out.push(WholeDoc { pos: row, doc: *id, bytes, audience });
    }
    Ok((out, ids.len()))
}

pub(crate) async fn log_end(tx: &impl GenericClient) -> StorageResult<u64> {
    let seq: i64 = query_one(tx, "SELECT seq FROM log_visible", &[]).await?.try_get(0)?;
    Ok(to_u64(seq))
}

pub(crate) async fn docs_end(tx: &Tx<'_>) -> StorageResult<i64> {
    Ok(query_one(tx, "SELECT docs FROM log_visible", &[]).await?.try_get(0)?)
}

/// Rows of `docs` read per statement while paging through the catch-up.
const CATCH_UP_BATCH: i64 = 256;

pub(crate) async fn catch_up(
    tx: &Tx<'_>,
    after: i64,
    max_bytes: usize,
    reader: Option<&CatchUpReader>,
) -> StorageResult<CatchUpPage> {
    let log_end = log_end(tx).await?;
    let docs_end = docs_end(tx).await?;
    let mut docs: Vec<WholeDoc> = Vec::new();
    let mut used = 0usize;
    let mut done = true;
    let mut scanned_to = after;
    let sql = format!(
        "SELECT d.id, d.doc_id, d.snapshot_bytes + d.chunk_bytes, {AUDIENCE} FROM docs d \
         WHERE d.id > $1 AND d.id <= $3 ORDER BY d.id LIMIT $2"
    );
    'pages: loop {
        let rows = query(tx, &sql, &[&scanned_to, &CATCH_UP_BATCH, &docs_end]).await?;
        let last_batch = rows.len() < CATCH_UP_BATCH as usize;
        for r in rows {
            let row: i64 = r.try_get(0)?;
            let audience = audience_at(&r, 3)?;
            if reader.is_some_and(|r| !r.takes(&audience)) {
                scanned_to = row;
                continue;
            }
            let size = usize::try_from(r.try_get::<_, i64>(2)?).unwrap_or(usize::MAX);
            if !docs.is_empty() && used.saturating_add(size) > max_bytes {
                done = false;
                break 'pages;
            }
            used = used.saturating_add(size);
            let doc = doc_id_at(&r, 1)?;
            let bytes = bytes_of(tx, row, size as u64).await?;
            docs.push(WholeDoc { pos: row, doc, bytes, audience });
            scanned_to = row;
        }
        if last_batch {
            break;
        }
    }
    let docs_after = if done { 0 } else { to_u64(docs_end - scanned_to) };
    Ok(CatchUpPage { docs, done, log_end, docs_after, scanned_to })
}

/// Log entries read per statement while filling a page.
const LOG_BATCH: i64 = 512;

pub(crate) async fn log_page(
    tx: &Tx<'_>,
    after: u64,
    skip_actor: &[u8],
    max_bytes: usize,
) -> StorageResult<LogPage> {
    let end = log_end(tx).await?;
    let mut entries: Vec<LogItem> = Vec::new();
    let mut used = 0usize;
    let mut next = end;
    let mut from = sql_size(after);
    'pages: loop {
        let rows = query(
            tx,
            "SELECT l.seq, d.doc_id, l.bytes, l.actor = $3 FROM log l JOIN docs d ON d.id = l.doc \
             WHERE l.seq > $1 AND l.seq <= $2 ORDER BY l.seq LIMIT $4",
            &[&from, &sql_size(end), &skip_actor, &LOG_BATCH],
        )
        .await?;
        let last_batch = rows.len() < LOG_BATCH as usize;
        for r in rows {
            from = r.try_get(0)?;
            if r.try_get::<_, bool>(3)? {
                continue;
            }
            let bytes: &[u8] = r.try_get(2)?;
            if !entries.is_empty()
                && (used.saturating_add(bytes.len()) > max_bytes
                    || entries.len() >= MAX_PAGE_ENTRIES)
            {
                next = entries.last().map_or(after, |e| e.seq);
                break 'pages;
            }
            used = used.saturating_add(bytes.len());
            entries.push(LogItem {
                seq: to_u64(from),
                doc: doc_id_at(&r, 1)?,
                bytes: bytes.to_vec(),
            });
        }
        if last_batch {
            break;
        }
    }
    Ok(LogPage { entries, next, end })
}

pub(crate) async fn audit(
    tx: &impl GenericClient,
    after: u64,
    limit: usize,
) -> StorageResult<Vec<LogRecord>> {
    let rows = query(
        tx,
        &format!(
            "SELECT l.seq, d.doc_id, l.hash, l.actor, l.device, l.received_at, l.bytes, l.sig, \
             {AUDIENCE} FROM log l JOIN docs d ON d.id = l.doc WHERE l.seq > $1 \
             AND l.seq <= (SELECT seq FROM log_visible) ORDER BY l.seq LIMIT $2"
        ),
        &[&sql_size(after), &sql_size(limit as u64)],
    )
    .await?;
    rows.iter()
        .map(|r| {
            let hash: &[u8] = r.try_get(2)?;
            let hash: [u8; 32] = hash.try_into().map_err(|_| {
                StorageError::Corrupt(format!("log entry with a {}-byte hash", hash.len()))
            })?;
            Ok(LogRecord {
                seq: to_u64(r.try_get(0)?),
                doc: doc_id_at(r, 1)?,
                hash,
                actor: r.try_get(3)?,
                device: r.try_get(4)?,
                received_at: r.try_get(5)?,
                bytes: r.try_get(6)?,
                sig: r.try_get(7)?,
                audience: audience_at(r, 8)?,
            })
        })
        .collect()
}

/// See `DocumentStorage::signatures`.
pub(crate) async fn signatures(tx: &Tx<'_>, ids: &[DocId]) -> StorageResult<Vec<DocSignatures>> {
    let sql = "SELECT l.hash, l.sig, l.actor FROM log l JOIN docs d ON d.id = l.doc \
               WHERE d.doc_id = $1 AND l.sig IS NOT NULL ORDER BY l.seq";
    let mut out = Vec::new();
    for id in ids {
        let rows = query(tx, sql, &[&id.as_bytes().as_slice()]).await?;
        let mut doc = DocSignatures { doc: *id, sigs: Vec::new(), signers: Vec::new() };
        for r in &rows {
            doc.push(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)?;
        }
        if !doc.sigs.is_empty() {
            out.push(doc);
        }
    }
    Ok(out)
}

pub(crate) async fn readers(tx: &Tx<'_>, ids: &[DocId]) -> StorageResult<Vec<(DocId, Audience)>> {
    let sql = format!("SELECT {AUDIENCE} FROM docs d WHERE d.doc_id = $1");
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(r) = query_opt(tx, &sql, &[&id.as_bytes().as_slice()]).await? {
            out.push((*id, audience_at(&r, 0)?));
        }
    }
    Ok(out)
}

pub(crate) async fn audiences(tx: &Tx<'_>) -> StorageResult<Vec<(DocId, Audience)>> {
    let rows =
        query(tx, &format!("SELECT d.doc_id, {AUDIENCE} FROM docs d ORDER BY d.id"), &[]).await?;
    rows.iter().map(|r| Ok((doc_id_at(r, 0)?, audience_at(r, 1)?))).collect()
}

pub(crate) async fn doc_ids(tx: &Tx<'_>) -> StorageResult<Vec<DocId>> {
    let rows = query(tx, "SELECT doc_id FROM docs ORDER BY id", &[]).await?;
    rows.iter().map(|r| doc_id_at(r, 0)).collect()
}

/// See `DocumentStorage::logged_docs`.
pub(crate) async fn logged_docs(
    tx: &Tx<'_>,
    after: u64,
    upto: u64,
    limit: usize,
) -> StorageResult<Vec<(DocId, u64)>> {
    let rows = query(
        tx,
        // Driven from the log's stretch, each document looked up by its key: a subquery with
        // a LIMIT is never flattened, so the planner cannot walk every document in key order
        // instead (it did, with a generic plan: a whole index per call).
        "SELECT d.doc_id, d.version FROM (SELECT DISTINCT doc FROM log \
         WHERE seq > $1 AND seq <= $2 AND seq <= (SELECT seq FROM log_visible)) l, \
         LATERAL (SELECT doc_id, version FROM docs WHERE id = l.doc LIMIT 1) d \
         ORDER BY l.doc LIMIT $3",
        &[&sql_size(after), &sql_size(upto), &sql_size(limit as u64)],
    )
    .await?;
    rows.iter().map(|r| Ok((doc_id_at(r, 0)?, to_u64(r.try_get(1)?)))).collect()
}
