//! The SQL of accounts (tables `users`, `devices`, `enroll_codes`): each write runs in its own
//! SERIALIZABLE transaction (`db::Db::write`), so an enrollment racing another for one code,
//! or for one actor, is decided as if they ran one after the other. Desk sessions are
//! `sessions`'.

use tokio_postgres::Row;

use super::db::{Tx, execute, is_unique_violation, query, query_one, query_opt};
use super::session_ends;
use crate::storage::{
    Device, DeviceKind, Disabled, Enrollment, FORMER_SCOPES_KEPT, NewCode, NewUser, SessionEnd,
    StorageError, StorageResult, StoredCode, StoredUser,
};

/// The columns [`user_at`] reads.
pub(super) const USER_COLUMNS: &str =
    "u.user_id, u.role, u.patrol, u.scopes, u.created_at, u.disabled_at";

/// The user in the columns from `at` on ([`USER_COLUMNS`]).
pub(super) fn user_at(r: &Row, at: usize) -> StorageResult<StoredUser> {
    Ok(StoredUser {
        id: r.try_get(at)?,
        role: r.try_get(at + 1)?,
        patrol: r.try_get(at + 2)?,
        scopes: super::columns::lines_at(r, at + 3)?,
        created_at: r.try_get(at + 4)?,
        disabled_at: r.try_get(at + 5)?,
    })
}

/// The columns [`device_at`] reads.
pub(super) const DEVICE_COLUMNS: &str = "d.device_id, d.user_id, d.name, d.actor, d.enrolled_at, d.revoked_at, d.kind, d.wipe, \
     d.device_key";

/// The device in the columns from `at` on ([`DEVICE_COLUMNS`]).
pub(super) fn device_at(r: &Row, at: usize) -> StorageResult<Device> {
    Ok(Device {
        id: r.try_get(at)?,
        user: r.try_get(at + 1)?,
        name: r.try_get(at + 2)?,
        actor: r.try_get(at + 3)?,
        enrolled_at: r.try_get(at + 4)?,
        revoked_at: r.try_get(at + 5)?,
        kind: DeviceKind::from_stored(r.try_get(at + 6)?),
        wipe: r.try_get(at + 7)?,
        key: r.try_get(at + 8)?,
    })
}

const CODE_COLUMNS: &str =
    "code_hash, user_id, issued_by, issued_at, expires_at, used_at, device_id, revoked_at";

fn code(r: &Row) -> StorageResult<StoredCode> {
    Ok(StoredCode {
        hash: r.try_get(0)?,
        user: r.try_get(1)?,
        issued_by: r.try_get(2)?,
        issued_at: r.try_get(3)?,
        expires_at: r.try_get(4)?,
        used_at: r.try_get(5)?,
        device: r.try_get(6)?,
        revoked_at: r.try_get(7)?,
    })
}

fn codes_of(rows: Vec<Row>) -> StorageResult<Vec<StoredCode>> {
    rows.iter().map(code).collect()
}

pub(crate) async fn add_user(tx: &Tx<'_>, u: &NewUser) -> StorageResult<bool> {
    let added = execute(
        tx,
        "INSERT INTO users (user_id, role, patrol, scopes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
        &[&u.id, &u.role, &u.patrol, &u.scopes.join("\n"), &u.at],
    )
    .await?;
    Ok(added == 1)
}

pub(crate) async fn set_scopes(
    tx: &Tx<'_>,
    user: &str,
    scopes: &[String],
    at: i64,
) -> StorageResult<bool> {
    // The row is locked until the commit, so that two changes at once both keep what each
    // replaced.
    let Some(former) =
        query_opt(tx, "SELECT scopes FROM users WHERE user_id = $1 FOR UPDATE", &[&user]).await?
    else {
        return Ok(false);
    };
    let former: String = former.try_get(0)?;
    let scopes = scopes.join("\n");
    execute(
        tx,
        "UPDATE users SET scopes = $2, updated_at = $3 WHERE user_id = $1",
        &[&user, &scopes, &at],
    )
    .await?;
    if former != scopes {
        execute(
            tx,
            "INSERT INTO former_scopes (user_id, scopes, replaced_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, scopes) DO UPDATE SET replaced_at = excluded.replaced_at",
            &[&user, &former, &at],
        )
        .await?;
        execute(
            tx,
            "DELETE FROM former_scopes WHERE user_id = $1 AND scopes NOT IN (SELECT scopes \
             FROM former_scopes WHERE user_id = $1 \
             ORDER BY replaced_at DESC, scopes COLLATE \"C\" LIMIT $2)",
            &[&user, &FORMER_SCOPES_KEPT],
        )
        .await?;
    }
    Ok(true)
}

pub(crate) async fn former_scopes(tx: &Tx<'_>, user: &str) -> StorageResult<Vec<Vec<String>>> {
    let rows = query(
        tx,
        "SELECT scopes FROM former_scopes WHERE user_id = $1 \
         ORDER BY replaced_at DESC, scopes COLLATE \"C\"",
        &[&user],
    )
    .await?;
    rows.iter().map(|r| super::columns::lines_at(r, 0)).collect()
}

pub(crate) async fn users(tx: &Tx<'_>) -> StorageResult<Vec<StoredUser>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.user_id COLLATE \"C\"");
    query(tx, &sql, &[]).await?.iter().map(|r| user_at(r, 0)).collect()
}

pub(crate) async fn user(tx: &Tx<'_>, id: &str) -> StorageResult<Option<StoredUser>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.user_id = $1");
    query_opt(tx, &sql, &[&id]).await?.map(|r| user_at(&r, 0)).transpose()
}

pub(crate) async fn disable_user(
    tx: &Tx<'_>,
    id: &str,
    at: i64,
) -> StorageResult<Option<Disabled>> {
    let Some(row) = query_opt(
        tx,
        "UPDATE users SET disabled_at = coalesce(disabled_at, $2), updated_at = $2 \
         WHERE user_id = $1 RETURNING disabled_at",
        &[&id, &at],
    )
    .await?
    else {
        return Ok(None);
    };
    let at_first: i64 = row.try_get(0)?;
    let codes_withdrawn = execute(
        tx,
        "UPDATE enroll_codes SET revoked_at = $2 WHERE user_id = $1 AND used_at IS NULL \
         AND revoked_at IS NULL AND expires_at > $2",
        &[&id, &at],
    )
    .await?;
    let devices: i64 = query_one(
        tx,
        "SELECT count(*) FROM devices WHERE user_id = $1 AND revoked_at IS NULL",
        &[&id],
    )
    .await?
    .try_get(0)?;
    let sessions_ended = session_ends::end_of_user(tx, id, at, SessionEnd::UserDisabled).await?;
    Ok(Some(Disabled {
        at: at_first,
        devices: usize::try_from(devices).unwrap_or(0),
        codes_withdrawn: usize::try_from(codes_withdrawn).unwrap_or(0),
        sessions_ended,
    }))
}

pub(crate) async fn enable_user(tx: &Tx<'_>, id: &str, at: i64) -> StorageResult<bool> {
    let n = execute(
        tx,
        "UPDATE users SET disabled_at = NULL, updated_at = $2 WHERE user_id = $1",
        &[&id, &at],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn add_code(tx: &Tx<'_>, c: &NewCode) -> StorageResult<()> {
    execute(
        tx,
        "INSERT INTO enroll_codes (code_hash, user_id, issued_by, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[&c.hash, &c.user, &c.issued_by, &c.issued_at, &c.expires_at],
    )
    .await?;
    Ok(())
}

pub(crate) async fn code_by_hash(tx: &Tx<'_>, hash: &[u8]) -> StorageResult<Option<StoredCode>> {
    let sql = format!("SELECT {CODE_COLUMNS} FROM enroll_codes WHERE code_hash = $1");
    query_opt(tx, &sql, &[&hash]).await?.map(|r| code(&r)).transpose()
}

pub(crate) async fn codes(tx: &Tx<'_>, user: Option<&str>) -> StorageResult<Vec<StoredCode>> {
    let sql = format!(
        "SELECT {CODE_COLUMNS} FROM enroll_codes WHERE ($1::text IS NULL OR user_id = $1) \
         ORDER BY issued_at DESC, code_hash"
    );
    codes_of(query(tx, &sql, &[&user]).await?)
}

pub(crate) async fn codes_with_prefix(
    tx: &Tx<'_>,
    prefix: &[u8],
) -> StorageResult<Vec<StoredCode>> {
    let sql = format!(
        "SELECT {CODE_COLUMNS} FROM enroll_codes \
         WHERE substring(code_hash FROM 1 FOR $2) = $1 ORDER BY code_hash"
    );
    let len = i32::try_from(prefix.len()).unwrap_or(i32::MAX);
    codes_of(query(tx, &sql, &[&prefix, &len]).await?)
}

pub(crate) async fn revoke_code(tx: &Tx<'_>, hash: &[u8], at: i64) -> StorageResult<bool> {
    let n = execute(
        tx,
        "UPDATE enroll_codes SET revoked_at = coalesce(revoked_at, $2) WHERE code_hash = $1",
        &[&hash, &at],
    )
    .await?;
    Ok(n == 1)
}

pub(crate) async fn device_by_actor(tx: &Tx<'_>, actor: &[u8]) -> StorageResult<Option<Device>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.actor = $1");
    query_opt(tx, &sql, &[&actor]).await?.map(|r| device_at(&r, 0)).transpose()
}

/// The devices, each with its user, that `filter` (on `d`) selects; read by
/// [`device_and_user_at`].
fn devices_and_users(filter: &str) -> String {
    format!(
        "SELECT {DEVICE_COLUMNS}, {USER_COLUMNS} FROM devices d \
         JOIN users u ON u.user_id = d.user_id WHERE {filter}"
    )
}

/// A row of [`devices_and_users`].
fn device_and_user_at(r: &Row) -> StorageResult<(Device, StoredUser)> {
    Ok((device_at(r, 0)?, user_at(r, 9)?))
}

pub(crate) async fn device_by_token(
    tx: &impl deadpool_postgres::GenericClient,
    token_hash: &[u8],
) -> StorageResult<Option<(Device, StoredUser)>> {
    let sql = devices_and_users("d.token_hash = $1");
    query_opt(tx, &sql, &[&token_hash]).await?.as_ref().map(device_and_user_at).transpose()
}

pub(crate) async fn devices_by_actors(
    c: &impl deadpool_postgres::GenericClient,
    actors: &[Vec<u8>],
) -> StorageResult<Vec<(Device, StoredUser)>> {
    let sql = devices_and_users("d.actor = ANY($1)");
    query(c, &sql, &[&actors]).await?.iter().map(device_and_user_at).collect()
}

pub(crate) async fn devices(tx: &Tx<'_>) -> StorageResult<Vec<Device>> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices d \
         ORDER BY d.enrolled_at DESC, d.device_id COLLATE \"C\""
    );
    query(tx, &sql, &[]).await?.iter().map(|r| device_at(r, 0)).collect()
}

pub(crate) async fn revoked_since(tx: &Tx<'_>, since: i64) -> StorageResult<Vec<String>> {
    let rows = query(
        tx,
        "SELECT d.device_id FROM devices d JOIN users u ON u.user_id = d.user_id \
         WHERE d.revoked_at >= $1 OR u.disabled_at >= $1 ORDER BY d.device_id COLLATE \"C\"",
        &[&since],
    )
    .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

pub(crate) async fn peer_key(tx: &Tx<'_>, candidate: &str) -> StorageResult<String> {
    execute(
        tx,
        "INSERT INTO meta (key, value) VALUES ('peer_key', $1) ON CONFLICT (key) DO NOTHING",
        &[&candidate],
    )
    .await?;
    Ok(query_one(tx, "SELECT value FROM meta WHERE key = 'peer_key'", &[]).await?.try_get(0)?)
}

pub(crate) async fn revoke_device(
    tx: &Tx<'_>,
    id: &str,
    at: i64,
    wipe: bool,
) -> StorageResult<bool> {
    let n = execute(
        tx,
        "UPDATE devices SET revoked_at = coalesce(revoked_at, $2), wipe = wipe OR $3 \
         WHERE device_id = $1",
        &[&id, &at, &wipe],
    )
    .await?;
    if n == 1 {
        session_ends::end_of_device(tx, id, at, SessionEnd::DeviceRevoked).await?;
    }
    Ok(n == 1)
}

/// An enrollment inside the caller's transaction: each step checks the rows it was decided
/// on, and any that changed fails it with `Changed` (the caller rolls back).
pub(crate) async fn enroll(tx: &Tx<'_>, e: &Enrollment) -> StorageResult<()> {
    let d = &e.device;
    let changed = |what: &str| Err(StorageError::Changed(what.to_string()));
    let used = execute(
        tx,
        "UPDATE enroll_codes SET used_at = $2, device_id = $3 \
         WHERE code_hash = $1 AND user_id = $4 AND used_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $2 AND NOT EXISTS \
         (SELECT 1 FROM users u WHERE u.user_id = $4 AND u.disabled_at IS NOT NULL)",
        &[&e.code, &d.enrolled_at, &d.id, &d.user],
    )
    .await?;
    if used != 1 {
        return changed("the enrollment code is no longer one that enrolls");
    }
    if let Some(t) = &e.takeover {
        let moved = execute(
            tx,
            "UPDATE devices SET actor = $3, revoked_at = coalesce(revoked_at, $4) \
             WHERE device_id = $1 AND actor = $2 AND user_id = $5",
            &[&t.device, &t.actor, &t.tombstone, &d.enrolled_at, &d.user],
        )
        .await?;
        if moved != 1 {
            return changed("the device holding the actor changed");
        }
    }
    // A taken actor or device id is a refusal, not an error: checked first, so the
    // transaction is not aborted by a failed insert.
    let taken = query_opt(
        tx,
        "SELECT 1 FROM devices WHERE device_id = $1 OR actor = $2 OR token_hash = $3",
        &[&d.id, &d.actor, &e.token_hash],
    )
    .await?;
    if taken.is_some() {
        return changed("the actor or the device id is taken");
    }
    let inserted = execute(
        tx,
        "INSERT INTO devices \
         (device_id, user_id, name, token_hash, actor, enrolled_at, kind, device_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &d.id,
            &d.user,
            &d.name,
            &e.token_hash,
            &d.actor,
            &d.enrolled_at,
            &d.kind.as_str(),
            &d.key,
        ],
    )
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(StorageError::Postgres(err)) if is_unique_violation(&err) => {
            changed("the actor or the device id is taken")
        }
        Err(err) => Err(err),
    }
}
