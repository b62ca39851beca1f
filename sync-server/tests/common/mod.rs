//! Helpers shared by the server's HTTP tests: a server on a loopback port, phones (core stores)
//! that make real record documents, and raw protocol calls.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use automerge::ChangeHash;
use fieldsync_core::model::{Command, Location, NewRecord, NewReport, ReportCategory};
use fieldsync_core::protocol::{
    self, ErrorBody, PushDoc, PushOutcome, SyncRequest, SyncResponse, VERSION,
};
use fieldsync_core::{DocId, Store};
use fieldsync_server::{RunningServer, Server, ServerConfig};

pub const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

/// A server on a free loopback port, with its data in a temporary directory.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub running: RunningServer,
    pub http: reqwest::Client,
}

pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir).await
}

pub async fn start_in(dir: tempfile::TempDir) -> TestServer {
    let config = ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().unwrap());
    let running = Server::start(&config).await.unwrap();
    TestServer { dir, running, http: reqwest::Client::new() }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.url())
    }

    /// POSTs raw bytes; returns the status and the body.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let resp = self
            .http
            .post(self.url(path))
            .header("content-type", "application/cbor")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
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

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.http.get(self.url(path)).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub fn epoch(&self) -> String {
        self.running.server().epoch().to_string()
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
        Phone { dir, store: std::sync::Arc::new(store) }
    }

    pub fn actor(&self) -> Vec<u8> {
        self.store.identity().actor.to_bytes().to_vec()
    }

    pub fn report(&self, title: &str) -> DocId {
        self.store.create(&new_report(title)).unwrap()
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
        }
    }

    /// A push of the whole document as saved (a snapshot chunk followed by change chunks).
    pub fn push_saved(&self, id: DocId) -> PushDoc {
        PushDoc {
            doc: id,
            changes: self.store.saved_bytes(id).unwrap(),
            heads: protocol::to_wire(&self.heads(id)),
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
    NewRecord::Report(NewReport {
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
    })
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
