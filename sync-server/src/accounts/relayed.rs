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
    let mut actors: Vec<Vec<u8>> = signers.iter().cloned().collect();
    actors.sort();
    actors.truncate(MAX_AUTHOR_CREDENTIALS);
    // One read for the page, not two per author.
    let mut found = storage.devices_by_actors(actors).await?;
    found.sort_by(|(a, _), (b, _)| a.actor.cmp(&b.actor));
    Ok(found
        .into_iter()
        .filter(|(device, user)| {
            device.kind == DeviceKind::Phone
                && device.revoked_at.is_none()
                && device.key.is_some()
                && user.disabled_at.is_none()
        })
        .map(|(device, user)| peers.credential_for(&device, &profile_of(&user), now))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;
    use crate::Durability;
    use crate::storage::conformance::accounts::{T0, code, device, enrollment, user};
    use crate::storage::{AccountStorage, SqliteStorage};

    /// Enrolls device `id` of `user` (actor and code byte `n`), of `kind`, with a key or not.
    async fn enroll(s: &dyn Storage, n: u8, id: &str, user: &str, kind: DeviceKind, key: bool) {
        s.add_code(code(n, user, T0)).await.unwrap();
        let device = Device { kind, key: key.then(|| vec![n; 32]), ..device(id, user, n, T0 + 1) };
        s.enroll(enrollment(n, device)).await.unwrap();
    }

    #[tokio::test]
    async fn authors_get_credentials_unless_revoked_disabled_keyless_or_no_phone() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open(dir.path().join("t.db"), Durability::Normal).unwrap();
        s.add_user(user("li", "patrol")).await.unwrap();
        s.add_user(user("wang", "patrol")).await.unwrap();
        enroll(&s, 1, "good", "li", DeviceKind::Phone, true).await;
        enroll(&s, 2, "revoked", "li", DeviceKind::Phone, true).await;
        enroll(&s, 3, "keyless", "li", DeviceKind::Phone, false).await;
        enroll(&s, 4, "desk", "li", DeviceKind::Desk, true).await;
        enroll(&s, 5, "disabled", "wang", DeviceKind::Phone, true).await;
        assert!(s.revoke_device("revoked".into(), T0 + 2, false).await.unwrap());
        assert!(s.disable_user("wang".into(), T0 + 2).await.unwrap().is_some());

        let peers = PeerCredentials::load(&s, Duration::from_secs(3600)).await.unwrap();
        let signers: HashSet<Vec<u8>> = (1..=6).map(|n| vec![n; 16]).collect();
        let given = author_credentials(&s, &peers, &signers, T0 + 3).await.unwrap();
        let devices: Vec<String> =
            given.iter().map(|c| c.open(&peers.public_key()).unwrap().device).collect();
        assert_eq!(devices, ["good"]);
    }
}
