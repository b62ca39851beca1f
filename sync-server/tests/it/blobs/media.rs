//! A photo is never a web page (issue 13, item 7): only photo media types are uploaded or
//! proven, and every stored file is served so that a browser on the server's origin runs
//! nothing — an image inline with its type, anything a reference from before holds as an
//! `application/octet-stream` attachment, always with `nosniff` and a sandboxing CSP.

use super::*;

/// Sets, in the server's database, the media type a blob and its references hold: what a
/// server that took any media type before this rule may have stored. (A phone's store and the
/// record checks refuse such a reference now, so it cannot be made through the protocol.)
fn make_legacy(ts: &TestServer, hash: &str, media_type: &str) {
    let conn = rusqlite::Connection::open(ts.dir.path().join("fieldsync.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    conn.execute("UPDATE blobs SET media_type = ?2 WHERE hash = ?1", [hash, media_type]).unwrap();
    conn.execute("UPDATE blob_refs SET media_type = ?2 WHERE hash = ?1", [hash, media_type])
        .unwrap();
}

fn header(a: &Answer, name: &str) -> Option<String> {
    a.headers.get(name).map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_served_inline_as_images_and_anything_else_as_a_sandboxed_attachment() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let jpeg = image_bytes(400, 300, ImageFormat::Jpeg);
    let page = b"<html><body><script>fetch('/v1/me')</script></body></html>".repeat(20);
    let (p_jpeg, p_page) = (photo_of(&jpeg, "image/jpeg"), photo_of(&page, "image/jpeg"));
    a.report_with(&ts, &[&p_jpeg, &p_page]).await;
    upload_from(&ts, &a.token, &jpeg, 0, 64 * KIB).await;
    upload_from(&ts, &a.token, &page, 0, 64 * KIB).await;

    // An image: its own type, inline, and a browser may do nothing else with it.
    for tail in ["", "/thumbnail"] {
        let got = get(&ts, &a.token, &format!("/v1/blobs/{}{tail}", p_jpeg.hash), None).await;
        assert_eq!((got.status, got.content_type.as_str()), (200, "image/jpeg"), "{tail}");
        assert_eq!(header(&got, "content-disposition"), None, "inline: {tail}");
        assert_eq!(header(&got, "x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(
            header(&got, "content-security-policy").as_deref(),
            Some("default-src 'none'; sandbox")
        );
    }
    let part = get(&ts, &a.token, &format!("/v1/blobs/{}", p_jpeg.hash), Some("bytes=0-9")).await;
    assert_eq!((part.status, part.content_type.as_str()), (206, "image/jpeg"));
    assert!(header(&part, "content-security-policy").is_some());

    // A stored reference from before this rule that calls the page text/html: served as bytes
    // to save, never as a page, and intact.
    make_legacy(&ts, &p_page.hash, "text/html");
    let got = get(&ts, &a.token, &format!("/v1/blobs/{}", p_page.hash), None).await;
    assert_eq!((got.status, got.content_type.as_str()), (200, "application/octet-stream"));
    assert_eq!(header(&got, "content-disposition").as_deref(), Some("attachment"));
    assert_eq!(header(&got, "x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(
        header(&got, "content-security-policy").as_deref(),
        Some("default-src 'none'; sandbox")
    );
    assert_eq!(got.body, page);
    for legacy in ["image/svg+xml", "text/html; charset=utf-8", "IMAGE/JPEG"] {
        make_legacy(&ts, &p_page.hash, legacy);
        let got = get(&ts, &a.token, &format!("/v1/blobs/{}", p_page.hash), None).await;
        assert_eq!(got.content_type, "application/octet-stream", "{legacy}");
        assert_eq!(header(&got, "content-disposition").as_deref(), Some("attachment"));
    }
}

/// A reference that gives a photo a media type that is not a photo's (stored before this rule)
/// lets its device neither upload the bytes nor prove it holds them: `415
/// unsupported_media_type`, with nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_that_is_no_photo_is_neither_uploaded_nor_proven() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let b = Device::dispatcher(&ts, "officer-b");
    let page = b"<html><script>alert(document.cookie)</script></html>".repeat(10);
    let p = photo_of(&page, "image/jpeg");
    a.report_with(&ts, &[&p]).await;
    make_legacy(&ts, &p.hash, "text/html");
    let (code, e) = put(&ts, &a.token, &page, 0, page.len()).await.error();
    assert_eq!((code, e.code.as_str()), (415, "unsupported_media_type"));
    assert!(
        e.message.contains("\"text/html\"") && e.message.contains("image/jpeg"),
        "{}",
        e.message
    );
    assert!(blob_files(ts.dir.path()).is_empty(), "nothing stored");
    assert_eq!(challenge(&ts, &a.token, &p.hash, "").await.code().1, "unsupported_media_type");

    // Stored before the rule, by another device, as an image: b's reference, from before too,
    // says text/html. b proves nothing with it.
    let image = image_bytes(64, 64, ImageFormat::Png);
    let q = photo_of(&image, "image/png");
    a.report_with(&ts, &[&q]).await;
    upload_from(&ts, &a.token, &image, 0, 64 * KIB).await;
    b.report_with(&ts, &[&q]).await;
    let c = challenge(&ts, &b.token, &q.hash, "").await.challenge();
    let conn = rusqlite::Connection::open(ts.dir.path().join("fieldsync.db")).unwrap();
    conn.execute(
        "UPDATE blob_refs SET media_type = 'text/html' WHERE hash = ?1 AND device != \
         (SELECT device FROM blob_holders WHERE hash = ?1)",
        [&q.hash],
    )
    .unwrap();
    let r = post_proof(&ts, &b.token, &q.hash, protocol::encode(&answer_to(&c, &image))).await;
    assert_eq!(r.code(), (415, "unsupported_media_type".into()));
    let holders: i64 = conn
        .query_row("SELECT count(*) FROM blob_holders WHERE hash = ?1", [&q.hash], |r| r.get(0))
        .unwrap();
    assert_eq!(holders, 1, "b holds nothing: a's upload is the one holder");
}
