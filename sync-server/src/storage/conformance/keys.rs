//! The Open311 API keys' part of the conformance suite: keys added once, found by hash,
//! listed oldest first, revoked once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::storage::{NewKey, Storage, StoredKey};

const T0: i64 = 1_800_000_000_000;

fn key(id: &str, n: u8, at: i64) -> NewKey {
    NewKey {
        id: id.into(),
        name: format!("app {id}"),
        scopes: vec!["jl/cc/grid-01".into(), "jl/cc/grid-02".into()],
        hash: vec![n; 32],
        at,
    }
}

pub async fn keys_are_added_once_and_found_by_hash(s: &dyn Storage) {
    assert!(s.keys().await.unwrap().is_empty());
    assert!(s.add_key(key("k2", 2, T0 + 1)).await.unwrap());
    assert!(s.add_key(key("k1", 1, T0)).await.unwrap());
    assert!(!s.add_key(key("k1", 3, T0)).await.unwrap(), "the id is taken");
    assert!(!s.add_key(key("k3", 2, T0)).await.unwrap(), "the hash is taken");
    let found = s.key_by_hash(vec![1; 32]).await.unwrap().unwrap();
    assert_eq!(
        found,
        StoredKey {
            id: "k1".into(),
            name: "app k1".into(),
            scopes: vec!["jl/cc/grid-01".into(), "jl/cc/grid-02".into()],
            created_at: T0,
            revoked_at: None,
        }
    );
    assert!(s.key_by_hash(vec![3; 32]).await.unwrap().is_none());
    let ids: Vec<String> = s.keys().await.unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(ids, ["k1", "k2"], "oldest first");
}

pub async fn a_revoked_key_keeps_its_first_time(s: &dyn Storage) {
    assert!(s.add_key(key("k1", 1, T0)).await.unwrap());
    assert!(s.add_key(key("k2", 2, T0)).await.unwrap());
    assert!(!s.revoke_key("nope".into(), T0 + 1).await.unwrap());
    assert!(s.revoke_key("k1".into(), T0 + 5).await.unwrap());
    assert!(s.revoke_key("k1".into(), T0 + 9).await.unwrap());
    let k1 = s.key_by_hash(vec![1; 32]).await.unwrap().unwrap();
    assert_eq!(k1.revoked_at, Some(T0 + 5), "found by hash, revoked at the first time");
    let k2 = s.key_by_hash(vec![2; 32]).await.unwrap().unwrap();
    assert_eq!(k2.revoked_at, None, "the other key is untouched");
}
