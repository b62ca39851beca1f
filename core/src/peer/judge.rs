//! The write policy on changes that came from a peer: every change is judged under its own
//! author's rights (the credential that names its actor), as that author saw the record, with
//! the same `policy::check_change` the server runs; then the document as it would be stored
//! must keep its layout and limits, and this phone's user must be allowed to read it.

use std::collections::HashMap;

use automerge::{ActorId, AutoCommit, Change};

use crate::id::DocId;
use crate::model::{self, Record, validate};
use crate::policy::{self, Audience, Denied, Profile};

/// Who wrote with which actor, from credentials that checked.
#[derive(Debug, Default)]
pub(crate) struct Authors(HashMap<ActorId, Profile>);

impl Authors {
    /// Adds the author of `actor`.
    pub(crate) fn insert(&mut self, actor: ActorId, profile: Profile) {
        self.0.insert(actor, profile);
    }

    fn of(&self, actor: &ActorId) -> Result<&Profile, Denied> {
        self.0
            .get(actor)
            .ok_or_else(|| Denied::new("peer.author", format!("no credential names actor {actor}")))
    }
}

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
/// if it is new here) to `merged`, for `me`, who will hold the result.
pub(crate) fn judge(
    id: DocId,
    base: Option<&AutoCommit>,
    merged: &mut AutoCommit,
    fresh: &[Change],
    authors: &Authors,
    me: &Profile,
) -> Result<(), Denied> {
    let mut cursor = base.cloned().unwrap_or_default();
    let mut cursor_record = match base {
        Some(b) => Some(read(id, b)?),
        None => None,
    };
    let current = cursor_record.clone();
    for change in fresh {
        let author = authors.of(change.actor_id())?;
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
        policy::check_change(author, before.as_ref(), &after)?;
    }
    let now = read(id, merged)?;
    let kind = now.header().kind;
    let faults = model::layout_faults(merged, kind);
    if !faults.is_empty() {
        // Faults the stored document had already (kept before a rule existed) are nobody's here.
        let old = base.map(|b| model::layout_faults(b, kind)).unwrap_or_default();
        if let Some(fault) = faults.into_iter().find(|f| !old.contains(f)) {
            return Err(Denied::new("peer.layout", fault));
        }
    }
    if let Some(e) = validate::new_violations(current.as_ref(), &now).into_iter().next() {
        return Err(Denied::new("peer.limits", e.to_string()));
    }
    if !policy::can_read(me, &Audience::of(&now)) {
        return Err(Denied::new("read", format!("{} may not read {id}", me.user)));
    }
    Ok(())
}
