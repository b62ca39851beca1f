//! The server binary killed with SIGKILL again and again while many phones sync through it, on
//! SQLite and on PostgreSQL; and one of two instances on one PostgreSQL database killed in the
//! middle of load while the other keeps serving.
//!
//! 50 phones (10 on PostgreSQL; real stores and the real sync client, over HTTP) create reports and comment on ten
//! shared ones, syncing as fast as they can. The server, a child process, is killed at random
//! moments (a seeded draw, printed) and restarted on the same database and port. After each kill,
//! with the server down, the test checks the SQLite file with `PRAGMA integrity_check` (on
//! SQLite) and that every change a phone had seen acknowledged (its heads after a sync that
//! returned `Ok` and left no document pending) is in the stored document. After the last restart every phone syncs until
//! quiet; then all of them and a fresh phone hold the same documents with the same heads, and
//! every report a phone created is there once.
//!
//! CI runs 20 kills on SQLite and 5 on PostgreSQL. The longer run: `FIELDSYNC_SERVER_KILLS=200
//! cargo test --release -p fieldsync-server --test it crash_loop -- --nocapture`
//! (`FIELDSYNC_SEED` replays a run).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::child::Proc;
use automerge::{AutoCommit, ChangeHash};
use fieldsync_core::model::{Command, NewRecord, NewReport, ReportCategory};
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::sync::{HttpTransport, SyncClient, SyncOptions};
use fieldsync_core::{CoreError, DocId, Store};
use fieldsync_server::accounts::Accounts;
use fieldsync_server::storage::PostgresStorage;
use fieldsync_server::{Durability, SqliteStorage, Storage, StorageChoice};
use fieldsync_tests::backend::{Backend, TestStorage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";
const PHONES: usize = 50;
const SHARED: usize = 10;

/// Heads each phone saw the server acknowledge, per document.
#[derive(Default)]
struct Acked {
    heads: Mutex<HashMap<DocId, BTreeSet<ChangeHash>>>,
    /// Syncs that returned `Ok` with a document still pending: the server answered it `retry`
    /// (another writer kept storing it first), so its changes were not acknowledged.
    not_all: AtomicU64,
}

struct Phone {
    name: String,
    store: Arc<Store>,
    token: String,
    client: SyncClient<HttpTransport>,
}

impl Phone {
    /// The same phone syncing with the server at `url` instead (another instance).
    fn via(&self, url: &str) -> Phone {
        Phone {
            name: self.name.clone(),
            store: self.store.clone(),
            token: self.token.clone(),
            client: client(&self.store, url, &self.token),
        }
    }
}

/// Where the servers keep their data: a data directory, and the database on a backend.
struct Site {
    dir: tempfile::TempDir,
    data: PathBuf,
    storage: TestStorage,
}

impl Site {
    async fn new(backend: Backend) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Site { dir, data, storage: TestStorage::new(backend).await }
    }

    /// A server process on this site.
    fn spawn(&self, listen: &str) -> Proc {
        match self.storage.choice() {
            StorageChoice::Sqlite => Proc::spawn(&self.data, listen),
            StorageChoice::Postgres(url) => {
                Proc::spawn_with(&self.data, listen, &["--storage", &url])
            }
        }
    }

    /// A storage of the test's own on the site's database (beside the servers).
    async fn open(&self) -> Arc<dyn Storage> {
        match self.storage.choice() {
            StorageChoice::Sqlite => {
                let db = self.data.join(fieldsync_server::config::DB_FILE);
                Arc::new(SqliteStorage::open(db, Durability::Normal).unwrap())
            }
            StorageChoice::Postgres(url) => Arc::new(PostgresStorage::open(&url).await.unwrap()),
        }
    }

    /// With the servers down, SQLite's file passes `integrity_check`.
    fn check_integrity(&self) {
        if self.storage.backend() == Backend::Sqlite {
            let db = self.data.join(fieldsync_server::config::DB_FILE);
            let conn = rusqlite::Connection::open(db).unwrap();
            let result: String =
                conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(result, "ok");
        }
    }
}

fn admin() -> Profile {
    Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] }
}

/// A sync client of `store` for the server at `url`, with quick retries.
fn client(store: &Arc<Store>, url: &str, token: &str) -> SyncClient<HttpTransport> {
    let transport = HttpTransport::new(url).unwrap().with_token(token.to_string());
    let config = SyncOptions {
        attempts: 2,
        backoff: Duration::from_millis(20).into(),
        max_backoff: Duration::from_millis(100).into(),
        ..SyncOptions::default()
    };
    SyncClient::new(store.clone(), transport).with_options(config)
}

/// A phone of a dispatcher of the whole jurisdiction (who may read and comment on everything),
/// enrolled through `accounts` on the server's database, with quick retries.
fn phone(dir: &Path, accounts: &Accounts, url: &str, name: &str) -> Phone {
    let store = Arc::new(Store::open(dir.join(format!("{name}.db"))).unwrap());
    store.set_user(name).unwrap();
    accounts.add_user(name, Role::Dispatcher, None, &["jl".to_string()]).unwrap();
    let code = accounts.issue_code(name, &admin(), Duration::from_secs(600)).unwrap().code;
    let actor = store.identity().actor.to_bytes().to_vec();
    let token = accounts.enroll(&code, "crash-loop phone", Some(&actor)).unwrap().token;
    Phone { name: name.to_string(), client: client(&store, url, &token), store, token }
}

fn report(title: &str) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.to_string(),
            category: ReportCategory::SafetyHazard,
            title: title.to_string(),
            description: "检查时发现的隐患".to_string(),
            location: None,
            photos: vec![],
        },
    }
}

/// Edits and syncs until `stop`; after each `Ok` sync records the heads of what it had edited.
async fn work(
    p: Arc<Phone>,
    shared: Arc<Vec<DocId>>,
    acked: Arc<Acked>,
    stop: Arc<AtomicBool>,
    syncs: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    seed: u64,
) -> Vec<DocId> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut created = Vec::new();
    let mut edited: BTreeSet<DocId> = BTreeSet::new();
    let mut n = 0u32;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        if rng.random_bool(0.3) {
            let id = p.store.create(&report(&format!("{} #{n}", p.name))).unwrap();
            created.push(id);
            edited.insert(id);
        } else {
            let id = shared[rng.random_range(0..shared.len())];
            let text = format!("{} comment {n}", p.name);
            p.store.execute(id, &Command::CommentReport { text }).unwrap();
            edited.insert(id);
        }
        // Heads taken before the sync: the phone edits nothing while it syncs, so after an `Ok`
        // sync that left nothing pending these changes are on the server. An `Ok` sync may
        // still have been answered `retry` for a document (it stays pending, for the next
        // sync): then nothing is counted acknowledged, and the next sync's heads cover it.
        let heads: Vec<(DocId, Vec<ChangeHash>)> =
            edited.iter().map(|&id| (id, p.store.heads(id).unwrap())).collect();
        match p.client.sync_now(None).await {
            Ok(s) => {
                assert_eq!(s.docs_rejected, 0, "{}: a change was refused", p.name);
                if p.store.sync_status().unwrap().pending_docs == 0 {
                    let mut all = acked.heads.lock().unwrap();
                    for (id, h) in heads {
                        all.entry(id).or_default().extend(h);
                    }
                    edited.clear();
                } else {
                    acked.not_all.fetch_add(1, Ordering::SeqCst);
                }
                syncs.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                failed.fetch_add(1, Ordering::SeqCst);
                // The server is down or starting: nothing else may go wrong.
                assert!(
                    matches!(e, CoreError::Network { .. } | CoreError::Server { status: 503, .. }),
                    "{}: {e}",
                    p.name
                );
                tokio::time::sleep(Duration::from_millis(rng.random_range(20..100))).await;
            }
        }
    }
    created
}

/// Every acknowledged head is in its stored document. Returns how many documents and heads
/// were checked.
async fn check_acknowledged(site: &Site, acked: &Acked) -> (usize, usize) {
    let wanted: Vec<(DocId, Vec<ChangeHash>)> = acked
        .heads
        .lock()
        .unwrap()
        .iter()
        .map(|(id, h)| (*id, h.iter().copied().collect()))
        .collect();
    let storage = site.open().await;
    let ids: Vec<DocId> = wanted.iter().map(|(id, _)| *id).collect();
    let stored = storage.load(ids).await.unwrap();
    let mut heads = 0;
    for ((id, hashes), doc) in wanted.iter().zip(stored) {
        let doc = doc.unwrap_or_else(|| panic!("acknowledged document {id} is not stored"));
        let mut doc = AutoCommit::load(&doc.bytes).unwrap();
        let missing = doc.get_missing_deps(hashes);
        assert!(missing.is_empty(), "{} acknowledged changes of {id} are lost", missing.len());
        heads += hashes.len();
    }
    storage.close().await;
    (wanted.len(), heads)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn heads_of(store: &Store) -> BTreeMap<DocId, Vec<ChangeHash>> {
    store.doc_ids().unwrap().into_iter().map(|id| (id, store.heads(id).unwrap())).collect()
}

async fn acknowledged_changes_survive_repeated_sigkill_and_phones_converge(backend: Backend) {
    // PostgreSQL's run adds what only it can get wrong (a commit cut between the server and
    // the database) to the SQLite run's many kills: fewer of them and fewer phones, to keep CI
    // short (a debug build's PostgreSQL server serves 50 phones far slower than SQLite's).
    let (default_kills, n_phones) = if backend == Backend::Sqlite { (20, PHONES) } else { (5, 10) };
    let kills: usize = std::env::var("FIELDSYNC_SERVER_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_kills);
    let seed: u64 = std::env::var("FIELDSYNC_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("crash loop on {backend:?}: {kills} kills, {n_phones} phones, FIELDSYNC_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let site = Site::new(backend).await;
    let dir = site.dir.path();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut server = site.spawn(&listen);
    let url = server.url.clone();

    let accounts = Accounts::new(site.open().await).unwrap();
    let phones: Vec<Arc<Phone>> = (0..n_phones)
        .map(|i| Arc::new(phone(dir, &accounts, &url, &format!("phone-{i:02}"))))
        .collect();
    let shared: Vec<DocId> = (0..SHARED)
        .map(|i| phones[0].store.create(&report(&format!("shared {i}"))).unwrap())
        .collect();
    phones[0].client.sync_now(None).await.unwrap();
    for p in &phones[1..] {
        p.client.sync_now(None).await.unwrap();
    }
    let shared = Arc::new(shared);

    let acked = Arc::new(Acked::default());
    let stop = Arc::new(AtomicBool::new(false));
    let syncs = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            tokio::spawn(work(
                p.clone(),
                shared.clone(),
                acked.clone(),
                stop.clone(),
                syncs.clone(),
                failed.clone(),
                seed ^ (i as u64 + 1),
            ))
        })
        .collect();

    let started = Instant::now();
    let mut checked = (0, 0);
    for k in 0..kills {
        // Let some syncs through before each kill, then kill at a random moment.
        let before = syncs.load(Ordering::SeqCst);
        while syncs.load(Ordering::SeqCst) < before + 5 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..800))).await;
        server.kill();
        site.check_integrity();
        checked = check_acknowledged(&site, &acked).await;
        if k % 5 == 4 {
            println!(
                "kill {}: {} syncs so far, {} documents / {} heads acknowledged and present",
                k + 1,
                syncs.load(Ordering::SeqCst),
                checked.0,
                checked.1
            );
        }
        server = site.spawn(&listen);
    }
    stop.store(true, Ordering::SeqCst);
    let mut created: Vec<DocId> = Vec::new();
    for w in workers {
        created.extend(w.await.unwrap());
    }
    let total_syncs = syncs.load(Ordering::SeqCst);
    let total_failed = failed.load(Ordering::SeqCst);
    println!(
        "{kills} kills in {:.1} s; {total_syncs} syncs answered ({} left a document to retry), \
         {total_failed} cut by a kill; {} reports created; last check: {} documents, {} heads",
        started.elapsed().as_secs_f64(),
        acked.not_all.load(Ordering::SeqCst),
        created.len(),
        checked.0,
        checked.1
    );
    assert!(total_syncs >= kills as u64 * 5);
    assert!(total_failed > 0, "the kills interrupted syncs");

    // Quiet: every phone pushes what is left, then pulls what the others pushed.
    for _ in 0..2 {
        for p in &phones {
            p.client.sync_now(None).await.unwrap();
        }
    }
    for p in &phones {
        assert_eq!(p.store.sync_status().unwrap().pending_docs, 0, "{}", p.name);
        p.store.integrity_check().unwrap();
    }
    let fresh = phone(dir, &accounts, &url, "fresh");
    fresh.client.sync_now(None).await.unwrap();
    let expected = heads_of(&fresh.store);
    assert_eq!(expected.len(), SHARED + created.len(), "every created report once");
    let unique: BTreeSet<DocId> = created.iter().copied().collect();
    assert_eq!(unique.len(), created.len());
    assert!(unique.iter().all(|id| expected.contains_key(id)));
    for p in &phones {
        assert!(heads_of(&p.store) == expected, "{} has not converged", p.name);
    }
    server.kill();
    site.check_integrity();
    check_acknowledged(&site, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_repeated_sigkill_on_sqlite() {
    acknowledged_changes_survive_repeated_sigkill_and_phones_converge(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_repeated_sigkill_on_postgres() {
    if Backend::Postgres.available("it::crash_loop::…_on_postgres") {
        acknowledged_changes_survive_repeated_sigkill_and_phones_converge(Backend::Postgres).await
    }
}

/// Two instances on one PostgreSQL database, the phones split between them; one is killed with
/// SIGKILL in the middle of the load. Every change a phone saw acknowledged (through either) is
/// in the database, the other instance kept answering without a failure, and the phones of the
/// dead instance, sent to the survivor, converge with everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_load_loses_no_acknowledged_change_while_the_other_serves() {
    if !Backend::Postgres.available("it::crash_loop::an_instance_killed_mid_load…") {
        return;
    }
    const SPLIT: usize = 8;
    let seed: u64 = rand::rng().random();
    println!("an instance killed mid-load: {SPLIT} phones, seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let site = Site::new(Backend::Postgres).await;
    let dir = site.dir.path();
    let instances = [site.spawn("127.0.0.1:0"), site.spawn("127.0.0.1:0")];
    let urls: Vec<String> = instances.iter().map(|p| p.url.clone()).collect();
    let accounts = Accounts::new(site.open().await).unwrap();
    // Even phones on the instance that dies, odd ones on the one that stays.
    let phones: Vec<Arc<Phone>> = (0..SPLIT)
        .map(|i| Arc::new(phone(dir, &accounts, &urls[i % 2], &format!("phone-{i}"))))
        .collect();
    let shared: Vec<DocId> =
        (0..3).map(|i| phones[0].store.create(&report(&format!("shared {i}"))).unwrap()).collect();
    for p in &phones {
        p.client.sync_now(None).await.unwrap();
    }
    let shared = Arc::new(shared);
    let acked = Arc::new(Acked::default());
    let stop = Arc::new(AtomicBool::new(false));
    let syncs = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let failed = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let workers: Vec<_> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (s, f) = (syncs[i % 2].clone(), failed[i % 2].clone());
            let args = (shared.clone(), acked.clone(), stop.clone());
            tokio::spawn(work(p.clone(), args.0, args.1, args.2, s, f, seed ^ (i as u64 + 1)))
        })
        .collect();

    let count = |i: usize| syncs[i].load(Ordering::SeqCst);
    let waited = Instant::now();
    while count(0) < 10 || count(1) < 10 {
        assert!(waited.elapsed() < Duration::from_secs(60), "no load: {}, {}", count(0), count(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
    let [dying, survivor] = instances;
    dying.kill();
    // A sync answered just before the kill may finish counting just after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (dead_at, served_at) = (count(0), count(1));
    // The survivor keeps serving its phones, the dead one's stay cut off.
    while count(1) < served_at + 20 {
        assert!(waited.elapsed() < Duration::from_secs(60), "the survivor stopped answering");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut created: Vec<DocId> = Vec::new();
    for w in workers {
        created.extend(w.await.unwrap());
    }
    assert_eq!(count(0), dead_at, "no sync succeeded through the dead instance");
    assert_eq!(failed[1].load(Ordering::SeqCst), 0, "a sync through the survivor failed");
    assert!(failed[0].load(Ordering::SeqCst) > 0, "the kill cut the dead instance's phones off");
    let (docs, heads) = check_acknowledged(&site, &acked).await;
    println!(
        "killed after {dead_at} syncs through it; the survivor served {} more; {} syncs left a \
         document to retry; {docs} documents, {heads} heads acknowledged and stored",
        count(1) - served_at,
        acked.not_all.load(Ordering::SeqCst)
    );
    assert!(heads > 0, "some changes were acknowledged");

    // The dead instance's phones go to the survivor: everyone converges there.
    let phones: Vec<Phone> = phones.iter().map(|p| p.via(&survivor.url)).collect();
    for _ in 0..2 {
        for p in &phones {
            p.client.sync_now(None).await.unwrap();
        }
    }
    let fresh = phone(dir, &accounts, &survivor.url, "fresh");
    fresh.client.sync_now(None).await.unwrap();
    let expected = heads_of(&fresh.store);
    assert_eq!(expected.len(), shared.len() + created.len(), "every created report once");
    for p in &phones {
        assert_eq!(p.store.sync_status().unwrap().pending_docs, 0, "{}", p.name);
        assert!(heads_of(&p.store) == expected, "{} has not converged", p.name);
    }
    survivor.kill();
    check_acknowledged(&site, &acked).await;
}
