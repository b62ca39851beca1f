//! The SQL of desk sessions (table `desk_sessions`, schema version 8): a sign-in (the code's
//! enrollment of a desk device and the session, in one transaction), finding a session by its
//! token's hash, touching, ending (with its desk device), and listing.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::accounts::{device_at, enroll, user_at};
use super::session_ends::revoke_devices_of;
use crate::storage::{DeskSignIn, Device, SessionEnd, StorageResult, StoredSession, StoredUser};

const SESSION_COLUMNS: &str =
    "s.session_id, s.device_id, s.user_id, s.created_at, s.last_seen_at, s.ended_at, s.end_reason";

fn session_at(r: &Row<'_>, at: usize) -> rusqlite::Result<StoredSession> {
    let ended_at: Option<i64> = r.get(at + 5)?;
    let reason: Option<String> = r.get(at + 6)?;
    Ok(StoredSession {
        id: r.get(at)?,
        device: r.get(at + 1)?,
        user: r.get(at + 2)?,
        created_at: r.get(at + 3)?,
        last_seen_at: r.get(at + 4)?,
        ended: ended_at.map(|t| (t, SessionEnd::from_stored(reason.as_deref().unwrap_or("")))),
    })
}

/// A desk sign-in, on the writer connection inside a transaction: the enrollment (with all its
/// checks), then the session.
pub(crate) fn sign_in(conn: &Connection, s: &DeskSignIn) -> StorageResult<()> {
    enroll(conn, &s.enrollment)?;
    let d = &s.enrollment.device;
    conn.prepare_cached(
        "INSERT INTO desk_sessions (session_id, token_hash, device_id, user_id, created_at, \
         last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![s.session, s.token_hash, d.id, d.user, d.enrolled_at])?;
    Ok(())
}

pub(crate) fn session_by_token(
    conn: &Connection,
    token_hash: &[u8],
) -> StorageResult<Option<(StoredSession, Device, StoredUser)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS}, \
                    d.device_id, d.user_id, d.name, d.actor, d.enrolled_at, d.revoked_at, \
                    d.kind, d.wipe, d.device_key, u.user_id, u.role, u.patrol, u.scopes, \
                    u.created_at, u.disabled_at \
             FROM desk_sessions s JOIN devices d ON d.device_id = s.device_id \
             JOIN users u ON u.user_id = s.user_id WHERE s.token_hash = ?1"
        ))?
        .query_row([token_hash], |r| Ok((session_at(r, 0)?, device_at(r, 7)?, user_at(r, 16)?)))
        .optional()?)
}

pub(crate) fn touch(conn: &Connection, id: &str, at: i64) -> StorageResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE desk_sessions SET last_seen_at = max(last_seen_at, ?2) \
             WHERE session_id = ?1 AND ended_at IS NULL",
        )?
        .execute(params![id, at])?;
    Ok(n == 1)
}

pub(crate) fn end(conn: &Connection, id: &str, at: i64, why: SessionEnd) -> StorageResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE desk_sessions SET ended_at = coalesce(ended_at, ?2), \
             end_reason = coalesce(end_reason, ?3) WHERE session_id = ?1",
        )?
        .execute(params![id, at, why.as_str()])?;
    if n == 1 {
        revoke_devices_of(conn, "session_id = ?1", id, at)?;
    }
    Ok(n == 1)
}

pub(crate) fn end_idle(conn: &Connection, seen_before: i64, at: i64) -> StorageResult<usize> {
    conn.prepare_cached(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE kind = 'desk' AND \
         device_id IN (SELECT device_id FROM desk_sessions \
                       WHERE ended_at IS NULL AND last_seen_at < ?1)",
    )?
    .execute(params![seen_before, at])?;
    Ok(conn
        .prepare_cached(
            "UPDATE desk_sessions SET ended_at = ?2, end_reason = 'idle' \
             WHERE ended_at IS NULL AND last_seen_at < ?1",
        )?
        .execute(params![seen_before, at])?)
}

pub(crate) fn list(conn: &Connection) -> StorageResult<Vec<StoredSession>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM desk_sessions s ORDER BY s.created_at DESC, s.session_id"
    ))?;
    let rows = stmt.query_map([], |r| session_at(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
