//! The server with the phone's own sync client (core's `SyncClient`), in-process and over HTTP:
//! phones that worked offline converge; a reconnect with nothing changed is one small request;
//! after the server loses its data (a new epoch), phones reconcile it back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use automerge::sync::{Message, State, SyncDoc};
use fieldsync_core::protocol::{self, ReconcileRequest, ReconcileResponse, SyncMessage, VERSION};
use fieldsync_core::sync::{HttpTransport, SyncClient, Transport};
use fieldsync_server::{InProcessTransport, Server, ServerConfig};

fn http(server: &TestServer, phone: &Phone) -> HttpTransport {
    HttpTransport::new(&server.running.url()).unwrap().with_token(server.token_for(&phone.actor()))
}

fn client<T: Transport>(phone: &Phone, transport: T) -> SyncClient<T> {
    SyncClient::new(phone.store.clone(), transport)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_converge_through_the_in_process_transport() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(&ServerConfig::new(dir.path())).await.unwrap();
    let phones: Vec<Phone> = (0..3).map(|i| Phone::new(&format!("patrol-{i}"))).collect();
    let clients: Vec<SyncClient<InProcessTransport>> = phones
        .iter()
        .map(|p| client(p, server.transport().with_token(token_for(&server, &p.actor()))))
        .collect();

    let shared = phones[0].report("shared report");
    clients[0].sync_now(None).await.unwrap();
    for c in &clients[1..] {
        c.sync_now(None).await.unwrap();
    }
    // Offline: everyone comments on the shared report and creates one of their own.
    for (i, p) in phones.iter().enumerate() {
        p.comment(shared, &format!("seen by {i}"));
        p.report(&format!("own {i}"));
    }
    for _ in 0..2 {
        for c in &clients {
            c.sync_now(None).await.unwrap();
        }
    }
    let reference = clients[0].store().get(shared).unwrap();
    let ids = clients[0].store().doc_ids().unwrap();
    assert_eq!(ids.len(), 4);
    for c in &clients {
        assert_eq!(c.store().get(shared).unwrap(), reference);
        let mut mine = c.store().doc_ids().unwrap();
        mine.sort();
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(mine, expected);
        for id in &ids {
            assert_eq!(c.store().heads(*id).unwrap(), clients[0].store().heads(*id).unwrap());
        }
    }
    // Nothing changed anywhere: one request, a few hundred bytes.
    let s = clients[1].sync_now(None).await.unwrap();
    assert_eq!(s.requests, 1);
    assert!(s.bytes_up + s.bytes_down <= 512, "{s:?}");
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_lost_its_data_is_reconciled_over_http() {
    let server = start().await;
    let a = Phone::new("mediator-1");
    let b = Phone::new("mediator-2");
    let ca = client(&a, http(&server, &a));
    let cb = client(&b, http(&server, &b));
    let id = a.report("before the loss");
    ca.sync_now(None).await.unwrap();
    cb.sync_now(None).await.unwrap();
    assert_eq!(cb.store().heads(id).unwrap(), ca.store().heads(id).unwrap());

    // The server comes back empty, with a new epoch.
    let old_epoch = server.epoch();
    server.running.shutdown().await.unwrap();
    let server = start().await;
    assert_ne!(server.epoch(), old_epoch);
    let ca = client(&a, http(&server, &a));
    let cb = client(&b, http(&server, &b));
    let only_b = b.report("made after the loss");
    let summary = ca.sync_now(None).await.unwrap();
    assert!(summary.reconciled);
    cb.sync_now(None).await.unwrap();
    ca.sync_now(None).await.unwrap();
    let stored = server.running.server().storage().doc_ids().await.unwrap();
    assert!(stored.contains(&id) && stored.contains(&only_b), "{stored:?}");
    assert_eq!(ca.store().heads(only_b).unwrap(), cb.store().heads(only_b).unwrap());
    assert_eq!(ca.store().heads(id).unwrap(), cb.store().heads(id).unwrap());
}

/// Reconcile by hand: a document the server lacks changes of converges in a few rounds; `have`
/// names the documents the client lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_converges_a_document_the_server_lacks_changes_of() {
    let server = start().await;
    let a = Phone::new("resident-1");
    let id = a.report("partly on the server");
    let resp = server.sync(&a.request(None, "", vec![a.push_after(id, &[])])).await.unwrap();
    assert_acked(&resp);
    let other = Phone::new("resident-2");
    let theirs = other.report("only on the server");
    server.sync(&other.request(None, "", vec![other.push_after(theirs, &[])])).await.unwrap();
    let before = server.running.server().storage().log_end().await.unwrap();
    for i in 0..3 {
        a.comment(id, &format!("offline {i}"));
    }

    let mut doc = a.store.load(id).unwrap();
    let mut state = State::new();
    let mut rounds = 0;
    let mut first_cursor = None;
    loop {
        rounds += 1;
        assert!(rounds < 10, "did not converge");
        let Some(msg) = doc.sync().generate_sync_message(&mut state) else { break };
        let req = ReconcileRequest {
            v: VERSION,
            actor: a.actor(),
            docs: vec![SyncMessage { doc: id, message: msg.encode() }],
            have: None,
        };
        let (status, body) = server.post_raw("/v1/reconcile", protocol::encode(&req)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let resp: ReconcileResponse = protocol::decode(&body).unwrap();
        assert!(resp.results.is_empty(), "{:?}", resp.results);
        first_cursor.get_or_insert(resp.cursor.clone());
        assert_eq!(resp.docs.len(), 1);
        if !resp.docs[0].message.is_empty() {
            let m = Message::decode(&resp.docs[0].message).unwrap();
            doc.sync().receive_sync_message(&mut state, m).unwrap();
        }
    }
    assert_eq!(first_cursor.unwrap(), format!("l{before}"));
    let storage = server.running.server().storage();
    let stored = storage.load(vec![id]).await.unwrap().pop().unwrap().unwrap();
    let mut on_server = automerge::AutoCommit::load(&stored.bytes).unwrap();
    assert_eq!(on_server.get_heads(), doc.get_heads());
    assert_eq!(storage.log_end().await.unwrap(), before + 3, "the three comments were logged");

    let req = ReconcileRequest { v: VERSION, actor: a.actor(), docs: vec![], have: Some(vec![id]) };
    let (_, body) = server.post_raw("/v1/reconcile", protocol::encode(&req)).await;
    let resp: ReconcileResponse = protocol::decode(&body).unwrap();
    assert_eq!(resp.missing, vec![theirs]);
    assert_eq!(resp.epoch, server.epoch());

    // A malformed message fails its document only.
    let junk = ReconcileRequest {
        v: VERSION,
        actor: a.actor(),
        docs: vec![SyncMessage { doc: theirs, message: b"\x42garbage".to_vec() }],
        have: None,
    };
    let (status, body) = server.post_raw("/v1/reconcile", protocol::encode(&junk)).await;
    assert_eq!(status, 200);
    let resp: ReconcileResponse = protocol::decode(&body).unwrap();
    assert_eq!(resp.results.len(), 1);
    assert_eq!(outcome_code(&resp.results[0].outcome), Some("malformed_changes"));
}
