//! Signing in: the cookie's flags, the answer, the desk device, the roles that may, and the
//! rate limit shared with enrollment.

use fieldsync_core::policy::Role;
use fieldsync_server::ServerConfig;
use fieldsync_server::accounts::DeviceKind;
use reqwest::Method;

use super::*;
use crate::common::{Backend, GRID, on_both, start_on, start_on_with};

async fn a_desk_user_signs_in_with_a_code_and_gets_a_strict_cookie(backend: Backend) {
    let ts = start_on(backend).await;
    let code = code_for(&ts, "disp-1", Role::Dispatcher);
    let s = sign_in(&ts, &code).await;

    let token = s.cookie.strip_prefix("fieldsync_session=").unwrap();
    assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{s:?}");
    let flags: Vec<&str> = s.set_cookie.split(';').skip(1).map(str::trim).collect();
    assert_eq!(flags, ["HttpOnly", "SameSite=Strict", "Path=/"], "no Secure without TLS");

    let b = &s.body;
    assert_eq!((b["user"].as_str(), b["role"].as_str()), (Some("disp-1"), Some("dispatcher")));
    assert_eq!(b["scopes"], serde_json::json!([GRID]));
    assert_eq!(b["expires_idle_after_secs"], 12 * 3600);
    assert_eq!(s.csrf.len(), 64);
    assert_ne!(s.csrf, token, "the CSRF token is not the session's");
    assert_eq!(b["actor"].as_str().unwrap().len(), 32);

    // The desk device: its own row and actor, marked as a desk.
    let accounts = ts.running.server().accounts();
    let devices = accounts.devices().unwrap();
    let device = devices.iter().find(|d| d.id == b["device"].as_str().unwrap()).unwrap();
    assert_eq!(device.kind, DeviceKind::Desk);
    assert_eq!(hex::encode(&device.actor), b["actor"].as_str().unwrap());
    assert_eq!(device.user, "disp-1");

    let (status, me) = whoami(&ts, &s).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["csrf_token"].as_str(), Some(s.csrf.as_str()));
    assert_eq!(me["session"], b["session"]);
    assert_eq!(me["device"], b["device"]);

    // The code was used; a second desk of the same user has a device and actor of its own.
    let resp = post_session(&ts, serde_json::json!({ "code": code }).to_string()).await;
    let (status, e) = json_of(resp).await;
    assert_eq!((status, err_code(&e)), (403, "code_used"));
    let other = desk(&ts, "disp-1", Role::Dispatcher).await;
    assert_ne!(other.body["actor"], b["actor"]);
    assert_ne!(other.csrf, s.csrf);
}
on_both!(a_desk_user_signs_in_with_a_code_and_gets_a_strict_cookie);

async fn cookies_are_secure_when_the_server_is_served_over_tls(backend: Backend) {
    let ts = start_on_with(backend, |c| ServerConfig { secure_cookies: true, ..c }).await;
    let s = desk(&ts, "disp-1", Role::Dispatcher).await;
    let flags: Vec<&str> = s.set_cookie.split(';').skip(1).map(str::trim).collect();
    assert_eq!(flags, ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"]);

    let resp = ts
        .http
        .delete(ts.url(SESSION))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let cleared = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cleared.starts_with("fieldsync_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0") && cleared.contains("Secure"), "{cleared}");
}
on_both!(cookies_are_secure_when_the_server_is_served_over_tls);

async fn only_desk_roles_open_a_session_and_a_refused_code_stays_good(backend: Backend) {
    let ts = start_on(backend).await;
    for (user, role) in
        [("res-1", Role::Resident), ("cop-1", Role::Patrol), ("med-1", Role::Mediator)]
    {
        let code = code_for(&ts, user, role);
        let resp = post_session(&ts, serde_json::json!({ "code": code }).to_string()).await;
        assert!(resp.headers().get("set-cookie").is_none());
        let (status, e) = json_of(resp).await;
        assert_eq!((status, err_code(&e)), (403, "not_a_desk_role"), "{user}: {e}");
        let phone = ts.running.server().accounts().enroll(&code, "phone", None).unwrap();
        assert_eq!(phone.profile.user, user, "the code still enrolls {user}'s phone");
    }
    assert!(ts.running.server().accounts().sessions(true).unwrap().is_empty());
    for (user, role) in
        [("lead-1", Role::GridLeader), ("sup-1", Role::Supervisor), ("adm-1", Role::Admin)]
    {
        let s = desk(&ts, user, role).await;
        assert_eq!(s.body["role"].as_str(), Some(role.as_str()));
        assert_eq!(whoami(&ts, &s).await.0, 200);
    }
}
on_both!(only_desk_roles_open_a_session_and_a_refused_code_stays_good);

async fn sign_in_attempts_are_rate_limited_per_address(backend: Backend) {
    let ts = start_on_with(backend, |c| ServerConfig { enroll_failures_per_minute: 3, ..c }).await;
    let good = code_for(&ts, "disp-1", Role::Dispatcher);
    for _ in 0..3 {
        let resp = post_session(&ts, r#"{"code": "00000-00000"}"#).await;
        let (status, e) = json_of(resp).await;
        assert_eq!((status, err_code(&e)), (403, "code_unknown"));
    }
    let resp = post_session(&ts, serde_json::json!({ "code": good }).to_string()).await;
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (status, e) = json_of(resp).await;
    assert_eq!((status, err_code(&e)), (429, "rate_limited"), "even a good code waits");
    assert!(ts.running.server().accounts().sessions(true).unwrap().is_empty());

    // Phones enrolling from the same address spend the same budget: guessing codes at two
    // doors is no faster than at one.
    let (status, _) = ts.post_with(None, "/v1/enroll", vec![0]).await;
    assert_eq!(status, 429);
    let (status, _) = call(&ts, Method::GET, None, None).await;
    assert_eq!(status, 401, "reading is not rate-limited, and needs a session");
}
on_both!(sign_in_attempts_are_rate_limited_per_address);
