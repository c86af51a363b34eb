//! Server work per request without HTTP: `api::handle` on pre-encoded request bodies, the part
//! of a request's cost that is ours (decode, checks, engine, response), apart from hyper,
//! authentication and the kernel. Group ids: api/<operation>/<shape>.
//!
//! The engine does not fsync here (`SyncPolicy::Never`): the fsync is the disk's cost, and
//! the end-to-end benches (`otsd bench`, `otsd im bench`, tools/) measure it.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otsd::api::{handle, Api};
use otsd::engine::{Options, SyncPolicy};
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{
    decode_rows, encode_primary_key, encode_row, Cell, ColumnValue, PrimaryKeyColumn,
    PrimaryKeyValue, Row,
};
use otsd::table::Catalog;
use prost::Message;
use std::hint::black_box;

/// The allocator `otsd serve` runs with, so requests are measured as they are served.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const INSTANCE: &str = "bench";
/// A PushTable-like table: `user_id` STRING, `seq_id` INTEGER AUTO_INCREMENT.
const QUEUE: &str = "queue";
/// Receivers per fan-out request, as `otsd im bench --group-size 100` sends.
const FANOUT_ROWS: usize = 100;
/// Bytes of the one BINARY cell of a queue row (a packed message envelope).
const ENVELOPE_BYTES: usize = 160;
/// Users whose queues the rows go to.
const USERS: usize = 1000;

fn pk_schema(name: &str, ty: pb::PrimaryKeyType, auto: bool) -> pb::PrimaryKeySchema {
    pb::PrimaryKeySchema {
        name: name.into(),
        r#type: ty as i32,
        option: auto.then_some(pb::PrimaryKeyOption::AutoIncrement as i32),
    }
}

/// A catalog in a temp dir, not fsyncing, with the queue table.
fn open() -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options {
        sync: SyncPolicy::Never,
        ..Options::default()
    };
    let catalog = Catalog::open_with(dir.path(), options).expect("open catalog");
    let create = pb::CreateTableRequest {
        table_meta: pb::TableMeta {
            table_name: QUEUE.into(),
            primary_key: vec![
                pk_schema("user_id", pb::PrimaryKeyType::String, false),
                pk_schema("seq_id", pb::PrimaryKeyType::Integer, true),
            ],
            ..Default::default()
        },
        ..Default::default()
    };
    handle(
        &catalog,
        Api::CreateTable,
        INSTANCE,
        &create.encode_to_vec(),
    )
    .expect("create");
    (dir, catalog)
}

fn queue_key(user: usize, seq: PrimaryKeyValue) -> Vec<PrimaryKeyColumn> {
    vec![
        PrimaryKeyColumn::new("user_id", PrimaryKeyValue::String(format!("user{user:06}"))),
        PrimaryKeyColumn::new("seq_id", seq),
    ]
}

/// One fan-out request: `FANOUT_ROWS` queue rows of consecutive users from `first_user`.
fn fanout_body(first_user: usize) -> Vec<u8> {
    let rows = (0..FANOUT_ROWS)
        .map(|i| pb::RowInBatchWriteRowRequest {
            r#type: pb::OperationType::Put as i32,
            row_change: encode_row(&Row {
                primary_key: queue_key((first_user + i) % USERS, PrimaryKeyValue::AutoIncrement),
                cells: vec![Cell::put(
                    "_env",
                    ColumnValue::Binary(vec![7; ENVELOPE_BYTES]),
                    None,
                )],
                delete_marker: false,
            }),
            condition: pb::Condition {
                row_existence: pb::RowExistenceExpectation::Ignore as i32,
                column_condition: None,
            },
            return_content: None,
        })
        .collect();
    pb::BatchWriteRowRequest {
        tables: vec![pb::TableInBatchWriteRowRequest {
            table_name: QUEUE.into(),
            rows,
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

/// A sync read: `user`'s whole queue from its start, 20 rows at most.
fn queue_page_body(user: usize) -> Vec<u8> {
    pb::GetRangeRequest {
        table_name: QUEUE.into(),
        direction: pb::Direction::Forward as i32,
        limit: Some(20),
        max_versions: Some(1),
        inclusive_start_primary_key: encode_primary_key(&queue_key(user, PrimaryKeyValue::InfMin)),
        exclusive_end_primary_key: encode_primary_key(&queue_key(user, PrimaryKeyValue::InfMax)),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Benchmarks `api` on `bodies`, taken in turn, as `<group>/<name>`.
fn bench_in_turn(
    c: &mut Criterion,
    (group, name): (&str, &str),
    rows_per_request: u64,
    catalog: &Catalog,
    api: Api,
    bodies: &[Vec<u8>],
) {
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(rows_per_request));
    let mut next = 0;
    group.bench_function(name, |b| {
        b.iter(|| {
            next = (next + 1) % bodies.len();
            black_box(handle(catalog, api, INSTANCE, &bodies[next]).expect("served"))
        })
    });
    group.finish();
}

fn batch_write_row(c: &mut Criterion) {
    let (_dir, catalog) = open();
    // Ten different groups of receivers.
    let bodies: Vec<Vec<u8>> = (0..10).map(|g| fanout_body(g * FANOUT_ROWS)).collect();
    // Every row of a request is written, not refused one by one.
    let reply = handle(&catalog, Api::BatchWriteRow, INSTANCE, &bodies[0]).expect("written");
    let reply = pb::BatchWriteRowResponse::decode(reply.as_slice()).expect("response");
    assert!(reply.tables[0].rows.iter().all(|r| r.is_ok));
    let id = ("api/batch_write_row", "fanout_100_rows");
    bench_in_turn(
        c,
        id,
        FANOUT_ROWS as u64,
        &catalog,
        Api::BatchWriteRow,
        &bodies,
    );
    catalog.close().expect("close");
}

fn get_range(c: &mut Criterion) {
    const QUEUE_ROWS: usize = 10;
    let (_dir, catalog) = open();
    for _ in 0..QUEUE_ROWS {
        for first in (0..USERS).step_by(FANOUT_ROWS) {
            let body = fanout_body(first);
            handle(&catalog, Api::BatchWriteRow, INSTANCE, &body).expect("fill");
        }
    }
    let bodies: Vec<Vec<u8>> = (0..USERS).step_by(7).map(queue_page_body).collect();
    // Each page holds the user's whole queue.
    let reply = handle(&catalog, Api::GetRange, INSTANCE, &bodies[0]).expect("read");
    let reply = pb::GetRangeResponse::decode(reply.as_slice()).expect("response");
    assert_eq!(decode_rows(&reply.rows).expect("rows").len(), QUEUE_ROWS);
    let id = ("api/get_range", "queue_page_10_rows");
    bench_in_turn(c, id, QUEUE_ROWS as u64, &catalog, Api::GetRange, &bodies);
    catalog.close().expect("close");
}

criterion_group!(benches, batch_write_row, get_range);
criterion_main!(benches);
