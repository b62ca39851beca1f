//! The link a peer session runs over, as foreign code sees it: a [`PeerTransport`] the app
//! implements over whatever it has (Bluetooth LE, Wi-Fi Direct, a hotspot's socket), or the
//! built-in one over TCP on loopback ([`PeerTcpListener`], [`connect_loopback_peer`]) for tests
//! and examples. Core sees either as its own `PeerLink`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use fieldsync_core::peer::{LinkError, PeerLink, StreamLink};
use tokio::io::{Empty, Join, Sink};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::error::FieldError;

/// Moves whole frames between this phone and a peer, in order, both ways: what the app
/// provides for a peer session. Frames are at most 4 MiB and 9 bytes (`docs/peer.md`, "Link");
/// a link over a byte stream can read a frame as its 9-byte header, then the length the header
/// announces (bytes 5..9, big-endian). Both sides send before they receive, so the link must
/// hold at least one frame each way.
///
/// When the link ends (the other phone went away), throw `PeerLinkClosed`; any other error
/// ends the session as `PeerLink` with its text. Cancelling the session cancels a call in
/// flight (a Kotlin coroutine, a Swift task, a Python task).
#[uniffi::export(with_foreign, async_runtime = "tokio")]
#[async_trait::async_trait]
pub trait PeerTransport: Send + Sync {
    /// Sends one frame.
    async fn send(&self, frame: Vec<u8>) -> Result<(), FieldError>;
    /// Waits for the next frame from the peer.
    async fn receive(&self) -> Result<Vec<u8>, FieldError>;
}

/// The error a transport throws, as core's link sees it.
fn to_link(e: FieldError) -> LinkError {
    match e {
        FieldError::PeerLinkClosed { .. } => LinkError::Closed,
        FieldError::Callback { detail } | FieldError::PeerLink { detail } => LinkError::Io(detail),
        other => LinkError::Io(other.to_string()),
    }
}

/// A link's error, as a transport throws it.
pub(crate) fn from_link(e: LinkError) -> FieldError {
    match e {
        LinkError::Closed => FieldError::PeerLinkClosed { detail: e.to_string() },
        LinkError::Io(_) | LinkError::Refused(_) => FieldError::PeerLink { detail: e.to_string() },
    }
}

/// An app's transport as core's link.
pub(crate) struct AppLink(pub(crate) Arc<dyn PeerTransport>);

impl PeerLink for AppLink {
    async fn send(&mut self, frame: Vec<u8>) -> Result<(), LinkError> {
        self.0.send(frame).await.map_err(to_link)
    }

    async fn receive(&mut self) -> Result<Vec<u8>, LinkError> {
        self.0.receive().await.map_err(to_link)
    }
}

/// The built-in transport: frames over one TCP connection on loopback, read with core's
/// framing. Sending and receiving each have their half of the socket, so one may wait while
/// the other goes on.
struct TcpTransport {
    reader: tokio::sync::Mutex<StreamLink<Join<OwnedReadHalf, Sink>>>,
    writer: tokio::sync::Mutex<StreamLink<Join<Empty, OwnedWriteHalf>>>,
}

impl TcpTransport {
    fn over(stream: TcpStream) -> Result<Arc<dyn PeerTransport>, FieldError> {
        // Frames are small and answered at once: no waiting to fill a segment.
        stream.set_nodelay(true).map_err(|e| from_link(e.into()))?;
        let (read, write) = stream.into_split();
        Ok(Arc::new(TcpTransport {
            reader: tokio::sync::Mutex::new(StreamLink::new(tokio::io::join(
                read,
                tokio::io::sink(),
            ))),
            writer: tokio::sync::Mutex::new(StreamLink::new(tokio::io::join(
                tokio::io::empty(),
                write,
            ))),
        }))
    }
}

#[async_trait::async_trait]
impl PeerTransport for TcpTransport {
    async fn send(&self, frame: Vec<u8>) -> Result<(), FieldError> {
        self.writer.lock().await.send(frame).await.map_err(from_link)
    }

    async fn receive(&self) -> Result<Vec<u8>, FieldError> {
        self.reader.lock().await.receive().await.map_err(from_link)
    }
}

/// Waits for peers on a free TCP port of this device's loopback (127.0.0.1): the built-in
/// transport of tests and examples (two stores of one process, or an emulator's). A phone in
/// the field brings its own [`PeerTransport`].
#[derive(uniffi::Object)]
pub struct PeerTcpListener {
    listener: Mutex<std::net::TcpListener>,
    port: u16,
}

fn tcp_failed(what: &str, e: std::io::Error) -> FieldError {
    FieldError::PeerLink { detail: format!("{what}: {e}") }
}

#[uniffi::export(async_runtime = "tokio")]
impl PeerTcpListener {
    /// Listens on a free loopback port ([`PeerTcpListener::port`] says which).
    #[uniffi::constructor]
    pub fn loopback() -> Result<Arc<Self>, FieldError> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| tcp_failed("listening on loopback", e))?;
        // Accepted by tokio, which needs the socket non-blocking.
        listener.set_nonblocking(true).map_err(|e| tcp_failed("listening on loopback", e))?;
        let port =
            listener.local_addr().map_err(|e| tcp_failed("listening on loopback", e))?.port();
        Ok(Arc::new(PeerTcpListener { listener: Mutex::new(listener), port }))
    }

    /// The port peers connect to ([`connect_loopback_peer`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for the next peer to connect; its transport.
    pub async fn accept(&self) -> Result<Arc<dyn PeerTransport>, FieldError> {
        let std = {
            let listener = self.listener.lock().unwrap_or_else(|e| e.into_inner());
            listener.try_clone().map_err(|e| tcp_failed("accepting a peer", e))?
        };
        let listener = tokio::net::TcpListener::from_std(std)
            .map_err(|e| tcp_failed("accepting a peer", e))?;
        let (stream, _) = listener.accept().await.map_err(|e| from_link(e.into()))?;
        TcpTransport::over(stream)
    }
}

/// Connects to a peer waiting on `port` of this device's loopback ([`PeerTcpListener`]).
#[uniffi::export(async_runtime = "tokio")]
pub async fn connect_loopback_peer(port: u16) -> Result<Arc<dyn PeerTransport>, FieldError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect(addr).await.map_err(|e| from_link(e.into()))?;
    TcpTransport::over(stream)
}
