//! Photos through `FieldStore` (docs/blobs.md): adding one to a record, where its bytes are on
//! this phone, the upload queue, and downloads of originals and thumbnails.
//!
//! Photos never ride in `syncNow`: records sync first and fast, photos move in calls of their
//! own (`uploadPhotos`, `downloadPhoto`, `downloadSmallPhotos`) that the app schedules after
//! a sync. None of them holds the records' sync lock, so a record saved while a photo uploads
//! syncs at once (bindings/README.md, "Photos").

use std::path::PathBuf;
use std::sync::Arc;

use fieldsync_core::model::PhotoRef;
use fieldsync_core::store::{PhotoInfo, PhotoSource, PhotoState, PhotoVariant};
use fieldsync_core::sync::{DownloadSummary, PhotoProgressListener, UploadSummary};

use crate::error::FieldError;
use crate::input;
use crate::observe::{PhotoListener, PhotoListenerAdapter};
use crate::store::FieldStore;

/// A path the store made, as the string foreign code takes. The store's own paths derive from
/// the (UTF-8) path it was opened with, so this fails only on a damaged setup.
fn path_string(path: PathBuf) -> Result<String, FieldError> {
    path.into_os_string()
        .into_string()
        .map_err(|p| FieldError::Storage { detail: format!("path {p:?} is not UTF-8") })
}

/// `PhotoNotFound` for a hash no record on this phone references.
fn not_here(hash: &str) -> FieldError {
    FieldError::PhotoNotFound {
        hash: hash.to_string(),
        detail: "no record on this phone references it".into(),
    }
}

#[uniffi::export]
impl FieldStore {
    /// Attaches a photo to record `id` — a report, a mediation case, or with `entry` (the
    /// entry's key) a patrol log's entry — and returns its reference, which is in the record
    /// at once. `source` is the bytes (`PhotoSource.Bytes`) or a file to copy
    /// (`PhotoSource.File`, e.g. the camera's output; it may be deleted afterwards).
    /// `mediaType` is one of `image/jpeg`, `image/png`, `image/webp`, `image/heic`,
    /// `image/heif` or `image/gif` (any other, `text/html` say, is `InvalidInput` with field
    /// `media_type`: a photo is never a page). The bytes are hashed, written beside the
    /// database and synced before the record changes; the photo then waits in the upload
    /// queue. Takes time in proportion to the photo (tens of milliseconds for a few MB): call
    /// it off the UI thread. An empty or oversized (over 20 MiB) source, a missing file or a
    /// media type not listed is `InvalidInput`, and nothing is stored; the same bytes added
    /// twice are stored once.
    #[uniffi::method(default(entry = None))]
    pub fn add_photo(
        &self,
        id: String,
        source: PhotoSource,
        media_type: String,
        entry: Option<String>,
    ) -> Result<PhotoRef, FieldError> {
        let store = self.store()?;
        let doc = input::doc_id(&id)?;
        input::photo_source(&source)?;
        input::entry_key(entry.as_deref())?;
        Ok(store.add_photo(doc, &source, &media_type, entry)?)
    }

    /// What this phone knows of photo `hash` (size, media type, where its bytes are, upload or
    /// download progress, a refusal by the server); `null` if no record here references it.
    pub fn photo(&self, hash: String) -> Result<Option<PhotoInfo>, FieldError> {
        Ok(self.store()?.photo(input::photo_hash(&hash)?)?)
    }

    /// The file holding photo `hash` when its bytes are on this phone (added here, or
    /// downloaded and verified); `null` otherwise (then `downloadPhoto` fetches it). In an
    /// encrypted store the file is sealed, not an image: read the photo with `photoBytes`.
    pub fn photo_file(&self, hash: String) -> Result<Option<String>, FieldError> {
        self.store()?.photo_file(input::photo_hash(&hash)?)?.map(path_string).transpose()
    }

    /// The bytes of photo `hash` in `variant` (the original, or the server's thumbnail) when
    /// they are on this phone; `null` otherwise (then `downloadPhoto` fetches them). This is
    /// how an app shows a photo of an encrypted store, whose files are sealed on disk
    /// (docs/blobs.md, "Files at rest"); it works the same for a plaintext store. A file
    /// changed or cut on disk is `DamagedFile`, and nothing of it is returned. Takes time in
    /// proportion to the photo (a few milliseconds for a few MB): call it off the UI thread.
    pub fn photo_bytes(
        &self,
        hash: String,
        variant: PhotoVariant,
    ) -> Result<Option<Vec<u8>>, FieldError> {
        Ok(self.store()?.photo_bytes(input::photo_hash(&hash)?, variant)?)
    }

    /// The server's thumbnail of photo `hash` (a JPEG of at most 320 px a side) once
    /// downloaded; `null` otherwise. In an encrypted store the file is sealed: read it with
    /// `photoBytes`.
    pub fn thumbnail_file(&self, hash: String) -> Result<Option<String>, FieldError> {
        self.store()?.thumbnail_file(input::photo_hash(&hash)?)?.map(path_string).transpose()
    }

    /// Photos added on this phone that the server does not hold yet, oldest first; those the
    /// server refused for good (`refusedCode` set: over quota, too large) among them.
    pub fn photos_pending(&self) -> Result<Vec<PhotoInfo>, FieldError> {
        Ok(self.store()?.photos_pending()?)
    }

    /// Photos that records here reference and whose bytes are on the server only, smallest
    /// first; with `maxBytes`, only those of at most that size.
    #[uniffi::method(default(max_bytes = None))]
    pub fn photos_to_download(&self, max_bytes: Option<i64>) -> Result<Vec<PhotoInfo>, FieldError> {
        if let Some(n) = max_bytes.filter(|n| *n < 0) {
            return Err(crate::error::invalid("max_bytes", format!("{n} is negative")));
        }
        Ok(self.store()?.photos_to_download(max_bytes)?)
    }

    /// Offers a photo whose upload the server refused (over quota, say) again at the next
    /// `uploadPhotos`. `PhotoNotFound` if it is not waiting for upload on this phone.
    pub fn retry_photo_upload(&self, hash: String) -> Result<(), FieldError> {
        let store = self.store()?;
        let hash = input::photo_hash(&hash)?;
        match store.photo(hash)? {
            Some(info) if info.state == PhotoState::Local => Ok(store.retry_photo_upload(hash)?),
            Some(_) => Err(FieldError::PhotoNotFound {
                hash: hash.to_string(),
                detail: "it is not waiting for upload on this phone".into(),
            }),
            None => Err(not_here(hash)),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldStore {
    /// Uploads the photos added on this phone that the server does not hold, one after the
    /// other, in chunks sized to the link; `listener` hears of every chunk. Each photo resumes
    /// where the server's copy stops, so a cut link, a cancelled call or a killed app costs at
    /// most the chunk in flight. Photos whose records the server has not acknowledged yet are
    /// left for the next call (`waiting`): call it after `syncNow`. Photos the server refuses
    /// for good (over quota, too large) are marked (`photosPending`, `refusedCode`) and
    /// skipped until `retryPhotoUpload`. It never holds up `syncNow`: records saved meanwhile
    /// sync at once. One upload runs at a time per store; a second call waits for the first.
    /// Each chunk request gives up after `SyncOptions.requestTimeout` and is retried.
    #[uniffi::method(default(listener = None))]
    pub async fn upload_photos(
        &self,
        listener: Option<Arc<dyn PhotoListener>>,
    ) -> Result<UploadSummary, FieldError> {
        let shared = self.shared()?;
        let _one = shared.upload_lock.lock().await;
        let client = self.client()?;
        let adapter = listener.map(PhotoListenerAdapter);
        let listener = adapter.as_ref().map(|a| a as &dyn PhotoProgressListener);
        Ok(client.upload_photos(listener).await?)
    }

    /// The file of photo `hash` in `variant` (the original, or the server's JPEG thumbnail,
    /// much smaller: show it first on a slow link), fetched from the server unless it is here
    /// already; `listener` hears of the bytes as they come. An interrupted download resumes
    /// where it stopped, in this call or a later one. An original is kept only once its bytes
    /// match its hash (`HashMismatch` otherwise). `PhotoNotFound` when no record here references
    /// the photo or the server has none for this device yet (not uploaded whole); `NoThumbnail`
    /// when the photo is not an image the server can read.
    #[uniffi::method(default(listener = None))]
    pub async fn download_photo(
        &self,
        hash: String,
        variant: PhotoVariant,
        listener: Option<Arc<dyn PhotoListener>>,
    ) -> Result<String, FieldError> {
        let shared = self.shared()?;
        let store = &shared.store;
        let hash = input::photo_hash(&hash)?;
        let here = match variant {
            PhotoVariant::Original => store.photo_file(hash)?,
            PhotoVariant::Thumbnail => store.thumbnail_file(hash)?,
        };
        if let Some(file) = here {
            return path_string(file);
        }
        if store.photo(hash)?.is_none() {
            return Err(not_here(hash));
        }
        let client = self.client()?;
        let adapter = listener.map(PhotoListenerAdapter);
        let listener = adapter.as_ref().map(|a| a as &dyn PhotoProgressListener);
        path_string(client.download_photo(hash, variant, listener).await?)
    }

    /// Downloads the originals of small photos (at most `SyncOptions.autoDownloadBytes`,
    /// 256 KiB by default) that records here reference and whose bytes are not here, smallest
    /// first. Call it after `syncNow`; photos the server does not have yet are counted as
    /// `missing` and tried again next time.
    #[uniffi::method(default(listener = None))]
    pub async fn download_small_photos(
        &self,
        listener: Option<Arc<dyn PhotoListener>>,
    ) -> Result<DownloadSummary, FieldError> {
        let _open = self.shared()?;
        let client = self.client()?;
        let adapter = listener.map(PhotoListenerAdapter);
        let listener = adapter.as_ref().map(|a| a as &dyn PhotoProgressListener);
        Ok(client.download_small_photos(listener).await?)
    }
}
