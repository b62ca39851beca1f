//! What is public is chosen: `/metrics` (change counters, refusals, the log's position) is
//! served on a listener of its own (loopback by default), or on the API's listener only with
//! its token; anyone else gets what an unknown route gets.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_listener_and_not_on_the_api() {
    let server = start().await;
    let unknown = server.get("/no-such-route").await;
    assert_eq!(unknown.0, 404);
    assert_eq!(server.get("/metrics").await, unknown, "the same answer as an unknown route");
    let (status, text) = server.metrics().await;
    assert_eq!(status, 200);
    assert!(text.contains("fieldsync_log_seq "), "{text}");
    let metrics_url = server.running.metrics_url().unwrap();
    assert!(metrics_url.starts_with("http://127.0.0.1:"), "loopback: {metrics_url}");
    // The metrics listener serves nothing else.
    let resp = server.http.get(format!("{metrics_url}/healthz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_the_api_listener_take_the_token() {
    let token = "a-metrics-token-that-is-long-enough-0123";
    let server = start_with(|c| {
        let mut c = c.with_metrics_listen(None);
        c.metrics_token = Some(token.into());
        c
    })
    .await;
    assert!(server.running.metrics_url().is_none());
    let get = |auth: Option<String>| {
        let mut req = server.http.get(server.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let unknown = server.get("/no-such-route").await;
    assert_eq!(get(None).await, unknown);
    assert_eq!(get(Some(format!("Bearer {}", &token[1..]))).await, unknown);
    assert_eq!(get(Some(format!("Bearer {}", token.to_uppercase()))).await, unknown);
    assert_eq!(get(Some(format!("Basic {token}"))).await, unknown);
    let (status, text) = get(Some(format!("Bearer {token}"))).await;
    assert_eq!(status, 200);
    assert!(text.contains("fieldsync_changes_accepted_total "), "{text}");
}
