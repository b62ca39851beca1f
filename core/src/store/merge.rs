//! Applying Automerge bytes from elsewhere, in two steps: `prepare` verifies and merges in memory
//! (nothing on disk changes, and on error the document is dropped from the cache), `write` puts
//! the result into an open transaction. A sync applies a whole page this way in one transaction.

use automerge::{AutoCommit, ChangeHash};

use super::docs;
use super::projection::Projection;
use super::writer::{Loaded, Writer};
use crate::changes::{self, ParseError};
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::limits;
use crate::model::{self, Kind};

/// A merge done in memory, waiting to be written.
pub(crate) struct Prepared {
    pub(crate) id: DocId,
    pub(crate) kind: Kind,
    pub(crate) created: bool,
    pub(crate) changed: bool,
    /// Heads of the incoming changes alone (what the sender is known to hold).
    pub(crate) incoming_heads: Vec<ChangeHash>,
    pub(crate) loaded: Option<Loaded>,
    doc: Option<AutoCommit>,
    write: Write,
    proj: Option<Projection>,
}

enum Write {
    Nothing,
    Append(Vec<u8>),
    Insert(Vec<u8>),
}

fn malformed(id: DocId) -> impl Fn(ParseError) -> CoreError {
    move |e| CoreError::malformed(id, e.0)
}

/// Verifies `bytes` and merges them into the document in memory.
pub(crate) fn prepare(w: &mut Writer, id: DocId, bytes: &[u8]) -> Result<Prepared> {
    if bytes.len() > limits::MERGE_BYTES {
        return Err(CoreError::invalid(
            "bytes",
            format!("{} bytes; at most {} per merge", bytes.len(), limits::MERGE_BYTES),
        ));
    }
    match w.take_if_stored(id)? {
        Some(loaded) => prepare_existing(id, loaded, bytes),
        None => prepare_new(id, bytes, w.identity.actor.clone()),
    }
}

fn prepare_existing(id: DocId, mut loaded: Loaded, bytes: &[u8]) -> Result<Prepared> {
    let kind = loaded.row.kind;
    let incoming = changes::parse_changes(bytes, limits::MERGE_BYTES).map_err(malformed(id))?;
    let incoming_heads = changes::heads_of(&incoming);
    let before = loaded.doc.get_heads();
    let header_before = model::doc::read_header(&loaded.doc, id)?;
    changes::guarded(|| loaded.doc.apply_changes(incoming).map_err(|e| ParseError(e.to_string())))
        .map_err(malformed(id))?;
    let missing = loaded.doc.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(CoreError::MissingDependencies { id, missing: missing.len() });
    }
    let unchanged = loaded.doc.get_heads() == before;
    let (write, proj) = if unchanged {
        (Write::Nothing, None)
    } else {
        model::read_record(&loaded.doc, id)?;
        if model::doc::read_header(&loaded.doc, id)? != header_before {
            return Err(CoreError::malformed(id, "the incoming changes alter its header"));
        }
        let chunk = loaded.doc.save_after(&before);
        if loaded.row.stored_bytes() + chunk.len() as i64 > limits::DOC_BYTES as i64 {
            return Err(CoreError::invalid(
                "document",
                format!("{id} would exceed {} bytes", limits::DOC_BYTES),
            ));
        }
        (Write::Append(chunk), Some(Projection::of(&loaded.doc, id)?))
    };
    Ok(Prepared {
        id,
        kind,
        created: false,
        changed: !unchanged,
        incoming_heads,
        loaded: Some(loaded),
        doc: None,
        write,
        proj,
    })
}

fn prepare_new(id: DocId, bytes: &[u8], actor: automerge::ActorId) -> Result<Prepared> {
    let whole = changes::starts_with_document(bytes);
    let mut doc = if whole {
        let doc = changes::guarded(|| {
            AutoCommit::load_with_options(
                bytes,
                automerge::LoadOptions::new()
                    .on_partial_load(automerge::OnPartialLoad::Error)
                    .verification_mode(automerge::VerificationMode::Check),
            )
            .map_err(|e| ParseError(e.to_string()))
        })
        .map_err(malformed(id))?;
        doc.with_actor(actor)
    } else {
        // Bare changes: applied to an empty document, so missing dependencies are counted.
        let incoming = changes::parse_changes(bytes, limits::MERGE_BYTES).map_err(malformed(id))?;
        let mut doc = AutoCommit::new().with_actor(actor);
        changes::guarded(|| doc.apply_changes(incoming).map_err(|e| ParseError(e.to_string())))
            .map_err(malformed(id))?;
        doc
    };
    let missing = doc.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(CoreError::MissingDependencies { id, missing: missing.len() });
    }
    let record = model::read_record(&doc, id)?;
    let kind = record.header().kind;
    // A saved document is stored as given (it loaded strictly as it is); bare changes are saved
    // as a compact snapshot.
    let snapshot = if whole { bytes.to_vec() } else { doc.save() };
    if snapshot.len() > limits::DOC_BYTES {
        return Err(CoreError::invalid(
            "document",
            format!("{id} exceeds {} bytes", limits::DOC_BYTES),
        ));
    }
    let proj = Projection::of(&doc, id)?;
    Ok(Prepared {
        id,
        kind,
        created: true,
        changed: true,
        incoming_heads: doc.get_heads(),
        loaded: None,
        doc: Some(doc),
        write: Write::Insert(snapshot),
        proj: Some(proj),
    })
}

impl Prepared {
    /// Writes the merge into the open transaction `tx`; returns the document's row id.
    pub(crate) fn write(&mut self, tx: &rusqlite::Connection, now: i64) -> Result<i64> {
        match std::mem::replace(&mut self.write, Write::Nothing) {
            Write::Nothing => {}
            Write::Append(chunk) => {
                if let Some(l) = self.loaded.as_mut() {
                    let mut row = l.row;
                    docs::append(tx, &mut row, &mut l.doc, &chunk, now)?;
                    l.row = row;
                }
            }
            Write::Insert(snapshot) => {
                let row = docs::insert(tx, self.id, self.kind, &snapshot, now)?;
                if let Some(doc) = self.doc.take() {
                    self.loaded = Some(Loaded { doc, row });
                }
            }
        }
        let loaded = self
            .loaded
            .as_ref()
            .ok_or_else(|| CoreError::malformed(self.id, "merge lost its document"))?;
        if let Some(p) = &self.proj {
            p.write(tx, loaded.row.rowid)?;
        }
        Ok(loaded.row.rowid)
    }

    /// The merged document's heads.
    pub(crate) fn heads(&mut self) -> Vec<ChangeHash> {
        match (self.loaded.as_mut(), self.doc.as_mut()) {
            (Some(l), _) => l.doc.get_heads(),
            (None, Some(d)) => d.get_heads(),
            (None, None) => Vec::new(),
        }
    }

    /// Hands the loaded document back to the writer's cache after the transaction committed.
    pub(crate) fn finish(self, w: &mut Writer) {
        if let Some(l) = self.loaded {
            w.put_back(self.id, l);
        }
    }
}
