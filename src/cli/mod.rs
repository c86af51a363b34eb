//! Bodies of the `otsd` subcommands; `main.rs` only parses flags and calls in here.
//! `serve` runs the server; other subcommands live beside it in their own files.

pub mod bench;
pub mod im;
pub mod report;
pub mod serve;

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Installs the tracing subscriber on stderr with a `RUST_LOG`-style filter such as `info`
/// or `otsd=debug,hyper=warn`. Stdout stays free for the start-up banner.
///
/// # Errors
/// The filter does not parse.
pub fn init_tracing(filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid --log filter '{filter}': {e}"))?;
    // A second call (tests, nested commands) keeps the first subscriber. A log line that
    // cannot be written (stderr on a full disk) is dropped: reporting that failure, the
    // subscriber would `eprintln!` to the same stderr, which panics when it fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false)
        .try_init();
    Ok(())
}
