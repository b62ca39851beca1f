//! The SQL of accounts (tables `users`, `devices`, `enroll_codes`, schema versions 2, 6, 7 and
//! 8): reads on a reader connection, writes as jobs of the writer thread (each in its own
//! transaction, see `writer::in_transaction`). Desk sessions are `sessions`'.

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};

use super::session_ends;
use crate::storage::{
    Device, DeviceKind, Disabled, Enrollment, FORMER_SCOPES_KEPT, NewCode, NewUser, SessionEnd,
    StorageError, StorageResult, StoredCode, StoredUser,
};

const USER_COLUMNS: &str = "user_id, role, patrol, scopes, created_at, disabled_at";

pub(crate) fn user_at(r: &Row<'_>, at: usize) -> rusqlite::Result<StoredUser> {
    let scopes: String = r.get(at + 3)?;
    Ok(StoredUser {
        id: r.get(at)?,
        role: r.get(at + 1)?,
        patrol: r.get(at + 2)?,
        scopes: scopes.lines().map(str::to_string).collect(),
        created_at: r.get(at + 4)?,
        disabled_at: r.get(at + 5)?,
    })
}

const DEVICE_COLUMNS: &str =
    "device_id, user_id, name, actor, enrolled_at, revoked_at, kind, wipe, device_key";

pub(crate) fn device_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Device> {
    let kind: String = r.get(at + 6)?;
    Ok(Device {
        id: r.get(at)?,
        user: r.get(at + 1)?,
        name: r.get(at + 2)?,
        actor: r.get(at + 3)?,
        enrolled_at: r.get(at + 4)?,
        revoked_at: r.get(at + 5)?,
        kind: DeviceKind::from_stored(&kind),
        wipe: r.get(at + 7)?,
        key: r.get(at + 8)?,
    })
}

const CODE_COLUMNS: &str =
    "code_hash, user_id, issued_by, issued_at, expires_at, used_at, device_id, revoked_at";

fn code(r: &Row<'_>) -> rusqlite::Result<StoredCode> {
    Ok(StoredCode {
        hash: r.get(0)?,
        user: r.get(1)?,
        issued_by: r.get(2)?,
        issued_at: r.get(3)?,
        expires_at: r.get(4)?,
        used_at: r.get(5)?,
        device: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

pub(crate) fn add_user(conn: &Connection, u: &NewUser) -> StorageResult<bool> {
    let added = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO users (user_id, role, patrol, scopes, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute(params![u.id, u.role, u.patrol, u.scopes.join("\n"), u.at])?;
    Ok(added == 1)
}

pub(crate) fn set_scopes(
    conn: &Connection,
    user: &str,
    scopes: &[String],
    at: i64,
) -> StorageResult<bool> {
    let former: Option<String> = conn
        .prepare_cached("SELECT scopes FROM users WHERE user_id = ?1")?
        .query_row([user], |r| r.get(0))
        .optional()?;
    let Some(former) = former else {
        return Ok(false);
    };
    let scopes = scopes.join("\n");
    conn.prepare_cached("UPDATE users SET scopes = ?2, updated_at = ?3 WHERE user_id = ?1")?
        .execute(params![user, scopes, at])?;
    if former != scopes {
        conn.prepare_cached(
            "INSERT INTO former_scopes (user_id, scopes, replaced_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (user_id, scopes) DO UPDATE SET replaced_at = excluded.replaced_at",
        )?
        .execute(params![user, former, at])?;
        conn.prepare_cached(
            "DELETE FROM former_scopes WHERE user_id = ?1 AND scopes NOT IN (SELECT scopes \
             FROM former_scopes WHERE user_id = ?1 ORDER BY replaced_at DESC, scopes LIMIT ?2)",
        )?
        .execute(params![user, FORMER_SCOPES_KEPT])?;
    }
    Ok(true)
}

pub(crate) fn former_scopes(conn: &Connection, user: &str) -> StorageResult<Vec<Vec<String>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT scopes FROM former_scopes WHERE user_id = ?1 ORDER BY replaced_at DESC, scopes",
    )?;
    let rows = stmt.query_map([user], |r| r.get::<_, String>(0))?;
    rows.map(|s| Ok(s?.lines().map(str::to_string).collect())).collect()
}

pub(crate) fn users(conn: &Connection) -> StorageResult<Vec<StoredUser>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY user_id"))?;
    let rows = stmt.query_map([], |r| user_at(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn user(conn: &Connection, id: &str) -> StorageResult<Option<StoredUser>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1"))?
        .query_row([id], |r| user_at(r, 0))
        .optional()?)
}

pub(crate) fn disable_user(
    conn: &Connection,
    id: &str,
    at: i64,
) -> StorageResult<Option<Disabled>> {
    let n = conn
        .prepare_cached(
            "UPDATE users SET disabled_at = coalesce(disabled_at, ?2), updated_at = ?2 \
             WHERE user_id = ?1",
        )?
        .execute(params![id, at])?;
    if n == 0 {
        return Ok(None);
    }
    let codes_withdrawn = conn
        .prepare_cached(
            "UPDATE enroll_codes SET revoked_at = ?2 WHERE user_id = ?1 AND used_at IS NULL \
             AND revoked_at IS NULL AND expires_at > ?2",
        )?
        .execute(params![id, at])?;
    let devices: i64 = conn
        .prepare_cached("SELECT count(*) FROM devices WHERE user_id = ?1 AND revoked_at IS NULL")?
        .query_row([id], |r| r.get(0))?;
    let sessions_ended = session_ends::end_of_user(conn, id, at, SessionEnd::UserDisabled)?;
    let at: i64 = conn
        .prepare_cached("SELECT disabled_at FROM users WHERE user_id = ?1")?
        .query_row([id], |r| r.get(0))?;
    let devices = usize::try_from(devices).unwrap_or(0);
    Ok(Some(Disabled { at, devices, codes_withdrawn, sessions_ended }))
}

pub(crate) fn enable_user(conn: &Connection, id: &str, at: i64) -> StorageResult<bool> {
    let n = conn
        .prepare_cached("UPDATE users SET disabled_at = NULL, updated_at = ?2 WHERE user_id = ?1")?
        .execute(params![id, at])?;
    Ok(n == 1)
}

pub(crate) fn add_code(conn: &Connection, c: &NewCode) -> StorageResult<()> {
    conn.prepare_cached(
        "INSERT INTO enroll_codes (code_hash, user_id, issued_by, issued_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![c.hash, c.user, c.issued_by, c.issued_at, c.expires_at])?;
    Ok(())
}

pub(crate) fn code_by_hash(conn: &Connection, hash: &[u8]) -> StorageResult<Option<StoredCode>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {CODE_COLUMNS} FROM enroll_codes WHERE code_hash = ?1"))?
        .query_row([hash], code)
        .optional()?)
}

pub(crate) fn codes(conn: &Connection, user: Option<&str>) -> StorageResult<Vec<StoredCode>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CODE_COLUMNS} FROM enroll_codes WHERE (?1 IS NULL OR user_id = ?1) \
         ORDER BY issued_at DESC, code_hash"
    ))?;
    let rows = stmt.query_map(params![user], code)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn codes_with_prefix(
    conn: &Connection,
    prefix: &[u8],
) -> StorageResult<Vec<StoredCode>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CODE_COLUMNS} FROM enroll_codes WHERE substr(code_hash, 1, ?2) = ?1 \
         ORDER BY code_hash"
    ))?;
    let len = i64::try_from(prefix.len()).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![prefix, len], code)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn revoke_code(conn: &Connection, hash: &[u8], at: i64) -> StorageResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE enroll_codes SET revoked_at = coalesce(revoked_at, ?2) WHERE code_hash = ?1",
        )?
        .execute(params![hash, at])?;
    Ok(n == 1)
}

pub(crate) fn device_by_actor(conn: &Connection, actor: &[u8]) -> StorageResult<Option<Device>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE actor = ?1"))?
        .query_row([actor], |r| device_at(r, 0))
        .optional()?)
}

/// The devices, each with its user, that `filter` (on `d`) selects; read by
/// [`device_and_user_at`].
fn devices_and_users(filter: &str) -> String {
    format!(
        "SELECT d.device_id, d.user_id, d.name, d.actor, d.enrolled_at, d.revoked_at, d.kind, \
                d.wipe, d.device_key, u.user_id, u.role, u.patrol, u.scopes, u.created_at, \
                u.disabled_at \
         FROM devices d JOIN users u ON u.user_id = d.user_id WHERE {filter}"
    )
}

/// A row of [`devices_and_users`].
fn device_and_user_at(r: &Row<'_>) -> rusqlite::Result<(Device, StoredUser)> {
    Ok((device_at(r, 0)?, user_at(r, 9)?))
}

pub(crate) fn device_by_token(
    conn: &Connection,
    token_hash: &[u8],
) -> StorageResult<Option<(Device, StoredUser)>> {
    Ok(conn
        .prepare_cached(&devices_and_users("d.token_hash = ?1"))?
        .query_row([token_hash], device_and_user_at)
        .optional()?)
}

pub(crate) fn devices_by_actors(
    conn: &Connection,
    actors: &[Vec<u8>],
) -> StorageResult<Vec<(Device, StoredUser)>> {
    let mut stmt = conn.prepare_cached(&devices_and_users("d.actor = ?1"))?;
    let mut out = Vec::with_capacity(actors.len());
    for actor in actors {
        out.extend(stmt.query_row([actor], device_and_user_at).optional()?);
    }
    Ok(out)
}

pub(crate) fn revoked_since(conn: &Connection, since: i64) -> StorageResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.device_id FROM devices d JOIN users u ON u.user_id = d.user_id \
         WHERE d.revoked_at >= ?1 OR u.disabled_at >= ?1 ORDER BY d.device_id",
    )?;
    let rows = stmt.query_map([since], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
}

pub(crate) fn peer_key(conn: &Connection, candidate: &str) -> StorageResult<String> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('peer_key', ?1) ON CONFLICT (key) DO NOTHING",
    )?
    .execute([candidate])?;
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'peer_key'")?
        .query_row([], |r| r.get(0))?)
}

pub(crate) fn devices(conn: &Connection) -> StorageResult<Vec<Device>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY enrolled_at DESC, device_id"
    ))?;
    let rows = stmt.query_map([], |r| device_at(r, 0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn revoke_device(
    conn: &Connection,
    id: &str,
    at: i64,
    wipe: bool,
) -> StorageResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2), wipe = max(wipe, ?3) \
             WHERE device_id = ?1",
        )?
        .execute(params![id, at, wipe])?;
    if n == 1 {
        session_ends::end_of_device(conn, id, at, SessionEnd::DeviceRevoked)?;
    }
    Ok(n == 1)
}

/// Whether `e` is a constraint refusing a row (here: an actor or a device id taken).
fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

/// An enrollment, on the writer connection inside a transaction: each step checks the rows it
/// was decided on, and any that changed fails it with `Changed` (the transaction is rolled
/// back by the caller).
pub(crate) fn enroll(conn: &Connection, e: &Enrollment) -> StorageResult<()> {
    let d = &e.device;
    let changed = |what: &str| Err(StorageError::Changed(what.to_string()));
    let used = conn
        .prepare_cached(
            "UPDATE enroll_codes SET used_at = ?2, device_id = ?3 \
             WHERE code_hash = ?1 AND user_id = ?4 AND used_at IS NULL AND revoked_at IS NULL \
             AND expires_at > ?2 AND NOT EXISTS \
             (SELECT 1 FROM users u WHERE u.user_id = ?4 AND u.disabled_at IS NOT NULL)",
        )?
        .execute(params![e.code, d.enrolled_at, d.id, d.user])?;
    if used != 1 {
        return changed("the enrollment code is no longer one that enrolls");
    }
    if let Some(t) = &e.takeover {
        let moved = conn
            .prepare_cached(
                "UPDATE devices SET actor = ?3, revoked_at = coalesce(revoked_at, ?4) \
                 WHERE device_id = ?1 AND actor = ?2 AND user_id = ?5",
            )?
            .execute(params![t.device, t.actor, t.tombstone, d.enrolled_at, d.user])?;
        if moved != 1 {
            return changed("the device holding the actor changed");
        }
    }
    let inserted = conn
        .prepare_cached(
            "INSERT INTO devices \
             (device_id, user_id, name, token_hash, actor, enrolled_at, kind, device_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            d.id,
            d.user,
            d.name,
            e.token_hash,
            d.actor,
            d.enrolled_at,
            d.kind.as_str(),
            d.key
        ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(err) if is_constraint(&err) => changed("the actor or the device id is taken"),
        Err(err) => Err(err.into()),
    }
}
