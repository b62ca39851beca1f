//! Bad input at the session endpoint: malformed JSON, unknown or missing fields, another media
//! type, an oversize body, a malformed code, no or a forged cookie, a method not taken; each a
//! typed 4xx with a JSON error body, and nothing changed.

use fieldsync_core::policy::Role;
use reqwest::Method;

use super::*;
use crate::common::{Backend, on_both, start_on};

async fn bad_bodies_get_typed_json_errors_and_open_nothing(backend: Backend) {
    let ts = start_on(backend).await;
    let good = code_for(&ts, "disp-1", Role::Dispatcher);
    let bodies: Vec<(String, u16, &str)> = vec![
        ("{".into(), 400, "malformed_body"),
        ("".into(), 400, "malformed_body"),
        (r#"{"code": "' OR 1=1 --"}"#.into(), 401, "malformed_code"),
        (format!(r#"{{"code": "{good}", "role": "admin"}}"#), 400, "invalid_request"),
        (r#"{"kode": "x"}"#.into(), 400, "invalid_request"),
        (r#"{"code": 42}"#.into(), 400, "invalid_request"),
        ("[]".into(), 400, "invalid_request"),
        (format!(r#"{{"code": "{}"}}"#, "A".repeat(100_000)), 413, "too_large"),
    ];
    for (body, want_status, want_code) in bodies {
        let shown: String = body.chars().take(40).collect();
        let (status, e) = json_of(post_session(&ts, body).await).await;
        assert_eq!((status, err_code(&e)), (want_status, want_code), "{shown}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }
    let resp = ts
        .http
        .post(ts.url(SESSION))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("code={good}"))
        .send()
        .await
        .unwrap();
    let (status, e) = json_of(resp).await;
    assert_eq!((status, err_code(&e)), (415, "unsupported_media_type"), "a plain form");

    let accounts = ts.running.server().accounts();
    assert!(accounts.sessions(true).unwrap().is_empty(), "nothing opened a session");
    assert!(accounts.devices().unwrap().is_empty(), "nor made a device");
    sign_in(&ts, &good).await; // the code is still good
}
on_both!(bad_bodies_get_typed_json_errors_and_open_nothing);

async fn requests_without_a_good_session_get_401_in_json(backend: Backend) {
    let ts = start_on(backend).await;
    let forged = format!("fieldsync_session={}", "ab".repeat(32));
    for cookie in [None, Some("fieldsync_session=nope"), Some(forged.as_str()), Some("other=1")] {
        let (status, e) = call(&ts, Method::GET, cookie, None).await;
        assert_eq!(status, 401, "{cookie:?}: {e}");
        assert!(matches!(err_code(&e), "no_session"), "{cookie:?}: {e}");
        let (status, e) = call(&ts, Method::DELETE, cookie, Some(&"ab".repeat(32))).await;
        assert_eq!((status, err_code(&e)), (401, "no_session"), "{cookie:?}: {e}");
    }
    let s = desk(&ts, "disp-1", Role::Dispatcher).await;
    let (status, e) = call(&ts, Method::OPTIONS, Some(&s.cookie), None).await;
    assert_eq!((status, err_code(&e)), (405, "method_not_allowed"));
    assert_eq!(whoami(&ts, &s).await.0, 200);
}
on_both!(requests_without_a_good_session_get_401_in_json);
