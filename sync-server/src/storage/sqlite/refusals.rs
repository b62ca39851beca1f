//! The list of pushes refused as `stale_rights` (table `refusals`, schema version 6): written
//! by the writer thread, read by dispatchers' listings.

use fieldsync_core::DocId;
use rusqlite::{Connection, params};

use crate::storage::{Refused, StorageError, StorageResult, StoredRefusal};

/// Records `refusals` (the writer's job: the caller holds the transaction).
pub(crate) fn record(conn: &Connection, refusals: &[Refused]) -> StorageResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO refusals
             (doc_id, kind, scope, device, user_id, code, message, first_at, last_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
         ON CONFLICT (doc_id, device, code) DO UPDATE SET
             message = excluded.message, last_at = excluded.last_at, times = times + 1",
    )?;
    for r in refusals {
        stmt.execute(params![
            r.doc.as_bytes().as_slice(),
            r.kind.as_str(),
            r.scope,
            r.device,
            r.user,
            r.code,
            r.message,
            r.at
        ])?;
    }
    Ok(())
}

/// Whether `scope` is one of `scopes` or below one (none: everything).
fn inside(scopes: &[String], scope: &str) -> bool {
    scopes.is_empty() || scopes.iter().any(|s| fieldsync_core::policy::scope_covers(s, scope))
}

/// The refusals inside `scopes` with an id after `after`, oldest first, at most `limit`.
pub(crate) fn list(
    conn: &Connection,
    scopes: &[String],
    after: i64,
    limit: usize,
) -> StorageResult<Vec<StoredRefusal>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, doc_id, kind, scope, device, user_id, code, message, first_at, last_at, times
         FROM refusals WHERE id > ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([after])?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next()? else { break };
        let scope: String = row.get(3)?;
        if !inside(scopes, &scope) {
            continue;
        }
        let doc: Vec<u8> = row.get(1)?;
        let doc = DocId::from_slice(&doc)
            .map_err(|_| StorageError::Corrupt("a refusal names a malformed document id".into()))?;
        let kind: String = row.get(2)?;
        let kind = kind
            .parse()
            .map_err(|_| StorageError::Corrupt(format!("a refusal names the kind {kind:?}")))?;
        let times: i64 = row.get(10)?;
        out.push(StoredRefusal {
            id: row.get(0)?,
            refused: Refused {
                doc,
                kind,
                scope,
                device: row.get(4)?,
                user: row.get(5)?,
                code: row.get(6)?,
                message: row.get(7)?,
                at: row.get(9)?,
            },
            first_at: row.get(8)?,
            times: u64::try_from(times).unwrap_or(0),
        });
    }
    Ok(out)
}
