//! The SQL of Open311 API keys (table `api_keys`).

use tokio_postgres::Row;

use super::db::{Tx, execute, query, query_opt};
use crate::storage::{NewKey, StorageResult, StoredKey};

const KEY_COLUMNS: &str = "key_id, name, scopes, created_at, revoked_at";

fn key(r: &Row) -> StorageResult<StoredKey> {
    Ok(StoredKey {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        scopes: super::columns::lines_at(r, 2)?,
        created_at: r.try_get(3)?,
        revoked_at: r.try_get(4)?,
    })
}

pub(crate) async fn add(tx: &Tx<'_>, k: &NewKey) -> StorageResult<bool> {
    let added = execute(
        tx,
        "INSERT INTO api_keys (key_id, name, scopes, key_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        &[&k.id, &k.name, &k.scopes.join("\n"), &k.hash, &k.at],
    )
    .await?;
    Ok(added == 1)
}

pub(crate) async fn by_hash(tx: &Tx<'_>, hash: &[u8]) -> StorageResult<Option<StoredKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
    query_opt(tx, &sql, &[&hash]).await?.map(|r| key(&r)).transpose()
}

pub(crate) async fn all(tx: &Tx<'_>) -> StorageResult<Vec<StoredKey>> {
    let sql =
        format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id COLLATE \"C\"");
    query(tx, &sql, &[]).await?.iter().map(key).collect()
}

pub(crate) async fn revoke(tx: &Tx<'_>, id: &str, at: i64) -> StorageResult<bool> {
    let n = execute(
        tx,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE key_id = $1",
        &[&id, &at],
    )
    .await?;
    Ok(n == 1)
}
