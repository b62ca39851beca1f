//! CSRF: a state-changing request needs its own session's token in `X-CSRF-Token`; missing,
//! wrong, another session's or a stale one (after sign-out) is `403` and changes nothing.

use fieldsync_core::policy::Role;
use reqwest::Method;

use super::*;
use crate::common::{Backend, on_both, start_on};

async fn a_state_changing_request_needs_its_own_sessions_csrf_token(backend: Backend) {
    let ts = start_on(backend).await;
    let a = desk(&ts, "disp-1", Role::Dispatcher).await;
    let b = desk(&ts, "disp-2", Role::Dispatcher).await;
    let forged = "ab".repeat(32);
    let attempts = [
        (None, "csrf_missing"),
        (Some(forged.as_str()), "csrf_mismatch"),
        (Some(b.csrf.as_str()), "csrf_mismatch"),
        (Some(""), "csrf_mismatch"),
        (Some(&a.csrf[..63]), "csrf_mismatch"),
    ];
    for (csrf, want) in attempts {
        let (status, e) = call(&ts, Method::DELETE, Some(&a.cookie), csrf).await;
        assert_eq!((status, err_code(&e)), (403, want), "{csrf:?}: {e}");
        // Nothing changed: the session is still open.
        assert_eq!(whoami(&ts, &a).await.0, 200);
    }
    // Every state-changing method is guarded, whether or not the route takes it.
    for method in [Method::PUT, Method::PATCH] {
        let (status, e) = call(&ts, method.clone(), Some(&a.cookie), None).await;
        assert_eq!((status, err_code(&e)), (403, "csrf_missing"), "{method}: {e}");
    }
    assert_eq!(ts.running.server().accounts().sessions(false).unwrap().len(), 2);

    let (status, _) = call(&ts, Method::DELETE, Some(&a.cookie), Some(&a.csrf)).await;
    assert_eq!(status, 204, "signed out");
    let (status, e) = whoami(&ts, &a).await;
    assert_eq!((status, err_code(&e)), (401, "session_ended"));
    assert_eq!(whoami(&ts, &b).await.0, 200, "the other session stays");

    // A stale token after sign-out: with the old cookie the session is gone (401); with a new
    // session's cookie the old token is not its token (403).
    let (status, e) = call(&ts, Method::DELETE, Some(&a.cookie), Some(&a.csrf)).await;
    assert_eq!((status, err_code(&e)), (401, "session_ended"));
    let again = desk(&ts, "disp-1", Role::Dispatcher).await;
    let (status, e) = call(&ts, Method::DELETE, Some(&again.cookie), Some(&a.csrf)).await;
    assert_eq!((status, err_code(&e)), (403, "csrf_mismatch"));
    assert_eq!(whoami(&ts, &again).await.0, 200);
}
on_both!(a_state_changing_request_needs_its_own_sessions_csrf_token);

async fn the_guard_covers_every_desk_path_before_any_route(backend: Backend) {
    let ts = start_on(backend).await;
    let s = desk(&ts, "disp-1", Role::Dispatcher).await;
    let post = |cookie: Option<&str>, csrf: Option<&str>| {
        let mut req = ts.http.post(ts.url("/api/v1/reports/x/dispatch"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        async move { json_of(req.send().await.unwrap()).await }
    };
    let (status, e) = post(None, None).await;
    assert_eq!((status, err_code(&e)), (401, "no_session"));
    let (status, e) = post(Some(&s.cookie), None).await;
    assert_eq!((status, err_code(&e)), (403, "csrf_missing"));
    let (status, e) = post(Some(&s.cookie), Some(&s.csrf)).await;
    assert_eq!((status, err_code(&e)), (404, "not_found"), "past the guard: no such route");
}
on_both!(the_guard_covers_every_desk_path_before_any_route);
