//! The server with its data, and what "unchanged" means.

use super::*;

/// Everything the server stores that hostile input could change.
#[derive(Debug, PartialEq)]
pub(crate) struct State {
    pub(crate) docs: Vec<DocId>,
    pub(crate) stored: Vec<Option<StoredDoc>>,
    pub(crate) log: Vec<(u64, DocId, [u8; 32])>,
    pub(crate) devices: Vec<String>,
}

pub(crate) async fn state(server: &TestServer) -> State {
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
pub(crate) enum Sender {
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

pub(crate) fn sender() -> impl Strategy<Value = Sender> {
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
pub(crate) struct Material {
    pub(crate) doc: DocId,
    pub(crate) bytes: Vec<u8>,
    pub(crate) heads: Vec<Hash>,
    /// The server holds every change in it already.
    pub(crate) held: bool,
}

/// A real envelope that stores nothing new when sent as it is.
pub(crate) struct Base {
    pub(crate) endpoint: Endpoint,
    pub(crate) sender: Sender,
    pub(crate) body: Vec<u8>,
    pub(crate) cbor: Vec<u8>,
}

pub(crate) struct Fixture {
    pub(crate) server: TestServer,
    /// Requests time out: a request without an answer in this time is a hang.
    pub(crate) http: reqwest::Client,
    pub(crate) author: Phone,
    pub(crate) other: Phone,
    pub(crate) author_token: String,
    pub(crate) other_token: String,
    pub(crate) epoch: String,
    /// The author's cursor at the end of the feed.
    pub(crate) cursor: String,
    pub(crate) stored: Vec<DocId>,
    pub(crate) materials: Vec<Material>,
    /// Change chunks of the author's for `stored[0]`, each depending on a change never sent.
    pub(crate) orphans: Vec<Vec<u8>>,
    pub(crate) bases: Vec<Base>,
    /// What the server stores; only a property whose input may be valid changes moves it.
    pub(crate) baseline: Mutex<State>,
    pub(crate) enrollments: AtomicUsize,
    pub(crate) enroll_clients: Mutex<HashMap<u8, reqwest::Client>>,
    pub(crate) cases: AtomicUsize,
    /// How often each answer was seen: an error code, a per-document code, or `ok`.
    pub(crate) seen: Mutex<BTreeMap<String, usize>>,
    pub(crate) rt: tokio::runtime::Runtime,
}

pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn client(local: Option<IpAddr>) -> reqwest::Client {
    {
        fieldsync_core::sync::install_tls_provider();
        reqwest::Client::builder()
    }
    .timeout(TIMEOUT)
    .local_address(local)
    .build()
    .unwrap()
}

pub(crate) fn chunks(bytes: &[u8]) -> Vec<Vec<u8>> {
    split_chunks(bytes).unwrap().into_iter().map(|(_, c)| c.to_vec()).collect()
}

pub(crate) fn message_with(changes: Vec<Vec<u8>>) -> Vec<u8> {
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
    pub(crate) fn new() -> Fixture {
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
            .map(|m| PushDoc {
                doc: m.doc,
                changes: m.bytes.clone(),
                heads: m.heads.clone(),
                signed: vec![],
            })
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
                signed: vec![],
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
        let enroll = EnrollRequest {
            v: VERSION,
            code: "2345-6789-AB".into(),
            device_name: "a stolen phone".into(),
            actor: Some(author.actor()),
            keep_user: None,
            device_key: None,
        };
        base(Endpoint::Enroll, Sender::NoToken, protocol::encode(&enroll));

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
            enrollments: AtomicUsize::new(0),
            enroll_clients: Mutex::new(HashMap::new()),
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

    /// A client for enrollment requests: they are limited to 10 a minute per address, so they
    /// come from addresses all over 127.0.0.0/8 (8 each) to reach the decoder, not the limiter.
    pub(crate) fn enroll_client(&self) -> reqwest::Client {
        let n = self.enrollments.fetch_add(1, Ordering::Relaxed);
        let host = 2 + ((n / 8) % 250) as u8;
        let mut clients = self.enroll_clients.lock().unwrap();
        clients
            .entry(host)
            .or_insert_with(|| client(Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))))
            .clone()
    }

    /// POSTs `body` to `endpoint` as `sender`; `Err` when no answer came (a hang, a reset).
    pub(crate) async fn post(
        &self,
        sender: Sender,
        endpoint: Endpoint,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), TestCaseError> {
        let http = match endpoint {
            Endpoint::Enroll => self.enroll_client(),
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
    pub(crate) async fn exchange(
        &self,
        sender: Sender,
        endpoint: Endpoint,
        body: Vec<u8>,
    ) -> Result<Answer, TestCaseError> {
        self.exchange_with(sender, endpoint, body, false).await
    }

    /// [`Fixture::exchange`]; with `may_store`, what the request stored is checked (see
    /// [`Fixture::take_new_writes`]) and becomes the state later cases are compared with.
    pub(crate) async fn exchange_with(
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
    pub(crate) async fn take_new_writes(&self) -> Result<(), TestCaseError> {
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
    pub(crate) async fn settle(&self) -> Result<(), TestCaseError> {
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
    pub(crate) fn run<S>(
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
pub(crate) fn config(cases: u32) -> ProptestConfig {
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
