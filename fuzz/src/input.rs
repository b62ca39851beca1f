//! How the fuzz targets read an input and what they check, in one file shared by the targets
//! (`fuzz/fuzz_targets/*.rs`) and by the corpus replay test of `cargo test`
//! (`sync-server/tests/fuzz_corpus.rs` includes it with `#[path]`), so that both run exactly the
//! same thing on a corpus file.
//!
//! The first byte of an input picks a mode; the rest is the payload. Besides raw bytes, a
//! payload can be taken as Automerge chunks whose checksums are then made right (mutated
//! changes get past the checksum test into the decoder, the dependency check and the policy),
//! or as a script of edits made with Automerge's own API on a real record (valid changes that
//! exercise the record model and the access policy). Every run returns `Err` when a promise
//! breaks; a panic that escapes is a crash too.

use std::path::{Path, PathBuf};

use automerge::transaction::Transactable;
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::protocol::{
    self, DeviceInfo, EnrollRequest, EnrollResponse, ReconcileRequest, ReconcileResponse,
    SyncRequest, SyncResponse, VisibleRequest, VisibleResponse,
};
use fieldsync_core::{CoreError, DocId, Store};
use fieldsync_server::fuzzing::{self, Author, Endpoint, Outcome, Stored};
use sha2::{Digest, Sha256};

/// The scope of the fixture's records.
pub const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

/// The documents and people every target starts from, written by `fuzz/examples/seeds.rs` into
/// `fuzz/fixtures/` (real records made by core's store).
#[derive(Clone)]
pub struct Fixture {
    /// The report every target works on.
    pub report_id: DocId,
    /// The report as the server stores it (a saved document).
    pub report: Vec<u8>,
    /// A document id the phone does not hold (for merges that create a record).
    pub new_id: DocId,
    /// The resident who created the report.
    pub resident: Author,
    /// A dispatcher of the whole jurisdiction.
    pub dispatcher: Author,
}

/// One person of the fixture: name, user id, actor.
type Person = (String, String, Vec<u8>);

/// The user ids and actors of the fixture, as `fuzz/fixtures/people.txt` lists them: one
/// `name user actor-hex` per line, then `report <id>` and `new <id>`.
fn read_people(text: &str) -> Result<(Vec<Person>, DocId, DocId), String> {
    let mut people = Vec::new();
    let (mut report, mut new) = (None, None);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["report", id] => report = Some(id.parse::<DocId>().map_err(|e| e.to_string())?),
            ["new", id] => new = Some(id.parse::<DocId>().map_err(|e| e.to_string())?),
            [name, user, actor] => {
                let actor = ActorId::try_from(*actor).map_err(|e| e.to_string())?;
                people.push((name.to_string(), user.to_string(), actor.to_bytes().to_vec()))
            }
            _ => return Err(format!("bad fixture line {line:?}")),
        }
    }
    Ok((people, report.ok_or("no report id")?, new.ok_or("no new id")?))
}

/// The profile each fixture person acts with.
pub fn profile(name: &str, user: &str) -> Profile {
    let (role, scopes) = match name {
        "dispatcher" => (Role::Dispatcher, vec!["jl".to_string()]),
        _ => (Role::Resident, vec![GRID.to_string()]),
    };
    Profile { user: user.to_string(), role, patrol: None, scopes }
}

impl Fixture {
    /// Reads the fixture from `dir` (`fuzz/fixtures`).
    pub fn load(dir: &Path) -> Result<Fixture, String> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        let text = String::from_utf8(read("people.txt")?).map_err(|e| e.to_string())?;
        let (people, report_id, new_id) = read_people(&text)?;
        let person = |name: &str| {
            people
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(n, user, actor)| Author {
                    device: format!("{n}-phone"),
                    actor: actor.clone(),
                    profile: profile(n, user),
                })
                .ok_or(format!("no {name} in the fixture"))
        };
        Ok(Fixture {
            report_id,
            report: read("report.automerge")?,
            new_id,
            resident: person("resident")?,
            dispatcher: person("dispatcher")?,
        })
    }

    /// `fuzz/fixtures` seen from a crate directory next to `fuzz/` (`CARGO_MANIFEST_DIR`).
    pub fn dir_from(manifest_dir: &str) -> PathBuf {
        Path::new(manifest_dir).join("..").join("fuzz").join("fixtures")
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a payload.

/// Reads values off the payload; past its end every read gives zeros.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `data` from its start.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    /// Whether everything was read.
    pub fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// One byte.
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        let got = self.take(8);
        b[..got.len()].copy_from_slice(got);
        u64::from_le_bytes(b)
    }
}

/// Sets the checksum of every well-formed Automerge chunk in `bytes` (the first four bytes of
/// the SHA-256 of its type, length and data); stops at the first malformed one.
pub fn fix_checksums(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut pos = 0usize;
    while pos + 10 <= out.len() && out[pos..pos + 4] == [0x85, 0x6f, 0x4a, 0x83] {
        let (mut len, mut shift, mut i) = (0u64, 0u32, pos + 9);
        loop {
            let Some(&b) = out.get(i) else { return out };
            if shift > 56 {
                return out;
            }
            len |= u64::from(b & 0x7f) << shift;
            shift += 7;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let Some(end) = usize::try_from(len).ok().and_then(|l| i.checked_add(l)) else {
            return out;
        };
        if end > out.len() {
            return out;
        }
        let hash = Sha256::digest(&out[pos + 8..end]);
        out[pos + 4..pos + 8].copy_from_slice(&hash[..4]);
        pos = end;
    }
    out
}

const KEYS: &[&str] = &[
    "header",
    "id",
    "kind",
    "schema",
    "scope",
    "created_by",
    "created_at",
    "status",
    "title",
    "description",
    "category",
    "assignee",
    "deadline",
    "points",
    "timeline",
    "comments",
    "photos",
    "location",
    "lat",
    "lon",
    "accuracy",
    "address",
    "by",
    "at",
    "event",
    "note",
    "text",
    "key",
    "entries",
    "members",
    "checkpoints",
    "sessions",
    "notes",
    "parties",
    "mediators",
    "agreement",
    "follow_ups",
    "escalated_to",
    "reason",
    "area",
    "user",
    "role",
];

const WORDS: &[&str] = &[
    "",
    "submitted",
    "accepted",
    "rejected",
    "dispatched",
    "in_progress",
    "resolved",
    "confirmed",
    "reopened",
    "report",
    "patrol_log",
    "mediation_case",
    "resident-1",
    "dispatcher-1",
    "officer-1",
    "jl",
    GRID,
    "jl/changchun",
    "illegal_construction",
    "accept_report",
    "dispatch_report",
    "comment_report",
    "active",
    "finished",
    "open",
    "closed",
];

fn scalar(r: &mut Reader<'_>) -> ScalarValue {
    match r.byte() % 10 {
        0 => ScalarValue::Str(WORDS[r.byte() as usize % WORDS.len()].into()),
        1 => {
            let n = r.byte() as usize % 24;
            ScalarValue::Str(String::from_utf8_lossy(r.take(n)).as_ref().into())
        }
        2 => ScalarValue::Int(r.u64() as i64),
        3 => ScalarValue::Uint(r.u64()),
        4 => ScalarValue::F64(f64::from_bits(r.u64())),
        5 => ScalarValue::Boolean(r.byte() & 1 == 1),
        6 => ScalarValue::Null,
        7 => ScalarValue::Timestamp(r.u64() as i64),
        8 => ScalarValue::counter(i64::from(r.byte() as i8)),
        _ => ScalarValue::Int(i64::from(r.byte())),
    }
}

/// The objects of `doc`, breadth first, at most 64.
fn objects(doc: &AutoCommit) -> Vec<(ObjId, ObjType)> {
    let mut out = vec![(ROOT, ObjType::Map)];
    let mut i = 0;
    while i < out.len() && out.len() < 64 {
        let (obj, ty) = out[i].clone();
        let children: Vec<Option<(Value<'_>, ObjId)>> = match ty {
            ObjType::Map | ObjType::Table => {
                doc.keys(&obj).map(|k| doc.get(&obj, k).ok().flatten()).collect()
            }
            ObjType::List => {
                (0..doc.length(&obj)).map(|n| doc.get(&obj, n).ok().flatten()).collect()
            }
            ObjType::Text => Vec::new(),
        };
        for (v, id) in children.into_iter().flatten() {
            if let Value::Object(t) = v {
                out.push((id, t));
            }
        }
        i += 1;
    }
    out
}

/// Applies the edit script in `r` to `doc` (at most 48 operations, each committed or not as
/// the script says); operations Automerge refuses are skipped. The objects an operation can
/// target are those of the document before the script and those the script creates.
pub fn edit(doc: &mut AutoCommit, r: &mut Reader<'_>) {
    let mut objs = objects(doc);
    for _ in 0..48 {
        if r.done() {
            break;
        }
        let (obj, ty) = objs[r.byte() as usize % objs.len()].clone();
        let op = r.byte();
        let is_map = matches!(ty, ObjType::Map | ObjType::Table);
        let len = doc.length(&obj);
        let index = |r: &mut Reader<'_>, extra: usize| r.byte() as usize % (len + extra).max(1);
        let key = |r: &mut Reader<'_>, doc: &AutoCommit| {
            let b = r.byte() as usize;
            if b.is_multiple_of(2) && len > 0 {
                doc.keys(&obj).nth((b / 2) % len).unwrap_or_default()
            } else {
                KEYS[(b / 2) % KEYS.len()].to_string()
            }
        };
        let object_type = |b: u8| match b % 3 {
            0 => ObjType::Map,
            1 => ObjType::List,
            _ => ObjType::Text,
        };
        let mut created = None;
        let _ = match (op % 8, ty) {
            (0, _) if is_map => {
                let k = key(r, doc);
                doc.put(&obj, k, scalar(r)).map(drop)
            }
            (1, _) if is_map => {
                let k = key(r, doc);
                let t = object_type(r.byte());
                doc.put_object(&obj, k, t).map(|id| created = Some((id, t)))
            }
            (2, _) if is_map => {
                let k = key(r, doc);
                doc.delete(&obj, k)
            }
            (3, _) if is_map => {
                let k = key(r, doc);
                doc.increment(&obj, k, i64::from(r.byte() as i8))
            }
            (0, ObjType::List) => {
                let i = index(r, 1);
                doc.insert(&obj, i, scalar(r))
            }
            (1, ObjType::List) => {
                let i = index(r, 1);
                let t = object_type(r.byte());
                doc.insert_object(&obj, i, t).map(|id| created = Some((id, t)))
            }
            (2, ObjType::List) => {
                let i = index(r, 0);
                doc.delete(&obj, i)
            }
            (3, ObjType::List) => {
                let i = index(r, 0);
                doc.put(&obj, i, scalar(r))
            }
            (_, ObjType::Text) => {
                let pos = index(r, 1);
                let del = r.byte() as isize % 4;
                let n = r.byte() as usize % 12;
                let text = String::from_utf8_lossy(r.take(n)).into_owned();
                doc.splice_text(&obj, pos, del, &text)
            }
            (4 | 5, _) => {
                // Mostly a time a device could have; sometimes any i64 (the change is then
                // refused unless the time is within 0..=MAX_CHANGE_TIME).
                let t = r.u64();
                let time = if t.is_multiple_of(4) {
                    t as i64
                } else {
                    (t % (fieldsync_core::changes::MAX_CHANGE_TIME as u64 + 1)) as i64
                };
                doc.commit_with(automerge::transaction::CommitOptions::default().with_time(time));
                Ok(())
            }
            _ => Ok(()),
        };
        if let Some(o) = created {
            objs.push(o);
        }
    }
    doc.commit();
}

/// Runs `f` on harness-made documents; a panic inside Automerge's own API (not the product)
/// makes the input uninteresting rather than a finding.
fn harness<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

fn changes_after(doc: &mut AutoCommit, after: &[ChangeHash]) -> Vec<u8> {
    doc.get_changes(after).iter().flat_map(|c| c.raw_bytes().to_vec()).collect()
}

// ---------------------------------------------------------------------------------------------
// envelope: the request decoders of every endpoint, and the answers the phone decodes.

fn gzip(members: &[&[u8]]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    for m in members {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(m);
        out.extend(gz.finish().unwrap_or_default());
    }
    out
}

fn round_trip<T>(body: &[u8]) -> Result<(), String>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(msg) = protocol::decode::<T>(body) {
        let again: T = protocol::decode(&protocol::encode(&msg))
            .map_err(|e| format!("a decoded message does not decode once encoded again: {e}"))?;
        if again != msg {
            return Err(format!("{msg:?} comes back as {again:?}"));
        }
    }
    Ok(())
}

/// The `envelope` target. Mode: 0, the payload is the body; 1, the payload is CBOR sent as one
/// gzip member; 2, as two members (split in the middle). Every endpoint's decoder and checks
/// run on the body: a refusal must be a 4xx, a message that decodes must survive encoding
/// again, and the phone's decoders of the answers must not fail otherwise than with an error.
pub fn envelope(data: &[u8]) -> Result<(), String> {
    let Some((&mode, payload)) = data.split_first() else { return Ok(()) };
    let body = match mode % 3 {
        0 => payload.to_vec(),
        1 => gzip(&[payload]),
        _ => {
            let (a, b) = payload.split_at(payload.len() / 2);
            gzip(&[a, b])
        }
    };
    for endpoint in Endpoint::ALL {
        match fuzzing::request(endpoint, &body) {
            Ok((docs, refused)) if refused > docs => {
                return Err(format!("{endpoint:?}: {refused} of {docs} documents refused"));
            }
            Ok(_) => {}
            Err(e) => {
                let (status, code) = e.status_and_code();
                if !status.is_client_error() {
                    return Err(format!("{endpoint:?} answers {status} {code} ({e}) to a body"));
                }
            }
        }
    }
    round_trip::<SyncRequest>(&body)?;
    round_trip::<ReconcileRequest>(&body)?;
    round_trip::<VisibleRequest>(&body)?;
    round_trip::<EnrollRequest>(&body)?;
    round_trip::<SyncResponse>(&body)?;
    round_trip::<ReconcileResponse>(&body)?;
    round_trip::<VisibleResponse>(&body)?;
    round_trip::<EnrollResponse>(&body)?;
    round_trip::<DeviceInfo>(&body)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ingest: one document's changes on the server, pushed or inside a reconcile message.

/// The server side of the fixture, loaded once.
pub struct Server {
    fixture: Fixture,
    base: AutoCommit,
    stored: Stored,
    stored_with_record: Stored,
    /// Phones that receive what the server accepted, whole, as a pull of a wanted document
    /// brings it: one holding the report as stored before, one without it.
    phones: std::sync::Mutex<(Phone, Phone)>,
}

impl Server {
    /// Loads the fixture's report as the server holds it.
    pub fn new(fixture: Fixture) -> Result<Server, String> {
        let id = fixture.report_id;
        let stored = Stored::new(id, fixture.report.clone(), false).map_err(|e| e.0)?;
        let stored_with_record = Stored::new(id, fixture.report.clone(), true).map_err(|e| e.0)?;
        let base = AutoCommit::load(&fixture.report).map_err(|e| e.to_string())?;
        let phones = (Phone::new(fixture.clone())?, Phone::without_report(fixture.clone())?);
        Ok(Server { fixture, base, stored, stored_with_record, phones: phones.into() })
    }

    /// The `ingest` target. The mode byte picks: the document as the server holds it (not at
    /// all, stored, stored with its typed record cached), who sends (no device, the dispatcher,
    /// the resident who created it), the form of the payload (raw change bytes, the same with
    /// checksums made right, an edit script made into changes by the sender on the record), and
    /// the path (a push, or a reconcile sync message carrying the changes).
    pub fn ingest(&self, data: &[u8]) -> Result<(), String> {
        self.outcome(data).map(drop)
    }

    /// [`Server::ingest`], with what became of the changes (`None`: the input held none).
    pub fn outcome(&self, data: &[u8]) -> Result<Option<Outcome>, String> {
        let Some((&mode, payload)) = data.split_first() else { return Ok(None) };
        let f = &self.fixture;
        let id = f.report_id;
        let stored = match mode % 3 {
            0 => None,
            1 => Some(&self.stored),
            _ => Some(&self.stored_with_record),
        };
        let reconcile = (mode / 27) % 2 == 1;
        let author = match (mode / 3) % 3 {
            0 if !reconcile => None,
            1 => Some(&f.dispatcher),
            _ => Some(&f.resident),
        };
        let bytes = match (mode / 9) % 3 {
            0 => payload.to_vec(),
            1 => fix_checksums(payload),
            _ => {
                // Edits by the sender on the record as stored; for a document the server does
                // not hold, the creator sends the whole record with its edits.
                let sender = author.unwrap_or(&f.resident);
                let Some(bytes) = harness(|| {
                    let actor = if stored.is_some() { &sender.actor } else { &f.resident.actor };
                    let mut doc = self.base.clone().with_actor(ActorId::from(actor.as_slice()));
                    let heads = if stored.is_some() { doc.get_heads() } else { Vec::new() };
                    edit(&mut doc, &mut Reader::new(payload));
                    changes_after(&mut doc, &heads)
                }) else {
                    return Ok(None);
                };
                bytes
            }
        };
        if reconcile {
            let sender = author.unwrap_or(&f.resident);
            let message = if (mode / 9) % 3 == 0 {
                bytes
            } else {
                sync_message(&bytes, stored.is_some().then_some(&f.report))
            };
            let (outcome, _answer) =
                fuzzing::reconcile(id, stored, &message, sender).map_err(|v| v.0)?;
            check_outcome(outcome.as_ref())?;
            self.to_phone(outcome.as_ref(), stored.is_some())?;
            Ok(outcome)
        } else {
            let outcome = fuzzing::ingest(id, stored, &bytes, author).map_err(|v| v.0)?;
            check_outcome(Some(&outcome))?;
            self.to_phone(Some(&outcome), stored.is_some())?;
            Ok(Some(outcome))
        }
    }

    /// What the server accepted, a phone must take: a phone that held the document before (or
    /// did not have it, for a document new to the server) merges the stored bytes and opens the
    /// record.
    fn to_phone(&self, outcome: Option<&Outcome>, was_stored: bool) -> Result<(), String> {
        let Some(Outcome::Accepted { stored, .. }) = outcome else { return Ok(()) };
        let mut phones = self.phones.lock().unwrap_or_else(|e| e.into_inner());
        let phone = if was_stored { &mut phones.0 } else { &mut phones.1 };
        phone.take_whole(stored)
    }
}

/// A sync message carrying `changes` (one chunk each), as a client that held `base` would send.
fn sync_message(changes: &[u8], base: Option<&Vec<u8>>) -> Vec<u8> {
    let chunks: Vec<Vec<u8>> = match fieldsync_core::changes::split_chunks(changes) {
        Ok(c) => c.into_iter().map(|(_, b)| b.to_vec()).collect(),
        Err(_) => vec![changes.to_vec()],
    };
    let heads =
        base.and_then(|b| AutoCommit::load(b).ok()).map(|mut d| d.get_heads()).unwrap_or_default();
    automerge::sync::Message {
        heads: heads.clone(),
        need: Vec::new(),
        have: vec![automerge::sync::Have {
            last_sync: heads,
            bloom: automerge::sync::BloomFilter::default(),
        }],
        changes: chunks.into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode()
}

/// What any outcome must respect: a refusal has a code of the protocol, is worth retrying only
/// when the server lacked something, and is never an internal error.
fn check_outcome(outcome: Option<&Outcome>) -> Result<(), String> {
    const CODES: &[&str] = &[
        "malformed_changes",
        "missing_dependencies",
        "invalid_document",
        "header_changed",
        "too_large",
        "internal_error",
        "forged_actor",
        "forbidden",
    ];
    match outcome {
        Some(Outcome::Refused { code, retry }) => {
            if !CODES.contains(code) {
                return Err(format!("refused with code {code}, not one of the protocol"));
            }
            // Only a lack on the server's side is worth sending again.
            if *retry != matches!(*code, "missing_dependencies" | "internal_error") {
                return Err(format!("refusal {code} with retry = {retry}"));
            }
            if *code == "internal_error" {
                return Err("bytes from a client made an internal error".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// merge_remote: the phone's merge of bytes from elsewhere.

/// A phone's store in a temporary directory holding the fixture's report.
pub struct Phone {
    fixture: Fixture,
    base: AutoCommit,
    dir: tempfile::TempDir,
    store: Store,
    generation: u64,
    /// Whether the store starts with the fixture's report.
    holds_report: bool,
}

impl Phone {
    /// A phone of the fixture's resident holding the report (merged as a sync brings it).
    pub fn new(fixture: Fixture) -> Result<Phone, String> {
        Self::with(fixture, true)
    }

    /// A phone of the fixture's resident that holds nothing.
    pub fn without_report(fixture: Fixture) -> Result<Phone, String> {
        Self::with(fixture, false)
    }

    fn with(fixture: Fixture, holds_report: bool) -> Result<Phone, String> {
        // In memory when the system has a tmpfs: the store syncs every commit to disk.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }
            .map_err(|e| e.to_string())?;
        let store = Self::open(&fixture, dir.path(), 0, holds_report)?;
        let base = AutoCommit::load(&fixture.report).map_err(|e| e.to_string())?;
        Ok(Phone { fixture, base, dir, store, generation: 0, holds_report })
    }

    fn open(f: &Fixture, dir: &Path, generation: u64, holds_report: bool) -> Result<Store, String> {
        let store =
            Store::open(dir.join(format!("phone-{generation}.db"))).map_err(|e| e.to_string())?;
        store.set_user(&f.resident.profile.user).map_err(|e| e.to_string())?;
        store.set_actor(ActorId::from(f.resident.actor.as_slice())).map_err(|e| e.to_string())?;
        if holds_report {
            store.merge_remote(f.report_id, &f.report).map_err(|e| format!("fixture: {e}"))?;
        }
        Ok(store)
    }

    /// Takes the fixture's report whole as the server stores it (`bytes`, which the server
    /// accepted): the merge must succeed, the record open, and a command on it must not panic.
    pub fn take_whole(&mut self, bytes: &[u8]) -> Result<(), String> {
        let id = self.fixture.report_id;
        let merged = self
            .store
            .merge_remote(id, bytes)
            .map_err(|e| format!("the phone refuses what the server accepted and stored: {e}"))?;
        self.store
            .get(id)
            .map_err(|e| format!("the phone cannot open what the server accepted: {e}"))?;
        // And the record stays editable: a command is applied or refused with a typed error
        // (a change accepted earlier must not break the ones after it).
        let commented = self
            .store
            .execute(id, &fieldsync_core::model::Command::CommentReport { text: "seen".into() });
        if merged.changed || commented.is_ok() {
            self.reset()?;
        }
        Ok(())
    }

    /// Starts again from the fixture (after a merge changed the store).
    fn reset(&mut self) -> Result<(), String> {
        let old = self.dir.path().join(format!("phone-{}.db", self.generation));
        self.generation += 1;
        self.store =
            Self::open(&self.fixture, self.dir.path(), self.generation, self.holds_report)?;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", old.display()));
        }
        Ok(())
    }

    /// The `merge_remote` target. The mode byte picks the document (the report the phone
    /// holds, or one it does not) and the form of the payload (raw bytes, the same with
    /// checksums made right, an edit script by the dispatcher on the report sent as changes,
    /// or as the whole saved document). After the merge the report must still read, unchanged
    /// when the merge failed; a failure must be a typed error of the kinds a merge gives; after
    /// a merge that changed a record, a command on it must not panic.
    pub fn merge(&mut self, data: &[u8]) -> Result<(), String> {
        let Some((&mode, payload)) = data.split_first() else { return Ok(()) };
        let f = &self.fixture;
        let id = if mode % 2 == 0 { f.report_id } else { f.new_id };
        let bytes = match (mode / 2) % 4 {
            0 => payload.to_vec(),
            1 => fix_checksums(payload),
            form => {
                let Some(bytes) = harness(|| {
                    let actor = ActorId::from(f.dispatcher.actor.as_slice());
                    let mut doc = self.base.clone().with_actor(actor);
                    let heads = doc.get_heads();
                    edit(&mut doc, &mut Reader::new(payload));
                    if form == 2 { changes_after(&mut doc, &heads) } else { doc.save() }
                }) else {
                    return Ok(());
                };
                bytes
            }
        };
        let before = self.store.saved_bytes(f.report_id).map_err(|e| e.to_string())?;
        let merged = self.store.merge_remote(id, &bytes);
        let report = self.store.get(f.report_id);
        if let Err(e) = &report {
            return Err(format!("after merging ({merged:?}) the report does not read: {e}"));
        }
        match &merged {
            Ok(outcome) => {
                if id == f.new_id && outcome.changed {
                    // A new record may be refused when opened (the merge checks what lists and
                    // search read), but with a typed error.
                    match self.store.get(id) {
                        Ok(_)
                        | Err(
                            CoreError::Malformed { .. }
                            | CoreError::DocumentTooNew { .. }
                            | CoreError::WrongKind { .. }
                            | CoreError::Automerge(_),
                        ) => {}
                        Err(e) => return Err(format!("a merged new record reads as {e}")),
                    }
                }
                if outcome.changed {
                    // What was merged must not break the record's next local change: a command
                    // is applied or refused with a typed error, never a panic.
                    let _ = self.store.execute(
                        id,
                        &fieldsync_core::model::Command::CommentReport { text: "seen".into() },
                    );
                    self.reset()?;
                }
            }
            Err(e) => {
                let after = self.store.saved_bytes(f.report_id).map_err(|e| e.to_string())?;
                if after != before {
                    return Err(format!("a refused merge ({e}) changed the stored report"));
                }
                if !matches!(
                    e,
                    CoreError::Malformed { .. }
                        | CoreError::MissingDependencies { .. }
                        | CoreError::InvalidInput { .. }
                        | CoreError::DocumentTooNew { .. }
                        | CoreError::WrongKind { .. }
                        | CoreError::Automerge(_)
                ) {
                    return Err(format!("a merge failed with an unexpected error: {e:?}"));
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// peer: the phone-to-phone frames (docs/peer.md).

/// The `peer` target: the payload is one frame from a peer. It decodes to a message or a typed
/// error; a message survives encoding again; every Automerge sync message it carries decodes or
/// fails with an error (a panic in Automerge's decoder is caught, as the session catches it).
pub fn peer(data: &[u8]) -> Result<(), String> {
    use fieldsync_core::peer::wire::{self, Item, Message};
    let Ok(msg) = wire::decode(data) else { return Ok(()) };
    let again = wire::decode(&wire::encode(&msg)).map_err(|e| format!("re-encoded: {e}"))?;
    if again != msg {
        return Err(format!("{msg:?} re-encoded as {again:?}"));
    }
    if let Message::Round(items) = msg {
        for item in items {
            if let Item::Sync { msg, .. } = item {
                let _ = fieldsync_core::changes::guarded(|| {
                    automerge::sync::Message::decode(&msg)
                        .map(drop)
                        .map_err(|e| fieldsync_core::changes::ParseError(e.to_string()))
                });
            }
        }
    }
    Ok(())
}
