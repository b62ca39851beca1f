//! The benchmark harness: suites that measure fieldsync on realistic data, and the report their
//! figures go to.
//!
//! The `bench` binary parses the command line and runs one suite. A suite seeds (or reuses a cached)
//! fixture, measures, and records each figure in a [`Report`] as soon as it is known, so a long run
//! shows its results as it goes. Suites share the synthetic data ([`corpus`]) and the percentile
//! helpers ([`stats`]); each suite lives in its own module.

pub mod blobs;
pub mod board;
pub mod compare;
pub mod corpus;
pub mod desk;
pub mod load;
pub mod peer;
pub mod points;
pub mod report;
pub mod server;
pub mod sim;
pub mod stats;
pub mod store;
pub mod sync;

use std::path::PathBuf;

pub use report::{Figure, Report, Unit};
pub use stats::{Samples, percentile, timed};

/// The error type of the harness: anything that stops a suite, shown to the user as it is.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The result type of the harness.
pub type Result<T> = std::result::Result<T, Error>;

/// Where seeded fixtures are cached between runs: `bench-cache` in the cargo target directory
/// (`CARGO_TARGET_DIR` if set, else the directory two levels above this executable, i.e.
/// `target/` for `target/release/bench`), or in the system temp directory as a last resort.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("bench-cache");
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|target| target.join("bench-cache")))
        .unwrap_or_else(|| std::env::temp_dir().join("fieldsync-bench-cache"))
}

/// Prints a progress line to stderr (stdout carries only figures).
pub fn progress(msg: impl std::fmt::Display) {
    eprintln!("[bench] {msg}");
}
