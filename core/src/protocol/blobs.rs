//! The blob endpoints (`docs/blobs.md`): the status message, the `Content-Range` of an upload,
//! the error codes, what a blob hash looks like and which media types a photo may have. Phone
//! and server both use these, so the two sides of an upload cannot read a range differently,
//! nor disagree on what is a photo.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `GET /v1/blobs/{hash}/status`, and the answer to every `PUT /v1/blobs/{hash}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatus {
    /// Protocol version.
    pub v: u32,
    /// Lower-case hex SHA-256 of the blob.
    pub hash: String,
    /// The declared size in bytes.
    pub size: u64,
    /// Bytes the server holds: a prefix of the blob; an upload resumes here.
    pub received: u64,
    /// The whole blob is stored and its hash verified.
    pub complete: bool,
}

/// The error codes of the blob endpoints (the `code` of the JSON error body).
pub mod codes {
    /// 404: no such blob, not readable by this device, or its upload is not complete.
    pub const NOT_FOUND: &str = "not_found";
    /// 409: no document this device changed references the blob with this size: sync first.
    pub const NOT_REFERENCED: &str = "not_referenced";
    /// 403: the device's stored bytes plus this blob exceed its quota.
    pub const QUOTA_EXCEEDED: &str = "quota_exceeded";
    /// 413: the blob, or one `PUT`, is over the server's limit.
    pub const TOO_LARGE: &str = "too_large";
    /// 422: the bytes received do not hash to the blob's name; all of them were discarded.
    pub const HASH_MISMATCH: &str = "hash_mismatch";
    /// 416 (400 for a size of 0): the range does not continue what the server holds, or does
    /// not fit the declared size.
    pub const INVALID_RANGE: &str = "invalid_range";
    /// 404: the blob is not an image the server could make a thumbnail of.
    pub const NO_THUMBNAIL: &str = "no_thumbnail";
    /// 415: the device's reference gives the blob a media type that is not a photo's
    /// ([`super::PHOTO_MEDIA_TYPES`]); it is neither uploaded nor proven.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
}

/// The media types a photo may have, exactly as written here (lower case, no parameters).
///
/// Only raster images that browsers show and never run: what phone cameras write (JPEG; HEIC
/// and HEIF on iPhones), screenshots (PNG), images shared from other apps (WebP, GIF). Nothing
/// else: a photo is served from the server's own origin, where the command centre's web board
/// lives, and a type such as `text/html` or `image/svg+xml` would be a page or a script there.
pub const PHOTO_MEDIA_TYPES: [&str; 6] =
    ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/gif"];

/// Whether `media_type` is one of [`PHOTO_MEDIA_TYPES`].
pub fn is_photo_media_type(media_type: &str) -> bool {
    PHOTO_MEDIA_TYPES.contains(&media_type)
}

/// Whether `s` names a blob: 64 lower-case hex digits (a SHA-256).
pub fn is_blob_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `Content-Range: bytes {first}-{last}/{size}` of an upload (inclusive, as in HTTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// Offset of the first byte.
    pub first: u64,
    /// Offset of the last byte (inclusive).
    pub last: u64,
    /// The blob's whole size.
    pub size: u64,
}

impl ContentRange {
    /// The range of `len` bytes starting at `first` of a blob of `size` bytes; `None` when
    /// `len` is 0 (HTTP has no empty range).
    pub fn of(first: u64, len: u64, size: u64) -> Option<ContentRange> {
        let last = first.checked_add(len)?.checked_sub(1)?;
        (len > 0).then_some(ContentRange { first, last, size })
    }

    /// Parses a header value; `None` if it is not `bytes {first}-{last}/{size}` with decimal
    /// numbers. Whether the numbers make sense (`first <= last < size`) is for the caller.
    pub fn parse(value: &str) -> Option<ContentRange> {
        let rest = value.trim().strip_prefix("bytes ")?;
        let (range, size) = rest.split_once('/')?;
        let (first, last) = range.split_once('-')?;
        let num = |s: &str| -> Option<u64> {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        Some(ContentRange { first: num(first)?, last: num(last)?, size: num(size)? })
    }

    /// Bytes in the range (0 if `last < first`; `u64::MAX` for the one range of more).
    pub fn len(&self) -> u64 {
        // `last + 1` overflows for `last = u64::MAX`, which any client may send.
        match self.last.checked_sub(self.first) {
            Some(span) => span.saturating_add(1),
            None => 0,
        }
    }

    /// Whether the range holds no byte (`last < first`: not a valid range).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for ContentRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bytes {}-{}/{}", self.first, self.last, self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_round_trip_and_refuse_garbage() {
        let r = ContentRange::of(1024, 512, 4096);
        assert_eq!(r, Some(ContentRange { first: 1024, last: 1535, size: 4096 }));
        let r = r.unwrap();
        assert_eq!(r.to_string(), "bytes 1024-1535/4096");
        assert_eq!(ContentRange::parse(&r.to_string()), Some(r));
        assert_eq!(r.len(), 512);
        assert_eq!(ContentRange::of(0, 0, 10), None);
        for bad in ["bytes 1-2", "1-2/3", "bytes -1-2/3", "bytes 1-/3", "bytes a-2/3", "bytes */3"]
        {
            assert_eq!(ContentRange::parse(bad), None, "{bad:?}");
        }
        assert!(ContentRange::parse("bytes 5-2/9").is_some_and(|r| r.is_empty()));
    }

    proptest::proptest! {
        /// Any header value parses or not without a panic, and a parsed range's length and
        /// text agree with its numbers, up to `u64::MAX`.
        #[test]
        fn any_header_value_parses_without_a_panic(value in ".{0,40}", first: u64, last: u64, size: u64) {
            let _ = ContentRange::parse(&value).map(|r| r.len());
            let r = ContentRange { first, last, size };
            proptest::prop_assert_eq!(ContentRange::parse(&r.to_string()), Some(r));
            let expected = if last < first { 0 } else { (last - first).saturating_add(1) };
            proptest::prop_assert_eq!(r.len(), expected);
            proptest::prop_assert_eq!(r.is_empty(), last < first);
        }
    }

    #[test]
    fn lengths_at_the_edges_of_u64_do_not_overflow() {
        let r = ContentRange::parse("bytes 0-18446744073709551615/10").unwrap();
        assert_eq!(r.len(), u64::MAX);
        let r = ContentRange::parse("bytes 18446744073709551615-18446744073709551615/1").unwrap();
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn only_the_listed_image_types_are_photos() {
        for t in PHOTO_MEDIA_TYPES {
            assert!(is_photo_media_type(t), "{t}");
        }
        for t in ["text/html", "image/svg+xml", "text/plain", "application/pdf", "IMAGE/JPEG"] {
            assert!(!is_photo_media_type(t), "{t}");
        }
        assert!(!is_photo_media_type("image/jpeg; charset=utf-8"));
        assert!(!is_photo_media_type(" image/jpeg"));
    }

    #[test]
    fn blob_hashes_are_lower_case_sha256_hex() {
        assert!(is_blob_hash(&"ab".repeat(32)));
        assert!(!is_blob_hash(&"AB".repeat(32)));
        assert!(!is_blob_hash(&"ab".repeat(31)));
        assert!(!is_blob_hash(&"zz".repeat(32)));
    }
}
