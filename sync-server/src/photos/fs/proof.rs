//! The check of an answer to a possession challenge against the bytes of a complete blob:
//! the other way, besides uploading it, by which a device comes to hold a blob.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use fieldsync_core::protocol::possession_digest;

use super::{Inner, io};
use crate::photos::challenge::same;
use crate::photos::meta::{self, Proof};
use crate::photos::{PhotoResult, Possession};

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
    pub(super) fn prove(&self, p: &Possession) -> PhotoResult<bool> {
        let blob = meta::get(&self.db(), &p.hash)?.filter(|b| b.size == p.size);
        let matches = match blob {
            Some(_) => {
                let path = self.complete(&p.hash);
                let mut file = File::open(&path).map_err(io(&path))?;
                let digest =
                    possession_digest(&p.nonce, &p.ranges, &mut file).map_err(io(&path))?;
                same(&digest, &p.digest)
            }
            None => {
                let _ = possession_digest(&p.nonce, &p.ranges, &mut Zeros);
                false
            }
        };
        if !matches {
            tracing::info!(hash = p.hash, device = p.device, "a possession proof did not hold");
            return Ok(false);
        }
        let under_way = meta::upload(&self.db(), &p.hash, &p.device)?;
        if let Some(upload) = under_way {
            self.drop_upload(&upload)?;
        }
        meta::hold(&self.db(), &p.hash, &p.device, Proof::Challenge)?;
        tracing::info!(hash = p.hash, device = p.device, "a device proved it holds a blob");
        Ok(true)
    }
}
