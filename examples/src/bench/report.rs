//! The figures a run measured: printed one per line as they come, and written as JSON at the end.
//!
//! A line is `name value unit` (`store.edit_p50_ms 0.142 ms`), stable enough for a script to grep
//! and compare between runs; the JSON file holds the same figures as an array of
//! `{"name", "value", "unit"}` objects.

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

/// Collects the figures of a run, printing each to stdout as it is recorded.
#[derive(Debug, Default)]
pub struct Report {
    figures: Vec<Figure>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Report::default()
    }

    /// Records a figure and prints its line.
    pub fn record(&mut self, name: impl Into<String>, value: f64, unit: Unit) {
        let figure = Figure { name: name.into(), value: unit.round(value), unit };
        println!("{figure}");
        // A figure should reach a terminal or a pipe before a long step that follows it.
        let _ = std::io::stdout().flush();
        self.figures.push(figure);
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
    }
}
