//! Photos as files beside the database, what is known of them in it (`docs/blobs.md`, "Server
//! storage"; the metadata through `storage::BlobStorage`):
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
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::thumbnail;
use super::{
    ByteStream, Chunk, PhotoError, PhotoMeta, PhotoResult, PhotoState, PhotoStore, Possession,
    io_error,
};
use crate::locks::Locks;
use crate::storage::{BoxFuture, Storage, StorageError, StoredBlob, Upload};

/// Bytes read from a file at a time (hashing, downloads).
const PIECE_BYTES: usize = 64 * 1024;

/// Photos as files under `<data>/blobs`, what is known of them in the server's storage.
#[derive(Clone)]
pub struct FsPhotoStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    /// Seals possession challenges (see `BlobStorage::challenge_key`).
    challenge_key: [u8; 32],
    storage: Arc<dyn Storage>,
    locks: Arc<Locks<String>>,
    /// Thumbnails are made one at a time: decoding a large photo takes a few hundred MiB.
    thumbnailing: tokio::sync::Mutex<()>,
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

/// Runs file work on a blocking thread.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> PhotoResult<R> + Send + 'static,
) -> PhotoResult<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Corrupt(format!("blob task failed: {e}")))?
}

/// What a status answer says of a complete blob.
fn blob_meta(b: StoredBlob) -> PhotoMeta {
    PhotoMeta {
        received: b.size,
        hash: b.hash,
        size: b.size,
        media_type: b.media_type,
        complete: true,
        thumbnail: b.thumbnail,
        uploaded_by: b.uploaded_by,
    }
}

/// What a status answer says of an upload holding `received` bytes.
fn upload_meta(u: &Upload, received: u64) -> PhotoMeta {
    PhotoMeta {
        hash: u.hash.clone(),
        size: u.size,
        media_type: u.media_type.clone(),
        received,
        complete: false,
        thumbnail: false,
        uploaded_by: u.device.clone(),
    }
}

impl FsPhotoStore {
    /// Opens the photo store of the data directory `data_dir`, whose metadata `storage` keeps.
    /// Finishes what a crash interrupted: uploads whose bytes were all held, or whose file was
    /// already in place, are verified and recorded complete.
    pub async fn open(data_dir: &Path, storage: Arc<dyn Storage>) -> Result<Self, StorageError> {
        let root = data_dir.join("blobs");
        for dir in [root.clone(), root.join("partial"), root.join("thumbs")] {
            fs::create_dir_all(&dir)
                .map_err(|source| StorageError::Io { path: dir.display().to_string(), source })?;
        }
        let challenge_key = storage.challenge_key().await?;
        let store = FsPhotoStore {
            inner: Arc::new(Inner {
                root,
                challenge_key,
                storage,
                locks: Arc::new(Locks::default()),
                thumbnailing: tokio::sync::Mutex::new(()),
            }),
        };
        store.inner.recover().await.map_err(|e| match e {
            PhotoError::Storage(s) => s,
            other => StorageError::Corrupt(other.to_string()),
        })?;
        Ok(store)
    }

    /// The directory holding the photos.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }
}

impl Inner {
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
    async fn held(&self, upload: &Upload) -> PhotoResult<u64> {
        let (path, size) = (self.partial(upload), upload.size);
        blocking(move || match fs::metadata(&path) {
            Ok(m) => Ok(m.len().min(size)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io_error(&path, e)),
        })
        .await
    }

    /// The complete blob `hash`, `device`'s upload of it (with `received` read from its file)
    /// and its holders.
    async fn state(&self, hash: &str, device: &str) -> PhotoResult<PhotoState> {
        let record = self.storage.blob_record(hash.to_string(), device.to_string()).await?;
        let upload = match &record.upload {
            Some(u) => Some(upload_meta(u, self.held(u).await?)),
            None => None,
        };
        Ok(PhotoState { blob: record.blob.map(blob_meta), upload, holders: record.holders })
    }

    /// The complete blob `hash`.
    async fn blob(&self, hash: &str) -> PhotoResult<Option<StoredBlob>> {
        Ok(self.storage.blob(hash.to_string()).await?)
    }

    /// Makes the thumbnail of complete blob `hash` if it is still to be made (one at a time:
    /// decoding a large photo takes a few hundred MiB); returns whether the blob has one.
    async fn make_thumbnail(&self, hash: &str) -> PhotoResult<bool> {
        // Made already (the common case): no wait behind another photo's decoding.
        if !self.storage.thumbnail_pending(hash.to_string()).await? {
            return Ok(self.blob(hash).await?.is_some_and(|b| b.thumbnail));
        }
        self.make_pending_thumbnail(hash).await
    }

    /// [`Inner::make_thumbnail`] of a blob whose thumbnail was pending a moment ago (one just
    /// completed): checked again only once its turn to decode has come.
    async fn make_pending_thumbnail(&self, hash: &str) -> PhotoResult<bool> {
        let _one = self.thumbnailing.lock().await;
        if !self.storage.thumbnail_pending(hash.to_string()).await? {
            return Ok(self.blob(hash).await?.is_some_and(|b| b.thumbnail));
        }
        let (source, target) = (self.complete(hash), self.thumb(hash));
        let thumbs = self.root.join("thumbs");
        let made = blocking(move || {
            let thumbnail = thumbnail::make(&source).map_err(io(&source))?;
            if let Some(jpeg) = &thumbnail {
                write_thumb(&target, &thumbs, jpeg)?;
            }
            Ok(thumbnail.is_some())
        })
        .await?;
        self.storage.thumbnail_made(hash.to_string(), made).await?;
        tracing::debug!(hash, thumbnail = made, "thumbnail made");
        Ok(made)
    }

    /// Opens a complete blob at `first`.
    async fn open_at(&self, hash: &str, first: u64) -> PhotoResult<File> {
        if self.blob(hash).await?.is_none() {
            return Err(PhotoError::NotFound { hash: hash.to_string() });
        }
        let path = self.complete(hash);
        blocking(move || {
            let mut file = File::open(&path).map_err(io(&path))?;
            file.seek(SeekFrom::Start(first)).map_err(io(&path))?;
            Ok(file)
        })
        .await
    }
}

/// Writes a thumbnail under a temporary name, syncs it, renames it into place.
fn write_thumb(path: &Path, dir: &Path, jpeg: &[u8]) -> PhotoResult<()> {
    let tmp = path.with_extension("jpg.tmp");
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(jpeg).and_then(|()| file.sync_all()).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(dir)
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
        Box::pin(async move { self.inner.state(&hash, &device).await })
    }

    fn write(&self, chunk: Chunk) -> BoxFuture<'_, PhotoResult<PhotoMeta>> {
        Box::pin(async move {
            let turn = self.inner.locks.lock(chunk.hash.clone()).await;
            let m = self.inner.write(&chunk).await;
            drop(turn);
            let m = m?;
            if m.complete && !m.thumbnail {
                // After the answer: the uploader does not wait for it (a request for the
                // thumbnail meanwhile makes it itself).
                let inner = self.inner.clone();
                let hash = chunk.hash;
                tokio::spawn(async move {
                    if let Err(e) = inner.make_pending_thumbnail(&hash).await {
                        tracing::warn!(hash, "making a thumbnail failed: {e}");
                    }
                });
            }
            Ok(m)
        })
    }

    fn prove(&self, possession: Possession) -> BoxFuture<'_, PhotoResult<bool>> {
        Box::pin(async move {
            let _turn = self.inner.locks.lock(possession.hash.clone()).await;
            self.inner.prove(&possession).await
        })
    }

    fn read(&self, hash: String, first: u64, last: u64) -> BoxFuture<'_, PhotoResult<ByteStream>> {
        Box::pin(async move {
            let file = self.inner.open_at(&hash, first).await?;
            Ok(stream(file, last + 1 - first))
        })
    }

    fn end_idle_uploads(&self, idle: Duration) -> BoxFuture<'_, PhotoResult<usize>> {
        Box::pin(async move {
            let uploads = self.inner.storage.uploads().await?;
            let mut ended = 0;
            for upload in uploads {
                // The blob's lock: a chunk being written now is not ended under it.
                let _turn = self.inner.locks.lock(upload.hash.clone()).await;
                ended += usize::from(self.inner.end_if_idle(&upload, idle).await?);
            }
            Ok(ended)
        })
    }

    fn thumbnail(&self, hash: String) -> BoxFuture<'_, PhotoResult<Option<Vec<u8>>>> {
        Box::pin(async move {
            let s = &self.inner;
            if s.blob(&hash).await?.is_none() || !s.make_thumbnail(&hash).await? {
                return Ok(None);
            }
            let path = s.thumb(&hash);
            blocking(move || fs::read(&path).map(Some).map_err(io(&path))).await
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
