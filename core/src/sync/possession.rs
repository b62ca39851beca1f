//! Proving a photo is here instead of sending it (`docs/blobs.md`, "Proving a photo is here").
//!
//! The server lets the readers of this device's records read a photo only once this device
//! proved it holds the bytes. Before the first byte of an upload, the uploader asks for a
//! possession challenge and answers it from the photo's file: when the server holds the photo
//! already (another device uploaded the same bytes), the answer makes this device a holder and
//! no byte of the photo crosses the link; when it does not, the answer is the status the
//! server would give anyway, and the photo is uploaded as before. An older server, without the
//! endpoints, answers `404`: the photo is uploaded.

use super::blob_transport::BlobTransport;
use super::blobs::{blob_error, decode_status};
use super::client::{SyncClient, blocking};
use super::progress::UploadSummary;
use super::transport::{Transport, TransportError};
use crate::error::{CoreError, Result};
use crate::protocol::{self, BlobChallenge, BlobProof, BlobStatus, possession_digest};
use crate::store::{BlobCursor, Upload};

/// Whether a failed challenge or proof only means "upload it instead": an endpoint the server
/// does not have (`404`, `405`, `501`), or a proof it did not take (`400`: a nonce that
/// expired on a slow link, say).
fn upload_instead(e: &TransportError) -> bool {
    matches!(e, TransportError::Status { status: 400 | 404 | 405 | 501, .. })
}

fn protocol_error(hash: &str, what: impl std::fmt::Display) -> CoreError {
    CoreError::Protocol(format!("possession challenge for {hash}: {what}"))
}

impl<T: Transport + BlobTransport> SyncClient<T> {
    /// Answers a possession challenge for `up` from its file: the server's status after the
    /// proof (complete when the server held the photo), or `None` when there is no proof to
    /// make here (see [`upload_instead`]): then the photo is uploaded. A challenge outside the
    /// photo or over the protocol's limits is a `Protocol` error; a refusal of the photo
    /// (`415 unsupported_media_type`) is its typed error.
    pub(super) async fn prove_here(
        &self,
        up: &Upload,
        sum: &mut UploadSummary,
    ) -> Result<Option<BlobStatus>> {
        let body =
            match self.retried(sum, || self.transport.blob_challenge(&up.hash, up.size)).await {
                Ok(body) => body,
                Err((e, _)) if upload_instead(&e) => {
                    tracing::info!(hash = %up.hash, "no possession challenge: {e}");
                    return Ok(None);
                }
                Err((e, attempts)) => return Err(blob_error(&up.hash, e, attempts)),
            };
        let challenge: BlobChallenge =
            protocol::decode(&body).map_err(|e| protocol_error(&up.hash, e))?;
        challenge.check(&up.hash, up.size).map_err(|e| protocol_error(&up.hash, e))?;
        let (file, nonce, ranges) = (up.clone(), challenge.nonce.clone(), challenge.ranges);
        let digest = blocking(move || {
            let mut source = BlobCursor::new(file.open()?);
            Ok(possession_digest(&nonce, &ranges, &mut source)?)
        })
        .await?;
        let proof =
            BlobProof { v: protocol::VERSION, nonce: challenge.nonce, digest: digest.to_vec() };
        let body = protocol::encode(&proof);
        match self.retried(sum, || self.transport.blob_proof(&up.hash, body.clone())).await {
            Ok(answer) => decode_status(&up.hash, &answer).map(Some),
            Err((e, _)) if upload_instead(&e) => {
                tracing::info!(hash = %up.hash, "possession proof not taken: {e}");
                Ok(None)
            }
            Err((e, attempts)) => Err(blob_error(&up.hash, e, attempts)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_endpoints_and_refused_proofs_fall_back_to_uploading() {
        let status = |status: u16, code: &str| TransportError::Status {
            status,
            code: code.into(),
            message: String::new(),
            wipe: false,
        };
        for e in
            [status(404, "not_found"), status(405, "http_error"), status(400, "invalid_request")]
        {
            assert!(upload_instead(&e), "{e:?}");
        }
        for e in [
            status(415, "unsupported_media_type"),
            status(503, "unavailable"),
            status(401, "invalid_token"),
            TransportError::Network("cut".into()),
        ] {
            assert!(!upload_instead(&e), "{e:?}");
        }
    }
}
