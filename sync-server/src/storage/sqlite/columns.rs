//! How values go into columns and come back: sizes as SQLite's signed integers, document ids as
//! blobs, a document's audience from its columns.

use std::str::FromStr;

use fieldsync_core::DocId;
use fieldsync_core::model::Kind;

use crate::storage::{Audience, StorageError, StorageResult};

/// A size as SQLite stores it (a size past `i64::MAX` is no real blob's; it stays unusable).
pub(crate) fn sql_size(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

pub(super) fn doc_id(bytes: &[u8]) -> StorageResult<DocId> {
    DocId::from_slice(bytes).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// The audience of a document from its `kind, scope, created_by, participants, addressed,
/// valid_until` columns, starting at column `at`.
pub(super) fn audience_at(r: &rusqlite::Row<'_>, at: usize) -> StorageResult<Audience> {
    let kind: String = r.get(at)?;
    let kind = Kind::from_str(&kind)
        .map_err(|_| StorageError::Corrupt(format!("a document has unknown kind {kind:?}")))?;
    let participants: String = r.get(at + 3)?;
    let addressed: String = r.get(at + 4)?;
    let addressed = addressed
        .lines()
        .map(|a| {
            a.parse().map_err(|_| {
                StorageError::Corrupt(format!("a document is addressed to unknown {a:?}"))
            })
        })
        .collect::<StorageResult<_>>()?;
    Ok(Audience {
        kind,
        scope: r.get(at + 1)?,
        created_by: r.get(at + 2)?,
        participants: participants.lines().map(str::to_string).collect(),
        addressed,
        until: r.get(at + 5)?,
    })
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
