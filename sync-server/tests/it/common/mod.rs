//! Helpers shared by the server's HTTP tests: a server on a loopback port, phones (core stores)
//! that make real record documents, and raw protocol calls.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use automerge::ChangeHash;
use fieldsync_core::model::{Command, Location, NewRecord, NewReport, ReportCategory};
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::protocol::{
    self, ErrorBody, PushDoc, PushOutcome, SyncRequest, SyncResponse, VERSION,
};
use fieldsync_core::{DocId, Store};
use fieldsync_server::{RunningServer, Server, ServerConfig};
pub use fieldsync_tests::backend::{Backend, TestStorage};
pub use fieldsync_tests::on_both;
use std::collections::HashMap;
use std::time::Duration;

pub const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

/// A server on a free loopback port, with its data in a temporary directory (and, on
/// PostgreSQL, in a schema of its own, dropped after the server).
pub struct TestServer {
    pub running: RunningServer,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub storage: TestStorage,
}

pub async fn start() -> TestServer {
    start_on(Backend::Sqlite).await
}

/// A server on `backend`.
pub async fn start_on(backend: Backend) -> TestServer {
    start_on_with(backend, |c| c).await
}

/// A server on `backend` whose configuration `tune` adjusts.
pub async fn start_on_with(
    backend: Backend,
    tune: impl FnOnce(ServerConfig) -> ServerConfig,
) -> TestServer {
    let storage = TestStorage::new(backend).await;
    start_on_storage(tempfile::tempdir().unwrap(), storage, tune).await
}

pub async fn start_in(dir: tempfile::TempDir) -> TestServer {
    start_configured(dir, |c| c).await
}

/// A server on a free loopback port whose configuration `tune` adjusts (e.g. a small
/// per-document limit).
pub async fn start_with(tune: impl FnOnce(ServerConfig) -> ServerConfig) -> TestServer {
    start_configured(tempfile::tempdir().unwrap(), tune).await
}

/// A server on the data of `dir` (a restart keeps it) with the configuration `tune` adjusts.
pub async fn start_configured(
    dir: tempfile::TempDir,
    tune: impl FnOnce(ServerConfig) -> ServerConfig,
) -> TestServer {
    start_on_storage(dir, TestStorage::sqlite(), tune).await
}

/// Another instance on the storage of `first` (several instances share one PostgreSQL
/// database), with a data directory of its own. `first` keeps the storage: drop this one first.
pub async fn start_beside(first: &TestServer) -> TestServer {
    let choice = first.storage.choice();
    start_on_storage(tempfile::tempdir().unwrap(), TestStorage::sqlite(), move |c| ServerConfig {
        storage: choice,
        ..c
    })
    .await
}

/// The server of `ts` stopped and started again on the same data (directory and schema), with
/// the configuration `tune` adjusts.
pub async fn restart_with(
    ts: TestServer,
    tune: impl FnOnce(ServerConfig) -> ServerConfig,
) -> TestServer {
    let TestServer { running, dir, storage, .. } = ts;
    running.shutdown().await.unwrap();
    start_on_storage(dir, storage, tune).await
}

/// A server on the data of `dir` and `storage`.
async fn start_on_storage(
    dir: tempfile::TempDir,
    storage: TestStorage,
    tune: impl FnOnce(ServerConfig) -> ServerConfig,
) -> TestServer {
    let mut config = ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().unwrap());
    config.storage = storage.choice();
    let config = tune(config);
    let running = Server::start(&config).await.unwrap();
    // Like a phone's client: a pooled connection is reused only well within the server's
    // header timeout, after which the server closes it.
    let http = {
        fieldsync_core::sync::install_tls_provider();
        reqwest::Client::builder()
    }
    .pool_idle_timeout(config.header_timeout / 2)
    .build()
    .unwrap();
    TestServer { running, dir, http, storage }
}

/// Tokens of the devices enrolled by these tests, by server epoch and actor (a restarted server
/// keeps its epoch and its devices).
type TokenMap = HashMap<(String, Vec<u8>), String>;
static TOKENS: std::sync::LazyLock<std::sync::Mutex<TokenMap>> =
    std::sync::LazyLock::new(Default::default);

/// Enrolls `phone`'s device on `server` for a user with this role and these scopes (added if
/// new); later requests from the phone carry its token.
pub fn enroll_as(
    server: &Server,
    phone: &Phone,
    role: Role,
    patrol: Option<fieldsync_core::policy::PatrolKind>,
    scopes: &[&str],
) {
    let accounts = server.accounts();
    let user = phone.store.identity().user;
    if accounts.user(&user).unwrap().is_none() {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        accounts.add_user(&user, role, patrol, &scopes).unwrap();
    }
    let code = accounts.issue_code(&user, &admin(), Duration::from_secs(600)).unwrap().code;
    let e = accounts.enroll(&code, "test phone", Some(&phone.actor())).unwrap();
    let key = (server.epoch().to_string(), phone.actor());
    TOKENS.lock().unwrap().insert(key, e.token);
}

/// The token of the device writing as `actor` on `server`, enrolled on first use as a
/// dispatcher of the whole jurisdiction (who may read everything the tests write).
pub fn token_for(server: &Server, actor: &[u8]) -> String {
    let key = (server.epoch().to_string(), actor.to_vec());
    if let Some(t) = TOKENS.lock().unwrap().get(&key) {
        return t.clone();
    }
    let accounts = server.accounts();
    let hex = hex::encode(actor);
    let user = USERS
        .lock()
        .unwrap()
        .get(actor)
        .cloned()
        .unwrap_or_else(|| format!("t-{}", &hex[..hex.len().min(38)]));
    if accounts.user(&user).unwrap().is_none() {
        accounts.add_user(&user, Role::Dispatcher, None, &["jl".to_string()]).unwrap();
    }
    let code = accounts.issue_code(&user, &admin(), Duration::from_secs(600)).unwrap().code;
    let e = accounts.enroll(&code, "test phone", Some(actor)).unwrap();
    assert_eq!(e.device.actor, actor, "the phone keeps its actor");
    TOKENS.lock().unwrap().insert(key, e.token.clone());
    e.token
}

/// The user each test phone writes as, by actor, so that its device is enrolled for that user.
static USERS: std::sync::LazyLock<std::sync::Mutex<HashMap<Vec<u8>, String>>> =
    std::sync::LazyLock::new(Default::default);

fn admin() -> Profile {
    Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.url())
    }

    /// The token of the device writing as `actor` (see [`token_for`]).
    pub fn token_for(&self, actor: &[u8]) -> String {
        token_for(self.running.server(), actor)
    }

    /// A token for raw requests that name no phone.
    pub fn any_token(&self) -> String {
        self.token_for(&[0xee; 16])
    }

    /// POSTs raw bytes with the token of `actor`'s device.
    pub async fn post_as(&self, actor: &[u8], path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let token = self.token_for(actor);
        self.post_with(Some(&token), path, body).await
    }

    /// POSTs raw bytes with `token` (or none).
    pub async fn post_with(
        &self,
        token: Option<&str>,
        path: &str,
        body: Vec<u8>,
    ) -> (u16, Vec<u8>) {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/cbor")
            .header("content-encoding", "gzip")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    }

    /// POSTs raw bytes as the device the body names (its `actor`), or as some enrolled device
    /// when the body names none; returns the status and the body.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        #[derive(serde::Deserialize)]
        struct Named {
            #[serde(with = "serde_bytes")]
            actor: Vec<u8>,
        }
        let token = match protocol::decode::<Named>(&body) {
            Ok(n) if !n.actor.is_empty() && n.actor.len() <= 32 => self.token_for(&n.actor),
            _ => self.any_token(),
        };
        self.post_with(Some(&token), path, body).await
    }

    /// A sync request; `Err` carries the status and the JSON error body.
    pub async fn sync(&self, req: &SyncRequest) -> Result<SyncResponse, (u16, ErrorBody)> {
        let (status, body) = self.post_raw("/v1/sync", protocol::encode(req)).await;
        if status == 200 {
            Ok(protocol::decode(&body).expect("a 200 answer decodes"))
        } else {
            Err((status, error_body(&body)))
        }
    }

    /// GETs `path` with the token of `actor`'s device; returns the status and the body.
    pub async fn get_as(&self, actor: &[u8], path: &str) -> (u16, Vec<u8>) {
        let token = self.token_for(actor);
        let resp = self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.http.get(self.url(path)).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// `GET /metrics` on the server's own metrics listener.
    pub async fn metrics(&self) -> (u16, String) {
        let url = self.running.metrics_url().expect("test servers serve /metrics");
        let resp = self.http.get(format!("{url}/metrics")).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub fn epoch(&self) -> String {
        self.running.server().epoch().to_string()
    }
}

/// The answer to `req` sent by `phone` to `path` as an envelope: the decoded message, or the
/// status and error body.
pub async fn call<Q: serde::Serialize, A: serde::de::DeserializeOwned>(
    ts: &TestServer,
    phone: &Phone,
    path: &str,
    req: Q,
) -> Result<A, (u16, ErrorBody)> {
    let (status, body) = ts.post_as(&phone.actor(), path, protocol::encode(&req)).await;
    if status == 200 {
        Ok(protocol::decode(&body).unwrap())
    } else {
        Err((status, error_body(&body)))
    }
}

/// Asserts a refusal with this status and code.
#[track_caller]
pub fn refused<A: std::fmt::Debug>(r: Result<A, (u16, ErrorBody)>, status: u16, code: &str) {
    match r {
        Err((s, e)) => assert_eq!((s, e.code.as_str()), (status, code), "{}", e.message),
        Ok(a) => panic!("accepted, wanted {status} {code}: {a:?}"),
    }
}

pub fn error_body(body: &[u8]) -> ErrorBody {
    serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!("error body is not JSON ({e}): {}", String::from_utf8_lossy(body))
    })
}

/// A phone: a core store with its own actor.
pub struct Phone {
    pub dir: tempfile::TempDir,
    pub store: std::sync::Arc<Store>,
}

impl Phone {
    pub fn new(user: &str) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("phone.db")).unwrap();
        store.set_user(user).unwrap();
        let actor = store.identity().actor.to_bytes().to_vec();
        USERS.lock().unwrap().insert(actor, user.to_string());
        Phone { dir, store: std::sync::Arc::new(store) }
    }

    pub fn actor(&self) -> Vec<u8> {
        self.store.identity().actor.to_bytes().to_vec()
    }

    pub fn report(&self, title: &str) -> DocId {
        self.store.create(&new_report(title)).unwrap()
    }

    /// Creates the record `new` on the phone (offline: nothing is sent).
    pub fn report_with(&self, new: &NewRecord) -> DocId {
        self.store.create(new).unwrap()
    }

    pub fn accept(&self, id: DocId, note: &str) {
        self.store.execute(id, &Command::AcceptReport { note: note.into() }).unwrap();
    }

    pub fn comment(&self, id: DocId, text: &str) {
        self.store.execute(id, &Command::CommentReport { text: text.into() }).unwrap();
    }

    pub fn heads(&self, id: DocId) -> Vec<ChangeHash> {
        self.store.heads(id).unwrap()
    }

    /// The changes after `after` as a push would carry them (raw change chunks, causal order).
    pub fn changes_after(&self, id: DocId, after: &[ChangeHash]) -> Vec<u8> {
        let mut doc = self.store.load(id).unwrap();
        doc.get_changes(after).iter().flat_map(|c| c.raw_bytes().to_vec()).collect()
    }

    /// A push of everything after `after`.
    pub fn push_after(&self, id: DocId, after: &[ChangeHash]) -> PushDoc {
        PushDoc {
            doc: id,
            changes: self.changes_after(id, after),
            heads: protocol::to_wire(&self.heads(id)),
            signed: vec![],
        }
    }

    /// A push of the whole document as saved (a snapshot chunk followed by change chunks).
    pub fn push_saved(&self, id: DocId) -> PushDoc {
        PushDoc {
            doc: id,
            changes: self.store.saved_bytes(id).unwrap(),
            heads: protocol::to_wire(&self.heads(id)),
            signed: vec![],
        }
    }

    /// A request from this phone.
    pub fn request(&self, epoch: Option<String>, cursor: &str, push: Vec<PushDoc>) -> SyncRequest {
        SyncRequest {
            v: VERSION,
            epoch,
            cursor: cursor.into(),
            actor: self.actor(),
            push,
            want: vec![],
            page_bytes: 0,
        }
    }
}

pub fn new_report(title: &str) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.to_string(),
            category: ReportCategory::IllegalConstruction,
            title: title.to_string(),
            description: "屋顶违章搭建，约20平方米".to_string(),
            location: Some(Location {
                lat: 43.88,
                lon: 125.32,
                accuracy: 8.0,
                address: "新华小区7号楼".to_string(),
            }),
            photos: vec![],
        },
    }
}

pub fn assert_acked(resp: &SyncResponse) {
    for r in &resp.results {
        assert!(matches!(r.outcome, PushOutcome::Acked { .. }), "{:?}: {:?}", r.doc, r.outcome);
    }
}

pub fn outcome_code(o: &PushOutcome) -> Option<&str> {
    match o {
        PushOutcome::Acked { .. } => None,
        PushOutcome::Rejected { code, .. } | PushOutcome::Retry { code, .. } => Some(code),
    }
}

/// Pushes what the server lacks of `id` from `phone`; returns the outcome.
pub async fn push(server: &TestServer, phone: &Phone, id: DocId) -> PushOutcome {
    let stored = server.running.server().storage().load(vec![id]).await.unwrap();
    let server_heads: Vec<ChangeHash> = match &stored[0] {
        Some(d) => automerge::AutoCommit::load(&d.bytes).unwrap().get_heads(),
        None => vec![],
    };
    let req = phone.request(None, "", vec![phone.push_after(id, &server_heads)]);
    let resp: SyncResponse = server.sync(&req).await.unwrap();
    resp.results[0].outcome.clone()
}

/// Everything the server holds of `id`, merged into `phone`.
pub async fn fetch(server: &TestServer, phone: &Phone, id: DocId) {
    let stored = server.running.server().storage().load(vec![id]).await.unwrap();
    phone.store.merge_remote(id, &stored[0].as_ref().unwrap().bytes).unwrap();
}

/// Pushes what the server lacks of `id` from `phone` and asserts it was acknowledged.
pub async fn acked(server: &TestServer, phone: &Phone, id: DocId) {
    let outcome = push(server, phone, id).await;
    assert!(matches!(outcome, PushOutcome::Acked { .. }), "{outcome:?}");
}
