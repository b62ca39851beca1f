//! The link between two peers: whatever the app has (Bluetooth LE, Wi-Fi Direct, a hotspot, QR
//! codes) behind a two-method trait; core opens no socket of its own. A byte-stream link
//! (TCP on loopback for tests and examples, or any `AsyncRead + AsyncWrite`) is given here.

use std::future::Future;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};

use super::wire::{self, HEADER_BYTES};

/// Why a link failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The other side went away (or the link was cut).
    #[error("the peer link closed")]
    Closed,
    /// The link's own failure.
    #[error("peer link: {0}")]
    Io(String),
    /// The app's link refused the frame (too large for it, say).
    #[error("peer link refused the frame: {0}")]
    Refused(String),
}

impl From<std::io::Error> for LinkError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted => LinkError::Closed,
            _ => LinkError::Io(e.to_string()),
        }
    }
}

/// Moves whole frames between two peers, in order: what the app provides.
pub trait PeerLink: Send {
    /// Sends one frame.
    fn send(&mut self, frame: Vec<u8>) -> impl Future<Output = Result<(), LinkError>> + Send;
    /// Waits for the next frame.
    fn receive(&mut self) -> impl Future<Output = Result<Vec<u8>, LinkError>> + Send;
}

/// Frames over a byte stream: each frame's header says how long it is, so a frame is read as
/// its header and then the announced length (never more than a frame may be).
#[derive(Debug)]
pub struct StreamLink<S> {
    stream: S,
}

/// A peer link over TCP.
pub type TcpLink = StreamLink<TcpStream>;

impl<S: AsyncRead + AsyncWrite + Unpin + Send> StreamLink<S> {
    /// Frames over `stream`.
    pub fn new(stream: S) -> Self {
        StreamLink { stream }
    }
}

impl TcpLink {
    /// Connects to a peer listening at `addr`.
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<TcpLink, LinkError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(StreamLink::new(stream))
    }

    /// Waits for one peer on `listener`.
    pub async fn accept(listener: &TcpListener) -> Result<TcpLink, LinkError> {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok(StreamLink::new(stream))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> PeerLink for StreamLink<S> {
    async fn send(&mut self, frame: Vec<u8>) -> Result<(), LinkError> {
        self.stream.write_all(&frame).await?;
        self.stream.flush().await?;
        Ok(())
    }

    async fn receive(&mut self) -> Result<Vec<u8>, LinkError> {
        let mut frame = vec![0u8; HEADER_BYTES];
        self.stream.read_exact(&mut frame).await?;
        // A header that does not announce a frame is handed on whole: the session decodes it
        // and reports why (a wrong magic, a version, a length over the limit).
        let Ok(len) = wire::message_len(&frame) else { return Ok(frame) };
        if frame[..4] != wire::MAGIC {
            return Ok(frame);
        }
        frame.resize(HEADER_BYTES + len, 0);
        self.stream.read_exact(&mut frame[HEADER_BYTES..]).await?;
        Ok(frame)
    }
}

/// Two links joined in memory (a pipe each way), for tests and for running two stores in one
/// process.
pub fn memory_pair() -> (StreamLink<tokio::io::DuplexStream>, StreamLink<tokio::io::DuplexStream>) {
    let (a, b) = tokio::io::duplex(1 << 20);
    (StreamLink::new(a), StreamLink::new(b))
}
