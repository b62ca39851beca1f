//! The record index, domain side: the row each record has in the index (`rows`: status,
//! times of its workflow, due times and priority from the [`Rules`](crate::rules::Rules)),
//! and rebuilding every row from the stored documents (`rebuild`). No SQL and no HTTP: rows
//! are written by storage with the document write that produced them (`DocWrite::index`, set
//! by ingestion) and read through `IndexStorage`.

mod rebuild;
mod rows;
#[cfg(test)]
mod tests;

pub use rebuild::{Reindexed, fill_if_empty, reindex};
pub use rows::row_of;

use crate::storage::StorageError;

/// Why work on the index failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The blocking task computing rows failed (a bug).
    #[error("index task failed: {0}")]
    Task(String),
}
