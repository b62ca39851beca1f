//! HTTPS between a phone and the server: the server serves a certificate made by the test's own
//! authority; a phone told to trust that authority enrolls and syncs, one that trusts another
//! gets a network error and nothing of it reaches the server, and plain `http://` to a host
//! other than loopback is refused before any byte is sent.

use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::model::*;
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::sync::{HttpTransport, ServerTrust, SyncClient, enroll};
use fieldsync_core::{CoreError, Store};
use fieldsync_server::{Server, ServerConfig};
use fieldsync_tests::tls::Authority;

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

fn trusting(authority: &Authority) -> ServerTrust {
    ServerTrust { certificates_pem: vec![authority.pem()], allow_plain_http: false }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_that_trusts_the_streets_authority_enrolls_and_syncs_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new("fieldsync test street CA");
    let issued = authority.issue(dir.path(), "server");
    let mut config =
        ServerConfig::new(dir.path().join("server")).with_listen("127.0.0.1:0".parse().unwrap());
    config.tls = Some(issued.files);
    let server = Server::start(&config).await.expect("server starts with its certificate");
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let accounts = server.server().accounts();
    accounts.add_user("res-1", Role::Resident, None, &[GRID.to_string()]).unwrap();
    let admin = Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
    let code = accounts.issue_code("res-1", &admin, Duration::from_secs(600)).unwrap().code;

    // A phone that trusts only another authority (or the platform's) does not get through, and
    // the code stays unused.
    let stranger = Authority::new("somebody else's CA");
    let wrong = HttpTransport::with_trust(&url, &trusting(&stranger)).unwrap();
    let lost = Store::open(dir.path().join("lost.db")).unwrap();
    match enroll(&lost, &wrong, &code, "Pixel 7").await {
        Err(CoreError::Network { message, .. }) => {
            assert!(message.to_lowercase().contains("certificate"), "{message}")
        }
        other => panic!("an unknown authority is not trusted: {other:?}"),
    }
    assert!(lost.enrollment().unwrap().is_none());

    let https = HttpTransport::with_trust(&url, &trusting(&authority)).unwrap();
    let store = Arc::new(Store::open(dir.path().join("phone.db")).unwrap());
    let enrolled = enroll(&store, &https, &code, "Pixel 7").await.unwrap();
    assert_eq!(enrolled.profile.user, "res-1");
    let report = store
        .create(&NewRecord::Report {
            report: NewReport {
                scope: GRID.into(),
                category: ReportCategory::SafetyHazard,
                title: "井盖缺失 missing manhole cover".into(),
                description: String::new(),
                location: None,
                photos: vec![],
            },
        })
        .unwrap();
    let client = SyncClient::new(store.clone(), https.with_token(enrolled.token));
    let summary = client.sync_now(None).await.unwrap();
    assert_eq!(summary.docs_pushed, 1, "{summary:?}");
    assert_eq!(server.server().storage().doc_ids().await.unwrap(), vec![report]);

    // Plain HTTP leaves this device only when the app says so.
    let plain = "http://sync.example.org";
    match HttpTransport::with_trust(plain, &ServerTrust::default()) {
        Err(CoreError::InvalidInput { field: "server_url", .. }) => {}
        other => panic!("{plain}: {other:?}"),
    }
    let allowed = ServerTrust { allow_plain_http: true, ..ServerTrust::default() };
    assert!(HttpTransport::with_trust(plain, &allowed).is_ok());
    let garbage = ServerTrust { certificates_pem: vec!["not a certificate".into()], ..allowed };
    match HttpTransport::with_trust(&url, &garbage) {
        Err(CoreError::InvalidInput { field: "certificates_pem", .. }) => {}
        other => panic!("a PEM without a certificate: {other:?}"),
    }
    server.shutdown().await.unwrap();
}
