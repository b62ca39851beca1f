//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the same entry
//! points the fuzz targets run (`fuzz/src/input.rs`, included here), so that `cargo test`
//! re-checks what fuzzing found: the envelope decoders of every endpoint, the server's
//! ingestion of one document's changes, and the phone's `merge_remote`. A broken promise or a
//! panic on any file fails the test, which names the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/src/input.rs"]
#[allow(dead_code)]
mod input;

use std::path::{Path, PathBuf};

use input::{Fixture, Phone, Server};

fn fixture() -> Fixture {
    Fixture::load(&Fixture::dir_from(env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The corpus files of `target`, sorted; the corpus must not be empty.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

fn replay(target: &str, mut run: impl FnMut(&[u8]) -> Result<(), String>) {
    for file in corpus(target) {
        let data = std::fs::read(&file).unwrap();
        if let Err(e) = run(&data) {
            panic!("{target}: {}: {e}", file.display());
        }
    }
}

#[test]
fn envelope_corpus_is_refused_with_4xx_or_decoded() {
    replay("envelope", input::envelope);
}

#[test]
fn peer_corpus_decodes_or_gives_typed_errors() {
    replay("peer", input::peer);
}

#[test]
fn ingest_corpus_keeps_the_servers_promises() {
    let server = Server::new(fixture()).unwrap();
    replay("ingest", |data| server.ingest(data));
}

#[test]
fn merge_remote_corpus_leaves_a_readable_record() {
    let mut phone = Phone::new(fixture()).unwrap();
    replay("merge_remote", |data| phone.merge(data));
}

/// The harness reaches what it is meant to: a real command of the dispatcher on the stored
/// report is accepted (so mutations of it get to the policy check), the same command made by
/// the resident is forbidden by the policy, and the phone takes the dispatcher's changes.
#[test]
fn real_changes_reach_acceptance_and_the_policy() {
    use automerge::ActorId;
    use fieldsync_core::Store;
    use fieldsync_core::model::Command;
    use fieldsync_server::fuzzing::{self, Outcome, Stored};

    let f = fixture();
    let id = f.report_id;
    let dir = tempfile::tempdir().unwrap();
    let accept = |name: &str, who: &fuzzing::Author| {
        let store = Store::open(dir.path().join(format!("{name}.db"))).unwrap();
        store.set_user(&who.profile.user).unwrap();
        store.set_actor(ActorId::from(who.actor.as_slice())).unwrap();
        store.merge_remote(id, &f.report).unwrap();
        let before = store.heads(id).unwrap();
        store.execute(id, &Command::AcceptReport { note: "on it".into() }).unwrap();
        let mut doc = store.load(id).unwrap();
        doc.get_changes(&before).iter().flat_map(|c| c.raw_bytes().to_vec()).collect::<Vec<u8>>()
    };
    let by_dispatcher = accept("dispatcher", &f.dispatcher);
    let by_resident = accept("resident", &f.resident);
    for with_record in [false, true] {
        let stored = Stored::new(id, f.report.clone(), with_record).unwrap();
        let ok = fuzzing::ingest(id, Some(&stored), &by_dispatcher, Some(&f.dispatcher)).unwrap();
        assert!(matches!(ok, Outcome::Accepted { changes: 1, snapshot: false, .. }), "{ok:?}");
        let no = fuzzing::ingest(id, Some(&stored), &by_resident, Some(&f.resident)).unwrap();
        assert_eq!(no, Outcome::Refused { code: "forbidden", retry: false });
        let forged = fuzzing::ingest(id, Some(&stored), &by_resident, Some(&f.dispatcher)).unwrap();
        assert_eq!(forged, Outcome::Refused { code: "forged_actor", retry: false });
    }
    // The report, pushed whole by its creator to a server that lacks it, is created.
    let mut doc = automerge::AutoCommit::load(&f.report).unwrap();
    let all: Vec<u8> = doc.get_changes(&[]).iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
    let created = fuzzing::ingest(id, None, &all, Some(&f.resident)).unwrap();
    assert!(matches!(created, Outcome::Accepted { snapshot: true, .. }), "{created:?}");

    let store = Store::open(dir.path().join("phone.db")).unwrap();
    store.merge_remote(id, &f.report).unwrap();
    let merged = store.merge_remote(id, &by_dispatcher).unwrap();
    assert!(merged.changed);
    assert_eq!(store.get(id).unwrap().header().id, id);
}
