//! The link emulator does what tests rely on: it holds traffic to its bandwidth and latency,
//! cuts connections and truncates answers when told to, and replays the same choices for the
//! same seed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fieldsync_tests::link::{LinkEmulator, LinkProfile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server that answers every connection with `size` bytes after reading one byte, then closes.
async fn source(size: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut one = [0u8; 1];
                if s.read_exact(&mut one).await.is_ok() {
                    let _ = s.write_all(&vec![7u8; size]).await;
                }
            });
        }
    });
    addr
}

/// Asks through `link` and reads until the connection closes: (bytes, time taken).
async fn fetch(link: &LinkEmulator) -> (usize, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(link.addr()).await.unwrap_or_else(|e| panic!("connect: {e}"));
    s.write_all(b"?").await.unwrap_or_else(|e| panic!("ask: {e}"));
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got).await;
    (got.len(), started.elapsed())
}

#[tokio::test]
async fn bandwidth_and_latency_hold_traffic_back() {
    let upstream = source(10_000).await;
    let profile = LinkProfile {
        down_bps: Some(80_000),
        latency: Duration::from_millis(100),
        ..LinkProfile::perfect()
    };
    let link = LinkEmulator::start(upstream, profile, 1).await.unwrap();
    let (bytes, took) = fetch(&link).await;
    assert_eq!(bytes, 10_000);
    // 10,000 bytes at 80 kbit/s is 1 s, plus 100 ms each way.
    assert!(took >= Duration::from_millis(1_150), "took {took:?}");
    let stats = link.stats();
    assert_eq!((stats.bytes_down, stats.bytes_up, stats.connections), (10_000, 1, 1));

    let fast = LinkEmulator::start(upstream, LinkProfile::perfect(), 1).await.unwrap();
    let (bytes, took) = fetch(&fast).await;
    assert_eq!(bytes, 10_000);
    assert!(took < Duration::from_millis(500), "a perfect link took {took:?}");
}

#[tokio::test]
async fn truncation_and_cuts() {
    let upstream = source(50_000).await;
    let truncating =
        LinkProfile { truncate_chance: 1.0, truncate_within: 4_000, ..LinkProfile::perfect() };
    let link = LinkEmulator::start(upstream, truncating, 7).await.unwrap();
    let (bytes, _) = fetch(&link).await;
    assert!((1..=4_000).contains(&bytes), "{bytes} bytes through a truncating link");
    assert_eq!(link.stats().truncations, 1);

    let cutting = LinkProfile {
        down_bps: Some(64_000),
        cut_after: Some((Duration::from_millis(300), Duration::from_millis(300))),
        ..LinkProfile::perfect()
    };
    let link = LinkEmulator::start(upstream, cutting, 7).await.unwrap();
    let (bytes, took) = fetch(&link).await;
    // 300 ms at 64 kbit/s is 2,400 bytes; the whole answer would take over 6 s.
    assert!(bytes < 5_000, "{bytes} bytes before the cut");
    assert!(took < Duration::from_secs(2), "the cut came after {took:?}");
    assert_eq!(link.stats().cuts, 1);
}

#[tokio::test]
async fn the_same_seed_replays_the_same_faults() {
    let upstream = source(20_000).await;
    let profile =
        LinkProfile { truncate_chance: 0.5, truncate_within: 10_000, ..LinkProfile::perfect() };
    let mut runs = Vec::new();
    for seed in [42, 42, 43] {
        let link = LinkEmulator::start(upstream, profile.clone(), seed).await.unwrap();
        let mut sizes = Vec::new();
        for _ in 0..8 {
            sizes.push(fetch(&link).await.0);
        }
        runs.push(sizes);
    }
    assert_eq!(runs[0], runs[1], "one seed, one sequence of faults");
    assert_ne!(runs[0], runs[2], "another seed, other faults");
    assert!(runs[0].iter().any(|&n| n < 20_000) && runs[0].contains(&20_000), "{:?}", runs[0]);
}
