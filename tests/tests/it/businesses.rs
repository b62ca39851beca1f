//! The business registry from the phone's side, against a real server over HTTP: a police
//! officer's phone registers a boat rental and later closes it, a volunteer's phone fetches the
//! registry and keeps it for offline use, a resident's phone is refused, and bad fields are typed
//! refusals.

use fieldsync_core::CoreError;
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::sync::{BusinessFields, HttpTransport};
use fieldsync_server::{RunningServer, Server, ServerConfig};
use fieldsync_tests::phone::{Phone, enroll_http};

const AREA: &str = "jl/changchun/jingyue/scenic-area";

fn phone(
    s: &RunningServer,
    dir: &std::path::Path,
    user: &str,
    role: Role,
    patrol: Option<PatrolKind>,
) -> Phone<HttpTransport> {
    s.server().accounts().add_user(user, role, patrol, &[AREA.to_string()]).unwrap();
    Phone::new(dir, user, enroll_http(s, user))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn police_register_volunteers_read_residents_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        ServerConfig::new(dir.path().join("server")).with_listen("127.0.0.1:0".parse().unwrap());
    let s = Server::start(&config).await.unwrap();
    let police = phone(&s, dir.path(), "police-li", Role::Patrol, Some(PatrolKind::Police));
    let volunteer = phone(&s, dir.path(), "vol-zhao", Role::Patrol, Some(PatrolKind::Volunteer));
    let resident = phone(&s, dir.path(), "resident-sun", Role::Resident, None);

    let fields = BusinessFields {
        scope: Some(AREA.into()),
        name: Some("游船码头".into()),
        kind: Some("boat_rental".into()),
        lat: Some(43.79),
        lon: Some(125.46),
        ..Default::default()
    };
    let made = police.client.add_business(fields.clone()).await.unwrap();
    assert_eq!((made.kind.as_str(), made.lat, made.closed_at), ("boat_rental", Some(43.79), None));
    assert_eq!(volunteer.client.refresh_businesses().await.unwrap(), vec![made.clone()]);
    assert_eq!(volunteer.store.businesses().unwrap(), vec![made.clone()], "kept for offline use");
    let e = volunteer.client.add_business(fields.clone()).await.unwrap_err();
    assert!(matches!(e, CoreError::Server { status: 403, .. }), "{e}");
    let e = resident.client.refresh_businesses().await.unwrap_err();
    assert!(matches!(e, CoreError::Server { status: 403, .. }), "{e}");
    let bad = BusinessFields { kind: Some("casino".into()), ..fields };
    let e = police.client.add_business(bad).await.unwrap_err();
    assert!(
        matches!(e, CoreError::Server { status: 400, ref code, .. } if code == "invalid_input"),
        "{e}"
    );

    let close = BusinessFields { close: true, ..Default::default() };
    let closed = police.client.change_business(&made.id, close).await.unwrap();
    assert!(closed.closed_at.is_some());
    let listed = volunteer.client.refresh_businesses().await.unwrap();
    assert_eq!(listed.len(), 1, "a closed business stays listed");
    assert!(listed[0].closed_at.is_some());
    assert_eq!(volunteer.store.businesses().unwrap(), listed, "the copy replaced");
}
