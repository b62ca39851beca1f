//! What outlives a request: a restart after a crash, which finishes what was cut, and
//! uploads left idle, which end.

use std::fs;
use std::time::{Duration, SystemTime};

use super::{Inner, blocking, io, sync_dir};
use crate::photos::{PhotoError, PhotoResult, io_error};
use crate::storage::Upload;

impl Inner {
    /// After a restart: finishes uploads that hold all their bytes (or whose file was put in
    /// place before the blob was recorded), drops partial files no upload owns and temporary
    /// thumbnails. A partial file of schema version 4 (`partial/<hash>`, one upload per blob)
    /// is renamed to its upload's name first.
    pub(super) async fn recover(&self) -> PhotoResult<()> {
        let uploads = self.storage.uploads().await?;
        let partial_dir = self.root.join("partial");
        let renames: Vec<_> =
            uploads.iter().map(|u| (partial_dir.join(&u.hash), self.partial(u))).collect();
        let dir = partial_dir.clone();
        blocking(move || {
            for (old, new) in renames {
                if fs::exists(&old).unwrap_or(false) {
                    fs::rename(&old, new).map_err(io(&old))?;
                    sync_dir(&dir)?;
                }
            }
            Ok(())
        })
        .await?;
        for upload in &uploads {
            // Renamed into place, not recorded: this upload's file is the blob's now.
            let (partial, complete) = (self.partial(upload), self.complete(&upload.hash));
            let placed = blocking(move || {
                Ok(!fs::exists(&partial).unwrap_or(true) && fs::exists(&complete).unwrap_or(false))
            })
            .await?;
            let renamed = placed && self.blob(&upload.hash).await?.is_none();
            if renamed || self.held(upload).await? == upload.size {
                match self.finish(upload).await {
                    Ok(_) | Err(PhotoError::HashMismatch { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let owned: std::collections::HashSet<String> =
            self.storage.uploads().await?.iter().map(|u| format!("{}.{}", u.hash, u.id)).collect();
        let root = self.root.clone();
        blocking(move || {
            for dir in ["partial", "thumbs"] {
                let dir = root.join(dir);
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
        })
        .await
    }

    /// Ends `upload` if its file has not been written to for `idle` (a row without a file
    /// holds nothing: it ends too); the caller holds the blob's lock. Returns whether it ended.
    pub(super) async fn end_if_idle(&self, upload: &Upload, idle: Duration) -> PhotoResult<bool> {
        let path = self.partial(upload);
        let idle_for = blocking(move || {
            let written = match fs::metadata(&path) {
                Ok(m) => Some(m.modified().map_err(io(&path))?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_error(&path, e)),
            };
            Ok(written.map(|t| SystemTime::now().duration_since(t).unwrap_or_default()))
        })
        .await?;
        if idle_for.is_some_and(|d| d < idle) {
            return Ok(false);
        }
        // Still under way? (It may have completed, or its device proved it holds the blob,
        // since it was listed.)
        let now = self.storage.upload(upload.hash.clone(), upload.device.clone()).await?;
        if now.as_ref() != Some(upload) {
            return Ok(false);
        }
        self.drop_upload(upload).await?;
        tracing::info!(hash = upload.hash, device = upload.device, ?idle_for, "idle upload ended");
        Ok(true)
    }
}
