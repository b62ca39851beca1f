//! The SQL of the record index (`IndexStorage`): the rows in and out of their tables (`rows`,
//! upserted by the writer inside each document write's savepoint), listings with keyset pages
//! (`list`) and assessment statistics (`stats`).

pub(crate) mod list;
pub(crate) mod rows;
pub(crate) mod stats;
