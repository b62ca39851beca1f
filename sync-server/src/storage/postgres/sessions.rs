//! The SQL of desk sessions (table `desk_sessions`): a sign-in (the code's enrollment of a desk
//! device and the session, in one transaction), finding a session by its token's hash,
//! touching, ending (with its desk device), and listing.

use tokio_postgres::Row;

use super::accounts::{DEVICE_COLUMNS, USER_COLUMNS, device_at, enroll, user_at};
use super::db::{Tx, execute, query, query_opt};
use super::session_ends::revoke_devices_of;
use crate::storage::{DeskSignIn, Device, SessionEnd, StorageResult, StoredSession, StoredUser};

const SESSION_COLUMNS: &str =
    "s.session_id, s.device_id, s.user_id, s.created_at, s.last_seen_at, s.ended_at, s.end_reason";

fn session_at(r: &Row, at: usize) -> StorageResult<StoredSession> {
    let ended_at: Option<i64> = r.try_get(at + 5)?;
    let reason: Option<&str> = r.try_get(at + 6)?;
    Ok(StoredSession {
        id: r.try_get(at)?,
        device: r.try_get(at + 1)?,
        user: r.try_get(at + 2)?,
        created_at: r.try_get(at + 3)?,
        last_seen_at: r.try_get(at + 4)?,
        ended: ended_at.map(|t| (t, SessionEnd::from_stored(reason.unwrap_or("")))),
    })
}

/// A desk sign-in inside the caller's transaction: the enrollment (with all its checks), then
/// the session.
pub(crate) async fn sign_in(tx: &Tx<'_>, s: &DeskSignIn) -> StorageResult<()> {
    enroll(tx, &s.enrollment).await?;
    let d = &s.enrollment.device;
    execute(
        tx,
        "INSERT INTO desk_sessions (session_id, token_hash, device_id, user_id, created_at, \
         last_seen_at) VALUES ($1, $2, $3, $4, $5, $5)",
        &[&s.session, &s.token_hash, &d.id, &d.user, &d.enrolled_at],
    )
    .await?;
    Ok(())
}

pub(crate) async fn session_by_token(
    tx: &Tx<'_>,
    token_hash: &[u8],
) -> StorageResult<Option<(StoredSession, Device, StoredUser)>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS}, {DEVICE_COLUMNS}, {USER_COLUMNS} \
         FROM desk_sessions s JOIN devices d ON d.device_id = s.device_id \
         JOIN users u ON u.user_id = s.user_id WHERE s.token_hash = $1"
    );
    query_opt(tx, &sql, &[&token_hash])
        .await?
        .map(|r| Ok((session_at(&r, 0)?, device_at(&r, 7)?, user_at(&r, 16)?)))
        .transpose()
}

pub(crate) async fn touch(tx: &Tx<'_>, id: &str, at: i64) -> StorageResult<bool> {
    let n = execute(
        tx,
        "UPDATE desk_sessions SET last_seen_at = greatest(last_seen_at, $2) \
         WHERE session_id = $1 AND ended_at IS NULL",
        &[&id, &at],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn end(tx: &Tx<'_>, id: &str, at: i64, why: SessionEnd) -> StorageResult<bool> {
    let n = execute(
        tx,
        "UPDATE desk_sessions SET ended_at = coalesce(ended_at, $2), \
         end_reason = coalesce(end_reason, $3) WHERE session_id = $1",
        &[&id, &at, &why.as_str()],
    )
    .await?;
    if n == 1 {
        revoke_devices_of(tx, "session_id = $1", id, at).await?;
    }
    Ok(n == 1)
}

pub(crate) async fn end_idle(tx: &Tx<'_>, seen_before: i64, at: i64) -> StorageResult<usize> {
    execute(
        tx,
        "UPDATE devices SET revoked_at = coalesce(revoked_at, $2) WHERE kind = 'desk' AND \
         device_id IN (SELECT device_id FROM desk_sessions \
                       WHERE ended_at IS NULL AND last_seen_at < $1)",
        &[&seen_before, &at],
    )
    .await?;
    let n = execute(
        tx,
        "UPDATE desk_sessions SET ended_at = $2, end_reason = 'idle' \
         WHERE ended_at IS NULL AND last_seen_at < $1",
        &[&seen_before, &at],
    )
    .await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

pub(crate) async fn list(tx: &Tx<'_>) -> StorageResult<Vec<StoredSession>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM desk_sessions s \
         ORDER BY s.created_at DESC, s.session_id COLLATE \"C\""
    );
    query(tx, &sql, &[]).await?.iter().map(|r| session_at(r, 0)).collect()
}
