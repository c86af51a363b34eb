//! `otsd bench`: a load generator over the Rust client. Runs one operation (put, get, range,
//! batch-write) from many concurrent tasks for a duration or a request count against a
//! running server, and reports throughput and hdrhistogram latency percentiles (text or JSON).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde::Serialize;

use crate::cli::report::{new_histogram, progress_bar, record_since, RunProgress};
use crate::client::{Client, ClientConfig, ClientError, Condition, RetryPolicy, RowWrite};
use crate::config::{DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_LISTEN};
use crate::protocol::pb;
use crate::protocol::plainbuffer::{Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row};

/// The primary-key column of the bench table (one STRING column).
pub const PK_COLUMN: &str = "id";
/// The attribute column every bench row carries.
pub const VALUE_COLUMN: &str = "v";
/// Most rows Tablestore accepts in one BatchWriteRow.
const MAX_BATCH_ROWS: usize = 200;

/// The operation a bench run repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchOp {
    /// PutRow of one random key with a `--value-size` byte value.
    Put,
    /// GetRow of one random key.
    Get,
    /// GetRange of up to `--batch-size` rows from a random key.
    Range,
    /// BatchWriteRow of `--batch-size` random keys.
    BatchWrite,
}

/// Flags of `otsd bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Server endpoint.
    #[arg(long, env = "OTSD_ENDPOINT", default_value_t = format!("http://{DEFAULT_LISTEN}"))]
    pub endpoint: String,
    /// Instance to address.
    #[arg(long, default_value = "bench")]
    pub instance: String,
    /// Access key id to sign with.
    #[arg(long, env = "OTSD_ACCESS_KEY_ID", default_value = DEFAULT_ACCESS_KEY_ID)]
    pub access_key_id: String,
    /// Access key secret to sign with.
    #[arg(long, env = "OTSD_ACCESS_KEY_SECRET", default_value = DEFAULT_ACCESS_KEY_SECRET)]
    pub access_key_secret: String,
    /// Table to use; created (one STRING primary key `id`) if missing.
    #[arg(long, default_value = "bench")]
    pub table: String,
    /// Operation to repeat.
    #[arg(long, value_enum, default_value = "put")]
    pub op: BenchOp,
    /// Requests in flight at once (also the connection pool size).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// How long to run, e.g. `10s`, `500ms`, `2m`; ignored when `--requests` is given.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Stop after this many requests instead of after `--duration`.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Size of the key space: keys are drawn uniformly from `0..rows`.
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
    /// Bytes of the value column of written rows.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Rows per BatchWriteRow (at most 200) and the GetRange limit.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// GetRange reads backward (toward smaller keys) from the random key, as history paging
    /// does, instead of forward.
    #[arg(long)]
    pub backward: bool,
    /// Write every key of `--rows` before measuring (automatic for get/range on a table this
    /// run created).
    #[arg(long)]
    pub prefill: bool,
    /// Do not retry failed requests (count them as errors at once).
    #[arg(long)]
    pub no_retry: bool,
    /// Seed of the key generator, for repeatable runs.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Tokio worker threads of the load generator (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parses `10s`, `250ms`, `2m`, `1h` or a bare number of seconds.
///
/// # Errors
/// The number or unit is not one of those.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration '{text}': expected e.g. 10s, 500ms, 2m"))?;
    let secs = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("invalid duration unit '{other}' in '{text}'")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration '{text}': {e}"))
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Slowest request.
    pub max_us: u64,
    /// Arithmetic mean.
    pub mean_us: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
        }
    }
}

/// The outcome of one bench run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The operation measured.
    pub op: BenchOp,
    /// Server endpoint.
    pub endpoint: String,
    /// Table used.
    pub table: String,
    /// Concurrent requests.
    pub concurrency: usize,
    /// Key space size.
    pub rows: u64,
    /// Value bytes per written row.
    pub value_size: usize,
    /// Rows per batch / range limit.
    pub batch_size: usize,
    /// Wall time of the measured phase in seconds.
    pub elapsed_secs: f64,
    /// Requests completed (successes and failures).
    pub requests: u64,
    /// Requests that failed after retries.
    pub errors: u64,
    /// Failures by error code (or transport error kind).
    pub errors_by_code: BTreeMap<String, u64>,
    /// Retries the client made.
    pub retries: u64,
    /// Rows written or read by successful requests.
    pub rows_touched: u64,
    /// Requests per second.
    pub requests_per_sec: f64,
    /// Rows per second.
    pub rows_per_sec: f64,
    /// Latency of every request, failures included.
    pub latency: Latency,
}

impl Report {
    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let l = &self.latency;
        let mut out = format!(
            "otsd bench: op={:?} endpoint={} table={} concurrency={} rows={} value_size={} \
             batch_size={}\n\
             requests: {} in {:.2}s, errors {}, retries {}\n\
             throughput: {:.1} req/s, {:.1} rows/s\n\
             latency (us): p50 {} | p90 {} | p99 {} | p99.9 {} | max {} | mean {:.1}\n",
            self.op,
            self.endpoint,
            self.table,
            self.concurrency,
            self.rows,
            self.value_size,
            self.batch_size,
            self.requests,
            self.elapsed_secs,
            self.errors,
            self.retries,
            self.requests_per_sec,
            self.rows_per_sec,
            l.p50_us,
            l.p90_us,
            l.p99_us,
            l.p999_us,
            l.max_us,
            l.mean_us,
        );
        for (code, n) in &self.errors_by_code {
            out.push_str(&format!("  error {code}: {n}\n"));
        }
        out
    }
}

/// Runs the bench and prints its report (text, or JSON with `--json`).
///
/// # Errors
/// As `execute`, and when every request failed.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let report = execute(&args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    if report.requests > 0 && report.errors == report.requests {
        anyhow::bail!("every request failed");
    }
    Ok(())
}

/// Runs the bench on its own tokio runtime and returns the report without printing it.
///
/// # Errors
/// Invalid flags, the server is unreachable or refuses the table, or the prefill fails.
pub fn execute(args: &BenchArgs) -> anyhow::Result<Report> {
    validate(args)?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("otsd-bench");
    if let Some(threads) = args.threads {
        builder.worker_threads(threads.max(1));
    }
    let runtime = builder.build().context("cannot start the tokio runtime")?;
    runtime.block_on(bench(args))
}

fn validate(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    anyhow::ensure!(args.rows >= 1, "--rows must be at least 1");
    anyhow::ensure!(
        (1..=MAX_BATCH_ROWS).contains(&args.batch_size),
        "--batch-size must be 1..={MAX_BATCH_ROWS}"
    );
    anyhow::ensure!(
        args.requests != Some(0),
        "--requests must be at least 1 when given"
    );
    Ok(())
}

/// Creates the table, prefills it when needed, then runs the measured phase.
async fn bench(args: &BenchArgs) -> anyhow::Result<Report> {
    let mut config = ClientConfig::new(
        &args.endpoint,
        &args.instance,
        &args.access_key_id,
        &args.access_key_secret,
    );
    config.max_connections = args.concurrency;
    if args.no_retry {
        config.retry = RetryPolicy::none();
    }
    let client = Client::new(config).context("invalid client configuration")?;
    let created = ensure_table(&client, &args.table).await?;
    let workload = Arc::new(Workload::new(args));
    if args.prefill || (created && matches!(args.op, BenchOp::Get | BenchOp::Range)) {
        prefill(&client, &workload, args.concurrency).await?;
    }
    measure(&client, workload, args).await
}

/// Creates `table` (one STRING primary key, `PK_COLUMN`) unless it exists; returns whether
/// this call created it.
///
/// # Errors
/// The table cannot be described or created.
pub async fn ensure_table(client: &Client, table: &str) -> anyhow::Result<bool> {
    if client
        .table_exists(table)
        .await
        .with_context(|| format!("cannot describe table '{table}'"))?
    {
        return Ok(false);
    }
    match client
        .create_simple_table(table, &[(PK_COLUMN, pb::PrimaryKeyType::String)])
        .await
    {
        Ok(()) => Ok(true),
        // Another bench created it in between: use it.
        Err(e) if e.is_object_already_exist() => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create table '{table}'")),
    }
}

/// What one request of the run does, shared by all workers.
struct Workload {
    op: BenchOp,
    table: String,
    rows: u64,
    batch_size: usize,
    backward: bool,
    value: Vec<u8>,
}

impl Workload {
    fn new(args: &BenchArgs) -> Workload {
        let mut value = vec![0u8; args.value_size];
        StdRng::seed_from_u64(args.seed).fill_bytes(&mut value);
        Workload {
            op: args.op,
            table: args.table.clone(),
            rows: args.rows,
            batch_size: args.batch_size,
            backward: args.backward,
            value,
        }
    }

    fn row(&self, key: u64) -> Row {
        Row {
            primary_key: key_of(key),
            cells: vec![Cell::put(
                VALUE_COLUMN,
                ColumnValue::Binary(self.value.clone()),
                None,
            )],
            delete_marker: false,
        }
    }

    /// One request; returns the rows it wrote or read.
    async fn run_once(&self, client: &Client, rng: &mut StdRng) -> Result<u64, ClientError> {
        let key = rng.gen_range(0..self.rows);
        match self.op {
            BenchOp::Put => {
                let row = self.row(key);
                client
                    .put(
                        &self.table,
                        &row,
                        Condition::ignore(),
                        pb::ReturnType::RtNone,
                    )
                    .await?;
                Ok(1)
            }
            BenchOp::Get => {
                let found = client.get(&self.table, &key_of(key), &[]).await?;
                Ok(u64::from(found.is_some()))
            }
            BenchOp::Range => {
                let (end, direction) = if self.backward {
                    (PrimaryKeyValue::InfMin, pb::Direction::Backward)
                } else {
                    (PrimaryKeyValue::InfMax, pb::Direction::Forward)
                };
                let end = vec![PrimaryKeyColumn::new(PK_COLUMN, end)];
                let limit = i32::try_from(self.batch_size).unwrap_or(i32::MAX);
                let page = client
                    .range(&self.table, &key_of(key), &end, direction, Some(limit))
                    .await?;
                Ok(page.rows.len() as u64)
            }
            BenchOp::BatchWrite => {
                let writes: Vec<RowWrite> = (0..self.batch_size)
                    .map(|_| {
                        RowWrite::Put(self.row(rng.gen_range(0..self.rows)), Condition::ignore())
                    })
                    .collect();
                let results = client.batch_write(&self.table, &writes).await?;
                Ok(results.iter().filter(|r| r.is_ok()).count() as u64)
            }
        }
    }
}

/// The primary key of key number `key`: zero-padded so string order is numeric order.
pub fn key_of(key: u64) -> Vec<PrimaryKeyColumn> {
    vec![PrimaryKeyColumn::new(
        PK_COLUMN,
        PrimaryKeyValue::String(format!("{key:012}")),
    )]
}

/// Writes every key of the key space with batch writes from `concurrency` tasks.
async fn prefill(
    client: &Client,
    workload: &Arc<Workload>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let chunk = MAX_BATCH_ROWS as u64;
    let chunks = workload.rows.div_ceil(chunk);
    let next = Arc::new(AtomicU64::new(0));
    let progress = progress_bar(chunks, "prefill");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, workload, next, progress) = (
            client.clone(),
            Arc::clone(workload),
            Arc::clone(&next),
            progress.clone(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= chunks {
                    return Ok::<(), anyhow::Error>(());
                }
                let keys = i * chunk..((i + 1) * chunk).min(workload.rows);
                let writes: Vec<RowWrite> = keys
                    .map(|k| RowWrite::Put(workload.row(k), Condition::ignore()))
                    .collect();
                let results = client.batch_write(&workload.table, &writes).await?;
                if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
                    anyhow::bail!("prefill row failed: {e}");
                }
                if let Some(p) = &progress {
                    p.inc(1);
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("prefill task panicked")??;
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    Ok(())
}

/// When the measured phase ends.
enum Budget {
    Until(Instant),
    Remaining(AtomicU64),
}

impl Budget {
    /// Claims one more request; false once the run is over.
    fn take(&self) -> bool {
        match self {
            Budget::Until(deadline) => Instant::now() < *deadline,
            Budget::Remaining(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// What one worker measured.
struct Tally {
    latency: Histogram<u64>,
    rows: u64,
    errors: BTreeMap<String, u64>,
}

async fn measure(
    client: &Client,
    workload: Arc<Workload>,
    args: &BenchArgs,
) -> anyhow::Result<Report> {
    let retries_before = client.stats().retries;
    let started = Instant::now();
    let budget = Arc::new(match args.requests {
        Some(n) => Budget::Remaining(AtomicU64::new(n)),
        None => Budget::Until(started + args.duration),
    });
    let done = Arc::new(AtomicU64::new(0));
    let progress = RunProgress::start(
        args.requests,
        args.duration,
        "requests",
        "req/s",
        &done,
        started,
    );

    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency {
        let (client, workload, budget, done) = (
            client.clone(),
            Arc::clone(&workload),
            Arc::clone(&budget),
            Arc::clone(&done),
        );
        let seed = args.seed.wrapping_add(1 + worker as u64);
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut tally = Tally {
                latency: new_histogram(),
                rows: 0,
                errors: BTreeMap::new(),
            };
            while budget.take() {
                let t = Instant::now();
                let result = workload.run_once(&client, &mut rng).await;
                record_since(&mut tally.latency, t);
                match result {
                    Ok(rows) => tally.rows += rows,
                    Err(e) => *tally.errors.entry(error_label(&e)).or_default() += 1,
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            tally
        });
    }
    let mut total = Tally {
        latency: new_histogram(),
        rows: 0,
        errors: BTreeMap::new(),
    };
    while let Some(joined) = tasks.join_next().await {
        let tally = joined.context("bench worker panicked")?;
        total
            .latency
            .add(&tally.latency)
            .context("merging latency histograms")?;
        total.rows += tally.rows;
        for (code, n) in tally.errors {
            *total.errors.entry(code).or_default() += n;
        }
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    progress.finish();
    let requests = total.latency.len();
    let errors = total.errors.values().sum();
    Ok(Report {
        op: args.op,
        endpoint: args.endpoint.clone(),
        table: args.table.clone(),
        concurrency: args.concurrency,
        rows: args.rows,
        value_size: args.value_size,
        batch_size: args.batch_size,
        elapsed_secs: elapsed,
        requests,
        errors,
        errors_by_code: total.errors,
        retries: client.stats().retries - retries_before,
        rows_touched: total.rows,
        requests_per_sec: requests as f64 / elapsed,
        rows_per_sec: total.rows as f64 / elapsed,
        latency: Latency::of(&total.latency),
    })
}

/// The error code, or the kind of transport failure, for the error breakdown.
fn error_label(err: &ClientError) -> String {
    if let Some(code) = err.code() {
        return code.to_string();
    }
    match err {
        ClientError::HttpStatus { status, .. } => format!("HTTP {status}"),
        ClientError::Connect { .. } => "connect".to_string(),
        ClientError::Network { .. } => "network".to_string(),
        ClientError::Timeout { .. } => "timeout".to_string(),
        ClientError::ResponseMd5Mismatch { .. } => "response-md5".to_string(),
        ClientError::ResponseSignatureMismatch { .. } => "response-signature".to_string(),
        ClientError::Decode { .. } | ClientError::PlainBuffer { .. } => "decode".to_string(),
        ClientError::Service { .. } | ClientError::Config(_) => "other".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn durations_parse_with_units_and_reject_garbage() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn defaults_match_the_local_server() {
        let cli = Cli::try_parse_from(["bench"]).expect("defaults parse");
        let a = cli.bench;
        assert_eq!(a.endpoint, "http://127.0.0.1:8800");
        assert_eq!(
            (a.instance.as_str(), a.access_key_id.as_str()),
            ("bench", "otsd")
        );
        assert_eq!(a.access_key_secret, "otsd-secret");
        assert_eq!(
            (a.op, a.concurrency, a.rows, a.value_size),
            (BenchOp::Put, 64, 100_000, 100)
        );
        assert_eq!(a.duration, Duration::from_secs(10));
        assert!(validate(&a).is_ok());
        let cli = Cli::try_parse_from(["bench", "--op", "batch-write", "--requests", "5"])
            .expect("flags parse");
        assert_eq!(cli.bench.op, BenchOp::BatchWrite);
        assert_eq!(cli.bench.requests, Some(5));
    }

    #[test]
    fn invalid_flags_are_refused() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["bench"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).expect("parses").bench
        };
        assert!(validate(&parse(&["--batch-size", "201"])).is_err());
        assert!(validate(&parse(&["--concurrency", "0"])).is_err());
        assert!(validate(&parse(&["--requests", "0"])).is_err());
        assert!(validate(&parse(&["--rows", "0"])).is_err());
    }

    #[test]
    fn keys_sort_numerically_as_strings() {
        let text = |k| match &key_of(k)[0].value {
            PrimaryKeyValue::String(s) => s.clone(),
            other => panic!("unexpected {other:?}"),
        };
        assert!(text(9) < text(10));
        assert!(text(99_999) < text(100_000));
    }

    #[test]
    fn count_budget_hands_out_exactly_n_requests() {
        let budget = Budget::Remaining(AtomicU64::new(3));
        let taken = (0..10).filter(|_| budget.take()).count();
        assert_eq!(taken, 3);
        assert!(!Budget::Until(Instant::now()).take());
    }

    #[test]
    fn report_text_and_json_carry_the_percentiles() {
        let mut h = new_histogram();
        for us in 1..=1000 {
            h.saturating_record(us);
        }
        let report = Report {
            op: BenchOp::Put,
            endpoint: "http://x".into(),
            table: "t".into(),
            concurrency: 1,
            rows: 10,
            value_size: 1,
            batch_size: 1,
            elapsed_secs: 1.0,
            requests: 1000,
            errors: 1,
            errors_by_code: BTreeMap::from([("OTSServerBusy".to_string(), 1)]),
            retries: 0,
            rows_touched: 999,
            requests_per_sec: 1000.0,
            rows_per_sec: 999.0,
            latency: Latency::of(&h),
        };
        assert!((499..=501).contains(&report.latency.p50_us));
        assert_eq!(report.latency.max_us, 1000);
        let text = report.to_text();
        assert!(text.contains("p99.9"), "{text}");
        assert!(text.contains("error OTSServerBusy: 1"), "{text}");
        let json: serde_json::Value = serde_json::to_value(&report).expect("serializes");
        assert_eq!(json["op"], "put");
        assert_eq!(json["latency"]["max_us"], 1000);
    }
}
