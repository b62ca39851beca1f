//! How desk sessions end when what they stand on goes: a revoked device, a disabled user (the
//! account operations call these in their own transactions), and the desk devices of ended
//! sessions. Apart from `sessions` so that `accounts` and `sessions` each use it and not each
//! other.

use rusqlite::{Connection, params};

use crate::storage::{SessionEnd, StorageResult};

/// Revokes the desk devices of the sessions `which` selects (given `?1` and `?2`, the time).
pub(super) fn revoke_devices_of(
    conn: &Connection,
    which: &str,
    key: &str,
    at: i64,
) -> StorageResult<()> {
    conn.prepare_cached(&format!(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE kind = 'desk' AND \
         device_id IN (SELECT device_id FROM desk_sessions WHERE {which})"
    ))?
    .execute(params![key, at])?;
    Ok(())
}

/// Ends the open sessions of device `id` (it is being revoked).
pub(crate) fn end_of_device(
    conn: &Connection,
    id: &str,
    at: i64,
    why: SessionEnd,
) -> StorageResult<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE desk_sessions SET ended_at = ?2, end_reason = ?3 \
             WHERE device_id = ?1 AND ended_at IS NULL",
        )?
        .execute(params![id, at, why.as_str()])?)
}

/// Ends the open sessions of user `id` and revokes their desk devices.
pub(crate) fn end_of_user(
    conn: &Connection,
    id: &str,
    at: i64,
    why: SessionEnd,
) -> StorageResult<usize> {
    revoke_devices_of(conn, "user_id = ?1 AND ended_at IS NULL", id, at)?;
    Ok(conn
        .prepare_cached(
            "UPDATE desk_sessions SET ended_at = ?2, end_reason = ?3 \
             WHERE user_id = ?1 AND ended_at IS NULL",
        )?
        .execute(params![id, at, why.as_str()])?)
}
