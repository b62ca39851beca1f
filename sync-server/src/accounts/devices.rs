//! Enrolled devices: the one behind a bearer token (every request asks, and reads its user's
//! state then: nothing is cached, so disabling a user or revoking a device stops it at once),
//! the list, and revocation.

use fieldsync_core::time::now_ms;

use super::{AccountError, Authenticated, Device, invalid, profile_of, secret};
use crate::storage::Storage;

/// The device a bearer token belongs to, with its user's current profile; `None` for a token
/// no device has.
pub(crate) async fn authenticate(
    storage: &dyn Storage,
    token: &str,
) -> Result<Option<Authenticated>, AccountError> {
    let found = storage.device_by_token(secret::hash(token)).await?;
    Ok(found.map(|(device, user)| Authenticated {
        profile: profile_of(&user),
        user_disabled_at: user.disabled_at,
        device,
    }))
}

/// Every device, newest first.
pub(crate) async fn devices(storage: &dyn Storage) -> Result<Vec<Device>, AccountError> {
    Ok(storage.devices().await?)
}

/// Revokes a device: its token stops working at once; with `wipe` the phone is also told, at
/// its next contact, to erase its store and files. Revoking twice is harmless (a wipe asked
/// once stays asked).
pub(crate) async fn revoke(
    storage: &dyn Storage,
    device_id: &str,
    wipe: bool,
) -> Result<(), AccountError> {
    if !storage.revoke_device(device_id.to_string(), now_ms(), wipe).await? {
        return Err(invalid(format!("no device {device_id:?}")));
    }
    Ok(())
}
