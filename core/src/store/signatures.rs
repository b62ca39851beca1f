//! Signed changes on the phone (docs/peer.md, "Signed changes"): this device's key (its seed in
//! `meta`, inside the encrypted store), made when the phone first enrolls and kept after; and
//! the signatures of other devices' changes this phone holds (`change_sigs`), kept as they came
//! so that they go on with the changes. This phone's own changes are signed as they leave: the
//! key is the device's, so a change of its actor is its own to sign, and nothing is stored or
//! slowed on the write path.

use std::collections::HashMap;
use std::sync::Arc;

use automerge::{ActorId, Change, ChangeHash};
use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use super::writer::Writer;
use crate::authorship::{ChangeSig, DeviceKey, Signature};
use crate::error::{CoreError, Result};
use crate::protocol::SignedBy;

const DEVICE_KEY: &str = "device_key";

impl Store {
    /// This device's signing key, made (and kept) on first use: enrolment sends its public key
    /// to the server.
    pub fn device_key(&self) -> Result<Arc<DeviceKey>> {
        let mut w = self.writer();
        if let Some(key) = cached_key(&mut w)? {
            return Ok(key);
        }
        let key = Arc::new(w.in_tx(|tx| {
            if let Some(key) = held_key(tx)? {
                return Ok(key);
            }
            let key = DeviceKey::generate();
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![DEVICE_KEY, key.seed().as_slice()],
            )?;
            Ok(key)
        })?);
        w.device_key = Some(key.clone());
        Ok(key)
    }

    /// Keeps the signatures of changes that came from elsewhere (checked by the caller), to
    /// pass them on; signatures held already are kept as they are.
    pub(crate) fn keep_signatures(&self, sigs: &[(ChangeHash, Signature)]) -> Result<()> {
        if sigs.is_empty() {
            return Ok(());
        }
        self.writer().in_tx(|tx| keep(tx, sigs.iter().map(|(h, s)| (h.0, s))))
    }

    /// The signatures that go with `changes` when they leave this phone (see
    /// [`signatures_for`]).
    pub fn signatures_for<'c>(
        &self,
        changes: impl IntoIterator<Item = &'c Change>,
    ) -> Result<Vec<ChangeSig>> {
        let mut w = self.writer();
        let key = cached_key(&mut w)?;
        signatures_for(&w.conn, &w.identity.actor, key.as_deref(), changes)
    }
}

/// Keeps signatures of changes that came from elsewhere (a peer's, checked; the server's, as it
/// stored them), by change hash; signatures held already are kept as they are.
pub(crate) fn keep<'s>(
    conn: &Connection,
    sigs: impl IntoIterator<Item = ([u8; 32], &'s Signature)>,
) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO change_sigs (hash, sig) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for (hash, sig) in sigs {
        insert.execute(params![hash.as_slice(), sig.0.as_slice()])?;
    }
    Ok(())
}

/// This device's key, if it has one yet, read once per writer (it never changes once made).
pub(crate) fn cached_key(w: &mut Writer) -> Result<Option<Arc<DeviceKey>>> {
    if w.device_key.is_none() {
        w.device_key = held_key(&w.conn)?.map(Arc::new);
    }
    Ok(w.device_key.clone())
}

/// This device's key as stored, if it has one yet.
pub(crate) fn held_key(conn: &Connection) -> Result<Option<DeviceKey>> {
    let held: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [DEVICE_KEY], |r| r.get(0))
        .optional()?;
    let Some(seed) = held else { return Ok(None) };
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| CoreError::invalid("database", "the stored device key is not 32 bytes"))?;
    Ok(Some(DeviceKey::from_seed(&seed)))
}

/// The signatures that go with `changes` when they leave this phone: its own (of `actor`,
/// signed now with `key`, the device's key once it has one: [`held_key`]) and those kept for
/// others'. A change whose signature this
/// phone never got (an author's device without a key, a change the server took unsigned)
/// goes without one; its receiver decides.
///
/// A change pulled from the server comes with the signature the server stored for it (version
/// 2 of the sync protocol), kept by [`keep`] as it is applied.
pub(crate) fn signatures_for<'c>(
    conn: &Connection,
    actor: &ActorId,
    key: Option<&DeviceKey>,
    changes: impl IntoIterator<Item = &'c Change>,
) -> Result<Vec<ChangeSig>> {
    let mut out = Vec::new();
    let mut kept = conn.prepare_cached("SELECT sig FROM change_sigs WHERE hash = ?1")?;
    for c in changes {
        let hash = c.hash();
        let sig = if c.actor_id() == actor {
            key.map(|k| k.sign(&hash))
        } else {
            let sig: Option<Vec<u8>> =
                kept.query_row([hash.0.as_slice()], |r| r.get(0)).optional()?;
            sig.and_then(|s| <[u8; 64]>::try_from(s.as_slice()).ok()).map(Signature)
        };
        if let Some(sig) = sig {
            out.push(ChangeSig { hash: hash.into(), sig });
        }
    }
    Ok(out)
}

/// [`signatures_for`], grouped by author as a push carries them.
pub(crate) fn signed_by(
    conn: &Connection,
    actor: &ActorId,
    key: Option<&DeviceKey>,
    changes: &[Change],
) -> Result<Vec<SignedBy>> {
    let sigs = signatures_for(conn, actor, key, changes)?;
    let actor_of: HashMap<ChangeHash, &ActorId> =
        changes.iter().map(|c| (c.hash(), c.actor_id())).collect();
    let mut groups: Vec<SignedBy> = Vec::new();
    for s in sigs {
        let Some(a) = actor_of.get(&ChangeHash::from(s.hash)) else { continue };
        let a = a.to_bytes();
        match groups.iter_mut().find(|g| g.actor == a) {
            Some(g) => g.sigs.push(s),
            None => groups.push(SignedBy { actor: a.to_vec(), sigs: vec![s], credential: None }),
        }
    }
    let own = actor.to_bytes();
    for g in groups.iter_mut().filter(|g| g.actor != own) {
        g.credential = super::peer::held_credential(conn, &g.actor)?;
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;
    use automerge::transaction::Transactable;

    use super::*;
    use crate::authorship::verify;

    #[test]
    fn the_device_key_is_made_once_and_signs_own_changes_and_passes_on_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).unwrap();
        let key = store.device_key().unwrap();
        assert_eq!(store.device_key().unwrap().public_key(), key.public_key());
        drop(store);
        let store = Store::open(dir.path().join("s.db")).unwrap();
        assert_eq!(store.device_key().unwrap().public_key(), key.public_key(), "kept");

        let me = store.identity().actor;
        let mut mine = AutoCommit::new().with_actor(me);
        mine.put(automerge::ROOT, "a", 1).unwrap();
        mine.commit();
        let mut theirs = AutoCommit::new().with_actor(ActorId::from([9u8; 16]));
        theirs.put(automerge::ROOT, "b", 2).unwrap();
        theirs.commit();
        let own = mine.get_changes(&[]);
        let other = theirs.get_changes(&[]);

        let sigs = store.signatures_for(own.iter().chain(&other)).unwrap();
        assert_eq!(sigs.len(), 1, "only its own until another's signature is kept");
        assert!(verify(&key.public_key(), &own[0].hash(), &sigs[0].sig).is_ok());

        let their_key = DeviceKey::generate();
        let their_sig = their_key.sign(&other[0].hash());
        store.keep_signatures(&[(other[0].hash(), their_sig)]).unwrap();
        let sigs = store.signatures_for(own.iter().chain(&other)).unwrap();
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[1].sig, their_sig);
    }
}
