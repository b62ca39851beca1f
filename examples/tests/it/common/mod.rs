//! Running the `bench` binary from a test and reading the figures it prints.

use std::collections::HashMap;
use std::path::Path;

/// The figures of one run, by name, and its stdout to show when an assertion fails.
pub struct Run {
    /// `name value` of every figure line.
    pub figures: HashMap<String, f64>,
    /// What the run printed.
    pub stdout: String,
}

impl Run {
    /// The figure `name`; panics, showing the run, if it was not printed.
    pub fn get(&self, name: &str) -> f64 {
        *self.figures.get(name).unwrap_or_else(|| panic!("{name} missing in\n{}", self.stdout))
    }
}

/// Runs `bench <args> --repeat 1 --cache-dir <dir> --json <json>` (one run: these tests check
/// what a run does, not its speed); panics unless it succeeds.
pub fn bench(args: &[&str], dir: &Path, json: &Path) -> Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .args(["--repeat", "1"])
        .arg("--cache-dir")
        .arg(dir)
        .arg("--json")
        .arg(json)
        .output()
        .unwrap_or_else(|e| panic!("bench did not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench {} failed: {stdout}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let figures = stdout
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_string(), parts.next()?.parse().ok()?))
        })
        .collect();
    Run { figures, stdout }
}
