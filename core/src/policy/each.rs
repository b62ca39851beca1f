//! Changes of several authors judged one by one, each under its own author's rights and on the
//! record as that author saw it (at the change's dependencies), so that others' concurrent
//! edits never count against it. A peer judges what another phone sends this way, and the
//! server what a phone relays of other devices' changes: one code path for both.

use automerge::{AutoCommit, Change};

use super::{Denied, Profile, check_change};
use crate::id::DocId;
use crate::model::{self, Record};

fn read(id: DocId, doc: &AutoCommit) -> Result<Record, Denied> {
    model::read_record(doc, id).map_err(|e| Denied::new("peer.record", e.to_string()))
}

fn applied(doc: &mut AutoCommit, change: &Change) -> Result<(), Denied> {
    crate::changes::guarded(|| {
        doc.apply_changes([change.clone()]).map_err(|e| crate::changes::ParseError(e.to_string()))
    })
    .map_err(|e| Denied::new("peer.changes", e.0))
}

/// Judges `fresh` (in causal order), the changes that take `base` (the stored document; `None`
/// if it is new) to `merged`: each is allowed to the profile `author_of` gives for its actor
/// ([`check_change`]), on the record before and after it as its author saw them. The first
/// change refused, or whose author is unknown (`author_of`'s error), refuses them all.
pub fn check_each_change<'p>(
    id: DocId,
    base: Option<&AutoCommit>,
    merged: &mut AutoCommit,
    fresh: &[Change],
    mut author_of: impl FnMut(&Change) -> Result<&'p Profile, Denied>,
) -> Result<(), Denied> {
    let mut cursor = base.cloned().unwrap_or_default();
    let mut cursor_record = match base {
        Some(b) => Some(read(id, b)?),
        None => None,
    };
    for change in fresh {
        let author = author_of(change)?;
        let mut deps = change.deps().to_vec();
        deps.sort();
        let mut heads = cursor.get_heads();
        heads.sort();
        let (before, after) = if deps == heads {
            // The common case: the change follows what is judged so far.
            let before = match cursor_record.take() {
                Some(r) => Some(r),
                None if heads.is_empty() => None,
                None => Some(read(id, &cursor)?),
            };
            applied(&mut cursor, change)?;
            let after = read(id, &cursor)?;
            cursor_record = Some(after.clone());
            (before, after)
        } else {
            // A change made beside others: judged on the record as its author saw it.
            let mut seen = crate::changes::guarded(|| {
                merged.fork_at(&deps).map_err(|e| crate::changes::ParseError(e.to_string()))
            })
            .map_err(|e| Denied::new("peer.changes", e.0))?;
            let before = if deps.is_empty() { None } else { Some(read(id, &seen)?) };
            applied(&mut seen, change)?;
            applied(&mut cursor, change)?;
            cursor_record = None;
            (before, read(id, &seen)?)
        };
        check_change(author, before.as_ref(), &after)?;
    }
    Ok(())
}
