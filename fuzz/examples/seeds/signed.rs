//! Seeds of what signed changes add to the wire (docs/peer.md, "Signed changes"): sync requests
//! of version 2 whose pushes carry `signed` (the pusher's own signatures, and a relayed
//! author's with their credential), a version-2 answer with signatures and authors'
//! credentials, and every frame of a peer session in envelope version 3 (`corpus/peer/`, whole
//! frames with no mode byte).

use std::path::Path;

use automerge::{AutoCommit, Change};
use fieldsync_core::Store;
use fieldsync_core::authorship::{ChangeSig, DeviceKey};
use fieldsync_core::peer::proof::Nonce;
use fieldsync_core::peer::wire::{self, Hello, Item, Message, Offer, Offered, Proof, Refusal};
use fieldsync_core::peer::{Credential, CredentialBody, Issuer, Revocations};
use fieldsync_core::protocol::{
    self, PullDoc, PushDoc, SYNC_VERSION, SignedBy, SyncRequest, SyncResponse,
};
use fieldsync_fuzz::input::{Fixture, GRID};
use fieldsync_server::fuzzing::Author;
use serde_bytes::ByteBuf;

use super::{Res, Seeds, envelope_seed};

/// The server's key, fixed (the phones' keys are their stores' own).
const ISSUER_SEED: [u8; 32] = [0x5e; 32];
/// A time within every credential's validity (2026-12-01), ms.
const ISSUED_AT: i64 = 1_796_083_200_000;

/// What the signed seeds are made of: the fixture's report as each phone changed it.
pub struct Made<'a> {
    /// The fixture.
    pub f: &'a Fixture,
    /// The report as the server stores it, loaded.
    pub base: &'a AutoCommit,
    /// The dispatcher's phone, which dispatched the report.
    pub dispatcher: &'a Store,
    /// The resident's phone, which commented on it.
    pub resident: &'a Store,
}

fn credential(issuer: &Issuer, who: &Author, role: &str, key: &DeviceKey) -> Credential {
    issuer.credential(&CredentialBody {
        device: who.device.clone(),
        user: who.profile.user.clone(),
        role: role.into(),
        patrol: None,
        scopes: vec![GRID.to_string()],
        actor: ByteBuf::from(who.actor.clone()),
        issued_at: ISSUED_AT,
        expires_at: ISSUED_AT + fieldsync_core::peer::DEFAULT_VALIDITY_MS,
        key: Some(ByteBuf::from(key.public_key().to_vec())),
    })
}

/// `store`'s changes of the report after the server's copy, their bytes and their signatures.
fn changes_of(store: &Store, m: &Made<'_>) -> Res<(Vec<Change>, Vec<u8>, Vec<ChangeSig>)> {
    let mut doc = store.load(m.f.report_id)?;
    let changes: Vec<Change> = doc.get_changes(&m.base.clone().get_heads()).into_iter().collect();
    let bytes = changes.iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
    let sigs = store.signatures_for(&changes)?;
    Ok((changes, bytes, sigs))
}

/// Writes the envelope seeds of signed pushes and answers, and the peer frames.
pub fn write(corpus: &Path, m: &Made<'_>) -> Res<()> {
    let issuer = Issuer::from_seed(&ISSUER_SEED);
    let (d_key, r_key) = (m.dispatcher.device_key()?, m.resident.device_key()?);
    let d_cred = credential(&issuer, &m.f.dispatcher, "dispatcher", &d_key);
    let r_cred = credential(&issuer, &m.f.resident, "resident", &r_key);
    let (_, dispatched, d_sigs) = changes_of(m.dispatcher, m)?;
    let (_, commented, r_sigs) = changes_of(m.resident, m)?;
    let id = m.f.report_id;
    let heads = protocol::to_wire(&m.dispatcher.load(id)?.get_heads());

    let mut s = Seeds::new(corpus, "envelope")?;
    let own =
        SignedBy { actor: m.f.dispatcher.actor.clone(), sigs: d_sigs.clone(), credential: None };
    let relayed = SignedBy {
        actor: m.f.resident.actor.clone(),
        sigs: r_sigs.clone(),
        credential: Some(r_cred.clone()),
    };
    let request = SyncRequest {
        v: SYNC_VERSION,
        epoch: Some("0123456789abcdef".into()),
        cursor: "l42~5f3a".into(),
        actor: m.f.dispatcher.actor.clone(),
        push: vec![PushDoc {
            doc: id,
            changes: [dispatched.clone(), commented.clone()].concat(),
            heads: heads.clone(),
            signed: vec![own.clone(), relayed.clone()],
        }],
        want: vec![],
        page_bytes: 65536,
    };
    envelope_seed(&mut s, "sync-signed", &request)?;
    let bare = SignedBy { credential: None, ..relayed };
    let relay_only = SyncRequest {
        push: vec![PushDoc { doc: id, changes: commented.clone(), heads, signed: vec![bare] }],
        ..request.clone()
    };
    envelope_seed(&mut s, "sync-relayed-no-credential", &relay_only)?;
    envelope_seed(&mut s, "sync-signed-v1", &SyncRequest { v: 1, ..request })?;
    let answer = SyncResponse {
        v: SYNC_VERSION,
        epoch: "0123456789abcdef".into(),
        results: vec![],
        docs: vec![PullDoc {
            doc: id,
            bytes: commented.clone(),
            whole: false,
            sigs: r_sigs.clone(),
        }],
        cursor: "l43~5f3a".into(),
        more: false,
        remaining: 0,
        rescoped: false,
        widened: false,
        credential: Some(d_cred.clone()),
        revocations: Some(
            issuer
                .revocations(&Revocations { issued_at: ISSUED_AT, devices: vec!["d-lost".into()] }),
        ),
        authors: vec![r_cred.clone()],
    };
    envelope_seed(&mut s, "sync-response-signed", &answer)?;
    println!("envelope (signed): {} seeds", s.count);

    let mut s = Seeds::new(corpus, "peer")?;
    let doc = ByteBuf::from(id.as_bytes().to_vec());
    let hello = Hello {
        credential: d_cred.clone(),
        revocations: answer.revocations.clone(),
        nonce: Nonce([0x4e; 32]),
    };
    s.add_raw("hello", &wire::encode(&Message::Hello(hello.clone())))?;
    let first = Hello { revocations: None, ..hello };
    s.add_raw("hello-no-revocations", &wire::encode(&Message::Hello(first)))?;
    let proof = Proof { sig: d_key.sign(&m.base.clone().get_heads()[0]) };
    s.add_raw("proof", &wire::encode(&Message::Proof(proof)))?;
    let refuse = Refusal { code: "unproven".into(), message: "no proof of the device key".into() };
    s.add_raw("refuse", &wire::encode(&Message::Refuse(refuse)))?;
    let offered = Offered {
        id: doc.clone(),
        heads: m.base.clone().get_heads().iter().map(|h| ByteBuf::from(h.0.to_vec())).collect(),
    };
    let offer = Offer { docs: vec![offered], credentials: vec![d_cred, r_cred] };
    s.add_raw("offer", &wire::encode(&Message::Offer(offer)))?;
    let mut mine = m.dispatcher.load(id)?;
    let mut theirs = m.base.clone();
    let msg = super::message_with_changes(&mut mine, &mut theirs).unwrap_or_default();
    let items = vec![
        Item::Sync { doc: doc.clone(), msg: ByteBuf::from(msg), sigs: d_sigs.clone() },
        Item::Whole {
            doc: doc.clone(),
            bytes: ByteBuf::from(m.resident.load(id)?.save()),
            sigs: r_sigs,
        },
        Item::Refused { doc, rule: "peer.signature".into(), message: "no signature".into() },
    ];
    s.add_raw("round", &wire::encode(&Message::Round(items)))?;
    s.add_raw("round-empty", &wire::encode(&Message::Round(vec![])))?;
    let done = wire::encode(&Message::Done);
    s.add_raw("done", &done)?;
    // A version-2 peer's frame: refused as another version.
    let mut v2 = done;
    v2[4] = 2;
    s.add_raw("done-v2", &v2)?;
    println!("peer: {} seeds", s.count);
    Ok(())
}
