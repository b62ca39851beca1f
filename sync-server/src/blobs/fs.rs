//! Blobs as files beside the database, their metadata in it (`docs/blobs.md`, "Server storage"):
//!
//! ```text
//! <data>/blobs/ab/abcdef…          complete, verified blobs
//! <data>/blobs/partial/<hash>      uploads under way: the prefix received so far
//! <data>/blobs/thumbs/<hash>.jpg   thumbnails
//! ```
//!
//! A chunk is written into the partial file at the offset the file has reached and synced
//! before it is acknowledged, so the file's length is what the server holds, whatever happened
//! to the process. When the last byte arrives the file is hashed; if it verifies, the thumbnail
//! is made, the file (synced) is renamed into place and only then is the blob recorded
//! complete. A crash anywhere in between leaves either a partial upload that resumes or a file
//! in place that [`FsBlobStore::open`] finishes recording.
//!
//! All file work and hashing runs on blocking threads; the uploads of one blob take turns.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::thumbnail;
use super::{BlobError, BlobMeta, BlobResult, BlobStore, ByteStream, Chunk, io_error, meta};
use crate::config::Durability;
use crate::locks::Locks;
use crate::storage::{BoxFuture, StorageError, StorageResult};

/// Bytes read from a file at a time (hashing, downloads).
const PIECE_BYTES: usize = 64 * 1024;

/// How long the metadata connection waits for the database's write lock.
const BUSY_TIMEOUT_MS: u64 = 10_000;

/// Blobs as files under `<data>/blobs`, metadata in the server's SQLite database.
#[derive(Clone)]
pub struct FsBlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    db: Mutex<Connection>,
    locks: Arc<Locks<String>>,
    /// Thumbnails are made one at a time: decoding a large photo takes a few hundred MiB.
    thumbnailing: Mutex<()>,
}

impl std::fmt::Debug for FsBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsBlobStore").field("root", &self.inner.root).finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |e| io_error(path, e)
}

/// Syncs a directory, so that a rename or a new file in it survives a power loss.
fn sync_dir(dir: &Path) -> BlobResult<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Lower-case hex SHA-256 of the file at `path`.
fn sha256_file(path: &Path) -> BlobResult<String> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; PIECE_BYTES];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl FsBlobStore {
    /// Opens the blob store of the data directory `data_dir`, whose database `db_path` the
    /// documents' storage has created or upgraded already. Finishes what a crash interrupted:
    /// uploads whose bytes were all held, or whose file was already in place, are verified and
    /// recorded complete. Blocking.
    pub fn open(data_dir: &Path, db_path: &Path, durability: Durability) -> StorageResult<Self> {
        let root = data_dir.join("blobs");
        for dir in [root.clone(), root.join("partial"), root.join("thumbs")] {
            fs::create_dir_all(&dir)
                .map_err(|source| StorageError::Io { path: dir.display().to_string(), source })?;
        }
        let conn = Connection::open(db_path)?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        let store = FsBlobStore {
            inner: Arc::new(Inner {
                root,
                db: Mutex::new(conn),
                locks: Arc::new(Locks::default()),
                thumbnailing: Mutex::new(()),
            }),
        };
        store.inner.recover().map_err(|e| match e {
            BlobError::Storage(s) => s,
            other => StorageError::Corrupt(other.to_string()),
        })?;
        Ok(store)
    }

    /// The directory holding the blobs.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Runs `f` on a blocking thread.
    fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> BlobResult<R> + Send + 'static,
    ) -> BoxFuture<'_, BlobResult<R>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&inner))
                .await
                .map_err(|e| StorageError::Corrupt(format!("blob task failed: {e}")))?
        })
    }
}

impl Inner {
    fn db(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn partial(&self, hash: &str) -> PathBuf {
        self.root.join("partial").join(hash)
    }

    fn complete_dir(&self, hash: &str) -> PathBuf {
        self.root.join(hash.get(..2).unwrap_or("00"))
    }

    fn complete(&self, hash: &str) -> PathBuf {
        self.complete_dir(hash).join(hash)
    }

    fn thumb(&self, hash: &str) -> PathBuf {
        self.root.join("thumbs").join(format!("{hash}.jpg"))
    }

    /// Bytes of the partial upload held on disk (its file's length, at most `size`).
    fn held(&self, hash: &str, size: u64) -> BlobResult<u64> {
        let path = self.partial(hash);
        match fs::metadata(&path) {
            Ok(m) => Ok(m.len().min(size)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    /// The row of `hash` with `received` read from the partial file.
    fn meta(&self, hash: &str) -> BlobResult<Option<BlobMeta>> {
        let Some(mut m) = meta::get(&self.db(), hash)? else { return Ok(None) };
        if !m.complete {
            m.received = self.held(hash, m.size)?;
        }
        Ok(Some(m))
    }

    /// Stores one chunk; the caller holds the blob's lock.
    fn write(&self, chunk: &Chunk) -> BlobResult<BlobMeta> {
        let hash = chunk.hash.as_str();
        let found = self.meta(hash)?;
        if let Some(m) = &found {
            if m.complete {
                return Ok(m.clone());
            }
            if m.size != chunk.size {
                return Err(BlobError::RangeNotSatisfiable(format!(
                    "the upload of {hash} under way is of {} bytes, not {}; received {}",
                    m.size, chunk.size, m.received
                )));
            }
        }
        let received = found.as_ref().map_or(0, |m| m.received);
        if chunk.first > received {
            return Err(BlobError::RangeNotSatisfiable(format!(
                "the range starts at byte {}, but the server holds {received} bytes of {hash}: \
                 send from {received}; received {received}",
                chunk.first
            )));
        }
        let mut m = match found {
            Some(m) => m,
            None => self.start(chunk)?,
        };
        let end = chunk.last() + 1;
        if end > received {
            let path = self.partial(hash);
            let fresh = &chunk.bytes[usize::try_from(received - chunk.first).unwrap_or(0)..];
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io(&path))?;
            file.seek(SeekFrom::Start(received)).map_err(io(&path))?;
            file.write_all(fresh).map_err(io(&path))?;
            file.sync_data().map_err(io(&path))?;
            meta::set_received(&self.db(), hash, end)?;
            m.received = end;
        }
        if m.received == m.size {
            m.thumbnail = self.finish(hash, m.size)?;
            m.received = m.size;
            m.complete = true;
        }
        Ok(m)
    }

    /// Starts an upload for `chunk.device`, within its quota; nothing is stored otherwise.
    fn start(&self, chunk: &Chunk) -> BlobResult<BlobMeta> {
        let hash = chunk.hash.as_str();
        {
            // The quota check and the new row under one hold of the connection: two uploads
            // of the same device cannot both pass on the same room.
            let db = self.db();
            let used = meta::used(&db, &chunk.device)?;
            if used.saturating_add(chunk.size) > chunk.quota {
                return Err(BlobError::QuotaExceeded {
                    used,
                    size: chunk.size,
                    quota: chunk.quota,
                });
            }
            meta::insert(&db, hash, chunk.size, &chunk.media_type, &chunk.device)?;
        }
        // A file left by an upload that was then discarded must not count as received.
        let path = self.partial(hash);
        File::create(&path).map_err(io(&path))?;
        Ok(BlobMeta {
            hash: hash.to_string(),
            size: chunk.size,
            media_type: chunk.media_type.clone(),
            received: 0,
            complete: false,
            thumbnail: false,
            uploaded_by: chunk.device.clone(),
        })
    }

    /// Verifies the partial upload of `hash` holding all its `size` bytes and puts it in
    /// place with its thumbnail (returns whether it has one); a mismatch discards it.
    /// Idempotent across crashes: a file already in place is recorded complete.
    fn finish(&self, hash: &str, size: u64) -> BlobResult<bool> {
        let partial = self.partial(hash);
        let target = self.complete(hash);
        let source = if fs::exists(&partial).unwrap_or(false) { &partial } else { &target };
        let actual = sha256_file(source)?;
        if actual != hash {
            // The file goes first: a row without a file is an upload at 0, never stale bytes.
            fs::remove_file(source).map_err(io(source))?;
            meta::delete(&self.db(), hash)?;
            tracing::info!(hash, actual, size, "upload discarded: the bytes do not verify");
            return Err(BlobError::HashMismatch { hash: hash.to_string(), actual, size });
        }
        let thumbnail = {
            let _one = self.thumbnailing.lock().unwrap_or_else(|p| p.into_inner());
            thumbnail::make(source).map_err(io(source))?
        };
        if let Some(jpeg) = &thumbnail {
            self.write_thumb(hash, jpeg)?;
        }
        if source == &partial {
            File::open(&partial).and_then(|f| f.sync_all()).map_err(io(&partial))?;
            let dir = self.complete_dir(hash);
            fs::create_dir_all(&dir).map_err(io(&dir))?;
            fs::rename(&partial, &target).map_err(io(&target))?;
            sync_dir(&dir)?;
            sync_dir(&self.root.join("partial"))?;
        }
        meta::complete(&self.db(), hash, thumbnail.is_some())?;
        tracing::info!(hash, size, thumbnail = thumbnail.is_some(), "blob stored");
        Ok(thumbnail.is_some())
    }

    /// Writes a thumbnail under a temporary name, syncs it, renames it into place.
    fn write_thumb(&self, hash: &str, jpeg: &[u8]) -> BlobResult<()> {
        let path = self.thumb(hash);
        let tmp = path.with_extension("jpg.tmp");
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(jpeg).and_then(|()| file.sync_all()).map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.root.join("thumbs"))
    }

    /// After a restart: finishes uploads that hold all their bytes (or whose file is in place
    /// already), drops partial files no upload owns and temporary thumbnails.
    fn recover(&self) -> BlobResult<()> {
        let incomplete = meta::incomplete(&self.db())?;
        for (hash, size) in &incomplete {
            let in_place = fs::exists(self.complete(hash)).unwrap_or(false);
            if in_place || self.held(hash, *size)? == *size {
                match self.finish(hash, *size) {
                    Ok(_) | Err(BlobError::HashMismatch { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let owned: std::collections::HashSet<&str> =
            incomplete.iter().map(|(h, _)| h.as_str()).collect();
        for dir in ["partial", "thumbs"] {
            let dir = self.root.join(dir);
            for entry in fs::read_dir(&dir).map_err(io(&dir))? {
                let path = entry.map_err(io(&dir))?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let stray = if dir.ends_with("partial") {
                    !owned.contains(name)
                } else {
                    name.ends_with(".tmp")
                };
                if stray {
                    tracing::info!(path = %path.display(), "removing a stray blob file");
                    fs::remove_file(&path).map_err(io(&path))?;
                }
            }
        }
        Ok(())
    }

    /// Opens a complete blob at `first`.
    fn open_at(&self, hash: &str, first: u64) -> BlobResult<File> {
        let complete = meta::get(&self.db(), hash)?.is_some_and(|m| m.complete);
        if !complete {
            return Err(BlobError::NotFound { hash: hash.to_string() });
        }
        let path = self.complete(hash);
        let mut file = File::open(&path).map_err(io(&path))?;
        file.seek(SeekFrom::Start(first)).map_err(io(&path))?;
        Ok(file)
    }
}

/// Reads up to `left` bytes of `file` in pieces, each on a blocking thread.
fn stream(file: File, left: u64) -> ByteStream {
    let pieces = futures_util::stream::unfold((Some(file), left), |(file, left)| async move {
        let file = file?;
        if left == 0 {
            return None;
        }
        let want = usize::try_from(left).unwrap_or(PIECE_BYTES).min(PIECE_BYTES);
        let read = tokio::task::spawn_blocking(move || {
            let mut file = file;
            let mut buf = vec![0u8; want];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        match read {
            Ok((_, buf)) if buf.is_empty() => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the blob file is shorter than its size",
                )),
                (None, 0),
            )),
            Ok((file, buf)) => {
                let left = left - buf.len() as u64;
                Some((Ok(Bytes::from(buf)), (Some(file), left)))
            }
            Err(e) => Some((Err(e), (None, 0))),
        }
    });
    Box::pin(pieces)
}

impl BlobStore for FsBlobStore {
    fn meta(&self, hash: String) -> BoxFuture<'_, BlobResult<Option<BlobMeta>>> {
        self.blocking(move |s| s.meta(&hash))
    }

    fn write(&self, chunk: Chunk) -> BoxFuture<'_, BlobResult<BlobMeta>> {
        Box::pin(async move {
            let turn = self.inner.locks.lock(chunk.hash.clone()).await;
            self.blocking(move |s| {
                let _turn = turn;
                s.write(&chunk)
            })
            .await
        })
    }

    fn read(&self, hash: String, first: u64, last: u64) -> BoxFuture<'_, BlobResult<ByteStream>> {
        Box::pin(async move {
            let file = self.blocking(move |s| s.open_at(&hash, first)).await?;
            Ok(stream(file, last + 1 - first))
        })
    }

    fn thumbnail(&self, hash: String) -> BoxFuture<'_, BlobResult<Option<Vec<u8>>>> {
        self.blocking(move |s| {
            let Some(m) = meta::get(&s.db(), &hash)? else { return Ok(None) };
            if !(m.complete && m.thumbnail) {
                return Ok(None);
            }
            let path = s.thumb(&hash);
            fs::read(&path).map(Some).map_err(io(&path))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::SqliteStorage;

    fn sha(bytes: &[u8]) -> String {
        Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }

    fn png() -> Vec<u8> {
        let img = image::RgbImage::from_fn(500, 200, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn chunk(bytes: &[u8], first: usize, len: usize, quota: u64) -> Chunk {
        Chunk {
            hash: sha(bytes),
            size: bytes.len() as u64,
            media_type: "image/png".into(),
            device: "dev".into(),
            quota,
            first: first as u64,
            bytes: Bytes::copy_from_slice(&bytes[first..first + len]),
        }
    }

    #[test]
    fn opening_finishes_what_a_crash_interrupted_and_drops_strays() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let _storage = SqliteStorage::open(&db, Durability::Normal).unwrap();
        let store = FsBlobStore::open(dir.path(), &db, Durability::Normal).unwrap();
        let s = &store.inner;
        let record = |bytes: &[u8], hash: &str| {
            meta::insert(&s.db(), hash, bytes.len() as u64, "image/png", "dev").unwrap();
        };
        // Killed while hashing: every byte is in the partial file.
        let held = png();
        record(&held, &sha(&held));
        fs::write(s.partial(&sha(&held)), &held).unwrap();
        // Killed after the rename, before the record.
        let placed = b"placed but not recorded".to_vec();
        record(&placed, &sha(&placed));
        fs::create_dir_all(s.complete_dir(&sha(&placed))).unwrap();
        fs::write(s.complete(&sha(&placed)), &placed).unwrap();
        // Killed while hashing bytes that do not verify.
        let wrong = b"these bytes are not the ones named".to_vec();
        let named = sha(b"other bytes of the same length....");
        meta::insert(&s.db(), &named, wrong.len() as u64, "image/png", "dev").unwrap();
        fs::write(s.partial(&named), &wrong).unwrap();
        // Half an upload, a partial file nobody owns, a thumbnail cut short.
        let half = b"0123456789".to_vec();
        record(&half, &sha(&half));
        fs::write(s.partial(&sha(&half)), &half[..4]).unwrap();
        fs::write(s.partial(&"ee".repeat(32)), b"stale").unwrap();
        fs::write(s.root.join("thumbs").join("x.jpg.tmp"), b"cut").unwrap();
        drop(store);

        let store = FsBlobStore::open(dir.path(), &db, Durability::Normal).unwrap();
        let s = &store.inner;
        let m = s.meta(&sha(&held)).unwrap().unwrap();
        assert!(m.complete && m.thumbnail && m.received == held.len() as u64);
        assert_eq!(fs::read(s.complete(&sha(&held))).unwrap(), held);
        assert!(!fs::exists(s.partial(&sha(&held))).unwrap());
        let m = s.meta(&sha(&placed)).unwrap().unwrap();
        assert!(m.complete && !m.thumbnail);
        assert_eq!(s.meta(&named).unwrap(), None, "bytes that do not verify are discarded");
        assert!(!fs::exists(s.partial(&named)).unwrap());
        let m = s.meta(&sha(&half)).unwrap().unwrap();
        assert_eq!((m.received, m.complete), (4, false), "a partial upload resumes");
        assert!(!fs::exists(s.partial(&"ee".repeat(32))).unwrap());
        assert!(!fs::exists(s.root.join("thumbs").join("x.jpg.tmp")).unwrap());
    }

    #[test]
    fn chunks_extend_skip_overlaps_and_refuse_gaps_and_quota() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let _storage = SqliteStorage::open(&db, Durability::Normal).unwrap();
        let store = FsBlobStore::open(dir.path(), &db, Durability::Normal).unwrap();
        let s = &store.inner;
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let gap = s.write(&chunk(&bytes, 10, 10, 5000));
        assert!(matches!(gap, Err(BlobError::RangeNotSatisfiable(_))), "{gap:?}");
        assert_eq!(s.meta(&sha(&bytes)).unwrap(), None, "nothing stored for a refused start");
        assert_eq!(s.write(&chunk(&bytes, 0, 400, 5000)).unwrap().received, 400);
        assert_eq!(s.write(&chunk(&bytes, 100, 100, 5000)).unwrap().received, 400);
        assert_eq!(s.write(&chunk(&bytes, 300, 300, 5000)).unwrap().received, 600);
        // The quota counts the upload under way from its first byte.
        let other: Vec<u8> = vec![9; 4500];
        let r = s.write(&chunk(&other, 0, 10, 5000));
        assert!(matches!(r, Err(BlobError::QuotaExceeded { used: 1000, .. })), "{r:?}");
        let done = s.write(&chunk(&bytes, 600, 400, 5000)).unwrap();
        assert!(done.complete && !done.thumbnail);
        assert_eq!(fs::read(s.complete(&sha(&bytes))).unwrap(), bytes);
        // Complete: any further chunk is answered with the blob as it is.
        assert!(s.write(&chunk(&bytes, 0, 10, 0)).unwrap().complete);
    }
}
