//! The server on PostgreSQL (docs/storage-postgres.md): two instances on one database, with the
//! phones split between them, converge through the phones' own sync client; a write through
//! one instance after a write through the other costs no retry (the other's notification
//! dropped the replaced document from the cache); the administration subcommands of the
//! binary, `new-epoch` included, work on the database. Each runs in a schema of its own, dropped afterwards; skips
//! with one line when no PostgreSQL server listens.

use std::time::{Duration, Instant};

use crate::common::*;
use automerge::ChangeHash;
use automerge::sync::{Message, State, SyncDoc};
use fieldsync_core::DocId;
use fieldsync_core::protocol::{
    self, PushOutcome, ReconcileRequest, ReconcileResponse, SyncMessage, VERSION,
};
use fieldsync_core::sync::SyncClient;
use fieldsync_server::storage::postgres::PostgresStorage;
use fieldsync_server::{
    DocumentStorage, InProcessTransport, Server, ServerConfig, Storage, StorageChoice,
};
use fieldsync_tests::postgres::Schema;
use fieldsync_tests::tools::{Tool, available, postgres_url};

/// Two server instances on `schema`, each with a data directory of its own (kept while the
/// directories are).
async fn two_instances(schema: &Schema) -> ([tempfile::TempDir; 2], Vec<Server>) {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut servers = Vec::new();
    for dir in &dirs {
        let mut config = ServerConfig::new(dir.path());
        config.storage = StorageChoice::Postgres(schema.url());
        servers.push(Server::open(&config).await.unwrap());
    }
    (dirs, servers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_split_between_two_instances_on_postgres_converge() {
    if !available("it::postgres::phones_split_between_two_instances…", &[Tool::Postgres]) {
        return;
    }
    let schema = Schema::new().await;
    let (_dirs, servers) = two_instances(&schema).await;
    assert_eq!(servers[0].epoch(), servers[1].epoch(), "one database, one epoch");
    let phones: Vec<Phone> = (0..4).map(|i| Phone::new(&format!("patrol-{i}"))).collect();
    let clients: Vec<SyncClient<InProcessTransport>> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let server = &servers[i % 2];
            SyncClient::new(
                p.store.clone(),
                server.transport().with_token(token_for(server, &p.actor())),
            )
        })
        .collect();
    let shared = phones[0].report("shared report");
    for c in &clients {
        c.sync_now(None).await.unwrap();
    }
    // Offline: everyone comments on the shared report and creates one of their own.
    for (i, p) in phones.iter().enumerate() {
        p.comment(shared, &format!("seen by {i}"));
        p.report(&format!("own {i}"));
    }
    // A phone whose push met another instance's newer version is told to retry: a few rounds.
    let converged = |clients: &[SyncClient<InProcessTransport>]| {
        let ids = clients[0].store().doc_ids().unwrap();
        ids.len() == 5
            && clients.iter().all(|c| {
                let mut mine = c.store().doc_ids().unwrap();
                mine.sort();
                let mut expected = ids.clone();
                expected.sort();
                mine == expected
                    && ids.iter().all(|id| {
                        c.store().heads(*id).unwrap() == clients[0].store().heads(*id).unwrap()
                    })
            })
    };
    let mut rounds = 0;
    while !converged(&clients) {
        rounds += 1;
        assert!(rounds <= 6, "not converged after {rounds} rounds");
        for c in &clients {
            c.sync_now(None).await.unwrap();
        }
    }
    let comments = clients[3].store().get(shared).unwrap();
    for i in 0..4 {
        assert!(format!("{comments:?}").contains(&format!("seen by {i}")), "comment {i} kept");
    }
    for s in &servers {
        s.close().await;
    }
}

/// The value of the metric `name` (no labels) on `ts`.
async fn metric(ts: &TestServer, name: &str) -> u64 {
    let (status, text) = ts.metrics().await;
    assert_eq!(status, 200);
    let line = text.lines().find(|l| l.split(' ').next() == Some(name));
    line.and_then(|l| l.split(' ').nth(1)?.parse().ok()).unwrap_or_else(|| panic!("no {name}"))
}

/// Waits until `ts` has heard of the log's end `seq` (and so dropped what it replaced).
async fn heard(ts: &TestServer, seq: u64) {
    let started = Instant::now();
    while metric(ts, "fieldsync_log_seq").await < seq {
        assert!(started.elapsed() < Duration::from_secs(10), "no notification of seq {seq}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_after_another_instance_wrote_costs_no_retry() {
    if !available("it::postgres::a_write_after_another_instance_wrote…", &[Tool::Postgres]) {
        return;
    }
    let a = start_on(Backend::Postgres).await;
    let b = start_beside(&a).await;
    let phone = Phone::new("patrol-1");
    let id = phone.report("one report, two instances");
    // Created through A (which keeps it cached), then written through B, A, B in turn: each
    // instance's cached copy was replaced by the other meanwhile.
    assert!(matches!(push(&a, &phone, id).await, PushOutcome::Acked { .. }));
    for (round, (writer, other)) in [(&b, &a), (&a, &b), (&b, &a)].into_iter().enumerate() {
        phone.comment(id, &format!("round {round}"));
        let outcome = push(writer, &phone, id).await;
        assert!(matches!(outcome, PushOutcome::Acked { .. }), "round {round}: {outcome:?}");
        heard(other, writer.running.server().storage().log_end().await.unwrap()).await;
    }
    assert_eq!(metric(&a, "fieldsync_cache_replaced_total").await, 2, "A dropped B's two");
    assert_eq!(metric(&b, "fieldsync_cache_replaced_total").await, 1, "B dropped A's one");
    // An instance's own writes stay cached when it hears of them (it hears in order: once it
    // heard of a later write through A, it heard of its own).
    phone.comment(id, "again through B");
    assert!(matches!(push(&b, &phone, id).await, PushOutcome::Acked { .. }));
    let other = phone.report("another report");
    assert!(matches!(push(&a, &phone, other).await, PushOutcome::Acked { .. }));
    heard(&b, a.running.server().storage().log_end().await.unwrap()).await;
    assert_eq!(metric(&b, "fieldsync_cache_replaced_total").await, 1);
    assert_eq!(metric(&b, "fieldsync_documents_cached").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administration_subcommands_work_on_postgres() {
    if !available("it::postgres::the_administration_subcommands…", &[Tool::Postgres]) {
        return;
    }
    let schema = Schema::new().await;
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let storage = ["--storage", url.as_str()];
    let mut config =
        ServerConfig::new(dir.path().join("serving")).with_listen("127.0.0.1:0".parse().unwrap());
    config.storage = StorageChoice::Postgres(url.clone());
    let server = Server::start(&config).await.unwrap();
    // The binary's data directory is another, empty one: everything is in the database.
    let data = dir.path().join("admin");
    let phone = Phone::new("disp-9");
    let token =
        crate::child::enroll_on(&server.url(), &data, &storage, "disp-9", phone.actor()).await;
    assert!(!token.is_empty());
    let run = |args: &[&str]| crate::child::admin(&data, &[&storage[..], args].concat());
    let users = run(&["user", "list"]);
    assert!(users.lines().any(|l| l.starts_with("disp-9\tdispatcher\tjl\tactive")), "{users}");
    let devices = run(&["device", "list"]);
    assert!(devices.contains("disp-9\ttest"), "{devices}");
    let key = run(&["api-key", "issue", "--name", "Civic Reports", "--scope", "jl"]);
    assert!(!key.is_empty());
    assert!(run(&["api-key", "list"]).contains("Civic Reports\tjl\t"));
    assert!(!data.join(fieldsync_server::config::DB_FILE).exists(), "no SQLite file made");
    let epoch = |url: String| async move {
        let storage = PostgresStorage::open(&url).await.unwrap();
        let epoch = storage.epoch().to_string();
        storage.close().await;
        epoch
    };
    let before = epoch(url.clone()).await;
    server.shutdown().await.unwrap();
    // The step after a restore: a new epoch, in the database, said on stdout.
    let said = run(&["new-epoch"]);
    let after = epoch(url.clone()).await;
    assert_ne!(after, before);
    assert!(said.ends_with(&format!("new epoch {after}")), "{said}");
    assert!(!said.contains("postgres://postgres@"), "no user or password in {said}");
}

/// An instance whose cached copy of a document is older than the stored one (another instance
/// wrote it meanwhile) applies a push to it again on the stored version, whether the push
/// lost the compare-and-set or builds on changes the cached copy lacks: the phone's change is
/// acknowledged in the same sync, not sent back as a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_onto_a_stale_cached_copy_is_applied_again_not_refused() {
    if !available("it::postgres::a_push_onto_a_stale_cached_copy…", &[Tool::Postgres]) {
        return;
    }
    let schema = Schema::new().await;
    let (_dirs, servers) = two_instances(&schema).await;
    let phones = [Phone::new("patrol-a"), Phone::new("patrol-b")];
    let clients: Vec<SyncClient<InProcessTransport>> = phones
        .iter()
        .zip(&servers)
        .map(|(p, server)| {
            let transport = server.transport().with_token(token_for(server, &p.actor()));
            SyncClient::new(p.store.clone(), transport)
        })
        .collect();
    // The first instance writes the report and keeps it cached; the second then stores a
    // newer version of it.
    let shared = phones[0].report("shared report");
    clients[0].sync_now(None).await.unwrap();
    clients[1].sync_now(None).await.unwrap();
    phones[1].comment(shared, "from the second instance");
    assert_eq!(clients[1].sync_now(None).await.unwrap().docs_pushed, 1);
    phones[0].comment(shared, "from the first instance");
    let pushed = clients[0].sync_now(None).await.unwrap();
    assert_eq!(pushed.docs_pushed, 1, "acknowledged at once: {pushed:?}");
    assert_eq!(pushed.docs_rejected, 0);
    clients[1].sync_now(None).await.unwrap();
    assert_eq!(phones[0].heads(shared), phones[1].heads(shared));
    // The second instance stores a newer version again; the first phone pulls it from the
    // log (the database) and builds on it, while the first instance's cached copy lacks it.
    phones[1].comment(shared, "again from the second instance");
    assert_eq!(clients[1].sync_now(None).await.unwrap().docs_pushed, 1);
    clients[0].sync_now(None).await.unwrap();
    phones[0].comment(shared, "on top of it, from the first instance");
    let pushed = clients[0].sync_now(None).await.unwrap();
    assert_eq!(pushed.docs_pushed, 1, "changes on top of another instance's: {pushed:?}");
    clients[1].sync_now(None).await.unwrap();
    assert_eq!(phones[0].heads(shared), phones[1].heads(shared));
    for s in &servers {
        s.close().await;
    }
}

/// The heads `ts` answers a reconcile about `id` with, asked by `phone` from a fresh state
/// (the answer's first message carries the server's heads), sorted.
async fn reconciled_heads(ts: &TestServer, phone: &Phone, id: DocId) -> Vec<ChangeHash> {
    let mut doc = phone.store.load(id).unwrap();
    let message = doc.sync().generate_sync_message(&mut State::new()).unwrap().encode();
    let req = ReconcileRequest {
        v: VERSION,
        actor: phone.actor(),
        docs: vec![SyncMessage { doc: id, message }],
        have: None,
    };
    let (status, body) = ts.post_raw("/v1/reconcile", protocol::encode(&req)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let resp: ReconcileResponse = protocol::decode(&body).unwrap();
    assert!(resp.results.is_empty(), "{:?}", resp.results);
    let mut heads = Message::decode(&resp.docs[0].message).unwrap().heads;
    heads.sort();
    heads
}

/// Cuts the connections on which the instances of the storage of epoch `epoch` listen for
/// each other's commits (as a network fault would): until they connect again (a second later),
/// notifications of commits are lost.
async fn cut_listeners(epoch: &str) {
    let id: String = epoch.chars().filter(char::is_ascii_alphanumeric).take(40).collect();
    let listen = format!("LISTEN fieldsync_log_{}", id.to_ascii_lowercase());
    let (client, conn) =
        tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls).await.unwrap();
    let task = tokio::spawn(conn);
    let cut = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1",
            &[&listen],
        )
        .await
        .unwrap();
    assert_eq!(cut.len(), 2, "both instances listen");
    drop(client);
    let _ = task.await;
}

/// A phone is never told stale heads, whatever instance it asks. The second instance holds a
/// document cached (a reconcile loaded it); the first writes it; a reconcile through the second
/// at once must answer the new heads: both when the second's notification of the write has
/// not arrived yet, and when it is lost (its listening connection was cut).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_through_one_instance_answers_what_another_just_wrote() {
    if !available("it::postgres::a_reconcile_through_one_instance_answers…", &[Tool::Postgres]) {
        return;
    }
    let a = start_on(Backend::Postgres).await;
    let b = start_beside(&a).await;
    let phone = Phone::new("patrol-1");
    let id = phone.report("written through one, read through the other");
    assert!(matches!(push(&a, &phone, id).await, PushOutcome::Acked { .. }));
    let sorted = |mut h: Vec<ChangeHash>| {
        h.sort();
        h
    };
    for round in 0..6 {
        // Notifications lost in the second half.
        if round == 3 {
            cut_listeners(&a.epoch()).await;
        }
        // The second instance loads the document and keeps it cached.
        assert_eq!(reconciled_heads(&b, &phone, id).await, sorted(phone.heads(id)));
        phone.comment(id, &format!("round {round}"));
        assert!(matches!(push(&a, &phone, id).await, PushOutcome::Acked { .. }));
        assert_eq!(
            reconciled_heads(&b, &phone, id).await,
            sorted(phone.heads(id)),
            "round {round}: the second instance answered stale heads"
        );
    }
}
