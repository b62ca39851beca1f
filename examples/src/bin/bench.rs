//! The benchmark harness: `bench <suite> [options]`.
//!
//! Each suite prints one line per figure (`store.edit_p50_ms 0.142 ms`) on stdout, progress on
//! stderr, and with `--json FILE` also writes every figure to FILE. Suites cache their seeded
//! fixtures under `target/bench-cache`, so only the first run of a size pays for seeding.
//!
//! ```text
//! cargo run --release -p fieldsync-examples --bin bench -- store [--docs N] [--json FILE]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use fieldsync_examples::bench::{self, Report};

/// Measures fieldsync on realistic data.
#[derive(Debug, Parser)]
#[command(name = "bench", version)]
struct Cli {
    /// Also write every figure to FILE as a JSON array of {name, value, unit}.
    #[arg(long, global = true, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Where seeded fixtures are cached [default: target/bench-cache].
    #[arg(long, global = true, value_name = "DIR", env = "FIELDSYNC_BENCH_CACHE")]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    suite: Suite,
}

#[derive(Debug, Subcommand)]
enum Suite {
    /// The phone store: open, create, edit, query, search and size, on N records.
    Store(StoreArgs),
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// Records in the store (60% reports, 25% patrol logs, 15% mediation cases).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    docs: u64,
    /// Seed a new fixture even if a cached one exists.
    #[arg(long)]
    fresh: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut report = Report::new();
    let cache_dir = cli.cache_dir.clone().unwrap_or_else(bench::default_cache_dir);
    let outcome = match &cli.suite {
        Suite::Store(args) => usize::try_from(args.docs)
            .map_err(|e| bench::Error::from(format!("--docs {}: {e}", args.docs)))
            .and_then(|docs| {
                bench::store::run(
                    &bench::store::Options { docs, cache_dir, fresh: args.fresh },
                    &mut report,
                )
            }),
    };
    // Whatever was measured before a failure is still worth keeping.
    let written = match &cli.json {
        Some(path) => report.write_json(path),
        None => Ok(()),
    };
    match outcome.and(written) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
