//! Sessions end after inactivity (a session in use does not), and at once when revoked: by
//! id, by revoking the desk device, by disabling the user; ended ones answer `401`.

use std::time::Duration;

use fieldsync_core::policy::Role;
use fieldsync_server::ServerConfig;

use super::*;
use crate::common::{Backend, on_both, start_on, start_on_with};

async fn an_idle_session_expires_and_one_in_use_does_not(backend: Backend) {
    let idle = Duration::from_secs(3);
    let ts = start_on_with(backend, |c| ServerConfig { desk_session_idle: idle, ..c }).await;
    let busy = desk(&ts, "disp-1", Role::Dispatcher).await;
    let quiet = desk(&ts, "disp-2", Role::Dispatcher).await;
    assert_eq!(busy.body["expires_idle_after_secs"], 3);
    let started = std::time::Instant::now();
    while started.elapsed() < idle + Duration::from_millis(800) {
        let (status, e) = whoami(&ts, &busy).await;
        assert_eq!(status, 200, "a session in use stays open: {e}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, e) = whoami(&ts, &quiet).await;
    assert_eq!((status, err_code(&e)), (401, "session_expired"));
    let (status, e) = whoami(&ts, &quiet).await;
    assert_eq!((status, err_code(&e)), (401, "session_ended"), "and it stays ended");

    tokio::time::sleep(idle + Duration::from_millis(200)).await;
    let (status, e) = whoami(&ts, &busy).await;
    assert_eq!((status, err_code(&e)), (401, "session_expired"));
    let accounts = ts.running.server().accounts();
    assert!(accounts.sessions(false).unwrap().is_empty());
    let desk_devices = accounts.devices().unwrap();
    assert!(desk_devices.iter().all(|d| d.revoked_at.is_some()), "their desk devices ended");
}
on_both!(an_idle_session_expires_and_one_in_use_does_not);

async fn revoked_sessions_end_at_once(backend: Backend) {
    let ts = start_on(backend).await;
    let accounts = ts.running.server().accounts();
    let by_id = desk(&ts, "disp-1", Role::Dispatcher).await;
    let by_device = desk(&ts, "disp-1", Role::Dispatcher).await;
    let by_user = desk(&ts, "disp-1", Role::Dispatcher).await;
    let other = desk(&ts, "lead-1", Role::GridLeader).await;
    for s in [&by_id, &by_device, &by_user, &other] {
        assert_eq!(whoami(&ts, s).await.0, 200);
    }

    accounts.revoke_session(by_id.body["session"].as_str().unwrap()).unwrap();
    let (status, e) = whoami(&ts, &by_id).await;
    assert_eq!((status, err_code(&e)), (401, "session_ended"));
    assert!(e["message"].as_str().unwrap().contains("revoked"), "{e}");

    accounts.revoke(by_device.body["device"].as_str().unwrap()).unwrap();
    let (status, e) = whoami(&ts, &by_device).await;
    assert_eq!((status, err_code(&e)), (401, "session_ended"));

    let d = accounts.disable_user("disp-1").unwrap();
    assert_eq!(d.sessions_ended, 1);
    let (status, e) = whoami(&ts, &by_user).await;
    assert_eq!((status, err_code(&e)), (401, "session_ended"));
    accounts.enable_user("disp-1").unwrap();
    assert_eq!(whoami(&ts, &by_user).await.0, 401, "enabling opens no ended session");

    assert_eq!(whoami(&ts, &other).await.0, 200, "another user's session stays");
    let open: Vec<String> = accounts.sessions(false).unwrap().into_iter().map(|s| s.user).collect();
    assert_eq!(open, ["lead-1"]);
}
on_both!(revoked_sessions_end_at_once);
