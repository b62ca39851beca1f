//! Proof of the device key (`docs/peer.md`, "Proof"): a credential is signed by the server but
//! travels like a bearer token, so each side also proves that it holds the device key whose
//! public key its credential names. Each hello carries a fresh random nonce; each side then
//! signs the other's nonce (the challenge), its own, and both credentials with its device key,
//! and the other checks the signature against the key in the credential before it shares
//! anything. A stolen credential, shown by a phone without the key, opens nothing.

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use super::Credential;
use crate::authorship::{DeviceKey, SIGNATURE_BYTES, Signature};

/// What a proof signs first, so that no other signed bytes (a change's, a credential's) pass
/// as one.
pub const PROOF_CONTEXT: &[u8] = b"fieldsync peer proof v1\0";
/// Bytes of a hello's nonce.
pub const NONCE_BYTES: usize = 32;

/// A hello's nonce: 32 random bytes, exactly (a CBOR byte string of another length does not
/// decode).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce(pub [u8; NONCE_BYTES]);

impl Nonce {
    /// A fresh nonce from the system's random source.
    pub fn random() -> Nonce {
        let mut out = [0u8; NONCE_BYTES];
        if SystemRandom::new().fill(&mut out).is_err() {
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut out);
        }
        Nonce(out)
    }
}

impl std::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nonce({}…)", hex::encode(&self.0[..8]))
    }
}

impl Serialize for Nonce {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Nonce {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes::ByteBuf = Deserialize::deserialize(d)?;
        let arr: [u8; NONCE_BYTES] = bytes.as_slice().try_into().map_err(|_| {
            serde::de::Error::custom(format!("a nonce is {NONCE_BYTES} bytes, not {}", bytes.len()))
        })?;
        Ok(Nonce(arr))
    }
}

/// What a side signs to prove its key: the context, the nonce the other side sent (the
/// challenge), its own nonce, then its own credential and the other's (each as a 4-byte
/// big-endian length and the bytes of its body and server signature). Each side's proof
/// names both nonces in its own order and both credentials, so it answers only this session's
/// challenge, from this prover to this verifier: a proof cannot be replayed, reflected back
/// at its maker, or relayed to a third phone.
pub fn transcript(
    challenge: &Nonce,
    own: &Nonce,
    prover: &Credential,
    verifier: &Credential,
) -> Vec<u8> {
    let parts = [&prover.body[..], &prover.sig[..], &verifier.body[..], &verifier.sig[..]];
    let mut out = Vec::with_capacity(
        PROOF_CONTEXT.len() + 2 * NONCE_BYTES + parts.iter().map(|p| 4 + p.len()).sum::<usize>(),
    );
    out.extend_from_slice(PROOF_CONTEXT);
    out.extend_from_slice(&challenge.0);
    out.extend_from_slice(&own.0);
    for p in parts {
        out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// The proof `key` gives of itself, answering `challenge` (see [`transcript`]).
pub fn prove(
    key: &DeviceKey,
    challenge: &Nonce,
    own: &Nonce,
    prover: &Credential,
    verifier: &Credential,
) -> Signature {
    let mut out = [0u8; SIGNATURE_BYTES];
    out.copy_from_slice(&key.sign_bytes(&transcript(challenge, own, prover, verifier)));
    Signature(out)
}

/// Checks the proof `sig` of the holder of `key` (the prover's credential's), who answered
/// `challenge` (the verifier's nonce) with its own nonce `theirs`.
pub fn check(
    key: &[u8],
    sig: &Signature,
    challenge: &Nonce,
    theirs: &Nonce,
    prover: &Credential,
    verifier: &Credential,
) -> bool {
    UnparsedPublicKey::new(&ED25519, key)
        .verify(&transcript(challenge, theirs, prover, verifier), &sig.0)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use serde_bytes::ByteBuf;

    use super::*;

    fn credential(n: u8) -> Credential {
        Credential { body: ByteBuf::from(vec![n; 40]), sig: ByteBuf::from(vec![n; 64]) }
    }

    #[test]
    fn a_proof_checks_only_for_its_session_and_direction() {
        let key = DeviceKey::generate();
        let (a, b) = (credential(1), credential(2));
        let (challenge, own) = (Nonce::random(), Nonce::random());
        let sig = prove(&key, &challenge, &own, &a, &b);
        assert!(check(&key.public_key(), &sig, &challenge, &own, &a, &b));
        // Another challenge, the nonces swapped (reflected), other credentials, another key.
        assert!(!check(&key.public_key(), &sig, &Nonce::random(), &own, &a, &b));
        assert!(!check(&key.public_key(), &sig, &own, &challenge, &a, &b));
        assert!(!check(&key.public_key(), &sig, &challenge, &own, &b, &a));
        assert!(!check(&key.public_key(), &sig, &challenge, &own, &a, &credential(3)));
        assert!(!check(&DeviceKey::generate().public_key(), &sig, &challenge, &own, &a, &b));
        assert!(!check(&[0; 5], &sig, &challenge, &own, &a, &b), "a key of another length");
    }
}
