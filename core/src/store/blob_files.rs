//! The bytes of blobs on the phone: files beside the SQLite file, in `<store>.blobs/`:
//!
//! - `ab/abcdef…`: whole blobs, named by their SHA-256 (the first two hex digits name the
//!   folder, so no folder grows past a few hundred files);
//! - `thumbs/<hash>.jpg`: thumbnails the server made;
//! - `partial/<hash>` and `partial/<hash>.thumb`: downloads in progress (they resume);
//! - `tmp/`: a photo being added, and the marker of an add not yet committed.
//!
//! A file reaches its final name only whole and synced (temporary file, `fsync`, `rename`,
//! `fsync` of the folder), so a crash leaves either the whole file or none. An add writes its
//! file before it commits the reference; the marker `tmp/<hash>.adding`, made before the rename
//! and removed after the commit, lets the next open remove a file whose reference never
//! committed ([`BlobDir::sweep`]).
//!
//! In an encrypted store every one of these files is sealed (`sealed`, docs/blobs.md, "Files
//! at rest"); `blob_io` reads and writes both forms.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, Weak};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::blob_io::{BlobReader, BlobWriter, FileKeys};
use crate::error::{CoreError, Result};
use crate::limits;
use crate::poison::Recover;

/// Files in `tmp/` older than this belong to no add still running (an add takes seconds).
const STALE_TMP: Duration = Duration::from_secs(3600);
/// Read and write buffer.
const BUF: usize = 64 * 1024;

/// Where a photo's bytes come from when it is added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PhotoSource {
    /// The bytes themselves (a camera buffer).
    Bytes {
        /// The photo.
        bytes: Vec<u8>,
    },
    /// A file to copy (the camera's output file); it is read once and may be deleted after.
    File {
        /// Its path.
        path: String,
    },
}

/// Which bytes of a blob to fetch: the blob itself or the server's thumbnail of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PhotoVariant {
    /// The original bytes, verified against their SHA-256.
    Original,
    /// A JPEG of at most 320 px on its longer side, made by the server.
    Thumbnail,
}

/// SHA-256 as lower-case hex, fed piece by piece.
#[derive(Default)]
pub(crate) struct BlobHasher(Sha256);

impl BlobHasher {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub(crate) fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = BlobHasher::default();
    h.update(bytes);
    h.finish()
}

/// A photo written to a temporary file, hashed and synced; removed if dropped unplaced.
pub(crate) struct Staged {
    tmp: Option<PathBuf>,
    pub(crate) hash: String,
    pub(crate) size: u64,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(p) = self.tmp.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// A staged photo at its final name, its reference not yet committed: [`Placed::committed`]
/// keeps the file, dropping it otherwise removes a file this add created.
pub(crate) struct Placed {
    file: PathBuf,
    marker: PathBuf,
    created: bool,
    committed: bool,
}

impl Placed {
    /// The reference committed: the file stays.
    pub(crate) fn committed(mut self) {
        self.committed = true;
    }
}

impl Drop for Placed {
    fn drop(&mut self) {
        if self.created && !self.committed {
            let _ = fs::remove_file(&self.file);
        }
        let _ = fs::remove_file(&self.marker);
    }
}

/// The blob folder of one store file.
pub(crate) struct BlobDir {
    root: PathBuf,
    /// Held while a file is put in place or removed, and until the metadata that goes with it
    /// commits; shared by every `Store` open on the same file in this process.
    lock: Arc<Mutex<()>>,
    /// How the files are kept (sealed in an encrypted store).
    keys: RwLock<FileKeys>,
}

impl BlobDir {
    /// The folder beside the store file `db` (`<db>.blobs`); created when first written.
    pub(crate) fn for_store(db: &Path) -> BlobDir {
        let mut name = db.as_os_str().to_os_string();
        name.push(".blobs");
        let root = PathBuf::from(name);
        BlobDir { lock: shared_lock(&root), root, keys: RwLock::default() }
    }

    /// The folder itself.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// How the files are kept now.
    pub(crate) fn keys(&self) -> FileKeys {
        self.keys.read().recover().clone()
    }

    /// Sets how the files are kept (an encrypted store's secret, once read from the store).
    pub(crate) fn set_keys(&self, keys: FileKeys) {
        *self.keys.write().recover() = keys;
    }

    /// Opens the file at `path` (one of this folder's) to read its plaintext.
    pub(crate) fn reader(&self, path: &Path) -> Result<BlobReader> {
        BlobReader::open(path, &self.keys())
    }

    /// Serialises adds, downloads and removals of files with their metadata.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().recover()
    }

    /// Removes every photo file and partial download or upload (the whole folder); the
    /// caller holds the files' lock.
    pub(crate) fn erase_all(&self) -> Result<()> {
        match fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The whole blob `hash`.
    pub(crate) fn file(&self, hash: &str) -> PathBuf {
        self.root.join(&hash[..2]).join(hash)
    }

    /// The thumbnail of blob `hash`.
    pub(crate) fn thumbnail(&self, hash: &str) -> PathBuf {
        self.root.join("thumbs").join(format!("{hash}.jpg"))
    }

    /// Where a download of `variant` of `hash` collects its bytes.
    pub(crate) fn partial(&self, hash: &str, variant: PhotoVariant) -> PathBuf {
        let name = match variant {
            PhotoVariant::Original => hash.to_string(),
            PhotoVariant::Thumbnail => format!("{hash}.thumb"),
        };
        self.root.join("partial").join(name)
    }

    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Copies `source` to a temporary file, hashing it; refuses an empty, oversized or
    /// unreadable source as invalid input.
    pub(crate) fn stage(&self, source: &PhotoSource) -> Result<Staged> {
        let mut reader: Box<dyn Read> = match source {
            PhotoSource::Bytes { bytes } => {
                check_size(bytes.len() as u64)?;
                Box::new(&bytes[..])
            }
            PhotoSource::File { path } => {
                let unreadable = |e: io::Error| {
                    CoreError::invalid("source", format!("cannot read {path:?}: {e}"))
                };
                let file = File::open(path).map_err(unreadable)?;
                let meta = file.metadata().map_err(unreadable)?;
                if !meta.is_file() {
                    return Err(CoreError::invalid("source", format!("{path:?} is not a file")));
                }
                check_size(meta.len())?;
                Box::new(file)
            }
        };
        fs::create_dir_all(self.tmp())?;
        let tmp = self.tmp().join(format!("{:016x}.tmp", rand::random::<u64>()));
        let mut staged = Staged { tmp: Some(tmp.clone()), hash: String::new(), size: 0 };
        let mut out = BlobWriter::create(File::create(&tmp)?, &self.keys())?;
        let mut h = BlobHasher::default();
        let mut buf = vec![0u8; BUF];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CoreError::invalid("source", format!("cannot read it: {e}"))),
            };
            staged.size += n as u64;
            // The file may have grown since its size was checked.
            if staged.size > limits::BLOB_BYTES {
                return Err(too_large(staged.size));
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        check_size(staged.size)?;
        out.finish()?;
        staged.hash = h.finish();
        Ok(staged)
    }

    /// Moves a staged photo to its final name (the caller holds [`BlobDir::lock`]). A file
    /// already there (the same photo added before) is kept and the staged copy dropped.
    pub(crate) fn place(&self, mut staged: Staged) -> Result<Placed> {
        let file = self.file(&staged.hash);
        let marker = self.tmp().join(format!("{}.adding", staged.hash));
        let created = !file.is_file();
        if created {
            File::create(&marker)?.sync_all()?;
            let placed = Placed { file: file.clone(), marker, created, committed: false };
            if let Some(tmp) = staged.tmp.take()
                && let Err(e) = install(&tmp, &file)
            {
                let _ = fs::remove_file(&tmp);
                return Err(e.into());
            }
            Ok(placed)
        } else {
            Ok(Placed { file, marker, created, committed: false })
        }
    }

    /// Removes what a crash left in `tmp/`: temporary copies, and the files of adds whose
    /// reference never committed (`known(hash)` says whether the store has a row for it).
    /// Only entries older than an hour are touched: another handle on the same file may be
    /// adding a photo right now.
    pub(crate) fn sweep(&self, known: impl Fn(&str) -> Result<bool>) -> Result<usize> {
        let entries = match fs::read_dir(self.tmp()) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let age = entry.metadata()?.modified().ok().and_then(|m| now.duration_since(m).ok());
            if age.is_none_or(|a| a < STALE_TMP) {
                continue;
            }
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(hash) = name.strip_suffix(".adding")
                && crate::protocol::is_blob_hash(hash)
                && !known(hash)?
            {
                match fs::remove_file(self.file(hash)) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            fs::remove_file(path)?;
        }
        Ok(removed)
    }

    /// Held by the download of `variant` of `hash`, so two downloads of one file do not write
    /// into the same partial file; shared by every `Store` on the same file in this process.
    pub(crate) fn transfer_lock(
        &self,
        hash: &str,
        variant: PhotoVariant,
    ) -> Arc<tokio::sync::Mutex<()>> {
        type Locks = Mutex<HashMap<PathBuf, Weak<tokio::sync::Mutex<()>>>>;
        static LOCKS: OnceLock<Locks> = OnceLock::new();
        let key = self.partial(hash, variant);
        let key = key.canonicalize().unwrap_or(key);
        let mut locks = LOCKS.get_or_init(Default::default).lock().recover();
        locks.retain(|_, l| l.strong_count() > 0);
        if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(key, Arc::downgrade(&lock));
        lock
    }

    /// Opens the partial download of `variant` to continue it; returns it with the bytes it
    /// keeps. With the blob's `size` (an original), a file that holds it whole already (a
    /// download finished but not yet verified) is `None` with `size`.
    pub(crate) fn open_partial(
        &self,
        hash: &str,
        variant: PhotoVariant,
        size: Option<u64>,
    ) -> Result<(Option<BlobWriter>, u64)> {
        let path = self.partial(hash, variant);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let keys = self.keys();
        let file =
            OpenOptions::new().create(true).truncate(false).write(true).read(true).open(&path)?;
        if let (Some(size), Some(_)) = (size, &keys.secret)
            && file.metadata()?.len() == super::sealed::sealed_len(size)
        {
            return Ok((None, size));
        }
        let (writer, kept) = BlobWriter::resume(file, &keys)?;
        Ok((Some(writer), kept))
    }

    /// Verifies the partial original of `hash` and moves it to its final name (the caller
    /// holds [`BlobDir::lock`]). Bytes that do not hash to `hash` are removed:
    /// `HashMismatch`.
    pub(crate) fn finish_original(&self, hash: &str) -> Result<PathBuf> {
        let partial = self.partial(hash, PhotoVariant::Original);
        let (found, size) = match self.reader(&partial).and_then(BlobReader::hash) {
            Err(CoreError::DamagedFile { reason, .. }) => {
                fs::remove_file(&partial)?;
                return Err(CoreError::HashMismatch {
                    hash: hash.to_string(),
                    message: format!("the bytes received were damaged on this phone: {reason}"),
                });
            }
            other => other?,
        };
        if found != hash {
            fs::remove_file(&partial)?;
            return Err(CoreError::HashMismatch {
                hash: hash.to_string(),
                message: format!("the {size} bytes received hash to {found}"),
            });
        }
        let file = self.file(hash);
        install(&partial, &file)?;
        Ok(file)
    }

    /// Moves a finished thumbnail download to its final name.
    pub(crate) fn finish_thumbnail(&self, hash: &str) -> Result<PathBuf> {
        let file = self.thumbnail(hash);
        install(&self.partial(hash, PhotoVariant::Thumbnail), &file)?;
        Ok(file)
    }

    /// Removes the partial download of `variant`, if any.
    pub(crate) fn drop_partial(&self, hash: &str, variant: PhotoVariant) -> Result<()> {
        remove_if_there(&self.partial(hash, variant))
    }

    /// Removes every file of blob `hash` (the caller holds [`BlobDir::lock`]).
    pub(crate) fn remove_all(&self, hash: &str) -> Result<()> {
        remove_if_there(&self.file(hash))?;
        remove_if_there(&self.thumbnail(hash))?;
        self.drop_partial(hash, PhotoVariant::Original)?;
        self.drop_partial(hash, PhotoVariant::Thumbnail)
    }
}

fn remove_if_there(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn too_large(size: u64) -> CoreError {
    CoreError::invalid("source", format!("{size} bytes; a photo is at most {}", limits::BLOB_BYTES))
}

fn check_size(size: u64) -> Result<()> {
    if size == 0 {
        return Err(CoreError::invalid("source", "is empty (0 bytes)"));
    }
    if size > limits::BLOB_BYTES {
        return Err(too_large(size));
    }
    Ok(())
}

/// Syncs `from`, renames it to `to` (creating the folder), and syncs the folder, so the new
/// name survives a crash.
pub(super) fn install(from: &Path, to: &Path) -> io::Result<()> {
    File::open(from)?.sync_all()?;
    let dir = to.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    fs::rename(from, to)?;
    // Best effort: some platforms cannot open a folder to sync it.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// One lock per blob folder in this process, however many stores are open on it.
fn shared_lock(root: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Weak<Mutex<()>>>>> = OnceLock::new();
    let key = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut locks = LOCKS.get_or_init(Default::default).lock().recover();
    locks.retain(|_, l| l.strong_count() > 0);
    if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
        return lock;
    }
    let lock = Arc::new(Mutex::new(()));
    locks.insert(key, Arc::downgrade(&lock));
    lock
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn stale_adding_markers_remove_uncommitted_files_only() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let blobs = BlobDir::for_store(&dir.path().join("s.db"));
        let kept = blobs.place(blobs.stage(&PhotoSource::Bytes { bytes: b"kept".to_vec() })?)?;
        let lost = blobs.place(blobs.stage(&PhotoSource::Bytes { bytes: b"lost".to_vec() })?)?;
        // A crash: neither marker is removed.
        std::mem::forget(kept);
        std::mem::forget(lost);
        let (kept, lost) = (sha256_hex(b"kept"), sha256_hex(b"lost"));
        assert_eq!(blobs.sweep(|_| Ok(false))?, 0, "fresh markers may belong to a running add");
        let old = SystemTime::now() - 2 * STALE_TMP;
        for entry in fs::read_dir(blobs.tmp())? {
            File::options().write(true).open(entry?.path())?.set_modified(old)?;
        }
        assert_eq!(blobs.sweep(|h| Ok(h == kept))?, 1);
        assert!(blobs.file(&kept).is_file());
        assert!(!blobs.file(&lost).exists());
        assert_eq!(fs::read_dir(blobs.tmp())?.count(), 0);
        Ok(())
    }
}
