//! engine_bench: a db_bench-style runner for the otsd engine, with db_bench's flag names and
//! its one-line-per-workload output, to run beside RocksDB's `db_bench`:
//!
//!     engine_bench --benchmarks=fillseq,fillrandom,overwrite,readrandom,seekrandom,readseq \
//!         --num=1000000 --key_size=16 --value_size=100 --threads=1 --sync=0 --db=/tmp/otsd_bench
//!
//! Keys are `key_size`-byte binary row keys (one BINARY primary-key column), the value one
//! column of `value_size` bytes. `--sync=1` fsyncs every write (group commit across threads).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use otsd::engine::key::{encode_row_key, PkValue};
use otsd::engine::{
    filename, DataOptions, Direction, Engine, Options, ReadOptions, SyncPolicy, WriteBatch,
};
use rand::{Rng, SeedableRng};

/// The allocator `otsd serve` runs with, so the engine is measured as it is served.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug, Clone)]
#[command(about = "db_bench-style benchmarks of the otsd storage engine")]
struct Flags {
    /// Comma-separated workloads: fillseq, fillrandom, overwrite, readrandom, seekrandom, readseq.
    #[arg(
        long,
        default_value = "fillseq,fillrandom,overwrite,readrandom,seekrandom,readseq"
    )]
    benchmarks: String,
    /// Number of keys, and operations per thread per workload (as in db_bench).
    #[arg(long, default_value_t = 1_000_000)]
    num: u64,
    /// Row key size in bytes.
    #[arg(long = "key_size", default_value_t = 16)]
    key_size: usize,
    /// Value size in bytes.
    #[arg(long = "value_size", default_value_t = 100)]
    value_size: usize,
    /// Rows read after each seek in seekrandom.
    #[arg(long = "seek_nexts", default_value_t = 10)]
    seek_nexts: usize,
    /// Concurrent threads per workload.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// 1: fsync every write (SyncPolicy::Always); 0: never fsync.
    #[arg(long, default_value_t = 0)]
    sync: u8,
    /// Database directory.
    #[arg(long, default_value = "/tmp/otsd_engine_bench")]
    db: PathBuf,
    /// 1: keep the existing database; 0: start empty.
    #[arg(long = "use_existing_db", default_value_t = 0)]
    use_existing_db: u8,
    /// Memtable size in bytes.
    #[arg(long = "write_buffer_size", default_value_t = 64 << 20)]
    write_buffer_size: usize,
}

thread_local! {
    /// Each reading thread's row buffer, reused across reads as a server worker would.
    static ROW_BUF: std::cell::RefCell<otsd::engine::RowBuf> = Default::default();
}

struct Bench {
    flags: Flags,
    engine: Engine,
    value: Vec<u8>,
    /// Counts `run` threads started, to give each its own random seed.
    seed_round: AtomicU64,
}

impl Bench {
    fn row(&self, n: u64) -> Vec<u8> {
        let mut k = vec![0u8; self.flags.key_size];
        let be = n.to_be_bytes();
        let take = be.len().min(k.len());
        let at = k.len() - take;
        k[at..].copy_from_slice(&be[be.len() - take..]);
        encode_row_key(&[PkValue::Binary(k)])
    }

    /// Runs `op(rng, i, found)` for `i` in `0..num` on every thread (db_bench's meaning of
    /// `--num` with `--threads`: operations per thread); returns (ops, bytes, found).
    fn run(
        &self,
        op: impl Fn(&mut rand::rngs::StdRng, u64, &AtomicU64) -> Result<u64> + Sync,
    ) -> Result<(u64, u64, u64)> {
        let threads = self.flags.threads.max(1) as u64;
        let per = self.flags.num;
        let bytes = AtomicU64::new(0);
        let found = AtomicU64::new(0);
        std::thread::scope(|s| -> Result<()> {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (op, bytes, found) = (&op, &bytes, &found);
                    s.spawn(move || -> Result<()> {
                        // A fresh seed per workload and thread (as db_bench does), so
                        // overwrite and readrandom do not replay fillrandom's key sequence.
                        let seed = 301 + t + 1000 * self.seed_round.fetch_add(1, Ordering::Relaxed);
                        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                        for i in 0..per {
                            bytes.fetch_add(op(&mut rng, i, found)?, Ordering::Relaxed);
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| anyhow::anyhow!("bench thread panicked"))??;
            }
            Ok(())
        })?;
        Ok((per * threads, bytes.into_inner(), found.into_inner()))
    }

    fn write(&self, n: u64) -> Result<u64> {
        let row = self.row(n);
        let mut b = WriteBatch::new();
        b.put(&row, b"v", Some(1), &self.value);
        self.engine.write(b)?;
        Ok((row.len() + self.value.len()) as u64)
    }

    fn workload(&self, name: &str) -> Result<Option<(u64, u64, String)>> {
        let num = self.flags.num;
        let read = ReadOptions::default();
        let (ops, bytes, extra) = match name {
            "fillseq" => {
                let (ops, bytes, _) = self.run(|_, i, _| self.write(i))?;
                (ops, bytes, String::new())
            }
            "fillrandom" | "overwrite" => {
                let (ops, bytes, _) = self.run(|rng, _, _| self.write(rng.gen_range(0..num)))?;
                (ops, bytes, String::new())
            }
            "readrandom" => {
                let (ops, bytes, found) = self.run(|rng, _, found| {
                    let row = self.row(rng.gen_range(0..num));
                    ROW_BUF.with_borrow_mut(|buf| {
                        Ok(if self.engine.get_row_into(&row, &read, buf)? {
                            found.fetch_add(1, Ordering::Relaxed);
                            (buf.key().len() + buf.payload_len()) as u64
                        } else {
                            0
                        })
                    })
                })?;
                (ops, bytes, format!(" ({found} of {ops} found)"))
            }
            "seekrandom" => {
                let end = vec![0xFF];
                let (ops, bytes, found) = self.run(|rng, _, found| {
                    let start = self.row(rng.gen_range(0..num));
                    let mut bytes = 0u64;
                    let mut rows = self.engine.scan(&start, &end, Direction::Forward, &read)?;
                    for j in 0..self.flags.seek_nexts.max(1) {
                        let Some(r) = rows.next_ref()? else { break };
                        if j == 0 && r.key() == start.as_slice() {
                            found.fetch_add(1, Ordering::Relaxed);
                        }
                        bytes += r.key().len() as u64;
                    }
                    Ok(bytes)
                })?;
                (ops, bytes, format!(" ({found} of {ops} found)"))
            }
            "readseq" => {
                let mut ops = 0u64;
                let mut bytes = 0u64;
                let mut rows = self
                    .engine
                    .scan(&[0x00], &[0xFF], Direction::Forward, &read)?;
                while let Some(r) = rows.next_ref()? {
                    ops += 1;
                    bytes += (r.key().len() + r.payload_len()) as u64;
                }
                (ops, bytes, String::new())
            }
            _ => return Ok(None),
        };
        Ok(Some((ops, bytes, extra)))
    }
}

/// Removes the engine's own files from `dir` (never anything else).
fn destroy_db(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .and_then(filename::parse_file_name)
            .is_some()
        {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Workloads that db_bench runs on a freshly destroyed database.
const FRESH_DB_WORKLOADS: [&str; 2] = ["fillseq", "fillrandom"];

fn open_engine(flags: &Flags) -> Result<Engine> {
    let options = Options {
        sync: if flags.sync != 0 {
            SyncPolicy::Always
        } else {
            SyncPolicy::Never
        },
        memtable_size_bytes: flags.write_buffer_size,
        ..Options::default()
    };
    Engine::open(
        &flags.db,
        options,
        DataOptions {
            ttl_secs: None,
            max_versions: 1,
        },
    )
    .with_context(|| format!("opening {}", flags.db.display()))
}

fn main() -> Result<()> {
    let flags = Flags::parse();
    if flags.key_size == 0 {
        bail!("--key_size must be positive");
    }
    if flags.use_existing_db == 0 {
        destroy_db(&flags.db)?;
    }
    let engine = open_engine(&flags)?;
    println!(
        "Keys:       {} bytes each\nValues:     {} bytes each\nEntries:    {}\nThreads:    {}\nSync:       {}\n------------------------------------------------",
        flags.key_size, flags.value_size, flags.num, flags.threads, flags.sync
    );
    let value: Vec<u8> = (0..flags.value_size).map(|i| (i * 7 + 13) as u8).collect();
    let mut bench = Bench {
        flags: flags.clone(),
        engine,
        value,
        seed_round: AtomicU64::new(0),
    };
    for name in flags
        .benchmarks
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        // Like db_bench, the fill workloads start from an empty database, so later reads see
        // the keys of the last fill (and overwrite) only.
        if FRESH_DB_WORKLOADS.contains(&name) && flags.use_existing_db == 0 {
            bench.engine.close()?;
            drop(bench.engine);
            destroy_db(&flags.db)?;
            bench.engine = open_engine(&flags)?;
        }
        let started = Instant::now();
        let Some((ops, bytes, extra)) = bench.workload(name)? else {
            eprintln!("unknown benchmark '{name}'");
            continue;
        };
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let micros = secs * 1e6 / ops.max(1) as f64;
        let mb = bytes as f64 / 1_048_576.0 / secs;
        println!(
            "{name:<12} : {micros:>11.3} micros/op {} ops/sec; {mb:>6.1} MB/s{extra}",
            (ops as f64 / secs) as u64
        );
    }
    bench.engine.close()?;
    Ok(())
}
