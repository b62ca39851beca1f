//! The SQLite backend against the conformance suite, and what only it can get wrong: the
//! points ledger's append-only triggers, writes after close, and the database file a closed
//! storage leaves.

use super::*;
use crate::storage::conformance::points::award;

fn open() -> (tempfile::TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStorage::open(dir.path().join("t.db"), Durability::Normal).unwrap();
    (dir, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    crate::storage::conformance::run_all(|| async {
        let (dir, s) = open();
        (Box::new(dir) as Box<dyn std::any::Any + Send>, Arc::new(s) as Arc<dyn Storage>)
    })
    .await;
}

#[tokio::test]
async fn the_points_ledger_refuses_updates_and_deletes() {
    let (dir, s) = open();
    s.award(award("resident-1", 5, 1)).await.unwrap();
    s.close().await;
    let conn = Connection::open(dir.path().join("t.db")).unwrap();
    for sql in ["UPDATE points_ledger SET amount = 500", "DELETE FROM points_ledger"] {
        let e = conn.execute(sql, []).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    let e = conn.execute("UPDATE points_accounts SET balance = -1", []).unwrap_err();
    assert!(e.to_string().contains("CHECK"), "{e}");
}

/// Once closed, the database file alone holds everything written: the log was copied into
/// it and removed, though readers had been open beside the writer. A copy of the file,
/// without the log beside it, reads every entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_storage_leaves_everything_in_the_database_file() {
    let (dir, s) = open();
    for amount in 1..=20 {
        s.award(award("resident-1", amount, amount)).await.unwrap();
        // Reads between the writes keep reader connections open beside the writer.
        s.points_of("resident-1".into(), 0, 100).await.unwrap();
    }
    let wal = dir.path().join("t.db-wal");
    assert!(wal.exists(), "the writes went to the log first");
    s.close().await;
    assert!(!wal.exists(), "the log is gone once the storage is closed");
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("t.db"), copy.path().join("t.db")).unwrap();
    let conn = Connection::open(copy.path().join("t.db")).unwrap();
    let entries: i64 =
        conn.query_row("SELECT count(*) FROM points_ledger", [], |r| r.get(0)).unwrap();
    assert_eq!(entries, 20);
}

#[tokio::test]
async fn closed_storage_refuses_writes() {
    let (_dir, s) = open();
    s.close().await;
    let write = crate::storage::conformance::sample_write(DocId::random(), None, 1);
    assert!(matches!(s.commit(vec![write]).await, Err(StorageError::Closed)));
}
