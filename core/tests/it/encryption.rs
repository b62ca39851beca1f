//! The store encrypted at rest: opened with its key only, a wrong key refused without a change,
//! a plaintext store encrypted in place, the key changed.

use std::path::Path;

use fieldsync_core::Store;
use fieldsync_core::error::CoreError;
use fieldsync_core::model::Kind;
use fieldsync_core::store::StoreKey;

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
    let plain = Store::open(&path).unwrap();
    plain.set_user("resident-1").unwrap();
    let ids: Vec<_> = (0..20).map(|_| plain.create(&new_report(SECRET)).unwrap()).collect();
    drop(plain);
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
