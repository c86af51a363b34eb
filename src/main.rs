//! The `otsd` command line: parses flags (each also readable from an `OTSD_*` variable) and
//! hands over to `otsd::cli`. `otsd serve` runs the server;
//! `otsd bench` drives a running one with load.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: the request path allocates many small, short-lived
/// buffers, and glibc spent a fifth of server CPU on them (consolidating free lists).
/// jemalloc and mimalloc's older v2 were both slower on 20-row pages (1.8 and 3.7 µs more
/// server CPU per page in paired wrk runs, 2026-12-03). A per-thread cache of small freed
/// blocks in front of it (`thread_cache`) took another 14% off a 20-row page.
#[global_allocator]
static GLOBAL: otsd::thread_cache::CachedMiMalloc = otsd::thread_cache::CachedMiMalloc;

/// A Tablestore-compatible server on its own LSM storage engine.
#[derive(Debug, Parser)]
#[command(name = "otsd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the Tablestore wire protocol over HTTP until SIGINT/SIGTERM.
    Serve(otsd::cli::serve::ServeArgs),
    /// Load-test a running otsd (or Tablestore) with PutRow/GetRow/GetRange/BatchWriteRow.
    Bench(otsd::cli::bench::BenchArgs),
    /// IM Timeline demo (checked deliveries) and fan-out benchmark against a running otsd.
    Im(otsd::cli::im::ImArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => otsd::cli::serve::run(args),
        Command::Bench(args) => otsd::cli::bench::run(args),
        Command::Im(args) => otsd::cli::im::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Not `eprintln!`: it panics when stderr cannot be written (a log on a full
            // disk), and the exit code must still say what happened.
            let _ = writeln!(std::io::stderr(), "otsd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
