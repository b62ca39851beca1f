//! Requests that break a rule: valid bytes in the wrong place, forged actors, wrong ids,
//! versions, cursors and counts.

use super::*;

/// Valid bytes in the wrong place, or requests that break a rule.
#[derive(Debug, Clone)]
pub(crate) enum Attack {
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

pub(crate) fn attack(materials: usize) -> impl Strategy<Value = Attack> {
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
    pub(crate) fn attack(
        &self,
        attack: &Attack,
    ) -> (Sender, Endpoint, Vec<u8>, Option<&'static str>) {
        let a = &self.author;
        let epoch = Some(self.epoch.clone());
        let sync = |req: &SyncRequest| protocol::encode(req);
        let push_of = |m: &Material, doc: DocId| PushDoc {
            doc,
            changes: m.bytes.clone(),
            heads: m.heads.clone(),
            signed: vec![],
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
                        keep_user: None,
                        device_key: None,
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
                    .map(|_| PushDoc {
                        doc: DocId::random(),
                        changes: vec![],
                        heads: vec![],
                        signed: vec![],
                    })
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
                    signed: vec![],
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
                let push = PushDoc { doc, changes, heads: vec![], signed: vec![] };
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
                    signed: vec![],
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
