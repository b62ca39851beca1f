//! How desk sessions end when what they stand on goes: a revoked device, a disabled user (the
//! account operations call these in their own transactions), and the desk devices of ended
//! sessions. Apart from `sessions` so that `accounts` and `sessions` each use it and not each
//! other.

use super::db::{Tx, execute};
use crate::storage::{SessionEnd, StorageResult};

/// Revokes the desk devices of the sessions `which` selects (given `$1`; `$2` is the time).
pub(super) async fn revoke_devices_of(
    tx: &Tx<'_>,
    which: &str,
    key: &str,
    at: i64,
) -> StorageResult<()> {
    let sql = format!(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, $2) WHERE kind = 'desk' AND \
         device_id IN (SELECT device_id FROM desk_sessions WHERE {which})"
    );
    execute(tx, &sql, &[&key, &at]).await?;
    Ok(())
}

/// Ends the open sessions of device `id` (it is being revoked).
pub(super) async fn end_of_device(
    tx: &Tx<'_>,
    id: &str,
    at: i64,
    why: SessionEnd,
) -> StorageResult<usize> {
    let n = execute(
        tx,
        "UPDATE desk_sessions SET ended_at = $2, end_reason = $3 \
         WHERE device_id = $1 AND ended_at IS NULL",
        &[&id, &at, &why.as_str()],
    )
    .await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Ends the open sessions of user `id` and revokes their desk devices.
pub(super) async fn end_of_user(
    tx: &Tx<'_>,
    id: &str,
    at: i64,
    why: SessionEnd,
) -> StorageResult<usize> {
    revoke_devices_of(tx, "user_id = $1 AND ended_at IS NULL", id, at).await?;
    let n = execute(
        tx,
        "UPDATE desk_sessions SET ended_at = $2, end_reason = $3 \
         WHERE user_id = $1 AND ended_at IS NULL",
        &[&id, &at, &why.as_str()],
    )
    .await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}
