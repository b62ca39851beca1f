//! Slow clients cannot hold the server: a request head must arrive within the header timeout
//! (which also closes idle kept-alive connections), a body's bytes and an answer's must keep
//! moving within the stall timeout, connections are capped in all and per address, and small
//! requests have small body limits, refused before they are read.

use super::*;

/// A server whose timeouts are `header` and `stall` seconds and whose caps are `total` and
/// `per_address` connections.
async fn server(header: u64, stall: u64, total: usize, per_address: usize) -> TestServer {
    start_with(|mut c| {
        c.header_timeout = Duration::from_secs(header);
        c.stall_timeout = Duration::from_secs(stall);
        c.max_connections = total;
        c.max_connections_per_address = per_address;
        c
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_finish_their_headers_are_closed_and_others_are_served() {
    let server = server(1, 30, 4096, 256).await;
    let addr = server.running.addr();
    let opened = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..40 {
        let mut tcp = connect_from([127, 0, 0, 1], addr).await;
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        stalled.push(tcp);
    }
    // Meanwhile everyone else is answered at once, each on a new connection (a connection
    // kept alive for as long as the header timeout is closed by the server, by design).
    let healthz = || async {
        let fresh = {
            fieldsync_core::sync::install_tls_provider();
            reqwest::Client::builder()
        }
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
        let resp = fresh.get(server.url("/healthz")).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    };
    for _ in 0..5 {
        let asked = Instant::now();
        assert_eq!(healthz().await, (200, "ok".into()));
        assert!(asked.elapsed() < Duration::from_millis(500), "{:?}", asked.elapsed());
    }
    for tcp in &mut stalled {
        let (_, closed) = read_until_closed(tcp, Duration::from_secs(5)).await;
        assert!(closed, "a connection stalled in its headers is closed");
    }
    let took = opened.elapsed();
    assert!(took >= Duration::from_millis(900), "not before the timeout: {took:?}");
    assert!(took < Duration::from_secs(4), "within the timeout: {took:?}");
    assert_eq!(healthz().await, (200, "ok".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed() {
    let server = server(1, 30, 4096, 256).await;
    let mut tcp = connect_from([127, 0, 0, 1], server.running.addr()).await;
    let answer = raw_request(&mut tcp, "GET /healthz HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!(answer, (200, "ok".into()));
    let idle = Instant::now();
    let (_, closed) = read_until_closed(&mut tcp, Duration::from_secs(5)).await;
    assert!(closed, "the server closes a kept-alive connection left idle");
    let took = idle.elapsed();
    assert!((Duration::from_millis(900)..Duration::from_secs(4)).contains(&took), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_cut_with_a_typed_answer() {
    let server = server(30, 1, 4096, 256).await;
    let mut tcp = connect_from([127, 0, 0, 1], server.running.addr()).await;
    let started = Instant::now();
    tcp.write_all(b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        .await
        .unwrap();
    let (status, body) = read_answer(&mut tcp, Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(status, 408, "{body}");
    assert_eq!(error_body(body.as_bytes()).code, "request_timeout");
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    let (_, closed) = read_until_closed(&mut tcp, Duration::from_secs(3)).await;
    assert!(closed, "the connection of a cut body is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_enrollment_is_refused_before_its_body_is_read() {
    let server = server(30, 30, 4096, 256).await;
    let addr = server.running.addr();
    // 6 MiB announced, nothing sent: the answer comes at once, not after a stall.
    let mut tcp = connect_from([127, 0, 0, 1], addr).await;
    let started = Instant::now();
    tcp.write_all(b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 6291456\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = read_answer(&mut tcp, Duration::from_secs(5)).await.expect("an answer");
    assert_eq!((status, error_body(body.as_bytes()).code.as_str()), (413, "too_large"));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // Without a length (chunked), the body is read only until it passes the limit.
    let mut tcp = connect_from([127, 0, 0, 1], addr).await;
    tcp.write_all(b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("1000\r\n{}\r\n", "x".repeat(4096));
    let mut answer = None;
    for _ in 0..8 {
        if tcp.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        if let Some(a) = read_answer(&mut tcp, Duration::from_millis(200)).await {
            answer = Some(a);
            break;
        }
    }
    let (status, body) = answer.expect("refused while the body was still coming");
    assert_eq!((status, error_body(body.as_bytes()).code.as_str()), (413, "too_large"));
    // A visible request is bounded by what 1,000 ids take.
    let token = server.any_token();
    let mut tcp = connect_from([127, 0, 0, 1], addr).await;
    let head = format!(
        "POST /v1/visible HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 1048576"
    );
    tcp.write_all(format!("{head}\r\n\r\n").as_bytes()).await.unwrap();
    let (status, _) = read_answer(&mut tcp, Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(status, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_per_address_and_in_all_and_places_free_up() {
    let server = server(30, 30, 12, 3).await;
    let addr = server.running.addr();
    let mut first: Vec<TcpStream> = Vec::new();
    for _ in 0..3 {
        first.push(connect_from([127, 0, 0, 1], addr).await);
    }
    // One more from the same address is closed at once.
    let mut extra = connect_from([127, 0, 0, 1], addr).await;
    let (_, closed) = read_until_closed(&mut extra, Duration::from_secs(2)).await;
    assert!(closed, "the fourth connection of one address is closed");
    // Other addresses still get in, until the total is reached.
    let mut second = connect_from([127, 0, 0, 2], addr).await;
    let answer = raw_request(&mut second, "GET /healthz HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!(answer, (200, "ok".into()));
    let mut others = Vec::new();
    for from in [[127, 0, 0, 2], [127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 3], [127, 0, 0, 3]] {
        others.push(connect_from(from, addr).await);
    }
    for _ in 0..3 {
        others.push(connect_from([127, 0, 0, 4], addr).await);
    }
    let mut over = connect_from([127, 0, 0, 5], addr).await;
    let (_, closed) = read_until_closed(&mut over, Duration::from_secs(2)).await;
    assert!(closed, "past the total, any address is closed");
    // The held connections are still served.
    let answer = raw_request(&mut first[0], "GET /healthz HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!(answer, (200, "ok".into()));
    // A connection that closes gives its place back.
    drop(first.pop());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut again = connect_from([127, 0, 0, 1], addr).await;
        let _ = again.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        if let Some(answer) = read_answer(&mut again, Duration::from_millis(500)).await {
            assert_eq!(answer, (200, "ok".into()));
            break;
        }
        assert!(Instant::now() < deadline, "the place of a closed connection is given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, metrics) = server.metrics().await;
    assert!(
        metrics.contains("fieldsync_connections_refused_total{cap=\"address\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("fieldsync_connections_refused_total{cap=\"total\"} "), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_take_its_answers_is_dropped() {
    let server = server(30, 1, 4096, 256).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.running.addr()).await.unwrap();
    let (mut reader, mut writer) = tcp.into_split();
    // Pipelined requests whose answers are never read: the server's writes stall.
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        // Until the server gives up, or for 60 s: the socket buffers on both sides take
        // megabytes before the server's writes stall, which takes a while on a busy machine
        // (the tests of this binary run beside each other).
        let batch = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
        while started.elapsed() < Duration::from_secs(60) {
            if writer.write_all(batch.as_bytes()).await.is_err() {
                return true;
            }
        }
        false
    });
    let dropped = tokio::time::timeout(Duration::from_secs(70), sender).await;
    assert!(matches!(dropped, Ok(Ok(true))), "the server closed the connection: {dropped:?}");
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    let mut buf = vec![0u8; 1 << 16];
    let mut closed = false;
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(1), reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "the connection ends");
    let mut fresh = connect_from([127, 0, 0, 1], server.running.addr()).await;
    let answer = raw_request(&mut fresh, "GET /healthz HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!(answer, (200, "ok".into()));
}
