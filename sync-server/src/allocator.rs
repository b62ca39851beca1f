//! What the server's binaries tell jemalloc, their global allocator.
//!
//! jemalloc reads its options once, when it starts, from a C string the program exports as
//! `malloc_conf` (`_rjem_malloc_conf` under tikv-jemallocator's prefixed names); the
//! `_RJEM_MALLOC_CONF` environment variable, read after it, still overrides them. Each binary
//! that runs the server (`fieldsync-server`, and the bench harness's `bench serve`) exports the
//! same string with [`export_jemalloc_conf!`](crate::export_jemalloc_conf).

/// jemalloc's options for a process that runs the server.
///
/// - `background_thread:true`: pages freed by requests are handed back to the system by
///   jemalloc's own threads (at most one a core), off the requests' path.
/// - `dirty_decay_ms:1000`: they are handed back within about a second instead of the default
///   ten. A sync answer's buffers, a batch's decoded changes and the documents the cache let go
///   are freed in bursts; with ten seconds, a busy server kept some 9 MiB of such pages resident
///   with 20,000 documents stored (`bench sync`, `server.rss_mb`).
pub const JEMALLOC_CONF: &[u8; 43] = b"background_thread:true,dirty_decay_ms:1000\0";

/// Exports [`JEMALLOC_CONF`] as jemalloc's `malloc_conf` from the binary that invokes it (once,
/// at its top level). Linux only: elsewhere jemalloc's defaults stay.
#[macro_export]
macro_rules! export_jemalloc_conf {
    () => {
        #[cfg(target_os = "linux")]
        #[unsafe(export_name = "_rjem_malloc_conf")]
        static MALLOC_CONF: &[u8; $crate::allocator::JEMALLOC_CONF.len()] =
            $crate::allocator::JEMALLOC_CONF;
    };
}
