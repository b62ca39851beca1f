//! The `blobs` benchmark suite runs end to end at a small size (its own server, a child process):
//! every photo goes up and comes down intact with a JPEG thumbnail, the figures are there, and a
//! cut upload resumes instead of starting again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn blobs_suite_runs_small_and_a_cut_upload_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("figures.json");
    let max_kib = 256.0;
    let args =
        ["blobs", "--photos", "3", "--min-kib", "64", "--max-kib", "256", "--resume-trials", "2"];
    let run = crate::common::bench(&args, dir.path(), &json);
    let (f, stdout) = (|name: &str| run.get(name), &run.stdout);
    assert_eq!(f("blobs.photos"), 3.0);
    let mean_kib = f("blobs.photo_mb_mean") * 1024.0;
    assert!((48.0..=300.0).contains(&mean_kib), "photos of 64..256 KiB: {stdout}");
    for name in ["blobs.upload_mb_per_s", "blobs.download_mb_per_s", "blobs.add_p50_ms"] {
        assert!(f(name) > 0.0, "{name} in\n{stdout}");
    }
    // The suite checks each download against the photo taken; progress came with the bytes.
    assert!(f("blobs.upload_requests") >= 3.0, "{stdout}");
    assert!(f("blobs.upload_progress_calls") >= 3.0, "{stdout}");
    assert!(f("blobs.download_progress_calls") >= 3.0, "{stdout}");
    // A thumbnail is a small JPEG (the suite checks its magic bytes), far smaller than a photo.
    assert!(f("blobs.thumbnail_bytes") > 500.0, "{stdout}");
    assert!(f("blobs.thumbnail_bytes") < 48.0 * 1024.0, "{stdout}");
    // Each trial's upload was cut; resuming cost something (a status request, headers) but far
    // less than starting again, which would resend the 30% or more sent before the cut.
    assert_eq!(f("blobs.resume_trials"), 2.0, "{stdout}");
    assert!(f("blobs.resume_cuts") >= 2.0, "{stdout}");
    assert!(f("blobs.resume_overhead_bytes") > 0.0, "{stdout}");
    assert!(f("blobs.resume_overhead_max_bytes") < 0.3 * max_kib * 1024.0, "{stdout}");
    let written = std::fs::read_to_string(&json).unwrap();
    assert!(
        written.contains("\"blobs.upload_mb_per_s\"")
            && written.contains("\"blobs.resume_overhead_bytes\"")
    );
}
