//! SQLCipher's set-up, finished before a connection is keyed.
//!
//! SQLite runs SQLCipher's set-up (`sqlcipher_extra_init`: its mutexes, its provider, the
//! random seed of its memory shield) on its first use, through `SQLITE_EXTRA_INIT`. But
//! `sqlite3_initialize` marks SQLite initialised *before* it runs that set-up, outside its own
//! mutex. A second thread opening its first connection meanwhile goes straight on, and its
//! `PRAGMA key` fails ("An error occurred with PRAGMA key or rekey"): SQLCipher is not ready.
//! Two encrypted stores opened through core on two threads as a process starts met it in about
//! one process in eight here. [`ready`] waits for the set-up (or runs it) before a key is used.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::ffi;

unsafe extern "C" {
    /// SQLCipher's set-up (`SQLITE_EXTRA_INIT`). It holds SQLite's main static mutex while it
    /// runs and returns at once when it has completed: a call while another thread runs it
    /// waits for that one to finish.
    fn sqlcipher_extra_init(arg: *const c_char) -> c_int;
}

/// Set once SQLCipher's set-up is known complete: later calls of [`ready`] cost one load.
static READY: AtomicBool = AtomicBool::new(false);

/// Returns once SQLCipher is set up in this process (running its set-up if no thread has),
/// `false` if the set-up failed (out of memory, or the provider refused). Call before the first
/// `PRAGMA key` or `ATTACH … KEY` of any connection.
pub fn ready() -> bool {
    if READY.load(Ordering::Acquire) {
        return true;
    }
    // SAFETY: both take no pointers but a null argument, which `sqlcipher_extra_init` ignores;
    // SQLite allows either on any thread at any time after it is built thread-safe (rusqlite's
    // bundled builds are).
    let ok = unsafe {
        ffi::sqlite3_initialize() == ffi::SQLITE_OK
            && sqlcipher_extra_init(std::ptr::null()) == ffi::SQLITE_OK
    };
    if ok {
        READY.store(true, Ordering::Release);
    }
    ok
}
