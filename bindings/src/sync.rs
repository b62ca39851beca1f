//! The network calls of `FieldStore`: enrollment and `syncNow`, async in Kotlin (suspend),
//! Swift (async) and Python (coroutines), run on the library's tokio runtime. Cancelling the
//! caller (a coroutine, a task) stops a sync between two steps; so do the request timeout and
//! the deadline of `SyncOptions`. What was committed stays, and the next sync continues from
//! there.

use std::sync::Arc;

use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::sync::{
    self, HttpTransport, ServerTrust, SyncClient, SyncOptions, SyncSummary,
};

use crate::error::{FieldError, invalid};
use crate::input;
use crate::observe::{ListenerAdapter, SyncListener};
use crate::store::FieldStore;

/// Longest device name accepted at enrollment, in characters.
const DEVICE_NAME_CHARS: usize = 64;

impl FieldStore {
    /// The client for the enrolled server, built again when the enrollment (possibly made
    /// through another handle on the same file) or the tunables changed.
    pub(crate) fn client(&self) -> Result<Arc<SyncClient<HttpTransport>>, FieldError> {
        let store = self.store()?;
        let enrolled = store.enrollment()?.ok_or_else(|| FieldError::NotEnrolled {
            detail: "enroll this device with a code from your administrator first".into(),
        })?;
        let server = enrolled.server.ok_or_else(|| FieldError::NotEnrolled {
            detail: "the enrollment does not name a server; enroll again".into(),
        })?;
        let options = self.options.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let trust = self.trust();
        let key = (enrolled.device, server, options, trust);
        let mut cached = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((built_for, client)) = cached.as_ref()
            && *built_for == key
        {
            return Ok(client.clone());
        }
        let transport = HttpTransport::with_trust(&key.1, &key.3)?.with_token(enrolled.token);
        let client = Arc::new(SyncClient::new(store, transport).with_options(key.2.clone()));
        *cached = Some((key, client.clone()));
        Ok(client)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldStore {
    /// Enrolls this device with the server at `serverUrl` using the single-use `code` an
    /// administrator or grid leader gave the user; returns the user's profile.
    ///
    /// Enrolling as the phone's current user keeps its records, its unsynced work and its
    /// authorship. A code of another user (a phone handed to the next resident) removes, before
    /// this returns, every record that user may not read; while the phone holds unsynced work
    /// of its current user it is refused with `OtherUser` (the code stays unused), unless
    /// `discardUnsyncedWork` is true, which drops that work. Too many attempts from one
    /// address are `RateLimited`, with the seconds to wait. The request gives up after
    /// `SyncOptions.requestTimeout`.
    #[uniffi::method(default(discard_unsynced_work = false))]
    pub async fn enroll(
        &self,
        server_url: String,
        code: String,
        device_name: String,
        discard_unsynced_work: bool,
    ) -> Result<Profile, FieldError> {
        let shared = self.shared()?;
        let url = input::server_url(&server_url)?;
        if device_name.trim().is_empty() || device_name.chars().count() > DEVICE_NAME_CHARS {
            return Err(invalid("device_name", format!("1..={DEVICE_NAME_CHARS} characters")));
        }
        let transport = HttpTransport::with_trust(&url, &self.trust())?;
        let timeout =
            self.options.lock().unwrap_or_else(|e| e.into_inner()).request_timeout.as_duration();
        let _sync = shared.sync_lock.lock().await;
        let options = sync::EnrollOptions { discard_unsynced_work };
        let enrolling = sync::enroll_with(&shared.store, &transport, &code, &device_name, options);
        let enrolled =
            tokio::time::timeout(timeout, enrolling).await.map_err(|_| FieldError::Network {
                attempts: 1,
                detail: format!("no answer within {} s (the request timeout)", timeout.as_secs()),
            })??;
        Ok(enrolled.profile)
    }

    /// Pushes what the server has not acknowledged and pulls what others changed, until
    /// nothing is left; `listener` hears after every request. Records that change are reported
    /// to the observers. One sync runs at a time per store; a second call waits for the first.
    ///
    /// It ends, whatever the link does: a request with no answer within
    /// `SyncOptions.requestTimeout` (30 s) fails and is retried, up to `SyncOptions.attempts`
    /// (then `Network`), and a sync still running at `SyncOptions.deadline` (5 min) ends with
    /// `Timeout`; either way everything it applied is kept. Photos are not part of it, so
    /// records never wait for them: call `uploadPhotos` (and `downloadSmallPhotos`) after it;
    /// those run beside later syncs. A resident's points, and for patrols, grid leaders,
    /// dispatchers and supervisors the business registry, are fetched after it too (`points`,
    /// `businesses` then read them offline); a failure there does not fail the sync.
    #[uniffi::method(default(listener = None))]
    pub async fn sync_now(
        &self,
        listener: Option<Arc<dyn SyncListener>>,
    ) -> Result<SyncSummary, FieldError> {
        let shared = self.shared()?;
        let _sync = shared.sync_lock.lock().await;
        let client = self.client()?;
        let adapter = listener.map(ListenerAdapter);
        let listener = adapter.as_ref().map(|a| a as &dyn sync::ProgressListener);
        let summary = client.sync_now(listener).await?;
        // A resident's points and, for those who visit businesses, the registry follow each sync,
        // so the copies read offline are as of the last one.
        let profile = client.store().profile();
        if profile.as_ref().is_some_and(|p| p.role == Role::Resident)
            && let Err(e) = client.refresh_points().await
        {
            tracing::info!("points not refreshed after the sync: {e}");
        }
        if profile.as_ref().is_some_and(fieldsync_core::policy::reads_businesses)
            && let Err(e) = client.refresh_businesses().await
        {
            tracing::info!("businesses not refreshed after the sync: {e}");
        }
        Ok(summary)
    }
}

#[uniffi::export]
impl FieldStore {
    /// The tunables the next sync uses (`SyncOptions` says what each is for and why its
    /// default).
    pub fn sync_options(&self) -> Result<SyncOptions, FieldError> {
        self.shared()?;
        Ok(self.options.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Replaces the sync tunables (a shorter deadline for a background job, a smaller page on
    /// a slow link); each is checked, a bad one is `InvalidInput` naming it, and they are used
    /// from the next sync on.
    pub fn set_sync_options(&self, options: SyncOptions) -> Result<(), FieldError> {
        self.shared()?;
        options.check()?;
        *self.options.lock().unwrap_or_else(|e| e.into_inner()) = options;
        Ok(())
    }

    /// What the phone trusts of the server: by default the platform's certificate
    /// authorities, and plain `http://` to this device's loopback only.
    pub fn server_trust(&self) -> Result<ServerTrust, FieldError> {
        self.shared()?;
        Ok(self.trust())
    }

    /// Trusts the certificates of `trust` (PEM: a street's own authority, or its server's
    /// certificate) instead of the platform's, and allows plain `http://` beyond loopback only
    /// if it says so (an emulator reaching its host at `10.0.2.2`; never in the field). Used
    /// from the next enrollment or sync on; certificates that cannot be read are
    /// `InvalidInput` on `certificates_pem`, and nothing changes.
    pub fn set_server_trust(&self, trust: ServerTrust) -> Result<(), FieldError> {
        self.shared()?;
        // Checked now, so a bad certificate is refused where it is given.
        trust.check()?;
        *self.trust.lock().unwrap_or_else(|e| e.into_inner()) = trust;
        Ok(())
    }
}

impl FieldStore {
    /// The trust set by `set_server_trust`.
    fn trust(&self) -> ServerTrust {
        self.trust.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
