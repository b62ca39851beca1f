//! Thumbnails: a JPEG of at most [`THUMBNAIL_PX`] on its longer side, made once when an upload
//! completes, so a grid leader on a slow link sees a preview first.
//!
//! The bytes are untrusted: the format is read from the bytes themselves (not from the media
//! type the phone gave), decoding is bounded in dimensions and memory (a small file can claim
//! an enormous image), and a decoder panic is caught. Anything that does not decode within
//! those bounds simply has no thumbnail.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader, ImageResult, Limits};

use super::THUMBNAIL_PX;
use crate::isolate::isolate;

/// Largest width or height decoded, in pixels (a 48-megapixel phone photo is 8000 wide).
const MAX_SIDE: u32 = 12_000;
/// Most bytes decoding may allocate (a 48-megapixel RGB image takes 144 MiB).
const MAX_ALLOC: u64 = 192 * 1024 * 1024;
/// JPEG quality of thumbnails.
const QUALITY: u8 = 80;

/// The decoding bounds.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn decode(source: &Path) -> ImageResult<Option<DynamicImage>> {
    let reader = ImageReader::new(BufReader::new(File::open(source)?)).with_guessed_format()?;
    if reader.format().is_none() {
        return Ok(None);
    }
    let mut reader = reader;
    reader.limits(limits());
    let mut decoder = reader.into_decoder()?;
    // Phones store photos as the sensor saw them and say in EXIF how to turn them.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    Ok(Some(img))
}

/// The thumbnail of the image in `source` as JPEG bytes, or `None` when it is not an image
/// this server reads within its bounds. Blocking (decoding takes up to a second).
pub(crate) fn make(source: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let img = match isolate(|| decode(source)) {
        Ok(Ok(Some(img))) => img,
        Ok(Ok(None)) => return Ok(None),
        Ok(Err(image::ImageError::IoError(e))) => return Err(e),
        Ok(Err(e)) => {
            tracing::debug!(path = %source.display(), "no thumbnail: {e}");
            return Ok(None);
        }
        Err(panic) => {
            tracing::warn!(path = %source.display(), "image decoder panicked: {panic}");
            return Ok(None);
        }
    };
    let small = if img.width().max(img.height()) > THUMBNAIL_PX {
        img.thumbnail(THUMBNAIL_PX, THUMBNAIL_PX)
    } else {
        img
    };
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&small.to_rgb8())
        .map_err(std::io::Error::other)?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn images_shrink_to_a_jpeg_and_other_bytes_have_none() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_fn(1000, 400, |x, _| Rgb([(x % 256) as u8, 90, 200]));
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, ImageFormat::Png).unwrap();
        let thumb = make(&write(dir.path(), "p", png.get_ref())).unwrap().unwrap();
        let back = image::load_from_memory(&thumb).unwrap();
        assert_eq!(image::guess_format(&thumb).unwrap(), ImageFormat::Jpeg);
        assert_eq!((back.width(), back.height()), (320, 128));

        // Small images are not blown up.
        let tiny = RgbImage::new(40, 30);
        let mut jpeg = std::io::Cursor::new(Vec::new());
        tiny.write_to(&mut jpeg, ImageFormat::Jpeg).unwrap();
        let thumb = make(&write(dir.path(), "t", jpeg.get_ref())).unwrap().unwrap();
        assert_eq!(image::load_from_memory(&thumb).unwrap().width(), 40);

        assert_eq!(make(&write(dir.path(), "x", b"%PDF-1.7 not an image")).unwrap(), None);
        // A JPEG cut short after its header does not decode.
        let cut = &jpeg.get_ref()[..jpeg.get_ref().len() / 3];
        assert_eq!(make(&write(dir.path(), "c", cut)).unwrap(), None);
    }

    #[test]
    fn an_image_claiming_huge_dimensions_is_not_decoded() {
        // A valid PNG header claiming 60000 x 60000 pixels (10 GiB of RGBA), then no data.
        let mut png = Vec::new();
        png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&60_000u32.to_be_bytes());
        ihdr.extend_from_slice(&60_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        let chunk = [b"IHDR".as_slice(), &ihdr].concat();
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(make(&write(dir.path(), "bomb", &png)).unwrap(), None);
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
