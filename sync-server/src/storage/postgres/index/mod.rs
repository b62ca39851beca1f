//! The SQL of the record index (`IndexStorage`) in PostgreSQL: the rows read back (`rows`),
//! written inside each document write's savepoint (`upsert`, only the columns that changed),
//! listings with keyset pages (`list`) and assessment statistics (`stats`).

pub(crate) mod list;
pub(crate) mod rows;
pub(crate) mod stats;
pub(crate) mod upsert;
