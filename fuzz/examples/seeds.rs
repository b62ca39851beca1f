//! Writes the fuzz fixture (`fuzz/fixtures/`: a real report made by core's store, the people
//! and their actors) when it is missing or with `--fresh`, then seed inputs for each target
//! (`fuzz/corpus/<target>/seed-*`) made from real messages: the changes and sync messages that
//! phones running real commands on the fixture's report send, and the requests and answers of
//! every endpoint. Run `cargo fuzz cmin <target>` afterwards to keep the corpus small.
//!
//! Usage: `cargo run --release --example seeds [-- --fresh]` (from `fuzz/`).

use std::io::Read;
use std::path::{Path, PathBuf};

use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, AutoCommit, ChangeHash};
use fieldsync_core::Store;
use fieldsync_core::model::{Command, Location, NewRecord, NewReport, ReportCategory};
use fieldsync_core::protocol::{
    self, DeviceInfo, EnrollRequest, EnrollResponse, PullDoc, PushDoc, PushOutcome, PushResult,
    ReconcileRequest, ReconcileResponse, SyncMessage, SyncRequest, SyncResponse, VERSION,
    VisibleRequest, VisibleResponse,
};
use fieldsync_fuzz::input::{Fixture, GRID};

#[path = "seeds/signed.rs"]
mod signed;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn new_report(title: &str) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.to_string(),
            category: ReportCategory::IllegalConstruction,
            title: title.to_string(),
            description: "屋顶违章搭建，约20平方米".to_string(),
            location: Some(Location {
                lat: 43.88,
                lon: 125.32,
                accuracy: 8.0,
                address: "新华小区7号楼".to_string(),
            }),
            photos: vec![],
        },
    }
}

fn phone(dir: &Path, name: &str, user: &str, actor: Option<&[u8]>) -> Res<Store> {
    let store = Store::open(dir.join(format!("{name}.db")))?;
    store.set_user(user)?;
    if let Some(a) = actor {
        store.set_actor(ActorId::from(a))?;
    }
    Ok(store)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes the fixture: a resident's report with a comment of theirs, saved compactly as the
/// server stores it, and a second resident's report (a document the phone does not hold).
fn make_fixture(fixtures: &Path, tmp: &Path) -> Res<()> {
    let resident = phone(tmp, "fixture-resident", "resident-1", None)?;
    let report = resident.create(&new_report("roof-top building"))?;
    resident
        .execute(report, &Command::CommentReport { text: "still there this morning".into() })?;
    let other = phone(tmp, "fixture-other", "resident-2", None)?;
    let new = other.create(&new_report("blocked fire lane"))?;
    let dispatcher_actor = ActorId::random();
    std::fs::create_dir_all(fixtures)?;
    std::fs::write(fixtures.join("report.automerge"), resident.load(report)?.save())?;
    std::fs::write(fixtures.join("new.automerge"), other.load(new)?.save())?;
    let people = format!(
        "resident resident-1 {}\ndispatcher dispatcher-1 {}\nreport {report}\nnew {new}\n",
        hex(resident.identity().actor.to_bytes()),
        hex(dispatcher_actor.to_bytes()),
    );
    std::fs::write(fixtures.join("people.txt"), people)?;
    Ok(())
}

struct Seeds {
    dir: PathBuf,
    count: usize,
}

impl Seeds {
    fn new(corpus: &Path, target: &str) -> Res<Seeds> {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir)?;
        Ok(Seeds { dir, count: 0 })
    }

    fn add(&mut self, name: &str, mode: u8, payload: &[u8]) -> Res<()> {
        let mut data = Vec::with_capacity(payload.len() + 1);
        data.push(mode);
        data.extend_from_slice(payload);
        std::fs::write(self.dir.join(format!("seed-{name}")), data)?;
        self.count += 1;
        Ok(())
    }

    /// A seed with no mode byte (a target that takes its input as it comes, `peer`).
    fn add_raw(&mut self, name: &str, data: &[u8]) -> Res<()> {
        std::fs::write(self.dir.join(format!("seed-{name}")), data)?;
        self.count += 1;
        Ok(())
    }
}

fn changes_after(doc: &mut AutoCommit, after: &[ChangeHash]) -> Vec<u8> {
    doc.get_changes(after).iter().flat_map(|c| c.raw_bytes().to_vec()).collect()
}

/// The first message of `client` that carries changes, in a conversation with `server` over
/// Automerge's sync protocol (what a phone sends during a reconcile).
fn message_with_changes(client: &mut AutoCommit, server: &mut AutoCommit) -> Option<Vec<u8>> {
    let (mut cs, mut ss) = (sync::State::new(), sync::State::new());
    for _ in 0..6 {
        let m = client.sync().generate_sync_message(&mut cs)?;
        let has_changes = !m.changes.is_empty();
        let bytes = m.clone().encode();
        if has_changes {
            return Some(bytes);
        }
        server.sync().receive_sync_message(&mut ss, m).ok()?;
        if let Some(answer) = server.sync().generate_sync_message(&mut ss) {
            client.sync().receive_sync_message(&mut cs, answer).ok()?;
        }
    }
    None
}

fn inflate(body: &[u8]) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body).read_to_end(&mut out)?;
    Ok(out)
}

/// An envelope seed in two forms: the gzip body as sent (mode 0) and its CBOR (mode 1).
fn envelope_seed<T: serde::Serialize>(s: &mut Seeds, name: &str, msg: &T) -> Res<()> {
    let body = protocol::encode(msg);
    s.add(&format!("{name}-body"), 0, &body)?;
    s.add(&format!("{name}-cbor"), 1, &inflate(&body)?)?;
    Ok(())
}

/// Deterministic pseudo-random bytes for edit scripts.
fn script(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn main() -> Res<()> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = fieldsync_fuzz::fixtures_dir();
    let corpus = fuzz.join("corpus");
    let tmp = tempfile::tempdir()?;
    if std::env::args().any(|a| a == "--fresh") || !fixtures.join("people.txt").exists() {
        make_fixture(&fixtures, tmp.path())?;
        println!("wrote a new fixture in {}", fixtures.display());
    }
    let f = Fixture::load(&fixtures)?;
    let new_doc = std::fs::read(fixtures.join("new.automerge"))?;
    let id = f.report_id;
    let mut base = AutoCommit::load(&f.report)?;
    let base_heads = base.get_heads();
    let all_changes = changes_after(&mut base, &[]);

    // The dispatcher's phone holds the report as synced and runs real commands on it; the
    // resident's phone comments.
    let dispatcher =
        phone(tmp.path(), "dispatcher", &f.dispatcher.profile.user, Some(&f.dispatcher.actor))?;
    dispatcher.merge_remote(id, &f.report)?;
    dispatcher.execute(id, &Command::AcceptReport { note: "on it".into() })?;
    let accepted = changes_after(&mut dispatcher.load(id)?, &base_heads);
    dispatcher.execute(
        id,
        &Command::DispatchReport {
            assignee: "officer-1".into(),
            deadline: fieldsync_core::time::Timestamp::from_millis(1_900_000_000_000),
            note: String::new(),
        },
    )?;
    let dispatched = changes_after(&mut dispatcher.load(id)?, &base_heads);
    let dispatched_whole = dispatcher.load(id)?.save();
    let rejecter =
        phone(tmp.path(), "rejecter", &f.dispatcher.profile.user, Some(&f.dispatcher.actor))?;
    rejecter.merge_remote(id, &f.report)?;
    rejecter.execute(id, &Command::RejectReport { reason: "not in this grid".into() })?;
    let rejected = changes_after(&mut rejecter.load(id)?, &base_heads);
    rejecter.execute(id, &Command::CommentReport { text: "see the grid office".into() })?;
    let rejected_commented = changes_after(&mut rejecter.load(id)?, &base_heads);
    let resident =
        phone(tmp.path(), "resident", &f.resident.profile.user, Some(&f.resident.actor))?;
    resident.merge_remote(id, &f.report)?;
    resident.execute(id, &Command::CommentReport { text: "a second storey now".into() })?;
    let commented = changes_after(&mut resident.load(id)?, &base_heads);
    // What the resident would push to an empty server: the whole record as changes, and saved.
    let created = all_changes.clone();

    // ingest: mode = doc (0 none, 1 stored, 2 stored + record) + 3 * who (0 none, 1
    // dispatcher, 2 resident) + 9 * form (0 raw, 1 checksums fixed, 2 script) + 27 * path.
    let mut s = Seeds::new(&corpus, "ingest")?;
    for form in [0u8, 1] {
        let m = |doc: u8, who: u8| doc + 3 * who + 9 * form;
        s.add(&format!("f{form}-create-anon"), m(0, 0), &created)?;
        s.add(&format!("f{form}-create-resident"), m(0, 2), &created)?;
        s.add(&format!("f{form}-create-saved"), m(0, 2), &f.report)?;
        s.add(&format!("f{form}-create-forged"), m(0, 1), &created)?;
        for doc in [1u8, 2] {
            s.add(&format!("f{form}-d{doc}-accept"), m(doc, 1), &accepted)?;
            s.add(&format!("f{form}-d{doc}-dispatch"), m(doc, 1), &dispatched)?;
            s.add(&format!("f{form}-d{doc}-reject"), m(doc, 1), &rejected)?;
            s.add(&format!("f{form}-d{doc}-reject-comment"), m(doc, 1), &rejected_commented)?;
            s.add(&format!("f{form}-d{doc}-comment"), m(doc, 2), &commented)?;
            s.add(&format!("f{form}-d{doc}-resident-accepts"), m(doc, 2), &accepted)?;
            s.add(&format!("f{form}-d{doc}-known"), m(doc, 1), &all_changes)?;
            s.add(&format!("f{form}-d{doc}-whole"), m(doc, 1), &dispatched_whole)?;
        }
        s.add(&format!("f{form}-anon-dispatch"), m(1, 0), &dispatched)?;
        s.add(&format!("f{form}-new-doc"), m(0, 2), &new_doc)?;
    }
    for (i, len) in [8usize, 24, 64, 160].into_iter().enumerate() {
        for doc in 0..3u8 {
            for who in 0..3u8 {
                let mode = doc + 3 * who + 18;
                s.add(
                    &format!("script-{i}-d{doc}-w{who}"),
                    mode,
                    &script((i * 9) as u64 + u64::from(mode), len),
                )?;
            }
        }
    }
    // Reconcile: real sync messages of the dispatcher (raw, path 1), and change bytes the
    // target wraps in a message (form 1).
    let mut server_doc = base.clone();
    let mut client = dispatcher.load(id)?;
    if let Some(msg) = message_with_changes(&mut client, &mut server_doc) {
        for doc in [0u8, 1, 2] {
            s.add(&format!("reconcile-msg-d{doc}"), 27 + doc + 3, &msg)?;
        }
    }
    let mut empty = AutoCommit::new();
    let mut client = dispatcher.load(id)?;
    if let Some(msg) = client.sync().generate_sync_message(&mut sync::State::new()) {
        s.add("reconcile-first-msg", 27 + 1 + 3, &msg.encode())?;
    }
    if let Some(msg) = message_with_changes(&mut client, &mut empty) {
        s.add("reconcile-msg-to-empty", 27 + 3, &msg)?;
    }
    s.add("reconcile-wrapped-accept", 27 + 1 + 3 + 9, &accepted)?;
    s.add("reconcile-wrapped-comment", 27 + 2 + 6 + 9, &commented)?;
    s.add("reconcile-script", 27 + 1 + 3 + 18, &script(99, 48))?;
    println!("ingest: {} seeds", s.count);

    // merge_remote: mode = doc (0 the report, 1 a new one) + 2 * form (0 raw, 1 checksums
    // fixed, 2 script as changes, 3 script as a saved document).
    let mut s = Seeds::new(&corpus, "merge_remote")?;
    for form in [0u8, 1] {
        let m = |doc: u8| doc + 2 * form;
        s.add(&format!("f{form}-accept"), m(0), &accepted)?;
        s.add(&format!("f{form}-dispatch"), m(0), &dispatched)?;
        s.add(&format!("f{form}-dispatch-whole"), m(0), &dispatched_whole)?;
        s.add(&format!("f{form}-reject-comment"), m(0), &rejected_commented)?;
        s.add(&format!("f{form}-known"), m(0), &all_changes)?;
        s.add(&format!("f{form}-new-whole"), m(1), &new_doc)?;
        let mut nd = AutoCommit::load(&new_doc)?;
        s.add(&format!("f{form}-new-changes"), m(1), &changes_after(&mut nd, &[]))?;
        // Wrong document: the report's bytes under the new id.
        s.add(&format!("f{form}-new-wrong-id"), m(1), &f.report)?;
    }
    for (i, len) in [8usize, 32, 96].into_iter().enumerate() {
        for form in [2u8, 3] {
            s.add(&format!("script-{i}-f{form}"), 2 * form, &script(1000 + i as u64, len))?;
        }
    }
    println!("merge_remote: {} seeds", s.count);

    // envelope: the requests of every endpoint and the answers the phone decodes.
    let mut s = Seeds::new(&corpus, "envelope")?;
    let heads = protocol::to_wire(&dispatcher.load(id)?.get_heads());
    let sync_req = SyncRequest {
        v: VERSION,
        epoch: Some("0123456789abcdef".into()),
        cursor: "l42~5f3a".into(),
        actor: f.dispatcher.actor.clone(),
        push: vec![
            PushDoc { doc: id, changes: dispatched.clone(), heads: heads.clone(), signed: vec![] },
            PushDoc { doc: f.new_id, changes: new_doc.clone(), heads: vec![], signed: vec![] },
        ],
        want: vec![f.new_id],
        page_bytes: 65536,
    };
    envelope_seed(&mut s, "sync", &sync_req)?;
    let first = SyncRequest {
        epoch: None,
        cursor: String::new(),
        push: vec![],
        want: vec![],
        ..sync_req.clone()
    };
    envelope_seed(&mut s, "sync-first", &first)?;
    envelope_seed(
        &mut s,
        "sync-catchup",
        &SyncRequest { cursor: "c17.3~5f3a".into(), ..first.clone() },
    )?;
    let mut client = dispatcher.load(id)?;
    let msg = message_with_changes(&mut client, &mut base.clone()).unwrap_or_default();
    let reconcile = ReconcileRequest {
        v: VERSION,
        actor: f.dispatcher.actor.clone(),
        docs: vec![
            SyncMessage { doc: id, message: msg.clone() },
            SyncMessage { doc: f.new_id, message: vec![] },
        ],
        have: Some(vec![id, f.new_id]),
    };
    envelope_seed(&mut s, "reconcile", &reconcile)?;
    envelope_seed(&mut s, "visible", &VisibleRequest { v: VERSION, ids: vec![id, f.new_id] })?;
    let enroll = EnrollRequest {
        v: VERSION,
        code: "7KQ2M-XW9PA".into(),
        device_name: "Redmi Note 12".into(),
        actor: Some(f.resident.actor.clone()),
        keep_user: None,
        device_key: None,
    };
    envelope_seed(&mut s, "enroll", &enroll)?;
    envelope_seed(&mut s, "enroll-no-actor", &EnrollRequest { actor: None, ..enroll })?;
    let response = SyncResponse {
        v: VERSION,
        epoch: "0123456789abcdef".into(),
        results: vec![
            PushResult { doc: id, outcome: PushOutcome::Acked { heads } },
            PushResult {
                doc: f.new_id,
                outcome: PushOutcome::Rejected { code: "forbidden".into(), message: "no".into() },
            },
        ],
        docs: vec![PullDoc { doc: id, bytes: commented.clone(), whole: false, sigs: Vec::new() }],
        cursor: "l43~5f3a".into(),
        more: true,
        remaining: 12,
        rescoped: false,
        widened: false,
        credential: None,
        revocations: None,
        authors: vec![],
    };
    envelope_seed(&mut s, "sync-response", &response)?;
    let whole = protocol::encode_sync_response(
        &SyncResponse { docs: vec![], ..response },
        &[protocol::DocsPart::Member(&protocol::encode_docs_member(&[PullDoc {
            doc: f.new_id,
            bytes: new_doc.clone(),
            whole: true,
            sigs: Vec::new(),
        }]))],
    );
    s.add("sync-response-spliced-body", 0, &whole)?;
    envelope_seed(
        &mut s,
        "reconcile-response",
        &ReconcileResponse {
            v: VERSION,
            epoch: "0123456789abcdef".into(),
            cursor: "l43".into(),
            docs: vec![SyncMessage { doc: id, message: msg }],
            results: vec![],
            missing: vec![f.new_id],
        },
    )?;
    let profile_fields =
        (f.resident.profile.user.clone(), "resident".to_string(), vec![GRID.to_string()]);
    envelope_seed(
        &mut s,
        "enroll-response",
        &EnrollResponse {
            v: VERSION,
            device: "d-7f3a".into(),
            token: "fs1_abcdefabcdefabcdef".into(),
            actor: f.resident.actor.clone(),
            user: profile_fields.0.clone(),
            role: profile_fields.1.clone(),
            patrol: None,
            scopes: profile_fields.2.clone(),
            server_key: None,
            credential: None,
        },
    )?;
    envelope_seed(
        &mut s,
        "visible-response",
        &VisibleResponse {
            v: VERSION,
            hidden: vec![f.new_id],
            user: profile_fields.0.clone(),
            role: profile_fields.1.clone(),
            patrol: Some("police".into()),
            scopes: profile_fields.2.clone(),
        },
    )?;
    envelope_seed(
        &mut s,
        "device-info",
        &DeviceInfo {
            v: VERSION,
            device: "d-7f3a".into(),
            actor: f.resident.actor.clone(),
            user: profile_fields.0,
            role: profile_fields.1,
            patrol: None,
            scopes: profile_fields.2,
        },
    )?;
    // Another version's message: answered `unsupported_version`.
    let next = protocol::SYNC_VERSION + 1;
    envelope_seed(&mut s, &format!("sync-v{next}"), &SyncRequest { v: next, ..first })?;
    println!("envelope: {} seeds", s.count);
    signed::write(
        &corpus,
        &signed::Made { f: &f, base: &base, dispatcher: &dispatcher, resident: &resident },
    )?;
    Ok(())
}
