//! Blobs (photos) against the real server on a loopback port (`docs/blobs.md`): chunked
//! uploads that resume (after a cut, a restart, a SIGKILL), verification, deduplication,
//! access like the documents', limits, ranges and thumbnails. Phones make real records with
//! photos (`Command::AddPhoto`) and push them before uploading, as a phone does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod child;
mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use common::*;
use fieldsync_core::DocId;
use fieldsync_core::model::{Command, PhotoRef};
use fieldsync_core::policy::Role;
use fieldsync_core::protocol::{self, BlobStatus, ContentRange, ErrorBody, limits};
use fieldsync_server::ServerConfig;
use image::{ImageFormat, Rgb, RgbImage};
use sha2::{Digest, Sha256};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` bytes that do not repeat in any way a compressor or a hash would notice.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A real photo-like image encoded as `format`.
fn image_bytes(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, ((x ^ y) & 0xff) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn photo_of(bytes: &[u8], media_type: &str) -> PhotoRef {
    PhotoRef { hash: sha256(bytes), size: bytes.len() as u64, media_type: media_type.into() }
}

/// A device on the server: its phone and its token.
struct Device {
    phone: Phone,
    token: String,
}

impl Device {
    /// A phone of `user`, enrolled as a dispatcher of the whole jurisdiction.
    fn dispatcher(ts: &TestServer, user: &str) -> Device {
        let phone = Phone::new(user);
        let token = ts.token_for(&phone.actor());
        Device { phone, token }
    }

    /// A resident's phone (reads only its own reports).
    fn resident(ts: &TestServer, user: &str) -> Device {
        let phone = Phone::new(user);
        enrol_as(ts.running.server(), &phone, Role::Resident, None, &[GRID]);
        let token = ts.token_for(&phone.actor());
        Device { phone, token }
    }

    /// Creates a report referencing `photos` and pushes it.
    async fn report_with(&self, ts: &TestServer, photos: &[&PhotoRef]) -> DocId {
        let id = self.phone.report("photographed");
        for p in photos {
            let add = Command::AddPhoto { photo: (*p).clone(), entry: None };
            self.phone.store.execute(id, &add).unwrap();
        }
        let req = self.phone.request(None, "", vec![self.phone.push_saved(id)]);
        assert_acked(&ts.sync(&req).await.unwrap());
        id
    }
}

/// An answer: status, content type, body.
struct Answer {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    async fn of(resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Answer { status, content_type, headers, body: resp.bytes().await.unwrap().to_vec() }
    }

    fn status(&self) -> BlobStatus {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        protocol::decode(&self.body).unwrap()
    }

    fn error(&self) -> (u16, ErrorBody) {
        (self.status, error_body(&self.body))
    }

    fn code(&self) -> (u16, String) {
        let (status, e) = self.error();
        (status, e.code)
    }
}

async fn put_raw(ts: &TestServer, token: &str, hash: &str, range: &str, body: Vec<u8>) -> Answer {
    let resp = ts
        .http
        .put(ts.url(&format!("/v1/blobs/{hash}")))
        .bearer_auth(token)
        .header("content-range", range)
        .header("content-type", "image/jpeg")
        .body(body)
        .send()
        .await
        .unwrap();
    Answer::of(resp).await
}

/// PUTs `data[first..first + len]` of a blob.
async fn put(ts: &TestServer, token: &str, data: &[u8], first: usize, len: usize) -> Answer {
    let range = ContentRange::of(first as u64, len as u64, data.len() as u64).unwrap();
    put_raw(ts, token, &sha256(data), &range.to_string(), data[first..first + len].to_vec()).await
}

async fn get(ts: &TestServer, token: &str, path: &str, range: Option<&str>) -> Answer {
    let mut req = ts.http.get(ts.url(path)).bearer_auth(token);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    Answer::of(req.send().await.unwrap()).await
}

async fn status(ts: &TestServer, token: &str, hash: &str) -> Answer {
    get(ts, token, &format!("/v1/blobs/{hash}/status"), None).await
}

/// Uploads `data` from `from` in chunks of `chunk` bytes; returns the bytes sent.
async fn upload_from(
    ts: &TestServer,
    token: &str,
    data: &[u8],
    from: usize,
    chunk: usize,
) -> usize {
    let mut at = from;
    let mut sent = 0;
    while at < data.len() {
        let len = chunk.min(data.len() - at);
        let s = put(ts, token, data, at, len).await.status();
        sent += len;
        at += len;
        assert_eq!(s.received, at as u64);
        assert_eq!(s.complete, at == data.len());
    }
    sent
}

/// Every file under the data directory's `blobs/`.
fn blob_files(data: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() { walk(&p, out) } else { out.push(p) }
        }
    }
    let mut out = Vec::new();
    walk(&data.join("blobs"), &mut out);
    out.sort();
    out
}

/// Bytes held on disk for uploads under way.
fn partial_bytes(data: &Path) -> u64 {
    blob_files(data)
        .iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("partial")))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_uploaded_once_is_complete_at_once_for_another_device_that_references_it() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let b = Device::resident(&ts, "resident-b");
    let data = image_bytes(640, 480, ImageFormat::Jpeg);
    let photo = photo_of(&data, "image/jpeg");
    a.report_with(&ts, &[&photo]).await;
    upload_from(&ts, &a.token, &data, 0, 8 * KIB).await;
    // The thumbnail is made after the last answer; asking for it waits for it.
    let thumb = get(&ts, &a.token, &format!("/v1/blobs/{}/thumbnail", photo.hash), None).await;
    assert_eq!(thumb.status, 200);
    let before = blob_files(ts.dir.path());

    // Before its own record references the photo, the resident may neither upload nor read it.
    assert_eq!(put(&ts, &b.token, &data, 0, 8 * KIB).await.code().1, "not_referenced");
    assert_eq!(status(&ts, &b.token, &photo.hash).await.code().1, "not_found");
    b.report_with(&ts, &[&photo]).await;
    let s = status(&ts, &b.token, &photo.hash).await.status();
    assert!(s.complete, "the resident's phone skips the upload");
    let s = put(&ts, &b.token, &data, 0, 8 * KIB).await.status();
    assert!(s.complete && s.received == data.len() as u64);
    assert_eq!(blob_files(ts.dir.path()), before, "nothing stored twice");
    let got = get(&ts, &b.token, &format!("/v1/blobs/{}", photo.hash), None).await;
    assert_eq!(got.body, data, "its own report references it: it may read it");
}

/// An upload that receives nothing for the server's idle limit is ended by the running server:
/// its bytes are removed and its device's quota is free again; the device starts over from 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_left_idle_is_ended_and_its_quota_freed() {
    let idle = std::time::Duration::from_secs(3);
    let ts = start_with(|c| ServerConfig {
        blob_upload_idle: idle,
        blob_quota_bytes: 300 * KIB as u64,
        ..c
    })
    .await;
    let a = Device::resident(&ts, "resident-a");
    let first = noise(200 * KIB, 1);
    let second = noise(200 * KIB, 2);
    let (p1, p2) = (photo_of(&first, "image/jpeg"), photo_of(&second, "image/jpeg"));
    a.report_with(&ts, &[&p1, &p2]).await;
    let started = std::time::Instant::now();
    assert_eq!(put(&ts, &a.token, &first, 0, 8 * KIB).await.status().received, 8 * KIB as u64);
    // The first upload holds 200 KiB of the quota of 300: the second does not fit (unless a
    // loaded machine took longer than the idle limit between the two requests: then the first
    // upload has been ended already, which is what the rest checks).
    let second_put = put(&ts, &a.token, &second, 0, 8 * KIB).await;
    if started.elapsed() < idle {
        assert_eq!(second_put.code(), (403, "quota_exceeded".into()));
    }

    let deadline = std::time::Instant::now() + idle * 5;
    while partial_bytes(ts.dir.path()) > 0 {
        assert!(std::time::Instant::now() < deadline, "the idle upload was not ended");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status(&ts, &a.token, &p1.hash).await.status().received, 0, "it starts over");
    assert_eq!(upload_from(&ts, &a.token, &second, 0, 64 * KIB).await, second.len());
    assert!(status(&ts, &a.token, &p2.hash).await.status().complete);
}

/// A device that knows a photo's hash (it can read a report holding it) may reference it in a
/// record of its own, with the right size or a wrong one, and start uploads of it. Neither
/// blocks nor spoils the author's upload: each device uploads on its own, and the first upload
/// that verifies makes the blob; the others end, and their bytes count against nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_devices_upload_of_the_same_hash_neither_blocks_nor_spoils_the_authors() {
    let ts = start().await;
    let author = Device::resident(&ts, "resident-author");
    let squatter = Device::resident(&ts, "resident-squatter");
    let spoiler = Device::resident(&ts, "resident-spoiler");
    let data = image_bytes(640, 480, ImageFormat::Jpeg);
    let photo = photo_of(&data, "image/jpeg");
    author.report_with(&ts, &[&photo]).await;
    // The squatter claims the hash with a size of its own making and starts an upload of it.
    let wrong = PhotoRef { size: photo.size * 2, ..photo.clone() };
    squatter.report_with(&ts, &[&wrong]).await;
    let range = ContentRange::of(0, 100, wrong.size).unwrap().to_string();
    let s = put_raw(&ts, &squatter.token, &photo.hash, &range, vec![0; 100]).await.status();
    assert_eq!((s.size, s.received, s.complete), (wrong.size, 100, false));
    // The spoiler claims it with the right size and sends bytes that are not the photo's.
    spoiler.report_with(&ts, &[&photo]).await;
    let range = ContentRange::of(0, 4 * KIB as u64, photo.size).unwrap().to_string();
    let s = put_raw(&ts, &spoiler.token, &photo.hash, &range, vec![0; 4 * KIB]).await.status();
    assert_eq!(s.received, 4 * KIB as u64);

    // The author's upload starts at 0, not at what others sent, and completes.
    let s = status(&ts, &author.token, &photo.hash).await.status();
    assert_eq!((s.size, s.received, s.complete), (photo.size, 0, false));
    assert_eq!(upload_from(&ts, &author.token, &data, 0, 8 * KIB).await, data.len());
    let got = get(&ts, &author.token, &format!("/v1/blobs/{}", photo.hash), None).await;
    assert_eq!(got.body, data);
    // The others' uploads ended with it: their files are gone, and the spoiler, whose
    // reference has the blob's size, sees it complete.
    assert_eq!(partial_bytes(ts.dir.path()), 0);
    assert!(status(&ts, &spoiler.token, &photo.hash).await.status().complete);
    // The squatter's reference names other bytes than the blob: its upload ended, and what it
    // sent is held for nobody.
    let s = status(&ts, &squatter.token, &photo.hash).await.status();
    assert_eq!((s.size, s.received, s.complete), (wrong.size, 0, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_without_access_gets_the_answer_for_a_missing_blob() {
    let ts = start().await;
    let a = Device::resident(&ts, "resident-a");
    let b = Device::resident(&ts, "resident-b");
    let leader = Phone::new("leader-1");
    enrol_as(ts.running.server(), &leader, Role::GridLeader, None, &[GRID]);
    let leader_token = ts.token_for(&leader.actor());
    let done = image_bytes(400, 300, ImageFormat::Jpeg);
    let partial = noise(200 * KIB, 6);
    let (p_done, p_partial) = (photo_of(&done, "image/jpeg"), photo_of(&partial, "image/jpeg"));
    a.report_with(&ts, &[&p_done, &p_partial]).await;
    upload_from(&ts, &a.token, &done, 0, 64 * KIB).await;
    put(&ts, &a.token, &partial, 0, 64 * KIB).await.status();
    let missing = sha256(b"never uploaded, never referenced");

    // The grid leader reads the reports of the grid: the complete photo, with its thumbnail.
    let path = |h: &str, tail: &str| format!("/v1/blobs/{h}{tail}");
    assert_eq!(get(&ts, &leader_token, &path(&p_done.hash, ""), None).await.body, done);
    assert_eq!(get(&ts, &leader_token, &path(&p_done.hash, "/thumbnail"), None).await.status, 200);
    assert!(status(&ts, &leader_token, &p_done.hash).await.status().complete);

    // Another resident may not read the report: every answer is the one for a missing blob,
    // and so is an incomplete blob for a device that may read but not upload it.
    for tail in ["/status", "", "/thumbnail"] {
        let reference = get(&ts, &b.token, &path(&missing, tail), None).await;
        assert_eq!(reference.code(), (404, "not_found".to_string()), "{tail}");
        let cases = [
            (&b.token, &p_done.hash),
            (&b.token, &p_partial.hash),
            (&leader_token, &p_partial.hash),
        ];
        for (token, hash) in cases {
            let r = get(&ts, token, &path(hash, tail), None).await;
            assert_eq!(
                (r.status, &r.content_type, &r.body),
                (reference.status, &reference.content_type, &reference.body),
                "{tail} of {hash}"
            );
        }
    }
    // Nor may the grid leader upload what the resident's report references.
    let r = put(&ts, &leader_token, &partial, 64 * KIB, 64 * KIB).await;
    assert_eq!(r.code(), (409, "not_referenced".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_and_quota_limits_refuse_with_typed_errors_and_store_nothing() {
    let ts = start_with(|c| ServerConfig {
        max_blob_bytes: 200 * KIB as u64,
        blob_quota_bytes: 300 * KIB as u64,
        ..c
    })
    .await;
    let a = Device::dispatcher(&ts, "officer-a");
    let blobs: Vec<Vec<u8>> = [150 * KIB, 160 * KIB, 250 * KIB, 100 * KIB]
        .iter()
        .zip(10..)
        .map(|(n, s)| noise(*n, s))
        .collect();
    let photos: Vec<PhotoRef> = blobs.iter().map(|b| photo_of(b, "image/jpeg")).collect();
    a.report_with(&ts, &photos.iter().collect::<Vec<_>>()).await;

    upload_from(&ts, &a.token, &blobs[0], 0, 64 * KIB).await;
    // 150 KiB stored: 160 more would pass the quota of 300, from the first byte.
    let before = blob_files(ts.dir.path());
    let (code, e) = put(&ts, &a.token, &blobs[1], 0, 64 * KIB).await.error();
    assert_eq!((code, e.code.as_str()), (403, "quota_exceeded"));
    assert!(e.message.contains(&(300 * KIB).to_string()), "{}", e.message);
    // Over the per-blob limit, whatever the quota.
    let (code, e) = put(&ts, &a.token, &blobs[2], 0, 64 * KIB).await.error();
    assert_eq!((code, e.code.as_str()), (413, "too_large"));
    assert!(e.message.contains(&(200 * KIB).to_string()), "{}", e.message);
    assert_eq!(blob_files(ts.dir.path()), before, "nothing stored for either");
    for p in &photos[1..3] {
        assert_eq!(status(&ts, &a.token, &p.hash).await.status().received, 0);
    }
    // What fits still goes: 150 + 100 KiB.
    upload_from(&ts, &a.token, &blobs[3], 0, 64 * KIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_with_typed_errors_and_store_nothing() {
    let ts = start().await;
    let a = Device::dispatcher(&ts, "officer-a");
    let data = noise(3 * MIB, 7);
    let photo = photo_of(&data, "image/jpeg");
    // (A phone store takes no reference to an empty photo: the range alone is refused.)
    let empty = photo_of(b"", "image/jpeg");
    a.report_with(&ts, &[&photo]).await;
    let size = data.len();

    // What, hash, Content-Range, body, expected status and code.
    type Case = (&'static str, String, String, Vec<u8>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (
            "zero-length blob",
            empty.hash.clone(),
            "bytes 0-0/0".into(),
            vec![],
            400,
            "invalid_range",
        ),
        (
            "no Content-Range",
            photo.hash.clone(),
            String::new(),
            data[..10].to_vec(),
            400,
            "invalid_range",
        ),
        (
            "range beyond the declared size",
            photo.hash.clone(),
            format!("bytes {}-{}/{size}", size - 10, size + 9),
            data[..20].to_vec(),
            416,
            "invalid_range",
        ),
        (
            "last before first",
            photo.hash.clone(),
            format!("bytes 10-5/{size}"),
            vec![],
            416,
            "invalid_range",
        ),
        (
            "a body shorter than its range",
            photo.hash.clone(),
            format!("bytes 0-99/{size}"),
            data[..50].to_vec(),
            416,
            "invalid_range",
        ),
        (
            "another size than the reference's",
            photo.hash.clone(),
            format!("bytes 0-99/{}", size + 1),
            data[..100].to_vec(),
            409,
            "not_referenced",
        ),
        (
            "a hash no document references",
            sha256(b"something else"),
            format!("bytes 0-99/{size}"),
            data[..100].to_vec(),
            409,
            "not_referenced",
        ),
        (
            "a malformed hash",
            photo.hash.to_uppercase(),
            format!("bytes 0-99/{size}"),
            data[..100].to_vec(),
            400,
            "invalid_request",
        ),
        (
            "a chunk over 1 MiB",
            photo.hash.clone(),
            format!("bytes 0-{}/{size}", limits::CHUNK_BYTES),
            data[..=limits::CHUNK_BYTES].to_vec(),
            413,
            "too_large",
        ),
        (
            // The last byte's number at the end of u64: its length must not overflow.
            "a range to the end of u64",
            photo.hash.clone(),
            format!("bytes 0-{}/{size}", u64::MAX),
            data[..100].to_vec(),
            413,
            "too_large",
        ),
        (
            "a body over 1 MiB behind a small range",
            photo.hash.clone(),
            format!("bytes 0-99/{size}"),
            data[..limits::CHUNK_BYTES + 1].to_vec(),
            413,
            "too_large",
        ),
    ];
    for (what, hash, range, body, status_code, code) in cases {
        let r = put_raw(&ts, &a.token, &hash, &range, body).await;
        assert_eq!(r.code(), (status_code, code.to_string()), "{what}");
        assert!(blob_files(ts.dir.path()).is_empty(), "{what}: {:?}", blob_files(ts.dir.path()));
    }
    let s = status(&ts, &a.token, &photo.hash).await.status();
    assert_eq!((s.received, s.size), (0, size as u64));
    // A hash that is no hash, on the read side too.
    let r = get(&ts, &a.token, "/v1/blobs/not-a-hash/status", None).await;
    assert_eq!(r.code(), (400, "invalid_request".to_string()));
    // And without a token nothing is answered about blobs at all.
    let r =
        Answer::of(ts.http.get(ts.url(&format!("/v1/blobs/{}", photo.hash))).send().await.unwrap())
            .await;
    assert_eq!(r.code(), (401, "missing_token".to_string()));
    // The whole blob still uploads in 1 MiB chunks, the largest allowed.
    upload_from(&ts, &a.token, &data, 0, limits::CHUNK_BYTES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_of_patrol_entries_and_cases_are_uploaded_by_their_authors() {
    use fieldsync_core::model::{
        CaseCategory, EntryKind, MemberKind, NewCase, NewEntry, NewPatrol, NewRecord, Party,
        TeamMember,
    };
    let ts = start().await;
    let a = Device::dispatcher(&ts, "dispatcher-a");
    let (p1, p2) = (noise(20 * KIB, 20), noise(30 * KIB, 21));
    let (r1, r2) = (photo_of(&p1, "image/jpeg"), photo_of(&p2, "image/jpeg"));
    let store = &a.phone.store;
    let patrol = store
        .create(&NewRecord::PatrolLog(NewPatrol {
            scope: GRID.into(),
            area: "north loop".into(),
            members: vec![TeamMember {
                user: "dispatcher-a".into(),
                name: "A".into(),
                kind: MemberKind::Police,
            }],
            checkpoints: vec![],
        }))
        .unwrap();
    let entry = NewEntry {
        kind: EntryKind::HazardFound,
        text: "护栏松动".into(),
        location: None,
        photos: vec![r1.clone()],
        checkpoint: None,
    };
    store.execute(patrol, &Command::AddPatrolEntry { entry }).unwrap();
    let case = store
        .create(&NewRecord::MediationCase(NewCase {
            scope: GRID.into(),
            category: CaseCategory::Neighbour,
            place: "7号楼下".into(),
            parties: vec![Party {
                name: "马".into(),
                role: "owner".into(),
                contact: String::new(),
            }],
            mediators: vec![],
        }))
        .unwrap();
    store.execute(case, &Command::AddPhoto { photo: r2.clone(), entry: None }).unwrap();
    let push = vec![a.phone.push_saved(patrol), a.phone.push_saved(case)];
    assert_acked(&ts.sync(&a.phone.request(None, "", push)).await.unwrap());
    upload_from(&ts, &a.token, &p1, 0, 8 * KIB).await;
    upload_from(&ts, &a.token, &p2, 0, 8 * KIB).await;
    assert_eq!(get(&ts, &a.token, &format!("/v1/blobs/{}", r1.hash), None).await.body, p1);
    assert_eq!(get(&ts, &a.token, &format!("/v1/blobs/{}", r2.hash), None).await.body, p2);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_resumes_after_the_server_process_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = child::Proc::spawn(&data_dir, "127.0.0.1:0");
    let phone = Phone::new("officer-k");
    let token = child::enrol(&server.url, &data_dir, "officer-k", phone.actor()).await;
    let data = noise(900 * KIB, 8);
    let photo = photo_of(&data, "image/jpeg");
    let id = phone.report("killed mid-upload");
    phone.store.execute(id, &Command::AddPhoto { photo: photo.clone(), entry: None }).unwrap();
    let http = reqwest::Client::new();
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

    let server = child::Proc::spawn(&data_dir, "127.0.0.1:0");
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

/// Hostile headers on the blob endpoints, against the real server: whatever `Content-Range` and
/// body a device sends for its photo, and whatever `Range` it asks of a complete one, the answer
/// is a success or a typed 4xx with the protocol's error body, never a 5xx; a part sent is the
/// bytes asked for; and what the server holds of the upload stays a prefix of the photo, which
/// then completes and reads back whole. (A `Content-Range` ending at `u64::MAX` once answered
/// 500.)
#[test]
fn hostile_range_headers_get_typed_answers_and_spoil_nothing() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ts = rt.block_on(start());
    let a = Device::dispatcher(&ts, "officer-a");
    let data = noise(64 * KIB, 21);
    let whole = noise(40 * KIB, 22);
    let (photo, done) = (photo_of(&data, "image/jpeg"), photo_of(&whole, "image/jpeg"));
    rt.block_on(async {
        a.report_with(&ts, &[&photo, &done]).await;
        upload_from(&ts, &a.token, &whole, 0, 16 * KIB).await;
    });
    let size = data.len() as u64;
    let number = || {
        prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            Just(u64::MAX - 1),
            Just(size - 1),
            Just(size),
            Just(size + 1),
            0..2 * size,
            any::<u64>(),
        ]
    };
    // With the body's length when it should match the range (a chunk a phone could send).
    let content_range = prop_oneof![
        4 => (number(), number(), number())
            .prop_map(|(f, l, s)| (format!("bytes {f}-{l}/{s}"), None)),
        4 => (number(), number()).prop_map(move |(f, l)| (format!("bytes {f}-{l}/{size}"), None)),
        4 => (prop_oneof![Just(0), 0..8 * KIB as u64, 0..size], 1..3 * KIB as u64).prop_map(move |(f, n)| {
            let n = n.min(size - f);
            (format!("bytes {f}-{}/{size}", f + n - 1), Some(n as usize))
        }),
        1 => "[ -~]{0,40}".prop_map(|s| (s, None)),
    ];
    let range = prop_oneof![
        (number(), number()).prop_map(|(f, l)| format!("bytes={f}-{l}")),
        number().prop_map(|f| format!("bytes={f}-")),
        number().prop_map(|n| format!("bytes=-{n}")),
        "[ -~]{0,30}",
    ];
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    // 300 cases (under a second); `PROPTEST_CASES=<n>` runs more.
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    let result =
        runner.run(&(content_range, 0usize..3 * KIB, range), |((cr, fits), len, range)| {
            let len = fits.unwrap_or(len);
            rt.block_on(async {
                // The photo's own bytes from where the header says, so that whatever is taken is
                // right; garbage headers carry some bytes too.
                let first = ContentRange::parse(&cr).map_or(0, |r| r.first.min(size)) as usize;
                let body = data[first..(first + len).min(data.len())].to_vec();
                let r = put_raw(&ts, &a.token, &photo.hash, &cr, body).await;
                *seen.lock().unwrap().entry(r.status).or_default() += 1;
                prop_assert!(r.status < 500, "PUT {cr:?}: {}", String::from_utf8_lossy(&r.body));
                if r.status >= 400 {
                    prop_assert!(serde_json::from_slice::<ErrorBody>(&r.body).is_ok(), "{cr:?}");
                }
                let path = format!("/v1/blobs/{}", done.hash);
                let g = get(&ts, &a.token, &path, Some(&range)).await;
                *seen.lock().unwrap().entry(g.status).or_default() += 1;
                prop_assert!(matches!(g.status, 200 | 206 | 416), "GET {range:?}: {}", g.status);
                if g.status == 206 {
                    let cr = g.headers["content-range"].to_str().unwrap();
                    let part = ContentRange::parse(cr).unwrap();
                    let expected = &whole[part.first as usize..=part.last as usize];
                    prop_assert_eq!(&g.body[..], expected, "GET {:?}", range);
                }
                Ok(())
            })
        });
    eprintln!("hostile range headers: answers by status {:?}", seen.lock().unwrap());
    result.unwrap();
    // What was taken is the photo's prefix: the rest completes it, and it reads back whole.
    rt.block_on(async {
        let held = status(&ts, &a.token, &photo.hash).await.status();
        assert!(held.received <= size);
        if !held.complete {
            upload_from(&ts, &a.token, &data, held.received as usize, 16 * KIB).await;
        }
        let got = get(&ts, &a.token, &format!("/v1/blobs/{}", photo.hash), None).await;
        assert_eq!(got.body, data);
    });
}
