//! A plaintext store made encrypted in place, atomically: killed at any moment, either the old
//! plaintext file or the new encrypted one is at the store's path, whole. A store encrypted
//! under SQLCipher's default settings (before [`key::HMAC`]) is written again the same way.
//!
//! SQLCipher's `sqlcipher_export` copies every table, index and row into a new file
//! (`<store>.encrypting`) under the key; that file is synced, the plaintext database is
//! checkpointed and closed (so no WAL of it is left to be replayed onto the new file), and only
//! then is the new file renamed over the old one and the folder synced. Until that rename, the
//! plaintext file is the store; a half-written `.encrypting` file left by a crash is removed by
//! the next attempt.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::key::{self, StoreKey};
use crate::error::{CoreError, Result};

/// The file a migration writes the encrypted copy to (`<store>.encrypting`).
fn staging_path(path: &Path) -> PathBuf {
    with_suffix(path, ".encrypting")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Removes `path` if it is there.
fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Encrypts the plaintext store at `path` with `key`, replacing it atomically. The caller holds
/// no connection to it (nor may anyone else: a plaintext WAL still in use is refused).
pub(crate) fn encrypt_in_place(path: &Path, key: &StoreKey) -> Result<()> {
    export_in_place(path, None, key)?;
    tracing::info!(path = %path.display(), "encrypted the plaintext store");
    Ok(())
}

/// Writes the store at `path`, encrypted with `key` under SQLCipher's default settings
/// ([`key::Settings::Legacy`]), again under this build's ([`key::HMAC`]), replacing it
/// atomically as [`encrypt_in_place`] does.
pub(crate) fn reencrypt_legacy_in_place(path: &Path, key: &StoreKey) -> Result<()> {
    export_in_place(path, Some(key), key)?;
    tracing::info!(path = %path.display(), "re-encrypted the store with the current settings");
    Ok(())
}

/// Exports the store at `path` (plaintext, or encrypted with `from` under the legacy settings)
/// into a copy encrypted with `key` under the current settings, and renames it over the store.
fn export_in_place(path: &Path, from: Option<&StoreKey>, key: &StoreKey) -> Result<()> {
    let staging = staging_path(path);
    for leftover in ["", "-journal", "-wal", "-shm"] {
        remove_if_there(&with_suffix(&staging, leftover))?;
    }
    let plain = Connection::open(path)?;
    key::require_cipher(&plain)?;
    key::unlock_as(&plain, path, from, key::Settings::Legacy)?;
    let version: i64 = plain.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let staging_name = staging
        .to_str()
        .ok_or_else(|| CoreError::invalid("path", format!("{} is not UTF-8", path.display())))?;
    key::cipher_ready()?;
    plain.execute(
        "ATTACH DATABASE ?1 AS encrypted KEY ?2",
        rusqlite::params![staging_name, key.raw_literal().as_str()],
    )?;
    // The copy is a scratch file until it is synced and renamed: no journal, no syncs of its
    // own, and one transaction (export commits a statement per table otherwise: 4 syncs each).
    // Its page HMAC is set before anything is written to it.
    plain.execute_batch(&format!(
        "PRAGMA encrypted.cipher_hmac_algorithm = {}; PRAGMA encrypted.journal_mode = OFF; \
         PRAGMA encrypted.synchronous = OFF; BEGIN;",
        key::HMAC
    ))?;
    plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
    plain.execute_batch(&format!("PRAGMA encrypted.user_version = {version}; COMMIT;"))?;
    plain.execute_batch("DETACH DATABASE encrypted")?;
    File::open(&staging)?.sync_all()?;
    // Everything of the plaintext store into its main file, and its WAL gone with its last
    // connection: a WAL left beside the encrypted file would be replayed onto it.
    plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))?;
    plain.close().map_err(|(_, e)| e)?;
    let wal = with_suffix(path, "-wal");
    if fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        remove_if_there(&staging)?;
        return Err(CoreError::invalid(
            "path",
            format!("{} is open elsewhere; close it there before encrypting it", path.display()),
        ));
    }
    fs::rename(&staging, path)?;
    // Best effort, as for photo files: some platforms cannot open a folder to sync it.
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
    {
        let _ = d.sync_all();
    }
    remove_if_there(&wal)?;
    remove_if_there(&with_suffix(path, "-shm"))?;
    Ok(())
}
