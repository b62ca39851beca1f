//! Rows kept write by write through the push path equal the rows a rebuild computes, for a
//! report that goes through every step the index counts (escalations included: the server's
//! system device writes them, so the push here has no device and no policy applies).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use automerge::ChangeHash;
use fieldsync_core::model::{Command, NewRecord, NewReport, OverdueLimit, ReportCategory};
use fieldsync_core::protocol::{self, PushDoc, PushOutcome};
use fieldsync_core::time::Timestamp;
use fieldsync_core::{DocId, Store};

use super::{reindex, row_of};
use crate::config::Durability;
use crate::documents::Documents;
use crate::documents::cache::DocCache;
use crate::rules::{Priority, Rules};
use crate::storage::index::IndexRow;
use crate::storage::{SqliteStorage, Storage};

fn push_of(store: &Store, id: DocId, after: &[ChangeHash]) -> PushDoc {
    let mut doc = store.load(id).unwrap();
    let changes = doc.get_changes(after).iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
    PushDoc { doc: id, changes, heads: protocol::to_wire(&doc.get_heads()), signed: vec![] }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_kept_by_pushes_equal_rebuilt_rows() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(dir.path().join("s.db"), Durability::Normal).unwrap());
    let rules = Rules::default();
    let docs = Documents::new(
        storage.clone(),
        DocCache::new(100, 1 << 20),
        fieldsync_core::limits::DOC_BYTES,
        Arc::new(rules.clone()),
        0,
    );
    let store = Store::open(dir.path().join("phone.db")).unwrap();
    store.set_user("desk-1").unwrap();
    let id = store
        .create(&NewRecord::Report {
            report: NewReport {
                scope: "jl/cc/grid-07".into(),
                category: ReportCategory::SafetyHazard,
                title: "井盖缺失".into(),
                description: "路口".into(),
                location: None,
                photos: vec![],
            },
        })
        .unwrap();
    let deadline = Timestamp::from_millis(fieldsync_core::time::now_ms() + 3_600_000);
    let steps: Vec<Vec<Command>> = vec![
        vec![],
        vec![Command::Escalate { limit: OverdueLimit::Accept, notify: vec!["gl-1".into()] }],
        vec![
            Command::AcceptReport { note: String::new() },
            Command::DispatchReport { assignee: "officer-1".into(), deadline, note: String::new() },
        ],
        vec![
            Command::Supervise { note: "faster".into() },
            Command::Supervise { note: "now".into() },
        ],
        vec![
            Command::StartWork { note: String::new() },
            Command::ResolveReport { note: String::new() },
        ],
        vec![Command::ReopenReport { reason: "still open".into() }],
        vec![Command::CommentReport { text: "seen".into() }],
    ];
    let mut pushed: Vec<ChangeHash> = Vec::new();
    for step in steps {
        for cmd in &step {
            store.execute(id, cmd).unwrap();
        }
        let push = push_of(&store, id, &pushed);
        let results = crate::documents::push::push(&docs, vec![push], None, Default::default())
            .await
            .unwrap();
        assert!(matches!(results[0].outcome, PushOutcome::Acked { .. }), "{:?}", results[0]);
        pushed = store.heads(id).unwrap();
    }

    let kept = storage.index_row(id).await.unwrap().unwrap();
    assert_eq!(kept.seq, storage.log_end().await.unwrap());
    let IndexRow::Report(r) = &kept.row else { panic!("{kept:?}") };
    assert_eq!((r.supervisions, r.reopens, r.comments), (2, 1, 1));
    assert!(r.escalated_accept && !r.escalated_resolve);
    assert!(r.resolved_at.is_some() && r.confirmed_at.is_none());
    assert_eq!(r.priority, Priority::Urgent);
    assert_eq!(r.deadline, Some(deadline.into()));
    // The row is what the record computes to.
    let record = fieldsync_core::model::read_record(&store.load(id).unwrap(), id).unwrap();
    assert_eq!(kept.row, row_of(&record, &rules));

    let done = reindex(&storage, &rules).await.unwrap();
    assert_eq!(done.rows, 1);
    assert_eq!(storage.index_row(id).await.unwrap().unwrap(), kept);
    storage.close().await;
}
