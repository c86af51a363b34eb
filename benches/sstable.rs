//! Criterion benches of one SSTable: point seeks and 100-entry scans over ~100k records
//! (16-byte row keys, 100-byte values), group ids `sstable/<operation>/<parameter>`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use otsd::engine::iter::KvIter;
use otsd::engine::key::{self, Kind, PkValue};
use otsd::engine::sstable::{SstBuilder, SstOptions, SstReader};

const ENTRIES: u64 = 100_000;
const VALUE_LEN: usize = 100;

fn row(i: u64) -> Vec<u8> {
    key::encode_row_key(&[PkValue::String(format!("{i:016}"))])
}

fn cell(i: u64) -> Vec<u8> {
    key::version_key(&row(i), b"value", 1_700_000_000_000)
}

/// xorshift64*: deterministic, allocation-free key choice inside the timed loop.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn build_table(dir: &Path) -> Arc<SstReader> {
    let path = dir.join("bench.sst");
    let mut b = SstBuilder::create(&path, SstOptions::default()).expect("create table");
    let value = vec![0x5A; VALUE_LEN];
    for i in 0..ENTRIES {
        let k = key::make_internal_key(cell(i), i + 1, Kind::Put);
        b.add(&k, &value).expect("add");
    }
    b.finish().expect("finish");
    Arc::new(SstReader::open(&path).expect("open"))
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let reader = build_table(dir.path());
    // Seek targets prepared up front so the loop measures the table, not key encoding.
    let targets: Vec<Vec<u8>> = (0..ENTRIES)
        .map(|i| key::seek_key(&cell(i), key::MAX_SEQNO))
        .collect();
    let rows: Vec<Vec<u8>> = (0..ENTRIES).map(row).collect();
    let absent: Vec<Vec<u8>> = (ENTRIES..2 * ENTRIES).map(row).collect();

    let mut g = c.benchmark_group("sstable/point_read");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut it = reader.iter();
    g.bench_function("hit_reused_iter", |b| {
        b.iter(|| {
            let i = rng.below(ENTRIES) as usize;
            it.seek(&targets[i]).expect("seek");
            black_box(it.value().len())
        })
    });
    g.bench_function("hit_new_iter", |b| {
        b.iter(|| {
            let i = rng.below(ENTRIES) as usize;
            assert!(reader.may_contain_row(&rows[i]));
            let mut it = reader.iter();
            it.seek(&targets[i]).expect("seek");
            black_box(it.value().len())
        })
    });
    g.bench_function("miss_bloom", |b| {
        b.iter(|| {
            let i = rng.below(ENTRIES) as usize;
            black_box(reader.may_contain_row(&absent[i]))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sstable/range_scan");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("forward_100", |b| {
        b.iter(|| {
            let i = rng.below(ENTRIES - 100) as usize;
            it.seek(&targets[i]).expect("seek");
            let mut bytes = 0;
            for _ in 0..100 {
                bytes += it.key().len() + it.value().len();
                it.next().expect("next");
            }
            black_box(bytes)
        })
    });
    g.bench_function("backward_100", |b| {
        b.iter(|| {
            let i = rng.below(ENTRIES - 100) as usize + 100;
            it.seek_for_prev(&targets[i]).expect("seek_for_prev");
            let mut bytes = 0;
            for _ in 0..100 {
                bytes += it.key().len() + it.value().len();
                it.prev().expect("prev");
            }
            black_box(bytes)
        })
    });
    g.finish();
}

criterion_group!(sstable, benches);
criterion_main!(sstable);
