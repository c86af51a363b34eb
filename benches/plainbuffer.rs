//! PlainBuffer codec throughput: decoding request rows and encoding GetRange responses,
//! the two places every read and write request pays for. Group ids: plainbuffer/<op>/<shape>.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use otsd::protocol::plainbuffer::{
    decode_row, decode_rows, encode_row, Cell, CellRef, ColumnValue, PrimaryKeyColumn,
    PrimaryKeyValue, Row, RowsEncoder,
};
use std::hint::black_box;

/// A timeline-like row: two PK columns and `cells` attribute cells of mixed types.
fn sample_row(i: i64, cells: usize) -> Row {
    let mut row = Row {
        primary_key: vec![
            PrimaryKeyColumn::new("user_id", PrimaryKeyValue::String(format!("user{i:08}"))),
            PrimaryKeyColumn::new("seq", PrimaryKeyValue::Integer(i)),
        ],
        ..Row::default()
    };
    for c in 0..cells {
        let value = match c % 3 {
            0 => ColumnValue::String("x".repeat(64)),
            1 => ColumnValue::Integer(c as i64),
            _ => ColumnValue::Double(c as f64 * 0.5),
        };
        row.cells
            .push(Cell::put(format!("col{c}"), value, Some(1_700_000_000_000)));
    }
    row
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("plainbuffer/decode");
    for cells in [1usize, 10, 50] {
        let bytes = encode_row(&sample_row(1, cells));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("row", cells), &bytes, |b, bytes| {
            b.iter(|| decode_row(black_box(bytes)))
        });
    }
    let mut enc = RowsEncoder::new();
    for i in 0..100 {
        enc.push(&sample_row(i, 10));
    }
    let bytes = enc.finish();
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_with_input(BenchmarkId::new("rows", 100), &bytes, |b, bytes| {
        b.iter(|| decode_rows(black_box(bytes)))
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("plainbuffer/encode");
    for cells in [1usize, 10, 50] {
        let row = sample_row(1, cells);
        group.throughput(Throughput::Bytes(encode_row(&row).len() as u64));
        group.bench_with_input(BenchmarkId::new("row", cells), &row, |b, row| {
            b.iter(|| encode_row(black_box(row)))
        });
    }
    let rows: Vec<Row> = (0..100).map(|i| sample_row(i, 10)).collect();
    group.throughput(Throughput::Elements(rows.len() as u64));
    group.bench_with_input(BenchmarkId::new("rows_push", 100), &rows, |b, rows| {
        b.iter(|| {
            let mut enc = RowsEncoder::new();
            for r in rows {
                enc.push(r);
            }
            enc.finish()
        })
    });
    group.bench_with_input(
        BenchmarkId::new("rows_push_parts", 100),
        &rows,
        |b, rows| {
            b.iter(|| {
                let mut enc = RowsEncoder::with_capacity(64 * 1024);
                for r in rows {
                    enc.push_parts(
                        r.primary_key
                            .iter()
                            .map(|c| (c.name.as_str(), c.value.as_pk_ref())),
                        r.cells.iter().filter_map(|c| {
                            Some(CellRef {
                                name: &c.name,
                                value: c.value.as_ref()?.as_value_ref(),
                                timestamp: c.timestamp,
                            })
                        }),
                    );
                }
                enc.finish()
            })
        },
    );
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
