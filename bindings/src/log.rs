//! Where the library reports what it cannot return to a caller: an app's observer or listener
//! that threw (the write or transfer it was told about went on), a sync request retried. The
//! app sets a [`LogHook`] once (`setLogHook`); without one, messages go to standard error,
//! and the Kotlin layer installs a hook to the platform log (`android.util.Log`, or
//! `java.util.logging` off Android) when it loads.

use std::sync::{Arc, RwLock};

use crate::error::FieldError;

/// How much a message matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    /// Something worth knowing while looking into a problem.
    Info,
    /// Something went wrong and was worked around (a callback of the app threw).
    Warn,
    /// Something failed for good.
    Error,
}

/// Receives the library's log messages. Called on the library's threads (the observers'
/// thread among them): return quickly, and never call back into the store from it.
#[uniffi::export(foreign)]
pub trait LogHook: Send + Sync {
    /// One message; `tag` says which part of the library wrote it (`observer`, `sync`, ...).
    fn log(&self, level: LogLevel, tag: String, message: String) -> Result<(), FieldError>;
}

/// The hook in use; `None` writes to standard error.
static HOOK: RwLock<Option<Arc<dyn LogHook>>> = RwLock::new(None);

/// Sends the library's log messages to `hook` from now on, for every store in the process;
/// `null` sends them to standard error again.
#[uniffi::export]
pub fn set_log_hook(hook: Option<Arc<dyn LogHook>>) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = hook;
}

/// Reports `message` through the hook (and to `tracing`); a hook that fails or panics is
/// bypassed for this message, which goes to standard error with the hook's failure.
pub(crate) fn emit(level: LogLevel, tag: &str, message: String) {
    match level {
        LogLevel::Info => tracing::info!(tag, "{message}"),
        LogLevel::Warn => tracing::warn!(tag, "{message}"),
        LogLevel::Error => tracing::error!(tag, "{message}"),
    }
    let hook = HOOK.read().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(hook) = hook else {
        eprintln!("fieldsync {level:?} [{tag}] {message}");
        return;
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        hook.log(level, tag.to_string(), message.clone())
    }));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("fieldsync {level:?} [{tag}] {message} (the log hook failed: {e})"),
        Err(_) => eprintln!("fieldsync {level:?} [{tag}] {message} (the log hook panicked)"),
    }
}

/// A warning.
pub(crate) fn warn(tag: &str, message: String) {
    emit(LogLevel::Warn, tag, message);
}
