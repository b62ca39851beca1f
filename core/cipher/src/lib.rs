//! SQLCipher's crypto provider in Rust, for the phone's encrypted store.
//!
//! SQLCipher encrypts each page with AES-256-CBC, authenticates it with an HMAC, and derives its
//! HMAC key (and passphrase keys) with PBKDF2; a *provider* does that work for it. By default
//! SQLCipher builds its OpenSSL provider, which links much of OpenSSL (3.7 MB of the phone
//! library) and sets up OpenSSL's method tables on every page it reads or writes. This crate is
//! the same provider over RustCrypto's AES and CBC, ring's HMAC and PBKDF2, and rand's
//! thread-local CSPRNG, writing and reading the same file format: a store written through
//! either opens through the other.
//!
//! SQLCipher calls [`fieldsync_sqlcipher_setup`] when SQLite initialises, if it was compiled
//! with `-DSQLCIPHER_CRYPTO_CUSTOM=fieldsync_sqlcipher_setup` (the workspace's
//! `.cargo/config.toml` passes it through `LIBSQLITE3_FLAGS`). Built without that flag,
//! SQLCipher keeps its OpenSSL provider and nothing here runs: `PRAGMA cipher_provider` says
//! which one a connection has ([`PROVIDER_NAME`]).

mod crypto;
mod ffi;
mod init;

pub use crypto::PROVIDER_NAME;
pub use ffi::fieldsync_sqlcipher_setup;
pub use init::ready;
