//! The binary serving HTTPS (`--tls-cert`, `--tls-key`) with a certificate made by the test's
//! own authority, and reading it again on SIGHUP: new connections get the renewed certificate,
//! a connection opened before keeps being served, and a renewal that cannot be used is logged
//! while the certificate in use stays.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_tests::tls::{Authority, Issued};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::child::Proc;

/// A client that trusts only `authority`.
fn connector(authority: &Authority) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(authority.pem().as_bytes()).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A TLS connection to `addr`, and the certificate the server presented (DER).
async fn connect(tls: &TlsConnector, addr: &str) -> (TlsStream<TcpStream>, Vec<u8>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let stream = tls.connect(name, tcp).await.expect("handshake with the trusted certificate");
    let presented = stream.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    (stream, presented)
}

/// `GET /healthz` on a kept-alive connection; the answer's status line.
async fn health(stream: &mut TlsStream<TcpStream>) -> String {
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // The answer is small: its head and the two-byte body "ok".
    while !answer.ends_with(b"ok") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "the connection was closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_string()
}

fn hang_up(server: &Proc) {
    let pid = server.child.id().to_string();
    let status = std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(status.success());
}

/// Waits for a log line of `server` holding `text`.
fn logged(server: &Proc, text: &str) -> String {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let line = server.lines.recv_timeout(left).unwrap_or_else(|_| panic!("no log {text:?}"));
        if line.contains(text) {
            return line;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_certificate_renewed_on_sighup_keeps_open_connections() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new("fieldsync test street CA");
    let first: Issued = authority.issue(dir.path(), "server");
    let (cert, key) = (first.files.cert.to_str().unwrap(), first.files.key.to_str().unwrap());
    let server = Proc::spawn_with(
        &dir.path().join("data"),
        "127.0.0.1:0",
        &["--tls-cert", cert, "--tls-key", key],
    );
    let addr = server.url.trim_start_matches("http://").to_string();
    let tls = connector(&authority);
    let (mut before, presented) = connect(&tls, &addr).await;
    assert_eq!(presented, first.der);
    assert_eq!(health(&mut before).await, "HTTP/1.1 200 OK");

    // Plain HTTP to the TLS port gets no answer of the API.
    let mut plain = TcpStream::connect(&addr).await.unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut got)).await;
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"));

    // Renewed in place (same files), then SIGHUP.
    let renewed = authority.issue(dir.path(), "server");
    assert_ne!(renewed.der, first.der);
    hang_up(&server);
    logged(&server, "TLS certificate and key read again");
    let (mut after, presented) = connect(&tls, &addr).await;
    assert_eq!(presented, renewed.der, "a new connection gets the renewed certificate");
    assert_eq!(health(&mut after).await, "HTTP/1.1 200 OK");
    assert_eq!(health(&mut before).await, "HTTP/1.1 200 OK", "the open connection is served");

    // A renewal that cannot be used (a key of nothing) is logged; the certificate stays.
    std::fs::write(&renewed.files.key, "-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap();
    hang_up(&server);
    let line = logged(&server, "SIGHUP:");
    assert!(line.contains("the certificate in use stays"), "{line}");
    let (mut still, presented) = connect(&tls, &addr).await;
    assert_eq!(presented, renewed.der);
    assert_eq!(health(&mut still).await, "HTTP/1.1 200 OK");
    server.kill();
}

#[test]
fn a_certificate_that_cannot_be_used_stops_the_start_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new("fieldsync test street CA");
    let issued = authority.issue(dir.path(), "server");
    let other = authority.issue(dir.path(), "other");
    // The key of another certificate.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&issued.files.cert)
        .arg("--tls-key")
        .arg(&other.files.key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("TLS certificate") && said.contains("other.key"), "{said}");
    // Only one of the pair is a usage error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .arg("--tls-cert")
        .arg(&issued.files.cert)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}
