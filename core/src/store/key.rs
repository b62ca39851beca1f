//! The store's key (docs/design.md, "Secrets"): 32 random bytes the app keeps in the Android
//! Keystore or the iOS Keychain, handed to SQLCipher as a raw key (`PRAGMA key = "x'…'"`), so
//! no key derivation runs on every open.
//!
//! A connection is unlocked before anything else reads the file, and the unlock is checked with
//! a read of the schema: a wrong key (or none for an encrypted store) is [`CoreError::WrongKey`]
//! before anything is written.
//!
//! Only a build with SQLCipher can do either (core's `encryption` feature; plain SQLite would
//! take `PRAGMA key` as a no-op and write the store in the clear): anywhere else a key is refused
//! before it is used ([`require_cipher`]).

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use rusqlite::{Connection, ErrorCode};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{CoreError, Result};

/// The first 16 bytes of every plaintext SQLite file; an encrypted one starts with its salt.
const PLAINTEXT_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The key of an encrypted store: 32 bytes, wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey([u8; StoreKey::LEN]);

impl StoreKey {
    /// The length of a key in bytes.
    pub const LEN: usize = 32;

    /// A key from the bytes the app keeps; anything but [`StoreKey::LEN`] bytes is
    /// `InvalidInput`.
    pub fn from_bytes(bytes: &[u8]) -> Result<StoreKey> {
        let bytes: [u8; Self::LEN] = bytes.try_into().map_err(|_| {
            CoreError::invalid(
                "key",
                format!("{} bytes; a store key is {} random bytes", bytes.len(), Self::LEN),
            )
        })?;
        Ok(StoreKey(bytes))
    }

    /// A new random key (from the operating system's generator).
    pub fn generate() -> StoreKey {
        StoreKey(rand::random())
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// The key as SQLCipher's raw-key literal (`x'…'`, no key derivation), wiped when dropped.
    pub(crate) fn raw_literal(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("x'{}'", hex::encode(self.0)))
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(…)")
    }
}

/// Unlocks `conn` with `key` (none: a plaintext database) and checks that the file reads with
/// it; a file that does not is `WrongKey`. Runs before any other statement on the connection.
pub(crate) fn unlock(conn: &Connection, path: &Path, key: Option<&StoreKey>) -> Result<()> {
    unlock_as(conn, path, key, Settings::Current)
}

/// [`unlock`] under the cipher settings `settings`.
pub(crate) fn unlock_as(
    conn: &Connection,
    path: &Path,
    key: Option<&StoreKey>,
    settings: Settings,
) -> Result<()> {
    if let Some(key) = key {
        require_cipher(conn)?;
        give_key(conn, key, settings)?;
    }
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
        .map(drop)
        .map_err(|e| wrong_key_or(e, path, key.is_some()))
}

/// Gives `conn` the key to read and write the file with (none: a plaintext database), without
/// reading the file: for a connection beside one that [`unlock`] checked already, and that
/// needs no schema (the checkpoint thread's). The check parses the whole schema, a second time
/// on each open of the store.
pub(crate) fn set_key(conn: &Connection, key: Option<&StoreKey>) -> Result<()> {
    if let Some(key) = key {
        require_cipher(conn)?;
        give_key(conn, key, Settings::Current)?;
    }
    Ok(())
}

/// Refuses a key on a connection whose SQLite is not SQLCipher (a build of core without its
/// `encryption` feature), which would store everything in the clear. SQLCipher alone answers
/// `PRAGMA cipher_version`.
pub(crate) fn require_cipher(conn: &Connection) -> Result<()> {
    let mut pragma = conn.prepare("PRAGMA cipher_version")?;
    if pragma.exists([])? {
        return Ok(());
    }
    Err(CoreError::invalid(
        "key",
        "this build of fieldsync has no encryption (SQLCipher): build core with its `encryption` \
         feature to open or make an encrypted store",
    ))
}

/// The page HMAC a store is written with. SQLCipher 4's default is SHA-512; ARMv8 phones (and
/// x86 since SHA-NI) compute SHA-256 in hardware and SHA-512 in software, and with SHA-256 an
/// encrypted edit took 0.796 ms against 0.889 (median of 4 runs each, 10,000 records).
pub(crate) const HMAC: &str = "HMAC_SHA256";

/// Waits until SQLCipher is set up in this process (`fieldsync_cipher::ready`). The first
/// connection's thread runs that set-up after SQLite already counts as initialised, so a
/// connection opened on another thread meanwhile would be refused its key. Every key a
/// connection is given goes after it.
pub(crate) fn cipher_ready() -> rusqlite::Result<()> {
    #[cfg(feature = "encryption")]
    if !fieldsync_cipher::ready() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some("SQLCipher could not be set up".into()),
        ));
    }
    Ok(())
}

/// Unlocks `conn` with `key` under `settings`, reading nothing: SQLCipher's log off first (a
/// wrong key is a typed error here, not lines on the app's stderr or logcat), then the raw key,
/// then the page HMAC ([`HMAC`]; [`Settings::Legacy`] keeps SQLCipher's default, which stores
/// encrypted before it were written with).
pub(crate) fn give_key(
    conn: &Connection,
    key: &StoreKey,
    settings: Settings,
) -> rusqlite::Result<()> {
    cipher_ready()?;
    conn.execute_batch(&settings_pragma(key, settings))
}

/// The cipher settings a store was encrypted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settings {
    /// This build's: [`HMAC`].
    Current,
    /// SQLCipher 4's defaults (HMAC-SHA512), which stores encrypted before [`HMAC`] have.
    Legacy,
}

/// The statements of [`give_key`].
fn settings_pragma(key: &StoreKey, settings: Settings) -> Zeroizing<String> {
    let hmac = match settings {
        Settings::Current => format!(" PRAGMA cipher_hmac_algorithm = {HMAC};"),
        Settings::Legacy => String::new(),
    };
    Zeroizing::new(format!(
        "PRAGMA cipher_log_level = NONE; PRAGMA key = \"{}\";{hmac}",
        *key.raw_literal()
    ))
}

/// Whether `key` opens the store at `path` with SQLCipher's default settings
/// ([`Settings::Legacy`]): a store encrypted before this build's [`HMAC`], to be exported
/// into the current settings.
pub(crate) fn opens_as_legacy(path: &Path, key: &StoreKey) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let conn = Connection::open(path)?;
    match unlock_as(&conn, path, Some(key), Settings::Legacy) {
        Ok(()) => Ok(true),
        Err(CoreError::WrongKey { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `WrongKey` for SQLite's "file is not a database" (what a wrong key reads as), the error
/// itself otherwise.
pub(crate) fn wrong_key_or(e: rusqlite::Error, path: &Path, keyed: bool) -> CoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => CoreError::WrongKey {
            path: path.display().to_string(),
            reason: if keyed {
                "the key does not open it (a wrong key, or not a fieldsync store)"
            } else {
                "it is encrypted: open it with its key"
            },
        },
        _ => CoreError::Storage(e),
    }
}

/// Whether the file at `path` is a plaintext SQLite database (`false` when it is absent, empty
/// or anything else).
pub(crate) fn is_plaintext(path: &Path) -> io::Result<bool> {
    let mut header = [0u8; PLAINTEXT_HEADER.len()];
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match file.read_exact(&mut header) {
        Ok(()) => Ok(&header == PLAINTEXT_HEADER),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_32_bytes_and_never_printed() {
        assert!(matches!(
            StoreKey::from_bytes(&[7; 31]),
            Err(CoreError::InvalidInput { field: "key", .. })
        ));
        let key = StoreKey::from_bytes(&[0xab; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "StoreKey(…)");
        assert_eq!(*key.raw_literal(), format!("x'{}'", "ab".repeat(32)));
        assert_ne!(StoreKey::generate(), StoreKey::generate());
    }

    #[test]
    fn a_key_is_taken_only_where_sqlite_is_sqlcipher() {
        let conn = Connection::open_in_memory().unwrap();
        let refused = require_cipher(&conn);
        if cfg!(feature = "encryption") {
            refused.unwrap();
        } else {
            assert!(matches!(refused, Err(CoreError::InvalidInput { field: "key", .. })));
        }
    }
}
