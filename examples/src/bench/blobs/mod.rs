//! The `blobs` suite: photos through the real phone store and sync client against a server
//! child on loopback (docs/blobs.md).
//!
//! A resident's phone stores N camera-sized JPEGs (one report each; `blobs.add_p50_ms`), syncs
//! the reports, and uploads the photos in one `upload_photos` (`blobs.upload_mb_per_s`: photo
//! bytes over the call's wall time, the server's hashing, syncing and thumbnail making
//! included; `blobs.upload_server_cpu_ms_per_photo`, the server child's CPU time for them). A dispatcher's phone syncs, downloads every original (`blobs.download_mb_per_s`,
//! each verified against its hash and compared with the file taken) and every thumbnail
//! (`blobs.thumbnail_p50_ms`, `blobs.thumbnail_bytes`). Last, [`resume`] cuts an upload through
//! a link emulator once and counts what resuming cost (`blobs.resume_overhead_bytes`).

mod photos;
mod resume;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fieldsync_core::Store;
use fieldsync_core::model::{NewRecord, NewReport, PhotoRef, ReportCategory};
use fieldsync_core::policy::{Profile, Role};
use fieldsync_core::store::{PhotoSource, PhotoVariant};
use fieldsync_core::sync::{HttpTransport, PhotoProgress, SyncClient};

use super::server::BenchServer;
use super::{Report, Result, Samples, Unit, progress};

/// The grid the resident reports in.
const GRID: &str = "jl/cc/xinhua/grid-07";
/// Seed of the photos' sizes and pixels.
const SEED: u64 = 0x0b10_b5ee;
const MIB: f64 = 1024.0 * 1024.0;

/// What the suite is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Photos uploaded and downloaded.
    pub photos: usize,
    /// Smallest photo, bytes.
    pub min_bytes: u64,
    /// Largest photo, bytes (also the size of the photos cut mid-upload).
    pub max_bytes: u64,
    /// Uploads cut once and resumed.
    pub resume_trials: u64,
    /// Where the generated photos are cached.
    pub cache_dir: PathBuf,
}

/// A phone: its store and a sync client, enrolled with the server as `profile`'s user.
pub(crate) struct Phone {
    client: SyncClient<HttpTransport>,
    token: String,
}

impl Phone {
    fn open(server: &BenchServer, profile: &Profile, path: &Path) -> Result<Phone> {
        let store = Store::open(path)?;
        store.set_user(&profile.user)?;
        let token = server.enroll_token(profile, store.identity().actor.to_bytes())?;
        let transport = HttpTransport::new(server.url())?.with_token(token.clone());
        Ok(Phone { client: SyncClient::new(Arc::new(store), transport), token })
    }

    fn store(&self) -> &Arc<Store> {
        self.client.store()
    }

    /// A new report with photo `file` attached; returns the reference and how long adding the
    /// photo took.
    fn report_with_photo(&self, title: &str, file: &Path) -> Result<(PhotoRef, Duration)> {
        let report = NewReport {
            scope: GRID.into(),
            category: ReportCategory::IllegalConstruction,
            title: title.into(),
            description: "Photographed from the street".into(),
            location: None,
            photos: vec![],
        };
        let id = self.store().create(&NewRecord::Report { report })?;
        let source = PhotoSource::File { path: file.display().to_string() };
        let started = Instant::now();
        let photo = self.store().add_photo(id, &source, "image/jpeg", None)?;
        Ok((photo, started.elapsed()))
    }
}

fn profile(user: &str, role: Role, scope: &str) -> Profile {
    Profile { user: user.into(), role, patrol: None, scopes: vec![scope.into()] }
}

/// Counts progress callbacks (the phone API reports bytes after every chunk).
#[derive(Default)]
struct Calls(AtomicU64);

impl Calls {
    fn listener(&self) -> impl Fn(&PhotoProgress) + Send + Sync + '_ {
        |_: &PhotoProgress| {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs the suite, recording each figure in `report` as it is measured.
pub fn run(opts: &Options, report: &mut Report) -> Result<()> {
    if opts.photos == 0
        || opts.resume_trials == 0
        || opts.min_bytes == 0
        || opts.min_bytes > opts.max_bytes
    {
        return Err("need a photo, a resume trial, and 0 < min <= max bytes".into());
    }
    progress(format_args!(
        "{} photos of {}..={} bytes",
        opts.photos, opts.min_bytes, opts.max_bytes
    ));
    let files = photos::ensure(&opts.cache_dir, opts.photos, opts.min_bytes, opts.max_bytes, SEED)?;
    let dir = tempfile::tempdir()?;
    let server = BenchServer::start(&dir.path().join("server"))?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(phases(opts, report, &server, &files, dir.path()))
}

async fn phases(
    opts: &Options,
    report: &mut Report,
    server: &BenchServer,
    files: &[PathBuf],
    dir: &Path,
) -> Result<()> {
    // The resident's phone takes the photos, each on a report of its own, and syncs the reports.
    let resident = Phone::open(
        server,
        &profile("resident-sun", Role::Resident, GRID),
        &dir.join("resident.db"),
    )?;
    let mut added = Samples::new();
    let mut refs = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let (photo, took) = resident.report_with_photo(&format!("Extension, photo {i}"), file)?;
        added.push(took);
        refs.push(photo);
    }
    let total: i64 = refs.iter().map(|p| p.size).sum();
    report.record("blobs.photos", refs.len() as f64, Unit::Count);
    report.record("blobs.photo_mb_mean", total as f64 / refs.len() as f64 / MIB, Unit::Mb);
    report.record("blobs.add_p50_ms", added.median(), Unit::Ms);
    let synced = resident.client.sync_now(None).await?;
    if synced.docs_pushed != refs.len() as i64 {
        return Err(format!("{} of {} reports pushed", synced.docs_pushed, refs.len()).into());
    }

    // Upload: the whole queue in one call, as the app runs it after a sync.
    progress(format_args!("uploading {:.1} MiB", total as f64 / MIB));
    let calls = Calls::default();
    let listener = calls.listener();
    let cpu_before = server.child_cpu()?;
    let up = resident.client.upload_photos(Some(&listener)).await?;
    let cpu = server.child_cpu()?.zip(cpu_before).map(|(after, before)| after - before);
    if (up.uploaded, up.waiting, up.refused) != (refs.len() as i64, 0, 0) || up.bytes_up != total {
        return Err(format!("upload of {} photos ({total} bytes) ended {up:?}", refs.len()).into());
    }
    report.record(
        "blobs.upload_mb_per_s",
        total as f64 / MIB / up.duration.as_secs_f64(),
        Unit::MbPerSecond,
    );
    report.record("blobs.upload_requests", up.requests as f64, Unit::Count);
    report.record("blobs.upload_progress_calls", calls.count() as f64, Unit::Count);
    if let Some(cpu) = cpu {
        // Mostly decoding each photo for its thumbnail, and hashing it.
        let per_photo = cpu.as_secs_f64() * 1000.0 / refs.len() as f64;
        report.record("blobs.upload_server_cpu_ms_per_photo", per_photo, Unit::Ms);
    }

    // Download: a dispatcher's phone learns of the photos from the reports and fetches them.
    let desk =
        Phone::open(server, &profile("dispatch-wu", Role::Dispatcher, "jl"), &dir.join("desk.db"))?;
    desk.client.sync_now(None).await?;
    let known = desk.store().photos_to_download(None)?.len();
    if known != refs.len() {
        return Err(format!("the dispatcher knows {known} of {} photos", refs.len()).into());
    }
    progress(format_args!("downloading {:.1} MiB", total as f64 / MIB));
    let calls = Calls::default();
    let listener = calls.listener();
    let started = Instant::now();
    let mut fetched = Vec::with_capacity(refs.len());
    for photo in &refs {
        fetched.push(
            desk.client
                .download_photo(&photo.hash, PhotoVariant::Original, Some(&listener))
                .await?,
        );
    }
    let took = started.elapsed();
    for ((file, taken), photo) in fetched.iter().zip(files).zip(&refs) {
        if std::fs::read(file)? != std::fs::read(taken)? {
            return Err(
                format!("photo {} downloaded differs from the one taken", photo.hash).into()
            );
        }
    }
    report.record(
        "blobs.download_mb_per_s",
        total as f64 / MIB / took.as_secs_f64(),
        Unit::MbPerSecond,
    );
    report.record("blobs.download_progress_calls", calls.count() as f64, Unit::Count);

    // Thumbnails: what a grid leader on a slow link sees first.
    let mut thumbs = Samples::new();
    let mut thumb_bytes = 0u64;
    for photo in &refs {
        let started = Instant::now();
        let file = desk.client.download_photo(&photo.hash, PhotoVariant::Thumbnail, None).await?;
        thumbs.push(started.elapsed());
        let jpeg = std::fs::read(&file)?;
        if !jpeg.starts_with(b"\xff\xd8\xff") {
            return Err(format!("the thumbnail of {} is not a JPEG", photo.hash).into());
        }
        thumb_bytes += jpeg.len() as u64;
    }
    report.record("blobs.thumbnail_p50_ms", thumbs.median(), Unit::Ms);
    report.record("blobs.thumbnail_bytes", thumb_bytes as f64 / refs.len() as f64, Unit::Bytes);

    resume::measure(report, server, &resident, opts.max_bytes, opts.resume_trials, dir).await
}
