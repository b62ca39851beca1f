//! `FieldStore`: the phone's store as foreign code sees it. Local calls (commands, reads,
//! queries) are synchronous and take well under a millisecond; call them off the UI thread
//! anyway, as for any disk access. Network calls (`enroll`, `sync_now`) are in `sync.rs`.

use std::sync::{Arc, Mutex};

use fieldsync_core::Store;
use fieldsync_core::model::{
    Applied, Command, Kind, MediationCase, NewCase, NewPatrol, NewRecord, NewReport, PatrolLog,
    Record, Report,
};
use fieldsync_core::policy::Profile;
use fieldsync_core::store::{
    CaseFilter, MAX_HITS, PageRequest, PatrolFilter, ReportFilter, SearchHit, StoreStats,
    SyncStatus,
};
use fieldsync_core::sync::{HttpTransport, SyncClient, SyncConfig};

use crate::error::{FieldError, invalid};
use crate::input;
use crate::observe::{ChangeObserver, Subscription};
use crate::open::{self, Shared};
use crate::pages::{CasePage, PatrolPage, ReportPage};

/// What a sync client is built for: the enrolled device, its server, the tunables.
pub(crate) type ClientKey = (String, String, SyncConfig);

/// What a phone knows of its enrolment (the token stays inside the library).
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
/// from several threads at once (reads never wait for a sync that is writing).
#[derive(uniffi::Object)]
pub struct FieldStore {
    pub(crate) store: Arc<Store>,
    /// The store and sync lock shared with every `FieldStore` open on the same file.
    pub(crate) shared: Arc<Shared>,
    /// Sync tunables, kept for the next `sync_now`.
    pub(crate) config: Mutex<SyncConfig>,
    /// The client of the last sync and what it was built for (device, server, tunables).
    pub(crate) client: Mutex<Option<(ClientKey, Arc<SyncClient<HttpTransport>>)>>,
}

impl FieldStore {
    fn with_id<T>(
        &self,
        id: &str,
        f: impl FnOnce(&Store, fieldsync_core::DocId) -> fieldsync_core::Result<T>,
    ) -> Result<T, FieldError> {
        let id = input::doc_id(id)?;
        Ok(f(&self.store, id)?)
    }

    fn created(&self, new: NewRecord) -> Result<String, FieldError> {
        if let NewRecord::Report(r) = &new {
            input::photos_here(&self.store, &r.photos)?;
        }
        Ok(self.store.create(&new)?.to_string())
    }
}

#[uniffi::export]
impl FieldStore {
    /// Opens the store in the database file at `path` (created on first use; its folder must
    /// exist). Nothing is lost between runs: every call that returned has reached the disk.
    /// Opening a file that is open already in this process shares that store.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<FieldStore>, FieldError> {
        let shared = open::shared(&input::store_path(&path)?)?;
        Ok(Arc::new(FieldStore {
            store: shared.store.clone(),
            shared,
            config: Mutex::new(SyncConfig::default()),
            client: Mutex::new(None),
        }))
    }

    /// The user this phone writes as (the enrolled user; before enrolment, the one set with
    /// `set_user`).
    pub fn user(&self) -> String {
        self.store.identity().user
    }

    /// Sets the user of a phone that works without a server (an enrolled phone takes the
    /// user the server gave it).
    pub fn set_user(&self, user: String) -> Result<(), FieldError> {
        Ok(self.store.set_user(&user)?)
    }

    /// The enrolled user's role and scopes; `null` before enrolment.
    pub fn profile(&self) -> Option<Profile> {
        self.store.profile()
    }

    /// The enrolment of this device; `null` before enrolment.
    pub fn device(&self) -> Result<Option<DeviceInfo>, FieldError> {
        Ok(self.store.enrollment()?.map(|e| DeviceInfo {
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
    /// (usually the list is empty and photos are attached with `add_photo` afterwards).
    pub fn submit_report(&self, report: NewReport) -> Result<String, FieldError> {
        self.created(NewRecord::Report(report))
    }

    /// A team starts a patrol; returns the patrol log's id.
    pub fn start_patrol(&self, patrol: NewPatrol) -> Result<String, FieldError> {
        self.created(NewRecord::PatrolLog(patrol))
    }

    /// A mediator opens a case; returns its id.
    pub fn open_case(&self, case: NewCase) -> Result<String, FieldError> {
        self.created(NewRecord::MediationCase(case))
    }

    /// Runs a command on record `id` (accept, dispatch, add a patrol entry, edit session notes,
    /// settle a conflict, ...). A refused command changes nothing and says why.
    ///
    /// Photos a command names (`AddPhoto`, an entry's photos) must be on this phone already:
    /// attach new ones with `add_photo`.
    pub fn execute(&self, id: String, command: Command) -> Result<Applied, FieldError> {
        let photos = match &command {
            Command::AddPhoto { photo, .. } => std::slice::from_ref(photo),
            Command::AddPatrolEntry { entry } => entry.photos.as_slice(),
            _ => &[],
        };
        let id = input::doc_id(&id)?;
        input::photos_here(&self.store, photos)?;
        Ok(self.store.execute(id, &command)?)
    }

    /// The record `id`, whatever its kind.
    pub fn get(&self, id: String) -> Result<Record, FieldError> {
        self.with_id(&id, |s, id| s.get(id))
    }

    /// The report `id`.
    pub fn get_report(&self, id: String) -> Result<Report, FieldError> {
        match self.get(id)? {
            Record::Report(r) => Ok(r),
            other => Err(wrong_kind(&other, Kind::Report)),
        }
    }

    /// The patrol log `id`.
    pub fn get_patrol(&self, id: String) -> Result<PatrolLog, FieldError> {
        match self.get(id)? {
            Record::PatrolLog(p) => Ok(p),
            other => Err(wrong_kind(&other, Kind::PatrolLog)),
        }
    }

    /// The mediation case `id`.
    pub fn get_case(&self, id: String) -> Result<MediationCase, FieldError> {
        match self.get(id)? {
            Record::MediationCase(c) => Ok(c),
            other => Err(wrong_kind(&other, Kind::MediationCase)),
        }
    }

    /// A page of reports matching `filter`, newest first.
    pub fn query_reports(
        &self,
        filter: ReportFilter,
        page: PageRequest,
    ) -> Result<ReportPage, FieldError> {
        Ok(self.store.query_reports(&filter, &page)?.into())
    }

    /// A page of patrol logs matching `filter`, newest first.
    pub fn query_patrols(
        &self,
        filter: PatrolFilter,
        page: PageRequest,
    ) -> Result<PatrolPage, FieldError> {
        Ok(self.store.query_patrols(&filter, &page)?.into())
    }

    /// A page of mediation cases matching `filter`, newest first.
    pub fn query_cases(
        &self,
        filter: CaseFilter,
        page: PageRequest,
    ) -> Result<CasePage, FieldError> {
        Ok(self.store.query_cases(&filter, &page)?.into())
    }

    /// Full-text search over titles, descriptions, areas, places, parties and notes (any
    /// language; substrings match); at most `limit` hits (1..=200), best first.
    pub fn search(
        &self,
        text: String,
        kind: Option<Kind>,
        limit: u32,
    ) -> Result<Vec<SearchHit>, FieldError> {
        if limit == 0 || limit > MAX_HITS {
            return Err(invalid("limit", format!("must be 1..={MAX_HITS}")));
        }
        Ok(self.store.search(&text, kind, limit)?)
    }

    /// Where this phone stands with its server: pending documents, last sync, and the changes
    /// the server refused (kept here, never silently dropped).
    pub fn sync_status(&self) -> Result<SyncStatus, FieldError> {
        Ok(self.store.sync_status()?)
    }

    /// Offers the refused changes of record `id` to the server again at the next sync (after
    /// the user's rights were fixed).
    pub fn retry_rejected(&self, id: String) -> Result<(), FieldError> {
        self.with_id(&id, |s, id| s.retry_rejected(id))
    }

    /// Registers `observer`, told after every change to the records on this phone.
    pub fn observe(&self, observer: Arc<dyn ChangeObserver>) -> Arc<Subscription> {
        Arc::new(Subscription::start(self.store.clone(), observer))
    }

    /// How much the store holds.
    pub fn stats(&self) -> Result<StoreStats, FieldError> {
        Ok(self.store.stats()?)
    }

    /// Checks the database file and every record's projection; an error says what is damaged.
    pub fn integrity_check(&self) -> Result<(), FieldError> {
        Ok(self.store.integrity_check()?)
    }
}

fn wrong_kind(record: &Record, expected: Kind) -> FieldError {
    let header = record.header();
    FieldError::WrongKind { id: header.id.to_string(), expected, found: header.kind }
}
