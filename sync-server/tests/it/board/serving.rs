//! What the server answers for the board without a browser: the shell in each language, the
//! page's files with their media types and ETags, and the security headers on all of them (a
//! Content-Security-Policy with no inline script or style, no framing, no sniffing).

use crate::common::start;

#[tokio::test]
async fn the_board_is_served_with_its_security_headers() {
    let ts = start().await;
    let resp = ts.http.get(ts.url("/")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    for part in
        ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]
    {
        assert!(csp.contains(part), "{part} not in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("<html lang=\"zh-CN\">") && html.contains("街道指挥中心"), "{html}");
    let en = ts.http.get(ts.url("/")).header("cookie", "fieldsync_lang=en").send().await.unwrap();
    assert!(en.text().await.unwrap().contains("<html lang=\"en\">"));

    // The module the shell names, with its ETag: a second load is a 304.
    let src = html.split("src=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(src.starts_with("/board/app.js?v="), "{src}");
    let js = ts.http.get(ts.url(&src)).send().await.unwrap();
    assert_eq!(js.status().as_u16(), 200);
    assert!(js.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(js.headers().contains_key("content-security-policy"));
    let tag = js.headers()["etag"].to_str().unwrap().to_string();
    assert!(src.ends_with(tag.trim_matches('"')), "the URL names the version: {src} {tag}");
    let again =
        ts.http.get(ts.url("/board/app.js")).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 304);
    let words = ts.http.get(ts.url("/board/i18n/en.json")).send().await.unwrap();
    assert_eq!(words.headers()["content-type"], "application/json");

    for missing in
        ["/board/nope.js", "/board/i18n/fr.json", "/board/../Cargo.toml", "/board/index.html"]
    {
        let resp = ts.http.get(ts.url(missing)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 404, "{missing}");
    }
    // The desk API keeps its own answers (JSON, no board headers needed).
    let api = ts.http.get(ts.url("/api/v1/session")).send().await.unwrap();
    assert_eq!(api.status().as_u16(), 401);
}
