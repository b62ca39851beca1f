//! The `sync` benchmark suite runs end to end at a small size (its own server, a child
//! process) and reports every figure, with the protocol's cost properties holding.

use std::collections::HashMap;

#[test]
fn sync_suite_runs_small() {
    let cache = tempfile::tempdir().unwrap();
    let json = cache.path().join("figures.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["sync", "--docs", "60", "--devices", "40", "--concurrency", "8"])
        .args(["--rss-docs", "700"])
        .arg("--cache-dir")
        .arg(cache.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap_or_else(|e| panic!("bench did not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench sync failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: HashMap<String, f64> = stdout
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_string(), parts.next()?.parse().ok()?))
        })
        .collect();
    for name in [
        "sync.initial_docs_per_s",
        "sync.initial_bytes_per_doc",
        "server.changes_per_s",
        "server.p99_ms",
        "server.rss_mb",
    ] {
        assert!(figures.get(name).is_some_and(|v| *v > 0.0), "{name} missing in\n{stdout}");
    }
    assert_eq!(figures["sync.noop_requests"], 1.0, "{stdout}");
    assert!(figures["sync.noop_bytes"] <= 512.0, "{stdout}");
    assert!(figures["sync.one_change_requests"] <= 2.0, "{stdout}");
    assert!(figures["sync.one_change_bytes"] <= 2048.0, "{stdout}");
    assert_eq!(figures["server.docs_stored"], 700.0, "{stdout}");
    let written = std::fs::read_to_string(&json).unwrap();
    assert!(written.contains("\"server.rss_mb\""), "{written}");
}
