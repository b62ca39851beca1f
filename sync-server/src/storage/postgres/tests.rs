//! The PostgreSQL backend against the conformance suite, and what only several writers can get
//! wrong: the log's order while an earlier commit is still in flight, and two instances writing
//! one document. Each storage lives in a schema of its own in the server the tests use
//! (`fieldsync_tests::tools::postgres_url`), dropped when its guard goes; without a server the
//! tests skip with one line (the house rule; CI fails instead).

use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::DocId;
use fieldsync_tests::postgres::Schema;
use fieldsync_tests::tools::{Tool, available, postgres_url};
use tokio_postgres::NoTls;

use super::PostgresStorage;
use crate::storage::conformance::{self, sample_write};
use crate::storage::index::IndexRow;
use crate::storage::{
    Award, DocumentStorage, IndexStorage, PointsStorage, PointsTarget, Storage, StorageError,
};

/// A storage on `schema`, as one server instance opens it.
async fn open(schema: &Schema) -> PostgresStorage {
    PostgresStorage::open(&schema.url()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    if !available("postgres::passes_the_conformance_suite", &[Tool::Postgres]) {
        return;
    }
    conformance::run_all(|| async {
        let schema = Schema::new().await;
        let storage = open(&schema).await;
        (Box::new(schema) as conformance::Guard, Arc::new(storage) as Arc<dyn Storage>)
    })
    .await;
}

/// Whether `f` is still running after a while (it waits on a lock).
async fn still_waiting<T>(f: &mut tokio::task::JoinHandle<T>) -> bool {
    tokio::time::timeout(Duration::from_millis(300), f).await.is_err()
}

/// A commit in flight holds seqs that are not yet visible; a second instance's commit, which
/// took later seqs, commits meanwhile (it no longer waits for the first: the numbering's lock
/// is released before the commit) but must not be read before it, nor may a reader see a gap:
/// a device that pulled up to the second's seqs would never be sent the first's. Every reader
/// stops at the watermark: the log's end, its pages and audit view, the catch-up's document
/// positions, the index rows by seq, the documents a stretch of the log names, and the end an
/// instance publishes to its waiters (`log_watch`); pruning the marks keeps it. The first
/// commit is held in flight by a lock on the points account its write settles, taken outside
/// the storage: the commit waits there after it was numbered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seq_is_never_visible_before_a_smaller_one_that_commits_later() {
    if !available("postgres::a_seq_is_never_visible_before…", &[Tool::Postgres]) {
        return;
    }
    let schema = Schema::new().await;
    let one = Arc::new(open(&schema).await);
    let two = Arc::new(open(&schema).await);
    let a = DocId::random();
    one.commit(vec![sample_write(a, None, 1)]).await.unwrap().pop().unwrap().unwrap();
    let award = Award {
        account: "resident-1".into(),
        amount: 3,
        reason: "volunteer work".into(),
        by: "leader-1".into(),
        at: 1,
        source: None,
    };
    one.award(award).await.unwrap();
    let seen_before = one.log_page(0, vec![], 1 << 20).await.unwrap();
    assert_eq!(seen_before.end, 1);
    let mut watch = one.log_watch().unwrap();

    // Another session holds the account's row: the next commit of `a` stops at its points.
    let (holder, conn) = tokio_postgres::connect(&postgres_url(), NoTls).await.unwrap();
    tokio::spawn(conn);
    holder.batch_execute(&format!("SET search_path = {}", schema.name())).await.unwrap();
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .execute("SELECT 1 FROM points_accounts WHERE account = 'resident-1' FOR UPDATE", &[])
        .await
        .unwrap();
    let mut first = sample_write(a, Some(1), 2);
    first.points = Some(PointsTarget {
        account: "resident-1".into(),
        source: a,
        target: 5,
        earned_reason: "confirmed".into(),
        reversed_reason: "reopened".into(),
        by: "resident-1".into(),
    });
    let mut first = tokio::spawn({
        let one = one.clone();
        async move { one.commit(vec![first]).await }
    });
    assert!(still_waiting(&mut first).await, "the first commit waits on the account");
    // The second instance creates another document, with its index row, meanwhile.
    let row = conformance::index::report("jl/changchun/grid-07", 1);
    let b = row.doc;
    let mut w = sample_write(b, None, 3);
    w.index = Some(IndexRow::Report(row));
    let second = tokio::time::timeout(Duration::from_secs(10), two.commit(vec![w]))
        .await
        .expect("the second commit does not wait for the first")
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(second.last_seq, 6, "numbered after the first");
    // Whatever a reader sees now has no gap, and nothing after the first's seqs.
    for _ in 0..2 {
        for s in [&one, &two] {
            let page = s.log_page(0, vec![], 1 << 20).await.unwrap();
            let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, vec![1], "nothing is read past a commit in flight");
            assert_eq!(page.end, 1);
            assert_eq!(s.log_end().await.unwrap(), 1);
            let audit: Vec<u64> = s.audit(0, 100).await.unwrap().iter().map(|r| r.seq).collect();
            assert_eq!(audit, vec![1]);
            assert_eq!(s.docs_end().await.unwrap(), 1);
            let page = s.catch_up(0, 1 << 20, None).await.unwrap();
            let docs: Vec<DocId> = page.docs.iter().map(|d| d.doc).collect();
            assert_eq!((docs, page.log_end, page.done), (vec![a], 1, true));
            assert!(s.index_changes_after(0, 10).await.unwrap().is_empty());
            assert_eq!(s.logged_docs(0, 6, 10).await.unwrap(), vec![(a, 1)]);
        }
        // Pruning the marks keeps the watermark where it is.
        super::group::prune(&one.db).await.unwrap();
    }
    // The commit's notification is heard, and the end published stays below the first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(*watch.borrow_and_update() <= 1, "no waiter is woken past a commit in flight");
    holder.batch_execute("ROLLBACK").await.unwrap();
    let first = first.await.unwrap().unwrap().pop().unwrap().unwrap();
    assert_eq!(first.last_seq, 3, "seqs in numbering order");
    // A device that pulled up to 1 before is sent every entry after it, in order.
    let after = one.log_page(seen_before.end, vec![], 1 << 20).await.unwrap();
    let seqs: Vec<u64> = after.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![2, 3, 4, 5, 6]);
    let changes = two.index_changes_after(0, 10).await.unwrap();
    assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![6]);
    assert_eq!(one.points_of("resident-1".into(), 0, 10).await.unwrap().0.balance, 8);
    // Both instances publish the new end to their waiters.
    for s in [&one, &two] {
        let mut watch = s.log_watch().unwrap();
        tokio::time::timeout(Duration::from_secs(10), watch.wait_for(|end| *end == 6))
            .await
            .expect("the end is published")
            .unwrap();
    }
    // Pruned, the marks are folded into the head, which readers read then.
    super::group::prune(&one.db).await.unwrap();
    assert_eq!((one.log_end().await.unwrap(), one.docs_end().await.unwrap()), (6, 2));
    one.close().await;
    two.close().await;
}

/// Two instances write one document at once, each retrying on a conflict from the version it
/// reads again: every write lands once, none replaces another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_writing_one_document_lose_no_update() {
    if !available("postgres::two_instances_writing_one_document…", &[Tool::Postgres]) {
        return;
    }
    let schema = Schema::new().await;
    let instances = [Arc::new(open(&schema).await), Arc::new(open(&schema).await)];
    let doc = DocId::random();
    instances[0].commit(vec![sample_write(doc, None, 1)]).await.unwrap().pop().unwrap().unwrap();
    const WRITES: u32 = 15;
    let writers = instances.iter().enumerate().map(|(i, s)| {
        let s = s.clone();
        tokio::spawn(async move {
            let mut conflicts = 0;
            for n in 0..WRITES {
                loop {
                    let stored = s.load(vec![doc]).await.unwrap().pop().unwrap().unwrap();
                    let mut w = sample_write(doc, Some(stored.meta.version), 1);
                    // A change of this writer's own (the made-up hash names writer and write).
                    w.changes =
                        vec![conformance::documents::change(doc, 100_000 * (i as u32 + 1) + n, 1)];
                    w.bytes = crate::storage::DocBytes::Chunk(w.changes[0].bytes.clone());
                    match s.commit(vec![w]).await.unwrap().pop().unwrap() {
                        Ok(_) => break,
                        Err(StorageError::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            conflicts
        })
    });
    let mut conflicts = 0;
    for w in writers {
        conflicts += w.await.unwrap();
    }
    let stored = instances[1].load(vec![doc]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(stored.meta.version, 1 + 2 * u64::from(WRITES));
    let log = instances[1].audit(0, 1000).await.unwrap();
    assert_eq!(log.len(), 1 + 2 * WRITES as usize, "every write logged once");
    for e in &log {
        assert!(stored.bytes.windows(e.bytes.len()).any(|w| w == e.bytes), "seq {} kept", e.seq);
    }
    tracing::info!(conflicts, "conflicts retried");
    for s in &instances {
        s.close().await;
    }
}

/// An instance hears of another instance's commits (LISTEN/NOTIFY), and of none that rolled
/// back; closing ends what it publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_hears_of_the_commits_of_another() {
    if !available("postgres::an_instance_hears_of_the_commits_of_another", &[Tool::Postgres]) {
        return;
    }
    let schema = Schema::new().await;
    let one = open(&schema).await;
    let two = open(&schema).await;
    let mut heard = one.log_watch().expect("PostgreSQL has other writers");
    let wait = |heard: &mut tokio::sync::watch::Receiver<u64>, seq: u64| {
        let mut heard = heard.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(5), heard.wait_for(|s| *s >= seq))
                .await
                .map(|r| r.map(|s| *s))
        }
    };
    two.commit(vec![sample_write(DocId::random(), None, 2)]).await.unwrap();
    assert_eq!(wait(&mut heard, 2).await.unwrap().unwrap(), 2);
    // A conflict commits nothing of its write: no seq is announced for it.
    let r = two.commit(vec![sample_write(DocId::random(), Some(4), 1)]).await.unwrap();
    assert!(matches!(r[0], Err(StorageError::Conflict { .. })));
    two.commit(vec![sample_write(DocId::random(), None, 1)]).await.unwrap();
    assert_eq!(wait(&mut heard, 3).await.unwrap().unwrap(), 3);
    assert_eq!(*heard.borrow_and_update(), 3);
    one.close().await;
    assert!(heard.changed().await.is_err(), "closing ends the channel");
    two.close().await;
}

/// One instance of those on a database leads the jobs that run once; when it goes, another
/// takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_leads_and_another_takes_over_when_it_goes() {
    if !available("postgres::one_instance_leads…", &[Tool::Postgres]) {
        return;
    }
    let schema = Schema::new().await;
    let (one, two) = (open(&schema).await, open(&schema).await);
    assert!(one.try_lead().await);
    assert!(!two.try_lead().await, "the lock is held");
    // Another deployment on the same database server (its own schema) has its own leader.
    let elsewhere = Schema::new().await;
    let other = open(&elsewhere).await;
    assert!(other.try_lead().await, "a deployment in another schema leads its own jobs");
    other.close().await;
    assert!(one.try_lead().await, "a leader stays the leader");
    one.close().await;
    let mut took_over = false;
    for _ in 0..50 {
        if two.try_lead().await {
            took_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(took_over, "the lock went with the first instance");
    two.close().await;
}

/// Concurrent commits of one instance share transactions (fewer transactions than requests),
/// and each request still gets the results of its own writes: a write built on a stale version
/// fails alone, the others of its group commit, and the log has no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_of_one_instance_are_grouped_and_answered_apart() {
    if !available("postgres::concurrent_commits_of_one_instance…", &[Tool::Postgres]) {
        return;
    }
    const REQUESTS: usize = 20;
    let schema = Schema::new().await;
    let storage = Arc::new(open(&schema).await);
    let stale = DocId::random();
    storage.commit(vec![sample_write(stale, None, 1)]).await.unwrap().pop().unwrap().unwrap();
    storage.commit(vec![sample_write(stale, Some(1), 1)]).await.unwrap().pop().unwrap().unwrap();
    let before = storage.group.batches();
    let requests = (0..REQUESTS).map(|i| {
        let storage = storage.clone();
        async move {
            // Request 7 writes on version 1 of a document stored at version 2.
            let write = if i == 7 {
                sample_write(stale, Some(1), 1)
            } else {
                sample_write(DocId::random(), None, 2)
            };
            storage.commit(vec![write]).await
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let batches = storage.group.batches() - before;
    assert!(batches <= REQUESTS as u64 / 2, "{batches} transactions for {REQUESTS} requests");
    for (i, answer) in answers.into_iter().enumerate() {
        let mut results = answer.unwrap();
        assert_eq!(results.len(), 1);
        match (i, results.pop().unwrap()) {
            (7, Err(StorageError::Conflict { doc, .. })) => assert_eq!(doc, stale),
            (7, other) => panic!("the stale write came back {other:?}"),
            (_, Ok(c)) => assert_eq!(c.version, 1),
            (_, Err(e)) => panic!("request {i} failed: {e}"),
        }
    }
    let page = storage.log_page(0, vec![], 1 << 20).await.unwrap();
    let seqs: Vec<u64> = page.entries.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=(2 + 2 * (REQUESTS as u64 - 1))).collect();
    assert_eq!(seqs, expected, "every change logged once, no gap");
}

/// A database restored into another cluster carries marks whose transaction ids may lie ahead
/// of the new cluster's: they are read only as a chain without gaps above the head, and would
/// never be pruned until the new cluster's ids caught up. The epoch step (`renew_epoch`, run
/// with every instance stopped) folds them into the head; the whole log is read, and commits
/// go on from the sequences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_epoch_step_reads_a_restored_log_whole() {
    if !available("postgres::the_epoch_step_reads_a_restored_log_whole", &[Tool::Postgres]) {
        return;
    }
    let schema = Schema::new().await;
    let storage = open(&schema).await;
    let a = DocId::random();
    storage.commit(vec![sample_write(a, None, 3)]).await.unwrap();
    assert_eq!(storage.log_end().await.unwrap(), 3);
    let epoch = storage.epoch().to_string();
    storage.close().await;
    // The marks as another cluster, whose transaction ids ran far ahead, left them.
    let (sql, conn) = tokio_postgres::connect(&schema.url(), NoTls).await.unwrap();
    tokio::spawn(conn);
    sql.batch_execute(
        "UPDATE log_head SET seq = 0, docs = 0; DELETE FROM log_marks; \
         INSERT INTO log_marks (xid, seq, docs, changes, created) \
         VALUES (((pg_current_xact_id()::text)::bigint + 1000000)::text::xid8, 3, 1, 3, 1)",
    )
    .await
    .unwrap();
    let restored = open(&schema).await;
    assert_eq!(restored.log_end().await.unwrap(), 3, "the marks' chain is read");
    restored.close().await;
    let renewed = PostgresStorage::renew_epoch(&schema.url()).await.unwrap();
    assert_ne!(renewed, epoch);
    let storage = open(&schema).await;
    assert_eq!((storage.log_end().await.unwrap(), storage.docs_end().await.unwrap()), (3, 1));
    let log = storage.log_page(0, vec![], 1 << 20).await.unwrap();
    assert_eq!(log.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let marks: i64 = sql.query_one("SELECT count(*) FROM log_marks", &[]).await.unwrap().get(0);
    assert_eq!(marks, 0);
    // Commits go on from the sequences.
    let c = storage.commit(vec![sample_write(a, Some(1), 1)]).await.unwrap().pop().unwrap();
    assert_eq!(c.unwrap().last_seq, 4);
    assert_eq!(storage.log_end().await.unwrap(), 4);
    storage.close().await;
}
