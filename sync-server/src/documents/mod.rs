//! The documents a request works on: loaded from the cache or storage under their locks,
//! changed by verified ingestion, committed together ([`batch`]); the push half of a sync
//! ([`push`]) and the bounded cache of loaded documents ([`cache`]).

pub(crate) mod batch;
pub(crate) mod cache;
pub(crate) mod push;
