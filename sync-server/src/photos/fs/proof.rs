//! The check of an answer to a possession challenge against the bytes of a complete blob:
//! the other way, besides uploading it, by which a device comes to hold a blob.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use fieldsync_core::protocol::possession_digest;

use super::{Inner, blocking, io};
use crate::photos::challenge::same;
use crate::photos::{PhotoResult, Possession};
use crate::storage::Proof;

/// Endless zeros that can be sought in: the stand-in hashed when there is no blob to check
/// against, so that such an answer takes about as long as a real check.
struct Zeros;

impl Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
}

impl Seek for Zeros {
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        Ok(0)
    }
}

impl Inner {
    /// Checks `p` against the complete blob; records its device a holder (its upload under
    /// way, if any, ends) when it matches. The caller holds the blob's lock.
    pub(super) async fn prove(&self, p: &Possession) -> PhotoResult<bool> {
        let blob = self.blob(&p.hash).await?.filter(|b| b.size == p.size);
        let path = blob.map(|_| self.complete(&p.hash));
        let (nonce, ranges, answer) = (p.nonce.clone(), p.ranges.clone(), p.digest.clone());
        let matches = blocking(move || match path {
            Some(path) => {
                let mut file = File::open(&path).map_err(io(&path))?;
                let digest = possession_digest(&nonce, &ranges, &mut file).map_err(io(&path))?;
                Ok(same(&digest, &answer))
            }
            None => {
                let _ = possession_digest(&nonce, &ranges, &mut Zeros);
                Ok(false)
            }
        })
        .await?;
        if !matches {
            tracing::info!(hash = p.hash, device = p.device, "a possession proof did not hold");
            return Ok(false);
        }
        let under_way = self.storage.upload(p.hash.clone(), p.device.clone()).await?;
        if let Some(upload) = under_way {
            self.drop_upload(&upload).await?;
        }
        self.storage.hold(p.hash.clone(), p.device.clone(), Proof::Challenge).await?;
        tracing::info!(hash = p.hash, device = p.device, "a device proved it holds a blob");
        Ok(true)
    }
}
