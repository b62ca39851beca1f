//! How values come back from PostgreSQL's rows: document ids from BYTEA, sizes from BIGINT, a
//! document's audience from its columns, lists kept one item a line.

use std::str::FromStr;

use fieldsync_core::DocId;
use fieldsync_core::model::Kind;
use tokio_postgres::Row;

use crate::storage::{Audience, StorageError, StorageResult};

/// A document id from its stored bytes.
pub(super) fn doc_id(bytes: &[u8]) -> StorageResult<DocId> {
    DocId::from_slice(bytes).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// The document id in column `at`.
pub(super) fn doc_id_at(r: &Row, at: usize) -> StorageResult<DocId> {
    doc_id(r.try_get::<_, &[u8]>(at)?)
}

/// A stored count or size (never negative when written by this backend).
pub(super) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A count or size as stored (one past `i64::MAX` is no real blob's; it stays unusable).
pub(super) fn sql_size(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// The lines of a list column.
pub(super) fn lines_at(r: &Row, at: usize) -> StorageResult<Vec<String>> {
    Ok(r.try_get::<_, &str>(at)?.lines().map(str::to_string).collect())
}

/// The audience of a document from its `kind, scope, created_by, participants, addressed,
/// valid_until` columns, starting at column `at`.
pub(super) fn audience_at(r: &Row, at: usize) -> StorageResult<Audience> {
    let kind: &str = r.try_get(at)?;
    let kind = Kind::from_str(kind)
        .map_err(|_| StorageError::Corrupt(format!("a document has unknown kind {kind:?}")))?;
    let addressed = r
        .try_get::<_, &str>(at + 4)?
        .lines()
        .map(|a| {
            a.parse().map_err(|_| {
                StorageError::Corrupt(format!("a document is addressed to unknown {a:?}"))
            })
        })
        .collect::<StorageResult<_>>()?;
    Ok(Audience {
        kind,
        scope: r.try_get(at + 1)?,
        created_by: r.try_get(at + 2)?,
        participants: lines_at(r, at + 3)?,
        addressed,
        until: r.try_get(at + 5)?,
    })
}

/// The audience columns of `docs` (aliased `d`), in the order [`audience_at`] reads them.
pub(super) const AUDIENCE: &str =
    "d.kind, d.scope, d.created_by, d.participants, d.addressed, d.valid_until";
