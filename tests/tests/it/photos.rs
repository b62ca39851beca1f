//! Photos end to end, phone to real server to phone (docs/blobs.md).
//!
//! Over a link that keeps dropping (faster than 2G, so a 5 MB photo takes seconds, not minutes):
//! the upload resumes where the server stopped — the bytes sent stay within the photo's size
//! plus the chunks the link cut —, arrives intact, and records created after the photo reach
//! the server before the photo is done; another phone downloads the original (resuming, with
//! progress) and the thumbnail. On loopback: the upload queue waits for the record's sync, a
//! photo the server holds already is proven with no byte sent, small photos come after a sync,
//! and every refusal is a typed error; bytes damaged on the way never become a photo, and a cut
//! download resumes; a photo reaches the readers of a record only from a phone that holds it.
//! The link's seed is printed; `FIELDSYNC_LINK_SEED=<seed>` replays a run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldsync_core::model::*;
use fieldsync_core::protocol::ContentRange;
use fieldsync_core::protocol::limits::CHUNK_BYTES;
use fieldsync_core::store::{PhotoSource, PhotoState, PhotoVariant, sha256_hex};
use fieldsync_core::sync::{
    BlobHead, BlobSink, BlobTransport, HttpTransport, PhotoProgress, PhotoTransfer, SyncOptions,
    Transport, TransportError, UploadSummary,
};
use fieldsync_core::{CoreError, DocId};
use fieldsync_server::{RunningServer, Server, ServerConfig};
use fieldsync_tests::link::{LinkEmulator, LinkProfile};
use fieldsync_tests::phone::{Phone, enroll_http};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-07";

/// A JPEG of noise (noise does not compress: the file is large for its pixels).
pub(crate) fn jpeg(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let img = image::RgbImage::from_fn(width, height, |_, _| image::Rgb(rng.random()));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95).encode_image(&img).unwrap();
    out
}

pub(crate) fn report(title: &str) -> NewRecord {
    NewRecord::Report {
        report: NewReport {
            scope: GRID.into(),
            category: ReportCategory::IllegalConstruction,
            title: title.into(),
            description: "A second floor built on the garage roof without a permit.".into(),
            location: None,
            photos: vec![],
        },
    }
}

pub(crate) async fn start(
    dir: &std::path::Path,
    tune: impl FnOnce(&mut ServerConfig),
) -> RunningServer {
    let mut config =
        ServerConfig::new(dir.join("server")).with_listen("127.0.0.1:0".parse().unwrap());
    tune(&mut config);
    Server::start(&config).await.unwrap()
}

/// A phone talking to the server directly.
fn phone(dir: &std::path::Path, server: &RunningServer, name: &str) -> Phone<HttpTransport> {
    let config =
        SyncOptions { backoff: Duration::from_millis(50).into(), ..SyncOptions::default() };
    Phone::with_config(dir, name, enroll_http(server, name), config)
}

/// Progress reports, kept.
#[derive(Default)]
struct Seen(Mutex<Vec<PhotoProgress>>);

impl Seen {
    fn listener(self: &Arc<Self>) -> impl Fn(&PhotoProgress) + Send + Sync + 'static {
        let me = self.clone();
        move |p: &PhotoProgress| me.0.lock().unwrap().push(p.clone())
    }

    fn of(&self, transfer: PhotoTransfer) -> Vec<PhotoProgress> {
        self.0.lock().unwrap().iter().filter(|p| p.transfer == transfer).cloned().collect()
    }
}

/// Faster than 2G, as unreliable: 4 Mbit/s up, 8 Mbit/s down, 80 ms round trip, every
/// connection cut after 2 to 6 s, one answer in ten truncated within its first 256 KiB. A 5 MB
/// photo takes seconds (not the ten minutes of 2G), through several cuts.
fn dropping_3g() -> LinkProfile {
    LinkProfile {
        up_bps: Some(4_000_000),
        down_bps: Some(8_000_000),
        latency: Duration::from_millis(40),
        cut_after: Some((Duration::from_secs(2), Duration::from_secs(6))),
        truncate_chance: 0.1,
        truncate_within: 256 * 1024,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5_mb_photo_crosses_a_dropping_link_resumes_and_never_holds_up_records() {
    let seed: u64 =
        std::env::var("FIELDSYNC_LINK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    println!("link seed {seed} (FIELDSYNC_LINK_SEED={seed} replays this run)");
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let link = LinkEmulator::start(server.addr(), dropping_3g(), seed).await.unwrap();
    let through_link = |name: &str| {
        let enrolled = enroll_http(&server, name);
        let token = enrolled.token.clone();
        let device = enrolled.map(|_| HttpTransport::new(&link.url()).unwrap().with_token(token));
        let config =
            SyncOptions { backoff: Duration::from_millis(100).into(), ..SyncOptions::default() };
        Arc::new(Phone::with_config(dir.path(), name, device, config))
    };
    let a = through_link("grid-leader-wu");

    let photo = jpeg(1760, 1320, seed);
    let size = photo.len() as i64;
    assert!(size >= 5_000_000, "a 5 MB photo, not {size} bytes");
    let id = a.store.create(&report("Illegal extension, 3 Xinhua Road")).unwrap();
    let r = a
        .store
        .add_photo(id, &PhotoSource::Bytes { bytes: photo.clone() }, "image/jpeg", None)
        .unwrap();
    assert_eq!(r.hash, sha256_hex(&photo));
    // The record first (the server takes a photo only from a device whose synced record names it).
    sync_through(&a, seed).await;

    let before = link.stats();
    let upload_started = Instant::now();
    let seen = Arc::new(Seen::default());
    let uploader = {
        let (a, listener) = (a.clone(), seen.listener());
        tokio::spawn(async move {
            let mut total = UploadSummary::default();
            for _ in 0..20 {
                match a.client.upload_photos(Some(&listener)).await {
                    Ok(s) => {
                        total.bytes_up += s.bytes_up;
                        total.retries += s.retries;
                        total.requests += s.requests;
                        total.uploaded += s.uploaded;
                        if s.uploaded == 1 {
                            return (total, Instant::now());
                        }
                        assert_eq!(s.refused, 0, "{s:?}");
                    }
                    Err(CoreError::Network { .. }) => total.retries += 1,
                    Err(e) => panic!("upload failed: {e} (seed {seed})"),
                }
            }
            panic!("the photo did not arrive in 20 runs (seed {seed}): {total:?}");
        })
    };

    // Once the first chunk is in, the phone records three more reports and syncs them.
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.of(PhotoTransfer::Upload).iter().all(|p| p.done == 0) {
        assert!(Instant::now() < deadline, "no chunk arrived in a minute (seed {seed})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let later: Vec<DocId> = (0..3)
        .map(|i| a.store.create(&report(&format!("Another extension, No. {i}"))).unwrap())
        .collect();
    let records_started = Instant::now();
    sync_through(&a, seed).await;
    let records_done = Instant::now();
    let held_then = seen.of(PhotoTransfer::Upload).last().map_or(0, |p| p.done);
    assert!(
        held_then < size && !uploader.is_finished(),
        "the records' sync must not wait for the photo: it ended with {held_then} of {size} \
         bytes uploaded (seed {seed})"
    );
    // The server has them: a phone on loopback reads them while the photo still travels.
    let b = phone(dir.path(), &server, "dispatcher-zhao");
    b.sync().await;
    for id in &later {
        b.store.get(*id).unwrap();
    }

    let (sum, photo_done) = uploader.await.unwrap();
    let after = link.stats();
    assert!(records_done < photo_done);
    let cuts = (after.cuts - before.cuts) + (after.truncations - before.truncations);
    let link_up = after.bytes_up - before.bytes_up;
    println!(
        "upload of {size} B in {:.1} s: {} B of chunks sent ({} B over the size), {} requests, \
         {} retries; link: {cuts} cuts or truncations, {link_up} B up ({} B over the size, with \
         headers, statuses and the records' sync); the records' sync took {:.1} s and ended \
         {:.1} s before the photo",
        (photo_done - upload_started).as_secs_f64(),
        sum.bytes_up,
        sum.bytes_up - size,
        sum.requests,
        sum.retries,
        link_up.saturating_sub(size as u64),
        (records_done - records_started).as_secs_f64(),
        (photo_done - records_done).as_secs_f64()
    );
    assert!(cuts >= 2, "the link hardly dropped during the upload: {after:?} (seed {seed})");
    // Resumed, not restarted: only chunks cut on the way were sent twice (a restart from 0
    // would send again everything the server held at each cut).
    assert!(sum.bytes_up >= size);
    assert!(
        sum.bytes_up - size <= cuts as i64 * CHUNK_BYTES as i64,
        "{} B sent for {size} B through {cuts} cuts (seed {seed})",
        sum.bytes_up
    );
    assert!(link_up <= size as u64 + cuts * CHUNK_BYTES as u64 + 512 * 1024, "{link_up} B up");
    let ups = seen.of(PhotoTransfer::Upload);
    assert!(ups.windows(2).all(|w| w[0].done <= w[1].done), "progress never goes back");
    assert_eq!(ups.last().map(|p| (p.done, p.total)), Some((size, size)));
    assert_eq!(a.store.photo(&r.hash).unwrap().unwrap().state, PhotoState::Uploaded);
    assert!(a.store.photos_pending().unwrap().is_empty());

    // Another phone, through the same link: the thumbnail first, then the original.
    let c = through_link("police-li");
    sync_through(&c, seed).await;
    assert_eq!(c.store.photo(&r.hash).unwrap().unwrap().state, PhotoState::Remote);
    let small = c.client.download_small_photos(None).await.unwrap();
    assert_eq!((small.downloaded, small.missing), (0, 0), "5 MB is not small");
    let seen = Arc::new(Seen::default());
    let listener = seen.listener();
    let thumb =
        retry(seed, || c.client.download_photo(&r.hash, PhotoVariant::Thumbnail, Some(&listener)))
            .await;
    let thumb_bytes = std::fs::read(&thumb).unwrap();
    let t = image::load_from_memory(&thumb_bytes).unwrap();
    assert_eq!((t.width(), t.height()), (320, 240), "320 px on the longer side");
    assert_eq!(c.store.thumbnail_file(&r.hash).unwrap(), Some(thumb));
    assert_eq!(c.store.photo_file(&r.hash).unwrap(), None, "a thumbnail is not the photo");

    let before = link.stats();
    let file =
        retry(seed, || c.client.download_photo(&r.hash, PhotoVariant::Original, Some(&listener)))
            .await;
    let after = link.stats();
    assert_eq!(std::fs::read(&file).unwrap(), photo, "intact");
    assert_eq!(c.store.photo_file(&r.hash).unwrap(), Some(file));
    assert_eq!(c.store.photo(&r.hash).unwrap().unwrap().state, PhotoState::Downloaded);
    let downs = seen.of(PhotoTransfer::Original);
    assert!(downs.len() > 10, "progress as bytes arrive: {} reports", downs.len());
    assert!(downs.windows(2).all(|w| w[0].done <= w[1].done && w[1].total == size));
    assert_eq!(downs.last().map(|p| p.done), Some(size));
    let link_down = after.bytes_down - before.bytes_down;
    let interruptions = (after.cuts - before.cuts) + (after.truncations - before.truncations);
    println!("download of {size} B: link {link_down} B down through {interruptions} interruptions");
    // Every byte that arrived was kept: a resumed download costs headers, not bytes again.
    assert!(link_down <= size as u64 + 64 * 1024, "{link_down} B down for {size} B");
}

/// Syncs until a sync completes (the link drops; a phone's background job would try again).
async fn sync_through(p: &Phone<HttpTransport>, seed: u64) {
    for _ in 0..30 {
        match p.client.sync_now(None).await {
            Ok(_) => return,
            Err(CoreError::Network { .. }) => continue,
            Err(e) => panic!("{} sync failed: {e} (seed {seed})", p.name),
        }
    }
    panic!("{} could not sync in 30 tries (seed {seed})", p.name);
}

/// Runs a download until it completes, as an app would after a network error.
async fn retry<F, Fut>(seed: u64, mut f: F) -> std::path::PathBuf
where
    F: FnMut() -> Fut,
    Fut: Future<Output = fieldsync_core::Result<std::path::PathBuf>>,
{
    for _ in 0..20 {
        match f().await {
            Ok(path) => return path,
            Err(CoreError::Network { .. }) => continue,
            Err(e) => panic!("download failed: {e} (seed {seed})"),
        }
    }
    panic!("no download in 20 tries (seed {seed})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_wait_for_their_record_deduplicate_and_small_photos_follow_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let a = phone(dir.path(), &server, "grid-leader-wu");
    let b = phone(dir.path(), &server, "dispatcher-zhao");
    let small = jpeg(64, 48, 1);
    let large = jpeg(400, 300, 2);
    assert!(small.len() < 256 * 1024 && large.len() > 256 * 1024);
    // A HEIC photo (an iPhone's), which the server cannot read: no thumbnail.
    let not_an_image = [b"\0\0\0\x18ftypheic".as_slice(), &b"not really HEIC".repeat(200)].concat();
    let id = a.store.create(&report("Extension on the roof")).unwrap();
    let add = |bytes: &[u8], media: &str| {
        a.store.add_photo(id, &PhotoSource::Bytes { bytes: bytes.to_vec() }, media, None).unwrap()
    };
    let (rs, rl, rp) =
        (add(&small, "image/jpeg"), add(&large, "image/jpeg"), add(&not_an_image, "image/heic"));

    // Before the record is synced the server takes none of them: they wait, and nothing is sent.
    let early = a.client.upload_photos(None).await.unwrap();
    assert_eq!((early.uploaded, early.waiting, early.bytes_up), (0, 3, 0), "{early:?}");
    assert_eq!(a.store.photos_pending().unwrap().len(), 3);
    a.sync().await;
    let sum = a.client.upload_photos(None).await.unwrap();
    assert_eq!((sum.uploaded, sum.waiting, sum.refused), (3, 0, 0), "{sum:?}");
    assert_eq!(sum.bytes_up, (small.len() + large.len() + not_an_image.len()) as i64);
    assert!(a.store.photos_pending().unwrap().is_empty());
    let again = a.client.upload_photos(None).await.unwrap();
    assert_eq!((again.uploaded, again.requests), (0, 0), "an empty queue asks nothing");

    // Another phone: after its sync the small photos come by themselves, the large one on
    // request.
    b.sync().await;
    let auto = b.client.download_small_photos(None).await.unwrap();
    let small_bytes = (small.len() + not_an_image.len()) as i64;
    assert_eq!((auto.downloaded, auto.missing, auto.bytes_down), (2, 0, small_bytes));
    assert_eq!(std::fs::read(b.store.photo_file(&rs.hash).unwrap().unwrap()).unwrap(), small);
    assert_eq!(b.store.photo_file(&rl.hash).unwrap(), None);
    // Not an image the server reads: no thumbnail, and the original is there.
    match b.client.download_photo(&rp.hash, PhotoVariant::Thumbnail, None).await {
        Err(CoreError::NoThumbnail { hash }) => assert_eq!(hash, rp.hash),
        other => panic!("expected NoThumbnail, got {other:?}"),
    }
    let heic = b.client.download_photo(&rp.hash, PhotoVariant::Original, None).await.unwrap();
    assert_eq!(std::fs::read(heic).unwrap(), not_an_image);

    // The same photos added on the second phone, in a record of its own: the server lets that
    // record's readers read them only once this phone proves it holds the bytes. Both are
    // offered (the large one, added from the camera, and the small one, downloaded), and the
    // server, holding them, takes no byte of either: a challenge answered from the file each.
    let own = b.store.create(&report("Same roof, seen from the street")).unwrap();
    for bytes in [&large, &small] {
        let source = PhotoSource::Bytes { bytes: bytes.clone() };
        b.store.add_photo(own, &source, "image/jpeg", None).unwrap();
    }
    assert_eq!(b.store.photos_pending().unwrap().len(), 2);
    b.sync().await;
    let dedup = b.client.upload_photos(None).await.unwrap();
    assert_eq!((dedup.uploaded, dedup.deduplicated, dedup.bytes_up), (2, 2, 0), "{dedup:?}");
    // A status, a challenge and a proof each.
    assert_eq!(dedup.requests, 6, "{dedup:?}");
    assert_eq!(b.store.photo(&rs.hash).unwrap().unwrap().state, PhotoState::Uploaded);
    assert_eq!(b.store.photo(&rl.hash).unwrap().unwrap().state, PhotoState::Uploaded);
    let large_file = b.client.download_photo(&rl.hash, PhotoVariant::Original, None).await.unwrap();
    assert_eq!(std::fs::read(large_file).unwrap(), large);

    // A photo whose upload has not happened: not on the server for anyone yet.
    let late = a
        .store
        .add_photo(id, &PhotoSource::Bytes { bytes: jpeg(32, 32, 3) }, "image/jpeg", None)
        .unwrap();
    a.sync().await;
    b.sync().await;
    match b.client.download_photo(&late.hash, PhotoVariant::Original, None).await {
        Err(CoreError::PhotoNotFound { hash }) => assert_eq!(hash, late.hash),
        other => panic!("expected PhotoNotFound, got {other:?}"),
    }
    let auto = b.client.download_small_photos(None).await.unwrap();
    assert_eq!((auto.downloaded, auto.missing), (0, 1));
    // A photo no record here names is not asked for at all.
    assert!(matches!(
        b.client.download_photo(&"ab".repeat(32), PhotoVariant::Original, None).await,
        Err(CoreError::InvalidInput { field: "hash", .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_limits_are_typed_refusals_kept_until_retried() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |c| {
        c.max_blob_bytes = 100_000;
        c.blob_quota_bytes = 150_000;
    })
    .await;
    let a = phone(dir.path(), &server, "grid-leader-wu");
    let id = a.store.create(&report("Extension on the roof")).unwrap();
    let add = |bytes: Vec<u8>| {
        a.store.add_photo(id, &PhotoSource::Bytes { bytes }, "image/jpeg", None).unwrap()
    };
    let big = add(vec![1u8; 120_000]);
    a.sync().await;
    let sum = a.client.upload_photos(None).await.unwrap();
    assert_eq!((sum.uploaded, sum.refused), (0, 1), "{sum:?}");
    let info = a.store.photo(&big.hash).unwrap().unwrap();
    assert_eq!((info.state, info.refused_code.as_deref()), (PhotoState::Local, Some("too_large")));
    // Refused for good: not offered again, so nothing goes over the link for it.
    let again = a.client.upload_photos(None).await.unwrap();
    assert_eq!((again.refused, again.requests, again.bytes_up), (0, 0, 0), "{again:?}");
    assert_eq!(a.store.photos_pending().unwrap().len(), 1, "still listed, with its refusal");

    // Quota: 90 KB fit, 90 KB more do not.
    let first = add(vec![2u8; 90_000]);
    let second = add(vec![3u8; 90_000]);
    a.sync().await;
    let sum = a.client.upload_photos(None).await.unwrap();
    assert_eq!((sum.uploaded, sum.refused), (1, 1), "{sum:?}");
    assert_eq!(a.store.photo(&first.hash).unwrap().unwrap().state, PhotoState::Uploaded);
    let info = a.store.photo(&second.hash).unwrap().unwrap();
    assert_eq!(info.refused_code.as_deref(), Some("quota_exceeded"));
    // Offered again on request (after an admin raised the quota, say): still over it.
    a.store.retry_photo_upload(&second.hash).unwrap();
    let sum = a.client.upload_photos(None).await.unwrap();
    assert_eq!((sum.uploaded, sum.refused), (0, 1), "{sum:?}");
}

/// Knobs of a [`Faulty`] transport, shared with the test.
#[derive(Default)]
pub(crate) struct Faults {
    /// Flip a byte in this many more uploaded chunks.
    corrupt_puts: AtomicU32,
    /// Flip a byte in the next download.
    corrupt_get: AtomicBool,
    /// Cut the next download after this many bytes.
    pub(crate) cut_get_after: Mutex<Option<u64>>,
    /// The offset each download asked from.
    pub(crate) froms: Mutex<Vec<u64>>,
    /// Answer the possession challenge as a server from before it would: `404 not_found`.
    no_challenges: AtomicBool,
}

/// HTTP with damage on the blob endpoints, as a broken proxy or a bad link would do it.
pub(crate) struct Faulty {
    inner: HttpTransport,
    faults: Arc<Faults>,
}

impl Transport for Faulty {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.inner.post(path, body).await
    }
}

/// Passes bytes on, flipping the first one or stopping after a count.
struct Damaging<'a> {
    inner: &'a mut dyn BlobSink,
    flip: bool,
    cut: Option<u64>,
}

impl BlobSink for Damaging<'_> {
    fn begin(&mut self, head: &BlobHead) -> std::io::Result<()> {
        self.inner.begin(head)
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut bytes = bytes.to_vec();
        if std::mem::take(&mut self.flip) {
            bytes[0] ^= 0xff;
        }
        if let Some(left) = self.cut {
            if (bytes.len() as u64) >= left {
                self.inner.write(&bytes[..left as usize])?;
                return Err(std::io::Error::other("the link dropped"));
            }
            self.cut = Some(left - bytes.len() as u64);
        }
        self.inner.write(&bytes)
    }
}

impl BlobTransport for Faulty {
    async fn blob_status(&self, hash: &str) -> Result<Vec<u8>, TransportError> {
        self.inner.blob_status(hash).await
    }

    async fn blob_challenge(&self, hash: &str, size: u64) -> Result<Vec<u8>, TransportError> {
        if self.faults.no_challenges.load(Ordering::SeqCst) {
            let body = br#"{"code":"not_found","message":"no such endpoint"}"#;
            return Err(TransportError::from_status(404, body));
        }
        self.inner.blob_challenge(hash, size).await
    }

    async fn blob_proof(&self, hash: &str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.inner.blob_proof(hash, body).await
    }

    async fn put_blob(
        &self,
        hash: &str,
        range: ContentRange,
        media_type: &str,
        mut bytes: Vec<u8>,
    ) -> Result<Vec<u8>, TransportError> {
        let damage = self
            .faults
            .corrupt_puts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if damage {
            bytes[0] ^= 0xff;
        }
        self.inner.put_blob(hash, range, media_type, bytes).await
    }

    async fn get_blob(
        &self,
        hash: &str,
        variant: PhotoVariant,
        from: u64,
        sink: &mut dyn BlobSink,
    ) -> Result<(), TransportError> {
        self.faults.froms.lock().unwrap().push(from);
        let mut damaging = Damaging {
            inner: sink,
            flip: self.faults.corrupt_get.swap(false, Ordering::SeqCst),
            cut: self.faults.cut_get_after.lock().unwrap().take(),
        };
        self.inner.get_blob(hash, variant, from, &mut damaging).await
    }
}

fn faulty(
    dir: &std::path::Path,
    server: &RunningServer,
    name: &str,
) -> (Phone<Faulty>, Arc<Faults>) {
    let store = fieldsync_core::Store::open(dir.join(format!("{name}.db"))).unwrap();
    faulty_on(Arc::new(store), server, name)
}

/// A phone on `store` whose blob requests the test can damage or cut.
pub(crate) fn faulty_on(
    store: Arc<fieldsync_core::Store>,
    server: &RunningServer,
    name: &str,
) -> (Phone<Faulty>, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let f = faults.clone();
    let device = enroll_http(server, name).map(|inner| Faulty { inner, faults: f });
    let config =
        SyncOptions { backoff: Duration::from_millis(50).into(), ..SyncOptions::default() };
    (Phone::with_store(store, name, device, config), faults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_bytes_never_become_a_photo_and_a_cut_download_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let (a, a_faults) = faulty(dir.path(), &server, "grid-leader-wu");
    let (b, b_faults) = faulty(dir.path(), &server, "dispatcher-zhao");
    let id = a.store.create(&report("Extension on the roof")).unwrap();
    let photo = jpeg(300, 200, 4);
    let p = a
        .store
        .add_photo(id, &PhotoSource::Bytes { bytes: photo.clone() }, "image/jpeg", None)
        .unwrap();
    a.sync().await;

    // A chunk damaged on the way: the server's check fails, it starts again from 0, and the
    // second upload goes through.
    a_faults.corrupt_puts.store(1, Ordering::SeqCst);
    let sum = a.client.upload_photos(None).await.unwrap();
    assert_eq!((sum.uploaded, sum.refused), (1, 0), "{sum:?}");
    assert_eq!(sum.bytes_up, 2 * photo.len() as i64, "sent twice, whole");

    // Damaged every time: refused as hash_mismatch, kept on the phone.
    let q = a
        .store
        .add_photo(id, &PhotoSource::Bytes { bytes: jpeg(30, 20, 5) }, "image/jpeg", None)
        .unwrap();
    a.sync().await;
    a_faults.corrupt_puts.store(2, Ordering::SeqCst);
    let sum = a.client.upload_photos(None).await.unwrap();
    assert_eq!((sum.uploaded, sum.refused), (0, 1), "{sum:?}");
    let info = a.store.photo(&q.hash).unwrap().unwrap();
    assert_eq!(
        (info.state, info.refused_code.as_deref()),
        (PhotoState::Local, Some("hash_mismatch"))
    );

    // A download damaged on the way is refused and leaves nothing visible, nor anything to
    // resume from.
    b.sync().await;
    b_faults.corrupt_get.store(true, Ordering::SeqCst);
    match b.client.download_photo(&p.hash, PhotoVariant::Original, None).await {
        Err(CoreError::HashMismatch { hash, .. }) => assert_eq!(hash, p.hash),
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    assert_eq!(b.store.photo_file(&p.hash).unwrap(), None);
    assert_eq!(b.store.photo(&p.hash).unwrap().unwrap().state, PhotoState::Remote);
    let partial = format!("{}.blobs/partial/{}", b.store.path().display(), p.hash);
    assert!(!std::path::Path::new(&partial).exists(), "no damaged bytes kept");

    // Cut after 10,000 bytes: the same call resumes from there, and the photo is intact.
    b_faults.froms.lock().unwrap().clear();
    *b_faults.cut_get_after.lock().unwrap() = Some(10_000);
    let file = b.client.download_photo(&p.hash, PhotoVariant::Original, None).await.unwrap();
    assert_eq!(std::fs::read(file).unwrap(), photo);
    assert_eq!(*b_faults.froms.lock().unwrap(), vec![0, 10_000]);
    assert_eq!(b.store.photo(&p.hash).unwrap().unwrap().state, PhotoState::Downloaded);
}

/// Issue 13, item 1, from phones: a photo that a phone names in a record of its own reaches
/// that record's readers only once the phone proved it holds the bytes. A resident who took the
/// same picture as a mediator (the same file) proves it with no byte sent, and the grid leader,
/// who reads the resident's report but never the mediator's case, then reads the photo; a
/// resident of another grid who names it by hash and size alone reaches nobody with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_reaches_a_records_readers_only_from_a_phone_that_holds_it() {
    use fieldsync_core::policy::Role;
    const OTHER_GRID: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let accounts = server.server().accounts();
    for (user, role, scope) in [
        ("mediator-chen", Role::Mediator, GRID),
        ("resident-ma", Role::Resident, GRID),
        ("leader-li", Role::GridLeader, GRID),
        ("resident-wang", Role::Resident, OTHER_GRID),
        ("leader-zhou", Role::GridLeader, OTHER_GRID),
    ] {
        accounts.add_user(user, role, None, &[scope.to_string()]).unwrap();
    }
    let mediator = phone(dir.path(), &server, "mediator-chen");
    let resident = phone(dir.path(), &server, "resident-ma");
    let leader = phone(dir.path(), &server, "leader-li");
    let intruder = phone(dir.path(), &server, "resident-wang");
    let their_leader = phone(dir.path(), &server, "leader-zhou");
    let picture = jpeg(640, 480, 9);
    let source = PhotoSource::Bytes { bytes: picture.clone() };

    let case = mediator
        .store
        .create(&NewRecord::MediationCase {
            mediation_case: NewCase {
                scope: GRID.into(),
                category: CaseCategory::Neighbour,
                place: "Building 7, ground floor".into(),
                parties: vec![Party {
                    name: "Ma".into(),
                    role: "owner".into(),
                    contact: String::new(),
                }],
                mediators: vec!["mediator-chen".into()],
            },
        })
        .unwrap();
    let p = mediator.store.add_photo(case, &source, "image/jpeg", None).unwrap();
    mediator.sync().await;
    let up = mediator.client.upload_photos(None).await.unwrap();
    assert_eq!((up.uploaded, up.deduplicated, up.bytes_up), (1, 0, picture.len() as i64));

    // The resident's report, with the same picture: proven, not sent.
    let report_id = resident.store.create(&report("Water leaking from building 7")).unwrap();
    resident.store.add_photo(report_id, &source, "image/jpeg", None).unwrap();
    resident.sync().await;
    let proven = resident.client.upload_photos(None).await.unwrap();
    assert_eq!((proven.uploaded, proven.deduplicated, proven.bytes_up), (1, 1, 0), "{proven:?}");
    leader.sync().await;
    assert!(leader.store.get(case).is_err(), "the leader never reads the case");
    let got = leader.client.download_photo(&p.hash, PhotoVariant::Original, None).await.unwrap();
    assert_eq!(std::fs::read(got).unwrap(), picture, "it reads the resident's report's photo");

    // A resident of another grid names the photo in a report of its own, from its hash and
    // size alone (a forged client: core's store takes the reference in a new record).
    let mut forged = report("Not my photo");
    if let NewRecord::Report { report: r } = &mut forged {
        r.scope = OTHER_GRID.into();
        r.photos = vec![p.clone()];
    }
    intruder.store.create(&forged).unwrap();
    intruder.sync().await;
    let nothing = intruder.client.upload_photos(None).await.unwrap();
    assert_eq!((nothing.uploaded, nothing.bytes_up), (0, 0), "no bytes here to send or prove");
    their_leader.sync().await;
    for (who, p2) in [("intruder", &intruder), ("their leader", &their_leader)] {
        match p2.client.download_photo(&p.hash, PhotoVariant::Original, None).await {
            Err(CoreError::PhotoNotFound { hash }) => assert_eq!(hash, p.hash, "{who}"),
            other => panic!("{who}: expected PhotoNotFound, got {other:?}"),
        }
    }
}

/// A server from before possession challenges answers `404` on their endpoint: the phone
/// uploads the photo as it did then, and the server, holding it already, verifies this
/// device's own bytes and makes it a holder (stored once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_challenges_a_photo_the_server_holds_is_uploaded_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let a = phone(dir.path(), &server, "grid-leader-wu");
    let (b, b_faults) = faulty(dir.path(), &server, "dispatcher-zhao");
    let picture = jpeg(300, 200, 10);
    let source = PhotoSource::Bytes { bytes: picture.clone() };
    let first = a.store.create(&report("Extension on the roof")).unwrap();
    a.store.add_photo(first, &source, "image/jpeg", None).unwrap();
    a.sync().await;
    assert_eq!(a.client.upload_photos(None).await.unwrap().uploaded, 1);

    b_faults.no_challenges.store(true, Ordering::SeqCst);
    let second = b.store.create(&report("Same roof")).unwrap();
    let p = b.store.add_photo(second, &source, "image/jpeg", None).unwrap();
    b.sync().await;
    let sum = b.client.upload_photos(None).await.unwrap();
    assert_eq!((sum.uploaded, sum.deduplicated), (1, 0), "{sum:?}");
    assert_eq!(sum.bytes_up, picture.len() as i64, "sent whole, as before challenges");
    assert_eq!(b.store.photo(&p.hash).unwrap().unwrap().state, PhotoState::Uploaded);
}
