//! Reading a document the server holds: loading its stored bytes, whether it holds given
//! changes, and its typed record, checked (every Automerge call isolated: a panic fails this
//! document only).

use automerge::{AutoCommit, ChangeHash};
use fieldsync_core::model::Record;
use fieldsync_core::{CoreError, DocId, model};

use super::loaded::Loaded;
use super::refusal::{Refusal, code};
use crate::isolate::isolate;
use crate::storage::DocMeta;

/// Loads stored bytes into a document, with its header.
pub(crate) fn load(id: DocId, bytes: &[u8], meta: DocMeta) -> Result<Loaded, Refusal> {
    let loaded = isolate(|| -> Result<Loaded, String> {
        let doc = AutoCommit::load(bytes).map_err(|e| e.to_string())?;
        let header = model::read_header(&doc, id).map_err(|e| e.to_string())?;
        Ok(Loaded { doc, header, meta, built: false, record: None })
    });
    match loaded {
        Ok(Ok(l)) => Ok(l),
        Ok(Err(e)) | Err(e) => {
            tracing::error!(doc = %id, "stored document does not load: {e}");
            Err(Refusal::retry(code::INTERNAL_ERROR, format!("document {id} does not load: {e}")))
        }
    }
}

/// Whether `doc` holds every one of `hashes` (a hash lookup; `get_change_by_hash` would
/// rebuild each change).
pub(crate) fn holds(doc: &mut AutoCommit, hashes: &[ChangeHash]) -> bool {
    hashes.is_empty() || doc.get_missing_deps(hashes).is_empty()
}

/// Checks that `doc` is a valid record; returns it.
pub(crate) fn read_checked(id: DocId, doc: &AutoCommit) -> Result<Record, Refusal> {
    let invalid = |e: String| {
        Refusal::rejected(
            code::INVALID_DOCUMENT,
            format!("document {id} is not a valid record: {e}"),
        )
    };
    let checked = isolate(|| model::read_record(doc, id));
    match checked {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(CoreError::Malformed { reason, .. })) => Err(invalid(reason)),
        Ok(Err(e)) => Err(invalid(e.to_string())),
        Err(p) => Err(invalid(format!("reading it panicked: {p}"))),
    }
}
