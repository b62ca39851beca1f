//! Reading and writing the bytes of the store's photo files, plaintext or sealed alike
//! (docs/blobs.md, "Files at rest"): a plaintext store keeps the photo's own bytes, an
//! encrypted one seals them (`sealed`). Everything above — adds, uploads at offsets,
//! possession proofs, downloads that resume, reads for display — goes through these two types
//! and sees the plaintext.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use super::blob_files::BlobHasher;
use super::sealed::{self, FileSecret, SealedReader, SealedWriter};
use crate::error::{CoreError, Result};

/// How a store's files are to be read: with no secret, as they are; with one, sealed — and
/// while `plaintext_too` (an encryption of the store's files under way, or cut by a crash),
/// a file without the sealed header is read as it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileKeys {
    /// The store's file secret (an encrypted store).
    pub(crate) secret: Option<Arc<FileSecret>>,
    /// Plaintext files are still read (their sealing has not finished).
    pub(crate) plaintext_too: bool,
}

/// The plaintext of one photo file, by range or whole.
pub(crate) enum BlobReader {
    /// A plaintext store's file.
    Plain {
        /// The file.
        file: File,
        /// Its length.
        len: u64,
    },
    /// A sealed file.
    Sealed(Box<SealedReader>),
}

impl BlobReader {
    /// Opens the file at `path` as `keys` say.
    pub(crate) fn open(path: &Path, keys: &FileKeys) -> Result<BlobReader> {
        let mut file = File::open(path)?;
        let Some(secret) = &keys.secret else {
            let len = file.metadata()?.len();
            return Ok(BlobReader::Plain { file, len });
        };
        if sealed::is_sealed(&mut file)? {
            return Ok(BlobReader::Sealed(Box::new(SealedReader::open(file, path, secret)?)));
        }
        if keys.plaintext_too {
            file.seek(SeekFrom::Start(0))?;
            let len = file.metadata()?.len();
            return Ok(BlobReader::Plain { file, len });
        }
        Err(sealed::damaged(
            &path.display().to_string(),
            "the store keeps its files sealed, and this one is not".into(),
        ))
    }

    /// The plaintext length.
    pub(crate) fn len(&self) -> u64 {
        match self {
            BlobReader::Plain { len, .. } => *len,
            BlobReader::Sealed(r) => r.len(),
        }
    }

    /// Fills `out` with the plaintext from `offset` on.
    pub(crate) fn read_at(&mut self, offset: u64, out: &mut [u8]) -> Result<()> {
        match self {
            BlobReader::Plain { file, len } => {
                if offset.checked_add(out.len() as u64).is_none_or(|end| end > *len) {
                    return Err(CoreError::invalid(
                        "range",
                        format!("{} bytes at {offset} of a {len}-byte file", out.len()),
                    ));
                }
                file.seek(SeekFrom::Start(offset))?;
                file.read_exact(out)?;
                Ok(())
            }
            BlobReader::Sealed(r) => r.read_at(offset, out),
        }
    }

    /// Hands the whole plaintext to `f` piece by piece, in order; a sealed file is checked to
    /// its last chunk.
    fn for_each(&mut self, mut f: impl FnMut(&[u8])) -> Result<()> {
        match self {
            BlobReader::Plain { file, .. } => {
                file.seek(SeekFrom::Start(0))?;
                let mut buf = vec![0u8; sealed::CHUNK];
                loop {
                    let n = match file.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e.into()),
                    };
                    f(&buf[..n]);
                }
            }
            BlobReader::Sealed(r) => r.for_each_chunk(f),
        }
    }

    /// The SHA-256 (hex) and the length of the plaintext.
    pub(crate) fn hash(mut self) -> Result<(String, u64)> {
        let mut h = BlobHasher::default();
        let mut len = 0u64;
        self.for_each(|piece| {
            h.update(piece);
            len += piece.len() as u64;
        })?;
        Ok((h.finish(), len))
    }

    /// The whole plaintext, read in one allocation (a sealed file's chunks opened in place).
    pub(crate) fn read_all(self) -> Result<Vec<u8>> {
        match self {
            BlobReader::Plain { mut file, len } => {
                file.seek(SeekFrom::Start(0))?;
                let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                file.read_to_end(&mut out)?;
                Ok(out)
            }
            BlobReader::Sealed(r) => r.read_all(),
        }
    }
}

/// A [`BlobReader`] read as a stream of its plaintext, from a position one can move
/// (`possession_digest` reads the ranges of a challenge so). A damaged sealed chunk is an
/// error of kind `InvalidData`.
pub(crate) struct BlobCursor {
    reader: BlobReader,
    pos: u64,
}

impl BlobCursor {
    /// The plaintext of `reader` from its first byte.
    pub(crate) fn new(reader: BlobReader) -> BlobCursor {
        BlobCursor { reader, pos: 0 }
    }
}

impl Read for BlobCursor {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.reader.len().saturating_sub(self.pos);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        self.reader.read_at(self.pos, &mut buf[..n]).map_err(|e| match e {
            CoreError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        })?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BlobCursor {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.reader.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a position before the first byte")
        })?;
        Ok(self.pos)
    }
}

/// Writes one photo file as its plaintext streams in.
pub(crate) enum BlobWriter {
    /// A plaintext store's file.
    Plain {
        /// The file.
        file: File,
        /// Bytes in it.
        at: u64,
    },
    /// A sealed file, and the secret that restarts it.
    Sealed(Box<SealedWriter>, Arc<FileSecret>),
}

impl BlobWriter {
    /// A new file in `file` (emptied), sealed when `keys` hold a secret.
    pub(crate) fn create(file: File, keys: &FileKeys) -> io::Result<BlobWriter> {
        match &keys.secret {
            None => {
                file.set_len(0)?;
                Ok(BlobWriter::Plain { file, at: 0 })
            }
            Some(s) => Ok(BlobWriter::Sealed(Box::new(SealedWriter::create(file, s)?), s.clone())),
        }
    }

    /// Continues the file `file` (a cut download), opened for reading and writing; returns
    /// the writer and the plaintext bytes kept. A sealed file keeps its whole chunks (the
    /// bytes of a last, incomplete one are fetched again); a plaintext file in a store that
    /// seals its files starts again.
    pub(crate) fn resume(mut file: File, keys: &FileKeys) -> io::Result<(BlobWriter, u64)> {
        match &keys.secret {
            None => {
                let at = file.seek(SeekFrom::End(0))?;
                Ok((BlobWriter::Plain { file, at }, at))
            }
            Some(s) => {
                let (w, kept) = SealedWriter::resume(file, s)?;
                Ok((BlobWriter::Sealed(Box::new(w), s.clone()), kept))
            }
        }
    }

    /// Plaintext bytes that a drop of the writer leaves in the file.
    pub(crate) fn kept(&self) -> u64 {
        match self {
            BlobWriter::Plain { at, .. } => *at,
            BlobWriter::Sealed(w, _) => w.kept(),
        }
    }

    /// Adds plaintext.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            BlobWriter::Plain { file, at } => {
                file.write_all(bytes)?;
                *at += bytes.len() as u64;
                Ok(())
            }
            BlobWriter::Sealed(w, _) => w.write_all(bytes),
        }
    }

    /// Empties the file to take the bytes again from the first.
    pub(crate) fn restart(&mut self) -> io::Result<()> {
        match self {
            BlobWriter::Plain { file, at } => {
                file.set_len(0)?;
                file.seek(SeekFrom::Start(0))?;
                *at = 0;
                Ok(())
            }
            BlobWriter::Sealed(w, s) => w.restart(s),
        }
    }

    /// Ends the file (a sealed file's last chunk) and syncs it.
    pub(crate) fn finish(self) -> io::Result<()> {
        match self {
            BlobWriter::Plain { file, .. } => file.sync_all(),
            BlobWriter::Sealed(w, _) => w.finish().map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_files_read_only_while_sealing_is_under_way() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("plain");
        std::fs::write(&path, b"\xff\xd8\xff plain photo")?;
        let mut keys =
            FileKeys { secret: Some(Arc::new(FileSecret::generate())), plaintext_too: true };
        assert_eq!(BlobReader::open(&path, &keys)?.read_all()?, b"\xff\xd8\xff plain photo");
        keys.plaintext_too = false;
        assert!(matches!(BlobReader::open(&path, &keys), Err(CoreError::DamagedFile { .. })));

        let sealed = dir.path().join("sealed");
        let mut w = BlobWriter::create(File::create(&sealed)?, &keys)?;
        w.write_all(b"a sealed photo")?;
        w.finish()?;
        let on_disk = std::fs::read(&sealed)?;
        assert!(!on_disk.windows(5).any(|w| w == b"photo"));
        let mut r = BlobReader::open(&sealed, &keys)?;
        let mut out = [0u8; 6];
        r.read_at(2, &mut out)?;
        assert_eq!(&out, b"sealed");
        assert_eq!(r.hash()?, (super::super::sha256_hex(b"a sealed photo"), 14));
        Ok(())
    }
}
