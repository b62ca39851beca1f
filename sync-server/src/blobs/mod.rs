//! Blobs (photos): immutable bytes addressed by their SHA-256, referenced from documents
//! (`docs/blobs.md`). Which documents reference a blob, and which device added each reference,
//! is written with the documents ([`crate::storage::DocWrite::blobs`]).

pub(crate) mod refs;
