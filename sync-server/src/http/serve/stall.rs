//! A connection's socket that gives up on a client that stops taking the answer: a write that
//! can make no progress for the stall timeout fails, and the connection is closed. Without it a
//! client that never reads would hold its connection, and the answer buffered for it, for ever.
//! (Stalled request bodies are cut by the body timeout layer of the router; stalled request
//! heads by hyper's header timeout.)

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `io`, whose writes fail after making no progress for `timeout`.
#[derive(Debug)]
pub(crate) struct StallGuard<T> {
    io: T,
    timeout: Duration,
    /// Armed when a write first cannot proceed; disarmed by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> StallGuard<T> {
    /// Wraps `io`.
    pub(crate) fn new(io: T, timeout: Duration) -> Self {
        StallGuard { io, timeout, stalled: None }
    }

    fn progress<R>(&mut self, r: Poll<io::Result<R>>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match r {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep =
                    self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client took no byte of the answer for {timeout:?}"),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.progress(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.progress(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.progress(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.progress(r, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_write_nobody_takes_fails_after_the_timeout_and_progress_resets_it() {
        // A pipe of 64 bytes that nobody reads fills up, then the write stalls.
        let (client, _server) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(client, Duration::from_millis(200));
        let started = std::time::Instant::now();
        let e = guarded.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(200));

        let (client, mut server) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(client, Duration::from_millis(200));
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            let mut buf = [0u8; 32];
            use tokio::io::AsyncReadExt;
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                match server.read(&mut buf).await {
                    Ok(0) | Err(_) => break sink,
                    Ok(n) => sink.extend_from_slice(&buf[..n]),
                }
            }
        });
        // Slow (32 bytes each 50 ms, 1.6 s in all) but never stalled for 200 ms: it goes through.
        guarded.write_all(&[7u8; 1024]).await.unwrap();
        drop(guarded);
        assert_eq!(reader.await.unwrap().len(), 1024);
    }
}
