//! The figures a run measured: printed one per line as they come, and written as JSON at the end.
//!
//! A line is `name value unit` (`store.edit_p50_ms 0.142 ms`), stable enough for a script to grep
//! and compare between runs; the JSON file holds the same figures as an array of
//! `{"name", "value", "unit"}` objects.
//!
//! A suite run several times (`--repeat N`) records each run's figures in a [`Report::run`] of
//! its own, shown on stderr as they come; [`Report::combine`] then gives each figure as the
//! median of the runs, with `name.spread` beside it (largest less smallest, same unit), so one
//! slow moment of a noisy machine moves the figure by one rank, not by its whole size.

use std::fmt;
use std::io::Write;
use std::path::Path;

use super::Result;

/// The unit of a figure; it also decides how many decimals are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds, three decimals.
    Ms,
    /// Seconds, one decimal.
    Seconds,
    /// Bytes, whole.
    Bytes,
    /// A count, whole.
    Count,
    /// Operations per second, whole.
    PerSecond,
    /// A ratio of two like quantities, three decimals.
    Ratio,
    /// Kibibytes, one decimal.
    Kib,
    /// Mebibytes, one decimal.
    Mb,
    /// Mebibytes per second, one decimal.
    MbPerSecond,
}

impl Unit {
    /// How the unit is written after the value.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Seconds => "s",
            Unit::Bytes => "bytes",
            Unit::Count => "count",
            Unit::PerSecond => "per_s",
            Unit::Ratio => "ratio",
            Unit::Kib => "KiB",
            Unit::Mb => "MiB",
            Unit::MbPerSecond => "MiB_per_s",
        }
    }

    /// Decimals shown (and kept in the JSON file).
    pub fn decimals(self) -> usize {
        match self {
            Unit::Ms | Unit::Ratio => 3,
            Unit::Seconds | Unit::Kib | Unit::Mb | Unit::MbPerSecond => 1,
            Unit::Bytes | Unit::Count | Unit::PerSecond => 0,
        }
    }

    fn round(self, value: f64) -> f64 {
        let scale = 10f64.powi(self.decimals() as i32);
        (value * scale).round() / scale
    }
}

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Dotted name, suite first: `store.edit_p50_ms`.
    pub name: String,
    /// The value, rounded to the unit's decimals.
    pub value: f64,
    /// Its unit.
    pub unit: Unit,
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:.*} {}", self.name, self.unit.decimals(), self.value, self.unit.as_str())
    }
}

/// Collects the figures of a run, printing each as it is recorded: to stdout, or for one run of
/// several to stderr, marked with the run.
#[derive(Debug, Default)]
pub struct Report {
    figures: Vec<Figure>,
    /// For one run of several: which, of how many.
    run: Option<(usize, usize)>,
    /// Put before every name recorded from now on (`postgres.`), so that the figures of a
    /// second backend measured in the same run stand beside the first's.
    prefix: String,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Report::default()
    }

    /// An empty report of run `run` (from 1) of `of`, whose figures are progress, not results.
    pub fn run(run: usize, of: usize) -> Self {
        Report { figures: Vec::new(), run: Some((run, of)), prefix: String::new() }
    }

    /// Puts `prefix` before the name of every figure recorded from now on (`""`: none).
    pub fn set_prefix(&mut self, prefix: &str) {
        self.prefix = prefix.to_string();
    }

    /// Records a figure and prints its line.
    pub fn record(&mut self, name: impl Into<String>, value: f64, unit: Unit) {
        let name = format!("{}{}", self.prefix, name.into());
        let figure = Figure { name, value: unit.round(value), unit };
        match self.run {
            Some((run, of)) => eprintln!("[bench] run {run}/{of}: {figure}"),
            None => {
                println!("{figure}");
                // A figure should reach a terminal or a pipe before a long step that follows it.
                let _ = std::io::stdout().flush();
            }
        }
        self.figures.push(figure);
    }

    /// The figures of several runs combined, printed: each figure's median over the runs that
    /// measured it (the upper middle of an even count, a value that was measured), then its
    /// spread as `name.spread` when more than one run measured it.
    pub fn combine(runs: &[Report]) -> Report {
        let mut out = Report::new();
        let mut names: Vec<(&str, Unit)> = Vec::new();
        for f in runs.iter().flat_map(|r| &r.figures) {
            if !names.iter().any(|(n, _)| *n == f.name) {
                names.push((&f.name, f.unit));
            }
        }
        for (name, unit) in names {
            let mut values: Vec<f64> = runs
                .iter()
                .flat_map(|r| r.figures.iter().filter(|f| f.name == name).map(|f| f.value))
                .filter(|v| !v.is_nan())
                .collect();
            values.sort_by(f64::total_cmp);
            let Some(median) = values.get(values.len() / 2).copied() else { continue };
            out.record(name, median, unit);
            if values.len() > 1 {
                let spread = values[values.len() - 1] - values[0];
                out.record(format!("{name}.spread"), spread, unit);
            }
        }
        out
    }

    /// The figures recorded so far, in order.
    pub fn figures(&self) -> &[Figure] {
        &self.figures
    }

    /// The figures as a JSON array of `{"name", "value", "unit"}` objects.
    pub fn to_json(&self) -> serde_json::Value {
        self.figures
            .iter()
            .map(|f| serde_json::json!({ "name": f.name, "value": f.value, "unit": f.unit.as_str() }))
            .collect()
    }

    /// Writes [`Report::to_json`] to `path`, pretty-printed.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json_agree() {
        let mut r = Report::new();
        r.record("store.edit_p50_ms", 0.142_49, Unit::Ms);
        r.record("store.bytes_per_doc", 1234.6, Unit::Bytes);
        assert_eq!(r.figures()[0].to_string(), "store.edit_p50_ms 0.142 ms");
        assert_eq!(r.figures()[1].to_string(), "store.bytes_per_doc 1235 bytes");
        let json = r.to_json();
        assert_eq!(json[0]["name"], "store.edit_p50_ms");
        assert_eq!(json[0]["value"], 0.142);
        assert_eq!(json[1]["unit"], "bytes");
        r.set_prefix("postgres.");
        r.record("server.p99_ms", 12.0, Unit::Ms);
        assert_eq!(r.figures()[2].to_string(), "postgres.server.p99_ms 12.000 ms");
    }

    #[test]
    fn repeated_runs_give_the_median_and_the_spread() {
        let mut runs = Vec::new();
        for (n, (edit, rate)) in
            [(0.30, 900.0), (0.10, 1100.0), (0.20, 1000.0)].into_iter().enumerate()
        {
            let mut r = Report::run(n + 1, 3);
            r.record("store.edit_p50_ms", edit, Unit::Ms);
            r.record("sync.docs_per_s", rate, Unit::PerSecond);
            runs.push(r);
        }
        // A figure only the last run measured (a phase the others failed before).
        runs[2].record("sync.late_ms", 5.0, Unit::Ms);
        let lines: Vec<String> =
            Report::combine(&runs).figures().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "store.edit_p50_ms 0.200 ms",
                "store.edit_p50_ms.spread 0.200 ms",
                "sync.docs_per_s 1000 per_s",
                "sync.docs_per_s.spread 200 per_s",
                "sync.late_ms 5.000 ms",
            ]
        );
    }
}
