//! The server on PostgreSQL (docs/storage-postgres.md): two instances on one database, with the
//! phones split between them, converge through the phones' own sync client. Runs in a schema
//! of its own, dropped afterwards; skips with one line when no PostgreSQL server listens.

use crate::common::*;
use fieldsync_core::sync::SyncClient;
use fieldsync_server::{InProcessTransport, Server, ServerConfig, StorageChoice};
use fieldsync_tests::postgres::Schema;
use fieldsync_tests::tools::{Tool, available};

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
