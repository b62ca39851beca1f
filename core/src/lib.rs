//! fieldsync-core: the offline-first core of fieldsync.
//!
//! Records (resident reports, patrol logs, mediation cases) are Automerge documents changed only
//! through domain commands ([`model`]); the phone keeps them in a SQLite store that works offline
//! for days ([`store`]).

pub mod authorship;
pub mod changes;
pub mod error;
pub mod id;
pub mod limits;
pub mod model;
pub mod peer;
pub mod poison;
pub mod policy;
pub mod protocol;
pub mod sql;
pub mod store;
pub mod sync;
pub mod time;

// SQLCipher's crypto provider, which SQLCipher (not Rust) calls: linked into everything that links
// SQLCipher (`.cargo/config.toml`, `LIBSQLITE3_FLAGS`).
#[cfg(feature = "encryption")]
use fieldsync_cipher as _;

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!("fieldsync_core");

pub use error::{CoreError, Result};
pub use id::DocId;
pub use store::Store;
