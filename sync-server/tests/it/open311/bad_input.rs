//! Bad input to the Open311 endpoints: malformed, unknown, repeated and oversize parameters,
//! bodies that are not forms, paths that are not resources. Each is the spec's error list with
//! its status, in the format the path asks for, and changes nothing.

use super::{assert_error, fixture, get, post_body, query};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_400_in_the_specs_format() {
    let f = fixture().await;
    let key = f.key.as_str();
    let far = "2026-01-01T00:00:00Z";
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("status", "pending")], "status"),
        (&[("status", "open'--")], "status"),
        (&[("service_code", "noise,%' OR 1=1 --")], "not a service"),
        (&[("start_date", "yesterday")], "start_date"),
        (&[("end_date", "2026-02-30")], "end_date"),
        (&[("start_date", far), ("end_date", "2025-12-01T00:00:00Z")], "before start_date"),
        (&[("start_date", "2025-01-01T00:00:00Z"), ("end_date", far)], "at most 90 days"),
        (&[("service_request_id", "not-an-id")], "service_request_id"),
        (&[("jurisdiction_id", "jl/../x")], "jurisdiction_id"),
        (&[("jurisdiction_id", "jl")], "outside this key's scopes"),
        (&[("page", "2")], "not a parameter of this endpoint"),
        (&[("status", "open"), ("status", "closed")], "more than once"),
    ];
    for (extra, says) in cases {
        let mut pairs = vec![("api_key", key)];
        pairs.extend_from_slice(extra);
        for format in ["json", "xml"] {
            let a = get(&f.ts, &format!("requests.{format}?{}", query(&pairs))).await;
            assert_error(&a, 400, says);
        }
    }
    let many: Vec<String> = (0..101).map(|_| fieldsync_core::DocId::random().to_string()).collect();
    let a = get(
        &f.ts,
        &format!(
            "requests.json?{}",
            query(&[("api_key", key), ("service_request_id", &many.join(","))])
        ),
    )
    .await;
    assert_error(&a, 400, "at most 100 ids");
    let huge = "x".repeat(9000);
    let a = get(&f.ts, &format!("requests.xml?{}", query(&[("api_key", key), ("status", &huge)])))
        .await;
    assert_error(&a, 400, "over 8192 bytes");
    let a = get(&f.ts, "services.json?bogus=1").await;
    assert_error(&a, 400, "bogus");
    let a = get(&f.ts, &format!("requests.json?api_key={key}&status=%FF%FE")).await;
    assert_error(&a, 400, "status");
    f.ts.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_small_forms_are_400_and_paths_not_ours_404() {
    let f = fixture().await;
    let form =
        query(&[("api_key", &f.key), ("service_code", "noise"), ("lat", "43"), ("long", "125")]);
    let a = post_body(&f.ts, "requests.json", "application/json", form.clone()).await;
    assert_error(&a, 400, "application/x-www-form-urlencoded");
    let big = format!("{form}&description={}", "x".repeat(70 * 1024));
    let a = post_body(&f.ts, "requests.xml", "application/x-www-form-urlencoded", big).await;
    assert_error(&a, 400, "bytes");
    let a =
        post_body(&f.ts, "services.json", "application/x-www-form-urlencoded", form.clone()).await;
    assert_error(&a, 404, "no such Open311 resource");
    for path in ["requests.html", "requests", "nothing.json", "services/noise", "requests/x.csv"] {
        let a = get(&f.ts, path).await;
        assert_error(&a, 404, "");
    }
    let a = get(&f.ts, &format!("requests/not-an-id.json?{}", query(&[("api_key", &f.key)]))).await;
    assert_error(&a, 404, "not-an-id");
    f.ts.running.shutdown().await.unwrap();
}
