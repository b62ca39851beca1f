//! The holes found by probing a live server, each closed as a rule and tested here against the
//! real server on a loopback port: slow clients cannot hold it (`slow_clients`), what it
//! publishes is chosen (`metrics`), operators can stop a person (`disabled`), and enrollment
//! attempts are limited without locking out a shared address (`enrollment`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod disabled;
mod enrollment;
mod metrics;
mod slow_clients;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

pub(crate) use crate::common::*;

/// A raw connection to `addr` from the loopback address `from` (any 127.x.y.z works on Linux,
/// so a test can be several clients).
pub(crate) async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the peer closes the connection or `within` passes; the bytes and whether it was
/// closed (EOF or reset).
pub(crate) async fn read_until_closed(tcp: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends one raw HTTP/1.1 request (`head` without the blank line) and reads the answer's
/// status line and body, assuming the answer has a Content-Length.
pub(crate) async fn raw_request(tcp: &mut TcpStream, head: &str, body: &[u8]) -> (u16, String) {
    tcp.write_all(format!("{head}\r\n\r\n").as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    read_answer(tcp, Duration::from_secs(10)).await.expect("an answer")
}

/// Reads one answer (status and body, by its Content-Length) within `within`.
pub(crate) async fn read_answer(tcp: &mut TcpStream, within: Duration) -> Option<(u16, String)> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_string();
            let status = head.split_whitespace().nth(1)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return Some((
                    status,
                    String::from_utf8_lossy(&got[end + 4..end + 4 + length]).into(),
                ));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
}
