//! `blobs.resume_*`: a photo's upload cut mid-way and resumed by the client in the same call,
//! through the link emulator of fieldsync-tests (a TCP proxy that paces and cuts connections),
//! against the same photo size uploaded cleanly through the same kind of link.
//!
//! The link carries the photo in about [`UPLOAD_TIME`]; a connection is cut at a seeded moment
//! between 30% and 60% of that after it opened, in the middle of a chunk, and connections opened
//! after a cut are left alone. Each of several trials cuts a new photo at another moment (a
//! trial whose connection ended before its cut is made again); the figures are means over the
//! trials, and the worst one:
//!
//! - `blobs.resume_overhead_bytes`: bytes the link delivered to the server beyond a clean
//!   upload's: what the server received of the cut chunk and did not keep, plus the headers of
//!   the status request and of the smaller chunks after the cut.
//! - `blobs.resume_client_overhead_bytes`: photo bytes the client counts as sent beyond the
//!   photo's size (`UploadSummary::bytes_up`): every byte of the chunk it was writing, those
//!   still in its socket buffers (and the link's read-ahead) at the cut included; an upper bound
//!   of what left the phone.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use fieldsync_core::sync::{HttpTransport, SyncClient, UploadSummary};
use fieldsync_tests::link::{LinkEmulator, LinkProfile, LinkStats};

use super::{Phone, photos};
use crate::bench::server::BenchServer;
use crate::bench::{Report, Result, Unit, progress};

/// How long the link takes to carry the photo.
const UPLOAD_TIME: Duration = Duration::from_millis(1500);
/// Seed of the link's cut and of the two photos.
const SEED: u64 = 0x00c0_7c07;

/// Uploads `file` (added to a new report and synced) through a link of `profile`; with `cut`,
/// connections get `cut` until the link has cut one, and `profile` afterwards (the client may
/// open a second connection before the first is cut: it may be cut too). The link's random
/// choices come from `seed`.
async fn upload_through(
    server: &BenchServer,
    phone: &Phone,
    file: &Path,
    (profile, cut): (&LinkProfile, Option<&LinkProfile>),
    seed: u64,
) -> Result<(u64, UploadSummary, LinkStats)> {
    let (photo, _) = phone.report_with_photo("Extension, resumed photo", file)?;
    phone.client.sync_now(None).await?;
    let upstream: SocketAddr = server
        .url()
        .strip_prefix("http://")
        .ok_or("the bench server is not on http://")?
        .parse()?;
    let link = LinkEmulator::start(upstream, cut.unwrap_or(profile).clone(), seed).await?;
    // A client of its own: the chunk sizes it learns start from scratch, as on a new link.
    let transport = HttpTransport::new(&link.url())?.with_token(phone.token.clone());
    let client = SyncClient::new(phone.store().clone(), transport);
    let upload = client.upload_photos(None);
    tokio::pin!(upload);
    let up = loop {
        tokio::select! {
            up = &mut upload => break up?,
            () = tokio::time::sleep(Duration::from_millis(2)), if cut.is_some() => {
                if link.stats().cuts > 0 {
                    link.set_profile(profile.clone());
                }
            }
        }
    };
    if (up.uploaded, up.waiting, up.refused) != (1, 0, 0) {
        return Err(format!("the upload through the link ended {up:?}").into());
    }
    Ok((photo.size.unsigned_abs(), up, link.stats()))
}

/// Measures the cost of resuming an upload of a photo of about `size` bytes after one cut, in
/// `trials` uploads cut at different moments.
pub(super) async fn measure(
    report: &mut Report,
    server: &BenchServer,
    phone: &Phone,
    size: u64,
    trials: u64,
    dir: &Path,
) -> Result<()> {
    let bpp = photos::bytes_per_pixel()?;
    let up_bps = (size * 8 * 1000 / UPLOAD_TIME.as_millis() as u64).max(64_000);
    let paced = LinkProfile { up_bps: Some(up_bps), ..LinkProfile::perfect() };
    let cutting = LinkProfile {
        cut_after: Some((UPLOAD_TIME * 3 / 10, UPLOAD_TIME * 6 / 10)),
        ..paced.clone()
    };

    progress(format_args!("uploading a {size}-byte photo through a {up_bps} bit/s link"));
    let clean_file = dir.join("clean.jpg");
    std::fs::write(&clean_file, photos::camera_jpeg(SEED, size, bpp)?)?;
    let (clean_size, _, clean) =
        upload_through(server, phone, &clean_file, (&paced, None), SEED).await?;
    let clean_extra = clean.bytes_up as f64 - clean_size as f64;
    progress(format_args!("clean: {clean_size} bytes, link {clean:?}"));
    let (mut sent, mut delivered) = (Vec::new(), Vec::new());
    let mut cuts = 0;
    let mut attempt = 0;
    while sent.len() < trials as usize {
        attempt += 1;
        if attempt > trials * 2 {
            return Err(format!("the link cut only {} of {attempt} uploads", sent.len()).into());
        }
        let file = dir.join(format!("cut-{attempt}.jpg"));
        std::fs::write(&file, photos::camera_jpeg(SEED + attempt, size, bpp)?)?;
        let link = (&paced, Some(&cutting));
        let (cut_size, up, cut) =
            upload_through(server, phone, &file, link, SEED + attempt).await?;
        progress(format_args!("cut {attempt}: {cut_size} bytes, link {cut:?}, client {up:?}"));
        if cut.cuts == 0 || up.retries == 0 {
            // The connection the link was to cut ended first (the client moved to another):
            // nothing was interrupted, nothing to measure.
            continue;
        }
        cuts += cut.cuts;
        sent.push(up.bytes_up as f64 - cut_size as f64);
        delivered.push(cut.bytes_up as f64 - cut_size as f64 - clean_extra);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    report.record("blobs.resume_trials", trials as f64, Unit::Count);
    report.record("blobs.resume_cuts", cuts as f64, Unit::Count);
    report.record("blobs.resume_overhead_bytes", mean(&delivered), Unit::Bytes);
    report.record("blobs.resume_overhead_max_bytes", max(&delivered), Unit::Bytes);
    report.record("blobs.resume_client_overhead_bytes", mean(&sent), Unit::Bytes);
    report.record("blobs.resume_client_overhead_max_bytes", max(&sent), Unit::Bytes);
    Ok(())
}
