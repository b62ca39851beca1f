//! The write policy on changes that came from a peer: every change must be signed by its
//! author's device key (named in the credential that names its actor), and is judged under that
//! author's rights, as that author saw the record, with the same `policy::check_change` the
//! server runs (`policy::check_each_change`); then the document as it would be stored must keep
//! its layout and limits, and this phone's user must be allowed to read it.

use std::collections::HashMap;

use automerge::{ActorId, AutoCommit, Change, ChangeHash};

use crate::authorship::{self, Signature};
use crate::id::DocId;
use crate::model::{self, validate};
use crate::policy::{self, Audience, Denied, Profile};

/// An author met in a session: their rights and their device's key.
#[derive(Debug)]
struct Author {
    profile: Profile,
    key: Option<[u8; 32]>,
}

/// Who wrote with which actor, from credentials that checked.
#[derive(Debug, Default)]
pub(crate) struct Authors(HashMap<ActorId, Author>);

impl Authors {
    /// Adds the author of `actor`, whose device signs with `key`.
    pub(crate) fn insert(&mut self, actor: ActorId, profile: Profile, key: Option<[u8; 32]>) {
        self.0.insert(actor, Author { profile, key });
    }

    fn of(&self, actor: &ActorId) -> Result<&Author, Denied> {
        self.0
            .get(actor)
            .ok_or_else(|| Denied::new("peer.author", format!("no credential names actor {actor}")))
    }

    /// The author of `change`, once its signature checks with their key.
    fn signed(
        &self,
        change: &Change,
        sigs: &HashMap<ChangeHash, Signature>,
    ) -> Result<(&Profile, Signature), Denied> {
        let author = self.of(change.actor_id())?;
        let sig =
            authorship::check(author.key.as_ref().map(|k| k.as_slice()), &change.hash(), sigs)
                .map_err(|e| Denied::new("peer.signature", e.to_string()))?;
        Ok((&author.profile, sig))
    }
}

/// Judges `fresh` (in causal order), the changes that take `base` (the stored document; `None`
/// if it is new here) to `merged`, for `me`, who will hold the result; `sigs` are the
/// signatures that came with them. Returns the signatures of `fresh`, checked, to keep.
pub(crate) fn judge(
    id: DocId,
    base: Option<&AutoCommit>,
    merged: &mut AutoCommit,
    fresh: &[Change],
    authors: &Authors,
    sigs: &HashMap<ChangeHash, Signature>,
    me: &Profile,
) -> Result<Vec<(ChangeHash, Signature)>, Denied> {
    let mut checked = Vec::with_capacity(fresh.len());
    policy::check_each_change(id, base, merged, fresh, |change| {
        let (profile, sig) = authors.signed(change, sigs)?;
        checked.push((change.hash(), sig));
        Ok(profile)
    })?;
    let now =
        model::read_record(merged, id).map_err(|e| Denied::new("peer.record", e.to_string()))?;
    let current = match base {
        Some(b) => {
            Some(model::read_record(b, id).map_err(|e| Denied::new("peer.record", e.to_string()))?)
        }
        None => None,
    };
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
    Ok(checked)
}
