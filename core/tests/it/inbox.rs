//! The responder's inbox: what is listed and why, the events a sync brings for new items
//! (once each, never for the user's own commands), paging, bad input, and the projection's
//! rebuild and upgrade.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use fieldsync_core::model::*;
use fieldsync_core::store::*;
use fieldsync_core::time::{TimeSpan, Timestamp};
use fieldsync_core::{CoreError, DocId, Store};

const ME: &str = "officer-1";

#[derive(Default)]
struct Recorder(Mutex<Vec<RecordChanged>>);

impl StoreObserver for Recorder {
    fn records_changed(&self, changes: &[RecordChanged]) {
        self.0.lock().unwrap().extend_from_slice(changes);
    }
}

impl Recorder {
    /// The inbox reasons told since the last call, with their origins.
    fn take(&self) -> Vec<(DocId, Origin, Vec<InboxReason>)> {
        self.0.lock().unwrap().drain(..).map(|c| (c.id, c.origin, c.inbox)).collect()
    }
}

fn in_hours(h: u64) -> Timestamp {
    Timestamp::now().plus(Duration::from_secs(h * 3600))
}

fn dispatch(to: &str, deadline: Timestamp) -> Command {
    Command::DispatchReport { assignee: to.into(), deadline, note: String::new() }
}

fn supervise(note: &str) -> Command {
    Command::Supervise { note: note.into() }
}

/// A report the dispatcher accepted and dispatched to `to`.
fn dispatched(disp: &Store, title: &str, to: &str, deadline: Timestamp) -> DocId {
    let id = disp.create(&new_report(title)).unwrap();
    disp.execute(id, &Command::AcceptReport { note: String::new() }).unwrap();
    disp.execute(id, &dispatch(to, deadline)).unwrap();
    id
}

fn sync(from: &Store, to: &Store, id: DocId) {
    to.merge_remote(id, &from.saved_bytes(id).unwrap()).unwrap();
}

fn inbox(s: &Store, filter: &InboxFilter) -> Vec<(DocId, Vec<InboxReason>)> {
    let page = s.inbox(filter, &PageRequest::first(MAX_PAGE)).unwrap();
    page.items.into_iter().map(|i| (i.report.id, i.reasons)).collect()
}

fn only(reasons: &[InboxReason]) -> InboxFilter {
    InboxFilter { reasons: reasons.to_vec(), ..InboxFilter::default() }
}

#[test]
fn a_dispatch_a_supervision_and_an_escalation_reach_the_inbox_once_each() {
    use InboxReason::*;
    let dir = tempfile::tempdir().unwrap();
    let disp = store(&dir, "disp", "disp-1");
    let me = store(&dir, "me", ME);
    let rec = Arc::new(Recorder::default());
    me.add_observer(rec.clone());

    let id = dispatched(&disp, "roof-top building", ME, in_hours(2));
    sync(&disp, &me, id);
    assert_eq!(rec.take(), [(id, Origin::Remote, vec![Assigned])]);
    sync(&disp, &me, id);
    assert_eq!(rec.take(), [], "a re-merge of known changes tells nothing");
    assert_eq!(inbox(&me, &InboxFilter::default()), [(id, vec![Assigned, DueSoon])]);
    let narrow = InboxFilter { due_within: Some(TimeSpan::from_secs(3600)), ..only(&[DueSoon]) };
    assert_eq!(inbox(&me, &narrow), [], "due in two hours is not due within one");
    let later = InboxFilter { now: Some(in_hours(3)), ..InboxFilter::default() };
    assert_eq!(inbox(&me, &later), [(id, vec![Assigned, Overdue])]);
    assert_eq!(inbox(&me, &only(&[Supervised, Escalated])), []);

    disp.execute(id, &supervise("today, please")).unwrap();
    sync(&disp, &me, id);
    assert_eq!(rec.take(), [(id, Origin::Remote, vec![Supervised])]);
    sync(&disp, &me, id);
    assert_eq!(rec.take(), []);
    let page = me.inbox(&only(&[Supervised]), &PageRequest::first(10)).unwrap();
    assert_eq!(page.items.len(), 1);
    let item = &page.items[0];
    assert_eq!(item.reasons, [Assigned, Supervised, DueSoon]);
    assert_eq!(item.supervisions, 1);
    assert_eq!(Some(item.at), item.supervised_at, "the supervision is its latest news");

    // The server's system device escalates it, naming the grid leader.
    let system = store(&dir, "system", "system");
    let leader = store(&dir, "leader", "gl-1");
    let told = Arc::new(Recorder::default());
    leader.add_observer(told.clone());
    sync(&disp, &system, id);
    let escalate = Command::Escalate { limit: OverdueLimit::Resolve, notify: vec!["gl-1".into()] };
    system.execute(id, &escalate).unwrap();
    sync(&system, &me, id);
    assert_eq!(rec.take(), [(id, Origin::Remote, vec![Escalated])], "on my report");
    sync(&system, &leader, id);
    assert_eq!(told.take(), [(id, Origin::Remote, vec![Escalated])], "naming the leader");
    assert_eq!(inbox(&leader, &InboxFilter::default()), [(id, vec![Escalated])]);
    assert_eq!(
        inbox(&me, &only(&[Escalated])),
        [(id, vec![Assigned, Supervised, DueSoon, Escalated])]
    );

    // My own commands tell me nothing new; the report stays mine while I work on it.
    me.execute(id, &Command::StartWork { note: String::new() }).unwrap();
    assert_eq!(rec.take(), [(id, Origin::Local, vec![])]);
    assert_eq!(inbox(&me, &only(&[Assigned])).len(), 1);
    me.execute(id, &Command::ResolveReport { note: String::new() }).unwrap();
    assert_eq!(inbox(&me, &InboxFilter::default()), [], "a resolved report leaves the inbox");
    sync(&me, &leader, id);
    assert_eq!(told.take(), [(id, Origin::Remote, vec![])]);
    assert_eq!(inbox(&leader, &InboxFilter::default()), [], "and the escalation with it");
}

#[test]
fn what_was_pressed_before_the_dispatch_is_not_the_assignees_news() {
    use InboxReason::*;
    let dir = tempfile::tempdir().unwrap();
    let disp = store(&dir, "disp", "disp-1");
    let me = store(&dir, "me", ME);
    let rec = Arc::new(Recorder::default());
    me.add_observer(rec.clone());
    let id = disp.create(&new_report("blocked exit")).unwrap();
    disp.execute(id, &Command::AcceptReport { note: String::new() }).unwrap();
    disp.execute(id, &supervise("hurry")).unwrap();
    disp.execute(id, &dispatch("officer-2", in_hours(30))).unwrap();
    disp.execute(id, &supervise("officer-2, hurry")).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    disp.execute(id, &dispatch(ME, in_hours(30))).unwrap();
    sync(&disp, &me, id);
    assert_eq!(rec.take(), [(id, Origin::Remote, vec![Assigned])]);
    assert_eq!(inbox(&me, &InboxFilter::default()), [(id, vec![Assigned])]);
    let item = &me.inbox(&InboxFilter::default(), &PageRequest::first(1)).unwrap().items[0];
    assert_eq!(item.supervisions, 2);

    // Re-dispatched to someone else: it leaves my inbox, and telling me of it is not news.
    disp.execute(id, &dispatch("officer-2", in_hours(30))).unwrap();
    sync(&disp, &me, id);
    assert_eq!(rec.take(), [(id, Origin::Remote, vec![])]);
    assert_eq!(inbox(&me, &InboxFilter::default()), []);
}

#[test]
fn the_inbox_pages_newest_first_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let disp = store(&dir, "disp", "disp-1");
    let me = store(&dir, "me", ME);
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = dispatched(&disp, &format!("report {i}"), ME, in_hours(48));
        sync(&disp, &me, id);
        ids.push(id);
        std::thread::sleep(Duration::from_millis(2));
    }
    let other = dispatched(&disp, "not mine", "officer-2", in_hours(48));
    sync(&disp, &me, other);
    let mut seen = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let p = me.inbox(&InboxFilter::default(), &page).unwrap();
        assert!(p.items.len() <= 2);
        seen.extend(p.items.iter().map(|i| i.report.id));
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "every item once, the latest dispatch first");

    let bad_cursor = PageRequest { limit: 10, after: Some("x'; DROP TABLE reports".into()) };
    let err = me.inbox(&InboxFilter::default(), &bad_cursor).unwrap_err();
    assert!(matches!(err, CoreError::InvalidInput { .. }), "{err:?}");
    for window in [-1, 400 * 24 * 3600] {
        let f = InboxFilter { due_within: Some(TimeSpan::from_secs(window)), ..Default::default() };
        let err = me.inbox(&f, &PageRequest::first(10)).unwrap_err();
        assert!(err.to_string().contains("due_within"), "{err}");
    }
    let err = me.inbox(&InboxFilter::default(), &PageRequest::first(0)).unwrap_err();
    assert!(matches!(err, CoreError::InvalidInput { .. }), "{err:?}");
}

/// A store with one report dispatched to [`ME`], supervised and escalated naming gl-1.
fn busy_store(dir: &tempfile::TempDir) -> (Store, DocId) {
    let disp = store(dir, "disp", "disp-1");
    let id = dispatched(&disp, "smoke", ME, in_hours(30));
    disp.execute(id, &supervise("now")).unwrap();
    disp.set_user("system").unwrap();
    let escalate = Command::Escalate { limit: OverdueLimit::Accept, notify: vec!["gl-1".into()] };
    disp.execute(id, &escalate).unwrap();
    let me = store(dir, "me", ME);
    sync(&disp, &me, id);
    (me, id)
}

/// Supervisions, last supervised, escalations, last escalated, users named.
type InboxRow = (i64, Option<i64>, i64, Option<i64>, i64);

fn inbox_rows(path: &std::path::Path) -> Vec<InboxRow> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut rows: Vec<_> = c
        .prepare(
            "SELECT supervisions, supervised_at, escalations, escalated_at, \
             (SELECT count(*) FROM report_notified n WHERE n.doc = r.doc) FROM reports r",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    rows.sort();
    rows
}

#[test]
fn rebuild_projections_restores_the_inbox_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (me, id) = busy_store(&dir);
    let path = dir.path().join("me.db");
    let before = inbox_rows(&path);
    assert_eq!((before[0].0, before[0].2, before[0].4), (1, 1, 1));
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "UPDATE reports SET supervisions = 0, supervised_at = NULL, escalations = 0, \
             escalated_at = NULL, assigned_at = NULL; DELETE FROM report_notified;",
        )
        .unwrap();
    me.rebuild_projections().unwrap();
    assert_eq!(inbox_rows(&path), before);
    let all = InboxReason::ALL.to_vec();
    assert_eq!(
        inbox(&me, &InboxFilter::default()),
        [(id, vec![InboxReason::Assigned, InboxReason::Supervised, InboxReason::Escalated])]
    );
    assert_eq!(inbox(&me, &only(&all)).len(), 1);
}

#[test]
fn a_version_5_store_gets_its_inbox_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (me, id) = busy_store(&dir);
    drop(me);
    let path = dir.path().join("me.db");
    {
        // What schema version 5 left: the people of patrols and cases in tables of their own
        // (merged in version 15), no inbox columns, no report_notified (nor the points of
        // versions 7 and 8, the business registry, the bulletins of version 9, the visits of
        // version 10, the deliberations of version 11, the peer credentials of version 12 or the
        // change signatures of version 13).
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE patrol_members (user TEXT NOT NULL, \
             doc INTEGER NOT NULL REFERENCES patrols(doc) ON DELETE CASCADE, \
             PRIMARY KEY (user, doc)) WITHOUT ROWID; \
             CREATE TABLE case_mediators (user TEXT NOT NULL, \
             doc INTEGER NOT NULL REFERENCES cases(doc) ON DELETE CASCADE, \
             PRIMARY KEY (user, doc)) WITHOUT ROWID; \
             INSERT INTO patrol_members SELECT user, doc FROM doc_users WHERE role = 'patrol_member'; \
             INSERT INTO case_mediators SELECT user, doc FROM doc_users WHERE role = 'case_mediator'; \
             DROP TABLE doc_users; \
             DROP TABLE change_sigs; DROP TABLE peer_credentials; DROP TABLE deliberations; \
             DROP TABLE visit_rules; DROP TABLE visits; \
             DROP TABLE bulletins; \
             DROP TABLE businesses; \
             DROP TABLE points_statement; DROP TABLE points_entries; DROP TABLE points_vouchers; \
             DROP TABLE report_notified; \
             ALTER TABLE reports DROP COLUMN assigned_at; \
             ALTER TABLE reports DROP COLUMN supervisions; \
             ALTER TABLE reports DROP COLUMN supervised_at; \
             ALTER TABLE reports DROP COLUMN escalations; \
             ALTER TABLE reports DROP COLUMN escalated_at; \
             PRAGMA user_version = 5;",
        )
        .unwrap();
    }
    let me = Store::open(&path).unwrap();
    let items = me.inbox(&InboxFilter::default(), &PageRequest::first(10)).unwrap().items;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].report.id, id);
    assert_eq!(
        items[0].reasons,
        [InboxReason::Assigned, InboxReason::Supervised, InboxReason::Escalated]
    );
    assert_eq!(items[0].supervisions, 1);
    let flag: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM meta WHERE key = 'projection_rebuild'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(flag, 0, "projected once");
}
