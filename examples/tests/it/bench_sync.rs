//! The `sync` benchmark suite runs end to end at a small size (its own server, a child
//! process) and reports every figure, with the protocol's cost properties holding.

#[test]
fn sync_suite_runs_small() {
    let cache = tempfile::tempdir().unwrap();
    let json = cache.path().join("figures.json");
    let args = [
        "sync",
        "--docs",
        "60",
        "--devices",
        "40",
        "--concurrency",
        "8",
        "--rss-docs",
        "700",
        "--rescope-held",
        "200",
        "--rescope-added",
        "20",
    ];
    let run = crate::common::bench(&args, cache.path(), &json);
    let stdout = &run.stdout;
    for name in [
        "sync.initial_docs_per_s",
        "sync.initial_bytes_per_doc",
        "server.changes_per_s",
        "server.p99_ms",
        "server.rss_mb",
        "sync.rescope_bytes",
        "sync.rescope_requests",
        "sync.rescope_saved_bytes",
        "sync.rescope_ratio",
    ] {
        assert!(run.get(name) > 0.0, "{name} in\n{stdout}");
    }
    assert_eq!(run.get("sync.noop_requests"), 1.0, "{stdout}");
    assert!(run.get("sync.noop_bytes") <= 512.0, "{stdout}");
    assert!(run.get("sync.one_change_requests") <= 2.0, "{stdout}");
    assert!(run.get("sync.one_change_bytes") <= 2048.0, "{stdout}");
    // 700 whatever the scope change adds: its 220 reports count among those filled up to it.
    assert_eq!(run.get("server.docs_stored"), 700.0, "{stdout}");
    assert!(run.get("sync.rescope_visible_bytes") <= run.get("sync.rescope_bytes"), "{stdout}");
    let written = std::fs::read_to_string(&json).unwrap();
    assert!(written.contains("\"server.rss_mb\""), "{written}");
}
