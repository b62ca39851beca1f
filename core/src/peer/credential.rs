//! Credentials a phone shows another phone, checkable offline: the server signs (ed25519) who a
//! device is and what it may do, and a peer that pinned the server's public key at enrolment
//! checks the signature, the expiry and the revocation list it got at its last sync.
//!
//! ed25519 is ring's: ring is already in the phone library (rustls's provider), so credentials
//! add no code to it, and the server builds it too.

use automerge::ActorId;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::authorship::DeviceKey;
use crate::policy::Profile;

/// What a signature over a credential's body starts with, so no other signed bytes pass as one.
const CREDENTIAL_CONTEXT: &[u8] = b"fieldsync credential v1\0";
/// What a signature over a revocation list's body starts with.
const REVOCATIONS_CONTEXT: &[u8] = b"fieldsync revocations v1\0";
/// The largest credential or revocation list body read (CBOR).
const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a credential is valid by default: 7 days, in ms.
pub const DEFAULT_VALIDITY_MS: i64 = 7 * 24 * 3600 * 1000;

/// What the server says of a device (the signed part of a [`Credential`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialBody {
    /// The device's id on the server.
    pub device: String,
    /// Its user.
    pub user: String,
    /// The user's role (as `Role` spells it).
    pub role: String,
    /// For a patrol member: police, cadre or volunteer.
    pub patrol: Option<String>,
    /// The user's scopes.
    pub scopes: Vec<String>,
    /// The Automerge actor of the device's changes.
    pub actor: ByteBuf,
    /// When it was issued, ms since the epoch.
    pub issued_at: i64,
    /// When it stops being valid, ms since the epoch.
    pub expires_at: i64,
    /// The device's own public key (ed25519, 32 bytes), which its changes are signed with
    /// (`crate::authorship`); absent for a device enrolled before devices had keys, whose
    /// changes no peer takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<ByteBuf>,
}

/// A credential as it travels: the CBOR body and the server's signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// [`CredentialBody`] as CBOR.
    pub body: ByteBuf,
    /// ed25519 signature of the context and the body.
    pub sig: ByteBuf,
}

/// The devices the server revoked, as of `issued_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Revocations {
    /// When the server made the list, ms since the epoch.
    pub issued_at: i64,
    /// Device ids.
    pub devices: Vec<String>,
}

/// A revocation list as it travels: the CBOR body and the server's signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRevocations {
    /// [`Revocations`] as CBOR.
    pub body: ByteBuf,
    /// ed25519 signature of the context and the body.
    pub sig: ByteBuf,
}

/// Why a credential was refused: told to both sides.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialRefusal {
    /// The signature is not the pinned server's.
    #[error("the credential is not signed by this phone's server")]
    Forged,
    /// Its validity ended.
    #[error("the credential of device {device} expired at {expires_at} (now {now})")]
    Expired {
        /// The device it names.
        device: String,
        /// When it expired, ms.
        expires_at: i64,
        /// The time it was checked at, ms.
        now: i64,
    },
    /// The server revoked the device.
    #[error("device {device} is revoked")]
    Revoked {
        /// The device.
        device: String,
    },
    /// The body does not read as a credential.
    #[error("malformed credential: {0}")]
    Malformed(String),
    /// This side has no credential to show, or no server key to check the other's with.
    #[error("this phone holds no peer credential; sync with the server first")]
    NotEnrolled,
    /// The peer did not prove that it holds the device key its credential names (no key in
    /// the credential, no proof, or a proof that does not check): the credential may be stolen.
    #[error("the peer did not prove it holds device {device}'s key: {why}")]
    Unproven {
        /// The device the credential names.
        device: String,
        /// What was wrong.
        why: String,
    },
}

impl CredentialRefusal {
    /// The code that names the reason on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialRefusal::Forged => "forged",
            CredentialRefusal::Expired { .. } => "expired",
            CredentialRefusal::Revoked { .. } => "revoked",
            CredentialRefusal::Malformed(_) => "malformed",
            CredentialRefusal::NotEnrolled => "not_enrolled",
            CredentialRefusal::Unproven { .. } => "unproven",
        }
    }
}

/// A credential whose signature checked: who the device is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The device id.
    pub device: String,
    /// The profile its changes are judged with.
    pub profile: Profile,
    /// The actor of its changes.
    pub actor: ActorId,
    /// When it stops being valid, ms.
    pub expires_at: i64,
    /// The device's public key, which its changes are signed with.
    pub key: Option<[u8; 32]>,
}

fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and these bodies have no maps with non-string keys.
    if let Err(e) = ciborium::into_writer(value, &mut out) {
        tracing::error!("CBOR encoding failed: {e}");
    }
    out
}

fn from_cbor<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, CredentialRefusal> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(CredentialRefusal::Malformed(format!("{} bytes", bytes.len())));
    }
    ciborium::from_reader(bytes).map_err(|e| CredentialRefusal::Malformed(e.to_string()))
}

fn signed(context: &[u8], body: &[u8]) -> Vec<u8> {
    [context, body].concat()
}

/// The server's signing key: an ed25519 key kept by its seed, as a device's is.
pub struct Issuer {
    key: DeviceKey,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("public_key", &hex::encode(self.public_key())).finish()
    }
}

impl Issuer {
    /// A new random key.
    pub fn generate() -> Issuer {
        Issuer { key: DeviceKey::generate() }
    }

    /// The key with this 32-byte seed (as [`Issuer::seed`] gives it).
    pub fn from_seed(seed: &[u8; 32]) -> Issuer {
        Issuer { key: DeviceKey::from_seed(seed) }
    }

    /// The seed to keep the key with.
    pub fn seed(&self) -> &[u8; 32] {
        self.key.seed()
    }

    /// The public key phones pin.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.public_key()
    }

    /// Signs a credential.
    pub fn credential(&self, body: &CredentialBody) -> Credential {
        let body = to_cbor(body);
        let sig = self.key.sign_bytes(&signed(CREDENTIAL_CONTEXT, &body));
        Credential { body: ByteBuf::from(body), sig: ByteBuf::from(sig) }
    }

    /// Signs a revocation list.
    pub fn revocations(&self, list: &Revocations) -> SignedRevocations {
        let body = to_cbor(list);
        let sig = self.key.sign_bytes(&signed(REVOCATIONS_CONTEXT, &body));
        SignedRevocations { body: ByteBuf::from(body), sig: ByteBuf::from(sig) }
    }
}

fn check_signature(
    server_key: &[u8],
    context: &[u8],
    body: &[u8],
    sig: &[u8],
) -> Result<(), CredentialRefusal> {
    UnparsedPublicKey::new(&ED25519, server_key)
        .verify(&signed(context, body), sig)
        .map_err(|_| CredentialRefusal::Forged)
}

impl Credential {
    /// Checks the signature against `server_key` and reads the body, without looking at the
    /// expiry or the revocation list.
    pub fn open(&self, server_key: &[u8]) -> Result<Verified, CredentialRefusal> {
        check_signature(server_key, CREDENTIAL_CONTEXT, &self.body, &self.sig)?;
        let b: CredentialBody = from_cbor(&self.body)?;
        let profile = Profile::parse(b.user, &b.role, b.patrol.as_deref(), b.scopes)
            .map_err(|e| CredentialRefusal::Malformed(e.to_string()))?;
        let key = match &b.key {
            None => None,
            Some(k) => Some(<[u8; 32]>::try_from(k.as_slice()).map_err(|_| {
                CredentialRefusal::Malformed(format!("a device key of {} bytes", k.len()))
            })?),
        };
        Ok(Verified {
            device: b.device,
            profile,
            actor: ActorId::from(b.actor.as_slice()),
            expires_at: b.expires_at,
            key,
        })
    }

    /// Checks everything before a session: the signature, the expiry as of `now` (ms) and the
    /// revocation list.
    pub fn verify(
        &self,
        server_key: &[u8],
        now: i64,
        revoked: &Revocations,
    ) -> Result<Verified, CredentialRefusal> {
        let v = self.open(server_key)?;
        if revoked.devices.contains(&v.device) {
            return Err(CredentialRefusal::Revoked { device: v.device });
        }
        if v.expires_at <= now {
            return Err(CredentialRefusal::Expired {
                device: v.device,
                expires_at: v.expires_at,
                now,
            });
        }
        Ok(v)
    }
}

impl SignedRevocations {
    /// The list, if the pinned server signed it.
    pub fn open(&self, server_key: &[u8]) -> Result<Revocations, CredentialRefusal> {
        check_signature(server_key, REVOCATIONS_CONTEXT, &self.body, &self.sig)?;
        from_cbor(&self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Role;

    fn body(expires_at: i64) -> CredentialBody {
        CredentialBody {
            device: "dev-1".into(),
            user: "li".into(),
            role: "patrol".into(),
            patrol: Some("police".into()),
            scopes: vec!["jl/valley".into()],
            actor: ByteBuf::from(vec![7; 16]),
            issued_at: 0,
            expires_at,
            key: Some(ByteBuf::from(vec![5; 32])),
        }
    }

    #[test]
    fn the_device_key_travels_signed_and_a_bad_one_is_malformed() {
        let server = Issuer::generate();
        let v = server.credential(&body(1_000)).open(&server.public_key()).unwrap();
        assert_eq!(v.key, Some([5; 32]));
        let keyless = server.credential(&CredentialBody { key: None, ..body(1_000) });
        assert_eq!(keyless.open(&server.public_key()).unwrap().key, None);
        let short = CredentialBody { key: Some(ByteBuf::from(vec![1; 31])), ..body(1_000) };
        let r = server.credential(&short).open(&server.public_key());
        assert_eq!(r.unwrap_err().code(), "malformed");
    }

    #[test]
    fn a_signed_credential_verifies_and_others_do_not() {
        let server = Issuer::generate();
        let key = server.public_key();
        let cred = server.credential(&body(1_000));
        let v = cred.verify(&key, 10, &Revocations::default()).unwrap();
        assert_eq!((v.device.as_str(), v.profile.role), ("dev-1", Role::Patrol));
        assert_eq!(v.actor, ActorId::from(&[7u8; 16][..]));

        let other = Issuer::generate();
        assert_eq!(
            cred.verify(&other.public_key(), 10, &Revocations::default()),
            Err(CredentialRefusal::Forged)
        );
        let mut tampered = cred.clone();
        tampered.body =
            ByteBuf::from(to_cbor(&CredentialBody { role: "admin".into(), ..body(1_000) }));
        assert_eq!(
            tampered.verify(&key, 10, &Revocations::default()),
            Err(CredentialRefusal::Forged)
        );
        assert_eq!(
            cred.verify(&key, 1_000, &Revocations::default()).unwrap_err().code(),
            "expired"
        );
        let revoked = Revocations { issued_at: 5, devices: vec!["dev-1".into()] };
        assert_eq!(cred.verify(&key, 10, &revoked).unwrap_err().code(), "revoked");
    }

    #[test]
    fn revocation_lists_are_signed() {
        let server = Issuer::generate();
        let list = Revocations { issued_at: 3, devices: vec!["a".into()] };
        let signed = server.revocations(&list);
        assert_eq!(signed.open(&server.public_key()), Ok(list));
        assert_eq!(signed.open(&Issuer::generate().public_key()), Err(CredentialRefusal::Forged));
        // A credential's signature does not pass as a revocation list's.
        let cred = server.credential(&body(1));
        let fake = SignedRevocations { body: cred.body, sig: cred.sig };
        assert_eq!(fake.open(&server.public_key()), Err(CredentialRefusal::Forged));
    }

    #[test]
    fn the_seed_keeps_the_key() {
        let a = Issuer::generate();
        assert_eq!(Issuer::from_seed(a.seed()).public_key(), a.public_key());
    }
}
