//! The network calls of `FieldStore`: enrolment and `sync_now`, async in Kotlin (suspend),
//! Swift (async) and Python (coroutines), run on the library's tokio runtime. Cancelling the
//! caller (a coroutine, a task) stops the sync between two steps; what was committed stays, and
//! the next sync continues from there.

use std::sync::Arc;

use fieldsync_core::policy::Profile;
use fieldsync_core::protocol::limits;
use fieldsync_core::sync::{self, HttpTransport, SyncClient, SyncConfig, SyncSummary};

use crate::error::{FieldError, invalid};
use crate::input;
use crate::observe::{ListenerAdapter, SyncListener};
use crate::store::FieldStore;

/// Longest device name accepted at enrolment, in characters.
const DEVICE_NAME_CHARS: usize = 64;

impl FieldStore {
    /// The client for the enrolled server, built again when the enrolment (possibly made
    /// through another handle on the same file) or the tunables changed.
    pub(crate) fn client(&self) -> Result<Arc<SyncClient<HttpTransport>>, FieldError> {
        let enrolled = self.store.enrollment()?.ok_or_else(|| FieldError::NotEnrolled {
            detail: "enrol this device with a code from your administrator first".into(),
        })?;
        let server = enrolled.server.ok_or_else(|| FieldError::NotEnrolled {
            detail: "the enrolment does not name a server; enrol again".into(),
        })?;
        let config = self.config.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let key = (enrolled.device, server, config);
        let mut cached = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((built_for, client)) = cached.as_ref()
            && *built_for == key
        {
            return Ok(client.clone());
        }
        let transport = HttpTransport::new(&key.1)
            .map_err(|e| invalid("server_url", e.to_string()))?
            .with_token(enrolled.token);
        let client =
            Arc::new(SyncClient::new(self.store.clone(), transport).with_config(key.2.clone()));
        *cached = Some((key, client.clone()));
        Ok(client)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldStore {
    /// Enrols this device with the server at `server_url` using the single-use `code` an
    /// administrator or grid leader gave the user; returns the user's profile.
    ///
    /// Enrolling as the phone's current user keeps its records, its unsynced work and its
    /// authorship. A code of another user (a phone handed to the next resident) removes, before
    /// this returns, every record that user may not read; while the phone holds unsynced work
    /// of its current user it is refused with `OtherUser` (the code stays unused), unless
    /// `discard_unsynced_work` is true, which drops that work.
    #[uniffi::method(default(discard_unsynced_work = false))]
    pub async fn enroll(
        &self,
        server_url: String,
        code: String,
        device_name: String,
        discard_unsynced_work: bool,
    ) -> Result<Profile, FieldError> {
        let url = input::server_url(&server_url)?;
        if device_name.trim().is_empty() || device_name.chars().count() > DEVICE_NAME_CHARS {
            return Err(invalid("device_name", format!("1..={DEVICE_NAME_CHARS} characters")));
        }
        let transport =
            HttpTransport::new(&url).map_err(|e| invalid("server_url", e.to_string()))?;
        let _sync = self.shared.sync_lock.lock().await;
        let options = sync::EnrollOptions { discard_unsynced_work };
        let enrolled =
            sync::enroll_with(&self.store, &transport, &code, &device_name, options).await?;
        Ok(enrolled.profile)
    }

    /// Pushes what the server has not acknowledged and pulls what others changed, until
    /// nothing is left; `listener` hears after every request. Records that change are reported
    /// to the observers. One sync runs at a time per store; a second call waits for the first.
    /// Photos are not part of it, so records never wait for them: call `upload_photos` (and
    /// `download_small_photos`) after it; those run beside later syncs.
    pub async fn sync_now(
        &self,
        listener: Option<Arc<dyn SyncListener>>,
    ) -> Result<SyncSummary, FieldError> {
        let _sync = self.shared.sync_lock.lock().await;
        let client = self.client()?;
        let adapter = listener.map(ListenerAdapter);
        let listener = adapter.as_ref().map(|a| a as &dyn sync::ProgressListener);
        Ok(client.sync_now(listener).await?)
    }
}

#[uniffi::export]
impl FieldStore {
    /// The tunables the next sync uses.
    pub fn sync_options(&self) -> SyncConfig {
        self.config.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the sync tunables (a smaller page on a slow link, fewer attempts in the
    /// background); checked, and used from the next sync on.
    pub fn set_sync_options(&self, options: SyncConfig) -> Result<(), FieldError> {
        if !(limits::PAGE_BYTES_MIN..=limits::PAGE_BYTES_MAX).contains(&options.page_bytes) {
            return Err(invalid(
                "page_bytes",
                format!("must be {}..={}", limits::PAGE_BYTES_MIN, limits::PAGE_BYTES_MAX),
            ));
        }
        if options.push_docs == 0 || options.push_bytes < 1024 {
            return Err(invalid("push_docs", "push at least one document and 1 KiB per request"));
        }
        if options.attempts == 0 || options.max_requests == 0 {
            return Err(invalid("attempts", "at least one attempt and one request"));
        }
        if options.backoff > options.max_backoff {
            return Err(invalid("backoff", "the first wait is longer than the longest"));
        }
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = options;
        Ok(())
    }
}
