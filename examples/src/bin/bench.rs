//! The benchmark harness: `bench <suite> [options]`.
//!
//! Each suite prints one line per figure (`store.edit_p50_ms 0.142 ms`) on stdout, progress on
//! stderr, and with `--json FILE` also writes every figure to FILE. A suite runs `--repeat N`
//! times (3 by default): each figure is the median of the runs, with `name.spread` (largest less
//! smallest) beside it; the runs' own figures go to stderr. Suites cache their seeded fixtures
//! under `target/bench-cache`, so only the first run of a size pays for seeding.
//!
//! `bench compare REV_A REV_B SUITE [ARGS…]` builds both revisions and runs them in turn
//! (`--repeat` rounds), printing each figure's medians and their ratio B/A.
//!
//! ```text
//! cargo run --release -p fieldsync-examples --bin bench -- store [--docs N] [--json FILE]
//! cargo run --release -p fieldsync-examples --bin bench -- sync [--docs N] [--server URL]
//! cargo run --release -p fieldsync-examples --bin bench -- load [--devices N] [--rounds N] [--concurrency N]
//! cargo run --release -p fieldsync-examples --bin bench -- sync --storage postgres://postgres@127.0.0.1/postgres --instances 2
//! cargo run --release -p fieldsync-examples --bin bench -- blobs [--photos N] [--min-kib N] [--max-kib N]
//! cargo run --release -p fieldsync-examples --bin bench -- desk [--reports N] [--desks N] [--pushes N]
//! cargo run --release -p fieldsync-examples --bin bench -- board [--open N] [--pushes N]
//! cargo run --release -p fieldsync-examples --bin bench -- points [--redeemers N] [--each N]
//! cargo run --release -p fieldsync-examples --bin bench -- peer [--docs N] [--skip-2g]
//! cargo run --release -p fieldsync-examples --bin bench -- compare main HEAD store --docs 10000
//! ```
//!
//! `load` exits non-zero if any request failed or was refused (`load.errors`) or the devices did
//! not end up holding what the server holds.
//!
//! `sync` and `load` with `--storage postgres://…` run twice: on SQLite, then on `--instances`
//! servers sharing that PostgreSQL database (in a schema of the run's own, dropped after), the
//! devices spread over the instances; the PostgreSQL figures are named `postgres.…`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use fieldsync_examples::bench::server::Backend;
use fieldsync_examples::bench::{self, Report};
use fieldsync_server::StorageChoice;

// The same allocator as the server binary, with the same options, so the server this harness starts in a child process
// (`bench serve`) behaves, and measures, like the real one.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
fieldsync_server::export_jemalloc_conf!();

/// Measures fieldsync on realistic data.
#[derive(Debug, Parser)]
#[command(name = "bench", version)]
struct Cli {
    /// Also write every figure to FILE as a JSON array of {name, value, unit}.
    #[arg(long, global = true, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Runs of the suite; each figure is their median, with its spread beside it.
    #[arg(long, global = true, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    repeat: u64,
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
    /// Phones and a server over HTTP on loopback: initial sync, reconnect, one change, load,
    /// and the server's memory.
    Sync(SyncArgs),
    /// Devices of real users (residents, patrols, mediators, grid leaders, dispatchers) sync
    /// with a server over several rounds of mixed writes and reads; errors and convergence.
    Load(LoadArgs),
    /// Photos: a phone uploads N camera-sized JPEGs to a server on loopback, another downloads
    /// them and their thumbnails; one upload is cut mid-way and resumed.
    Blobs(BlobsArgs),
    /// The command centre's web page in chromium: time to interactive with N open reports, from
    /// an event to its row, and the size of the page's own code.
    Board(BoardArgs),
    /// Residents redeem points at once against a server on loopback: redemptions per second,
    /// their latency, and that nothing is overspent or oversold.
    Points(PointsArgs),
    /// Two phones meet with no server over loopback TCP: a session that brings N patrol logs
    /// across, its bytes over the changes' own, and the same session over a 2G link.
    Peer(PeerArgs),
    /// Two revisions (commits, branches, tags) built and measured in turn on one suite: each
    /// figure's medians and their ratio B/A.
    Compare(CompareArgs),
    /// Runs a server for the `sync`, `load` and `blobs` suites (started by the suite itself).
    #[command(hide = true)]
    Serve {
        /// Directory of the server's database.
        #[arg(long)]
        data: PathBuf,
        /// Never escalate overdue reports.
        #[arg(long)]
        no_escalation: bool,
        /// Leave the record index as it is on every write (to measure what it costs).
        #[arg(long)]
        no_index_writes: bool,
        /// `sqlite` (in `--data`) or a `postgres://…` URL.
        #[arg(long, default_value = "sqlite")]
        storage: StorageChoice,
    },
    /// The command centre's desk API on a server whose index holds a large jurisdiction:
    /// pages, statistics, live events, and what the index costs the server's throughput.
    Desk(DeskArgs),
}

#[derive(Debug, Args)]
struct SyncArgs {
    /// Records the phones sync (reports, one in forty a warning bulletin).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    docs: u64,
    /// A server started elsewhere (e.g. http://127.0.0.1:8080); by default the suite starts one.
    #[arg(long, value_name = "URL", requires = "server_data")]
    server: Option<String>,
    /// The `--data` directory of that server, on this machine (devices are enrolled there).
    #[arg(long, value_name = "DIR")]
    server_data: Option<PathBuf>,
    /// That server's metrics listener (its `--metrics-listen`, default
    /// http://127.0.0.1:9180), where the changes it accepted and its memory are read.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9180")]
    server_metrics: String,
    /// Simulated devices in the load phase.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    devices: u64,
    /// Simulated devices syncing at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Page size (bytes) the simulated devices ask for, as a phone on a fair link does.
    #[arg(long, default_value_t = 256 * 1024, value_parser = clap::value_parser!(u32).range(1..))]
    page_bytes: u32,
    /// Documents stored on the server when its memory is read; 0 skips that phase.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    rss_docs: u64,
    /// Reports in the grid a leader's phone holds before the scope change (`sync.rescope_*`).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    rescope_held: u64,
    /// Reports in the grid the scope change adds; 0 skips that phase.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    rescope_added: u64,
    /// Seed new phone fixtures even if cached ones exist.
    #[arg(long)]
    fresh: bool,
    /// The suite's server leaves the record index as it is on every write (what the index
    /// costs these figures; the desk answers wrongly on such a server).
    #[arg(long, conflicts_with = "server")]
    no_index_writes: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Where the `sync` and `load` suites' servers keep their data.
#[derive(Debug, Args)]
struct StorageArgs {
    /// Also run the suite on PostgreSQL (`postgres://user@host:port/database`), after SQLite:
    /// in a schema made for the run and dropped after, its figures named `postgres.…`.
    #[arg(long, value_name = "URL")]
    storage: Option<String>,
    /// Server processes sharing the PostgreSQL database; the devices are spread over them in
    /// turn, as a load balancer would.
    #[arg(long, default_value_t = 2, requires = "storage", value_parser = clap::value_parser!(u64).range(1..=64))]
    instances: u64,
    /// Run on PostgreSQL only (no SQLite run before it).
    #[arg(long, requires = "storage")]
    postgres_only: bool,
}

impl StorageArgs {
    /// The backends to run on, in order.
    fn backends(&self) -> bench::Result<Vec<Backend>> {
        let Some(url) = &self.storage else { return Ok(vec![Backend::Sqlite]) };
        if !matches!(url.parse::<StorageChoice>()?, StorageChoice::Postgres(_)) {
            return Ok(vec![Backend::Sqlite]);
        }
        let postgres = Backend::Postgres { url: url.clone(), instances: self.instances as usize };
        Ok(if self.postgres_only { vec![postgres] } else { vec![Backend::Sqlite, postgres] })
    }
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// Simulated devices.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    devices: u64,
    /// Rounds per device (write, pull, visible or reconcile, in turn).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    rounds: u64,
    /// Devices in a round at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Page size (bytes) the devices ask for.
    #[arg(long, default_value_t = 32 * 1024, value_parser = clap::value_parser!(u32).range(1..))]
    page_bytes: u32,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Args)]
struct BlobsArgs {
    /// Photos uploaded and downloaded.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    photos: u64,
    /// Smallest photo, KiB.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=20_480))]
    min_kib: u64,
    /// Largest photo, KiB (also the size of the photo whose upload is cut).
    #[arg(long, default_value_t = 5120, value_parser = clap::value_parser!(u64).range(1..=20_000))]
    max_kib: u64,
    /// Uploads cut once mid-way and resumed (each a new photo of the largest size).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    resume_trials: u64,
}

#[derive(Debug, Args)]
struct DeskArgs {
    /// Reports in the server's index (patrol logs a tenth of it, mediation cases a fiftieth).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..=10_000_000))]
    reports: u64,
    /// Desks connected to the live event stream.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    desks: u64,
    /// Reports a phone pushes while the desks listen.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pushes: u64,
    /// Simulated devices per throughput run of `desk.index_overhead` (0 skips it).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    overhead_devices: u64,
    /// Seed a new fixture even if a cached one exists.
    #[arg(long)]
    fresh: bool,
}

#[derive(Debug, Args)]
struct BoardArgs {
    /// Open reports in the dispatcher's scope.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    open: u64,
    /// Reports a phone pushes while the board is open.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pushes: u64,
    /// Seed a new fixture even if a cached one exists.
    #[arg(long)]
    fresh: bool,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// The revision measured first (the baseline).
    a: String,
    /// The revision compared with it.
    b: String,
    /// The suite and its arguments (`store --docs 10000`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    suite: Vec<String>,
}

#[derive(Debug, Args)]
struct PointsArgs {
    /// Residents redeeming at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    redeemers: u64,
    /// Redemptions each resident attempts (each sent twice, as a retry would).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    each: u64,
}

#[derive(Debug, Args)]
struct PeerArgs {
    /// Patrol logs the session brings across.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    docs: u64,
    /// Leave out the session over the 2G link emulator (it takes a minute or two).
    #[arg(long)]
    skip_2g: bool,
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// Records in the store (60% reports, 25% patrol logs, 7.5% mediation cases, 2.5% each of
    /// bulletins, visits and deliberations).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    docs: u64,
    /// Seed a new fixture even if a cached one exists.
    #[arg(long)]
    fresh: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cache_dir = cli.cache_dir.clone().unwrap_or_else(bench::default_cache_dir);
    let repeat = cli.repeat as usize;
    let (outcome, report) = match &cli.suite {
        Suite::Compare(args) => {
            let done = bench::compare::run(
                &args.a,
                &args.b,
                &args.suite,
                repeat,
                &cache_dir,
                cli.json.as_deref(),
            );
            return finish(done);
        }
        Suite::Serve { .. } => {
            let mut report = Report::new();
            (run_suite(&cli, cache_dir, &mut report), report)
        }
        _ if repeat == 1 => {
            let mut report = Report::new();
            (run_suite(&cli, cache_dir, &mut report), report)
        }
        _ => {
            let mut runs = Vec::with_capacity(repeat);
            let mut outcome = Ok(());
            for run in 1..=repeat {
                let mut report = Report::run(run, repeat);
                outcome = run_suite(&cli, cache_dir.clone(), &mut report);
                runs.push(report);
                if outcome.is_err() {
                    break;
                }
            }
            (outcome, Report::combine(&runs))
        }
    };
    // Whatever was measured before a failure is still worth keeping.
    let written = match &cli.json {
        Some(path) => report.write_json(path),
        None => Ok(()),
    };
    finish(outcome.and(written))
}

fn finish(outcome: bench::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the suite the command line names once, recording into `report`.
fn run_suite(cli: &Cli, cache_dir: PathBuf, report: &mut Report) -> bench::Result<()> {
    match &cli.suite {
        Suite::Store(args) => usize::try_from(args.docs)
            .map_err(|e| bench::Error::from(format!("--docs {}: {e}", args.docs)))
            .and_then(|docs| {
                bench::store::run(
                    &bench::store::Options { docs, cache_dir, fresh: args.fresh },
                    report,
                )
            }),
        Suite::Sync(args) if args.server.is_some() && args.storage.storage.is_some() => {
            Err("--server measures a server started elsewhere; --storage is for the suite's own"
                .into())
        }
        Suite::Sync(args) => bench::sync::run(
            &bench::sync::Options {
                backends: args.storage.backends()?,
                docs: args.docs as usize,
                devices: args.devices as usize,
                concurrency: args.concurrency as usize,
                page_bytes: args.page_bytes,
                rss_docs: args.rss_docs as usize,
                server: args.server.clone(),
                server_data: args.server_data.clone(),
                server_metrics: args.server_metrics.clone(),
                cache_dir,
                fresh: args.fresh,
                no_index_writes: args.no_index_writes,
                rescope: (args.rescope_added > 0).then_some(bench::sync::rescope::Sizes {
                    held: args.rescope_held as usize,
                    added: args.rescope_added as usize,
                }),
            },
            report,
        ),
        Suite::Load(args) => bench::load::run(
            &bench::load::Options {
                backends: args.storage.backends()?,
                devices: args.devices as usize,
                rounds: args.rounds as usize,
                concurrency: args.concurrency as usize,
                page_bytes: args.page_bytes,
            },
            report,
        ),
        Suite::Blobs(args) => bench::blobs::run(
            &bench::blobs::Options {
                photos: args.photos as usize,
                min_bytes: args.min_kib * 1024,
                max_bytes: args.max_kib * 1024,
                resume_trials: args.resume_trials,
                cache_dir,
            },
            report,
        ),
        Suite::Desk(args) => bench::desk::run(
            &bench::desk::Options {
                reports: args.reports as usize,
                desks: args.desks as usize,
                pushes: args.pushes as usize,
                overhead_devices: args.overhead_devices as usize,
                cache_dir,
                fresh: args.fresh,
            },
            report,
        ),
        Suite::Points(args) => bench::points::run(
            &bench::points::Options {
                redeemers: args.redeemers as usize,
                each: args.each as usize,
            },
            report,
        ),
        Suite::Peer(args) => bench::peer::run(
            &bench::peer::Options { docs: args.docs as usize, two_g: !args.skip_2g },
            report,
        ),
        Suite::Board(args) => bench::board::run(
            &bench::board::Options {
                open: args.open as usize,
                pushes: args.pushes as usize,
                cache_dir,
                fresh: args.fresh,
            },
            report,
        ),
        Suite::Serve { data, no_escalation, no_index_writes, storage } => {
            bench::server::serve_child(
                data.clone(),
                storage.clone(),
                bench::server::ServeOptions {
                    no_escalation: *no_escalation,
                    no_index_writes: *no_index_writes,
                },
            )
        }
        Suite::Compare(_) => Err("compare runs suites; it is not one".into()),
    }
}
