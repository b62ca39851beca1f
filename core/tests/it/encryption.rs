//! The store encrypted at rest: opened with its key only, a wrong key refused without a change,
//! a plaintext store encrypted in place, the key changed.

use std::path::Path;

use fieldsync_core::error::CoreError;
use fieldsync_core::model::Kind;
use fieldsync_core::store::StoreKey;
use fieldsync_core::{DocId, Store};

use crate::common::new_report;

/// A title no page of an encrypted file may show.
const SECRET: &str = "张三家的违章建筑-secret-title";

fn key(byte: u8) -> StoreKey {
    StoreKey::from_bytes(&[byte; 32]).unwrap()
}

/// The bytes of the store file and its WAL.
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut all = std::fs::read(path).unwrap();
    let wal = format!("{}-wal", path.display());
    all.extend(std::fs::read(wal).unwrap_or_default());
    all
}

fn shows(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

fn wrong_key(result: Result<Store, CoreError>) -> String {
    match result {
        Err(e @ CoreError::WrongKey { .. }) => e.to_string(),
        other => panic!("expected WrongKey, got {other:?}"),
    }
}

fn titles(store: &Store) -> usize {
    store.search(SECRET, Some(Kind::Report), 10).unwrap().len()
}

/// A plaintext store at `path` holding `n` reports with [`SECRET`] in their titles, written by
/// `resident-1` and closed; their ids.
fn plaintext_store(path: &Path, n: usize) -> Vec<DocId> {
    let plain = Store::open(path).unwrap();
    plain.set_user("resident-1").unwrap();
    (0..n).map(|_| plain.create(&new_report(SECRET)).unwrap()).collect()
}

#[test]
fn an_encrypted_store_opens_with_its_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let store = Store::open_encrypted(&path, key(1)).unwrap();
    assert!(store.is_encrypted());
    store.set_user("resident-1").unwrap();
    let id = store.create(&new_report(SECRET)).unwrap();
    assert!(!shows(&file_bytes(&path), SECRET), "the title is in the file in clear");
    drop(store);

    let before = file_bytes(&path);
    let message = wrong_key(Store::open_encrypted(&path, key(2)));
    assert!(message.contains("key does not open it"), "{message}");
    assert!(wrong_key(Store::open(&path)).contains("encrypted"));
    assert_eq!(file_bytes(&path), before, "a refused open changed the file");

    let store = Store::open_encrypted(&path, key(1)).unwrap();
    assert_eq!(store.kind_of(id).unwrap(), Kind::Report);
    assert_eq!(titles(&store), 1);
}

#[test]
fn a_plaintext_store_is_encrypted_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let ids = plaintext_store(&path, 20);
    assert!(shows(&file_bytes(&path), SECRET));

    let store = Store::open_encrypted(&path, key(3)).unwrap();
    assert_eq!(store.doc_ids().unwrap(), ids);
    assert_eq!(titles(&store), 10, "search (a projection) came along");
    assert_eq!(store.identity().user, "resident-1");
    store.integrity_check().unwrap();
    drop(store);
    assert!(!shows(&file_bytes(&path), SECRET), "the title is still in the file in clear");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("encrypting"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    wrong_key(Store::open(&path));
    assert_eq!(Store::open_encrypted(&path, key(3)).unwrap().doc_ids().unwrap(), ids);
}

#[test]
fn rekey_changes_the_key_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let store = Store::open_encrypted(&path, key(4)).unwrap();
    store.set_user("resident-1").unwrap();
    let id = store.create(&new_report(SECRET)).unwrap();
    store.rekey(key(5)).unwrap();
    // The same handle reads and writes on under the new key.
    assert_eq!(titles(&store), 1);
    let second = store.create(&new_report(SECRET)).unwrap();
    drop(store);

    wrong_key(Store::open_encrypted(&path, key(4)));
    let store = Store::open_encrypted(&path, key(5)).unwrap();
    assert_eq!(store.doc_ids().unwrap(), vec![id, second]);
    store.integrity_check().unwrap();

    let plain = Store::open(dir.path().join("plain.db")).unwrap();
    assert!(matches!(plain.rekey(key(6)), Err(CoreError::InvalidInput { field: "key", .. })));
}

#[test]
fn a_store_encrypted_with_sqlcipher_defaults_is_written_again_with_sha256_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let ids = plaintext_store(&path, 12);
    // Encrypted as stores were before: SQLCipher's default page HMAC (SHA-512).
    let legacy = dir.path().join("legacy.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "ATTACH DATABASE ?1 AS enc KEY ?2",
            [legacy.to_str().unwrap(), &format!("x'{}'", "05".repeat(32))],
        )
        .unwrap();
        conn.query_row("SELECT sqlcipher_export('enc')", [], |_| Ok(())).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        conn.execute_batch(&format!("PRAGMA enc.user_version = {version}; DETACH DATABASE enc"))
            .unwrap();
    }
    std::fs::rename(&legacy, &path).unwrap();
    let reads_with = |hmac: Option<&str>| {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut sql = format!("PRAGMA key = \"x'{}'\";", "05".repeat(32));
        if let Some(h) = hmac {
            sql += &format!(" PRAGMA cipher_hmac_algorithm = {h};");
        }
        conn.execute_batch(&sql).unwrap();
        conn.query_row("SELECT count(*) FROM docs", [], |r| r.get::<_, i64>(0)).is_ok()
    };
    assert!(reads_with(None) && !reads_with(Some("HMAC_SHA256")));

    // A wrong key opens neither way, and changes nothing.
    let before = file_bytes(&path);
    assert!(wrong_key(Store::open_encrypted(&path, key(6))).contains("key does not open it"));
    assert_eq!(file_bytes(&path), before);

    let store = Store::open_encrypted(&path, key(5)).unwrap();
    assert_eq!(store.doc_ids().unwrap(), ids);
    assert_eq!(titles(&store), 10);
    store.integrity_check().unwrap();
    drop(store);
    assert!(reads_with(Some("HMAC_SHA256")) && !reads_with(None));
    assert!(!shows(&file_bytes(&path), SECRET));
    assert_eq!(Store::open_encrypted(&path, key(5)).unwrap().doc_ids().unwrap(), ids);
}

/// Set in the child processes of [`encrypted_stores_opened_at_once_in_a_new_process_open`].
const AT_ONCE_CHILD: &str = "FIELDSYNC_TEST_OPENS_AT_ONCE";
/// New processes that each open stores at once, one after another: before the fix, about one
/// in eight failed, so forty pass by chance about once in two hundred runs.
const AT_ONCE_PROCESSES: usize = 40;
/// Stores each of them opens at once.
const AT_ONCE_STORES: usize = 4;

/// Two encrypted stores opened through core on two threads as a process starts (its user's and
/// a second account's, say) both open. SQLite marks itself initialised before SQLCipher's own
/// set-up has run, so a second thread could key its connection before SQLCipher was ready and
/// fail with "An error occurred with PRAGMA key". Only the first opens of a process meet it, so
/// each try is a new process: this test binary, running [`opens_at_once_in_this_process`]
/// alone.
#[test]
fn encrypted_stores_opened_at_once_in_a_new_process_open() {
    let exe = std::env::current_exe().unwrap();
    for run in 0..AT_ONCE_PROCESSES {
        let out = std::process::Command::new(&exe)
            .args(["--exact", "encryption::opens_at_once_in_this_process", "--ignored"])
            .env(AT_ONCE_CHILD, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "process {run} of {AT_ONCE_PROCESSES}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// [`AT_ONCE_STORES`] threads each open an encrypted store of their own at the same moment, as
/// the first SQLite use of this process.
#[test]
#[ignore = "run in a new process by encrypted_stores_opened_at_once_in_a_new_process_open"]
fn opens_at_once_in_this_process() {
    assert!(std::env::var_os(AT_ONCE_CHILD).is_some(), "run only as a child process");
    let dir = tempfile::tempdir().unwrap();
    let start = std::sync::Arc::new(std::sync::Barrier::new(AT_ONCE_STORES));
    let threads: Vec<_> = (0..AT_ONCE_STORES)
        .map(|i| {
            let path = dir.path().join(format!("phone-{i}.db"));
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                Store::open_encrypted(&path, key(i as u8 + 1)).map(|s| s.is_encrypted())
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().unwrap());
    }
}
