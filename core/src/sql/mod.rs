//! SQLite helpers shared by the phone's store and the sync server, so that both open, create
//! and upgrade their databases the same way.

mod open;

pub use open::{Initializer, OpenError, open_database, schema_version};
