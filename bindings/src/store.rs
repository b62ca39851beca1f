//! `FieldStore`: the phone's store as foreign code sees it. Local calls (commands, reads,
//! queries) are synchronous and take well under a millisecond; call them off the UI thread
//! anyway, as for any disk access (the Kotlin layer's are `suspend` functions that do).
//! Network calls (`enroll`, `syncNow`) are in `sync.rs`, photos in `photos.rs`.
//!
//! A handle is open until `close`: then its subscriptions end, it lets go of the file (the
//! last handle on a file releases it), and every later call fails with `FieldError::Closed`.

use std::sync::{Arc, Mutex, RwLock};

use fieldsync_core::Store;
use fieldsync_core::model::{
    Applied, Bulletin, Command, Deliberation, Kind, MediationCase, NewBulletin, NewCase,
    NewDeliberation, NewPatrol, NewRecord, NewReport, PatrolLog, Record, Report,
};
use fieldsync_core::policy::Profile;
use fieldsync_core::store::{
    BulletinFilter, CaseFilter, DeliberationFilter, InboxFilter, MAX_HITS, PageRequest,
    PatrolFilter, ReportFilter, SearchHit, StoreKey, StoreStats, SyncStatus,
};
use fieldsync_core::sync::{HttpTransport, ServerTrust, SyncClient, SyncOptions};

use crate::dispatch::{ChangeObserver, Registration, Subscription, SubscriptionEnd};
use crate::error::{FieldError, invalid};
use crate::input;
use crate::open::{self, Shared};
use crate::pages::{
    BulletinPage, CasePage, DeliberationPage, InboxPage, PatrolPage, ReportPage, SearchPage,
};

/// What a sync client is built for: the enrolled device, its server, the tunables.
pub(crate) type ClientKey = (String, String, SyncOptions, ServerTrust);

/// What a phone knows of its enrollment (the token stays inside the library).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DeviceInfo {
    /// The device's id on the server (what an administrator revokes).
    pub device: String,
    /// The server's base URL.
    pub server_url: Option<String>,
    /// Who the device acts for, with role and scopes.
    pub profile: Profile,
}

/// The phone's store of reports, patrol logs and mediation cases, usable offline; safe to call
/// from several threads at once (reads never wait for a sync that is writing). Open until
/// `close`.
#[derive(uniffi::Object)]
pub struct FieldStore {
    /// The file as given to `open`, for errors.
    path: String,
    /// The store and locks shared with every handle open on the same file; `None` once closed.
    shared: RwLock<Option<Arc<Shared>>>,
    /// Sync tunables, kept for the next sync.
    pub(crate) options: Mutex<SyncOptions>,
    /// What the phone trusts of the server, for enrollment and the next sync.
    pub(crate) trust: Mutex<ServerTrust>,
    /// The client of the last sync and what it was built for (device, server, tunables).
    pub(crate) client: Mutex<Option<(ClientKey, Arc<SyncClient<HttpTransport>>)>>,
    /// This handle's subscriptions, ended by `close`.
    subscriptions: Mutex<Vec<Arc<Registration>>>,
}

/// A new store key: 32 random bytes from the operating system's generator, for the app to keep
/// in the Android Keystore or the iOS Keychain and to give to every open of its store
/// (`bindings/README.md`, "The store's key").
#[uniffi::export]
pub fn new_store_key() -> Vec<u8> {
    StoreKey::generate().as_bytes().to_vec()
}

impl FieldStore {
    /// What the handle uses while open; `Closed` after `close`. Callers keep the `Arc` for the
    /// length of their call, so the file stays open under a call in flight.
    pub(crate) fn shared(&self) -> Result<Arc<Shared>, FieldError> {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| FieldError::Closed { path: self.path.clone() })
    }

    /// The store, while open.
    pub(crate) fn store(&self) -> Result<Arc<Store>, FieldError> {
        Ok(self.shared()?.store.clone())
    }

    fn with_id<T>(
        &self,
        id: &str,
        f: impl FnOnce(&Store, fieldsync_core::DocId) -> fieldsync_core::Result<T>,
    ) -> Result<T, FieldError> {
        let store = self.store()?;
        let id = input::doc_id(id)?;
        Ok(f(&store, id)?)
    }

    pub(crate) fn created(&self, new: NewRecord) -> Result<String, FieldError> {
        let store = self.store()?;
        input::photos_here(&store, new.photos())?;
        Ok(store.create(&new)?.to_string())
    }

    /// Ends this handle's subscriptions and lets go of the file.
    fn shut(&self) {
        let taken = self.shared.write().unwrap_or_else(|e| e.into_inner()).take();
        let subscriptions =
            std::mem::take(&mut *self.subscriptions.lock().unwrap_or_else(|e| e.into_inner()));
        for s in subscriptions {
            s.end(SubscriptionEnd::StoreClosed);
        }
        self.client.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(taken);
    }
}

impl Drop for FieldStore {
    fn drop(&mut self) {
        self.shut();
    }
}

#[uniffi::export]
impl FieldStore {
    /// Opens the store in the database file at `path` (created on first use; its folder must
    /// exist), encrypted with `key`: the 32 random bytes the app keeps in the Android Keystore
    /// or the iOS Keychain (`newStoreKey()` makes one). `FieldStore(path, key)` in Swift and
    /// Python (the Kotlin layer's is `FieldStore.open`). A store written before encryption is
    /// encrypted in place at its first open with a key. A key that does not open the file is
    /// `WrongKey` (nothing is changed), as is another key than the one a store open already in
    /// this process has; a key of another length is `InvalidInput`. Nothing is lost between
    /// runs: every call that returned has reached the disk. Opening a file that is open already
    /// in this process shares that store.
    ///
    /// (The primary constructor, so that the Kotlin class the layer wraps can be renamed: uniffi
    /// 0.32 leaves the name of a named constructor's result as it was.)
    #[uniffi::constructor]
    pub fn new(path: String, key: Vec<u8>) -> Result<Arc<FieldStore>, FieldError> {
        let key = StoreKey::from_bytes(&key)?;
        let shared = open::shared(&input::store_path(&path)?, key)?;
        Ok(Arc::new(FieldStore {
            path,
            shared: RwLock::new(Some(shared)),
            options: Mutex::new(SyncOptions::default()),
            trust: Mutex::new(ServerTrust::default()),
            client: Mutex::new(None),
            subscriptions: Mutex::new(Vec::new()),
        }))
    }

    /// Encrypts the store with `new_key` from now on (every page written again, in one
    /// transaction: killed meanwhile, the store opens with the old key or the new one). Save
    /// the new key where the app keeps it before calling, and keep the old one until this
    /// returns. Calls on the store wait meanwhile (about a second for 100 MB).
    pub fn rekey(&self, new_key: Vec<u8>) -> Result<(), FieldError> {
        let key = StoreKey::from_bytes(&new_key)?;
        Ok(self.store()?.rekey(key)?)
    }

    /// Closes this handle: its subscriptions end (`isActive` becomes false and each observer
    /// hears `onEnd(STORE_CLOSED)`), and it lets go of the file, which is released once no
    /// other handle holds it and no call is in flight. Every later call on this handle fails
    /// with `Closed`; calling `close` again does nothing. Open the file again for a new handle.
    pub fn close(&self) {
        self.shut();
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.shared.read().unwrap_or_else(|e| e.into_inner()).is_none()
    }

    /// The user this phone writes as (the enrolled user; before enrollment, the one set with
    /// `setUser`).
    pub fn user(&self) -> Result<String, FieldError> {
        Ok(self.store()?.identity().user)
    }

    /// Sets the user of a phone that works without a server (an enrolled phone takes the
    /// user the server gave it).
    pub fn set_user(&self, user: String) -> Result<(), FieldError> {
        Ok(self.store()?.set_user(&user)?)
    }

    /// The enrolled user's role and scopes; `null` before enrollment.
    pub fn profile(&self) -> Result<Option<Profile>, FieldError> {
        Ok(self.store()?.profile())
    }

    /// The enrollment of this device; `null` before enrollment.
    pub fn device(&self) -> Result<Option<DeviceInfo>, FieldError> {
        Ok(self.store()?.enrollment()?.map(|e| DeviceInfo {
            device: e.device,
            server_url: e.server,
            profile: e.profile,
        }))
    }

    /// Creates a record of any kind; returns its id.
    pub fn create(&self, record: NewRecord) -> Result<String, FieldError> {
        self.created(record)
    }

    /// A resident submits a report; returns its id. Its `photos` must be on this phone already
    /// (usually the list is empty and photos are attached with `addPhoto` afterwards).
    pub fn submit_report(&self, report: NewReport) -> Result<String, FieldError> {
        self.created(NewRecord::Report { report })
    }

    /// A team starts a patrol; returns the patrol log's id.
    pub fn start_patrol(&self, patrol: NewPatrol) -> Result<String, FieldError> {
        self.created(NewRecord::PatrolLog { patrol_log: patrol })
    }

    /// A mediator opens a case; returns its id.
    pub fn open_case(&self, case: NewCase) -> Result<String, FieldError> {
        self.created(NewRecord::MediationCase { mediation_case: case })
    }

    /// The police, a grid leader or a dispatcher issues a warning bulletin to a scope and an
    /// audience; returns its id. Its `photos` must be on this phone already.
    pub fn issue_bulletin(&self, bulletin: NewBulletin) -> Result<String, FieldError> {
        self.created(NewRecord::Bulletin { bulletin })
    }

    /// A recipient acknowledges bulletin `id` (once, in this phone's user's name; offline too).
    /// Refused, changing nothing, when it is not addressed to them (`Forbidden`), when they
    /// acknowledged it already or it was withdrawn (`InvalidTransition`).
    pub fn acknowledge_bulletin(&self, id: String) -> Result<(), FieldError> {
        self.execute(id, Command::AcknowledgeBulletin).map(|_| ())
    }

    /// Runs a command on record `id` (accept, dispatch, add a patrol entry, edit session notes,
    /// settle a conflict, ...). A refused command changes nothing and says why.
    ///
    /// Photos a command names (`AddPhoto`, an entry's photos) must be on this phone already:
    /// attach new ones with `addPhoto`.
    pub fn execute(&self, id: String, command: Command) -> Result<Applied, FieldError> {
        let photos = match &command {
            Command::AddPhoto { photo, .. } => std::slice::from_ref(photo),
            Command::AddPatrolEntry { entry } => entry.photos.as_slice(),
            _ => &[],
        };
        let store = self.store()?;
        let id = input::doc_id(&id)?;
        input::photos_here(&store, photos)?;
        Ok(store.execute(id, &command)?)
    }

    /// The record `id`, whatever its kind.
    pub fn get(&self, id: String) -> Result<Record, FieldError> {
        self.with_id(&id, |s, id| s.get(id))
    }

    /// The report `id`.
    pub fn get_report(&self, id: String) -> Result<Report, FieldError> {
        match self.get(id)? {
            Record::Report { report } => Ok(report),
            other => Err(wrong_kind(&other, Kind::Report)),
        }
    }

    /// The patrol log `id`.
    pub fn get_patrol(&self, id: String) -> Result<PatrolLog, FieldError> {
        match self.get(id)? {
            Record::PatrolLog { patrol_log } => Ok(patrol_log),
            other => Err(wrong_kind(&other, Kind::PatrolLog)),
        }
    }

    /// The mediation case `id`.
    pub fn get_case(&self, id: String) -> Result<MediationCase, FieldError> {
        match self.get(id)? {
            Record::MediationCase { mediation_case } => Ok(mediation_case),
            other => Err(wrong_kind(&other, Kind::MediationCase)),
        }
    }

    /// A resident or a grid leader raises a deliberation (议事协商) in their scope; returns its
    /// id. Its other steps (comments, options, meetings, minutes, the decision, follow-up
    /// actions, implementation, dropping) are commands given to `execute`: a step out of order is
    /// `InvalidTransition`, bad votes `InvalidInput`, a step this user's role may not take
    /// `Forbidden`, and each changes nothing.
    pub fn raise_deliberation(&self, deliberation: NewDeliberation) -> Result<String, FieldError> {
        self.created(NewRecord::Deliberation { deliberation })
    }

    /// The deliberation `id`: its discussion, meetings (with their minutes), decision and
    /// follow-up actions.
    pub fn get_deliberation(&self, id: String) -> Result<Deliberation, FieldError> {
        match self.get(id)? {
            Record::Deliberation { deliberation } => Ok(deliberation),
            other => Err(wrong_kind(&other, Kind::Deliberation)),
        }
    }

    /// A page of deliberations matching `filter` (a scope, some states, raised or attended by
    /// someone), newest first.
    #[uniffi::method(default(page))]
    pub fn query_deliberations(
        &self,
        filter: DeliberationFilter,
        page: PageRequest,
    ) -> Result<DeliberationPage, FieldError> {
        Ok(self.store()?.query_deliberations(&filter, &page)?.into())
    }

    /// The warning bulletin `id`: its acknowledgements say who has read it.
    pub fn get_bulletin(&self, id: String) -> Result<Bulletin, FieldError> {
        match self.get(id)? {
            Record::Bulletin { bulletin } => Ok(bulletin),
            other => Err(wrong_kind(&other, Kind::Bulletin)),
        }
    }

    /// A page of warning bulletins matching `filter` (in force now, still to acknowledge, ...),
    /// newest first.
    #[uniffi::method(default(page))]
    pub fn query_bulletins(
        &self,
        filter: BulletinFilter,
        page: PageRequest,
    ) -> Result<BulletinPage, FieldError> {
        Ok(self.store()?.query_bulletins(&filter, &page)?.into())
    }

    /// A page of reports matching `filter`, newest first (the first 50 unless `page` says
    /// otherwise).
    #[uniffi::method(default(page))]
    pub fn query_reports(
        &self,
        filter: ReportFilter,
        page: PageRequest,
    ) -> Result<ReportPage, FieldError> {
        Ok(self.store()?.query_reports(&filter, &page)?.into())
    }

    /// A page of patrol logs matching `filter`, most recently started first.
    #[uniffi::method(default(page))]
    pub fn query_patrols(
        &self,
        filter: PatrolFilter,
        page: PageRequest,
    ) -> Result<PatrolPage, FieldError> {
        Ok(self.store()?.query_patrols(&filter, &page)?.into())
    }

    /// A page of mediation cases matching `filter`, newest first.
    #[uniffi::method(default(page))]
    pub fn query_cases(
        &self,
        filter: CaseFilter,
        page: PageRequest,
    ) -> Result<CasePage, FieldError> {
        Ok(self.store()?.query_cases(&filter, &page)?.into())
    }

    /// A page of the signed-in user's inbox: the reports dispatched to them (or in progress
    /// with them) and those an overdue escalation named them on, each with why (assigned,
    /// supervised, due soon, overdue, escalated), newest first by when the item last came to
    /// them. `filter.reasons` keeps the items with any of those reasons; "due soon" looks
    /// `filter.dueWithin` ahead (24 hours when not given).
    #[uniffi::method(default(page))]
    pub fn inbox(&self, filter: InboxFilter, page: PageRequest) -> Result<InboxPage, FieldError> {
        Ok(self.store()?.inbox(&filter, &page)?.into())
    }

    /// Full-text search as people type, Chinese included: records holding every word of
    /// `text` (words separated by spaces; full-width digits and letters match half-width ones;
    /// substrings match), of `kind` if given, newest first; at most `limit` hits (1..=200).
    /// For more, page with `searchPage`.
    #[uniffi::method(default(kind = None, limit = 20))]
    pub fn search(
        &self,
        text: String,
        kind: Option<Kind>,
        limit: i32,
    ) -> Result<Vec<SearchHit>, FieldError> {
        if !(1..=MAX_HITS).contains(&limit) {
            return Err(invalid("limit", format!("{limit}; must be 1..={MAX_HITS}")));
        }
        Ok(self.store()?.search(&text, kind, limit)?)
    }

    /// One page of `search`: pass the page's `next` as `PageRequest.after` for the following
    /// one (`limit` 1..=200).
    #[uniffi::method(default(page))]
    pub fn search_page(
        &self,
        text: String,
        kind: Option<Kind>,
        page: PageRequest,
    ) -> Result<SearchPage, FieldError> {
        Ok(self.store()?.search_page(&text, kind, &page)?.into())
    }

    /// Where this phone stands with its server: pending documents, last sync, and the changes
    /// the server refused (kept here, never silently dropped).
    pub fn sync_status(&self) -> Result<SyncStatus, FieldError> {
        Ok(self.store()?.sync_status()?)
    }

    /// Offers the refused changes of record `id` to the server again at the next sync (after
    /// the user's rights were fixed).
    pub fn retry_rejected(&self, id: String) -> Result<(), FieldError> {
        self.with_id(&id, |s, id| s.retry_rejected(id))
    }

    /// Registers `observer`, told of every change to the records on this phone from now on,
    /// on the library's observer thread (never the writer's), until the returned subscription
    /// is cancelled or this store is closed. Dropping the subscription does not end it.
    pub fn observe(
        &self,
        observer: Arc<dyn ChangeObserver>,
    ) -> Result<Arc<Subscription>, FieldError> {
        // Held across the registration, so that a `close` meanwhile ends this one too.
        let mut mine = self.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
        let shared = self.shared()?;
        let registration = shared.dispatcher.subscribe(observer);
        mine.retain(|r| r.is_active());
        mine.push(registration.clone());
        Ok(Arc::new(Subscription { registration }))
    }

    /// How much the store holds.
    pub fn stats(&self) -> Result<StoreStats, FieldError> {
        Ok(self.store()?.stats()?)
    }

    /// Checks the database file and every record's projection; an error says what is damaged.
    pub fn integrity_check(&self) -> Result<(), FieldError> {
        Ok(self.store()?.integrity_check()?)
    }
}

pub(crate) fn wrong_kind(record: &Record, expected: Kind) -> FieldError {
    let header = record.header();
    FieldError::WrongKind { id: header.id.to_string(), expected, found: header.kind }
}
