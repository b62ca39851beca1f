//! A transport that tallies what one endpoint carries, so a figure can say which part of a
//! sync's bytes went where ([`SyncSummary`](fieldsync_core::sync::SyncSummary) counts them all
//! together).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use fieldsync_core::sync::{HttpTransport, Transport, TransportError};

/// An HTTP transport that adds up the envelopes sent to one path and the answers received from
/// it, as the sync client counts them (body lengths, no HTTP headers).
#[derive(Debug, Clone)]
pub struct Metered {
    inner: HttpTransport,
    path: &'static str,
    bytes: Arc<AtomicI64>,
}

impl Metered {
    /// `inner`, with the bytes to and from `path` counted.
    pub fn new(inner: HttpTransport, path: &'static str) -> Metered {
        Metered { inner, path, bytes: Arc::new(AtomicI64::new(0)) }
    }

    /// The bytes counted since the last call (which starts the count again).
    pub fn take(&self) -> i64 {
        self.bytes.swap(0, Ordering::Relaxed)
    }
}

impl Transport for Metered {
    async fn post(&self, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let sent = body.len();
        let answer = self.inner.post(path, body).await;
        if path == self.path {
            let received = answer.as_ref().map_or(0, Vec::len);
            let carried = i64::try_from(sent + received).unwrap_or(i64::MAX);
            self.bytes.fetch_add(carried, Ordering::Relaxed);
        }
        answer
    }

    fn server_url(&self) -> Option<String> {
        self.inner.server_url()
    }
}
