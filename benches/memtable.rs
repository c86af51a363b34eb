//! Criterion benches of the memtable: `memtable/insert/{sequential,random}` (one record per
//! iteration into a growing table), `memtable/get/{hit,miss}` (a seek in a 100k-record table)
//! and `memtable/walk/{forward,backward}_100` (100 records of 5-cell rows, as a history page
//! reads them, from a random row of a 100k-record table), and `memtable/apply/fanout_100_rows`
//! (one group commit of an IM fan-out: 100 push rows, each a row marker and one 96-byte
//! envelope cell as the Timeline writes them, at random users of 1,000, into a table holding
//! 100k-400k records).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use otsd::engine::batch::{BatchRecords, WriteBatch};
use otsd::engine::iter::KvIter;
use otsd::engine::key::{self, Kind, PkValue};
use otsd::engine::memtable::Memtable;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// The server's allocator, so allocation costs what it costs in `otsd serve`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn internal_key(n: u64, seqno: u64) -> Box<[u8]> {
    let row = key::encode_row_key(&[PkValue::Binary(n.to_be_bytes().repeat(2))]);
    key::make_internal_key(key::version_key(&row, b"v", 1), seqno, Kind::Put).into_boxed_slice()
}

fn filled(n: u64) -> Arc<Memtable> {
    let m = Arc::new(Memtable::new(1));
    for i in 0..n {
        m.insert(
            internal_key(i * 2, i + 1),
            vec![7u8; 100].into_boxed_slice(),
        );
    }
    m
}

fn insert(c: &mut Criterion) {
    let mut g = c.benchmark_group("memtable/insert");
    g.bench_function("sequential", |b| {
        let m = Memtable::new(1);
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            m.insert(internal_key(i, i), vec![7u8; 100].into_boxed_slice());
        })
    });
    g.bench_function("random", |b| {
        let m = Memtable::new(1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut i = 0u64;
        b.iter_batched(
            || rng.gen::<u64>(),
            |k| {
                i += 1;
                m.insert(internal_key(k, i), vec![7u8; 100].into_boxed_slice());
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn get(c: &mut Criterion) {
    const N: u64 = 100_000;
    let m = filled(N);
    let mut g = c.benchmark_group("memtable/get");
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    g.bench_function("hit", |b| {
        let mut it = m.iter();
        b.iter_batched(
            || rng.gen_range(0..N) * 2,
            |k| {
                let target = internal_key(k, u64::MAX >> 8);
                it.seek(&target).unwrap();
                assert!(it.valid());
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("miss", |b| {
        let mut it = m.iter();
        b.iter_batched(
            || rng.gen_range(0..N) * 2 + 1,
            |k| {
                let target = internal_key(k, u64::MAX >> 8);
                it.seek(&target).unwrap();
                criterion::black_box(it.valid());
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// 20,000 rows of five cells each, written in a random row order.
fn five_cell_rows() -> Arc<Memtable> {
    let m = Arc::new(Memtable::new(1));
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut rows: Vec<u64> = (0..20_000).collect();
    rows.shuffle(&mut rng);
    let mut seqno = 0;
    for r in rows {
        let row = key::encode_row_key(&[PkValue::Integer(r as i64)]);
        for c in [&b"_cmid"[..], b"_sender", b"_sent_ms", b"kind", b"text"] {
            seqno += 1;
            let cell = key::version_key(&row, c, 1);
            m.insert(
                key::make_internal_key(cell, seqno, Kind::Put).into_boxed_slice(),
                vec![7u8; 24].into_boxed_slice(),
            );
        }
    }
    m
}

fn walk(c: &mut Criterion) {
    let m = five_cell_rows();
    let mut g = c.benchmark_group("memtable/walk");
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    g.bench_function("forward_100", |b| {
        b.iter_batched(
            || key::encode_row_key(&[PkValue::Integer(rng.gen_range(0..19_000))]),
            |row| {
                let mut it = m.iter();
                it.seek(&row).unwrap();
                for _ in 0..100 {
                    it.next().unwrap();
                }
                criterion::black_box(it.valid());
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("backward_100", |b| {
        b.iter_batched(
            || key::encode_row_key(&[PkValue::Integer(rng.gen_range(1_000..20_000))]),
            |mut row| {
                row.push(0xFF);
                let mut it = m.iter();
                it.seek_for_prev(&row).unwrap();
                for _ in 0..100 {
                    it.prev().unwrap();
                }
                criterion::black_box(it.valid());
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Fan-out group commits into a memtable that starts with `PREFILL_BATCHES` of them and is
/// replaced by a fresh one at `MAX_BATCHES`, so every measured batch meets 100k-400k records.
struct FanoutLoad {
    rng: rand::rngs::StdRng,
    /// The last message seq id given to a row.
    seq: i64,
    /// The last engine seqno used.
    seqno: u64,
    encoded: Vec<u8>,
    table: Memtable,
    batches: u64,
}

impl FanoutLoad {
    const PREFILL_BATCHES: u64 = 500;
    const MAX_BATCHES: u64 = 2_000;
    const ROWS: usize = 100;

    fn new() -> FanoutLoad {
        let mut load = FanoutLoad {
            rng: rand::rngs::StdRng::seed_from_u64(5),
            seq: 0,
            seqno: 0,
            encoded: Vec::new(),
            table: Memtable::new(1),
            batches: 0,
        };
        load.refill();
        load
    }

    /// Replaces the table with a fresh one holding `PREFILL_BATCHES` batches.
    fn refill(&mut self) {
        self.table = Memtable::new(1);
        self.batches = 0;
        for _ in 0..Self::PREFILL_BATCHES {
            self.apply_one();
        }
    }

    /// Applies the next batch; returns the time `Memtable::apply` took (not the encoding).
    fn apply_one(&mut self) -> std::time::Duration {
        if self.batches == Self::MAX_BATCHES {
            self.refill();
        }
        let batch = self.next_batch();
        self.encoded.clear();
        batch.encode_into(self.seqno + 1, 0, &mut self.encoded);
        self.seqno += batch.len() as u64;
        self.batches += 1;
        let started = std::time::Instant::now();
        self.table
            .apply(&BatchRecords::parse(&self.encoded).unwrap());
        started.elapsed()
    }

    /// A row marker and the envelope cell for each of `ROWS` random users' next message.
    fn next_batch(&mut self) -> WriteBatch {
        let mut b = WriteBatch::new();
        for _ in 0..Self::ROWS {
            self.seq += 1;
            let user = format!("user-{:04}", self.rng.gen_range(0..1_000));
            let row = key::encode_row_key(&[PkValue::String(user), PkValue::Integer(self.seq)]);
            b.put_row_marker(&row, Some(1));
            b.put(&row, b"_env", Some(1), &[7u8; 96]);
        }
        b
    }
}

fn apply(c: &mut Criterion) {
    let mut load = FanoutLoad::new();
    let mut g = c.benchmark_group("memtable/apply");
    g.bench_function("fanout_100_rows", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| load.apply_one()).sum())
    });
    g.finish();
}

criterion_group!(benches, insert, get, walk, apply);
criterion_main!(benches);
