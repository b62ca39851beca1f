//! A document a device may not read is answered for exactly like one that does not exist, on
//! every endpoint that takes a document id: push, reconcile, `want`, `/v1/visible`.

use automerge::sync::{ChunkList, Message, MessageVersion, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT, ReadDoc};
use fieldsync_core::DocId;
use fieldsync_core::model::{self, CaseCategory, NewCase, Party, Stamp};
use fieldsync_core::policy::Role;
use fieldsync_core::protocol::{
    PushDoc, PushOutcome, ReconcileRequest, ReconcileResponse, SyncMessage, VERSION,
    VisibleRequest, VisibleResponse,
};

use super::*;

/// A creation of a record under the id `id`, made by `actor` and written as `by` in `scope`:
/// a real record built by core, its header then pointed at `id`. `title` replaces the title.
fn creation_as(id: DocId, actor: &[u8], by: &str, scope: &str, title: &str) -> Vec<u8> {
    let (_, mut doc) = model::command::create(
        &report_in(scope),
        &Stamp { by: by.into(), at: fieldsync_core::time::now_ms() },
        ActorId::from(actor),
    )
    .unwrap();
    let header = match doc.get(ROOT, "header").unwrap() {
        Some((_, obj)) => obj,
        None => panic!("no header"),
    };
    doc.put(&header, "id", id.to_string()).unwrap();
    doc.put(ROOT, "title", title).unwrap();
    doc.commit();
    changes_of(&mut doc)
}

fn changes_of(doc: &mut AutoCommit) -> Vec<u8> {
    doc.get_changes(&[]).iter().flat_map(|c| c.raw_bytes().to_vec()).collect()
}

/// The outcome as a device sees it, with the document id written out of the message.
fn shown(outcome: &PushOutcome, id: DocId) -> String {
    format!("{outcome:?}").replace(&id.to_string(), "<id>")
}

async fn a_document_one_may_not_read_is_answered_for_like_a_made_up_id(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let mediator = Phone::new("mediator-1");
    let prober = Phone::new("resident-9");
    enroll_as(s, &mediator, Role::Mediator, None, &[GRID]);
    enroll_as(s, &prober, Role::Resident, None, &[GRID]);
    let case = mediator
        .store
        .create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: GRID.into(),
                category: CaseCategory::Neighbour,
                place: "7号楼下".into(),
                parties: vec![Party {
                    name: "马".into(),
                    role: "业主".into(),
                    contact: "139".into(),
                }],
                mediators: vec!["mediator-1".into()],
            },
        })
        .unwrap();
    acked(&server, &mediator, case).await;
    let actor = prober.actor();

    // Pushes: someone else's creation, one outside the prober's scope, one over a limit, and
    // one the made-up id takes.
    let creations: [(&str, &str, &str); 4] = [
        ("resident-1", GRID, "楼顶违建"),
        ("resident-9", "jl/baishan", "楼顶违建"),
        ("resident-9", GRID, &"违".repeat(300)),
        ("resident-9", GRID, "楼顶违建"),
    ];
    for (i, (by, scope, title)) in creations.iter().enumerate() {
        let made_up = DocId::random();
        let mut answers = Vec::new();
        for id in [case, made_up] {
            let push = PushDoc {
                doc: id,
                changes: creation_as(id, &actor, by, scope, title),
                heads: vec![],
                signed: vec![],
            };
            let before = stored(&server, case).await;
            let resp = server.sync(&prober.request(None, "", vec![push])).await.unwrap();
            assert_eq!(stored(&server, case).await.0, before.0, "the case is untouched");
            answers.push(shown(&resp.results[0].outcome, id));
        }
        if i < 3 {
            assert_eq!(answers[0], answers[1], "creation {i}");
        } else {
            // A valid creation takes a free id; a taken one it cannot (documented).
            assert!(answers[1].starts_with("Acked"), "{}", answers[1]);
            assert!(answers[0].contains("create.id"), "{}", answers[0]);
        }
    }

    // Reconcile: the same creation inside a sync message, and an empty message.
    let mut answers = Vec::new();
    for id in [case, DocId::random()] {
        let changes = creation_as(id, &actor, "resident-1", GRID, "楼顶违建");
        let chunks = fieldsync_core::changes::split_chunks(&changes)
            .unwrap()
            .into_iter()
            .map(|(_, c)| c.to_vec())
            .collect::<Vec<_>>();
        let with = Message {
            heads: vec![],
            need: vec![],
            have: vec![],
            changes: ChunkList::from(chunks),
            flags: None,
            version: MessageVersion::V1,
        };
        let empty =
            AutoCommit::new().sync().generate_sync_message(&mut automerge::sync::State::new());
        let req = ReconcileRequest {
            v: VERSION,
            actor: actor.clone(),
            docs: vec![SyncMessage { doc: id, message: with.encode() }],
            have: None,
        };
        let (status, body) = server.post_raw("/v1/reconcile", protocol::encode(&req)).await;
        assert_eq!(status, 200);
        let first: ReconcileResponse = protocol::decode(&body).unwrap();
        let req = ReconcileRequest {
            v: VERSION,
            actor: actor.clone(),
            docs: vec![SyncMessage {
                doc: id,
                message: empty.map(Message::encode).unwrap_or_default(),
            }],
            have: None,
        };
        let (status, body) = server.post_raw("/v1/reconcile", protocol::encode(&req)).await;
        assert_eq!(status, 200);
        let second: ReconcileResponse = protocol::decode(&body).unwrap();
        answers.push((
            first.results.iter().map(|r| shown(&r.outcome, id)).collect::<Vec<_>>(),
            first.docs.iter().map(|d| d.message.clone()).collect::<Vec<_>>(),
            second.docs.iter().map(|d| d.message.clone()).collect::<Vec<_>>(),
        ));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0.len(), 1, "the creation is refused: {:?}", answers[0].0);

    // `want` and `/v1/visible`.
    let made_up = DocId::random();
    let mut want = Vec::new();
    for id in [case, made_up] {
        let mut req = prober.request(Some(server.epoch()), "l0", vec![]);
        req.want = vec![id];
        let resp = server.sync(&req).await.unwrap();
        want.push((resp.docs.len(), resp.more, resp.remaining));
    }
    assert_eq!(want[0], want[1]);
    let req = VisibleRequest { v: VERSION, ids: vec![case, made_up] };
    let (status, body) = server.post_as(&actor, "/v1/visible", protocol::encode(&req)).await;
    assert_eq!(status, 200);
    let visible: VisibleResponse = protocol::decode(&body).unwrap();
    assert_eq!(visible.hidden, vec![case, made_up]);
}
on_both!(a_document_one_may_not_read_is_answered_for_like_a_made_up_id);
