//! `bench compare REV_A REV_B SUITE [ARGS…]`: two revisions measured in one run, alternately, so
//! that the machine's drift (a quarter within an hour here) falls on both alike.
//!
//! Each revision is checked out in a git worktree of its own under the cache directory
//! (`compare/<commit>`) and built in release in one target directory both share (the second
//! build compiles only what differs); its harness is kept as `compare/bench-<commit>`, so a
//! later comparison of the same commit builds nothing. Its `bench SUITE ARGS…` runs `--repeat`
//! times, A and B taking turns, the order flipped every round (A B, B A, A B, …). Fixtures are
//! shared through the cache directory. `--repeat`, `--json` and `--cache-dir` are the
//! comparison's wherever they are written, after the suite's name too. For each figure the
//! median of each side is printed with the ratio B/A, then each side's range over its runs and
//! whether the ranges overlap (a ratio whose ranges overlap is within the machine's noise for
//! that many rounds):
//! `store.edit_p50_ms 0.142 → 0.130 ms ×0.915 a 0.139–0.150 b 0.127–0.133 apart`; with
//! `--json FILE` the same as an array of `{"name", "unit", "a", "b", "ratio", "a_min", "a_max",
//! "b_min", "b_max", "overlap"}`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Result, progress};

/// One side of the comparison.
struct Side {
    rev: String,
    commit: String,
    bench: PathBuf,
    /// Whether its harness takes `--repeat` (older ones ran a suite once).
    repeats: bool,
}

fn git(repo: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git").current_dir(repo).args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Checks out and builds `rev`'s harness.
fn prepare(repo: &Path, cache: &Path, rev: &str) -> Result<Side> {
    let commit = git(repo, &["rev-parse", "--verify", &format!("{rev}^{{commit}}")])?;
    let dir = cache.join("compare").join(&commit);
    if !dir.join("Cargo.toml").exists() {
        std::fs::create_dir_all(cache.join("compare"))?;
        let _ = git(repo, &["worktree", "prune"]);
        let path = dir.to_string_lossy().into_owned();
        git(repo, &["worktree", "add", "--detach", "--force", &path, &commit])?;
    }
    let bench = cache.join("compare").join(format!("bench-{commit}"));
    if !bench.exists() {
        let target = cache.join("compare").join("target");
        progress(format_args!("building {rev} ({}) in release", &commit[..12]));
        touch_sources(&dir)?;
        let status = Command::new("cargo")
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &target)
            .args(["build", "--release", "--quiet", "-p", "fieldsync-examples", "--bin", "bench"])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(format!("{rev} did not build").into());
        }
        std::fs::copy(target.join("release").join("bench"), &bench)?;
    }
    let help = Command::new(&bench).arg("--help").output()?;
    let repeats = String::from_utf8_lossy(&help.stdout).contains("--repeat");
    Ok(Side { rev: rev.to_string(), commit, bench, repeats })
}

/// Gives every file of the worktree `dir` (but `.git` and `target`) the time now.
///
/// Both revisions build in one target directory, where a workspace crate's artifacts have the
/// same names whichever worktree they came from, and cargo rebuilds a crate only when one of
/// its sources is newer than its artifacts. A worktree checked out before the other revision's
/// build (one left from an earlier, interrupted comparison) would look up to date, and its
/// harness would be the other revision's code.
fn touch_sources(dir: &Path) -> Result<()> {
    let now = std::time::SystemTime::now();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            if entry.file_name() == ".git" || entry.file_name() == "target" {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                std::fs::File::options().write(true).open(entry.path())?.set_modified(now)?;
            }
        }
    }
    Ok(())
}

/// A figure as a run's JSON file gives it.
#[derive(Debug, Clone, serde::Deserialize)]
struct Figure {
    name: String,
    value: f64,
    unit: String,
}

/// Runs `side`'s `bench suite…` once; its figures.
fn run_once(side: &Side, cache: &Path, suite: &[String], json: &Path) -> Result<Vec<Figure>> {
    let mut cmd = Command::new(&side.bench);
    cmd.args(suite).arg("--json").arg(json).arg("--cache-dir").arg(cache);
    if side.repeats {
        cmd.args(["--repeat", "1"]);
    }
    // Its figures are progress here: they go to stderr with the rest.
    let status = cmd.stdout(Stdio::from(std::io::stderr())).status()?;
    if !status.success() {
        return Err(format!("{} ({}) failed: {status}", side.rev, &side.commit[..12]).into());
    }
    Ok(serde_json::from_slice(&std::fs::read(json)?)?)
}

/// One side's runs of one figure: their median and range.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Runs {
    median: f64,
    min: f64,
    max: f64,
}

impl Runs {
    /// The median and range of `v`, NaNs left out; `None` when nothing is left.
    fn of(mut v: Vec<f64>) -> Option<Runs> {
        v.retain(|x| !x.is_nan());
        v.sort_by(f64::total_cmp);
        Some(Runs { median: *v.get(v.len() / 2)?, min: v[0], max: v[v.len() - 1] })
    }

    /// Whether the two ranges share a value.
    fn overlaps(&self, other: &Runs) -> bool {
        self.min <= other.max && other.min <= self.max
    }
}

/// `args` without the harness's flag `--name VALUE` (or `--name=VALUE`) given among them, and
/// its value (the last given): written after the suite's name, a flag of the harness's own is
/// still the comparison's, not each side's suite's (which is given its own `--json` and
/// `--cache-dir`, and would refuse a second).
fn take_flag(args: &[String], name: &str) -> Result<(Vec<String>, Option<String>)> {
    let flag = format!("--{name}");
    let mut rest = Vec::with_capacity(args.len());
    let mut value = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.strip_prefix(flag.as_str()) {
            Some("") => {
                let v = args.next().ok_or_else(|| format!("{flag} takes a value"))?;
                value = Some(v.clone());
            }
            Some(v) if v.starts_with('=') => value = Some(v[1..].to_string()),
            _ => rest.push(arg.clone()),
        }
    }
    Ok((rest, value))
}

/// The suite's arguments without a `--repeat N` given among them, and that N: written after the
/// suite's name it is still the comparison's rounds, not the suite's.
fn rounds_among(suite: &[String]) -> Result<(Vec<String>, Option<usize>)> {
    let (rest, value) = take_flag(suite, "repeat")?;
    let rounds = value
        .map(|v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("--repeat takes a count of 1 or more, not {v:?}"))
        })
        .transpose()?;
    Ok((rest, rounds))
}

/// Compares `a` and `b` on `suite` (its name and arguments), `repeat` runs each.
pub fn run(
    a: &str,
    b: &str,
    suite: &[String],
    repeat: usize,
    cache: &Path,
    json: Option<&Path>,
) -> Result<()> {
    let (suite, rounds) = rounds_among(suite)?;
    let repeat = rounds.unwrap_or(repeat);
    let (suite, json_among) = take_flag(&suite, "json")?;
    let json = json_among.map(PathBuf::from).or(json.map(Path::to_path_buf));
    let (suite, cache_among) = take_flag(&suite, "cache-dir")?;
    let cache = cache_among.map(PathBuf::from).unwrap_or_else(|| cache.to_path_buf());
    let repo = PathBuf::from(git(Path::new("."), &["rev-parse", "--show-toplevel"])?);
    let cache = std::path::absolute(cache)?;
    let sides = [prepare(&repo, &cache, a)?, prepare(&repo, &cache, b)?];
    let scratch = tempfile::tempdir()?;
    let mut figures: [Vec<Figure>; 2] = [Vec::new(), Vec::new()];
    for round in 0..repeat.max(1) {
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            progress(format_args!("round {}/{}: {}", round + 1, repeat, sides[i].rev));
            let file = scratch.path().join(format!("{round}-{i}.json"));
            figures[i].extend(run_once(&sides[i], &cache, &suite, &file)?);
        }
    }
    let mut names: Vec<(String, String)> = Vec::new();
    for f in figures.iter().flatten() {
        if !names.iter().any(|(n, _)| *n == f.name) {
            names.push((f.name.clone(), f.unit.clone()));
        }
    }
    let mut rows = Vec::new();
    for (name, unit) in names {
        let of = |i: usize| {
            Runs::of(figures[i].iter().filter(|f| f.name == name).map(|f| f.value).collect())
        };
        let (Some(a), Some(b)) = (of(0), of(1)) else { continue };
        let ratio = if a.median == 0.0 { f64::NAN } else { b.median / a.median };
        let overlap = a.overlaps(&b);
        println!(
            "{name} {} → {} {unit} ×{ratio:.3} a {}–{} b {}–{} {}",
            a.median,
            b.median,
            a.min,
            a.max,
            b.min,
            b.max,
            if overlap { "overlap" } else { "apart" }
        );
        rows.push(serde_json::json!({
            "name": name, "unit": unit, "a": a.median, "b": b.median, "ratio": ratio,
            "a_min": a.min, "a_max": a.max, "b_min": b.min, "b_max": b.max, "overlap": overlap,
        }));
    }
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)? + "\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_worktree_is_made_newer_than_any_build_but_its_git_and_target() {
        let dir = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let files = ["Cargo.toml", "core/src/lib.rs", ".git", "target/release/bench"];
        for f in files {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, f).unwrap();
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        }
        let before = std::time::SystemTime::now();
        touch_sources(dir.path()).unwrap();
        let modified = |f: &str| std::fs::metadata(dir.path().join(f)).unwrap().modified().unwrap();
        assert!(modified("Cargo.toml") >= before && modified("core/src/lib.rs") >= before);
        assert_eq!(modified("target/release/bench"), old, "the build's own files stay");
        // A worktree's `.git` is a file (a checkout's a folder): left alone either way.
        assert_eq!(modified(".git"), old);
    }

    #[test]
    fn a_repeat_among_the_suites_arguments_is_the_rounds() {
        let (rest, n) =
            rounds_among(&strings(&["store", "--docs", "5000", "--repeat", "4"])).unwrap();
        assert_eq!((rest, n), (strings(&["store", "--docs", "5000"]), Some(4)));
        let (rest, n) = rounds_among(&strings(&["sync", "--repeat=2"])).unwrap();
        assert_eq!((rest, n), (strings(&["sync"]), Some(2)));
        assert_eq!(rounds_among(&strings(&["load"])).unwrap().1, None);
        assert!(rounds_among(&strings(&["load", "--repeat"])).is_err());
        assert!(rounds_among(&strings(&["load", "--repeat", "0"])).is_err());
    }

    #[test]
    fn the_harnesss_own_flags_among_the_suites_arguments_are_taken_out() {
        let args = strings(&["store", "--json", "out.json", "--docs", "5000"]);
        let (rest, json) = take_flag(&args, "json").unwrap();
        assert_eq!(rest, strings(&["store", "--docs", "5000"]));
        assert_eq!(json.as_deref(), Some("out.json"));
        let (rest, dir) =
            take_flag(&strings(&["sync", "--cache-dir=/tmp/c"]), "cache-dir").unwrap();
        assert_eq!((rest, dir.as_deref()), (strings(&["sync"]), Some("/tmp/c")));
        // A flag that only begins the same is the suite's.
        let (rest, json) = take_flag(&strings(&["store", "--jsonl", "x"]), "json").unwrap();
        assert_eq!((rest, json), (strings(&["store", "--jsonl", "x"]), None));
        assert!(take_flag(&strings(&["store", "--json"]), "json").is_err());
    }

    #[test]
    fn each_side_gives_its_median_and_range() {
        let a = Runs::of(vec![0.3, f64::NAN, 0.1, 0.2]).unwrap();
        assert_eq!(a, Runs { median: 0.2, min: 0.1, max: 0.3 });
        let b = Runs::of(vec![0.5, 0.4, 0.35]).unwrap();
        let c = Runs::of(vec![0.25]).unwrap();
        assert!(!a.overlaps(&b) && !b.overlaps(&a));
        assert!(a.overlaps(&c) && c.overlaps(&a));
        assert_eq!(Runs::of(vec![f64::NAN]), None);
    }
}
