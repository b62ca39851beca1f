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
    token: Option<String>,
}

impl std::fmt::Debug for InProcessTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessTransport").finish_non_exhaustive()
    }
}

impl InProcessTransport {
    /// A transport into `router` (see `Server::router`).
    pub fn new(router: Router) -> Self {
        InProcessTransport { router, token: None }
    }

    /// Sends `Authorization: Bearer <token>` with every request, as an enrolled phone does.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

impl Transport for InProcessTransport {
    fn post(
        &self,
        path: &'static str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send {
        let router = self.router.clone();
        let token = self.token.clone();
        async move {
            let mut request = Request::post(path)
                .header(header::CONTENT_TYPE, "application/cbor")
                .header(header::CONTENT_ENCODING, "gzip");
            if let Some(t) = token {
                request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
            }
            let request = request
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
