//! Changes a phone pushes that other devices made and passed to it over peer links (docs/peer.md,
//! "Signed changes"; docs/protocol.md, "Relayed changes"). Each is taken as its author's, not the
//! pusher's, only when its actor is bound to an enrolled device that is not revoked (nor its user
//! disabled), and it carries that device's signature, by the key recorded at its enrolment; then
//! it is judged by the write policy under its author's rights as the server holds them now, as
//! the author saw the record (core's `policy::check_each_change`, the peers' own check).

use std::collections::HashMap;

use automerge::{ActorId, AutoCommit, Change, ChangeHash};
use fieldsync_core::DocId;
use fieldsync_core::authorship::{self, ChangeSig, Signature, SignatureError};
use fieldsync_core::policy::{self, Denied, Profile};

use super::author::Author;
use super::refusal::{Refusal, code};

/// An author a push names (`PushDoc::signed`) besides the pusher, as the server found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RelayedAuthor {
    /// An enrolled device in good standing: its author, and its recorded key (`None`: enrolled
    /// before devices had keys; its changes are taken only from itself).
    Known {
        /// The author, with their profile now.
        author: Author,
        /// The device's public key.
        key: Option<Vec<u8>>,
    },
    /// A revoked device, or one whose user is disabled: nothing relayed of it is taken.
    Revoked {
        /// The device id.
        device: String,
    },
}

/// The authors of one push besides the pusher, by actor.
pub(crate) type RelayedAuthors = HashMap<Vec<u8>, RelayedAuthor>;

/// What came with one document's pushed changes: their signatures, and the other authors the
/// push names.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Signed<'a> {
    /// Signatures, by the hash of the change they sign.
    pub(crate) sigs: Option<&'a HashMap<ChangeHash, Signature>>,
    /// The other authors.
    pub(crate) authors: Option<&'a RelayedAuthors>,
}

/// The signatures of a pushed document's changes, by hash.
pub(crate) fn sigs_of(
    signed: &[fieldsync_core::protocol::SignedBy],
) -> HashMap<ChangeHash, Signature> {
    signed.iter().flat_map(|g| g.sigs.iter()).map(|s: &ChangeSig| (s.hash.into(), s.sig)).collect()
}

/// Who made each fresh change, when not the pusher, and the signature each came with.
#[derive(Debug, Default)]
pub(crate) struct Authorship {
    /// The authors of relayed changes, by actor.
    relayed: HashMap<ActorId, Author>,
    /// Per change: the device that made it (relayed only) and its checked signature.
    per_change: HashMap<ChangeHash, (Option<String>, Option<Vec<u8>>)>,
}

impl Authorship {
    /// Whether any change is another device's.
    pub(crate) fn relays(&self) -> bool {
        !self.relayed.is_empty()
    }

    /// The device and signature to log with `hash`.
    pub(crate) fn of(&self, hash: &ChangeHash) -> (Option<String>, Option<Vec<u8>>) {
        self.per_change.get(hash).cloned().unwrap_or_default()
    }
}

fn signature_refusal(id: DocId, e: SignatureError) -> Refusal {
    match e {
        SignatureError::NoKey { .. } => Refusal::rejected(
            code::FORGED_ACTOR,
            format!("a change for {id} was relayed from a device that has no key: {e}"),
        ),
        SignatureError::Missing { .. } | SignatureError::Invalid { .. } => {
            Refusal::rejected(code::BAD_SIGNATURE, format!("{e}; nothing of {id} was stored"))
        }
    }
}

/// Checks who made each of `fresh`: the pusher `a` (a signature it sent is checked against its
/// key, when it has one), or an author `signed` names, with a valid signature.
pub(crate) fn authorship(
    id: DocId,
    fresh: &[Change],
    a: &Author,
    signed: Signed<'_>,
) -> Result<Authorship, Refusal> {
    let empty = HashMap::new();
    let sigs = signed.sigs.unwrap_or(&empty);
    let mut out = Authorship::default();
    for c in fresh {
        let hash = c.hash();
        let actor = c.actor_id().to_bytes();
        if actor == a.actor.as_slice() {
            let sig = match (&a.key, sigs.get(&hash)) {
                (Some(key), Some(sig)) => {
                    authorship::verify(key, &hash, sig).map_err(|e| signature_refusal(id, e))?;
                    Some(sig.0.to_vec())
                }
                _ => None,
            };
            out.per_change.insert(hash, (None, sig));
            continue;
        }
        let forged = || {
            Refusal::rejected(
                code::FORGED_ACTOR,
                format!(
                    "a change for {id} carries actor {}, which is neither this device's {} nor \
                     that of a device whose signed changes it relays; nothing of it was stored",
                    c.actor_id(),
                    ActorId::from(a.actor.as_slice())
                ),
            )
        };
        match signed.authors.and_then(|m| m.get(actor)) {
            None => return Err(forged()),
            Some(RelayedAuthor::Revoked { device }) => {
                return Err(Refusal::rejected(
                    code::REVOKED_AUTHOR,
                    format!(
                        "a change for {id} was made by device {device}, which is revoked; nothing \
                         of it was stored"
                    ),
                ));
            }
            Some(RelayedAuthor::Known { author, key }) => {
                let sig = authorship::check(key.as_deref(), &hash, sigs)
                    .map_err(|e| signature_refusal(id, e))?;
                out.relayed.insert(c.actor_id().clone(), author.clone());
                out.per_change.insert(hash, (Some(author.device.clone()), Some(sig.0.to_vec())));
            }
        }
    }
    Ok(out)
}

/// Judges `fresh` (in causal order), which take `base` (`None`: a new document) to `merged`,
/// change by change under each author's rights: the pusher's or a relayed author's.
pub(crate) fn judge_each(
    id: DocId,
    base: Option<&AutoCommit>,
    merged: &mut AutoCommit,
    fresh: &[Change],
    pusher: &Author,
    who: &Authorship,
) -> Result<(), Refusal> {
    let profile_of = |c: &Change| -> Result<&Profile, Denied> {
        match who.relayed.get(c.actor_id()) {
            Some(author) => Ok(&author.profile),
            None => Ok(&pusher.profile),
        }
    };
    let mut refused_author = String::new();
    policy::check_each_change(id, base, merged, fresh, |c| {
        let p = profile_of(c)?;
        refused_author.clone_from(&p.user);
        Ok(p)
    })
    .map_err(|d| {
        Refusal::rejected(
            code::FORBIDDEN,
            format!(
                "{refused_author} may not make these changes to {id} ({}): {}",
                d.rule, d.message
            ),
        )
    })
}
