//! Uploads in chunks that resume (after a cut, a restart, a SIGKILL), verification, thumbnails.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_uploads_in_chunks_downloads_whole_and_in_ranges_with_a_thumbnail() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let jpeg = image_bytes(1600, 1200, ImageFormat::Jpeg);
    let photo = photo_of(&jpeg, "image/jpeg");
    a.report_with(&ts, &[&photo]).await;

    let s = status(&ts, &a.token, &photo.hash).await.status();
    assert_eq!((s.size, s.received, s.complete), (jpeg.len() as u64, 0, false));
    let sent = upload_from(&ts, &a.token, &jpeg, 0, 16 * KIB).await;
    assert_eq!(sent, jpeg.len(), "each byte sent once");
    let s = status(&ts, &a.token, &photo.hash).await.status();
    assert!(s.complete && s.received == s.size);
    // Stored once, in place, with its thumbnail; nothing left partial.
    let files = blob_files(ts.dir.path());
    let stored = ts.dir.path().join("blobs").join(&photo.hash[..2]).join(&photo.hash);
    assert!(files.contains(&stored), "{files:?}");
    assert_eq!(std::fs::read(&stored).unwrap(), jpeg);
    assert_eq!(partial_bytes(ts.dir.path()), 0);

    let path = format!("/v1/blobs/{}", photo.hash);
    let whole = get(&ts, &a.token, &path, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.content_type, "image/jpeg");
    assert_eq!(whole.body, jpeg);
    assert_eq!(whole.headers["accept-ranges"], "bytes");

    let n = jpeg.len();
    for (range, first, last) in [
        (format!("bytes={}-", n / 2), n / 2, n - 1),
        ("bytes=10-99".to_string(), 10, 99),
        (format!("bytes=100-{}", n * 2), 100, n - 1),
        ("bytes=-50".to_string(), n - 50, n - 1),
    ] {
        let part = get(&ts, &a.token, &path, Some(&range)).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(part.body, jpeg[first..=last], "{range}");
        assert_eq!(part.headers["content-range"], format!("bytes {first}-{last}/{n}"));
    }
    for bad in [format!("bytes={n}-"), "bytes=5-2".to_string(), "bytes=0-1,5-6".to_string()] {
        let r = get(&ts, &a.token, &path, Some(&bad)).await;
        assert_eq!(r.code(), (416, "invalid_range".to_string()), "{bad}");
    }

    let thumb = get(&ts, &a.token, &format!("{path}/thumbnail"), None).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.content_type, "image/jpeg");
    assert_eq!(image::guess_format(&thumb.body).unwrap(), ImageFormat::Jpeg);
    let t = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((t.width(), t.height()), (320, 240));
    assert!(thumb.body.len() < jpeg.len() / 4, "{} bytes", thumb.body.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_gets_a_jpeg_thumbnail_and_bytes_that_are_no_image_get_none() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let png = image_bytes(300, 900, ImageFormat::Png);
    let pdf = [b"%PDF-1.7\n".as_slice(), &noise(40 * KIB, 3)].concat();
    let (p_png, p_pdf) = (photo_of(&png, "image/png"), photo_of(&pdf, "image/jpeg"));
    a.report_with(&ts, &[&p_png, &p_pdf]).await;
    upload_from(&ts, &a.token, &png, 0, MIB).await;
    upload_from(&ts, &a.token, &pdf, 0, 16 * KIB).await;

    let thumb = get(&ts, &a.token, &format!("/v1/blobs/{}/thumbnail", p_png.hash), None).await;
    let t = image::load_from_memory_with_format(&thumb.body, ImageFormat::Jpeg).unwrap();
    assert_eq!((t.width(), t.height()), (107, 320));

    let none = get(&ts, &a.token, &format!("/v1/blobs/{}/thumbnail", p_pdf.hash), None).await;
    assert_eq!(none.code(), (404, "no_thumbnail".to_string()));
    let original = get(&ts, &a.token, &format!("/v1/blobs/{}", p_pdf.hash), None).await;
    assert_eq!(original.status, 200);
    assert_eq!(original.body, pdf, "the original is kept, intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_resumes_after_a_cut_sending_only_the_rest() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let data = noise(700 * KIB, 2);
    let photo = photo_of(&data, "image/jpeg");
    a.report_with(&ts, &[&photo]).await;
    let chunk = 64 * KIB;
    for at in (0..3 * chunk).step_by(chunk) {
        put(&ts, &a.token, &data, at, chunk).await.status();
    }
    // The link drops in the middle of the fourth chunk: half its body arrives, then nothing.
    {
        use tokio::io::AsyncWriteExt;
        let range = ContentRange::of(3 * chunk as u64, chunk as u64, data.len() as u64).unwrap();
        let head = format!(
            "PUT /v1/blobs/{} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
             content-range: {range}\r\ncontent-length: {chunk}\r\n\r\n",
            photo.hash, a.token
        );
        let mut tcp = tokio::net::TcpStream::connect(ts.running.addr()).await.unwrap();
        tcp.write_all(head.as_bytes()).await.unwrap();
        tcp.write_all(&data[3 * chunk..3 * chunk + chunk / 2]).await.unwrap();
        tcp.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(tcp);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let s = status(&ts, &a.token, &photo.hash).await.status();
    let held = 3 * chunk + chunk / 2;
    assert_eq!(s.received, held as u64, "the server keeps what arrived of the cut chunk");
    // A retried chunk overlapping what is held is harmless; a gap is refused with `received`.
    let again = put(&ts, &a.token, &data, 2 * chunk, chunk).await.status();
    assert_eq!(again.received, held as u64);
    let gap = put(&ts, &a.token, &data, 5 * chunk, chunk).await;
    let (code, e) = gap.error();
    assert_eq!((code, e.code.as_str()), (416, "invalid_range"));
    assert!(e.message.contains(&format!("received {held}")), "{}", e.message);
    // The overlap of a chunk straddling `received` is skipped, the rest stored.
    let straddle = put(&ts, &a.token, &data, held - 100, chunk).await.status();
    assert_eq!(straddle.received, (held + chunk - 100) as u64);

    let rest = upload_from(&ts, &a.token, &data, straddle.received as usize, chunk).await;
    assert_eq!(rest, data.len() - (held + chunk - 100));
    let got = get(&ts, &a.token, &format!("/v1/blobs/{}", photo.hash), None).await;
    assert_eq!(got.body, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_hash_is_refused_and_nothing_is_kept() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let data = noise(300 * KIB, 4);
    let photo = photo_of(&data, "image/jpeg");
    a.report_with(&ts, &[&photo]).await;
    let mut corrupt = data.clone();
    corrupt[150 * KIB] ^= 0x40;
    let range = |first: usize, len: usize| {
        ContentRange::of(first as u64, len as u64, data.len() as u64).unwrap().to_string()
    };
    let first =
        put_raw(&ts, &a.token, &photo.hash, &range(0, 200 * KIB), corrupt[..200 * KIB].to_vec())
            .await
            .status();
    assert_eq!(first.received, 200 * KIB as u64);
    let last = put_raw(
        &ts,
        &a.token,
        &photo.hash,
        &range(200 * KIB, 100 * KIB),
        corrupt[200 * KIB..].to_vec(),
    )
    .await;
    let (code, e) = last.error();
    assert_eq!((code, e.code.as_str()), (422, "hash_mismatch"));
    assert!(e.message.contains(&photo.hash), "{}", e.message);
    assert!(blob_files(ts.dir.path()).is_empty(), "{:?}", blob_files(ts.dir.path()));
    let s = status(&ts, &a.token, &photo.hash).await.status();
    assert_eq!((s.received, s.complete), (0, false), "everything received was discarded");
    let read = get(&ts, &a.token, &format!("/v1/blobs/{}", photo.hash), None).await;
    assert_eq!(read.code(), (404, "not_found".to_string()));
    // The right bytes then go through from the start.
    upload_from(&ts, &a.token, &data, 0, 128 * KIB).await;
    assert_eq!(get(&ts, &a.token, &format!("/v1/blobs/{}", photo.hash), None).await.body, data);
}

async fn restart(ts: TestServer) -> TestServer {
    let TestServer { dir, running, .. } = ts;
    // As a crash would: connections dropped, nothing flushed beyond what was committed.
    running.abort().await;
    start_in(dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_resumes_after_the_server_restarts() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let data = noise(MIB + 300 * KIB, 5);
    let photo = photo_of(&data, "image/jpeg");
    a.report_with(&ts, &[&photo]).await;
    put(&ts, &a.token, &data, 0, 512 * KIB).await.status();
    put(&ts, &a.token, &data, 512 * KIB, 256 * KIB).await.status();

    let ts = restart(ts).await;
    let s = status(&ts, &a.token, &photo.hash).await.status();
    assert_eq!((s.received, s.complete), (768 * KIB as u64, false));
    let rest = upload_from(&ts, &a.token, &data, s.received as usize, 512 * KIB).await;
    assert_eq!(rest, data.len() - 768 * KIB);
    let ts = restart(ts).await;
    let got = get(&ts, &a.token, &format!("/v1/blobs/{}", photo.hash), None).await;
    assert_eq!(got.body, data, "a complete blob stays complete across restarts");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_resumes_after_the_server_process_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = crate::child::Proc::spawn(&data_dir, "127.0.0.1:0");
    let phone = Phone::new("officer-k");
    let token = crate::child::enroll(&server.url, &data_dir, "officer-k", phone.actor()).await;
    let data = noise(900 * KIB, 8);
    let photo = photo_of(&data, "image/jpeg");
    let id = phone.report("killed mid-upload");
    phone.store.execute(id, &Command::AddPhoto { photo: photo.clone(), entry: None }).unwrap();
    let http = {
        fieldsync_core::sync::install_tls_provider();
        reqwest::Client::new()
    };
    let sync = protocol::encode(&phone.request(None, "", vec![phone.push_saved(id)]));
    let r = http.post(format!("{}/v1/sync", server.url)).bearer_auth(&token).body(sync);
    assert_eq!(r.send().await.unwrap().status(), 200);
    let put = |url: String, first: usize, len: usize| {
        let range = ContentRange::of(first as u64, len as u64, data.len() as u64).unwrap();
        http.put(format!("{url}/v1/blobs/{}", photo.hash))
            .bearer_auth(&token)
            .header("content-range", range.to_string())
            .body(data[first..first + len].to_vec())
            .send()
    };
    for at in [0, 200 * KIB] {
        assert_eq!(put(server.url.clone(), at, 200 * KIB).await.unwrap().status(), 200);
    }
    server.kill();

    let server = crate::child::Proc::spawn(&data_dir, "127.0.0.1:0");
    let resp = http
        .get(format!("{}/v1/blobs/{}/status", server.url, photo.hash))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let s: BlobStatus = protocol::decode(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!((s.received, s.complete), (400 * KIB as u64, false));
    let resp = put(server.url.clone(), 400 * KIB, 500 * KIB).await.unwrap();
    let s: BlobStatus = protocol::decode(&resp.bytes().await.unwrap()).unwrap();
    assert!(s.complete);
    let got = http
        .get(format!("{}/v1/blobs/{}", server.url, photo.hash))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), data.as_slice());
    server.kill();
}
