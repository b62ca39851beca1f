//! The files of an encrypted store kept sealed (docs/blobs.md, "Files at rest"): the secret
//! their keys derive from, kept in the store's `meta` (inside the encrypted database, so a
//! change of the store's key rewrites no file), and the sealing of the plaintext files a store
//! had before it was encrypted.
//!
//! The sealing is crash-safe: each file is sealed into `tmp/`, synced and renamed over the
//! plaintext one, so at any moment a file is whole in one form or the other, and files are
//! read in either form until every one is sealed (`meta` `files_sealed`, set after the last).
//! A store killed meanwhile finishes the sealing at its next open.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::blob_files::{BlobDir, install};
use super::blob_io::FileKeys;
use super::sealed::{self, FileSecret, SealedWriter};
use crate::error::{CoreError, Result};

/// `meta` key of the file secret (32 bytes).
const SECRET: &str = "file_secret";
/// `meta` key set once every file of the store is sealed.
const SEALED: &str = "files_sealed";

/// The store's file secret, made and stored if there is none, and whether every file is
/// sealed; runs in the caller's transaction.
pub(crate) fn load_or_create(tx: &Connection, db: &Path) -> Result<FileKeys> {
    let stored: Option<Vec<u8>> =
        tx.query_row("SELECT value FROM meta WHERE key = ?1", [SECRET], |r| r.get(0)).optional()?;
    let secret = match stored {
        Some(bytes) => FileSecret::from_bytes(&bytes).ok_or_else(|| CoreError::DamagedFile {
            path: db.display().to_string(),
            reason: format!("its file secret has {} bytes, not 32", bytes.len()),
        })?,
        None => store_new(tx)?,
    };
    let sealed = tx.prepare_cached("SELECT 1 FROM meta WHERE key = ?1")?.exists([SEALED])?;
    Ok(FileKeys { secret: Some(Arc::new(secret)), plaintext_too: !sealed })
}

/// Stores a new file secret, replacing any (a wipe), with the mark that every file is sealed
/// when `sealed`.
fn store_new(tx: &Connection) -> Result<FileSecret> {
    let secret = FileSecret::generate();
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        rusqlite::params![SECRET, secret.as_bytes().as_slice()],
    )?;
    Ok(secret)
}

/// A new secret for a store whose files were all erased (a wipe), with every file sealed.
pub(crate) fn renew(tx: &Connection) -> Result<FileKeys> {
    let secret = store_new(tx)?;
    mark_sealed(tx)?;
    Ok(FileKeys { secret: Some(Arc::new(secret)), plaintext_too: false })
}

/// Records that every file of the store is sealed.
pub(crate) fn mark_sealed(tx: &Connection) -> Result<()> {
    tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, '1')", [SEALED])?;
    Ok(())
}

impl BlobDir {
    /// Seals every plaintext file of the folder (whole blobs and thumbnails) in place, and
    /// removes plaintext partial downloads (they start again) and temporary copies; returns
    /// the files sealed. Does nothing without a secret.
    pub(crate) fn seal_plaintext_files(&self) -> Result<usize> {
        let Some(secret) = self.keys().secret else { return Ok(0) };
        let _files = self.lock();
        for entry in entries(&self.root().join("partial"))? {
            if !sealed::is_sealed(&mut File::open(&entry)?)? {
                fs::remove_file(&entry)?;
            }
        }
        // Copies of adds cut by a crash, and sealings cut by one; markers (`.adding`) stay.
        for entry in entries(&self.tmp())? {
            if entry.extension().is_some_and(|e| e == "tmp" || e == "sealing") {
                fs::remove_file(&entry)?;
            }
        }
        let mut done = 0;
        for dir in entries(self.root())? {
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let holds_files = name == "thumbs"
                || (name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit()));
            if !holds_files || !dir.is_dir() {
                continue;
            }
            for file in entries(&dir)? {
                if file.is_file() && !sealed::is_sealed(&mut File::open(&file)?)? {
                    seal_one(&file, &self.tmp(), &secret)?;
                    done += 1;
                }
            }
        }
        Ok(done)
    }
}

/// The paths in `dir`; none when it is absent.
fn entries(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    match fs::read_dir(dir) {
        Ok(list) => Ok(list.map(|e| e.map(|e| e.path())).collect::<io::Result<_>>()?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Seals the plaintext file `path` into `tmp/` and renames the sealed copy over it.
fn seal_one(path: &Path, tmp: &Path, secret: &FileSecret) -> Result<()> {
    fs::create_dir_all(tmp)?;
    let staging = tmp.join(format!("{:016x}.sealing", rand::random::<u64>()));
    let mut w = SealedWriter::create(File::create(&staging)?, secret)?;
    let mut source = File::open(path)?;
    let mut buf = vec![0u8; sealed::CHUNK];
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        w.write_all(&buf[..n])?;
    }
    w.finish()?;
    install(&staging, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 a plaintext photo of the shed";

    /// A folder as a plaintext store left it: a whole blob, a thumbnail, a partial download
    /// and a copy of an add cut by a crash.
    fn plaintext_folder(root: &Path) -> Result<BlobDir> {
        let blobs = BlobDir::for_store(&root.join("s.db"));
        let hash = super::super::sha256_hex(PHOTO);
        for (path, bytes) in [
            (blobs.file(&hash), PHOTO),
            (blobs.thumbnail(&hash), b"\xff\xd8 thumb".as_slice()),
            (
                blobs.partial(&"ab".repeat(32), super::super::PhotoVariant::Original),
                b"\xff\xd8".as_slice(),
            ),
            (blobs.tmp().join("0123.tmp"), PHOTO),
            (blobs.tmp().join(format!("{hash}.adding")), b"".as_slice()),
        ] {
            fs::create_dir_all(path.parent().unwrap_or(root))?;
            fs::write(path, bytes)?;
        }
        Ok(blobs)
    }

    fn shows(path: &Path, text: &[u8]) -> bool {
        fs::read(path).is_ok_and(|b| b.windows(text.len()).any(|w| w == text))
    }

    #[test]
    fn plaintext_files_are_sealed_in_place_and_a_cut_sealing_finishes() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let blobs = plaintext_folder(dir.path())?;
        let hash = super::super::sha256_hex(PHOTO);
        let secret = Arc::new(FileSecret::generate());
        blobs.set_keys(FileKeys { secret: Some(secret.clone()), plaintext_too: true });

        // Cut by a crash after the first file: one sealed, one not, both read.
        seal_one(&blobs.file(&hash), &blobs.tmp(), &secret)?;
        assert!(!shows(&blobs.file(&hash), b"plaintext photo"));
        assert_eq!(blobs.reader(&blobs.file(&hash))?.read_all()?, PHOTO);
        assert_eq!(blobs.reader(&blobs.thumbnail(&hash))?.read_all()?, b"\xff\xd8 thumb");

        assert_eq!(blobs.seal_plaintext_files()?, 1, "the thumbnail only: the blob is sealed");
        blobs.set_keys(FileKeys { secret: Some(secret), plaintext_too: false });
        for path in [blobs.file(&hash), blobs.thumbnail(&hash)] {
            let mut f = File::open(&path)?;
            assert!(sealed::is_sealed(&mut f)?, "{}", path.display());
            assert!(!shows(&path, b"\xff\xd8"), "{}", path.display());
        }
        assert_eq!(blobs.reader(&blobs.file(&hash))?.read_all()?, PHOTO);
        assert_eq!(blobs.reader(&blobs.thumbnail(&hash))?.read_all()?, b"\xff\xd8 thumb");
        let left: Vec<_> = entries(&blobs.tmp())?;
        assert_eq!(left, vec![blobs.tmp().join(format!("{hash}.adding"))], "copies removed");
        assert!(entries(&blobs.root().join("partial"))?.is_empty(), "plaintext partials removed");
        assert_eq!(blobs.seal_plaintext_files()?, 0, "nothing left to seal");

        // A plaintext file where sealed ones are kept is damage, never a photo.
        fs::write(blobs.file(&hash), PHOTO)?;
        assert!(matches!(
            blobs.reader(&blobs.file(&hash)).map(drop),
            Err(CoreError::DamagedFile { .. })
        ));
        Ok(())
    }
}
