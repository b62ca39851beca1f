//! Authorship that survives relaying (docs/peer.md, "Signed changes"; docs/protocol.md, "Relayed
//! changes"): three patrol phones enrolled with the real server meet pairwise offline over
//! loopback, then one of them reaches the server, and the others' entries are taken there as
//! their own (logged with their devices and signatures); a change forged in another member's
//! name is refused by the server as by a peer, and so is a revoked device's.

use std::sync::Arc;
use std::time::Duration;

use automerge::ChangeHash;
use fieldsync_core::model::{
    EntryKind, MemberKind, NewEntry, NewPatrol, NewRecord, Record, TeamMember,
};
use fieldsync_core::peer::{PeerOptions, PeerOutcome, meet_on_loopback};
use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_core::protocol::{
    self, PushDoc, PushOutcome, SYNC_VERSION, SignedBy, SyncRequest, SyncResponse,
};
use fieldsync_core::store::Enrollment;
use fieldsync_core::sync::{HttpTransport, SyncClient, Transport, enroll};
use fieldsync_core::{DocId, Store, model};

use crate::common::*;

const AREA: &str = "jl/valley/area-01";
const TEAM: [&str; 3] = ["police-li", "cadre-wang", "vol-zhao"];

/// A patrol phone of `user`, enrolled with `server` through the real enrolment (it makes its
/// device key and the server records its public key).
async fn patrol_phone(server: &TestServer, user: &str) -> SyncClient<HttpTransport> {
    let admin = Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
    let accounts = server.running.server().accounts();
    accounts.add_user(user, Role::Patrol, Some(PatrolKind::Police), &[AREA.to_string()]).unwrap();
    let code = accounts.issue_code(user, &admin, Duration::from_secs(600)).unwrap().code;
    let http = HttpTransport::new(&server.running.url()).unwrap();
    let store = Arc::new(Store::open(server.dir.path().join(format!("{user}.db"))).unwrap());
    let e = enroll(&store, &http, &code, user).await.unwrap();
    SyncClient::new(store, http.with_token(e.token))
}

/// The three members' phones, enrolled.
async fn team(server: &TestServer) -> [SyncClient<HttpTransport>; 3] {
    [
        patrol_phone(server, TEAM[0]).await,
        patrol_phone(server, TEAM[1]).await,
        patrol_phone(server, TEAM[2]).await,
    ]
}

fn new_log() -> NewRecord {
    NewRecord::PatrolLog {
        patrol_log: NewPatrol {
            scope: AREA.into(),
            area: "north valley".into(),
            members: TEAM
                .map(|u| TeamMember { user: u.into(), name: u.into(), kind: MemberKind::Police })
                .to_vec(),
            checkpoints: vec![],
        },
    }
}

fn entry(text: &str) -> model::Command {
    model::Command::AddPatrolEntry {
        entry: NewEntry {
            kind: EntryKind::Observation,
            text: text.into(),
            location: None,
            photos: vec![],
            checkpoint: None,
        },
    }
}

async fn met(a: &Store, b: &Store) -> (PeerOutcome, PeerOutcome) {
    let (x, y) = meet_on_loopback(a, b, &PeerOptions::default()).await;
    let (x, y) = (x.unwrap(), y.unwrap());
    assert!(x.refused.is_empty() && y.refused.is_empty(), "{x:?} {y:?}");
    (x, y)
}

fn entries(store: &Store, id: DocId) -> Vec<(String, String)> {
    let Record::PatrolLog { patrol_log } = store.get(id).unwrap() else { panic!("not a log") };
    let mut out: Vec<_> = patrol_log.entries.into_iter().map(|e| (e.by, e.text)).collect();
    out.sort();
    out
}

fn device_of(phone: &SyncClient<HttpTransport>) -> String {
    phone.store().enrollment().unwrap().unwrap().device
}

/// One sync request with `push`, as the device of `phone` (its own token).
async fn push_as(
    server: &TestServer,
    phone: &SyncClient<HttpTransport>,
    push: PushDoc,
) -> PushOutcome {
    let token = phone.store().enrollment().unwrap().unwrap().token;
    let http = HttpTransport::new(&server.running.url()).unwrap().with_token(token);
    let req = SyncRequest {
        v: SYNC_VERSION,
        epoch: None,
        cursor: String::new(),
        actor: phone.store().identity().actor.to_bytes().to_vec(),
        push: vec![push],
        want: vec![],
        page_bytes: 1 << 16,
    };
    let answer = http.post("/v1/sync", protocol::encode(&req)).await.unwrap();
    let resp: SyncResponse = protocol::decode(&answer).unwrap();
    assert_eq!(resp.v, SYNC_VERSION, "answered in the request's version");
    resp.results.into_iter().next().unwrap().outcome
}

/// The push of `id`'s changes after `after` held by `store`, with the signatures it holds.
fn push_of(store: &Store, id: DocId, after: &[ChangeHash], sign: bool) -> PushDoc {
    let mut doc = store.load(id).unwrap();
    let changes = doc.get_changes(after);
    let mut signed: Vec<SignedBy> = Vec::new();
    if sign {
        for s in store.signatures_for(&changes).unwrap() {
            let actor = changes
                .iter()
                .find(|c| c.hash() == ChangeHash::from(s.hash))
                .map(|c| c.actor_id().to_bytes().to_vec())
                .unwrap();
            match signed.iter_mut().find(|g| g.actor == actor) {
                Some(g) => g.sigs.push(s),
                None => signed.push(SignedBy { actor, sigs: vec![s], credential: None }),
            }
        }
    }
    PushDoc {
        doc: id,
        changes: changes.iter().flat_map(|c| c.raw_bytes().to_vec()).collect(),
        heads: protocol::to_wire(&doc.get_heads()),
        signed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_relayed_offline_reach_the_server_under_their_own_authors() {
    let server = start().await;
    let [li, wang, zhao] = team(&server).await;
    // No signal from here on: the log is made offline and travels phone to phone.
    let log = li.store().create(&new_log()).unwrap();
    met(li.store(), wang.store()).await;
    met(wang.store(), zhao.store()).await;
    li.store().execute(log, &entry("north gate clear")).unwrap();
    wang.store().execute(log, &entry("tourist helped at the pier")).unwrap();
    zhao.store().execute(log, &entry("fallen tree on the east path")).unwrap();
    met(li.store(), wang.store()).await;
    met(wang.store(), zhao.store()).await;
    met(zhao.store(), li.store()).await;
    let want = entries(li.store(), log);
    assert_eq!(want.len(), 3);
    for p in [&wang, &zhao] {
        assert_eq!(entries(p.store(), log), want, "the three phones converged offline");
    }

    // Zhao reaches the server first and pushes the whole log: Li's and Wang's changes too.
    let summary = zhao.sync_now(None).await.unwrap();
    assert_eq!((summary.docs_rejected, summary.docs_failed), (0, 0), "{summary:?}");
    let storage = server.running.server().storage();
    let log_entries = storage.audit(0, 1000).await.unwrap();
    let mut doc = zhao.store().load(log).unwrap();
    assert_eq!(log_entries.len(), doc.get_changes(&[]).len(), "every change is on the server");
    let phones = [&li, &wang, &zhao];
    for e in &log_entries {
        let author = phones
            .iter()
            .find(|p| p.store().identity().actor.to_bytes() == e.actor.as_slice())
            .expect("a change of the team");
        assert_eq!(e.device.as_deref(), Some(device_of(author).as_str()), "logged as its author's");
        let key = author.store().device_key().unwrap().public_key();
        let sig = fieldsync_core::authorship::Signature(
            e.sig.clone().expect("stored with its signature").try_into().unwrap(),
        );
        fieldsync_core::authorship::verify(&key, &ChangeHash(e.hash), &sig).unwrap();
    }
    let devices: std::collections::HashSet<_> =
        log_entries.iter().filter_map(|e| e.device.clone()).collect();
    assert_eq!(devices.len(), 3, "three authors, none of them taken for Zhao");

    // The others sync later: nothing is refused, everything is known already.
    for p in [&li, &wang] {
        let s = p.sync_now(None).await.unwrap();
        assert_eq!((s.docs_rejected, s.docs_failed), (0, 0), "{s:?}");
    }
    assert_eq!(storage.audit(0, 1000).await.unwrap().len(), log_entries.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_forged_unsigned_or_of_a_revoked_device_is_refused_and_nothing_is_stored() {
    let server = start().await;
    let [li, wang, zhao] = team(&server).await;
    let log = li.store().create(&new_log()).unwrap();
    li.sync_now(None).await.unwrap();
    wang.sync_now(None).await.unwrap();
    let created = wang.store().heads(log).unwrap();
    assert!(!created.is_empty(), "Wang holds the log from the server");

    // Wang writes an entry in Li's name (Li's actor, Li's user) on a phone of his own, which
    // holds Wang's device key, not Li's, and pushes it as a relay of Li's change.
    let forger = forger_of(&server, li.store());
    forger.merge_remote(log, &wang.store().saved_bytes(log).unwrap()).unwrap();
    forger.execute(log, &entry("the east path is closed (not true)")).unwrap();
    let before = storage_len(&server).await;

    // Signed with the forger's key: the signature is not Li's.
    let outcome = push_as(&server, &wang, push_of(&forger, log, &created, true)).await;
    assert_eq!(outcome_code(&outcome), Some("bad_signature"), "{outcome:?}");
    // Li named as the author, but no signature for the change.
    let mut unsigned = push_of(&forger, log, &created, true);
    unsigned.signed[0].sigs.clear();
    let outcome = push_as(&server, &wang, unsigned).await;
    assert_eq!(outcome_code(&outcome), Some("bad_signature"), "{outcome:?}");
    // Not signed, nor its author named: a change in another's name, as in version 1.
    let outcome = push_as(&server, &wang, push_of(&forger, log, &created, false)).await;
    assert_eq!(outcome_code(&outcome), Some("forged_actor"), "{outcome:?}");
    assert_eq!(storage_len(&server).await, before, "nothing of the forged change is stored");

    // An actor bound to no device: forged, as before devices signed.
    let stranger = Store::open(server.dir.path().join("stranger.db")).unwrap();
    stranger.device_key().unwrap();
    stranger.merge_remote(log, &wang.store().saved_bytes(log).unwrap()).unwrap();
    stranger.set_user(TEAM[1]).unwrap();
    stranger.execute(log, &entry("from nowhere")).unwrap();
    let outcome = push_as(&server, &wang, push_of(&stranger, log, &created, true)).await;
    assert_eq!(outcome_code(&outcome), Some("forged_actor"), "{outcome:?}");

    // Zhao's true entry, relayed by Wang, is refused once the server revoked Zhao's phone: a
    // revoked device's changes are taken from nobody (as peers refuse its credential).
    zhao.sync_now(None).await.unwrap();
    zhao.store().execute(log, &entry("north gate clear")).unwrap();
    met(wang.store(), zhao.store()).await;
    server.running.server().accounts().revoke(&device_of(&zhao)).unwrap();
    let outcome = push_as(&server, &wang, push_of(wang.store(), log, &created, true)).await;
    assert_eq!(outcome_code(&outcome), Some("revoked_author"), "{outcome:?}");
    assert_eq!(storage_len(&server).await, before);
}

async fn storage_len(server: &TestServer) -> usize {
    server.running.server().storage().audit(0, 10_000).await.unwrap().len()
}

/// One pull from the start of the feed as `phone`'s device, in protocol version `v`.
async fn pull_as(server: &TestServer, phone: &SyncClient<HttpTransport>, v: u32) -> SyncResponse {
    let token = phone.store().enrollment().unwrap().unwrap().token;
    let http = HttpTransport::new(&server.running.url()).unwrap().with_token(token);
    let req = SyncRequest {
        v,
        epoch: None,
        cursor: String::new(),
        actor: phone.store().identity().actor.to_bytes().to_vec(),
        push: vec![],
        want: vec![],
        page_bytes: 1 << 20,
    };
    let answer = http.post("/v1/sync", protocol::encode(&req)).await.unwrap();
    protocol::decode(&answer).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_pulled_from_the_server_travel_on_to_phones_as_their_authors() {
    let server = start().await;
    let [li, wang, zhao] = team(&server).await;
    let log = li.store().create(&new_log()).unwrap();
    li.sync_now(None).await.unwrap();
    // Wang pulls the log whole (the catch-up), then Li's entry from the log after it.
    wang.sync_now(None).await.unwrap();
    li.store().execute(log, &entry("north gate clear")).unwrap();
    li.sync_now(None).await.unwrap();
    wang.sync_now(None).await.unwrap();
    assert_eq!(entries(wang.store(), log), entries(li.store(), log));

    // Wang holds Li's signature of every change of the log, as the server stored them.
    let changes = wang.store().load(log).unwrap().get_changes(&[]).into_iter().collect::<Vec<_>>();
    let sigs = wang.store().signatures_for(&changes).unwrap();
    assert_eq!(sigs.len(), changes.len(), "{sigs:?}");
    let li_key = li.store().device_key().unwrap().public_key();
    for s in &sigs {
        fieldsync_core::authorship::verify(&li_key, &ChangeHash::from(s.hash), &s.sig).unwrap();
    }

    // Offline, Wang meets Zhao, who never synced: Zhao takes Li's changes, each checked as Li's.
    let (_, got) = met(wang.store(), zhao.store()).await;
    assert_eq!(got.received, 1);
    assert_eq!(entries(zhao.store(), log), entries(li.store(), log));

    // Zhao relays them to the server in turn, signed as Li's, and they are Li's there.
    let push = push_of(zhao.store(), log, &[], true);
    let li_actor = li.store().identity().actor.to_bytes().to_vec();
    assert_eq!(push.signed.len(), 1, "one author");
    assert_eq!((&push.signed[0].actor, push.signed[0].sigs.len()), (&li_actor, changes.len()));
    let outcome = push_as(&server, &zhao, push).await;
    assert!(matches!(outcome, PushOutcome::Acked { .. }), "{outcome:?}");
    let logged = server.running.server().storage().audit(0, 1000).await.unwrap();
    assert_eq!(logged.len(), changes.len(), "nothing logged twice");
    assert!(logged.iter().all(|e| e.device.as_deref() == Some(device_of(&li).as_str())));

    // A phone of version 1 is served as before: the same documents, no signatures.
    let v2 = pull_as(&server, &zhao, SYNC_VERSION).await;
    let v1 = pull_as(&server, &zhao, 1).await;
    assert_eq!(v1.v, 1);
    assert_eq!(v2.docs.iter().map(|d| d.sigs.len()).sum::<usize>(), changes.len(), "{v2:?}");
    assert!(v1.docs.iter().all(|d| d.sigs.is_empty()), "{v1:?}");
    let bytes = |r: &SyncResponse| r.docs.iter().map(|d| d.bytes.clone()).collect::<Vec<_>>();
    assert_eq!(bytes(&v1), bytes(&v2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_relayed_before_its_author_ever_synced_is_theirs_and_a_forged_one_is_not() {
    let server = start().await;
    let [li, wang, _] = team(&server).await;
    // Li makes the log and an entry offline and never reaches the server; Wang takes them.
    let log = li.store().create(&new_log()).unwrap();
    li.store().execute(log, &entry("north gate clear")).unwrap();
    let (_, got) = met(li.store(), wang.store()).await;
    assert_eq!(got.received, 1);
    assert_eq!(storage_len(&server).await, 0, "the server holds nothing of Li's yet");

    // Wang alters one of Li's signatures on the way: refused, nothing stored.
    let mut altered = push_of(wang.store(), log, &[], true);
    assert_eq!(altered.signed.len(), 1, "Li's changes only");
    altered.signed[0].sigs[0].sig.0[0] ^= 1;
    let outcome = push_as(&server, &wang, altered).await;
    assert_eq!(outcome_code(&outcome), Some("bad_signature"), "{outcome:?}");
    // A log made in Li's name on another phone (Li's actor, the forger's own key), never seen
    // by the server either: refused, nothing stored.
    let forger = forger_of(&server, li.store());
    let forged = forger.create(&new_log()).unwrap();
    forger.execute(forged, &entry("the east path is closed (not true)")).unwrap();
    let outcome = push_as(&server, &wang, push_of(&forger, forged, &[], true)).await;
    assert_eq!(outcome_code(&outcome), Some("bad_signature"), "{outcome:?}");
    assert_eq!(storage_len(&server).await, 0, "nothing of the forged relays is stored");

    // Wang's own sync relays Li's log as it is: taken as Li's, each signature Li's.
    let s = wang.sync_now(None).await.unwrap();
    assert_eq!((s.docs_rejected, s.docs_failed), (0, 0), "{s:?}");
    let logged = server.running.server().storage().audit(0, 1000).await.unwrap();
    let mut doc = li.store().load(log).unwrap();
    assert_eq!(logged.len(), doc.get_changes(&[]).len(), "every change of Li's log");
    let li_key = li.store().device_key().unwrap().public_key();
    for e in &logged {
        assert_eq!(e.actor, li.store().identity().actor.to_bytes());
        assert_eq!(e.device.as_deref(), Some(device_of(&li).as_str()), "logged as Li's");
        let sig = fieldsync_core::authorship::Signature(e.sig.clone().unwrap().try_into().unwrap());
        fieldsync_core::authorship::verify(&li_key, &ChangeHash(e.hash), &sig).unwrap();
    }
    // When Li reaches the server at last, everything is known: nothing refused, nothing twice.
    let s = li.sync_now(None).await.unwrap();
    assert_eq!((s.docs_rejected, s.docs_failed), (0, 0), "{s:?}");
    assert_eq!(storage_len(&server).await, logged.len());
    assert_eq!(entries(li.store(), log), entries(wang.store(), log));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_change_its_author_may_no_longer_make_is_listed_stale_under_them() {
    let server = start().await;
    let [li, wang, _] = team(&server).await;
    // Sun patrols the area but is not on the log's team: the area is what lets Sun write to it.
    let sun = patrol_phone(&server, "police-sun").await;
    let log = li.store().create(&new_log()).unwrap();
    li.sync_now(None).await.unwrap();
    for p in [&wang, &sun] {
        p.sync_now(None).await.unwrap();
    }
    let created = wang.store().heads(log).unwrap();
    // Offline, Sun adds an entry under the rights Sun's credential names; Wang takes it.
    sun.store().execute(log, &entry("rockfall at the east bend")).unwrap();
    met(sun.store(), wang.store()).await;
    // Meanwhile the server moves Sun to another area: the entry is no longer Sun's to make.
    let accounts = server.running.server().accounts();
    accounts.set_scopes("police-sun", &["jl/valley/area-02".to_string()]).unwrap();
    let storage = server.running.server().storage();
    let before = storage_len(&server).await;

    // Without Sun's credential the server cannot tell when Sun was entitled: forbidden.
    let bare = push_of(wang.store(), log, &created, true);
    let sun_actor = sun.store().identity().actor.to_bytes().to_vec();
    assert_eq!(bare.signed.iter().map(|g| &g.actor).collect::<Vec<_>>(), vec![&sun_actor]);
    let outcome = push_as(&server, &wang, bare.clone()).await;
    assert_eq!(outcome_code(&outcome), Some("forbidden"), "{outcome:?}");
    // Nor with a credential this server did not sign.
    let now = fieldsync_core::time::now_ms();
    let counterfeit = fieldsync_core::peer::Issuer::generate().credential(
        &fieldsync_core::peer::CredentialBody {
            device: device_of(&sun),
            user: "police-sun".into(),
            role: Role::Patrol.as_str().into(),
            patrol: Some(PatrolKind::Police.as_str().into()),
            scopes: vec![AREA.into()],
            actor: serde_bytes::ByteBuf::from(sun_actor.clone()),
            issued_at: now,
            expires_at: now + 60_000,
            key: Some(serde_bytes::ByteBuf::from(
                sun.store().device_key().unwrap().public_key().to_vec(),
            )),
        },
    );
    let mut forged = bare;
    forged.signed[0].credential = Some(counterfeit);
    let outcome = push_as(&server, &wang, forged).await;
    assert_eq!(outcome_code(&outcome), Some("forbidden"), "{outcome:?}");
    assert!(storage.refusals(vec![], 0, 100).await.unwrap().is_empty(), "forbidden is not listed");

    // Wang's phone pushes Sun's change with the credential Sun showed it: the server's own word
    // that Sun could write there then. Refused as stale, and listed under Sun, not Wang.
    let s = wang.sync_now(None).await.unwrap();
    assert_eq!(s.docs_rejected, 1, "{s:?}");
    let listed = storage.refusals(vec![], 0, 100).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0].refused;
    assert_eq!((r.doc, r.code.as_str()), (log, "stale_rights"));
    assert_eq!((r.device.as_str(), r.user.as_str()), (device_of(&sun).as_str(), "police-sun"));
    assert_eq!(r.scope, AREA);
    assert_eq!(storage_len(&server).await, before, "nothing of the refused change is stored");
}

/// A phone of the forger's own, enrolled in Li's name (Li's user and actor) but holding a
/// device key of its own, not Li's: what it signs is not Li's.
fn forger_of(server: &TestServer, li: &Store) -> Store {
    let forger = Store::open(server.dir.path().join("forger.db")).unwrap();
    let profile = Profile {
        user: TEAM[0].into(),
        role: Role::Patrol,
        patrol: Some(PatrolKind::Police),
        scopes: vec![AREA.into()],
    };
    let enrollment =
        Enrollment { device: "forger".into(), token: "none".into(), profile, server: None };
    forger.save_enrollment(&enrollment, li.identity().actor).unwrap();
    forger.device_key().unwrap();
    forger
}
