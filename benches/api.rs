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
    encode_row, Cell, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row,
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

fn queue_row(user: usize, seq: PrimaryKeyValue) -> Row {
    Row {
        primary_key: vec![
            PrimaryKeyColumn::new("user_id", PrimaryKeyValue::String(format!("user{user:06}"))),
            PrimaryKeyColumn::new("seq_id", seq),
        ],
        cells: vec![Cell::put(
            "_env",
            ColumnValue::Binary(vec![7; ENVELOPE_BYTES]),
            None,
        )],
        delete_marker: false,
    }
}

/// One fan-out request: `FANOUT_ROWS` queue rows of consecutive users from `first_user`.
fn fanout_body(first_user: usize) -> Vec<u8> {
    let rows = (0..FANOUT_ROWS)
        .map(|i| pb::RowInBatchWriteRowRequest {
            r#type: pb::OperationType::Put as i32,
            row_change: encode_row(&queue_row(
                (first_user + i) % USERS,
                PrimaryKeyValue::AutoIncrement,
            )),
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

fn batch_write_row(c: &mut Criterion) {
    let (_dir, catalog) = open();
    // Ten different groups of receivers, taken in turn.
    let bodies: Vec<Vec<u8>> = (0..10).map(|g| fanout_body(g * FANOUT_ROWS)).collect();
    let mut group = c.benchmark_group("api/batch_write_row");
    group.throughput(Throughput::Elements(FANOUT_ROWS as u64));
    let mut next = 0;
    group.bench_function("fanout_100_rows", |b| {
        b.iter(|| {
            next = (next + 1) % bodies.len();
            let reply = handle(&catalog, Api::BatchWriteRow, INSTANCE, &bodies[next]);
            black_box(reply.expect("written"))
        })
    });
    group.finish();
    catalog.close().expect("close");
}

fn get_range(c: &mut Criterion) {
    let (_dir, catalog) = open();
    // Every user's queue holds ten rows.
    for _ in 0..10 {
        for first in (0..USERS).step_by(FANOUT_ROWS) {
            let body = fanout_body(first);
            handle(&catalog, Api::BatchWriteRow, INSTANCE, &body).expect("fill");
        }
    }
    // A sync read: a user's whole queue from its start (seq ids are generated).
    let bodies: Vec<Vec<u8>> = (0..USERS)
        .step_by(7)
        .map(|user| {
            let key = |seq| {
                let row = queue_row(user, seq);
                encode_row(&Row {
                    cells: Vec::new(),
                    ..row
                })
            };
            pb::GetRangeRequest {
                table_name: QUEUE.into(),
                direction: pb::Direction::Forward as i32,
                limit: Some(20),
                max_versions: Some(1),
                inclusive_start_primary_key: key(PrimaryKeyValue::InfMin),
                exclusive_end_primary_key: key(PrimaryKeyValue::InfMax),
                ..Default::default()
            }
            .encode_to_vec()
        })
        .collect();
    let mut group = c.benchmark_group("api/get_range");
    let mut next = 0;
    group.bench_function("queue_page_10_rows", |b| {
        b.iter(|| {
            next = (next + 1) % bodies.len();
            let reply = handle(&catalog, Api::GetRange, INSTANCE, &bodies[next]);
            black_box(reply.expect("read"))
        })
    });
    group.finish();
    catalog.close().expect("close");
}

criterion_group!(benches, batch_write_row, get_range);
criterion_main!(benches);
