//! The authors of changes a phone relays (docs/protocol.md, "Relayed changes"): for each actor a
//! push names beside the pusher's own, the enrolled device it is bound to, that device's
//! recorded key and its user's profile now; a revoked device, or a disabled user's, is named as
//! such so that nothing relayed of it is taken. An actor bound to no device is left out: its
//! changes are refused as `forged_actor`. A credential of the author that came with the push,
//! signed by this server for that device, says what rights the author had when the server
//! issued it: a change those rights allow but the author's rights now do not is `stale_rights`.

use std::collections::HashSet;

use fieldsync_core::peer::Credential;
use fieldsync_core::policy::Profile;
use fieldsync_core::protocol::PushDoc;

use super::{AccountError, PeerCredentials, profile_of};
use crate::ingest::{Author, RelayedAuthor, RelayedAuthors};
use crate::storage::{Device, DeviceKind, Storage};

/// The other authors `push` names, found in `storage`; `pusher` is the pushing device's actor,
/// `peers` the issuer of the credentials that may come with them.
pub(crate) async fn relayed_authors(
    storage: &dyn Storage,
    peers: &PeerCredentials,
    pusher: &[u8],
    push: &[PushDoc],
) -> Result<RelayedAuthors, AccountError> {
    let actors: HashSet<&[u8]> = push
        .iter()
        .flat_map(|p| p.signed.iter())
        .map(|g| g.actor.as_slice())
        .filter(|a| *a != pusher)
        .collect();
    let server_key = peers.public_key();
    let mut out = RelayedAuthors::new();
    for actor in actors {
        let Some(device) = storage.device_by_actor(actor.to_vec()).await? else { continue };
        // A desk's actions are the server's own; no phone relays them.
        if device.kind != DeviceKind::Phone {
            continue;
        }
        let user = storage.user(device.user.clone()).await?;
        let found = match user {
            Some(u) if device.revoked_at.is_none() && u.disabled_at.is_none() => {
                RelayedAuthor::Known {
                    author: Author {
                        device: device.id.clone(),
                        actor: device.actor.clone(),
                        profile: profile_of(&u),
                        rights_changed: false,
                        key: device.key.clone(),
                    },
                    granted: granted(&server_key, &device, push),
                    key: device.key,
                }
            }
            _ => RelayedAuthor::Revoked { device: device.id },
        };
        out.insert(actor.to_vec(), found);
    }
    Ok(out)
}

/// The rights named by a credential of `device` that came with `push` (with its changes'
/// signatures): the first one this server signed (`server_key`) for that device, its actor and
/// its user, expired or not (the change was made while it was valid, or before its device heard
/// of another). One that does not check names nothing.
fn granted(server_key: &[u8], device: &Device, push: &[PushDoc]) -> Option<Profile> {
    push.iter()
        .flat_map(|p| p.signed.iter())
        .filter(|g| g.actor == device.actor)
        .filter_map(|g| g.credential.as_ref()?.open(server_key).ok())
        .find(|v| {
            v.device == device.id
                && v.actor.to_bytes() == device.actor.as_slice()
                && v.profile.user == device.user
        })
        .map(|v| v.profile)
}

/// Most authors' credentials one sync answer hands out (as many as a phone keeps).
pub(crate) const MAX_AUTHOR_CREDENTIALS: usize = 256;

/// Peer credentials of the authors of the signed changes a pulled page carries (`signers`,
/// their actors), issued now with their users' rights now, so that the phone can pass their
/// changes on to peers as theirs (`docs/protocol.md`, "SyncResponse"). A revoked device, a
/// disabled user's, a device without a key or not a phone gets none: peers take none of its
/// changes from a relayer, as the server does not.
pub(crate) async fn author_credentials(
    storage: &dyn Storage,
    peers: &PeerCredentials,
    signers: &HashSet<Vec<u8>>,
    now: i64,
) -> Result<Vec<Credential>, AccountError> {
    let mut actors: Vec<&Vec<u8>> = signers.iter().collect();
    actors.sort();
    let mut out = Vec::new();
    for actor in actors.into_iter().take(MAX_AUTHOR_CREDENTIALS) {
        let Some(device) = storage.device_by_actor(actor.clone()).await? else { continue };
        if device.kind != DeviceKind::Phone || device.revoked_at.is_some() || device.key.is_none() {
            continue;
        }
        match storage.user(device.user.clone()).await? {
            Some(u) if u.disabled_at.is_none() => {
                out.push(peers.credential_for(&device, &profile_of(&u), now));
            }
            _ => {}
        }
    }
    Ok(out)
}
