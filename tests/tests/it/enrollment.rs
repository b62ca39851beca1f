//! A phone enrolls against the real server on a loopback port with a code from the accounts the
//! admin CLI manages, keeps its credentials in its SQLite file, writes with the actor the server
//! gave it, and refuses, before committing, what its profile does not allow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fieldsync_core::model::*;
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::sync::{EnrollOptions, HttpTransport, SyncClient, enroll, enroll_with};
use fieldsync_core::{CoreError, Store};
use fieldsync_server::{RunningServer, Server, ServerConfig};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";
const OTHER_GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";

fn admin() -> Profile {
    Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] }
}

fn report(scope: &str) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: scope.into(),
            category: ReportCategory::IllegalConstruction,
            title: "楼顶违建 rooftop shed".into(),
            description: "6号楼顶新搭彩钢房".into(),
            location: None,
            photos: vec![],
        },
    }
}

async fn server(dir: &std::path::Path) -> RunningServer {
    let config = ServerConfig::new(dir.join("server")).with_listen("127.0.0.1:0".parse().unwrap());
    Server::start(&config).await.expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_enrolls_once_and_checks_its_commands_before_committing() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let accounts = server.server().accounts();
    accounts.add_user("res-1", Role::Resident, None, &[GRID.to_string()]).unwrap();
    let code = accounts.issue_code("res-1", &admin(), Duration::from_secs(600)).unwrap().code;
    let http = HttpTransport::new(&server.url()).unwrap();

    let store = Store::open(dir.path().join("phone.db")).unwrap();
    assert!(store.enrollment().unwrap().is_none());
    let bad = enroll(&store, &http, "", "Pixel 7").await.unwrap_err();
    assert!(matches!(bad, CoreError::InvalidInput { field: "code", .. }), "{bad:?}");
    let e = enroll(&store, &http, &code, "Pixel 7").await.unwrap();
    assert_eq!(e.profile.role, Role::Resident);
    let device = accounts.devices().unwrap().into_iter().find(|d| d.id == e.device).unwrap();
    assert_eq!(store.identity().actor.to_bytes(), &device.actor[..]);
    assert_eq!(store.identity().user, "res-1");

    // The code worked once; a second phone gets a typed refusal and stays unenrolled.
    let other = Store::open(dir.path().join("other.db")).unwrap();
    let again = enroll(&other, &http, &code, "Pixel 8").await.unwrap_err();
    assert!(
        matches!(&again, CoreError::CodeRefused { code, .. } if code == "code_used"),
        "{again:?}"
    );
    assert!(other.enrollment().unwrap().is_none());

    // The resident reports in their grid; outside it, or accepting, is refused before commit.
    let id = store.create(&report(GRID)).unwrap();
    let refused = store.create(&report(OTHER_GRID)).unwrap_err();
    assert!(matches!(refused, CoreError::Forbidden { .. }), "{refused:?}");
    let heads = store.heads(id).unwrap();
    let before = store.get(id).unwrap();
    // Accepting is a valid step for a submitted report, but not one a resident may take.
    let dispatch = Command::AcceptReport { note: "我自己受理".into() };
    let refused = store.execute(id, &dispatch).unwrap_err();
    assert!(matches!(refused, CoreError::Forbidden { .. }), "{refused:?}");
    assert_eq!(store.heads(id).unwrap(), heads, "nothing of a refused command is stored");
    assert_eq!(store.get(id).unwrap(), before);
    store.execute(id, &Command::CommentReport { text: "还在搭".into() }).unwrap();
    assert_eq!(store.doc_ids().unwrap().len(), 1);

    // The enrollment survives a restart of the app.
    drop(store);
    let store = Store::open(dir.path().join("phone.db")).unwrap();
    assert_eq!(store.enrollment().unwrap(), Some(e.clone()));
    assert_eq!(store.profile(), Some(e.profile));
    assert!(store.execute(id, &dispatch).is_err(), "still checked after reopening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_document_is_marked_kept_and_not_pushed_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let accounts = server.server().accounts();
    let both = [GRID.to_string(), OTHER_GRID.to_string()];
    accounts.add_user("res-1", Role::Resident, None, &both).unwrap();
    let code = accounts.issue_code("res-1", &admin(), Duration::from_secs(600)).unwrap().code;
    let http = HttpTransport::new(&server.url()).unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path().join("phone.db")).unwrap());
    let unenrolled = HttpTransport::enrolled(&server.url(), &store).unwrap_err();
    assert!(matches!(unenrolled, CoreError::InvalidInput { field: "store", .. }), "{unenrolled:?}");
    enroll(&store, &http, &code, "Pixel 7").await.unwrap();
    // The app builds its transport from what the store keeps.
    let client =
        SyncClient::new(store.clone(), HttpTransport::enrolled(&server.url(), &store).unwrap());

    // Offline, the resident reports in the second grid; meanwhile the command centre takes that
    // grid off their scopes. The server refuses the report; the phone keeps it and says so.
    let kept = store.create(&report(GRID)).unwrap();
    let refused = store.create(&report(OTHER_GRID)).unwrap();
    accounts.set_scopes("res-1", &[GRID.to_string()]).unwrap();
    let first = client.sync_now(None).await.unwrap();
    assert_eq!((first.docs_pushed, first.docs_rejected), (1, 1), "{first:?}");
    let status = store.sync_status().unwrap();
    assert_eq!(status.rejected.len(), 1);
    let r = &status.rejected[0];
    assert_eq!((r.id, r.code.as_str()), (refused, "forbidden"));
    assert!(r.message.contains("create.scope"), "{}", r.message);
    assert!(r.at.as_millis() > 0);
    assert!(store.get(refused).is_ok(), "the refused report stays on the phone");
    let on_server = server.server().storage().doc_ids().await.unwrap();
    assert_eq!(on_server, vec![kept]);

    // Not retried forever: the next sync sends nothing, and the mark stays.
    let again = client.sync_now(None).await.unwrap();
    assert_eq!((again.requests, again.docs_pushed, again.docs_rejected), (1, 0, 0), "{again:?}");
    assert_eq!(store.sync_status().unwrap().rejected.len(), 1);

    // The scope comes back; the user retries; it lands and the mark goes.
    accounts.set_scopes("res-1", &both).unwrap();
    store.retry_rejected(refused).unwrap();
    let retried = client.sync_now(None).await.unwrap();
    assert_eq!((retried.docs_pushed, retried.docs_rejected), (1, 0), "{retried:?}");
    assert!(store.sync_status().unwrap().rejected.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_change_brings_new_documents_and_drops_hidden_ones_without_a_wipe() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let accounts = server.server().accounts();
    let http = HttpTransport::new(&server.url()).unwrap();
    let phone = |name: &str, role: Role, scopes: &[&str]| {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        accounts.add_user(name, role, None, &scopes).unwrap();
        let code = accounts.issue_code(name, &admin(), Duration::from_secs(600)).unwrap().code;
        let store =
            std::sync::Arc::new(Store::open(dir.path().join(format!("{name}.db"))).unwrap());
        (store, code)
    };
    // The command centre files reports in two grids.
    let (hq, hq_code) = phone("hq-1", Role::Dispatcher, &["jl"]);
    let e = enroll(&hq, &http, &hq_code, "desk").await.unwrap();
    let hq_sync = SyncClient::new(hq.clone(), http.clone().with_token(e.token));
    let in_07 = hq.create(&report(GRID)).unwrap();
    let in_08 = hq.create(&report(OTHER_GRID)).unwrap();
    hq_sync.sync_now(None).await.unwrap();

    // A grid leader of grid 07 sees only its report, and writes a comment on it offline.
    let (lead, lead_code) = phone("lead-1", Role::GridLeader, &[GRID]);
    let e = enroll(&lead, &http, &lead_code, "phone").await.unwrap();
    let lead_sync = SyncClient::new(lead.clone(), http.clone().with_token(e.token));
    lead_sync.sync_now(None).await.unwrap();
    assert_eq!(lead.doc_ids().unwrap(), vec![in_07]);
    lead.execute(in_07, &Command::CommentReport { text: "明天去看".into() }).unwrap();

    // The leader is moved to grid 08. The next sync pushes the comment first (grid 07 is now
    // outside the leader's scope, so it is refused, and kept with its mark), brings grid 08's
    // report, and keeps grid 07's because of that unsynced comment: nothing is wiped.
    accounts.set_scopes("lead-1", &[OTHER_GRID.to_string()]).unwrap();
    let s = lead_sync.sync_now(None).await.unwrap();
    assert_eq!(s.docs_rejected, 1, "{s:?}");
    assert_eq!(s.docs_dropped, 0, "a record with unsynced local changes is kept: {s:?}");
    let mut held = lead.doc_ids().unwrap();
    held.sort();
    let mut both = vec![in_07, in_08];
    both.sort();
    assert_eq!(held, both);
    assert_eq!(lead.sync_status().unwrap().rejected[0].id, in_07);
    assert_eq!(lead.profile().unwrap().scopes, vec![OTHER_GRID.to_string()], "new scope known");

    // A record without local changes is dropped: move the leader back, then away again.
    let (lead2, lead2_code) = phone("lead-2", Role::GridLeader, &[GRID]);
    let e = enroll(&lead2, &http, &lead2_code, "phone").await.unwrap();
    let lead2_sync = SyncClient::new(lead2.clone(), http.with_token(e.token));
    lead2_sync.sync_now(None).await.unwrap();
    assert_eq!(lead2.doc_ids().unwrap(), vec![in_07]);
    accounts.set_scopes("lead-2", &[OTHER_GRID.to_string()]).unwrap();
    let s = lead2_sync.sync_now(None).await.unwrap();
    assert_eq!(s.docs_dropped, 1, "{s:?}");
    assert_eq!(lead2.doc_ids().unwrap(), vec![in_08]);
    assert!(lead2.search("违建", None, 10).unwrap().iter().all(|h| h.id == in_08));
    let again = lead2_sync.sync_now(None).await.unwrap();
    assert_eq!((again.requests, again.docs_dropped), (1, 0), "settled: {again:?}");

    // Given grid 07 again beside 08: its report comes, nothing held is dropped, and the phone
    // takes the wider scopes for its own checks (the rights only grew: it asks for its profile
    // alone, not about what it holds).
    accounts.set_scopes("lead-2", &[OTHER_GRID.to_string(), GRID.to_string()]).unwrap();
    let s = lead2_sync.sync_now(None).await.unwrap();
    assert_eq!((s.docs_pulled, s.docs_dropped), (1, 0), "{s:?}");
    let mut held = lead2.doc_ids().unwrap();
    held.sort();
    assert_eq!(held, both);
    assert_eq!(lead2.profile().unwrap().scopes, vec![OTHER_GRID.to_string(), GRID.to_string()]);
    lead2.execute(in_07, &Command::CommentReport { text: "回来了".into() }).unwrap();
}

/// A phone handed to another user: while it holds the first user's unsynced work, a code of
/// another user is refused (typed, the code stays unused) unless the app asks to discard that
/// work; once handed over, nothing the new user may not read is left on it; the same user
/// enrolling again keeps their work and their actor; setting another user on an enrolled
/// phone is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_handed_to_another_user_keeps_nothing_of_the_first_and_loses_nothing_silently() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let accounts = server.server().accounts();
    for user in ["res-1", "res-2"] {
        accounts.add_user(user, Role::Resident, None, &[GRID.to_string()]).unwrap();
    }
    let code =
        |user: &str| accounts.issue_code(user, &admin(), Duration::from_secs(600)).unwrap().code;
    let http = HttpTransport::new(&server.url()).unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path().join("shared.db")).unwrap());
    let first = enroll(&store, &http, &code("res-1"), "shared phone").await.unwrap();
    let synced = store.create(&report(GRID)).unwrap();
    let token = first.token.clone();
    let client = SyncClient::new(
        store.clone(),
        HttpTransport::new(&server.url()).unwrap().with_token(token),
    );
    client.sync_now(None).await.unwrap();
    let unsynced = store.create(&report(GRID)).unwrap();
    assert!(store.unsynced_work().unwrap());

    // The same user enrolling again (a lost token) keeps everything, the actor too.
    let actor = store.identity().actor;
    enroll(&store, &http, &code("res-1"), "shared phone").await.unwrap();
    assert_eq!(store.identity().actor, actor);
    assert_eq!(store.doc_ids().unwrap().len(), 2);

    // Another user's code, with res-1's work unsynced: refused, typed, and the code unused.
    let res2 = code("res-2");
    let refused = enroll(&store, &http, &res2, "shared phone").await.unwrap_err();
    assert!(
        matches!(&refused, CoreError::OtherUser { current, .. } if current == "res-1"),
        "{refused:?}"
    );
    assert_eq!(store.identity().user, "res-1");
    assert_eq!(store.doc_ids().unwrap().len(), 2, "nothing dropped");
    // Setting another user on the enrolled phone is refused too.
    assert!(matches!(store.set_user("res-2"), Err(CoreError::InvalidInput { field: "user", .. })));

    // The app asks to discard the work: the same code still works, and before the call
    // returns res-2 sees nothing of res-1's (a resident reads only their own reports).
    let options = EnrollOptions { discard_unsynced_work: true };
    let second = enroll_with(&store, &http, &res2, "shared phone", options).await.unwrap();
    assert_eq!((second.profile.user.as_str(), store.identity().user.as_str()), ("res-2", "res-2"));
    assert!(store.doc_ids().unwrap().is_empty(), "res-1's records are gone");
    assert!(!store.unsynced_work().unwrap());
    assert!(store.get(synced).is_err() && store.get(unsynced).is_err());
    assert_ne!(store.identity().actor, actor, "res-2 writes with an actor of their own");

    // res-2 works and syncs normally; res-1's synced report stays on the server, theirs.
    let mine = store.create(&report(GRID)).unwrap();
    let client = SyncClient::new(
        store.clone(),
        HttpTransport::new(&server.url()).unwrap().with_token(second.token),
    );
    client.sync_now(None).await.unwrap();
    assert_eq!(store.doc_ids().unwrap(), vec![mine]);
    assert!(server.server().storage().load(vec![synced]).await.unwrap()[0].is_some());
}

/// A phone handed to another resident of the grid keeps the deliberation the first raised there
/// (the second may read it: it concerns their grid) and the one the first attended elsewhere
/// goes (the second may not read it), as does the first's own report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_over_phone_keeps_the_deliberations_its_new_user_may_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let accounts = server.server().accounts();
    accounts.add_user("res-1", Role::Resident, None, &[GRID.to_string()]).unwrap();
    accounts.add_user("res-2", Role::Resident, None, &[GRID.to_string()]).unwrap();
    accounts.add_user("gl-9", Role::GridLeader, None, &[OTHER_GRID.to_string()]).unwrap();
    let code =
        |user: &str| accounts.issue_code(user, &admin(), Duration::from_secs(600)).unwrap().code;
    let http = HttpTransport::new(&server.url()).unwrap();
    let raise = |scope: &str| NewRecord::Deliberation {
        deliberation: NewDeliberation {
            scope: scope.into(),
            topic: "停车位划线".into(),
            background: String::new(),
            options: vec![],
        },
    };

    // Elsewhere, a leader of the other grid holds a meeting res-1 attends.
    let leader = std::sync::Arc::new(Store::open(dir.path().join("leader.db")).unwrap());
    let led = enroll(&leader, &http, &code("gl-9"), "leader").await.unwrap();
    let elsewhere = leader.create(&raise(OTHER_GRID)).unwrap();
    let at = fieldsync_core::time::Timestamp::from_millis(fieldsync_core::time::now_ms());
    let schedule = Command::ScheduleMeeting { at, place: "活动室".into() };
    let meeting = leader.execute(elsewhere, &schedule).unwrap().item.unwrap();
    let held = Command::RecordMeeting { meeting, attendees: vec!["res-1".into()] };
    leader.execute(elsewhere, &held).unwrap();
    let transport = HttpTransport::new(&server.url()).unwrap().with_token(led.token);
    SyncClient::new(leader.clone(), transport).sync_now(None).await.unwrap();

    let store = std::sync::Arc::new(Store::open(dir.path().join("shared.db")).unwrap());
    let first = enroll(&store, &http, &code("res-1"), "shared phone").await.unwrap();
    let here = store.create(&raise(GRID)).unwrap();
    let own = store.create(&report(GRID)).unwrap();
    let transport = HttpTransport::new(&server.url()).unwrap().with_token(first.token);
    SyncClient::new(store.clone(), transport).sync_now(None).await.unwrap();
    let mut held_first = store.doc_ids().unwrap();
    held_first.sort();
    let mut expected = vec![here, own, elsewhere];
    expected.sort();
    assert_eq!(held_first, expected, "res-1 reads the one attended elsewhere");

    enroll(&store, &http, &code("res-2"), "shared phone").await.unwrap();
    assert_eq!(store.doc_ids().unwrap(), vec![here]);
}
