//! `otsd serve`: opens the catalog, binds the listener, prints where and how to connect,
//! serves until SIGINT/SIGTERM, drains in-flight requests and closes (flushes) the catalog.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::config::{
    ServerConfig, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_DATA_DIR,
    DEFAULT_LISTEN, MAX_DATE_SKEW,
};
use crate::engine::{self, SyncPolicy};
use crate::server::{self, ServerState};
use crate::table::Catalog;

/// Flags of `otsd serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the banner prints the real one).
    #[arg(long, env = "OTSD_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Directory holding all instances and tables; created if missing.
    #[arg(long, env = "OTSD_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Access key id clients must sign with.
    #[arg(long, env = "OTSD_ACCESS_KEY_ID", default_value = DEFAULT_ACCESS_KEY_ID)]
    pub access_key_id: String,
    /// Access key secret clients must sign with.
    #[arg(long, env = "OTSD_ACCESS_KEY_SECRET", default_value = DEFAULT_ACCESS_KEY_SECRET)]
    pub access_key_secret: String,
    /// Largest accepted difference in seconds between x-ots-date and the server clock; 0
    /// disables the check (replaying recorded requests).
    #[arg(long, env = "OTSD_DATE_SKEW_SECS", default_value_t = MAX_DATE_SKEW.as_secs())]
    pub date_skew_secs: u64,
    /// Log filter in RUST_LOG syntax, e.g. `info` or `otsd=debug` (per-request lines are debug).
    #[arg(long, env = "OTSD_LOG", default_value = "info")]
    pub log: String,
    /// When the write-ahead log reaches the disk: `always` (fsync before acknowledging,
    /// concurrent writers sharing one fsync), `<N>ms` (fsync every N ms in the background; a
    /// machine crash may lose that much), or `never` (benchmarks only: the OS decides).
    #[arg(long, env = "OTSD_WAL_SYNC", default_value = "always", value_parser = parse_wal_sync)]
    pub wal_sync: SyncPolicy,
    /// Memory all tables' memtables may hold together, in MiB. Each table seals its memtable
    /// at 64 MiB; past this total, tables seal theirs early so flushes free the memory.
    #[arg(long, env = "OTSD_WRITE_BUFFER_MIB", default_value_t = DEFAULT_WRITE_BUFFER_MIB,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub write_buffer_mib: u64,
    /// Threads serving connections, each a single-threaded runtime that keeps its
    /// connections; 0 starts two per core.
    #[arg(long, env = "OTSD_WORKERS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=1024))]
    pub workers: u64,
}

/// Default of `--write-buffer-mib`: four full memtables.
pub const DEFAULT_WRITE_BUFFER_MIB: u64 = 256;

/// The memtable budget of `--write-buffer-mib` in bytes.
fn write_buffer_bytes(args: &ServeArgs) -> usize {
    // The flag's range caps it at 2^20 MiB, so the shift cannot overflow a u64.
    usize::try_from(args.write_buffer_mib << 20).unwrap_or(usize::MAX)
}

/// Parses `--wal-sync`: `always`, `never` or a period such as `100ms`.
fn parse_wal_sync(text: &str) -> Result<SyncPolicy, String> {
    match text {
        "always" => Ok(SyncPolicy::Always),
        "never" => Ok(SyncPolicy::Never),
        _ => match text.strip_suffix("ms").map(str::parse::<u64>) {
            Some(Ok(ms)) if ms > 0 => Ok(SyncPolicy::Periodic(Duration::from_millis(ms))),
            _ => Err(format!(
                "'{text}' is not always, never or a period like 100ms"
            )),
        },
    }
}

/// Runs the server until a shutdown signal, then exits cleanly.
///
/// # Errors
/// The log filter is invalid, the data directory cannot be opened, the address cannot be
/// bound, or the final flush fails.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    super::init_tracing(&args.log)?;
    raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("otsd-worker")
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.clone();
    let engine_options = engine::Options {
        sync: args.wal_sync,
        write_buffer: engine::WriteBufferBudget::new(write_buffer_bytes(&args)),
        ..engine::Options::default()
    };
    let catalog =
        tokio::task::spawn_blocking(move || Catalog::open_with(&data_dir, engine_options))
            .await
            .context("catalog open task failed")?
            .map_err(|e| {
                // The message is for the operator; the Tablestore code adds nothing here.
                let dir = args.data_dir.display();
                anyhow::anyhow!("cannot open data dir {dir}: {}", e.message)
            })?;
    let catalog = Arc::new(catalog);

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener
        .local_addr()
        .context("listener has no local address")?;
    let shutdown = shutdown_signal();
    // `print!` panics when stdout cannot be written (a log file on a full disk): the
    // banner is a courtesy, so a failed write is passed over.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(banner(bound, &args).as_bytes())
        .and_then(|()| stdout.flush());
    drop(stdout);

    let state = Arc::new(ServerState {
        catalog: Arc::clone(&catalog),
        config: server_config(&args),
    });
    server::run(listener, state, shutdown)
        .await
        .context("server failed")?;

    tracing::info!("flushing tables");
    let closing = Arc::clone(&catalog);
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .context("catalog close task failed")?
        .map_err(|e| anyhow::anyhow!("flush on shutdown failed: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// Raises the soft limit on open files to the hard limit. Every table holds a few files
/// open (WAL, manifest, lock) and every client a socket, so the common soft default of 1024
/// would cap a server at a few hundred tables; the hard limit is what the system allows.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0
        || limit.rlim_cur >= limit.rlim_max
    {
        return;
    }
    let raised = libc::rlimit {
        rlim_cur: limit.rlim_max,
        ..limit
    };
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        tracing::debug!(
            from = limit.rlim_cur,
            to = raised.rlim_cur,
            "raised the open file limit"
        );
    } else {
        tracing::warn!(limit = limit.rlim_cur, "cannot raise the open file limit");
    }
}

/// The server's keys and limits from the flags.
fn server_config(args: &ServeArgs) -> ServerConfig {
    let mut config =
        ServerConfig::with_key(args.access_key_id.clone(), args.access_key_secret.clone());
    config.max_date_skew = match args.date_skew_secs {
        0 => None,
        secs => Some(Duration::from_secs(secs)),
    };
    // The flag's range caps it at 1024.
    config.connection_workers = args.workers as usize;
    config
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: the server must own both signals before
/// it announces itself, or a client that stops it right after start-up kills it instead.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGINT"))
        .ok();
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGTERM; use Ctrl-C"))
        .ok();
    async move {
        // A signal that could not be registered never fires.
        let interrupted = async {
            match interrupt.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let terminated = async {
            match terminate.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = interrupted => {}
            _ = terminated => {}
        }
        tracing::info!("shutdown signal received");
    }
}

/// The start-up text: endpoint (a line `listening on http://ADDR` that tests parse), keys,
/// and snippets to paste into Python and Node.
fn banner(bound: SocketAddr, args: &ServeArgs) -> String {
    // A wildcard bind is reachable on loopback; clients cannot connect to 0.0.0.0 or [::].
    let reachable = if bound.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
    } else {
        bound
    };
    let endpoint = format!("http://{reachable}");
    let (id, secret) = (&args.access_key_id, &args.access_key_secret);
    let (q_endpoint, q_id, q_secret) = (quoted(&endpoint), quoted(id), quoted(secret));
    format!(
        "otsd {version} listening on {endpoint}\n\
         \x20 bound to:   {bound}\n\
         \x20 data dir:   {data_dir}\n\
         \x20 instance:   any instance name works (each name holds its own tables)\n\
         \x20 access key: {id} / {secret}\n\
         \n\
         Python:\n\
         \x20 from tablestore import OTSClient\n\
         \x20 client = OTSClient({q_endpoint}, {q_id}, {q_secret}, 'demo')\n\
         \n\
         Node:\n\
         \x20 const TableStore = require('tablestore');\n\
         \x20 const client = new TableStore.Client({{accessKeyId: {q_id}, secretAccessKey: {q_secret}, endpoint: {q_endpoint}, instancename: 'demo'}});\n\
         \n",
        version = env!("CARGO_PKG_VERSION"),
        data_dir = args.data_dir.display(),
    )
}

/// A single-quoted string literal valid in both Python and JavaScript.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs {
            listen: "0.0.0.0:0".parse().expect("addr"),
            data_dir: PathBuf::from("/tmp/d"),
            access_key_id: "otsd".into(),
            access_key_secret: "it's".into(),
            date_skew_secs: 0,
            log: "info".into(),
            wal_sync: SyncPolicy::Always,
            write_buffer_mib: DEFAULT_WRITE_BUFFER_MIB,
            workers: 0,
        }
    }

    #[test]
    fn workers_default_to_two_per_core() {
        let config = server_config(&args());
        assert_eq!(config.connection_workers, 0);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert_eq!(config.worker_count(), 2 * cores);
        let three = server_config(&ServeArgs {
            workers: 3,
            ..args()
        });
        assert_eq!(three.worker_count(), 3);
    }

    #[test]
    fn wal_sync_takes_always_never_or_a_period() {
        assert_eq!(parse_wal_sync("always"), Ok(SyncPolicy::Always));
        assert_eq!(parse_wal_sync("never"), Ok(SyncPolicy::Never));
        assert_eq!(
            parse_wal_sync("250ms"),
            Ok(SyncPolicy::Periodic(Duration::from_millis(250)))
        );
        for bad in ["0ms", "fast", "10s", ""] {
            assert!(parse_wal_sync(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn write_buffer_is_given_in_mib_and_must_be_positive() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let parse = |argv: &[&str]| Cli::try_parse_from(argv).map(|c| c.serve);
        let default = parse(&["serve"]).expect("defaults parse");
        assert_eq!(write_buffer_bytes(&default), 256 << 20);
        let custom = parse(&["serve", "--write-buffer-mib", "8"]).expect("parses");
        assert_eq!(write_buffer_bytes(&custom), 8 << 20);
        for bad in ["0", "-1", "lots", "2000000"] {
            assert!(
                parse(&["serve", "--write-buffer-mib", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn zero_date_skew_disables_the_check() {
        assert_eq!(server_config(&args()).max_date_skew, None);
        let mut strict = args();
        strict.date_skew_secs = 60;
        assert_eq!(
            server_config(&strict).max_date_skew,
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn banner_names_the_reachable_endpoint_keys_and_snippets() {
        let text = banner("0.0.0.0:8801".parse().expect("addr"), &args());
        assert!(
            text.contains("listening on http://127.0.0.1:8801\n"),
            "{text}"
        );
        assert!(text.contains("OTSClient('http://127.0.0.1:8801', 'otsd', 'it\\'s', 'demo')"));
        assert!(text.contains("new TableStore.Client({accessKeyId: 'otsd'"));
        assert!(text.contains("any instance name works"));
    }

    #[test]
    fn quoted_escapes_quotes_and_backslashes() {
        assert_eq!(quoted(r"a'b\c"), r"'a\'b\\c'");
    }
}
