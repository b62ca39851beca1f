//! Serving HTTP/1.1 connections with the limits a server facing the internet needs, which
//! `axum::serve` cannot set: the whole request head within the header timeout (hyper's
//! `header_read_timeout`, which hyper also runs while a kept-alive connection waits for its
//! next request, so it is the idle timeout too), an answer's bytes taken by the client within
//! the stall timeout ([`stall`]), and caps on open connections ([`caps`]). Request bodies are
//! cut by the router's body timeout layer (`http::router`). Each connection's requests carry
//! the peer address (`ConnectInfo<SocketAddr>`); answers go out with TCP_NODELAY; on shutdown
//! no new connection is accepted, requests in flight finish, and kept-alive connections are
//! closed. With a certificate ([`tls`]) every connection of the API's listener is HTTPS, its
//! handshake held to the header timeout.

pub(crate) mod caps;
mod stall;
pub mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::http::client_addr::TrustedProxies;
use caps::{ConnectionCaps, Permit};
use stall::StallGuard;
use tls::Tls;

/// How connections of one listener are served.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// The caps on open connections.
    pub(crate) caps: Arc<ConnectionCaps>,
    /// Peers held only to the total cap.
    pub(crate) trusted: TrustedProxies,
    /// See [`crate::ServerConfig::header_timeout`].
    pub(crate) header_timeout: Duration,
    /// See [`crate::ServerConfig::stall_timeout`].
    pub(crate) stall_timeout: Duration,
    /// HTTPS with this certificate, or plain HTTP.
    pub(crate) tls: Option<Tls>,
}

/// Serves `router` on `listener` until `stop` turns true; then stops accepting, lets every
/// connection finish the request it is handling, and returns once all are closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    // Each connection holds a clone of `open`; `closed` completes when the last is dropped.
    let (closed, open) = watch::channel(());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: wait instead of spinning; the caps keep this
                // rare.
                tracing::error!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let permit = match limits.caps.admit(peer.ip(), limits.trusted.trusts(peer.ip())) {
            Ok(p) => p,
            Err(why) => {
                tracing::debug!(%peer, ?why, "connection refused: over the cap");
                drop(tcp);
                continue;
            }
        };
        // Answers go out at once: without TCP_NODELAY a small answer written in two parts waits
        // for the client's delayed acknowledgement (measured: ~10 ms per request on loopback).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        tokio::spawn(connection(
            tcp,
            peer,
            router.clone(),
            limits.clone(),
            permit,
            stop.clone(),
            open.clone(),
        ));
    }
    drop(listener);
    drop(open);
    closed.closed().await;
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    _permit: Permit,
    stop: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) {
    let io = StallGuard::new(tcp, limits.stall_timeout);
    let Some(tls) = &limits.tls else {
        return serve_connection(io, peer, router, &limits, stop).await;
    };
    // A client that opens a connection and never finishes the handshake holds it no longer
    // than one that never finishes its request head.
    let handshake = tls.acceptor().accept(io);
    match tokio::time::timeout(limits.header_timeout, handshake).await {
        Ok(Ok(stream)) => serve_connection(stream, peer, router, &limits, stop).await,
        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
        Err(_) => tracing::debug!(%peer, "TLS handshake not finished within the header timeout"),
    }
}

/// Serves the HTTP/1.1 requests of one connection (plain or inside TLS) until it ends or the
/// server stops.
async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move { Ok::<_, Infallible>(router.oneshot(req).await.unwrap_or_else(|e| match e {})) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut stopping = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
                break;
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Errors of one connection that `accept` reports, after which accepting goes on at once.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}
