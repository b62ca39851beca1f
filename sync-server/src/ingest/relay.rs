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
use fieldsync_core::model::Record;
use fieldsync_core::policy::{self, Denied, Profile};

use super::author::Author;
use super::refusal::{Refusal, StaleAuthor, code};

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
        /// The rights the author's credential that came with the push names (the server's own
        /// word of what the author could do when it issued it), when one came and checked.
        granted: Option<Profile>,
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

/// The author of relayed changes: their rights now, and those their credential granted.
#[derive(Debug)]
struct Relayed {
    author: Author,
    granted: Option<Profile>,
}

/// Who made each fresh change, when not the pusher, and the signature each came with.
#[derive(Debug, Default)]
pub(crate) struct Authorship {
    /// The authors of relayed changes, by actor.
    relayed: HashMap<ActorId, Relayed>,
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
            Some(RelayedAuthor::Known { author, key, granted }) => {
                let sig = authorship::check(key.as_deref(), &hash, sigs)
                    .map_err(|e| signature_refusal(id, e))?;
                let relayed = Relayed { author: author.clone(), granted: granted.clone() };
                out.relayed.insert(c.actor_id().clone(), relayed);
                out.per_change.insert(hash, (Some(author.device.clone()), Some(sig.0.to_vec())));
            }
        }
    }
    Ok(out)
}

/// Judges `fresh` (in causal order), which take `base` (`None`: a new document) to `merged`,
/// whose record is `record`, change by change under each author's rights: the pusher's or a
/// relayed author's. A refused change is `stale_rights` when its author was entitled to it then
/// and is not now, as for a direct push: the pusher's when its device has not heard of its
/// rights change; a relayed author's when the rights their credential granted allow it (listed
/// under that author). Otherwise it is `forbidden`.
pub(crate) fn judge_each(
    id: DocId,
    base: Option<&AutoCommit>,
    merged: &mut AutoCommit,
    fresh: &[Change],
    pusher: &Author,
    who: &Authorship,
    record: &Record,
) -> Result<(), Refusal> {
    let now = |c: &Change| {
        Some(who.relayed.get(c.actor_id()).map_or(&pusher.profile, |r| &r.author.profile))
    };
    let Err((d, culprit)) = check_each(id, base, merged, fresh, now) else {
        return Ok(());
    };
    let (user, stale) = match culprit.as_ref().and_then(|a| who.relayed.get(a).map(|r| (a, r))) {
        None => (pusher.profile.user.clone(), pusher.rights_changed.then_some(None)),
        Some((actor, r)) => {
            let then = |c: &Change| match who.relayed.get(c.actor_id()) {
                Some(x) if c.actor_id() == actor => x.granted.as_ref(),
                Some(x) => Some(&x.author.profile),
                None => Some(&pusher.profile),
            };
            let entitled = r.granted.is_some() && check_each(id, base, merged, fresh, then).is_ok();
            let author = StaleAuthor {
                device: r.author.device.clone(),
                user: r.author.profile.user.clone(),
            };
            (author.user.clone(), entitled.then_some(Some(author)))
        }
    };
    let message = format!("{user} may not make these changes to {id} ({}): {}", d.rule, d.message);
    Err(match stale {
        Some(author) => Refusal::stale(
            format!("{message} (the author's rights changed since the change was made)"),
            record,
            author,
        ),
        None => Refusal::rejected(code::FORBIDDEN, message),
    })
}

/// Core's check of each change (`policy::check_each_change`), each under the profile
/// `profile_of` gives it; when one is refused, the actor of that change with the reason.
fn check_each<'p>(
    id: DocId,
    base: Option<&AutoCommit>,
    merged: &mut AutoCommit,
    fresh: &[Change],
    profile_of: impl Fn(&Change) -> Option<&'p Profile>,
) -> Result<(), (Denied, Option<ActorId>)> {
    let mut judged = None;
    policy::check_each_change(id, base, merged, fresh, |c| {
        judged = Some(c.actor_id().clone());
        profile_of(c).ok_or_else(|| {
            let message = format!("no rights are known for actor {}", c.actor_id());
            Denied { rule: "peer.author", message }
        })
    })
    .map_err(|d| (d, judged))
}
