//! What a received document item does to the store: the changes it carries are parsed strictly,
//! applied to a copy, judged (signatures, the write policy under each author's rights, the
//! layout, the limits, this user's right to read the result), and only then stored, with the
//! signatures that came with them, so that they go on with the changes.

use std::collections::HashMap;

use automerge::sync::{self, SyncDoc};
use automerge::{Change, ChangeHash};

use super::judge::{Authors, judge};
use super::session::Syncing;
use crate::authorship::Signature;
use crate::changes::{self, ParseError};
use crate::error::CoreError;
use crate::id::DocId;
use crate::limits;
use crate::policy::{Denied, Profile};
use crate::store::Store;

/// What one round brought for a document: changes stored, or nothing new.
pub(super) enum Took {
    Stored,
    Nothing,
}

fn malformed(e: ParseError) -> Denied {
    Denied::new("peer.changes", e.0)
}

/// The bytes of `fresh` changes, as a merge takes them.
fn bytes_of(fresh: &[Change]) -> Vec<u8> {
    fresh.iter().flat_map(|c| c.raw_bytes().iter().copied()).collect()
}

/// Stores what was judged, signatures first (a signature without its change is harmless; a
/// change without its signature could not be passed on); a store failure other than the
/// database's is this document's refusal (a database failure is too, but is logged as one).
fn store_merge(
    store: &Store,
    id: DocId,
    bytes: &[u8],
    sigs: &[(ChangeHash, Signature)],
) -> Result<Took, Denied> {
    let stored = store.keep_signatures(sigs).and_then(|()| store.merge_remote(id, bytes));
    match stored {
        Ok(o) if o.changed => Ok(Took::Stored),
        Ok(_) => Ok(Took::Nothing),
        Err(e) => {
            if matches!(e, CoreError::Storage(_) | CoreError::Io(_)) {
                tracing::error!(doc = %id, "storing a peer's changes failed: {e}");
            }
            Err(Denied::new("peer.store", e.to_string()))
        }
    }
}

/// Takes one Automerge sync message for a document being synced: the changes it carries are
/// parsed strictly, applied to a copy, judged, and only then stored.
pub(super) fn take_sync(
    store: &Store,
    id: DocId,
    d: &mut Syncing,
    msg: &[u8],
    authors: &Authors,
    me: &Profile,
) -> Result<Took, Denied> {
    let msg = changes::guarded(|| {
        sync::Message::decode(msg).map_err(|e| ParseError(format!("sync message: {e}")))
    })
    .map_err(malformed)?;
    let mut carried = 0;
    for chunk in msg.changes.iter() {
        carried += chunk.len();
        if carried > limits::MERGE_BYTES {
            return Err(Denied::new("peer.changes", "a sync message over the merge limit"));
        }
        changes::parse_changes(chunk, limits::MERGE_BYTES).map_err(malformed)?;
    }
    let before = d.doc.get_heads();
    let mut trial = d.doc.clone();
    let mut state = d.state.clone();
    changes::guarded(|| {
        trial
            .sync()
            .receive_sync_message(&mut state, msg)
            .map_err(|e| ParseError(format!("sync message: {e}")))
    })
    .map_err(malformed)?;
    let fresh = trial.get_changes(&before);
    let took = if fresh.is_empty() {
        Took::Nothing
    } else {
        let sigs = judge(id, Some(&d.doc), &mut trial, &fresh, authors, &d.sigs_in, me)?;
        store_merge(store, id, &bytes_of(&fresh), &sigs)?
    };
    d.doc = trial;
    d.state = state;
    Ok(took)
}

/// Takes a whole document the peer sent (new here, or one this phone did not offer).
pub(super) fn take_whole(
    store: &Store,
    id: DocId,
    bytes: &[u8],
    sigs: &HashMap<ChangeHash, Signature>,
    syncing: Option<&mut Syncing>,
    authors: &Authors,
    me: &Profile,
) -> Result<Took, Denied> {
    let incoming = changes::parse_changes(bytes, limits::MERGE_BYTES).map_err(malformed)?;
    let base = match store.load(id) {
        Ok(doc) => Some(doc),
        Err(CoreError::NotFound { .. }) => None,
        Err(e) => return Err(Denied::new("peer.store", e.to_string())),
    };
    let mut merged = base.clone().unwrap_or_default();
    let before = merged.get_heads();
    changes::guarded(|| merged.apply_changes(incoming).map_err(|e| ParseError(e.to_string())))
        .map_err(malformed)?;
    if !merged.get_missing_deps(&[]).is_empty() {
        return Err(Denied::new("peer.changes", "changes whose dependencies are missing"));
    }
    let fresh = merged.get_changes(&before);
    if fresh.is_empty() {
        return Ok(Took::Nothing);
    }
    let sigs = judge(id, base.as_ref(), &mut merged, &fresh, authors, sigs, me)?;
    let took = match base {
        // A new document is stored as its sender saved it.
        None => store_merge(store, id, bytes, &sigs)?,
        Some(_) => store_merge(store, id, &bytes_of(&fresh), &sigs)?,
    };
    if let Some(d) = syncing {
        d.doc = merged;
    }
    Ok(took)
}
