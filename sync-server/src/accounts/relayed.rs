//! The authors of changes a phone relays (docs/protocol.md, "Relayed changes"): for each actor a
//! push names beside the pusher's own, the enrolled device it is bound to, that device's
//! recorded key and its user's profile now; a revoked device, or a disabled user's, is named as
//! such so that nothing relayed of it is taken. An actor bound to no device is left out: its
//! changes are refused as `forged_actor`.

use std::collections::HashSet;

use fieldsync_core::protocol::PushDoc;

use super::{AccountError, profile_of};
use crate::ingest::{Author, RelayedAuthor, RelayedAuthors};
use crate::storage::{DeviceKind, Storage};

/// The other authors `push` names, found in `storage`; `pusher` is the pushing device's actor.
pub(crate) async fn relayed_authors(
    storage: &dyn Storage,
    pusher: &[u8],
    push: &[PushDoc],
) -> Result<RelayedAuthors, AccountError> {
    let actors: HashSet<&[u8]> = push
        .iter()
        .flat_map(|p| p.signed.iter())
        .map(|g| g.actor.as_slice())
        .filter(|a| *a != pusher)
        .collect();
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
                    key: device.key,
                }
            }
            _ => RelayedAuthor::Revoked { device: device.id },
        };
        out.insert(actor.to_vec(), found);
    }
    Ok(out)
}
