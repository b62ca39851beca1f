//! A document in memory as the server holds it: the Automerge document, its header, what is
//! stored of it, and its typed record once a push read it. Ingestion works on one; the cache
//! (`documents::cache`) keeps them between requests, bounded by their estimated memory.

use std::sync::Arc;

use automerge::AutoCommit;
use fieldsync_core::model::{Header, Record};

use crate::storage::DocMeta;

/// Memory of a loaded document per byte of its saved form. Measured: a report document saved
/// in ~700 bytes takes ~19.4 KB once loaded (Automerge's in-memory op set is many times larger
/// than its compressed save, and an `AutoCommit` alone is ~4.4 KB).
const BYTES_PER_SAVED_BYTE: usize = 24;
/// Memory of a loaded document beyond that (structures, header, cache entry).
const BYTES_PER_DOC: usize = 4 * 1024;
/// Memory of a kept typed record (a report with its timeline: a few KB of strings).
const BYTES_PER_RECORD: usize = 4 * 1024;

/// A document in memory, as stored.
pub(crate) struct Loaded {
    /// The document.
    pub(crate) doc: AutoCommit,
    /// Its header, as read when it was loaded (it never changes).
    pub(crate) header: Header,
    /// Kind, scope, sizes and version of what is stored.
    pub(crate) meta: DocMeta,
    /// Built from changes (a document new to the server) rather than loaded from its save.
    /// Such a document takes two to three times the memory of its loaded form (measured: with
    /// them cached, RSS after storing 100,000 reports was 144 MB instead of 87 MB), so it is not
    /// cached; the next request loads the compact form from storage.
    pub(crate) built: bool,
    /// The typed record of `doc` as it is, when a push hydrated it already: the next push's
    /// policy check starts from it instead of hydrating the same state again.
    pub(crate) record: Option<Arc<Record>>,
}

impl Loaded {
    /// Estimated memory held.
    pub(crate) fn weight(&self) -> usize {
        usize::try_from(self.meta.stored_bytes())
            .unwrap_or(usize::MAX)
            .saturating_mul(BYTES_PER_SAVED_BYTE)
            .saturating_add(BYTES_PER_DOC)
            .saturating_add(if self.record.is_some() { BYTES_PER_RECORD } else { 0 })
    }
}
