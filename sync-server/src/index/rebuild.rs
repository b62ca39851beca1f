//! Rebuilding the index from the stored documents: every document read into its record and
//! its row computed as a write computes it, in batches. Run by `fieldsync-server reindex`
//! (server stopped) and at start when the index is empty while documents exist (a database
//! upgraded from version 7, whose documents predate the index).

use std::sync::Arc;

use automerge::AutoCommit;
use fieldsync_core::DocId;
use fieldsync_core::model;

use super::{IndexError, row_of};
use crate::isolate::isolate;
use crate::rules::Rules;
use crate::storage::Storage;
use crate::storage::index::IndexRow;

/// Documents read and written per batch (one transaction each).
const BATCH: usize = 256;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reindexed {
    /// Rows written.
    pub rows: u64,
    /// Stored documents that did not read as records (logged; left out of the index).
    pub skipped: u64,
}

/// Replaces every index row by one computed from the stored documents under `rules`.
/// Readers of the index see it partly filled until it returns: run it before serving.
pub async fn reindex(storage: &Arc<dyn Storage>, rules: &Rules) -> Result<Reindexed, IndexError> {
    let ids = storage.doc_ids().await?;
    storage.clear_index().await?;
    let mut done = Reindexed::default();
    for batch in ids.chunks(BATCH) {
        let stored = storage.load(batch.to_vec()).await?;
        let docs: Vec<(DocId, Vec<u8>)> =
            batch.iter().zip(stored).filter_map(|(id, s)| s.map(|s| (*id, s.bytes))).collect();
        let rules = rules.clone();
        let (rows, skipped) = tokio::task::spawn_blocking(move || rows_of(docs, &rules))
            .await
            .map_err(|e| IndexError::Task(e.to_string()))?;
        done.rows += rows.len() as u64;
        done.skipped += skipped;
        storage.put_index_rows(rows).await?;
    }
    tracing::info!(rows = done.rows, skipped = done.skipped, "index rebuilt");
    Ok(done)
}

/// Fills the index when it is empty while documents exist (after the upgrade that brought
/// it); otherwise leaves it. Returns what was done, if anything.
pub async fn fill_if_empty(
    storage: &Arc<dyn Storage>,
    rules: &Rules,
) -> Result<Option<Reindexed>, IndexError> {
    if storage.index_len().await? > 0 || storage.docs_end().await? == 0 {
        return Ok(None);
    }
    tracing::info!("the record index is empty: building it from the stored documents");
    reindex(storage, rules).await.map(Some)
}

/// The rows of stored documents; documents that do not read as records are counted, not
/// indexed (every Automerge call isolated: a panic fails that document only).
fn rows_of(docs: Vec<(DocId, Vec<u8>)>, rules: &Rules) -> (Vec<IndexRow>, u64) {
    let mut rows = Vec::with_capacity(docs.len());
    let mut skipped = 0;
    for (id, bytes) in docs {
        let record = isolate(|| {
            let doc = AutoCommit::load(&bytes).map_err(|e| e.to_string())?;
            model::read_record(&doc, id).map_err(|e| e.to_string())
        });
        match record {
            Ok(Ok(record)) => rows.push(row_of(&record, rules)),
            Ok(Err(e)) | Err(e) => {
                tracing::warn!(doc = %id, "stored document left out of the index: {e}");
                skipped += 1;
            }
        }
    }
    (rows, skipped)
}
