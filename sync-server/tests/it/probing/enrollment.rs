//! Enrollment attempts are limited per client address by two budgets together: all attempts
//! (generous, so a town behind one carrier NAT is not locked out by someone's junk) and failed
//! codes (strict, so codes cannot be guessed); behind a trusted proxy the client is the address
//! the proxy forwards, and from anyone else forwarding headers are ignored.

use super::*;
use fieldsync_core::policy::Role;
use fieldsync_core::protocol::{self, EnrollRequest, VERSION};

/// A client whose requests come from the loopback address `from`.
fn client_from(from: [u8; 4]) -> reqwest::Client {
    {
        fieldsync_core::sync::install_tls_provider();
        reqwest::Client::builder()
    }
    .local_address(std::net::IpAddr::from(from))
    .build()
    .unwrap()
}

/// `POST /v1/enroll` with `code` and extra headers: the status, the error code (or the new
/// device's id) and the `Retry-After` header.
async fn enroll(
    server: &TestServer,
    client: &reqwest::Client,
    code: &str,
    headers: &[(&str, &str)],
) -> (u16, String, Option<u64>) {
    let req = EnrollRequest {
        v: VERSION,
        code: code.into(),
        device_name: "phone".into(),
        actor: None,
        keep_user: None,
        device_key: None,
    };
    post(server, client, protocol::encode(&req), headers).await
}

async fn post(
    server: &TestServer,
    client: &reqwest::Client,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (u16, String, Option<u64>) {
    let mut req = client.post(server.url("/v1/enroll")).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = resp.bytes().await.unwrap();
    if status == 200 {
        let e: protocol::EnrollResponse = protocol::decode(&body).unwrap();
        (status, e.device, retry)
    } else {
        let e = error_body(&body);
        if status == 429 {
            let secs = retry.expect("a 429 says when to retry");
            assert!(e.message.contains(&format!("{secs} s")), "{}", e.message);
        }
        (status, e.code, retry)
    }
}

/// A new code for a new resident.
fn new_code(server: &TestServer, user: &str) -> String {
    let accounts = server.running.server().accounts();
    if accounts.user(user).unwrap().is_none() {
        accounts.add_user(user, Role::Resident, None, &[GRID.to_string()]).unwrap();
    }
    let admin = fieldsync_core::policy::Profile {
        user: "admin".into(),
        role: Role::Admin,
        patrol: None,
        scopes: vec![],
    };
    accounts.issue_code(user, &admin, Duration::from_secs(600)).unwrap().code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_from_a_shared_address_does_not_lock_out_the_honest_phones_behind_it() {
    let server = start().await;
    let town = client_from([127, 0, 0, 1]);
    // Someone behind the same NAT sends junk, and some people mistype their codes.
    for _ in 0..100 {
        let (status, code, _) = post(&server, &town, b"junk".to_vec(), &[]).await;
        assert_eq!((status, code.as_str()), (400, "malformed_body"));
    }
    for i in 0..15 {
        let (status, _, _) = enroll(&server, &town, &format!("0000{i:x}-00000"), &[]).await;
        assert_eq!(status, 403);
    }
    // The town's phones still enroll, many of them, in the same minute.
    for i in 0..60 {
        let c = new_code(&server, &format!("resident-{i}"));
        let (status, what, _) = enroll(&server, &town, &c, &[]).await;
        assert_eq!(status, 200, "phone {i}: {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_codes_are_limited_per_address_and_the_limit_says_when_to_retry() {
    let server = start_with(|mut c| {
        c.enroll_failures_per_minute = 5;
        c
    })
    .await;
    let guesser = client_from([127, 0, 0, 1]);
    let mut answers = Vec::new();
    for guess in ["00000-00001", "nonsense", "00000-00002", "00000-00003", "00000-00004"] {
        answers.push(enroll(&server, &guesser, guess, &[]).await.1);
    }
    assert_eq!(
        answers,
        ["code_unknown", "malformed_code", "code_unknown", "code_unknown", "code_unknown"]
    );
    let (status, code, retry) = enroll(&server, &guesser, "00000-00005", &[]).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert!((1..=60).contains(&retry.unwrap()), "{retry:?}");
    // Out of its failure budget, the address cannot try even a good code (it could be a lucky
    // guess); another address can.
    let good = new_code(&server, "resident-1");
    assert_eq!(enroll(&server, &guesser, &good, &[]).await.0, 429);
    let other = client_from([127, 0, 0, 2]);
    assert_eq!(enroll(&server, &other, &good, &[]).await.0, 200);
    // A used code is a failure too.
    assert_eq!(enroll(&server, &other, &good, &[]).await.1, "code_used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_are_ignored_from_an_untrusted_peer() {
    let server = start_with(|mut c| {
        c.enroll_failures_per_minute = 3;
        c
    })
    .await;
    let client = client_from([127, 0, 0, 1]);
    for i in 0..3 {
        let spoof = format!("198.51.100.{i}");
        let fwd = format!("for={spoof}");
        let headers = [("x-forwarded-for", spoof.as_str()), ("forwarded", fwd.as_str())];
        assert_eq!(enroll(&server, &client, "00000-00001", &headers).await.1, "code_unknown");
    }
    let headers = [("x-forwarded-for", "198.51.100.99")];
    assert_eq!(enroll(&server, &client, "00000-00001", &headers).await.0, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_client_is_counted() {
    let server = start_with(|mut c| {
        c.enroll_failures_per_minute = 3;
        c.trusted_proxies = vec!["127.0.0.0/30".parse().unwrap()];
        c
    })
    .await;
    let proxy = client_from([127, 0, 0, 1]);
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    for _ in 0..3 {
        assert_eq!(
            enroll(&server, &proxy, "00000-00001", &from("198.51.100.1")).await.1,
            "code_unknown"
        );
    }
    assert_eq!(enroll(&server, &proxy, "00000-00001", &from("198.51.100.1")).await.0, 429);
    // Another client behind the same proxy is not held back by the first.
    assert_eq!(enroll(&server, &proxy, "00000-00001", &from("198.51.100.2")).await.0, 403);
    // The client cannot choose its address by writing the header itself: the proxy appends
    // what it saw, and that rightmost untrusted entry counts.
    let spoofed = [("x-forwarded-for", "203.0.113.5, 198.51.100.1")];
    assert_eq!(enroll(&server, &proxy, "00000-00001", &spoofed).await.0, 429);
    // The `Forwarded` header (RFC 7239) is read when there is no X-Forwarded-For.
    let rfc = [("forwarded", "for=198.51.100.1;proto=https")];
    assert_eq!(enroll(&server, &proxy, "00000-00001", &rfc).await.0, 429);
    // A peer that is not the proxy is its own client whatever it says.
    let outsider = client_from([127, 0, 0, 9]);
    assert_eq!(enroll(&server, &outsider, "00000-00001", &from("198.51.100.2")).await.0, 403);
}
