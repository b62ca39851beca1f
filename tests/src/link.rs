//! A link emulator for tests and benchmarks: a TCP proxy on loopback that imposes a bandwidth
//! per direction, a one-way latency, connections cut after a random time, and answers truncated
//! after a random number of bytes. Every random choice comes from a seed (and the order the
//! connections arrive in), so a failing run can be replayed with the seed it printed.
//!
//! Bytes are delivered in order per direction: each chunk leaves no earlier than its arrival plus
//! the latency, and no earlier than the previous chunk's departure plus the time the link needs to
//! carry it, so a long answer streams at the link's rate after one latency, as on a real link.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

/// Largest chunk moved at once; small enough that pacing is smooth at 64 kbit/s.
const CHUNK: usize = 1024;
/// Chunks in flight per direction (read but not yet delivered).
const IN_FLIGHT: usize = 256;

/// What the link does to traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkProfile {
    /// Client to server, bits per second; `None`: as fast as loopback.
    pub up_bps: Option<u64>,
    /// Server to client, bits per second; `None`: as fast as loopback.
    pub down_bps: Option<u64>,
    /// Added to every chunk in each direction (half the round trip).
    pub latency: Duration,
    /// A connection is cut after a time drawn uniformly from this range; `None`: never.
    pub cut_after: Option<(Duration, Duration)>,
    /// Chance that a connection's server-to-client bytes stop after a random count (the answer
    /// arrives truncated, then the connection closes).
    pub truncate_chance: f64,
    /// The truncated connection carries up to this many bytes down before it stops.
    pub truncate_within: u64,
}

impl LinkProfile {
    /// Loopback as it is.
    pub fn perfect() -> Self {
        LinkProfile {
            up_bps: None,
            down_bps: None,
            latency: Duration::ZERO,
            cut_after: None,
            truncate_chance: 0.0,
            truncate_within: 0,
        }
    }

    /// A 2G-like link in a valley: 80 kbit/s down, 64 kbit/s up, 500 ms round trip, a connection
    /// cut every 2–6 s, one answer in ten truncated within its first 16 KiB.
    pub fn two_g() -> Self {
        LinkProfile {
            up_bps: Some(64_000),
            down_bps: Some(80_000),
            latency: Duration::from_millis(250),
            cut_after: Some((Duration::from_secs(2), Duration::from_secs(6))),
            truncate_chance: 0.1,
            truncate_within: 16 * 1024,
        }
    }
}

/// Counters of what crossed the link.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    cuts: AtomicU64,
    truncations: AtomicU64,
}

/// What crossed the link so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Connections accepted.
    pub connections: u64,
    /// Bytes delivered to the server.
    pub bytes_up: u64,
    /// Bytes delivered to the client.
    pub bytes_down: u64,
    /// Connections cut by the link.
    pub cuts: u64,
    /// Connections whose answer was truncated.
    pub truncations: u64,
}

/// A running link emulator in front of one server.
pub struct LinkEmulator {
    addr: SocketAddr,
    seed: u64,
    profile: Arc<Mutex<LinkProfile>>,
    counters: Arc<Counters>,
    accept: JoinHandle<()>,
}

impl LinkEmulator {
    /// Starts a proxy on a free loopback port that forwards to `upstream` through `profile`,
    /// its random choices drawn from `seed`.
    pub async fn start(
        upstream: SocketAddr,
        profile: LinkProfile,
        seed: u64,
    ) -> std::io::Result<LinkEmulator> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let profile = Arc::new(Mutex::new(profile));
        let counters = Arc::new(Counters::default());
        let (p, c) = (profile.clone(), counters.clone());
        let accept = tokio::spawn(async move {
            let mut index: u64 = 0;
            while let Ok((client, _)) = listener.accept().await {
                index += 1;
                let profile = p.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let rng = StdRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                c.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(client, upstream, profile, rng, c.clone()));
            }
        });
        Ok(LinkEmulator { addr, seed, profile, counters, accept })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy as a server base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The seed, to print when a test fails so the run can be replayed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Changes the profile for connections accepted from now on (e.g. the signal comes back).
    pub fn set_profile(&self, profile: LinkProfile) {
        *self.profile.lock().unwrap_or_else(|e| e.into_inner()) = profile;
    }

    /// What crossed the link so far.
    pub fn stats(&self) -> LinkStats {
        let c = &self.counters;
        LinkStats {
            connections: c.connections.load(Ordering::Relaxed),
            bytes_up: c.bytes_up.load(Ordering::Relaxed),
            bytes_down: c.bytes_down.load(Ordering::Relaxed),
            cuts: c.cuts.load(Ordering::Relaxed),
            truncations: c.truncations.load(Ordering::Relaxed),
        }
    }
}

impl Drop for LinkEmulator {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Carries one connection until either side closes, the link cuts it, or it is truncated.
async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    profile: LinkProfile,
    mut rng: StdRng,
    counters: Arc<Counters>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let cut_at = profile.cut_after.map(|(lo, hi)| {
        let span = hi.saturating_sub(lo).as_secs_f64();
        Instant::now() + lo + Duration::from_secs_f64(rng.random::<f64>() * span)
    });
    let down_limit = (profile.truncate_chance > 0.0 && rng.random_bool(profile.truncate_chance))
        .then(|| rng.random_range(1..=profile.truncate_within.max(1)));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = tokio::spawn(pump(
        client_read,
        server_write,
        profile.up_bps,
        profile.latency,
        None,
        Direction::Up,
        counters.clone(),
    ));
    let down = tokio::spawn(pump(
        server_read,
        client_write,
        profile.down_bps,
        profile.latency,
        down_limit,
        Direction::Down,
        counters.clone(),
    ));
    let (up_abort, down_abort) = (up.abort_handle(), down.abort_handle());
    let ended = async {
        // The connection ends when the answer direction ends (server closed, or truncated);
        // the request direction alone ending (the client half-closed) does not end it.
        let truncated = down.await.unwrap_or(false);
        if truncated {
            counters.truncations.fetch_add(1, Ordering::Relaxed);
        }
    };
    match cut_at {
        Some(at) => {
            tokio::select! {
                _ = ended => {}
                _ = sleep_until(at) => {
                    counters.cuts.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        None => ended.await,
    }
    // Dropping both halves of both sockets closes them.
    up_abort.abort();
    down_abort.abort();
    let _ = up.await;
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

/// Moves bytes one way: chunks are read as they come and each is delivered at
/// `max(arrival + latency, previous departure) + chunk time`. Returns whether it stopped because
/// `limit` bytes were delivered (a truncation). Reading and delivering run in this one task, so
/// aborting it closes both sockets' halves.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    bps: Option<u64>,
    latency: Duration,
    limit: Option<u64>,
    direction: Direction,
    counters: Arc<Counters>,
) -> bool {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let reading = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send((Instant::now(), buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
        drop(tx);
        // Delivery decides when this pump ends.
        std::future::pending::<()>().await;
    };
    let delivering = async move {
        let mut free_at = Instant::now();
        let mut delivered: u64 = 0;
        let mut truncated = false;
        while let Some((arrived, mut chunk)) = rx.recv().await {
            if let Some(limit) = limit {
                let room = limit.saturating_sub(delivered);
                if (chunk.len() as u64) >= room {
                    chunk.truncate(room as usize);
                    truncated = true;
                }
            }
            let carry = match bps {
                Some(bps) => Duration::from_secs_f64(chunk.len() as f64 * 8.0 / bps.max(1) as f64),
                None => Duration::ZERO,
            };
            let leave = (arrived + latency).max(free_at) + carry;
            free_at = leave;
            sleep_until(leave).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
            delivered += chunk.len() as u64;
            let counter = match direction {
                Direction::Up => &counters.bytes_up,
                Direction::Down => &counters.bytes_down,
            };
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            if truncated {
                break;
            }
        }
        let _ = to.shutdown().await;
        truncated
    };
    tokio::select! {
        truncated = delivering => truncated,
        () = reading => false,
    }
}
