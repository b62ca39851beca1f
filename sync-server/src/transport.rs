//! A [`Transport`] that hands requests straight to the server's router, in the same process:
//! phone tests run the whole protocol without sockets.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use fieldsync_core::sync::transport::{Transport, TransportError};
use tower::ServiceExt;

/// Calls a server's router directly; cheap to clone.
#[derive(Clone)]
pub struct InProcessTransport {
    router: Router,
}

impl std::fmt::Debug for InProcessTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessTransport").finish_non_exhaustive()
    }
}

impl InProcessTransport {
    /// A transport into `router` (see `Server::router`).
    pub fn new(router: Router) -> Self {
        InProcessTransport { router }
    }
}

impl Transport for InProcessTransport {
    fn post(
        &self,
        path: &'static str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send {
        let router = self.router.clone();
        async move {
            let request = Request::post(path)
                .header(header::CONTENT_TYPE, "application/cbor")
                .header(header::CONTENT_ENCODING, "gzip")
                .body(Body::from(body))
                .map_err(|e| TransportError::Network(e.to_string()))?;
            let response = match router.oneshot(request).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map_err(|e| TransportError::Network(e.to_string()))?;
            if status == 200 {
                Ok(bytes.to_vec())
            } else {
                Err(TransportError::from_status(status, &bytes))
            }
        }
    }
}
