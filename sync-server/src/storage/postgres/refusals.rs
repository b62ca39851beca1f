//! The list of pushes refused as `stale_rights` (table `refusals`). Dispatchers page it by id
//! after a cursor, so ids must become visible in order: a recording takes a transaction-scoped
//! advisory lock before its ids are drawn and holds it until it commits, so a later id belongs
//! to a transaction that committed later.

use fieldsync_core::DocId;

use super::db::{Tx, execute, query};
use crate::storage::{Refused, StorageError, StorageResult, StoredRefusal};

/// The advisory lock key of refusal recordings ("fsrefuse").
const REFUSALS_LOCK: i64 = 0x6673_7265_6675_7365;

/// Records `refusals` in the caller's transaction.
pub(crate) async fn record(tx: &Tx<'_>, refusals: &[Refused]) -> StorageResult<()> {
    execute(tx, "SELECT pg_advisory_xact_lock($1)", &[&REFUSALS_LOCK]).await?;
    for r in refusals {
        execute(
            tx,
            "INSERT INTO refusals \
                 (doc_id, kind, scope, device, user_id, code, message, first_at, last_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (doc_id, device, code) DO UPDATE SET \
                 message = excluded.message, last_at = excluded.last_at, \
                 times = refusals.times + 1",
            &[
                &r.doc.as_bytes().as_slice(),
                &r.kind.as_str(),
                &r.scope,
                &r.device,
                &r.user,
                &r.code,
                &r.message,
                &r.at,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Whether `scope` is one of `scopes` or below one (none: everything).
fn inside(scopes: &[String], scope: &str) -> bool {
    scopes.is_empty() || scopes.iter().any(|s| fieldsync_core::policy::scope_covers(s, scope))
}

/// Rows read per statement while filling a listing.
const BATCH: i64 = 256;

/// The refusals inside `scopes` with an id after `after`, oldest first, at most `limit`.
pub(crate) async fn list(
    tx: &Tx<'_>,
    scopes: &[String],
    after: i64,
    limit: usize,
) -> StorageResult<Vec<StoredRefusal>> {
    let mut out = Vec::new();
    let mut from = after;
    while out.len() < limit {
        let rows = query(
            tx,
            "SELECT id, doc_id, kind, scope, device, user_id, code, message, first_at, last_at, \
             times FROM refusals WHERE id > $1 ORDER BY id LIMIT $2",
            &[&from, &BATCH],
        )
        .await?;
        let last_batch = rows.len() < BATCH as usize;
        for row in rows {
            from = row.try_get(0)?;
            let scope: String = row.try_get(3)?;
            if out.len() >= limit || !inside(scopes, &scope) {
                continue;
            }
            let doc = DocId::from_slice(row.try_get::<_, &[u8]>(1)?).map_err(|_| {
                StorageError::Corrupt("a refusal names a malformed document id".into())
            })?;
            let kind: &str = row.try_get(2)?;
            let kind = kind
                .parse()
                .map_err(|_| StorageError::Corrupt(format!("a refusal names the kind {kind:?}")))?;
            let times: i64 = row.try_get(10)?;
            out.push(StoredRefusal {
                id: from,
                refused: Refused {
                    doc,
                    kind,
                    scope,
                    device: row.try_get(4)?,
                    user: row.try_get(5)?,
                    code: row.try_get(6)?,
                    message: row.try_get(7)?,
                    at: row.try_get(9)?,
                },
                first_at: row.try_get(8)?,
                times: u64::try_from(times).unwrap_or(0),
            });
        }
        if last_batch {
            break;
        }
    }
    Ok(out)
}
