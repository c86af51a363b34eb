//! Criterion benches of the memtable: `memtable/insert/{sequential,random}` (one record per
//! iteration into a growing table) and `memtable/get/{hit,miss}` (a seek in a 100k-record table).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use otsd::engine::iter::KvIter;
use otsd::engine::key::{self, Kind, PkValue};
use otsd::engine::memtable::Memtable;
use rand::{Rng, SeedableRng};

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

criterion_group!(benches, insert, get);
criterion_main!(benches);
