//! Photos for the `blobs` suite: real JPEGs shaped like a phone camera's (4:3, a gradient under
//! fine noise, quality 85), of a size drawn between the suite's bounds; made once and cached, so
//! only the first run of a size pays for encoding. The server decodes each to make its
//! thumbnail, as it would a real photo.

use std::path::{Path, PathBuf};

use image::ExtendedColorType;
use image::codecs::jpeg::JpegEncoder;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::bench::{Result, progress};

/// Bump when what a cached photo holds changes.
const FORMAT: u32 = 1;
/// JPEG quality, as a phone camera's default.
const QUALITY: u8 = 85;
/// Noise amplitude (±) over the gradient: enough detail for a camera's bytes per pixel.
const NOISE: i32 = 12;
/// Side of the tile the bytes per pixel are measured on.
const CALIBRATION_SIDE: u32 = 512;

/// Pixels of a seeded photo of `width` x `height`: a diagonal colour gradient with noise.
fn pixels(seed: u64, width: u32, height: u32) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut noise = vec![0u8; width as usize * height as usize * 3];
    rng.fill_bytes(&mut noise);
    let (tint_r, tint_b) = (rng.random_range(0..128), rng.random_range(0..128));
    let mut out = noise;
    for y in 0..height {
        for x in 0..width {
            let at = (y as usize * width as usize + x as usize) * 3;
            let base = [
                tint_r + (x * 127 / width) as i32,
                ((x + y) * 200 / (width + height)) as i32 + 20,
                tint_b + (y * 127 / height) as i32,
            ];
            for (c, b) in base.into_iter().enumerate() {
                let n = i32::from(out[at + c]) % (2 * NOISE + 1) - NOISE;
                out[at + c] = (b + n).clamp(0, 255) as u8;
            }
        }
    }
    out
}

/// A JPEG of `width` x `height` from `seed`.
fn encode(seed: u64, width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY).encode(
        &pixels(seed, width, height),
        width,
        height,
        ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// Bytes per pixel of these photos, measured on a tile.
pub fn bytes_per_pixel() -> Result<f64> {
    let side = CALIBRATION_SIDE;
    Ok(encode(1, side, side)?.len() as f64 / f64::from(side * side))
}

/// A JPEG of about `target` bytes (within a few per cent) from `seed`, 4:3.
pub fn camera_jpeg(seed: u64, target: u64, bpp: f64) -> Result<Vec<u8>> {
    let pixels = target as f64 / bpp;
    let width = ((pixels * 4.0 / 3.0).sqrt().round() as u32).clamp(64, 12_000);
    let height = (width * 3 / 4).max(48);
    encode(seed, width, height)
}

/// The photos of a run: `count` JPEGs of `min..=max` bytes (drawn from `seed`), in `cache_dir`,
/// made if missing; returns their files.
pub fn ensure(
    cache_dir: &Path,
    count: usize,
    min: u64,
    max: u64,
    seed: u64,
) -> Result<Vec<PathBuf>> {
    let dir = cache_dir.join(format!("blobs-v{FORMAT}-{min}-{max}-s{seed:x}"));
    std::fs::create_dir_all(&dir)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut bpp = None;
    let mut files = Vec::with_capacity(count);
    for i in 0..count {
        let target = rng.random_range(min..=max);
        let file = dir.join(format!("photo-{i:03}.jpg"));
        if !file.is_file() {
            let bpp = match bpp {
                Some(b) => b,
                None => *bpp.insert(bytes_per_pixel()?),
            };
            let jpeg = camera_jpeg(seed ^ (i as u64 + 1), target, bpp)?;
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, &jpeg)?;
            std::fs::rename(&tmp, &file)?;
            progress(format_args!("photo {} of {count}: {} bytes", i + 1, jpeg.len()));
        }
        files.push(file);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_jpegs_near_the_size_asked() {
        let bpp = bytes_per_pixel().unwrap_or_else(|e| panic!("{e}"));
        let jpeg = camera_jpeg(7, 200_000, bpp).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&jpeg[..3], b"\xff\xd8\xff");
        let ratio = jpeg.len() as f64 / 200_000.0;
        assert!((0.8..1.25).contains(&ratio), "{} bytes for 200,000", jpeg.len());
        assert_ne!(jpeg, camera_jpeg(8, 200_000, bpp).unwrap_or_else(|e| panic!("{e}")));
    }
}
