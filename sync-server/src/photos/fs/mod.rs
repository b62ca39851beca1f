//! Blobs as files beside the database, their metadata in it (`docs/blobs.md`, "Server storage"):
//!
//! ```text
//! <data>/blobs/ab/abcdef…             complete, verified blobs
//! <data>/blobs/partial/<hash>.<id>    uploads under way, one per blob and device: the prefix
//!                                     received so far
//! <data>/blobs/thumbs/<hash>.jpg      thumbnails
//! ```
//!
//! A chunk is written into the partial file at the offset the file has reached and synced
//! before it is acknowledged, so the file's length is what the server holds, whatever happened
//! to the process. When the last byte arrives the file is hashed; if it verifies, the file
//! (synced) is renamed into place and only then is the blob recorded complete, its uploader a
//! holder; an upload of a blob complete already is verified the same way, makes its device a
//! holder and is removed (`upload`). A device also comes to hold a blob by answering a
//! possession challenge (`proof`). A crash anywhere leaves either a partial upload that
//! resumes or a file in place that [`FsPhotoStore::open`] finishes recording (`recover`). The
//! thumbnail is made after the answer, or at the first request for it, whichever comes first
//! (after a crash: at that request).
//!
//! All file work and hashing runs on blocking threads; the uploads and proofs of one blob take
//! turns.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::meta::{self, Upload};
use super::thumbnail;
use super::{
    ByteStream, Chunk, PhotoError, PhotoMeta, PhotoResult, PhotoState, PhotoStore, Possession,
    io_error,
};
use crate::config::Durability;
use crate::locks::Locks;
use crate::storage::{BoxFuture, StorageError, StorageResult};
use fieldsync_core::poison::Recover;

/// Bytes read from a file at a time (hashing, downloads).
const PIECE_BYTES: usize = 64 * 1024;

/// How long the metadata connection waits for the database's write lock.
const BUSY_TIMEOUT_MS: u64 = 10_000;

/// Blobs as files under `<data>/blobs`, metadata in the server's SQLite database.
#[derive(Clone)]
pub struct FsPhotoStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    /// Seals possession challenges (see [`meta::challenge_key`]).
    challenge_key: [u8; 32],
    db: Mutex<Connection>,
    locks: Arc<Locks<String>>,
    /// Thumbnails are made one at a time: decoding a large photo takes a few hundred MiB.
    thumbnailing: Mutex<()>,
}

impl std::fmt::Debug for FsPhotoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsPhotoStore").field("root", &self.inner.root).finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PhotoError + '_ {
    move |e| io_error(path, e)
}

/// Syncs a directory, so that a rename or a new file in it survives a power loss.
fn sync_dir(dir: &Path) -> PhotoResult<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Lower-case hex SHA-256 of the file at `path`.
fn sha256_file(path: &Path) -> PhotoResult<String> {
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
    Ok(hex::encode(hasher.finalize()))
}

impl FsPhotoStore {
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
        conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        let challenge_key = meta::challenge_key(&conn)?;
        let store = FsPhotoStore {
            inner: Arc::new(Inner {
                root,
                challenge_key,
                db: Mutex::new(conn),
                locks: Arc::new(Locks::default()),
                thumbnailing: Mutex::new(()),
            }),
        };
        store.inner.recover().map_err(|e| match e {
            PhotoError::Storage(s) => s,
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
        f: impl FnOnce(&Inner) -> PhotoResult<R> + Send + 'static,
    ) -> BoxFuture<'_, PhotoResult<R>> {
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
        self.db.lock().recover()
    }

    /// The partial file of one upload.
    fn partial(&self, upload: &Upload) -> PathBuf {
        self.root.join("partial").join(format!("{}.{}", upload.hash, upload.id))
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

    /// Bytes of an upload held on disk (its file's length, at most its size).
    fn held(&self, upload: &Upload) -> PhotoResult<u64> {
        let path = self.partial(upload);
        match fs::metadata(&path) {
            Ok(m) => Ok(m.len().min(upload.size)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    /// The complete blob `hash`, `device`'s upload of it (with `received` read from its file)
    /// and its holders.
    fn state(&self, hash: &str, device: &str) -> PhotoResult<PhotoState> {
        let (blob, upload, holders) = {
            let db = self.db();
            (meta::get(&db, hash)?, meta::upload(&db, hash, device)?, meta::holders(&db, hash)?)
        };
        let upload = match upload {
            Some(u) => Some(u.meta(self.held(&u)?)),
            None => None,
        };
        Ok(PhotoState { blob, upload, holders })
    }

    /// Makes the thumbnail of complete blob `hash` if it is still to be made (one at a time:
    /// decoding a large photo takes a few hundred MiB); returns whether the blob has one.
    fn make_thumbnail(&self, hash: &str) -> PhotoResult<bool> {
        let made = || Ok(meta::get(&self.db(), hash)?.is_some_and(|m| m.thumbnail));
        // Made already (the common case): no wait behind another photo's decoding.
        if !meta::thumbnail_pending(&self.db(), hash)? {
            return made();
        }
        let _one = self.thumbnailing.lock().recover();
        if !meta::thumbnail_pending(&self.db(), hash)? {
            return made();
        }
        let source = self.complete(hash);
        let thumbnail = thumbnail::make(&source).map_err(io(&source))?;
        if let Some(jpeg) = &thumbnail {
            self.write_thumb(hash, jpeg)?;
        }
        meta::thumbnail_made(&self.db(), hash, thumbnail.is_some())?;
        tracing::debug!(hash, thumbnail = thumbnail.is_some(), "thumbnail made");
        Ok(thumbnail.is_some())
    }

    /// Writes a thumbnail under a temporary name, syncs it, renames it into place.
    fn write_thumb(&self, hash: &str, jpeg: &[u8]) -> PhotoResult<()> {
        let path = self.thumb(hash);
        let tmp = path.with_extension("jpg.tmp");
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(jpeg).and_then(|()| file.sync_all()).map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.root.join("thumbs"))
    }

    /// Opens a complete blob at `first`.
    fn open_at(&self, hash: &str, first: u64) -> PhotoResult<File> {
        if meta::get(&self.db(), hash)?.is_none() {
            return Err(PhotoError::NotFound { hash: hash.to_string() });
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

impl PhotoStore for FsPhotoStore {
    fn state(&self, hash: String, device: String) -> BoxFuture<'_, PhotoResult<PhotoState>> {
        self.blocking(move |s| s.state(&hash, &device))
    }

    fn write(&self, chunk: Chunk) -> BoxFuture<'_, PhotoResult<PhotoMeta>> {
        Box::pin(async move {
            let turn = self.inner.locks.lock(chunk.hash.clone()).await;
            let hash = chunk.hash.clone();
            let m = self
                .blocking(move |s| {
                    let _turn = turn;
                    s.write(&chunk)
                })
                .await?;
            if m.complete && !m.thumbnail {
                // After the answer: the uploader does not wait for it (a request for the
                // thumbnail meanwhile makes it itself).
                let inner = self.inner.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = inner.make_thumbnail(&hash) {
                        tracing::warn!(hash, "making a thumbnail failed: {e}");
                    }
                });
            }
            Ok(m)
        })
    }

    fn prove(&self, possession: Possession) -> BoxFuture<'_, PhotoResult<bool>> {
        Box::pin(async move {
            let turn = self.inner.locks.lock(possession.hash.clone()).await;
            self.blocking(move |s| {
                let _turn = turn;
                s.prove(&possession)
            })
            .await
        })
    }

    fn read(&self, hash: String, first: u64, last: u64) -> BoxFuture<'_, PhotoResult<ByteStream>> {
        Box::pin(async move {
            let file = self.blocking(move |s| s.open_at(&hash, first)).await?;
            Ok(stream(file, last + 1 - first))
        })
    }

    fn end_idle_uploads(&self, idle: Duration) -> BoxFuture<'_, PhotoResult<usize>> {
        Box::pin(async move {
            let uploads = self.blocking(|s| Ok(meta::uploads(&s.db())?)).await?;
            let mut ended = 0;
            for upload in uploads {
                // The blob's lock: a chunk being written now is not ended under it.
                let turn = self.inner.locks.lock(upload.hash.clone()).await;
                let done = self
                    .blocking(move |s| {
                        let _turn = turn;
                        s.end_if_idle(&upload, idle)
                    })
                    .await?;
                ended += usize::from(done);
            }
            Ok(ended)
        })
    }

    fn thumbnail(&self, hash: String) -> BoxFuture<'_, PhotoResult<Option<Vec<u8>>>> {
        self.blocking(move |s| {
            if meta::get(&s.db(), &hash)?.is_none() || !s.make_thumbnail(&hash)? {
                return Ok(None);
            }
            let path = s.thumb(&hash);
            fs::read(&path).map(Some).map_err(io(&path))
        })
    }

    fn challenge_key(&self) -> [u8; 32] {
        self.inner.challenge_key
    }
}

mod proof;
mod recover;
#[cfg(test)]
mod tests;
mod upload;
