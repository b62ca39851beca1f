//! Authorship that survives relaying: each device holds an ed25519 key of its own, made on the
//! phone at enrolment (the server records its public key), and signs the changes it makes, so
//! that a change passed from phone to phone, and on to the server, is checked as its author's
//! wherever it arrives (`docs/peer.md`, "Signed changes"; `docs/protocol.md`, version 2).
//!
//! What is signed is the change's Automerge hash (SHA-256 over the change's bytes, so it binds
//! everything the change holds, its actor and dependencies included) after a context string:
//! a change signature cannot be replayed as a credential or anything else signed with ed25519.

use std::collections::HashMap;

use automerge::ChangeHash;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::protocol::Hash;

/// What a change signature covers before the change hash.
pub const CHANGE_CONTEXT: &[u8] = b"fieldsync change v1\0";
/// Bytes of a device's public key.
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Bytes of a signature.
pub const SIGNATURE_BYTES: usize = 64;

/// A device's signing key: the phone keeps its seed in its (encrypted) store.
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    seed: [u8; 32],
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the seed.
        f.debug_struct("DeviceKey").field("public_key", &hex::encode(self.public_key())).finish()
    }
}

impl DeviceKey {
    /// A new key from the system's random source.
    pub fn generate() -> DeviceKey {
        let mut seed = [0u8; 32];
        if ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut seed).is_err() {
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        }
        Self::from_seed(&seed)
    }

    /// The key with this 32-byte seed (as [`DeviceKey::seed`] gives it).
    pub fn from_seed(seed: &[u8; 32]) -> DeviceKey {
        // Any 32 bytes are a valid ed25519 seed, so this cannot fail.
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .unwrap_or_else(|_| unreachable!("every 32-byte seed is an ed25519 key"));
        DeviceKey { pair, seed: *seed }
    }

    /// The seed to keep the key with.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public key the server records at enrolment.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_BYTES] {
        let mut out = [0u8; PUBLIC_KEY_BYTES];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Signs the change with hash `hash`.
    pub fn sign(&self, hash: &ChangeHash) -> Signature {
        let mut out = [0u8; SIGNATURE_BYTES];
        out.copy_from_slice(&self.sign_bytes(&signed(hash)));
        Signature(out)
    }

    /// Signs `message` as it is (the caller puts a context first): the server's credentials.
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

fn signed(hash: &ChangeHash) -> Vec<u8> {
    [CHANGE_CONTEXT, &hash.0].concat()
}

/// Why a change's signature does not make it its author's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature came with the change.
    #[error("change {hash} comes without its author's signature")]
    Missing {
        /// The change.
        hash: ChangeHash,
    },
    /// The signature is not its author's key's over this change.
    #[error("the signature of change {hash} is not its author's")]
    Invalid {
        /// The change.
        hash: ChangeHash,
    },
    /// The author's device has no recorded key (enrolled before devices had keys).
    #[error("the author of change {hash} has no device key; its changes cannot be relayed")]
    NoKey {
        /// The change.
        hash: ChangeHash,
    },
}

/// Checks that `sig` is the signature of the change `hash` by the device whose public key is
/// `key`. A key of the wrong length does not check.
pub fn verify(key: &[u8], hash: &ChangeHash, sig: &Signature) -> Result<(), SignatureError> {
    UnparsedPublicKey::new(&ED25519, key)
        .verify(&signed(hash), &sig.0)
        .map_err(|_| SignatureError::Invalid { hash: *hash })
}

/// An ed25519 signature: exactly 64 bytes on the wire (a CBOR byte string of another length
/// does not decode).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; SIGNATURE_BYTES]);

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..8]))
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes::ByteBuf = Deserialize::deserialize(d)?;
        let arr: [u8; SIGNATURE_BYTES] = bytes.as_slice().try_into().map_err(|_| {
            serde::de::Error::custom(format!(
                "a signature is {SIGNATURE_BYTES} bytes, not {}",
                bytes.len()
            ))
        })?;
        Ok(Signature(arr))
    }
}

/// A change's signature as it travels beside the change (peer rounds, pushes, pulls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSig {
    /// The change's hash.
    pub hash: Hash,
    /// Its author's signature of it.
    pub sig: Signature,
}

/// Signatures by the hash of the change they sign, as read from the wire.
pub fn by_hash(sigs: &[ChangeSig]) -> HashMap<ChangeHash, Signature> {
    sigs.iter().map(|s| (ChangeHash::from(s.hash), s.sig)).collect()
}

/// Checks the signature `sigs` holds for change `hash` against its author's `key`.
pub fn check(
    key: Option<&[u8]>,
    hash: &ChangeHash,
    sigs: &HashMap<ChangeHash, Signature>,
) -> Result<Signature, SignatureError> {
    let key = key.ok_or(SignatureError::NoKey { hash: *hash })?;
    let sig = sigs.get(hash).ok_or(SignatureError::Missing { hash: *hash })?;
    verify(key, hash, sig)?;
    Ok(*sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_checks_with_its_key_only_and_for_its_change_only() {
        let a = DeviceKey::generate();
        let b = DeviceKey::generate();
        let h = ChangeHash([7; 32]);
        let sig = a.sign(&h);
        assert_eq!(verify(&a.public_key(), &h, &sig), Ok(()));
        assert_eq!(verify(&b.public_key(), &h, &sig), Err(SignatureError::Invalid { hash: h }));
        let other = ChangeHash([8; 32]);
        assert!(verify(&a.public_key(), &other, &sig).is_err());
        // A key of the wrong length, a flipped bit: refused, no panic.
        assert!(verify(&a.public_key()[..31], &h, &sig).is_err());
        let mut flipped = sig;
        flipped.0[0] ^= 1;
        assert!(verify(&a.public_key(), &h, &flipped).is_err());
    }

    #[test]
    fn the_context_keeps_a_change_signature_from_passing_as_a_plain_one() {
        let a = DeviceKey::generate();
        let h = ChangeHash([1; 32]);
        let plain = a.pair.sign(&h.0);
        let mut raw = [0u8; SIGNATURE_BYTES];
        raw.copy_from_slice(plain.as_ref());
        assert!(verify(&a.public_key(), &h, &Signature(raw)).is_err());
    }

    #[test]
    fn the_seed_keeps_the_key() {
        let a = DeviceKey::generate();
        let again = DeviceKey::from_seed(a.seed());
        assert_eq!(again.public_key(), a.public_key());
        let h = ChangeHash([3; 32]);
        assert_eq!(again.sign(&h), a.sign(&h), "ed25519 signs deterministically");
    }

    #[test]
    fn signatures_of_another_length_do_not_decode() {
        for len in [0usize, 63, 65, 4096] {
            let mut bytes = Vec::new();
            ciborium::into_writer(&serde_bytes::ByteBuf::from(vec![0u8; len]), &mut bytes).unwrap();
            let r: Result<Signature, _> = ciborium::from_reader(bytes.as_slice());
            assert!(r.is_err(), "{len} bytes");
        }
        let h = ChangeHash([2; 32]);
        let key = DeviceKey::generate();
        let sigs = by_hash(&[ChangeSig { hash: h.into(), sig: key.sign(&h) }]);
        assert!(check(Some(&key.public_key()), &h, &sigs).is_ok());
        let other = ChangeHash([4; 32]);
        assert_eq!(
            check(Some(&key.public_key()), &other, &sigs),
            Err(SignatureError::Missing { hash: other })
        );
        assert_eq!(check(None, &h, &sigs), Err(SignatureError::NoKey { hash: h }));
    }
}
