//! The server binary killed with SIGKILL again and again while many phones sync through it.
//!
//! 50 phones (real stores and the real sync client, over HTTP) create reports and comment on ten
//! shared ones, syncing as fast as they can. The server, a child process, is killed at random
//! moments (a seeded draw, printed) and restarted on the same database and port. After each kill,
//! with the server down, the test checks the SQLite file with `PRAGMA integrity_check` and that
//! every change a phone had seen acknowledged (its heads after a sync that returned `Ok`) is in the
//! stored document. After the last restart every phone syncs until quiet; then all of them and a
//! fresh phone hold the same documents with the same heads, and every report a phone created is
//! there once.
//!
//! CI runs 20 kills. The longer run: `FIELDSYNC_SERVER_KILLS=200 cargo test --release -p
//! fieldsync-server --test crash_loop -- --nocapture` (`FIELDSYNC_SEED` replays a run).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
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
use fieldsync_server::storage::DocumentStorage;
use fieldsync_server::{Durability, SqliteStorage, Storage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";
const PHONES: usize = 50;
const SHARED: usize = 10;

/// Heads each phone saw the server acknowledge, per document.
type Acked = Mutex<HashMap<DocId, BTreeSet<ChangeHash>>>;

struct Phone {
    name: String,
    store: Arc<Store>,
    client: SyncClient<HttpTransport>,
}

fn accounts(data: &Path) -> Accounts {
    Accounts::open(&data.join(fieldsync_server::config::DB_FILE)).unwrap()
}

fn admin() -> Profile {
    Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] }
}

/// A phone of a dispatcher of the whole jurisdiction (who may read and comment on everything),
/// enrolled through the accounts on the server's database, with quick retries.
fn phone(dir: &Path, data: &Path, url: &str, name: &str) -> Phone {
    let store = Arc::new(Store::open(dir.join(format!("{name}.db"))).unwrap());
    store.set_user(name).unwrap();
    let accounts = accounts(data);
    accounts.add_user(name, Role::Dispatcher, None, &["jl".to_string()]).unwrap();
    let code = accounts.issue_code(name, &admin(), Duration::from_secs(600)).unwrap().code;
    let actor = store.identity().actor.to_bytes().to_vec();
    let token = accounts.enroll(&code, "crash-loop phone", Some(&actor)).unwrap().token;
    let transport = HttpTransport::new(url).unwrap().with_token(token);
    let config = SyncOptions {
        attempts: 2,
        backoff: Duration::from_millis(20).into(),
        max_backoff: Duration::from_millis(100).into(),
        ..SyncOptions::default()
    };
    let client = SyncClient::new(store.clone(), transport).with_options(config);
    Phone { name: name.to_string(), store, client }
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
        // sync these changes are on the server.
        let heads: Vec<(DocId, Vec<ChangeHash>)> =
            edited.iter().map(|&id| (id, p.store.heads(id).unwrap())).collect();
        match p.client.sync_now(None).await {
            Ok(s) => {
                assert_eq!(s.docs_rejected, 0, "{}: a change was refused", p.name);
                let mut acked = acked.lock().unwrap();
                for (id, h) in heads {
                    acked.entry(id).or_default().extend(h);
                }
                edited.clear();
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

/// With the server down: the file passes `integrity_check`, and every acknowledged head is in
/// its document. Returns how many documents and heads were checked.
async fn check_acknowledged(db: &Path, acked: &Acked) -> (usize, usize) {
    {
        let conn = rusqlite::Connection::open(db).unwrap();
        let result: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(result, "ok");
    }
    let wanted: Vec<(DocId, Vec<ChangeHash>)> =
        acked.lock().unwrap().iter().map(|(id, h)| (*id, h.iter().copied().collect())).collect();
    let storage = SqliteStorage::open(db, Durability::Normal).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_repeated_sigkill_and_phones_converge() {
    let kills: usize =
        std::env::var("FIELDSYNC_SERVER_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("FIELDSYNC_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("crash loop: {kills} kills, {PHONES} phones, FIELDSYNC_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join(fieldsync_server::config::DB_FILE);
    let listen = format!("127.0.0.1:{}", free_port());
    let mut server = Proc::spawn(&data, &listen);
    let url = server.url.clone();

    let phones: Vec<Arc<Phone>> = (0..PHONES)
        .map(|i| Arc::new(phone(dir.path(), &data, &url, &format!("phone-{i:02}"))))
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
        checked = check_acknowledged(&db, &acked).await;
        if k % 5 == 4 {
            println!(
                "kill {}: {} syncs so far, {} documents / {} heads acknowledged and present",
                k + 1,
                syncs.load(Ordering::SeqCst),
                checked.0,
                checked.1
            );
        }
        server = Proc::spawn(&data, &listen);
    }
    stop.store(true, Ordering::SeqCst);
    let mut created: Vec<DocId> = Vec::new();
    for w in workers {
        created.extend(w.await.unwrap());
    }
    let total_syncs = syncs.load(Ordering::SeqCst);
    let total_failed = failed.load(Ordering::SeqCst);
    println!(
        "{kills} kills in {:.1} s; {total_syncs} syncs acknowledged, {total_failed} cut by a \
         kill; {} reports created; last check: {} documents, {} heads",
        started.elapsed().as_secs_f64(),
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
    let fresh = phone(dir.path(), &data, &url, "fresh");
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
    check_acknowledged(&db, &acked).await;
}
