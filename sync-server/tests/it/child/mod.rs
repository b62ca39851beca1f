//! The `fieldsync-server` binary as a child process of a test: started on a data directory,
//! its address read from its log (on stderr), its log lines kept for the test to read.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// A running server process.
pub struct Proc {
    pub child: Child,
    pub url: String,
    pub lines: Receiver<String>,
}

impl Proc {
    /// Starts the server on `data`, listening on `listen` (`127.0.0.1:0` picks a port), and
    /// waits until it logs that it serves.
    pub fn spawn(data: &Path, listen: &str) -> Proc {
        Proc::spawn_with(data, listen, &[])
    }

    /// The same, with more arguments (e.g. `--storage postgres://…`).
    pub fn spawn_with(data: &Path, listen: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
            .args(["--data", data.to_str().unwrap(), "--listen", listen])
            .args(args)
            // Several test servers run at once: each serves /metrics on a port of its own.
            .args(["--metrics-listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let logs = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(logs).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let url = loop {
            let line =
                lines.recv_timeout(Duration::from_secs(30)).expect("the server logs its address");
            if let Some(rest) = line.split("addr=").nth(1)
                && line.contains("serving")
            {
                let addr = rest.split_whitespace().next().unwrap().trim_matches('"');
                break format!("http://{addr}");
            }
            assert!(started.elapsed() < Duration::from_secs(30));
        };
        Proc { child, url, lines }
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Runs the server binary with `args` on `data` (an administration subcommand); its stdout.
pub fn admin(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Enrolls a phone writing as `actor` for `user` the way an operator does: `user add` and
/// `enroll-code` with the binary on the server's data directory, then `POST /v1/enroll` keeping
/// the phone's actor. Returns the device's token.
pub async fn enroll(url: &str, data: &Path, user: &str, actor: Vec<u8>) -> String {
    enroll_on(url, data, &[], user, actor).await
}

/// The same, with the binary's storage named by `storage` (e.g. `["--storage", "postgres://…"]`).
pub async fn enroll_on(
    url: &str,
    data: &Path,
    storage: &[&str],
    user: &str,
    actor: Vec<u8>,
) -> String {
    use fieldsync_core::protocol;
    let add = [storage, &["user", "add", user, "--role", "dispatcher", "--scope", "jl"]].concat();
    admin(data, &add);
    let code = admin(data, &[storage, &["enroll-code", user]].concat());
    let req = protocol::EnrollRequest {
        v: protocol::VERSION,
        code,
        device_name: "test".into(),
        actor: Some(actor.clone()),
        keep_user: None,
        device_key: None,
    };
    let body = {
        fieldsync_core::sync::install_tls_provider();
        reqwest::Client::new()
    }
    .post(format!("{url}/v1/enroll"))
    .body(protocol::encode(&req))
    .send()
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    let e: protocol::EnrollResponse = protocol::decode(&body).unwrap();
    assert_eq!(e.actor, actor, "the phone keeps its actor");
    e.token
}
