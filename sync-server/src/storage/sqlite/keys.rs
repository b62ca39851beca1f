//! The SQL of Open311 API keys (table `api_keys`, schema version 9): reads on a reader
//! connection, writes as jobs of the writer thread.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::storage::{NewKey, StorageResult, StoredKey};

const KEY_COLUMNS: &str = "key_id, name, scopes, created_at, revoked_at";

fn key(r: &Row<'_>) -> rusqlite::Result<StoredKey> {
    let scopes: String = r.get(2)?;
    Ok(StoredKey {
        id: r.get(0)?,
        name: r.get(1)?,
        scopes: scopes.lines().map(str::to_string).collect(),
        created_at: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

pub(crate) fn add(conn: &Connection, k: &NewKey) -> StorageResult<bool> {
    let added = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO api_keys (key_id, name, scopes, key_hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![k.id, k.name, k.scopes.join("\n"), k.hash, k.at])?;
    Ok(added == 1)
}

pub(crate) fn by_hash(conn: &Connection, hash: &[u8]) -> StorageResult<Option<StoredKey>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1"))?
        .query_row([hash], key)
        .optional()?)
}

pub(crate) fn all(conn: &Connection) -> StorageResult<Vec<StoredKey>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
    ))?;
    let rows = stmt.query_map([], key)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn revoke(conn: &Connection, id: &str, at: i64) -> StorageResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE key_id = ?1",
        )?
        .execute(params![id, at])?;
    Ok(n == 1)
}
