//! Hostile input against the real server over HTTP on a loopback port.
//!
//! Property tests feed it random bytes; real envelopes (sync, reconcile, visible, enroll) with
//! bits flipped and bytes cut, inserted or deleted; valid gzip around mutated CBOR; valid
//! envelopes around mutated Automerge changes and saved documents; wrong document ids, forged
//! actors, wrong versions and huge counts. Every case must get a typed answer — a 4xx with the
//! protocol's JSON error body, or a 200 whose per-document results are typed refusals — never a
//! 5xx and never a hang; afterwards the server still answers health and a normal sync, and
//! nothing new is stored (documents, their bytes, the log and the devices are compared with
//! what they were before the first case).
//!
//! Then the memory limits: a document that would grow past the per-document limit is refused
//! `too_large` and what was stored stays readable; a saved document whose deflated columns
//! inflate to 512 MiB, and a request of 128 compressed changes inflating to 32 MiB each, are
//! refused once inflating passes the limits, on the server and on the phone, without the
//! memory; changes whose dependencies never arrive are refused `missing_dependencies` on every
//! push and kept nowhere, neither on the server nor on the phone, and a sync client that cannot
//! apply what it pulls asks for it once per sync and finishes. (The gzip bomb of the envelope is
//! in `http.rs`.)
//!
//! One server per test function. The case counts keep the file within about a minute in a
//! debug build on two cores; `PROPTEST_CASES=<n>` runs `n` cases per property instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::sync::{ChunkList, Message, MessageVersion, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use common::*;
use fieldsync_core::changes::split_chunks;
use fieldsync_core::model::Record;
use fieldsync_core::protocol::{
    self, EnrollRequest, ErrorBody, Hash, PullDoc, PushDoc, PushOutcome, PushResult,
    ReconcileRequest, ReconcileResponse, SyncMessage, SyncRequest, SyncResponse, VERSION,
    VisibleRequest, VisibleResponse, limits,
};
use fieldsync_core::sync::{HttpTransport, SyncClient, SyncConfig, Transport, TransportError};
use fieldsync_core::{CoreError, DocId};
use fieldsync_server::ServerConfig;
use fieldsync_server::storage::StoredDoc;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestCaseError, TestRunner};

// ---------------------------------------------------------------------------------------------
// What a typed answer is.

/// Error codes a request may be refused with, and their status (docs/protocol.md); `internal`
/// and `unavailable` are not among them: hostile input is the client's fault, not the server's.
const HTTP_CODES: &[(&str, u16)] = &[
    ("malformed_body", 400),
    ("unsupported_version", 400),
    ("invalid_request", 400),
    ("invalid_cursor", 400),
    ("cursor_ahead", 400),
    ("epoch_mismatch", 409),
    ("too_large", 413),
    ("missing_token", 401),
    ("malformed_token", 401),
    ("unknown_token", 401),
    ("malformed_code", 401),
    ("device_revoked", 403),
    ("actor_mismatch", 403),
    ("code_unknown", 403),
    ("code_used", 403),
    ("code_expired", 403),
    ("rate_limited", 429),
];

/// Per-document refusals (`results`); `internal_error` is not among them.
const DOC_CODES: &[&str] = &[
    "malformed_changes",
    "missing_dependencies",
    "invalid_document",
    "header_changed",
    "too_large",
    "forged_actor",
    "forbidden",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Sync,
    Reconcile,
    Visible,
    Enroll,
}

impl Endpoint {
    const ALL: [Endpoint; 4] =
        [Endpoint::Sync, Endpoint::Reconcile, Endpoint::Visible, Endpoint::Enroll];

    fn path(self) -> &'static str {
        match self {
            Endpoint::Sync => "/v1/sync",
            Endpoint::Reconcile => "/v1/reconcile",
            Endpoint::Visible => "/v1/visible",
            Endpoint::Enroll => "/v1/enroll",
        }
    }
}

/// A typed answer.
#[derive(Debug)]
enum Answer {
    Refused(ErrorBody),
    Sync(SyncResponse),
    Reconcile(ReconcileResponse),
    Visible,
}

impl Answer {
    /// The request's error code, if it was refused.
    fn code(&self) -> Option<&str> {
        match self {
            Answer::Refused(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The per-document results of a sync or reconcile answer.
    fn results(&self) -> &[PushResult] {
        match self {
            Answer::Sync(r) => &r.results,
            Answer::Reconcile(r) => &r.results,
            _ => &[],
        }
    }
}

fn fail(msg: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(msg.into())
}

/// Checks that `(status, body)` is a typed answer of `endpoint`.
fn typed(endpoint: Endpoint, status: u16, body: &[u8]) -> Result<Answer, TestCaseError> {
    let text = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if status >= 500 {
        return Err(fail(format!("{} answered {status}: {}", endpoint.path(), text())));
    }
    if status != 200 {
        if !(400..500).contains(&status) {
            return Err(fail(format!("{} answered {status}", endpoint.path())));
        }
        let e: ErrorBody = serde_json::from_slice(body)
            .map_err(|e| fail(format!("{status} without the JSON error body ({e}): {}", text())))?;
        match HTTP_CODES.iter().find(|(c, _)| *c == e.code) {
            Some((_, s)) if *s == status && !e.message.is_empty() => {}
            _ => return Err(fail(format!("{status} with an unknown code: {e:?}"))),
        }
        return Ok(Answer::Refused(e));
    }
    let decoded = match endpoint {
        Endpoint::Sync => protocol::decode(body).map(Answer::Sync),
        Endpoint::Reconcile => protocol::decode(body).map(Answer::Reconcile),
        Endpoint::Visible => protocol::decode::<VisibleResponse>(body).map(|_| Answer::Visible),
        Endpoint::Enroll => return Err(fail("a device was enrolled without a valid code")),
    };
    let answer = decoded.map_err(|e| fail(format!("a 200 that does not decode: {e}")))?;
    for r in answer.results() {
        match &r.outcome {
            PushOutcome::Acked { .. } => {}
            PushOutcome::Rejected { code, message } | PushOutcome::Retry { code, message } => {
                if !DOC_CODES.contains(&code.as_str()) || message.is_empty() {
                    return Err(fail(format!("{}: untyped refusal {code}: {message}", r.doc)));
                }
            }
        }
    }
    Ok(answer)
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// One edit of a byte string; every one changes it (on a non-empty input).
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Xor(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        1 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| Mutation::Xor(i, x)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..24))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1usize..48).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..4)
}

fn mutate(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for m in mutations {
        let len = b.len();
        match m {
            Mutation::Insert(i, more) => {
                let at = i.index(len + 1);
                b.splice(at..at, more.iter().copied());
            }
            _ if len == 0 => {}
            Mutation::Flip(i, bit) => b[i.index(len)] ^= 1 << bit,
            Mutation::Xor(i, x) => b[i.index(len)] ^= x,
            Mutation::Truncate(i) => b.truncate(i.index(len)),
            Mutation::Delete(i, n) => {
                let at = i.index(len);
                b.drain(at..(at + n).min(len));
            }
        }
    }
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// The server with its data, and what "unchanged" means.

/// Everything the server stores that hostile input could change.
#[derive(Debug, PartialEq)]
struct State {
    docs: Vec<DocId>,
    stored: Vec<Option<StoredDoc>>,
    log: Vec<(u64, DocId, [u8; 32])>,
    devices: Vec<String>,
}

async fn state(server: &TestServer) -> State {
    let storage = server.running.server().storage();
    let mut docs = storage.doc_ids().await.unwrap();
    docs.sort();
    let stored = storage.load(docs.clone()).await.unwrap();
    let log = storage
        .audit(0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.doc, r.hash))
        .collect();
    let mut devices: Vec<String> =
        server.running.server().accounts().devices().unwrap().into_iter().map(|d| d.id).collect();
    devices.sort();
    State { docs, stored, log, devices }
}

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// The author of every stored document.
    Author,
    /// Another enrolled device.
    Other,
    /// No `Authorization` header.
    NoToken,
    /// A token of the right form that no device has.
    UnknownToken,
    /// Not a bearer token.
    BadToken,
}

fn sender() -> impl Strategy<Value = Sender> {
    prop::sample::select(vec![
        Sender::Author,
        Sender::Other,
        Sender::NoToken,
        Sender::UnknownToken,
        Sender::BadToken,
    ])
}

/// Automerge bytes made by a real phone, for one document.
#[derive(Debug, Clone)]
struct Material {
    doc: DocId,
    bytes: Vec<u8>,
    heads: Vec<Hash>,
    /// The server holds every change in it already.
    held: bool,
}

/// A real envelope that stores nothing new when sent as it is.
struct Base {
    endpoint: Endpoint,
    sender: Sender,
    body: Vec<u8>,
    cbor: Vec<u8>,
}

struct Fixture {
    server: TestServer,
    /// Requests time out: a request without an answer in this time is a hang.
    http: reqwest::Client,
    author: Phone,
    other: Phone,
    author_token: String,
    other_token: String,
    epoch: String,
    /// The author's cursor at the end of the feed.
    cursor: String,
    stored: Vec<DocId>,
    materials: Vec<Material>,
    /// Change chunks of the author's for `stored[0]`, each depending on a change never sent.
    orphans: Vec<Vec<u8>>,
    bases: Vec<Base>,
    /// What the server stores; only a property whose input may be valid changes moves it.
    baseline: Mutex<State>,
    enrolments: AtomicUsize,
    enrol_clients: Mutex<HashMap<u8, reqwest::Client>>,
    cases: AtomicUsize,
    /// How often each answer was seen: an error code, a per-document code, or `ok`.
    seen: Mutex<BTreeMap<String, usize>>,
    rt: tokio::runtime::Runtime,
}

const TIMEOUT: Duration = Duration::from_secs(30);

fn client(local: Option<IpAddr>) -> reqwest::Client {
    reqwest::Client::builder().timeout(TIMEOUT).local_address(local).build().unwrap()
}

fn chunks(bytes: &[u8]) -> Vec<Vec<u8>> {
    split_chunks(bytes).unwrap().into_iter().map(|(_, c)| c.to_vec()).collect()
}

fn message_with(changes: Vec<Vec<u8>>) -> Vec<u8> {
    Message {
        heads: vec![],
        need: vec![],
        have: vec![],
        changes: ChunkList::from(changes),
        flags: None,
        version: MessageVersion::V1,
    }
    .encode()
}

impl Fixture {
    fn new() -> Fixture {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(start());
        let author = Phone::new("hostile-author");
        let other = Phone::new("hostile-other");
        let author_token = server.token_for(&author.actor());
        let other_token = server.token_for(&other.actor());

        // Three records, two with some history, stored on the server.
        let stored: Vec<DocId> = (0..3).map(|i| author.report(&format!("stored {i}"))).collect();
        author.comment(stored[0], "a first comment");
        author.accept(stored[1], "on it");
        let push = stored.iter().map(|id| author.push_after(*id, &[])).collect();
        let first = rt.block_on(server.sync(&author.request(None, "", push))).unwrap();
        assert_acked(&first);
        let epoch = first.epoch.clone();
        let end = rt
            .block_on(server.sync(&author.request(Some(epoch.clone()), &first.cursor, vec![])))
            .unwrap();
        assert!(end.docs.is_empty() && !end.more);
        let cursor = end.cursor;

        let mut materials = Vec::new();
        for id in &stored {
            let heads = protocol::to_wire(&author.heads(*id));
            let changes = author.changes_after(*id, &[]);
            let saved = author.store.saved_bytes(*id).unwrap();
            for bytes in [changes, saved] {
                materials.push(Material { doc: *id, bytes, heads: heads.clone(), held: true });
            }
        }
        // Sync messages about the stored documents, made before anything new exists.
        let mut messages: Vec<SyncMessage> = stored
            .iter()
            .map(|id| {
                let mut doc = author.store.load(*id).unwrap();
                let mut st = automerge::sync::State::new();
                let m = doc.sync().generate_sync_message(&mut st).unwrap();
                SyncMessage { doc: *id, message: m.encode() }
            })
            .collect();
        messages[1].message = message_with(chunks(&materials[2].bytes));

        // New to the server, one chunk each (no prefix of it is valid on its own): a comment on
        // a stored record, and a record saved whole.
        let before = author.heads(stored[0]);
        author.comment(stored[0], "never pushed");
        let comment = author.changes_after(stored[0], &before);
        assert_eq!(chunks(&comment).len(), 1);
        let unsent = author.heads(stored[0]);
        materials.push(Material {
            doc: stored[0],
            bytes: comment,
            heads: protocol::to_wire(&unsent),
            held: false,
        });
        let fresh = author.report("never pushed either");
        let saved = author.store.load(fresh).unwrap().save();
        assert_eq!(chunks(&saved).len(), 1);
        materials.push(Material {
            doc: fresh,
            bytes: saved,
            heads: protocol::to_wire(&author.heads(fresh)),
            held: false,
        });

        // Changes after the comment that is never sent: their dependencies never arrive.
        let mut doc = author.store.load(stored[0]).unwrap();
        doc.set_actor(author.store.identity().actor);
        for i in 0..64i64 {
            doc.put(ROOT, "hostile", i).unwrap();
            doc.commit();
        }
        let orphans: Vec<Vec<u8>> =
            doc.get_changes(&unsent).iter().map(|c| c.raw_bytes().to_vec()).collect();
        assert_eq!(orphans.len(), 64);

        let mut bases = Vec::new();
        let mut base = |endpoint, sender, body: Vec<u8>| {
            let cbor = gunzip(&body);
            bases.push(Base { endpoint, sender, body, cbor });
        };
        let held_push: Vec<PushDoc> = materials
            .iter()
            .filter(|m| m.held)
            .step_by(2)
            .map(|m| PushDoc { doc: m.doc, changes: m.bytes.clone(), heads: m.heads.clone() })
            .collect();
        let mut resync = author.request(Some(epoch.clone()), &cursor, held_push);
        resync.want = vec![stored[1], DocId::random()];
        resync.page_bytes = 64 * 1024;
        base(Endpoint::Sync, Sender::Author, protocol::encode(&resync));
        // Another device passes on changes the server holds (which anyone may).
        let relay = other.request(
            None,
            "",
            vec![PushDoc {
                doc: stored[2],
                changes: materials[5].bytes.clone(),
                heads: materials[5].heads.clone(),
            }],
        );
        base(Endpoint::Sync, Sender::Other, protocol::encode(&relay));
        let reconcile = ReconcileRequest {
            v: VERSION,
            actor: author.actor(),
            docs: messages,
            have: Some(stored.clone()),
        };
        base(Endpoint::Reconcile, Sender::Author, protocol::encode(&reconcile));
        let mut ids = stored.clone();
        ids.push(DocId::random());
        base(
            Endpoint::Visible,
            Sender::Author,
            protocol::encode(&VisibleRequest { v: VERSION, ids }),
        );
        // A code of the right form that was never issued.
        let enrol = EnrollRequest {
            v: VERSION,
            code: "2345-6789-AB".into(),
            device_name: "a stolen phone".into(),
            actor: Some(author.actor()),
        };
        base(Endpoint::Enroll, Sender::NoToken, protocol::encode(&enrol));

        let baseline = rt.block_on(state(&server));
        let fx = Fixture {
            server,
            http: client(None),
            author,
            other,
            author_token,
            other_token,
            epoch,
            cursor,
            stored,
            materials,
            orphans,
            bases,
            baseline: Mutex::new(baseline),
            enrolments: AtomicUsize::new(0),
            enrol_clients: Mutex::new(HashMap::new()),
            cases: AtomicUsize::new(0),
            seen: Mutex::new(BTreeMap::new()),
            rt,
        };
        // The bases, sent as they are, are answered and store nothing.
        fx.rt.block_on(async {
            for b in &fx.bases {
                let (status, body) = fx.post(b.sender, b.endpoint, b.body.clone()).await.unwrap();
                let answer = typed(b.endpoint, status, &body).unwrap();
                match b.endpoint {
                    Endpoint::Enroll => assert_eq!(answer.code(), Some("code_unknown")),
                    _ => assert_eq!(status, 200, "{answer:?}"),
                }
                for r in answer.results() {
                    assert!(matches!(r.outcome, PushOutcome::Acked { .. }), "{r:?}");
                }
            }
            fx.settle().await.unwrap();
        });
        fx
    }

    /// A client for enrolment requests: they are limited to 10 a minute per address, so they
    /// come from addresses all over 127.0.0.0/8 (8 each) to reach the decoder, not the limiter.
    fn enrol_client(&self) -> reqwest::Client {
        let n = self.enrolments.fetch_add(1, Ordering::Relaxed);
        let host = 2 + ((n / 8) % 250) as u8;
        let mut clients = self.enrol_clients.lock().unwrap();
        clients
            .entry(host)
            .or_insert_with(|| client(Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))))
            .clone()
    }

    /// POSTs `body` to `endpoint` as `sender`; `Err` when no answer came (a hang, a reset).
    async fn post(
        &self,
        sender: Sender,
        endpoint: Endpoint,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), TestCaseError> {
        let http = match endpoint {
            Endpoint::Enroll => self.enrol_client(),
            _ => self.http.clone(),
        };
        let mut req = http
            .post(self.server.url(endpoint.path()))
            .header("content-type", "application/cbor")
            .header("content-encoding", "gzip")
            .body(body);
        req = match sender {
            Sender::Author => req.bearer_auth(&self.author_token),
            Sender::Other => req.bearer_auth(&self.other_token),
            Sender::NoToken => req,
            Sender::UnknownToken => req.bearer_auth("ab".repeat(32)),
            Sender::BadToken => req.header("authorization", "Basic aG9zdGlsZTpwaG9uZQ=="),
        };
        let started = Instant::now();
        let resp = req.send().await.map_err(|e| {
            fail(format!("{}: no answer after {:?}: {e}", endpoint.path(), started.elapsed()))
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| fail(format!("{}: answer cut: {e}", endpoint.path())))?;
        Ok((status, body.to_vec()))
    }

    /// Sends, checks the answer is typed, then checks the server is live and unchanged.
    async fn exchange(
        &self,
        sender: Sender,
        endpoint: Endpoint,
        body: Vec<u8>,
    ) -> Result<Answer, TestCaseError> {
        self.exchange_with(sender, endpoint, body, false).await
    }

    /// [`Fixture::exchange`]; with `may_store`, what the request stored is checked (see
    /// [`Fixture::take_new_writes`]) and becomes the state later cases are compared with.
    async fn exchange_with(
        &self,
        sender: Sender,
        endpoint: Endpoint,
        body: Vec<u8>,
        may_store: bool,
    ) -> Result<Answer, TestCaseError> {
        self.cases.fetch_add(1, Ordering::Relaxed);
        let (status, answer) = self.post(sender, endpoint, body).await?;
        let answer = typed(endpoint, status, &answer)?;
        {
            let mut seen = self.seen.lock().unwrap();
            let codes: Vec<&str> = match answer.code() {
                Some(code) => vec![code],
                None if answer.results().is_empty() => vec!["ok"],
                None => answer
                    .results()
                    .iter()
                    .map(|r| match &r.outcome {
                        PushOutcome::Acked { .. } => "acked",
                        PushOutcome::Rejected { code, .. } | PushOutcome::Retry { code, .. } => {
                            code
                        }
                    })
                    .collect(),
            };
            for c in codes {
                *seen.entry(c.to_string()).or_default() += 1;
            }
        }
        if may_store {
            self.take_new_writes().await?;
        }
        self.settle().await?;
        Ok(answer)
    }

    /// What a request of valid changes of the author's stored: only log entries appended, each
    /// a change of the author's device, in documents that load as valid records on the server
    /// and on a phone (what the server accepts, every phone that pulls it must accept too).
    async fn take_new_writes(&self) -> Result<(), TestCaseError> {
        let now = state(&self.server).await;
        let before_log = {
            let before = self.baseline.lock().unwrap();
            if now == *before {
                return Ok(());
            }
            prop_assert_eq!(&now.devices, &before.devices);
            prop_assert!(now.log.starts_with(&before.log), "the log was rewritten");
            before.log.len()
        };
        let after = self.baseline.lock().unwrap().log.last().map_or(0, |e| e.0);
        let entries = self.server.running.server().storage().audit(after, 100_000).await.unwrap();
        prop_assert_eq!(entries.len(), now.log.len() - before_log);
        let mut docs: Vec<DocId> = Vec::new();
        for e in &entries {
            prop_assert_eq!(&e.actor, &self.author.actor(), "a logged change of another actor");
            prop_assert!(e.device.is_some());
            if !docs.contains(&e.doc) {
                docs.push(e.doc);
            }
        }
        for doc in docs {
            let i = now.docs.binary_search(&doc).map_err(|_| fail("a logged change's document"))?;
            let bytes = &now.stored[i].as_ref().ok_or_else(|| fail("not stored"))?.bytes;
            AutoCommit::load(bytes).map_err(|e| fail(format!("stored bytes do not load: {e}")))?;
            let phone = Phone::new("hostile-reader");
            phone
                .store
                .merge_remote(doc, bytes)
                .map_err(|e| fail(format!("a phone refuses what the server accepted: {e}")))?;
            phone.store.get(doc).map_err(|e| fail(format!("a phone cannot read it: {e}")))?;
        }
        *self.seen.lock().unwrap().entry("stored".into()).or_default() += 1;
        *self.baseline.lock().unwrap() = now;
        Ok(())
    }

    /// The server answers health and a normal sync, and stores what it stored before.
    async fn settle(&self) -> Result<(), TestCaseError> {
        let (status, text) = self.server.get("/healthz").await;
        prop_assert_eq!((status, text.as_str()), (200, "ok"));
        let req = self.author.request(Some(self.epoch.clone()), &self.cursor, vec![]);
        let (status, body) =
            self.post(Sender::Author, Endpoint::Sync, protocol::encode(&req)).await?;
        prop_assert_eq!(status, 200, "a normal sync: {}", String::from_utf8_lossy(&body));
        let resp: SyncResponse = protocol::decode(&body).map_err(|e| fail(e.to_string()))?;
        prop_assert!(resp.docs.is_empty() && !resp.more, "a normal sync pulled {:?}", resp.docs);
        let now = state(&self.server).await;
        let baseline = self.baseline.lock().unwrap();
        if now != *baseline {
            return Err(fail(format!(
                "the database changed: {} documents ({} before), {} log entries ({} before), \
                 {} devices ({} before)",
                now.docs.len(),
                baseline.docs.len(),
                now.log.len(),
                baseline.log.len(),
                now.devices.len(),
                baseline.devices.len()
            )));
        }
        Ok(())
    }

    /// Runs `case` on values of `strategy`, `cases` times (or `PROPTEST_CASES`), and reports.
    fn run<S>(
        &self,
        name: &str,
        cases: u32,
        strategy: S,
        case: impl Fn(&Fixture, S::Value) -> Result<(), TestCaseError>,
    ) where
        S: Strategy,
        S::Value: std::fmt::Debug,
    {
        let started = Instant::now();
        let mut runner = TestRunner::new(config(cases));
        let result = runner.run(&strategy, |v| case(self, v));
        eprintln!(
            "{name}: {} requests checked in {:.1} s; answers: {:?}",
            self.cases.load(Ordering::Relaxed),
            started.elapsed().as_secs_f64(),
            self.seen.lock().unwrap()
        );
        if let Err(e) = result {
            panic!("{name}: {e}");
        }
        self.rt.block_on(self.settle()).unwrap();
    }
}

/// `cases` cases, unless `PROPTEST_CASES` asks for another number; failures are not saved to
/// files (the minimal failing input is in the panic message).
fn config(cases: u32) -> ProptestConfig {
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default().cases
    } else {
        cases
    };
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The properties.

#[derive(Debug, Clone)]
enum Noise {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// Random bytes, gzipped: the envelope holds, the message does not.
    Gzipped(Vec<u8>),
    /// A gzip header, then random bytes.
    GzipHeader(Vec<u8>),
}

impl Noise {
    fn body(&self) -> Vec<u8> {
        match self {
            Noise::Raw(b) => b.clone(),
            Noise::Gzipped(b) => gzip(b),
            Noise::GzipHeader(b) => {
                [&[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff][..], b].concat()
            }
        }
    }
}

fn noise() -> impl Strategy<Value = Noise> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..2048);
    prop_oneof![
        bytes().prop_map(Noise::Raw),
        bytes().prop_map(Noise::Gzipped),
        bytes().prop_map(Noise::GzipHeader),
    ]
}

#[test]
fn random_bytes_get_typed_errors() {
    let fx = Fixture::new();
    let strategy = (prop::sample::select(Endpoint::ALL.to_vec()), sender(), noise());
    fx.run("random bytes", 1500, strategy, |fx, (endpoint, sender, noise)| {
        fx.rt.block_on(async {
            let answer = fx.exchange(sender, endpoint, noise.body()).await?;
            let code = answer.code();
            match (endpoint, sender) {
                (Endpoint::Enroll, _) => {}
                (_, Sender::NoToken) => prop_assert_eq!(code, Some("missing_token")),
                (_, Sender::UnknownToken) => prop_assert_eq!(code, Some("unknown_token")),
                (_, Sender::BadToken) => prop_assert_eq!(code, Some("malformed_token")),
                // Random bytes are never a valid message.
                _ => prop_assert!(code.is_some(), "{:?}", answer),
            }
            Ok(())
        })
    });
}

#[test]
fn mutated_envelopes_get_typed_answers() {
    let fx = Fixture::new();
    let strategy = (0..fx.bases.len(), mutations());
    fx.run("mutated envelopes", 1500, strategy, |fx, (base, mutations)| {
        let b = &fx.bases[base];
        let body = mutate(&b.body, &mutations);
        fx.rt.block_on(fx.exchange(b.sender, b.endpoint, body)).map(drop)
    });
}

#[test]
fn mutated_cbor_in_valid_gzip_gets_typed_answers() {
    let fx = Fixture::new();
    let strategy = (0..fx.bases.len(), mutations());
    fx.run("mutated CBOR", 1500, strategy, |fx, (base, mutations)| {
        let b = &fx.bases[base];
        let body = gzip(&mutate(&b.cbor, &mutations));
        fx.rt.block_on(fx.exchange(b.sender, b.endpoint, body)).map(drop)
    });
}

/// Which document mutated bytes are pushed for.
#[derive(Debug, Clone, Copy)]
enum Target {
    Own,
    Stored(usize),
    Unknown,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => Just(Target::Own),
        1 => (0usize..3).prop_map(Target::Stored),
        1 => Just(Target::Unknown),
    ]
}

#[test]
fn mutated_automerge_bytes_are_refused_per_document() {
    let fx = Fixture::new();
    let strategy = (0..fx.materials.len(), mutations(), target(), any::<bool>());
    fx.run("mutated Automerge bytes", 500, strategy, |fx, (m, mutations, target, reconcile)| {
        let m = &fx.materials[m];
        let bytes = mutate(&m.bytes, &mutations);
        if bytes == m.bytes {
            return Ok(()); // the mutations undid each other
        }
        let doc = match target {
            Target::Own => m.doc,
            Target::Stored(i) => fx.stored[i],
            Target::Unknown => DocId::random(),
        };
        let (endpoint, body) = if reconcile {
            let message = message_with(vec![bytes]);
            let req = ReconcileRequest {
                v: VERSION,
                actor: fx.author.actor(),
                docs: vec![SyncMessage { doc, message }],
                have: None,
            };
            (Endpoint::Reconcile, protocol::encode(&req))
        } else {
            let push = PushDoc { doc, changes: bytes, heads: m.heads.clone() };
            let req = fx.author.request(Some(fx.epoch.clone()), &fx.cursor, vec![push]);
            (Endpoint::Sync, protocol::encode(&req))
        };
        fx.rt.block_on(async {
            let answer = fx.exchange(Sender::Author, endpoint, body).await?;
            prop_assert!(answer.code().is_none(), "the envelope is valid: {:?}", answer);
            if !m.held {
                // Bytes of new changes, mutated, are refused for their document.
                prop_assert_eq!(answer.results().len(), 1, "{:?}", answer);
                let acked = matches!(answer.results()[0].outcome, PushOutcome::Acked { .. });
                prop_assert!(!acked, "{:?}", answer);
            }
            Ok(())
        })
    });
}

/// `chunk` (one Automerge chunk) with its body edited by `mutations`, then its length and
/// checksum made right again: it passes the checks of the chunk and reaches Automerge's decoder,
/// and what decodes is a change the author could have made.
fn reseal(chunk: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let chunk_type = chunk[8];
    let mut at = 9;
    while chunk[at] & 0x80 != 0 {
        at += 1;
    }
    let body = mutate(&chunk[at + 1..], mutations);
    let mut header = vec![chunk_type];
    write_uleb(&mut header, body.len() as u64);
    let digest = Sha256::new().chain_update(&header).chain_update(&body).finalize();
    [&chunk[..4], &digest[..4], &header[..], &body[..]].concat()
}

/// Mutated change and document chunks resealed with a valid checksum, pushed by their author:
/// every answer is typed; what is refused stores nothing, and what is accepted (the mutation
/// left a change the author could have made) is the author's, logged, and loads as a valid
/// record on the server and on a phone.
#[test]
fn resealed_mutated_changes_are_refused_or_stored_whole() {
    let fx = Fixture::new();
    let mut sealed: Vec<(DocId, Vec<u8>)> = Vec::new();
    for m in &fx.materials {
        for c in chunks(&m.bytes) {
            assert_eq!(reseal(&c, &[]), c, "resealing as it is changes nothing");
            if !sealed.iter().any(|(_, s)| *s == c) {
                sealed.push((m.doc, c));
            }
        }
    }
    let strategy = (0..sealed.len(), prop::collection::vec(mutation(), 1..3), any::<bool>());
    fx.run("resealed changes", 1500, strategy, |fx, (i, mutations, reconcile)| {
        let (doc, chunk) = &sealed[i];
        let bytes = reseal(chunk, &mutations);
        if bytes == *chunk {
            return Ok(());
        }
        let (endpoint, body) = if reconcile {
            let message = SyncMessage { doc: *doc, message: message_with(vec![bytes]) };
            let req = ReconcileRequest {
                v: VERSION,
                actor: fx.author.actor(),
                docs: vec![message],
                have: None,
            };
            (Endpoint::Reconcile, protocol::encode(&req))
        } else {
            let push = PushDoc { doc: *doc, changes: bytes, heads: vec![] };
            let req = fx.author.request(Some(fx.epoch.clone()), &fx.cursor, vec![push]);
            (Endpoint::Sync, protocol::encode(&req))
        };
        fx.rt.block_on(async {
            let answer = fx.exchange_with(Sender::Author, endpoint, body, true).await?;
            prop_assert!(answer.code().is_none(), "the envelope is valid: {:?}", answer);
            Ok(())
        })
    });
}

/// Valid bytes in the wrong place, or requests that break a rule.
#[derive(Debug, Clone)]
enum Attack {
    /// New changes of the author's pushed for another document than theirs.
    WrongDoc {
        material: usize,
        target: Target,
    },
    /// Another device pushes the author's new changes.
    Forged {
        material: usize,
        reconcile: bool,
    },
    /// Another device's token with the author's actor.
    ActorMismatch,
    /// Any version but this one.
    Version {
        endpoint: Endpoint,
        v: u32,
    },
    /// An actor id of the wrong length.
    ActorLength(usize),
    ManyPushed(usize),
    ManyWanted(usize),
    ManyHeads(usize),
    ManyReconciled(usize),
    ManyAsked(usize),
    PushedTwice,
    ReconciledTwice,
    Cursor(String),
    Epoch(String),
    PageBytes(u32),
    /// Changes whose dependencies are not on the server.
    Orphans {
        from: usize,
        count: usize,
        unknown_doc: bool,
    },
    /// Held changes with heads the server does not hold.
    UnheldHeads(Vec<[u8; 32]>),
}

fn attack(materials: usize) -> impl Strategy<Value = Attack> {
    let fresh = (materials - 2)..materials;
    prop_oneof![
        (fresh.clone(), prop_oneof![(0usize..3).prop_map(Target::Stored), Just(Target::Unknown)])
            .prop_map(|(material, target)| Attack::WrongDoc { material, target }),
        (fresh, any::<bool>())
            .prop_map(|(material, reconcile)| Attack::Forged { material, reconcile }),
        Just(Attack::ActorMismatch),
        (
            prop::sample::select(Endpoint::ALL.to_vec()),
            any::<u32>().prop_filter("not 1", |v| *v != 1)
        )
            .prop_map(|(endpoint, v)| Attack::Version { endpoint, v }),
        prop_oneof![Just(0usize), 33usize..200].prop_map(Attack::ActorLength),
        (1usize..50).prop_map(|n| Attack::ManyPushed(limits::PUSH_DOCS + n)),
        (1usize..50).prop_map(|n| Attack::ManyWanted(limits::WANT_DOCS + n)),
        (1usize..50).prop_map(|n| Attack::ManyHeads(limits::HEADS + n)),
        (1usize..50).prop_map(|n| Attack::ManyReconciled(limits::RECONCILE_DOCS + n)),
        (1usize..50).prop_map(|n| Attack::ManyAsked(limits::WANT_DOCS + n)),
        Just(Attack::PushedTwice),
        Just(Attack::ReconciledTwice),
        prop_oneof!["[lc][.0-9~a-f]{0,40}", ".{0,200}", "l\\.[0-9]{6,24}"].prop_map(Attack::Cursor),
        ".{1,200}".prop_map(Attack::Epoch),
        any::<u32>().prop_map(Attack::PageBytes),
        (0usize..64, 1usize..64, any::<bool>()).prop_map(|(from, count, unknown_doc)| {
            Attack::Orphans { from, count, unknown_doc }
        }),
        prop::collection::vec(any::<[u8; 32]>(), 1..4).prop_map(Attack::UnheldHeads),
    ]
}

impl Fixture {
    /// The attack as a request: who sends it, where, the body, and the error code expected
    /// (`None`: a 200, checked by the caller).
    fn attack(&self, attack: &Attack) -> (Sender, Endpoint, Vec<u8>, Option<&'static str>) {
        let a = &self.author;
        let epoch = Some(self.epoch.clone());
        let sync = |req: &SyncRequest| protocol::encode(req);
        let push_of = |m: &Material, doc: DocId| PushDoc {
            doc,
            changes: m.bytes.clone(),
            heads: m.heads.clone(),
        };
        let reconcile = |actor: Vec<u8>, docs: Vec<SyncMessage>| {
            protocol::encode(&ReconcileRequest { v: VERSION, actor, docs, have: None })
        };
        match attack {
            Attack::WrongDoc { material, target } => {
                let m = &self.materials[*material];
                let others: Vec<DocId> =
                    self.stored.iter().copied().filter(|d| *d != m.doc).collect();
                let doc = match target {
                    Target::Stored(i) => others[*i % others.len()],
                    _ => DocId::random(),
                };
                let req = a.request(epoch, &self.cursor, vec![push_of(m, doc)]);
                (Sender::Author, Endpoint::Sync, sync(&req), None)
            }
            Attack::Forged { material, reconcile: false } => {
                let m = &self.materials[*material];
                let req = self.other.request(None, "", vec![push_of(m, m.doc)]);
                (Sender::Other, Endpoint::Sync, sync(&req), None)
            }
            Attack::Forged { material, reconcile: true } => {
                let m = &self.materials[*material];
                let msg = SyncMessage { doc: m.doc, message: message_with(chunks(&m.bytes)) };
                (Sender::Other, Endpoint::Reconcile, reconcile(self.other.actor(), vec![msg]), None)
            }
            Attack::ActorMismatch => {
                let req = a.request(None, "", vec![]);
                (Sender::Other, Endpoint::Sync, sync(&req), Some("actor_mismatch"))
            }
            Attack::Version { endpoint, v } => {
                let body = match endpoint {
                    Endpoint::Sync => sync(&SyncRequest { v: *v, ..a.request(None, "", vec![]) }),
                    Endpoint::Reconcile => protocol::encode(&ReconcileRequest {
                        v: *v,
                        actor: a.actor(),
                        docs: vec![],
                        have: None,
                    }),
                    Endpoint::Visible => protocol::encode(&VisibleRequest { v: *v, ids: vec![] }),
                    Endpoint::Enroll => protocol::encode(&EnrollRequest {
                        v: *v,
                        code: "2345-6789-AB".into(),
                        device_name: "phone".into(),
                        actor: None,
                    }),
                };
                (Sender::Author, *endpoint, body, Some("unsupported_version"))
            }
            Attack::ActorLength(n) => {
                let req = SyncRequest { actor: vec![7; *n], ..a.request(None, "", vec![]) };
                (Sender::Author, Endpoint::Sync, sync(&req), Some("invalid_request"))
            }
            Attack::ManyPushed(n) => {
                let push = (0..*n)
                    .map(|_| PushDoc { doc: DocId::random(), changes: vec![], heads: vec![] })
                    .collect();
                (
                    Sender::Author,
                    Endpoint::Sync,
                    sync(&a.request(None, "", push)),
                    Some("too_large"),
                )
            }
            Attack::ManyWanted(n) => {
                let req = SyncRequest {
                    want: (0..*n).map(|_| DocId::random()).collect(),
                    ..a.request(None, "", vec![])
                };
                (Sender::Author, Endpoint::Sync, sync(&req), Some("too_large"))
            }
            Attack::ManyHeads(n) => {
                let push = PushDoc {
                    doc: self.stored[0],
                    changes: vec![],
                    heads: (0..*n).map(|i| Hash([i as u8; 32])).collect(),
                };
                (
                    Sender::Author,
                    Endpoint::Sync,
                    sync(&a.request(None, "", vec![push])),
                    Some("invalid_request"),
                )
            }
            Attack::ManyReconciled(n) => {
                let docs = (0..*n)
                    .map(|_| SyncMessage { doc: DocId::random(), message: vec![] })
                    .collect();
                (Sender::Author, Endpoint::Reconcile, reconcile(a.actor(), docs), Some("too_large"))
            }
            Attack::ManyAsked(n) => {
                let req =
                    VisibleRequest { v: VERSION, ids: (0..*n).map(|_| DocId::random()).collect() };
                (Sender::Author, Endpoint::Visible, protocol::encode(&req), Some("too_large"))
            }
            Attack::PushedTwice => {
                let m = &self.materials[0];
                let req =
                    a.request(epoch, &self.cursor, vec![push_of(m, m.doc), push_of(m, m.doc)]);
                (Sender::Author, Endpoint::Sync, sync(&req), Some("invalid_request"))
            }
            Attack::ReconciledTwice => {
                let msg = SyncMessage { doc: self.stored[0], message: vec![] };
                (
                    Sender::Author,
                    Endpoint::Reconcile,
                    reconcile(a.actor(), vec![msg.clone(), msg]),
                    Some("invalid_request"),
                )
            }
            Attack::Cursor(cursor) => {
                (Sender::Author, Endpoint::Sync, sync(&a.request(epoch, cursor, vec![])), None)
            }
            Attack::Epoch(e) => {
                let req = a.request(Some(e.clone()), &self.cursor, vec![]);
                let code = if e.chars().count() > limits::TOKEN_CHARS {
                    "invalid_request"
                } else {
                    "epoch_mismatch"
                };
                (Sender::Author, Endpoint::Sync, sync(&req), Some(code))
            }
            Attack::PageBytes(n) => {
                let req = SyncRequest { page_bytes: *n, ..a.request(epoch, "", vec![]) };
                (Sender::Author, Endpoint::Sync, sync(&req), None)
            }
            Attack::Orphans { from, count, unknown_doc } => {
                let end = (from + count).min(self.orphans.len());
                let changes: Vec<u8> = self.orphans[*from..end].concat();
                let doc = if *unknown_doc { DocId::random() } else { self.stored[0] };
                let push = PushDoc { doc, changes, heads: vec![] };
                (
                    Sender::Author,
                    Endpoint::Sync,
                    sync(&a.request(epoch, &self.cursor, vec![push])),
                    None,
                )
            }
            Attack::UnheldHeads(heads) => {
                let m = &self.materials[0];
                let push = PushDoc {
                    doc: m.doc,
                    changes: m.bytes.clone(),
                    heads: heads.iter().map(|h| Hash(*h)).collect(),
                };
                (
                    Sender::Author,
                    Endpoint::Sync,
                    sync(&a.request(epoch, &self.cursor, vec![push])),
                    None,
                )
            }
        }
    }
}

#[test]
fn wrong_ids_actors_versions_and_counts_get_typed_refusals() {
    let fx = Fixture::new();
    fx.run(
        "wrong ids, actors, versions, counts",
        1500,
        attack(fx.materials.len()),
        |fx, attack| {
            let (sender, endpoint, body, expected) = fx.attack(&attack);
            fx.rt.block_on(async {
                let answer = fx.exchange(sender, endpoint, body).await?;
                if let Some(code) = expected {
                    prop_assert_eq!(answer.code(), Some(code), "{:?}", answer);
                    return Ok(());
                }
                let doc_code = answer.results().first().and_then(|r| match &r.outcome {
                    PushOutcome::Acked { .. } => None,
                    PushOutcome::Rejected { code, .. } | PushOutcome::Retry { code, .. } => {
                        Some(code.as_str())
                    }
                });
                match attack {
                    Attack::Forged { .. } => prop_assert_eq!(doc_code, Some("forged_actor")),
                    Attack::Orphans { .. } | Attack::UnheldHeads(_) => {
                        prop_assert_eq!(doc_code, Some("missing_dependencies"))
                    }
                    Attack::WrongDoc { .. } => {
                        prop_assert_eq!(answer.results().len(), 1, "{:?}", answer);
                        prop_assert!(doc_code.is_some(), "{:?}", answer);
                    }
                    _ => {}
                }
                Ok(())
            })
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Memory limits.

/// Text that does not compress: about 1.8 bytes per character once deflated.
fn noise_text(chars: usize) -> String {
    (0..chars).map(|_| char::from_u32(0x4e00 + rand::random::<u32>() % 0x5000).unwrap()).collect()
}

/// A document that would grow past the server's per-document limit is refused `too_large`; what
/// was stored before stays as it was and is pulled and read whole by another phone; the server
/// takes other documents meanwhile, and a new document over the limit is not stored at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_growing_past_the_limit_is_refused_and_what_was_stored_stays_readable() {
    const LIMIT: usize = 48 * 1024;
    let server = start_with(|c| ServerConfig { doc_bytes: LIMIT, ..c }).await;
    let storage = server.running.server().storage();
    let a = Phone::new("resident-grows");
    let id = a.report("a long-running dispute");
    assert_acked(&server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap());

    let mut acked = a.heads(id);
    let mut comments = 0;
    let refused = loop {
        assert!(comments < 40, "the document never reached the limit");
        a.comment(id, &noise_text(3000));
        let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &acked)])).await.unwrap();
        match &resp.results[0].outcome {
            PushOutcome::Acked { .. } => {
                acked = a.heads(id);
                comments += 1;
            }
            other => break other.clone(),
        }
    };
    let PushOutcome::Rejected { code, message } = &refused else { panic!("{refused:?}") };
    assert_eq!(code, "too_large", "{message}");
    assert!(message.contains(&LIMIT.to_string()), "{message}");
    assert!(comments >= 3, "{comments} comments fitted in {LIMIT} bytes");

    let before = storage.load(vec![id]).await.unwrap().remove(0).unwrap();
    let log_before = storage.audit(0, 100_000).await.unwrap().len();
    assert!(before.meta.stored_bytes() <= LIMIT as u64);
    // Sending it again, or with more on top, changes nothing.
    for _ in 0..2 {
        a.comment(id, "and more");
        let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &acked)])).await.unwrap();
        assert_eq!(outcome_code(&resp.results[0].outcome), Some("too_large"));
    }
    assert_eq!(storage.load(vec![id]).await.unwrap().remove(0).unwrap(), before);
    assert_eq!(storage.audit(0, 100_000).await.unwrap().len(), log_before);

    // What was stored is whole and readable: another phone pulls it and reads every comment
    // that was acknowledged.
    let b = Phone::new("dispatcher-reads");
    let resp = server.sync(&b.request(None, "", vec![])).await.unwrap();
    assert_eq!(resp.docs.len(), 1);
    b.store.merge_remote(id, &resp.docs[0].bytes).unwrap();
    assert_eq!(b.heads(id), acked);
    let Record::Report(report) = b.store.get(id).unwrap() else { panic!("not a report") };
    assert_eq!(report.comments.len(), comments);

    // Other documents are still taken.
    let other = a.report("another matter");
    assert_acked(&server.sync(&a.request(None, "", vec![a.push_after(other, &[])])).await.unwrap());

    // A new document over the limit from the start is not stored at all.
    let big = a.report("born too large");
    for _ in 0..comments + 2 {
        a.comment(big, &noise_text(3000));
    }
    let resp = server.sync(&a.request(None, "", vec![a.push_saved(big)])).await.unwrap();
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("too_large"));
    let mut ids = storage.doc_ids().await.unwrap();
    ids.sort();
    let mut want = vec![id, other];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(server.get("/healthz").await, (200, "ok".to_string()));
}

/// One of the server's gauges from `/metrics`.
async fn gauge(server: &TestServer, name: &str) -> u64 {
    let (_, text) = server.get("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// `count` change chunks of `phone`'s for `id`, each depending on the one before, the first on
/// a change of the phone's that nobody else has; with that change.
fn orphans_of(phone: &Phone, id: DocId, count: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let before = phone.heads(id);
    phone.comment(id, "a comment that is never sent");
    let missing = phone.changes_after(id, &before);
    let after = phone.heads(id);
    let mut doc = phone.store.load(id).unwrap();
    doc.set_actor(phone.store.identity().actor);
    for i in 0..count as i64 {
        doc.put(ROOT, "orphan", i).unwrap();
        doc.commit();
    }
    let orphans = doc.get_changes(&after).iter().map(|c| c.raw_bytes().to_vec()).collect();
    (missing, orphans)
}

/// Thousands of changes whose dependencies never arrive, pushed again and again, for a stored
/// document and for documents the server does not have: every push is answered
/// `missing_dependencies` (retry), nothing is stored, and the server keeps none of them — the
/// loaded document stays as it was (the cache gauges do not move), and when the missing change
/// finally arrives alone, it is the only change stored: none of the earlier ones was waiting in
/// a queue to be released by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_whose_dependencies_never_arrive_are_refused_and_kept_nowhere() {
    let server = start().await;
    let storage = server.running.server().storage();
    let a = Phone::new("resident-orphans");
    let id = a.report("a report");
    assert_acked(&server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap());
    let stored = storage.load(vec![id]).await.unwrap();
    let log = storage.audit(0, 100_000).await.unwrap();
    let (missing, orphans) = orphans_of(&a, id, 3000);
    let cached = gauge(&server, "fieldsync_documents_cached").await;
    let cache_bytes = gauge(&server, "fieldsync_cache_bytes").await;
    let accepted = gauge(&server, "fieldsync_changes_accepted_total").await;
    let rss_before = gauge(&server, "process_resident_memory_bytes").await;

    let unknown: Vec<DocId> = (0..200).map(|_| DocId::random()).collect();
    let rounds = 5;
    let started = Instant::now();
    for round in 0..rounds {
        let mut push = vec![PushDoc { doc: id, changes: orphans.concat(), heads: vec![] }];
        push.extend(unknown.iter().enumerate().map(|(i, doc)| PushDoc {
            doc: *doc,
            changes: orphans[(i * 15) % 2985..][..15].concat(),
            heads: vec![],
        }));
        let resp = server.sync(&a.request(None, "", push)).await.unwrap();
        assert_eq!(resp.results.len(), 201);
        for r in &resp.results {
            assert!(
                matches!(&r.outcome, PushOutcome::Retry { code, .. } if code == "missing_dependencies"),
                "round {round}: {:?}",
                r.outcome
            );
        }
        assert_eq!(storage.load(vec![id]).await.unwrap(), stored, "round {round}");
        assert_eq!(storage.audit(0, 100_000).await.unwrap(), log, "round {round}");
        assert_eq!(storage.doc_ids().await.unwrap(), vec![id]);
        assert_eq!(gauge(&server, "fieldsync_documents_cached").await, cached);
        assert_eq!(gauge(&server, "fieldsync_cache_bytes").await, cache_bytes);
        assert_eq!(gauge(&server, "fieldsync_documents_locked").await, 0);
        assert_eq!(gauge(&server, "fieldsync_changes_accepted_total").await, accepted);
    }
    let rss_after = gauge(&server, "process_resident_memory_bytes").await;
    eprintln!(
        "{} orphan changes pushed in {rounds} rounds in {:.1} s; resident memory {} -> {} MiB",
        rounds * (3000 + 200 * 15),
        started.elapsed().as_secs_f64(),
        rss_before >> 20,
        rss_after >> 20
    );

    // The missing change alone: it is all that is stored.
    let mut push = PushDoc { doc: id, changes: missing, heads: vec![] };
    let mut on_phone = a.store.load(id).unwrap();
    let comment_hash = split_chunks(&push.changes)
        .map(|c| automerge::Change::try_from(c[0].1).unwrap().hash())
        .unwrap();
    push.heads = protocol::to_wire(&[comment_hash]);
    assert_acked(&server.sync(&a.request(None, "", vec![push])).await.unwrap());
    let entries = storage.audit(0, 100_000).await.unwrap();
    assert_eq!(entries.len(), log.len() + 1);
    assert_eq!(entries.last().unwrap().hash, comment_hash.0);
    let bytes = storage.load(vec![id]).await.unwrap().remove(0).unwrap().bytes;
    let mut on_server = AutoCommit::load(&bytes).unwrap();
    assert_eq!(on_server.get_heads(), vec![comment_hash]);
    assert!(on_server.get_missing_deps(&[]).is_empty());
    assert_eq!(
        on_server.get_changes(&[]).len(),
        on_phone.get_changes(&[]).len(),
        "the server holds the phone's changes, and none of the orphans"
    );
    // A fresh phone pulls exactly that.
    let b = Phone::new("dispatcher-fresh");
    let resp = server.sync(&b.request(None, "", vec![])).await.unwrap();
    b.store.merge_remote(id, &resp.docs[0].bytes).unwrap();
    assert_eq!(b.heads(id), vec![comment_hash]);
}

/// On the phone: `merge_remote` with changes whose dependencies are missing is a typed error
/// and stores nothing, however often it comes, for a held document or an unknown one; when the
/// missing change arrives, the orphans are not applied with it (nothing kept them).
#[test]
fn the_phone_refuses_changes_missing_dependencies_and_keeps_none() {
    let a = Phone::new("resident-writes");
    let id = a.report("on the phone");
    let b = Phone::new("resident-reads");
    b.store.merge_remote(id, &a.store.saved_bytes(id).unwrap()).unwrap();
    let (missing, orphans) = orphans_of(&a, id, 3000);
    let heads = b.heads(id);
    let saved = b.store.saved_bytes(id).unwrap();
    let all = orphans.concat();
    for _ in 0..5 {
        match b.store.merge_remote(id, &all) {
            Err(CoreError::MissingDependencies { id: refused, missing }) => {
                assert_eq!(refused, id);
                assert!(missing >= 1);
            }
            other => panic!("{other:?}"),
        }
        let unknown = DocId::random();
        assert!(matches!(
            b.store.merge_remote(unknown, &orphans[10..20].concat()),
            Err(CoreError::MissingDependencies { .. })
        ));
        assert_eq!(b.heads(id), heads);
        assert_eq!(b.store.saved_bytes(id).unwrap(), saved);
        assert_eq!(b.store.doc_ids().unwrap(), vec![id]);
    }
    b.store.merge_remote(id, &missing).unwrap();
    let mut doc = b.store.load(id).unwrap();
    let comment = automerge::Change::try_from(&missing[..]).unwrap();
    assert_eq!(doc.get_heads(), vec![comment.hash()], "only the missing change was applied");
    assert!(doc.get_missing_deps(&[]).is_empty());
}

/// On the phone: a saved document whose deflated column inflates to 512 MiB, or a compressed
/// change inflating to 256 MiB, is refused by `merge_remote` before Automerge inflates it, and
/// nothing is stored.
#[test]
fn the_phone_refuses_bytes_that_inflate_past_the_limit() {
    let a = Phone::new("resident-bombs");
    let id = a.report("a bomb");
    let saved = a.store.load(id).unwrap().save();
    let b = Phone::new("resident-receives");
    let before = peak_rss();
    for bomb in [column_bomb(&saved, 512 << 20), change_bomb(256 << 20)] {
        match b.store.merge_remote(id, &bomb) {
            Err(CoreError::InvalidInput { reason, .. }) => assert!(reason.contains("inflate")),
            other => panic!("{other:?}"),
        }
    }
    let grew = peak_rss().saturating_sub(before);
    assert!(grew < 200 << 20, "peak memory grew by {} MiB", grew >> 20);
    assert!(b.store.doc_ids().unwrap().is_empty());
    b.store.merge_remote(id, &saved).unwrap();
    assert_eq!(b.heads(id), a.heads(id));
}

/// Wraps a transport: every sync answer is changed by `inject`, and the `want` of every sync
/// request is recorded.
struct Injecting<T> {
    inner: T,
    inject: Box<dyn Fn(&mut SyncResponse) + Send + Sync>,
    wants: Arc<Mutex<Vec<Vec<DocId>>>>,
}

impl<T: Transport> Transport for Injecting<T> {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        if path == "/v1/sync" {
            let req: SyncRequest = protocol::decode(&body).unwrap();
            self.wants.lock().unwrap().push(req.want);
        }
        let answer = self.inner.post(path, body).await?;
        if path != "/v1/sync" {
            return Ok(answer);
        }
        let mut resp: SyncResponse = protocol::decode(&answer).unwrap();
        (self.inject)(&mut resp);
        Ok(protocol::encode(&resp))
    }
}

/// How often each document was asked for in `wants`; at most [`limits::WANT_DOCS`] a request.
fn asked(wants: &[Vec<DocId>]) -> HashMap<DocId, usize> {
    let mut asked: HashMap<DocId, usize> = HashMap::new();
    for w in wants {
        assert!(w.len() <= limits::WANT_DOCS, "{} documents wanted at once", w.len());
        for d in w {
            *asked.entry(*d).or_default() += 1;
        }
    }
    asked
}

/// A sync client whose answers carry changes it cannot apply (their dependencies never come) —
/// for documents the server does not have, more than one request may ask for, and for one it
/// holds — asks for each whole at most once per sync, and the sync finishes: it does not ask for
/// the same documents round after round. The documents the server says nothing of are then no
/// longer asked for; the one it holds is taken whole. Nothing of the orphans is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_client_that_cannot_apply_what_it_pulls_asks_once_and_finishes() {
    let server = start().await;
    let a = Phone::new("resident-source");
    let id = a.report("held by the server");
    assert_acked(&server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap());
    let (_, orphans) = orphans_of(&a, id, 20);
    let unknown: Vec<DocId> = (0..limits::WANT_DOCS + 300).map(|_| DocId::random()).collect();
    let once = std::sync::atomic::AtomicBool::new(false);
    let injected: Vec<PullDoc> = unknown
        .iter()
        .map(|doc| PullDoc { doc: *doc, bytes: orphans[5].clone(), whole: false })
        .collect();
    let for_held = PullDoc { doc: id, bytes: orphans[3..].concat(), whole: false };
    // Every answer that does not bring the held document whole brings orphans for it; the
    // first answer brings orphans for the unknown documents as well.
    let inject = move |resp: &mut SyncResponse| {
        if !resp.docs.iter().any(|d| d.doc == id && d.whole) {
            resp.docs.push(for_held.clone());
        }
        if !once.swap(true, Ordering::Relaxed) {
            resp.docs.extend(injected.iter().cloned());
        }
    };

    let p = Phone::new("dispatcher-pulls");
    let token = server.token_for(&p.actor());
    let wants = Arc::new(Mutex::new(Vec::new()));
    let transport = Injecting {
        inner: HttpTransport::new(&server.running.url()).unwrap().with_token(token),
        inject: Box::new(inject),
        wants: wants.clone(),
    };
    let config = SyncConfig { max_requests: 50, ..SyncConfig::default() };
    let client = SyncClient::new(p.store.clone(), transport).with_config(config);
    // The first sync takes the catch-up and sees the orphans fail.
    let summary = client.sync_now(None).await.unwrap();
    assert!(summary.docs_failed >= unknown.len() as u64, "{summary:?}");
    assert_eq!(p.store.doc_ids().unwrap(), vec![id]);
    wants.lock().unwrap().clear();

    // The next asks for them whole, each once, in requests of at most WANT_DOCS, and finishes.
    let summary = client.sync_now(None).await.unwrap();
    let second = std::mem::take(&mut *wants.lock().unwrap());
    eprintln!(
        "second sync: {} requests, documents wanted per request {:?}",
        summary.requests,
        second.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(summary.requests <= 5, "{summary:?}");
    let asked_second = asked(&second);
    assert!(asked_second.values().all(|n| *n == 1), "a document was asked for twice in one sync");
    assert!(unknown.iter().all(|d| asked_second.contains_key(d)), "each failed document is asked");
    assert!(asked_second.contains_key(&id));
    // The held document is as the server has it; nothing else is stored.
    assert_eq!(p.store.doc_ids().unwrap(), vec![id]);
    let mut doc = p.store.load(id).unwrap();
    assert!(doc.get_missing_deps(&[]).is_empty());
    let storage = server.running.server().storage();
    let on_server = storage.load(vec![id]).await.unwrap().remove(0).unwrap().bytes;
    assert_eq!(doc.get_heads(), AutoCommit::load(&on_server).unwrap().get_heads());

    // The one after is short: the documents the server said nothing of are not asked again.
    let summary = client.sync_now(None).await.unwrap();
    let third = asked(&wants.lock().unwrap());
    assert!(summary.requests <= 3, "{summary:?}");
    assert!(unknown.iter().all(|d| !third.contains_key(d)), "{third:?}");
    assert!(third.values().all(|n| *n == 1));
    assert_eq!(p.store.doc_ids().unwrap(), vec![id]);
}

fn read_uleb(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[*at];
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A saved document (one document chunk) whose last ops column is replaced by deflated zeros
/// that inflate to `inflated` bytes, with the column marked deflated and the chunk's length and
/// checksum right.
fn column_bomb(saved: &[u8], inflated: usize) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut at = 9;
    let len = read_uleb(saved, &mut at) as usize;
    let data = &saved[at..at + len];
    let mut p = 0;
    for _ in 0..read_uleb(data, &mut p) {
        let n = read_uleb(data, &mut p) as usize;
        p += n;
    }
    let heads = read_uleb(data, &mut p) as usize;
    p += 32 * heads;
    let prefix = data[..p].to_vec();
    let meta = |p: &mut usize| {
        let n = read_uleb(data, p);
        (0..n).map(|_| (read_uleb(data, p), read_uleb(data, p) as usize)).collect::<Vec<_>>()
    };
    let change_cols = meta(&mut p);
    let mut ops_cols = meta(&mut p);
    let change_len: usize = change_cols.iter().map(|c| c.1).sum();
    let ops_len: usize = ops_cols.iter().map(|c| c.1).sum();
    let change_data = &data[p..p + change_len];
    let ops_data = &data[p + change_len..p + change_len + ops_len];
    let suffix = &data[p + change_len + ops_len..];
    let last = ops_cols.len() - 1;
    let kept = ops_len - ops_cols[last].1;
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..inflated >> 20 {
        deflated.write_all(&zeros).unwrap();
    }
    let bomb = deflated.finish().unwrap();
    ops_cols[last] = (ops_cols[last].0 | 0b1000, bomb.len());
    let mut body = prefix;
    for cols in [&change_cols, &ops_cols] {
        write_uleb(&mut body, cols.len() as u64);
        for (spec, len) in cols.iter() {
            write_uleb(&mut body, *spec);
            write_uleb(&mut body, *len as u64);
        }
    }
    body.extend_from_slice(change_data);
    body.extend_from_slice(&ops_data[..kept]);
    body.extend_from_slice(&bomb);
    body.extend_from_slice(suffix);
    let mut header = vec![saved[8]];
    write_uleb(&mut header, body.len() as u64);
    let digest = Sha256::new().chain_update(&header).chain_update(&body).finalize();
    [&saved[..4], &digest[..4], &header[..], &body[..]].concat()
}

/// The process's peak resident memory (`VmHWM`; the server runs in this process).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// A compressed change chunk (type 2) whose body is deflated zeros inflating to `inflated`
/// bytes; its checksum is made up (it is only checked after inflating).
fn change_bomb(inflated: usize) -> Vec<u8> {
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflated.write_all(&vec![0u8; inflated]).unwrap();
    let data = deflated.finish().unwrap();
    let mut header = vec![2u8];
    write_uleb(&mut header, data.len() as u64);
    [&[0x85, 0x6f, 0x4a, 0x83][..], &[1, 2, 3, 4], &header, &data].concat()
}

/// A saved document of 0.5 MB whose deflated column inflates to 512 MiB — pushed, or inside a
/// reconcile message — is refused `too_large` once inflating passes the per-document limit,
/// without the server holding what it inflated; nothing is stored. (Before, Automerge inflated
/// the whole column: the server's peak memory went from 19 MiB to 1 GiB, and a push of 4 MiB
/// would have asked for 8 GiB.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_document_whose_columns_inflate_past_the_limit_is_refused_before_inflating() {
    let server = start().await;
    let a = Phone::new("bomber");
    let id = a.report("a bomb");
    let saved = a.store.load(id).unwrap().save();
    let bomb = column_bomb(&saved, 512 << 20);
    assert!(bomb.len() < 600 * 1024, "{} bytes", bomb.len());
    let before = peak_rss();
    let started = Instant::now();
    let push = PushDoc { doc: id, changes: bomb.clone(), heads: vec![] };
    let resp = server.sync(&a.request(None, "", vec![push])).await.unwrap();
    let PushOutcome::Rejected { code, message } = &resp.results[0].outcome else {
        panic!("{:?}", resp.results[0].outcome)
    };
    assert_eq!(code, "too_large", "{message}");
    let req = ReconcileRequest {
        v: VERSION,
        actor: a.actor(),
        docs: vec![SyncMessage { doc: id, message: message_with(vec![bomb]) }],
        have: None,
    };
    let (status, body) = server.post_raw("/v1/reconcile", protocol::encode(&req)).await;
    assert_eq!(status, 200);
    let answer: ReconcileResponse = protocol::decode(&body).unwrap();
    assert_eq!(outcome_code(&answer.results[0].outcome), Some("too_large"));
    let grew = peak_rss().saturating_sub(before);
    eprintln!(
        "column bomb refused twice in {:.1} s; peak memory grew by {} MiB",
        started.elapsed().as_secs_f64(),
        grew >> 20
    );
    assert!(grew < 128 << 20, "peak memory grew by {} MiB", grew >> 20);
    assert!(server.running.server().storage().doc_ids().await.unwrap().is_empty());
    // The document itself, saved as it is, is taken.
    let push = PushDoc { doc: id, changes: saved, heads: protocol::to_wire(&a.heads(id)) };
    assert_acked(&server.sync(&a.request(None, "", vec![push])).await.unwrap());
}

/// One request of 4 MiB holding 128 compressed changes of 32 KB that each inflate to almost
/// 32 MiB (one per document, each within the per-document limit): the request inflates at
/// most its own budget of 32 MiB; the first document is measured and refused, the others are
/// answered `too_large` as a retry without being inflated. (Before, every one was inflated —
/// 4 GiB of inflating, 34 s of the debug server's time for one request.) Real compressed
/// changes in one request are still taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_changes_of_one_request_inflate_within_one_budget() {
    let server = start().await;
    let a = Phone::new("bomber");
    let bomb = change_bomb(32 * 1024 * 1024 - 1024);
    let n = limits::PUSH_BYTES / bomb.len();
    assert!(n >= 100, "{n} bombs");
    let push: Vec<PushDoc> = (0..n)
        .map(|_| PushDoc { doc: DocId::random(), changes: bomb.clone(), heads: vec![] })
        .collect();
    let started = Instant::now();
    let resp = server.sync(&a.request(None, "", push)).await.unwrap();
    let took = started.elapsed();
    eprintln!("{n} compressed bombs in one request answered in {:.1} s", took.as_secs_f64());
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("malformed_changes"));
    for r in &resp.results[1..] {
        assert!(
            matches!(&r.outcome, PushOutcome::Retry { code, .. } if code == "too_large"),
            "{:?}",
            r.outcome
        );
    }
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(server.running.server().storage().doc_ids().await.unwrap().is_empty());

    // Real changes, compressed as Automerge compresses them, several in one request: taken.
    let ids: Vec<DocId> = (0..3).map(|i| a.report(&format!("long {i}"))).collect();
    let push: Vec<PushDoc> = ids
        .iter()
        .map(|id| {
            let mut doc = a.store.load(*id).unwrap();
            let changes: Vec<u8> =
                doc.get_changes(&[]).iter_mut().flat_map(|c| c.bytes().to_vec()).collect();
            PushDoc { doc: *id, changes, heads: protocol::to_wire(&a.heads(*id)) }
        })
        .collect();
    assert!(push.iter().all(|p| split_chunks(&p.changes).unwrap().iter().any(|c| c.0 == 2)));
    assert_acked(&server.sync(&a.request(None, "", push)).await.unwrap());
}
