//! Phone to phone (docs/peer.md): sessions between stores over loopback TCP, with credentials
//! signed by a test issuer standing in for the server.

use automerge::ActorId;
use std::sync::Arc;

use fieldsync_core::Store;
use fieldsync_core::authorship::{DeviceKey, Signature};
use fieldsync_core::model::{Kind, Record};
use fieldsync_core::peer::proof::Nonce;
use fieldsync_core::peer::{
    Credential, CredentialBody, DEFAULT_VALIDITY_MS, Issuer, PeerError, PeerOptions, PeerOutcome,
    Revocations, meet_on_loopback, proof, sync_with_peer,
};
use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_core::store::Enrollment;
use fieldsync_core::time::now_ms;
use serde_bytes::ByteBuf;

use crate::common::{GRID, entry, new_patrol, new_report};

/// A phone enrolled as `user` with `role`, holding a credential `issuer` signed that expires
/// `valid_ms` from now.
fn phone(dir: &tempfile::TempDir, issuer: &Issuer, user: &str, role: Role, valid_ms: i64) -> Store {
    let store = Store::open(dir.path().join(format!("{user}.db"))).unwrap();
    let actor = ActorId::random();
    let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
    let profile = Profile { user: user.into(), role, patrol, scopes: vec![GRID.to_string()] };
    let enrollment =
        Enrollment { device: format!("dev-{user}"), token: "token".into(), profile, server: None };
    store.save_enrollment(&enrollment, actor).unwrap();
    store.pin_server_key(&issuer.public_key()).unwrap();
    store.save_credential(&credential_of(issuer, &store, role, valid_ms)).unwrap();
    store
}

/// The credential `issuer` signs for the phone `store` (its user, actor and device key) as a
/// member with `role`, expiring `valid_ms` from now.
fn credential_of(issuer: &Issuer, store: &Store, role: Role, valid_ms: i64) -> Credential {
    let user = store.identity().user;
    let patrol = (role == Role::Patrol).then_some(PatrolKind::Police);
    let now = now_ms();
    issuer.credential(&CredentialBody {
        device: format!("dev-{user}"),
        user,
        role: role.as_str().into(),
        patrol: patrol.map(|p| p.as_str().to_string()),
        scopes: vec![GRID.to_string()],
        actor: ByteBuf::from(store.identity().actor.to_bytes().to_vec()),
        issued_at: now,
        expires_at: now + valid_ms,
        key: Some(ByteBuf::from(store.device_key().unwrap().public_key().to_vec())),
    })
}

/// Runs a session between `a` and `b` over loopback TCP.
async fn meet(
    a: &Store,
    b: &Store,
) -> (Result<PeerOutcome, PeerError>, Result<PeerOutcome, PeerError>) {
    meet_on_loopback(a, b, &PeerOptions::default()).await
}

async fn met(a: &Store, b: &Store) -> (PeerOutcome, PeerOutcome) {
    let (x, y) = meet(a, b).await;
    (x.unwrap(), y.unwrap())
}

fn entries(store: &Store, id: fieldsync_core::DocId) -> Vec<(String, String)> {
    let Record::PatrolLog { patrol_log } = store.get(id).unwrap() else { panic!("not a patrol") };
    let mut out: Vec<_> = patrol_log.entries.into_iter().map(|e| (e.by, e.text)).collect();
    out.sort();
    out
}

#[tokio::test]
async fn three_patrol_phones_converge_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Issuer::generate();
    let li = phone(&dir, &server, "police-li", Role::Patrol, DEFAULT_VALIDITY_MS);
    let wang = phone(&dir, &server, "cadre-wang", Role::Patrol, DEFAULT_VALIDITY_MS);
    let zhao = phone(&dir, &server, "vol-zhao", Role::Patrol, DEFAULT_VALIDITY_MS);
    let log = li.create(&new_patrol()).unwrap();

    // The log reaches the others whole.
    let (sent, got) = met(&li, &wang).await;
    assert_eq!((sent.sent_whole, got.received), (1, 1));
    met(&wang, &zhao).await;
    assert_eq!(zhao.kind_of(log).unwrap(), Kind::PatrolLog);

    // Each adds entries offline, then they meet pairwise.
    li.execute(log, &entry("north gate clear")).unwrap();
    wang.execute(log, &entry("tourist helped at the pier")).unwrap();
    wang.execute(log, &entry("loose railing")).unwrap();
    zhao.execute(log, &entry("fallen tree on the east path")).unwrap();
    let (a, b) = met(&li, &wang).await;
    assert!(a.refused.is_empty() && b.refused.is_empty(), "{a:?} {b:?}");
    // Zhao gets Li's entry through Wang: judged under Li's credential, which Wang passed on.
    let (b, c) = met(&wang, &zhao).await;
    assert!(b.refused.is_empty() && c.refused.is_empty(), "{b:?} {c:?}");
    met(&zhao, &li).await;

    let want = vec![
        ("cadre-wang".to_string(), "loose railing".to_string()),
        ("cadre-wang".into(), "tourist helped at the pier".into()),
        ("police-li".into(), "north gate clear".into()),
        ("vol-zhao".into(), "fallen tree on the east path".into()),
    ];
    for phone in [&li, &wang, &zhao] {
        assert_eq!(entries(phone, log), want);
    }
    let mut heads: Vec<_> = [&li, &wang, &zhao].iter().map(|p| p.heads(log).unwrap()).collect();
    heads.dedup();
    assert_eq!(heads.len(), 1, "the three phones hold the same document");

    // Meeting again with nothing new sends no document.
    let (a, b) = met(&li, &wang).await;
    assert_eq!((a.sent_whole, a.received, b.received, a.rounds), (0, 0, 0, 1));
}

#[tokio::test]
async fn a_resident_receives_nothing_it_may_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = Issuer::generate();
    let li = phone(&dir, &server, "police-li", Role::Patrol, DEFAULT_VALIDITY_MS);
    let resident = phone(&dir, &server, "res-sun", Role::Resident, DEFAULT_VALIDITY_MS);
    li.create(&new_patrol()).unwrap();
    let report = resident.create(&new_report("rubbish by the gate")).unwrap();
    let (patrol_side, resident_side) = met(&li, &resident).await;
    assert_eq!(patrol_side.offered, 0, "nothing of the patrol's is for a resident");
    assert_eq!(resident_side.received, 0);
    assert_eq!(resident.doc_ids().unwrap(), vec![report]);
}

#[tokio::test]
async fn expired_forged_and_revoked_credentials_get_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Issuer::generate();
    let li = phone(&dir, &server, "police-li", Role::Patrol, DEFAULT_VALIDITY_MS);
    li.create(&new_patrol()).unwrap();

    let expired = phone(&dir, &server, "cadre-wang", Role::Patrol, -1);
    let (checker, shown) = meet(&li, &expired).await;
    assert!(
        matches!(checker, Err(PeerError::Refused(ref r)) if r.code() == "expired"),
        "{checker:?}"
    );
    assert!(matches!(shown, Err(PeerError::RefusedByPeer { ref code, .. }) if code == "expired"));
    assert!(expired.doc_ids().unwrap().is_empty());

    // A phone whose credential another key signed: it pinned that key, the patrol did not.
    let impostor = phone(&dir, &Issuer::generate(), "vol-zhao", Role::Patrol, DEFAULT_VALIDITY_MS);
    let (checker, shown) = meet(&li, &impostor).await;
    assert!(matches!(checker, Err(PeerError::Refused(ref r)) if r.code() == "forged"));
    assert!(matches!(shown, Err(PeerError::Refused(ref r)) if r.code() == "forged"));
    assert!(impostor.doc_ids().unwrap().is_empty());

    // Revoked at the server: the list Li got at its last sync refuses the device, and a phone
    // Li meets takes the newer list on.
    let stolen = phone(&dir, &server, "vol-qian", Role::Patrol, DEFAULT_VALIDITY_MS);
    let list = Revocations { issued_at: now_ms(), devices: vec!["dev-vol-qian".into()] };
    assert!(li.save_revocations(&server.revocations(&list)).unwrap());
    let (checker, shown) = meet(&li, &stolen).await;
    assert!(matches!(checker, Err(PeerError::Refused(ref r)) if r.code() == "revoked"));
    assert!(matches!(shown, Err(PeerError::RefusedByPeer { ref code, .. }) if code == "revoked"));
    assert!(stolen.doc_ids().unwrap().is_empty());
    let wang = phone(&dir, &server, "cadre-zhou", Role::Patrol, DEFAULT_VALIDITY_MS);
    met(&li, &wang).await;
    let (checker, _) = meet(&wang, &stolen).await;
    assert!(matches!(checker, Err(PeerError::Refused(ref r)) if r.code() == "revoked"));
}

#[tokio::test]
async fn a_stolen_credential_without_its_device_key_gets_nothing() {
    use fieldsync_core::peer::wire::{self, Message};
    let dir = tempfile::tempdir().unwrap();
    let server = Issuer::generate();
    let li = phone(&dir, &server, "police-li", Role::Patrol, DEFAULT_VALIDITY_MS);
    let wang = phone(&dir, &server, "cadre-wang", Role::Patrol, DEFAULT_VALIDITY_MS);
    wang.create(&new_patrol()).unwrap();
    // A thief holds Li's credential (any phone Li met does, and it travels in offers) but not
    // Li's device key: it proves with a key of its own, or with nothing.
    let stolen = credential_of(&server, &li, Role::Patrol, DEFAULT_VALIDITY_MS);
    for key in [Some(Arc::new(DeviceKey::generate())), None] {
        let thief = Shown { credential: stolen.clone(), key };
        let (mine, mut theirs) = fieldsync_core::peer::memory_pair();
        let checker = &wang;
        let session = async move {
            let mut mine = mine;
            sync_with_peer(checker, &mut mine, &PeerOptions::default()).await
        };
        let thief = async move {
            // What comes after Wang's hello: Wang's proof, then the refusal, then nothing.
            let mut got = vec![greet(&mut theirs, &thief).await.unwrap()];
            while let Ok(frame) = fieldsync_core::peer::PeerLink::receive(&mut theirs).await {
                got.push(wire::decode(&frame).unwrap());
            }
            got
        };
        let (outcome, got) = tokio::join!(session, thief);
        assert!(
            matches!(outcome, Err(PeerError::Refused(ref r)) if r.code() == "unproven"),
            "{outcome:?}"
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(got[0], Message::Proof(_)), "{got:?}");
        assert!(matches!(got[1], Message::Refuse(ref r) if r.code == "unproven"), "{got:?}");
    }
    // Li itself, with its key, is let in.
    let (a, b) = met(&li, &wang).await;
    assert_eq!((a.received, b.sent_whole), (1, 1));
}

/// Who a hand-driven peer says it is: a credential, and the device key it proves it with
/// (`None`: it does not hold one, and its proof is zeros).
struct Shown {
    credential: Credential,
    key: Option<Arc<DeviceKey>>,
}

impl Shown {
    /// The patrol phone `store`'s credential from `issuer`, proven with its own key.
    fn of(issuer: &Issuer, store: &Store) -> Shown {
        let role = Role::Patrol;
        Shown {
            credential: credential_of(issuer, store, role, DEFAULT_VALIDITY_MS),
            key: Some(store.device_key().unwrap()),
        }
    }
}

/// A peer driven by hand: it says hello as `shown`, proves its key, offers nothing, then sends
/// `frames` as its rounds, and then nothing until the other side ends.
async fn hostile_peer(
    mut link: impl fieldsync_core::peer::PeerLink,
    shown: Shown,
    credentials: Vec<Credential>,
    frames: Vec<Vec<u8>>,
) -> Result<(), fieldsync_core::peer::LinkError> {
    use fieldsync_core::peer::wire::{self, Message, Offer};
    greet(&mut link, &shown).await?;
    link.send(wire::encode(&Message::Offer(Offer { docs: vec![], credentials }))).await?;
    link.receive().await?;
    for f in frames {
        link.send(f).await?;
        link.receive().await?;
    }
    loop {
        link.send(wire::encode(&Message::Done)).await?;
        link.receive().await?;
    }
}

/// Says hello as `shown` and answers the other side's challenge with `shown`'s key (zeros
/// without one); returns what came after the other's hello.
async fn greet(
    link: &mut impl fieldsync_core::peer::PeerLink,
    shown: &Shown,
) -> Result<fieldsync_core::peer::wire::Message, fieldsync_core::peer::LinkError> {
    use fieldsync_core::peer::wire::{self, Hello, Message, Proof};
    let nonce = Nonce::random();
    let hello = Hello { credential: shown.credential.clone(), revocations: None, nonce };
    link.send(wire::encode(&Message::Hello(hello))).await?;
    let Ok(Message::Hello(theirs)) = wire::decode(&link.receive().await?) else {
        return Err(fieldsync_core::peer::LinkError::Closed);
    };
    let sig = match &shown.key {
        Some(k) => proof::prove(k, &theirs.nonce, &nonce, &shown.credential, &theirs.credential),
        None => Signature([0; 64]),
    };
    link.send(wire::encode(&Message::Proof(Proof { sig }))).await?;
    wire::decode(&link.receive().await?).map_err(|_| fieldsync_core::peer::LinkError::Closed)
}

/// The session of `store` against [`hostile_peer`].
async fn against_hostile(
    store: &Store,
    shown: Shown,
    frames: Vec<Vec<u8>>,
) -> Result<PeerOutcome, PeerError> {
    against_hostile_relaying(store, shown, vec![], frames).await
}

/// [`against_hostile`], the hostile peer passing on `credentials` in its offer.
async fn against_hostile_relaying(
    store: &Store,
    shown: Shown,
    credentials: Vec<Credential>,
    frames: Vec<Vec<u8>>,
) -> Result<PeerOutcome, PeerError> {
    let (mine, theirs) = fieldsync_core::peer::memory_pair();
    let options = PeerOptions { max_rounds: 8, ..PeerOptions::default() };
    // The session owns its end, so the hostile peer hears it close when the session ends.
    let session = async move {
        let mut mine = mine;
        sync_with_peer(store, &mut mine, &options).await
    };
    let (outcome, _) = tokio::join!(session, hostile_peer(theirs, shown, credentials, frames));
    outcome
}

/// A patrol member `user` of `server` without a store behind it, with a device key of its own.
fn patrol_hello(server: &Issuer, user: &str, actor: &ActorId) -> Shown {
    let key = Arc::new(DeviceKey::generate());
    let now = now_ms();
    Shown {
        credential: server.credential(&CredentialBody {
            device: format!("dev-{user}"),
            user: user.into(),
            role: "patrol".into(),
            patrol: Some("police".into()),
            scopes: vec![GRID.to_string()],
            actor: ByteBuf::from(actor.to_bytes().to_vec()),
            issued_at: now,
            expires_at: now + DEFAULT_VALIDITY_MS,
            key: Some(ByteBuf::from(key.public_key().to_vec())),
        }),
        key: Some(key),
    }
}

#[tokio::test]
async fn a_document_pushed_at_a_resident_is_refused_and_not_stored() {
    use fieldsync_core::peer::wire::{self, Item, Message};
    let dir = tempfile::tempdir().unwrap();
    let server = Issuer::generate();
    let li = phone(&dir, &server, "police-li", Role::Patrol, DEFAULT_VALIDITY_MS);
    let resident = phone(&dir, &server, "res-sun", Role::Resident, DEFAULT_VALIDITY_MS);
    let log = li.create(&new_patrol()).unwrap();
    let push = Message::Round(vec![Item::Whole {
        doc: ByteBuf::from(log.as_bytes().to_vec()),
        bytes: ByteBuf::from(li.saved_bytes(log).unwrap()),
        sigs: li.signatures_for(&li.load(log).unwrap().get_changes(&[])).unwrap(),
    }]);
    let outcome = against_hostile(&resident, Shown::of(&server, &li), vec![wire::encode(&push)])
        .await
        .unwrap();
    assert_eq!(outcome.refused.len(), 1, "{outcome:?}");
    assert_eq!(outcome.refused[0].rule, "read");
    assert!(resident.doc_ids().unwrap().is_empty());

    // A change in someone else's name (an actor no credential names) is refused too.
    let wang = phone(&dir, &server, "cadre-wang", Role::Patrol, DEFAULT_VALIDITY_MS);
    let hello = patrol_hello(&server, "vol-zhao", &ActorId::random());
    let outcome = against_hostile(&wang, hello, vec![wire::encode(&push)]).await.unwrap();
    assert_eq!(outcome.refused.first().map(|r| r.rule.as_str()), Some("peer.author"));
    assert!(wang.doc_ids().unwrap().is_empty());
}

#[tokio::test]
async fn a_change_forged_in_another_members_name_is_refused_but_a_true_relay_is_taken() {
    use fieldsync_core::peer::wire::{self, Item, Message};
    let dir = tempfile::tempdir().unwrap();
    let server = Issuer::generate();
    let li = phone(&dir, &server, "police-li", Role::Patrol, DEFAULT_VALIDITY_MS);
    let wang = phone(&dir, &server, "cadre-wang", Role::Patrol, DEFAULT_VALIDITY_MS);
    let zhao = phone(&dir, &server, "vol-zhao", Role::Patrol, DEFAULT_VALIDITY_MS);
    let log = li.create(&new_patrol()).unwrap();
    met(&li, &zhao).await;

    // Wang writes an entry with Li's actor and user on a phone of his own (it holds Wang's
    // device key, not Li's), and relays it with Li's credential, which any phone Li met holds.
    let forger = Store::open(dir.path().join("forger.db")).unwrap();
    let profile = Profile {
        user: "police-li".into(),
        role: Role::Patrol,
        patrol: Some(PatrolKind::Police),
        scopes: vec![GRID.to_string()],
    };
    let enrollment =
        Enrollment { device: "dev-forger".into(), token: "t".into(), profile, server: None };
    forger.save_enrollment(&enrollment, li.identity().actor).unwrap();
    forger.merge_remote(log, &li.saved_bytes(log).unwrap()).unwrap();
    let before = forger.heads(log).unwrap();
    forger.execute(log, &entry("the east path is closed (not true)")).unwrap();
    let forged = forger.load(log).unwrap().get_changes(&before);
    assert_eq!(forged[0].actor_id(), &li.identity().actor, "the change claims to be Li's");
    let round = |sigs| {
        wire::encode(&Message::Round(vec![Item::Whole {
            doc: ByteBuf::from(log.as_bytes().to_vec()),
            bytes: ByteBuf::from(forger.saved_bytes(log).unwrap()),
            sigs,
        }]))
    };
    let hello = || Shown::of(&server, &wang);
    let li_credential = credential_of(&server, &li, Role::Patrol, DEFAULT_VALIDITY_MS);
    // Signed with the forger's key, and not signed at all: both refused, nothing stored.
    for sigs in [forger.signatures_for(&forged).unwrap(), vec![]] {
        let outcome = against_hostile_relaying(
            &zhao,
            hello(),
            vec![li_credential.clone()],
            vec![round(sigs)],
        )
        .await
        .unwrap();
        assert_eq!(outcome.refused.len(), 1, "{outcome:?}");
        assert_eq!(outcome.refused[0].rule, "peer.signature", "{outcome:?}");
        assert_eq!(zhao.heads(log).unwrap(), before, "nothing of the forged change is stored");
    }

    // Li's true entry, relayed by Wang, is taken as Li's, and Zhao can pass it on signed.
    met(&li, &wang).await;
    li.execute(log, &entry("north gate clear")).unwrap();
    met(&li, &wang).await;
    let (b, c) = met(&wang, &zhao).await;
    assert!(b.refused.is_empty() && c.refused.is_empty(), "{b:?} {c:?}");
    assert!(entries(&zhao, log).contains(&("police-li".into(), "north gate clear".into())));
    let relayed = zhao.load(log).unwrap().get_changes(&before);
    let sigs = zhao.signatures_for(&relayed).unwrap();
    assert_eq!(sigs.len(), relayed.len(), "Zhao holds Li's signatures to pass on");
}

mod hostile {
    use fieldsync_core::authorship::ChangeSig;
    use fieldsync_core::peer::wire::{self, Item, Message};
    use proptest::prelude::*;

    use super::*;

    /// Signatures of random changes: random bytes where a signature goes.
    fn sigs() -> impl Strategy<Value = Vec<ChangeSig>> {
        proptest::collection::vec(
            (any::<[u8; 32]>(), proptest::collection::vec(any::<u8>(), 64..=64)).prop_map(
                |(h, s)| ChangeSig {
                    hash: fieldsync_core::protocol::Hash(h),
                    sig: Signature(s.try_into().unwrap()),
                },
            ),
            0..3,
        )
    }

    fn item() -> impl Strategy<Value = Item> {
        let bytes = proptest::collection::vec(any::<u8>(), 0..300);
        let id = proptest::collection::vec(any::<u8>(), 15..18);
        prop_oneof![
            (id.clone(), bytes.clone(), sigs()).prop_map(|(d, m, sigs)| Item::Sync {
                doc: ByteBuf::from(d),
                msg: ByteBuf::from(m),
                sigs
            }),
            (id.clone(), bytes, sigs()).prop_map(|(d, b, sigs)| Item::Whole {
                doc: ByteBuf::from(d),
                bytes: ByteBuf::from(b),
                sigs
            }),
            id.prop_map(|d| Item::Refused {
                doc: ByteBuf::from(d),
                rule: "x".into(),
                message: String::new()
            }),
        ]
    }

    fn frame() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(item(), 0..4).prop_map(|i| wire::encode(&Message::Round(i))),
            // At least a header's worth: a stream link waits for a whole header.
            proptest::collection::vec(any::<u8>(), 9..64),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        /// Hostile bytes after a valid hello end the session with a typed error or refusals,
        /// never a panic, and store nothing.
        #[test]
        fn hostile_rounds_give_typed_errors(frames in proptest::collection::vec(frame(), 1..4)) {
            let dir = tempfile::tempdir().unwrap();
            let server = Issuer::generate();
            let li = phone(&dir, &server, "police-li", Role::Patrol, DEFAULT_VALIDITY_MS);
            let hello = patrol_hello(&server, "cadre-wang", &ActorId::random());
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            match rt.block_on(against_hostile(&li, hello, frames)) {
                Ok(_) | Err(PeerError::Decode(_) | PeerError::Malformed(_) | PeerError::Link(_)) => {}
                Err(e) => prop_assert!(false, "unexpected error {e:?}"),
            }
            prop_assert!(li.doc_ids().unwrap().is_empty());
        }
    }
}

/// A link that fails once it has received `left` frames: a session cut in the middle.
struct CutAfter<L> {
    inner: L,
    left: usize,
}

impl<L: fieldsync_core::peer::PeerLink> fieldsync_core::peer::PeerLink for CutAfter<L> {
    async fn send(&mut self, frame: Vec<u8>) -> Result<(), fieldsync_core::peer::LinkError> {
        self.inner.send(frame).await
    }

    async fn receive(&mut self) -> Result<Vec<u8>, fieldsync_core::peer::LinkError> {
        if self.left == 0 {
            return Err(fieldsync_core::peer::LinkError::Closed);
        }
        self.left -= 1;
        self.inner.receive().await
    }
}

#[tokio::test]
async fn a_session_cut_in_the_middle_resumes_without_resending_what_was_applied() {
    let dir = tempfile::tempdir().unwrap();
    let server = Issuer::generate();
    let li = phone(&dir, &server, "police-li", Role::Patrol, DEFAULT_VALIDITY_MS);
    let wang = phone(&dir, &server, "cadre-wang", Role::Patrol, DEFAULT_VALIDITY_MS);
    for _ in 0..12 {
        li.create(&new_patrol()).unwrap();
    }
    // Small rounds: a few documents each.
    let options = PeerOptions { round_bytes: 2_000, ..PeerOptions::default() };
    let (a, b) = fieldsync_core::peer::memory_pair();
    // Wang's side hears the hello, the proof, the offer and two rounds, then the link drops.
    let cut = async {
        let mut link = CutAfter { inner: b, left: 5 };
        sync_with_peer(&wang, &mut link, &options).await
    };
    let whole = async {
        let mut link = a;
        sync_with_peer(&li, &mut link, &options).await
    };
    let (cut, _) = tokio::join!(cut, whole);
    assert!(matches!(cut, Err(PeerError::Link(_))), "{cut:?}");
    let applied = wang.doc_ids().unwrap().len();
    assert!(applied > 0 && applied < 12, "{applied} documents applied before the cut");

    let (sent, got) = meet_on_loopback(&li, &wang, &options).await;
    let (sent, got) = (sent.unwrap(), got.unwrap());
    assert_eq!(sent.sent_whole, 12 - applied, "what was applied is not sent again");
    assert_eq!(got.received, 12 - applied);
    assert_eq!(wang.doc_ids().unwrap().len(), 12);
}
