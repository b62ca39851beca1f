//! Blobs (photos) against the real server on a loopback port (`docs/blobs.md`): chunked
//! uploads that resume (after a cut, a restart, a SIGKILL), verification, deduplication by
//! proof of possession, access like the documents' for references whose authors hold the
//! bytes, limits, ranges, thumbnails and the headers photos are served with. Phones make real
//! records with photos (`Command::AddPhoto`) and push them before uploading, as a phone does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod holders;
mod media;
mod proofs;
mod sharing;
mod uploads;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::common::*;
use fieldsync_core::DocId;
use fieldsync_core::model::{CaseCategory, Command, NewCase, NewRecord, Party, PhotoRef};
use fieldsync_core::policy::Role;
use fieldsync_core::protocol::{
    self, BlobChallenge, BlobProof, BlobStatus, ContentRange, ErrorBody, VERSION, limits,
};
use fieldsync_server::ServerConfig;
use image::{ImageFormat, Rgb, RgbImage};
use sha2::{Digest, Sha256};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// A grid next to [`GRID`].
const OTHER_GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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
    PhotoRef { hash: sha256(bytes), size: bytes.len() as i64, media_type: media_type.into() }
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
        enroll_as(ts.running.server(), &phone, Role::Resident, None, &[GRID]);
        let token = ts.token_for(&phone.actor());
        Device { phone, token }
    }

    /// A phone of `user`, enrolled with `role` in `scope`.
    fn enrolled(ts: &TestServer, user: &str, role: Role, scope: &str) -> Device {
        let phone = Phone::new(user);
        enroll_as(ts.running.server(), &phone, role, None, &[scope]);
        let token = ts.token_for(&phone.actor());
        Device { phone, token }
    }

    /// Creates a report referencing `photos` and pushes it.
    async fn report_with(&self, ts: &TestServer, photos: &[&PhotoRef]) -> DocId {
        self.report_in(ts, GRID, photos).await
    }

    /// Creates a report in `scope` referencing `photos` and pushes it.
    async fn report_in(&self, ts: &TestServer, scope: &str, photos: &[&PhotoRef]) -> DocId {
        let mut new = new_report("photographed");
        if let NewRecord::Report { report: r } = &mut new {
            r.scope = scope.into();
        }
        self.record_with(ts, &new, photos).await
    }

    /// Opens a mediation case in `scope`, this user its mediator, referencing `photos`, and
    /// pushes it.
    async fn case_with(&self, ts: &TestServer, scope: &str, photos: &[&PhotoRef]) -> DocId {
        let user = self.phone.store.identity().user;
        let case = NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: scope.into(),
                category: CaseCategory::Neighbour,
                place: "7号楼下".into(),
                parties: vec![Party {
                    name: "马".into(),
                    role: "owner".into(),
                    contact: "139".into(),
                }],
                mediators: vec![user],
            },
        };
        self.record_with(ts, &case, photos).await
    }

    /// Creates `new`, adds `photos` to it and pushes it.
    async fn record_with(&self, ts: &TestServer, new: &NewRecord, photos: &[&PhotoRef]) -> DocId {
        let id = self.phone.store.create(new).unwrap();
        for p in photos {
            let add = Command::AddPhoto { photo: (*p).clone(), entry: None };
            self.phone.store.execute(id, &add).unwrap();
        }
        let req = self.phone.request(None, "", vec![self.phone.push_saved(id)]);
        assert_acked(&ts.sync(&req).await.unwrap());
        id
    }

    /// The documents this device pulls from an empty cursor (one page: the tests hold few).
    async fn readable_docs(&self, ts: &TestServer) -> Vec<DocId> {
        let resp = ts.sync(&self.phone.request(None, "", vec![])).await.unwrap();
        assert!(!resp.more, "one page");
        resp.docs.iter().map(|d| d.doc).collect()
    }

    /// This device's id, as the server knows it (`GET /v1/me`).
    async fn id(&self, ts: &TestServer) -> String {
        let resp = ts.http.get(ts.url("/v1/me")).bearer_auth(&self.token).send().await.unwrap();
        let body = resp.bytes().await.unwrap();
        protocol::decode::<protocol::DeviceInfo>(&body).unwrap().device
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

    fn challenge(&self) -> BlobChallenge {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        protocol::decode(&self.body).unwrap()
    }

    /// Status, content type and body: what two answers that must not differ are compared by.
    fn seen(&self) -> (u16, String, Vec<u8>) {
        (self.status, self.content_type.clone(), self.body.clone())
    }
}

/// `GET /v1/blobs/{hash}/challenge`, with `query` (e.g. `?size=10`, or empty).
async fn challenge(ts: &TestServer, token: &str, hash: &str, query: &str) -> Answer {
    get(ts, token, &format!("/v1/blobs/{hash}/challenge{query}"), None).await
}

/// `POST /v1/blobs/{hash}/proof` of `body`.
async fn post_proof(ts: &TestServer, token: &str, hash: &str, body: Vec<u8>) -> Answer {
    let resp = ts
        .http
        .post(ts.url(&format!("/v1/blobs/{hash}/proof")))
        .bearer_auth(token)
        .header("content-type", "application/cbor")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    Answer::of(resp).await
}

/// The answer to `c` from `bytes`, as a phone computes it.
fn answer_to(c: &BlobChallenge, bytes: &[u8]) -> BlobProof {
    let mut source = Cursor::new(bytes);
    let digest = protocol::possession_digest(&c.nonce, &c.ranges, &mut source).unwrap();
    BlobProof { v: VERSION, nonce: c.nonce.clone(), digest: digest.to_vec() }
}

/// Asks a challenge for `bytes` (at the size of `token`'s reference) and answers it.
async fn prove(ts: &TestServer, token: &str, bytes: &[u8]) -> Answer {
    let hash = sha256(bytes);
    let c = challenge(ts, token, &hash, "").await.challenge();
    post_proof(ts, token, &hash, protocol::encode(&answer_to(&c, bytes))).await
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
