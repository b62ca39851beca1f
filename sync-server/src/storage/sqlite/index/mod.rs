//! The SQL of the record index (`IndexStorage`): the rows read back (`rows`), written by the
//! writer inside each document write's savepoint (`upsert`, only the columns that changed),
//! listings with keyset pages (`list`) and assessment statistics (`stats`).

pub(crate) mod list;
pub(crate) mod rows;
pub(crate) mod stats;
pub(crate) mod upsert;
