//! Phone to phone with credentials from the real server (docs/peer.md): enrolment pins the
//! server's key and hands out a credential, a sync hands out the revocation list, and two
//! phones then sync offline over loopback TCP, or are refused once the server revoked one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fieldsync_core::Store;
use fieldsync_core::model::*;
use fieldsync_core::peer::{PeerError, PeerOptions, PeerOutcome, meet_on_loopback};
use fieldsync_core::policy::{PatrolKind, Profile, Role};
use fieldsync_core::sync::{HttpTransport, SyncClient, enroll};
use fieldsync_server::{RunningServer, Server, ServerConfig};

const GRID: &str = "jl/valley/grid-01";

async fn enrolled(
    server: &RunningServer,
    dir: &std::path::Path,
    user: &str,
) -> SyncClient<HttpTransport> {
    let admin = Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
    let accounts = server.server().accounts();
    accounts.add_user(user, Role::Patrol, Some(PatrolKind::Police), &[GRID.to_string()]).unwrap();
    let code = accounts.issue_code(user, &admin, Duration::from_secs(600)).unwrap().code;
    let http = HttpTransport::new(&server.url()).unwrap();
    let store = std::sync::Arc::new(Store::open(dir.join(format!("{user}.db"))).unwrap());
    let e = enroll(&store, &http, &code, user).await.unwrap();
    SyncClient::new(store, http.with_token(e.token))
}

async fn meet(
    a: &Store,
    b: &Store,
) -> (Result<PeerOutcome, PeerError>, Result<PeerOutcome, PeerError>) {
    meet_on_loopback(a, b, &PeerOptions::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolled_phones_sync_offline_until_the_server_revokes_one() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        ServerConfig::new(dir.path().join("server")).with_listen("127.0.0.1:0".parse().unwrap());
    let server = Server::start(&config).await.expect("server starts");
    let li = enrolled(&server, dir.path(), "police-li").await;
    let wang = enrolled(&server, dir.path(), "police-wang").await;

    // Offline, with the credentials enrolment gave them.
    let log = li
        .store()
        .create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: GRID.into(),
                area: "north valley".into(),
                members: ["police-li", "police-wang"]
                    .map(|u| TeamMember {
                        user: u.into(),
                        name: u.into(),
                        kind: MemberKind::Police,
                    })
                    .to_vec(),
                checkpoints: vec![],
            },
        })
        .unwrap();
    let (a, b) = meet(li.store(), wang.store()).await;
    assert_eq!((a.unwrap().sent_whole, b.unwrap().received), (1, 1));
    assert_eq!(wang.store().kind_of(log).unwrap(), Kind::PatrolLog);

    // The server revokes Wang's phone; Li hears of it at her next sync, and refuses Wang.
    let device = wang.store().enrollment().unwrap().unwrap().device;
    server.server().accounts().revoke(&device).unwrap();
    li.sync_now(None).await.unwrap();
    let (checker, shown) = meet(li.store(), wang.store()).await;
    assert!(
        matches!(checker, Err(PeerError::Refused(ref r)) if r.code() == "revoked"),
        "{checker:?}"
    );
    assert!(matches!(shown, Err(PeerError::RefusedByPeer { ref code, .. }) if code == "revoked"));
}
