//! The `points` benchmark suite runs end to end at a small size (its own server, a child
//! process), repeated: residents redeem at once, nothing is overspent or oversold, and each
//! figure is the median of the runs with its spread beside it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn points_suite_runs_twice_and_gives_medians_and_spreads() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("figures.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["points", "--redeemers", "4", "--each", "4", "--repeat", "2", "--json"])
        .arg(&json)
        .arg("--cache-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let value = |name: &str| -> f64 {
        let line = stdout.lines().find(|l| l.split_whitespace().next() == Some(name));
        let line = line.unwrap_or_else(|| panic!("{name} missing in\n{stdout}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    // 4 residents afford 3 each, 10 in stock (90% of 12): every one made, none past the stock.
    assert_eq!(value("points.redeemed"), 10.0, "{stdout}");
    assert_eq!(value("points.redeemed.spread"), 0.0, "{stdout}");
    assert_eq!((value("points.overspent"), value("points.oversold")), (0.0, 0.0));
    assert!(value("points.redeem_per_s") > 0.0 && value("points.redeem_p99_ms.spread") >= 0.0);
    // Each run's own figures went to stderr, marked with the run.
    assert!(stderr.contains("run 1/2: points.redeemed 10 count"), "{stderr}");
    assert!(stderr.contains("run 2/2: points.redeemed 10 count"), "{stderr}");
    let written = std::fs::read_to_string(&json).unwrap();
    assert!(written.contains("\"points.redeem_per_s.spread\""), "{written}");
}
