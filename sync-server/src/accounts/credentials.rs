//! Peer credentials (`docs/peer.md`): the server signs, with one ed25519 key kept in the
//! storage (every instance on one database signs with it), who a device is and what it may do,
//! so that phones that meet offline can check each other; and the list of devices revoked while
//! credentials issued before may still be valid.
//!
//! A device gets a credential at enrolment and, in a sync, whenever the one this instance last
//! gave it has less than half its validity left, and the revocation list whenever its content
//! changed since this instance last gave it one: a sync with nothing new stays small. What an
//! instance gave whom is kept in memory only; after a restart everything is given again once.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use fieldsync_core::peer::{Credential, CredentialBody, Issuer, Revocations, SignedRevocations};
use fieldsync_core::poison::Recover;
use fieldsync_core::policy::Profile;
use lru::LruCache;
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

use super::AccountError;
use crate::storage::{Device, Storage};

/// Devices whose last credential and list this instance remembers.
const REMEMBERED: usize = 100_000;
/// How long a revocation list read from the storage is handed out before it is read again, ms.
const LIST_FRESH_MS: i64 = 30_000;

/// What one device was last given.
#[derive(Debug, Clone, Copy)]
struct Given {
    credential_expires: i64,
    list: [u8; 32],
}

/// The list as last read: when, its content's digest, and the signed list.
type Listed = (i64, [u8; 32], SignedRevocations);

/// The server's credential issuer.
pub struct PeerCredentials {
    issuer: Issuer,
    validity_ms: i64,
    listed: Mutex<Option<Listed>>,
    given: Mutex<LruCache<String, Given>>,
}

impl std::fmt::Debug for PeerCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerCredentials").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// What a sync answer carries for peers, when anything.
#[derive(Debug, Clone, Default)]
pub(crate) struct ForPeers {
    /// A fresh credential.
    pub(crate) credential: Option<Credential>,
    /// The revocation list.
    pub(crate) revocations: Option<SignedRevocations>,
}

impl PeerCredentials {
    /// The issuer of `storage`'s key (made and kept on first use), whose credentials are valid
    /// for `validity`.
    pub async fn load(storage: &dyn Storage, validity: Duration) -> Result<Self, AccountError> {
        let candidate = hex::encode(Issuer::generate().seed());
        let seed = storage.peer_key(candidate).await?;
        let seed: [u8; 32] = hex::decode(&seed)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| AccountError::Internal("the stored peer key is not 32 bytes".into()))?;
        Ok(PeerCredentials {
            issuer: Issuer::from_seed(&seed),
            validity_ms: i64::try_from(validity.as_millis()).unwrap_or(i64::MAX).max(1),
            listed: Mutex::new(None),
            given: Mutex::new(LruCache::new(
                NonZeroUsize::new(REMEMBERED).unwrap_or(NonZeroUsize::MIN),
            )),
        })
    }

    /// The public key phones pin at enrolment.
    pub fn public_key(&self) -> [u8; 32] {
        self.issuer.public_key()
    }

    /// A credential for `device` acting for `profile`, valid from `now` (ms).
    pub fn issue(&self, device: &Device, profile: &Profile, now: i64) -> Credential {
        let expires_at = now.saturating_add(self.validity_ms);
        let credential = self.credential_for(device, profile, now);
        let mut given = self.given.lock().recover();
        let list = given.get(&device.id).map_or([0; 32], |g| g.list);
        given.put(device.id.clone(), Given { credential_expires: expires_at, list });
        credential
    }

    /// A credential for `device` acting for `profile`, valid from `now` (ms), handed to
    /// another device (the author of changes it pulls): what the device itself was last given
    /// is not touched.
    pub fn credential_for(&self, device: &Device, profile: &Profile, now: i64) -> Credential {
        let expires_at = now.saturating_add(self.validity_ms);
        self.issuer.credential(&CredentialBody {
            device: device.id.clone(),
            user: profile.user.clone(),
            role: profile.role.as_str().to_string(),
            patrol: profile.patrol.map(|p| p.as_str().to_string()),
            scopes: profile.scopes.clone(),
            actor: ByteBuf::from(device.actor.clone()),
            issued_at: now,
            expires_at,
            key: device.key.clone().map(ByteBuf::from),
        })
    }

    /// The revocation list as of `now`: devices revoked (or whose users were disabled) within
    /// one validity, whose credentials may still be valid.
    pub async fn revocations(
        &self,
        storage: &dyn Storage,
        now: i64,
    ) -> Result<(SignedRevocations, [u8; 32]), AccountError> {
        if let Some((at, digest, list)) = self.listed.lock().recover().as_ref()
            && now.saturating_sub(*at) < LIST_FRESH_MS
        {
            return Ok((list.clone(), *digest));
        }
        let devices = storage.revoked_since(now.saturating_sub(self.validity_ms)).await?;
        let digest: [u8; 32] = Sha256::digest(devices.join("\n").as_bytes()).into();
        let list = self.issuer.revocations(&Revocations { issued_at: now, devices });
        *self.listed.lock().recover() = Some((now, digest, list.clone()));
        Ok((list, digest))
    }

    /// What a sync answer to `device` carries for peers at `now`: a credential when the last
    /// one this instance gave has less than half its validity left, the list when it changed.
    pub(crate) async fn for_sync(
        &self,
        storage: &dyn Storage,
        device: &Device,
        profile: &Profile,
        now: i64,
    ) -> Result<ForPeers, AccountError> {
        let (list, digest) = self.revocations(storage, now).await?;
        let last = self.given.lock().recover().get(&device.id).copied();
        let credential = match last {
            Some(g) if g.credential_expires - now > self.validity_ms / 2 => None,
            _ => Some(self.issue(device, profile, now)),
        };
        let mut given = self.given.lock().recover();
        let entry = given.get_or_insert_mut(device.id.clone(), || Given {
            credential_expires: 0,
            list: [0; 32],
        });
        let revocations = (entry.list != digest || credential.is_some()).then_some(list);
        entry.list = digest;
        Ok(ForPeers { credential, revocations })
    }
}
