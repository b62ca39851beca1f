//! Panic isolation for code that runs on bytes from elsewhere (Automerge on pushed changes, the
//! image decoders on uploaded photos): a panic fails the one document or photo it was working
//! on, never the request or the server.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, turning a panic into an error message.
pub(crate) fn isolate<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}
