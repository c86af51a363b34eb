//! Property test of the whole request path below HTTP: sequences of random but well-framed
//! requests (valid protobuf, PlainBuffer with correct checksums, so they get past decoding
//! into validation, conditions, filters, transactions and the engine) go through
//! `api::handle` against real tables. Whatever they ask, the server must not panic, must not
//! answer 500, and every success must be a response that decodes, rows included.

use std::panic::{catch_unwind, AssertUnwindSafe};

use otsd::api::{self, Api};
use otsd::engine::{Options, SyncPolicy};
use otsd::error::ErrorCode;
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{
    decode_row, decode_rows, encode_primary_key, encode_row, encode_value, Cell, CellOp,
    ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row,
};
use otsd::table::catalog::Catalog;
use proptest::prelude::*;
use prost::Message;

const INSTANCE: &str = "fuzz";
/// Tables every sequence starts with (names the generators favour).
const TABLES: [&str; 3] = ["t", "auto", "bin"];
/// Column names the generators draw from: schema names, attribute names, invalid ones.
const NAMES: [&str; 8] = ["a", "b", "u", "s", "k", "c", "n", ""];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(&NAMES[..]).prop_map(str::to_string),
        1 => "[a-z_]{1,8}",
        1 => Just("x".repeat(300)),
    ]
}

fn table_name() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => proptest::sample::select(&TABLES[..]).prop_map(str::to_string),
        1 => "[a-z0-9_]{0,6}",
    ]
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -3i64..10,
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
        1 => any::<i64>(),
    ]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..6),
        1 => Just(vec![0u8; 3000]),
    ]
}

fn pk_value() -> impl Strategy<Value = PrimaryKeyValue> {
    prop_oneof![
        4 => int().prop_map(PrimaryKeyValue::Integer),
        4 => "[a-c]{0,3}".prop_map(PrimaryKeyValue::String),
        2 => bytes().prop_map(PrimaryKeyValue::Binary),
        1 => Just(PrimaryKeyValue::InfMin),
        1 => Just(PrimaryKeyValue::InfMax),
        2 => Just(PrimaryKeyValue::AutoIncrement),
    ]
}

fn primary_key() -> impl Strategy<Value = Vec<PrimaryKeyColumn>> {
    proptest::collection::vec(
        (name(), pk_value()).prop_map(|(n, v)| PrimaryKeyColumn::new(n, v)),
        0..4,
    )
}

/// A key that fits one of the starting tables' schemas (so requests get past validation),
/// from small domains so that rows collide; `bounds` also allows INF_MIN / INF_MAX.
fn schema_key(bounds: bool) -> impl Strategy<Value = (String, Vec<PrimaryKeyColumn>)> {
    let inf = move |v: BoxedStrategy<PrimaryKeyValue>| {
        if bounds {
            prop_oneof![
                6 => v,
                1 => Just(PrimaryKeyValue::InfMin),
                1 => Just(PrimaryKeyValue::InfMax),
            ]
            .boxed()
        } else {
            v
        }
    };
    let text = || "[a-c]{0,2}".prop_map(PrimaryKeyValue::String).boxed();
    let small = || (-2i64..6).prop_map(PrimaryKeyValue::Integer).boxed();
    let seq = prop_oneof![3 => small(), 1 => Just(PrimaryKeyValue::AutoIncrement)].boxed();
    let blob = proptest::collection::vec(0u8..3, 0..3)
        .prop_map(PrimaryKeyValue::Binary)
        .boxed();
    let pk = |cols: Vec<(&'static str, PrimaryKeyValue)>| {
        cols.into_iter()
            .map(|(n, v)| PrimaryKeyColumn::new(n, v))
            .collect::<Vec<_>>()
    };
    prop_oneof![
        (inf(text()), inf(small()))
            .prop_map(move |(a, b)| ("t".to_string(), pk(vec![("a", a), ("b", b)]))),
        (inf(text()), inf(seq))
            .prop_map(move |(u, s)| ("auto".to_string(), pk(vec![("u", u), ("s", s)]))),
        inf(blob).prop_map(move |k| ("bin".to_string(), pk(vec![("k", k)]))),
    ]
}

/// Mostly a key that fits its table, sometimes anything.
fn target(bounds: bool) -> impl Strategy<Value = (String, Vec<PrimaryKeyColumn>)> {
    prop_oneof![
        5 => schema_key(bounds),
        1 => (table_name(), primary_key()),
    ]
}

fn column_value() -> impl Strategy<Value = ColumnValue> {
    prop_oneof![
        int().prop_map(ColumnValue::Integer),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            any::<f64>()
        ]
        .prop_map(ColumnValue::Double),
        any::<bool>().prop_map(ColumnValue::Boolean),
        "[a-c]{0,3}".prop_map(ColumnValue::String),
        bytes().prop_map(ColumnValue::Binary),
    ]
}

fn timestamp() -> impl Strategy<Value = Option<i64>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    prop_oneof![
        4 => Just(None),
        2 => (0i64..5).prop_map(move |d| Some(now - d)),
        1 => int().prop_map(Some),
    ]
}

fn cell() -> impl Strategy<Value = Cell> {
    let op = prop_oneof![
        8 => Just(None),
        1 => Just(Some(CellOp::DeleteAllVersions)),
        1 => Just(Some(CellOp::DeleteOneVersion)),
        2 => Just(Some(CellOp::Increment)),
    ];
    (
        name(),
        proptest::option::weighted(0.9, column_value()),
        op,
        timestamp(),
    )
        .prop_map(|(name, value, op, timestamp)| Cell {
            name,
            value,
            op,
            timestamp,
        })
}

/// A table and a row change for it.
fn row() -> impl Strategy<Value = (String, Row)> {
    (
        target(false),
        proptest::collection::vec(cell(), 0..5),
        proptest::bool::weighted(0.05),
    )
        .prop_map(|((table, primary_key), cells, delete_marker)| {
            let row = Row {
                primary_key,
                cells,
                delete_marker,
            };
            (table, row)
        })
}

/// A serialized `Filter`: single-column, composite (nested) or pagination.
fn filter() -> impl Strategy<Value = Vec<u8>> {
    let single = (
        0i32..9,
        name(),
        column_value(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(comparator, column_name, value, filter_if_missing, latest_version_only)| {
                let single = pb::SingleColumnValueFilter {
                    comparator,
                    column_name,
                    column_value: encode_value(&value),
                    filter_if_missing,
                    latest_version_only,
                    value_trans_rule: None,
                };
                pb::Filter {
                    r#type: 1,
                    filter: single.encode_to_vec(),
                }
            },
        );
    let page = (int(), int()).prop_map(|(offset, limit)| pb::Filter {
        r#type: 3,
        filter: pb::ColumnPaginationFilter {
            offset: offset as i32,
            limit: limit as i32,
        }
        .encode_to_vec(),
    });
    let leaf = prop_oneof![3 => single, 1 => page];
    leaf.prop_recursive(3, 8, 3, |inner| {
        (0i32..5, proptest::collection::vec(inner, 0..3)).prop_map(|(combinator, sub_filters)| {
            pb::Filter {
                r#type: 2,
                filter: pb::CompositeColumnValueFilter {
                    combinator,
                    sub_filters,
                }
                .encode_to_vec(),
            }
        })
    })
    .prop_map(|f| f.encode_to_vec())
}

fn condition() -> impl Strategy<Value = pb::Condition> {
    let existence = prop_oneof![8 => 0i32..3, 1 => Just(3)];
    (existence, proptest::option::weighted(0.3, filter())).prop_map(
        |(row_existence, column_condition)| pb::Condition {
            row_existence,
            column_condition,
        },
    )
}

fn return_content() -> impl Strategy<Value = Option<pb::ReturnContent>> {
    proptest::option::of((0i32..4, proptest::collection::vec(name(), 0..3)).prop_map(
        |(t, names)| pb::ReturnContent {
            return_type: Some(t),
            return_column_names: names,
        },
    ))
}

fn time_range() -> impl Strategy<Value = Option<pb::TimeRange>> {
    proptest::option::weighted(
        0.3,
        (
            proptest::option::of(int()),
            proptest::option::of(int()),
            proptest::option::of(int()),
        )
            .prop_map(|(start_time, end_time, specific_time)| pb::TimeRange {
                start_time,
                end_time,
                specific_time,
            }),
    )
}

/// Which open transaction (by index into those started so far) a request names, if any.
fn txn() -> impl Strategy<Value = Option<usize>> {
    proptest::option::weighted(0.15, 0usize..4)
}

/// Primary-key columns of a CreateTable as (name, type, option).
type PkSchema = Vec<(String, i32, Option<i32>)>;
/// One table of a BatchWriteRow: its name and (operation type, row, condition) per row.
type BatchWriteTable = (String, Vec<(i32, Row, pb::Condition)>);

/// One request, before the transaction index is resolved to an id.
#[derive(Debug, Clone)]
enum Req {
    Put(
        String,
        Row,
        pb::Condition,
        Option<pb::ReturnContent>,
        Option<usize>,
    ),
    Update(
        String,
        Row,
        pb::Condition,
        Option<pb::ReturnContent>,
        Option<usize>,
    ),
    Delete(String, Row, pb::Condition, Option<usize>),
    Get(
        String,
        Vec<PrimaryKeyColumn>,
        Vec<String>,
        Option<pb::TimeRange>,
        Option<i32>,
        Option<Vec<u8>>,
        Option<usize>,
    ),
    Range(
        String,
        i32,
        Vec<PrimaryKeyColumn>,
        Vec<PrimaryKeyColumn>,
        Option<i32>,
        Option<i32>,
        Option<Vec<u8>>,
        Option<usize>,
    ),
    BatchGet(Vec<(String, Vec<Vec<PrimaryKeyColumn>>, Option<i32>)>),
    BatchWrite(Vec<BatchWriteTable>, Option<bool>, Option<usize>),
    StartTxn(String, Vec<PrimaryKeyColumn>),
    EndTxn(bool, Option<usize>),
    CreateTable(String, PkSchema, Option<i32>, Option<i32>),
    UpdateTable(String, Option<i32>, Option<i32>, Option<i64>),
    Split(String, i64),
}

fn request() -> impl Strategy<Value = Req> {
    let max_versions =
        || proptest::option::of(prop_oneof![Just(1), Just(3), int().prop_map(|v| v as i32)]);
    prop_oneof![
        4 => (row(), proptest::bool::weighted(0.7), condition(), return_content(), txn())
            .prop_map(|((t, r), clean, c, rc, x)| Req::Put(t, if clean { puts_only(r) } else { r }, c, rc, x)),
        3 => (row(), condition(), return_content(), txn())
            .prop_map(|((t, r), c, rc, x)| Req::Update(t, r, c, rc, x)),
        1 => (row(), proptest::bool::weighted(0.8), condition(), txn()).prop_map(|((t, mut r), clean, c, x)| {
            if clean {
                r.cells.clear();
            }
            Req::Delete(t, r, c, x)
        }),
        3 => (
            target(false),
            proptest::collection::vec(name(), 0..3),
            time_range(),
            max_versions(),
            proptest::option::weighted(0.3, filter()),
            txn(),
        )
            .prop_map(|((t, k), cols, tr, mv, f, x)| Req::Get(t, k, cols, tr, mv, f, x)),
        3 => (
            target(true),
            prop_oneof![5 => 0i32..2, 1 => Just(2)],
            proptest::option::weighted(0.2, primary_key()),
            proptest::option::of(int().prop_map(|v| v as i32)),
            max_versions(),
            proptest::option::weighted(0.3, filter()),
            txn(),
        )
            .prop_map(|((t, start), d, other, l, mv, f, x)| {
                // The end bound: usually the start key with INF_MAX / INF_MIN swapped in.
                let end = other.unwrap_or_else(|| flip(&start, d));
                Req::Range(t, d, start, end, l, mv, f, x)
            }),
        1 => proptest::collection::vec(
            (proptest::collection::vec(target(false), 0..4), max_versions()),
            0..3,
        )
        .prop_map(|tables| {
            let tables = tables
                .into_iter()
                .filter_map(|(keys, mv)| {
                    let table = keys.first()?.0.clone();
                    Some((table, keys.into_iter().map(|(_, k)| k).collect(), mv))
                })
                .collect();
            Req::BatchGet(tables)
        }),
        2 => (
            proptest::collection::vec(proptest::collection::vec((0i32..4, row(), condition()), 0..5), 0..3)
                .prop_map(|tables| {
                    tables
                        .into_iter()
                        .filter_map(|rows| {
                            let table = rows.first()?.1 .0.clone();
                            Some((table, rows.into_iter().map(|(op, (_, r), c)| (op, r, c)).collect()))
                        })
                        .collect::<Vec<_>>()
                }),
            proptest::option::of(any::<bool>()),
            txn(),
        )
            .prop_map(|(tables, atomic, x)| Req::BatchWrite(tables, atomic, x)),
        1 => target(false).prop_map(|(t, k)| Req::StartTxn(t, k.into_iter().take(1).collect())),
        1 => (any::<bool>(), txn()).prop_map(|(commit, x)| Req::EndTxn(commit, x)),
        1 => (
            "[a-z]{1,4}",
            proptest::collection::vec((name(), 0i32..5, proptest::option::of(0i32..3)), 0..6),
            proptest::option::of(int().prop_map(|v| v as i32)),
            proptest::option::of(int().prop_map(|v| v as i32)),
        )
            .prop_map(|(t, pk, ttl, mv)| Req::CreateTable(t, pk, ttl, mv)),
        1 => (
            table_name(),
            proptest::option::of(int().prop_map(|v| v as i32)),
            proptest::option::of(int().prop_map(|v| v as i32)),
            proptest::option::of(int()),
        )
            .prop_map(|(t, ttl, mv, dev)| Req::UpdateTable(t, ttl, mv, dev)),
        1 => (table_name(), int()).prop_map(|(t, size)| Req::Split(t, size)),
    ]
}

/// `row` as a clean PutRow change: plain puts, each with a value.
fn puts_only(mut row: Row) -> Row {
    for cell in &mut row.cells {
        cell.op = None;
        cell.value.get_or_insert(ColumnValue::Integer(1));
    }
    row
}

/// `key` with every column after the first replaced by INF_MAX (forward) or INF_MIN
/// (backward): the end bound of a range over the first column's value.
fn flip(key: &[PrimaryKeyColumn], direction: i32) -> Vec<PrimaryKeyColumn> {
    let inf = if direction == 1 {
        PrimaryKeyValue::InfMin
    } else {
        PrimaryKeyValue::InfMax
    };
    key.iter()
        .enumerate()
        .map(|(i, c)| match i {
            0 => c.clone(),
            _ => PrimaryKeyColumn::new(c.name.clone(), inf.clone()),
        })
        .collect()
}

/// The transaction id a request names: one started earlier, or a made-up one.
fn txn_id(started: &[String], pick: Option<usize>) -> Option<String> {
    pick.map(|i| {
        started
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("no-such-txn-{i}"))
    })
}

/// The API and body of `req`.
fn encode(req: &Req, started: &[String]) -> (Api, Vec<u8>) {
    match req {
        Req::Put(table, row, condition, rc, x) => (
            Api::PutRow,
            pb::PutRowRequest {
                table_name: table.clone(),
                row: encode_row(row),
                condition: condition.clone(),
                return_content: rc.clone(),
                transaction_id: txn_id(started, *x),
            }
            .encode_to_vec(),
        ),
        Req::Update(table, row, condition, rc, x) => (
            Api::UpdateRow,
            pb::UpdateRowRequest {
                table_name: table.clone(),
                row_change: encode_row(row),
                condition: condition.clone(),
                return_content: rc.clone(),
                transaction_id: txn_id(started, *x),
            }
            .encode_to_vec(),
        ),
        Req::Delete(table, row, condition, x) => (
            Api::DeleteRow,
            pb::DeleteRowRequest {
                table_name: table.clone(),
                primary_key: encode_row(&Row {
                    delete_marker: true,
                    ..row.clone()
                }),
                condition: condition.clone(),
                return_content: None,
                transaction_id: txn_id(started, *x),
            }
            .encode_to_vec(),
        ),
        Req::Get(table, key, columns, tr, mv, filter, x) => (
            Api::GetRow,
            pb::GetRowRequest {
                table_name: table.clone(),
                primary_key: encode_primary_key(key),
                columns_to_get: columns.clone(),
                time_range: *tr,
                max_versions: *mv,
                filter: filter.clone(),
                transaction_id: txn_id(started, *x),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        Req::Range(table, direction, start, end, limit, mv, filter, x) => (
            Api::GetRange,
            pb::GetRangeRequest {
                table_name: table.clone(),
                direction: *direction,
                inclusive_start_primary_key: encode_primary_key(start),
                exclusive_end_primary_key: encode_primary_key(end),
                limit: *limit,
                max_versions: *mv,
                filter: filter.clone(),
                transaction_id: txn_id(started, *x),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        Req::BatchGet(tables) => (
            Api::BatchGetRow,
            pb::BatchGetRowRequest {
                tables: tables
                    .iter()
                    .map(|(table, keys, mv)| pb::TableInBatchGetRowRequest {
                        table_name: table.clone(),
                        primary_key: keys.iter().map(|k| encode_primary_key(k)).collect(),
                        max_versions: *mv,
                        ..Default::default()
                    })
                    .collect(),
            }
            .encode_to_vec(),
        ),
        Req::BatchWrite(tables, is_atomic, x) => (
            Api::BatchWriteRow,
            pb::BatchWriteRowRequest {
                tables: tables
                    .iter()
                    .map(|(table, rows)| pb::TableInBatchWriteRowRequest {
                        table_name: table.clone(),
                        rows: rows
                            .iter()
                            .map(|(op, row, condition)| pb::RowInBatchWriteRowRequest {
                                r#type: *op,
                                row_change: encode_row(row),
                                condition: condition.clone(),
                                return_content: None,
                            })
                            .collect(),
                    })
                    .collect(),
                transaction_id: txn_id(started, *x),
                is_atomic: *is_atomic,
            }
            .encode_to_vec(),
        ),
        Req::StartTxn(table, key) => (
            Api::StartLocalTransaction,
            pb::StartLocalTransactionRequest {
                table_name: table.clone(),
                key: encode_primary_key(key),
            }
            .encode_to_vec(),
        ),
        Req::EndTxn(commit, x) => {
            let transaction_id = txn_id(started, *x).unwrap_or_default();
            if *commit {
                let body = pb::CommitTransactionRequest { transaction_id };
                (Api::CommitTransaction, body.encode_to_vec())
            } else {
                let body = pb::AbortTransactionRequest { transaction_id };
                (Api::AbortTransaction, body.encode_to_vec())
            }
        }
        Req::CreateTable(table, pk, ttl, mv) => {
            (Api::CreateTable, create_table(table, pk, *ttl, *mv))
        }
        Req::UpdateTable(table, ttl, mv, deviation) => (
            Api::UpdateTable,
            pb::UpdateTableRequest {
                table_name: table.clone(),
                table_options: Some(pb::TableOptions {
                    time_to_live: *ttl,
                    max_versions: *mv,
                    deviation_cell_version_in_sec: *deviation,
                    ..Default::default()
                }),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        Req::Split(table, split_size) => (
            Api::ComputeSplitPointsBySize,
            pb::ComputeSplitPointsBySizeRequest {
                table_name: table.clone(),
                split_size: *split_size,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
    }
}

/// A CreateTable body: `pk` as (name, type, option) triples.
fn create_table(
    table: &str,
    pk: &[(String, i32, Option<i32>)],
    ttl: Option<i32>,
    mv: Option<i32>,
) -> Vec<u8> {
    pb::CreateTableRequest {
        table_meta: pb::TableMeta {
            table_name: table.to_string(),
            primary_key: pk
                .iter()
                .map(|(name, t, option)| pb::PrimaryKeySchema {
                    name: name.clone(),
                    r#type: *t,
                    option: *option,
                })
                .collect(),
            ..Default::default()
        },
        table_options: Some(pb::TableOptions {
            time_to_live: ttl,
            max_versions: mv,
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Opens a catalog with the three starting tables.
fn catalog(dir: &std::path::Path) -> Catalog {
    let options = Options {
        sync: SyncPolicy::Never,
        ..Options::default()
    };
    let catalog = Catalog::open_with(dir, options).expect("open catalog");
    let schemas: [(&str, PkSchema); 3] = [
        ("t", vec![("a".into(), 2, None), ("b".into(), 1, None)]),
        (
            "auto",
            vec![("u".into(), 2, None), ("s".into(), 1, Some(1))],
        ),
        ("bin", vec![("k".into(), 3, None)]),
    ];
    for (table, pk) in schemas {
        let body = create_table(table, &pk, Some(-1), Some(3));
        api::handle(&catalog, Api::CreateTable, INSTANCE, &body).expect("create table");
    }
    catalog
}

/// Checks that a successful answer decodes as `api`'s response, rows included.
fn check_response(api: Api, bytes: &[u8]) -> Result<(), String> {
    let bad = |what: &str, e: &dyn std::fmt::Debug| Err(format!("{api:?} answered {what}: {e:?}"));
    let row = |b: &[u8]| {
        if b.is_empty() {
            Ok(())
        } else {
            decode_row(b).map(drop).map_err(|e| format!("{e:?}"))
        }
    };
    match api {
        Api::GetRow => match pb::GetRowResponse::decode(bytes) {
            Ok(r) => row(&r.row).or_else(|e| bad("an undecodable row", &e)),
            Err(e) => bad("an undecodable response", &e),
        },
        Api::GetRange => match pb::GetRangeResponse::decode(bytes) {
            Ok(r) if r.rows.is_empty() => Ok(()),
            Ok(r) => decode_rows(&r.rows)
                .map(drop)
                .or_else(|e| bad("undecodable rows", &e)),
            Err(e) => bad("an undecodable response", &e),
        },
        Api::PutRow | Api::UpdateRow | Api::DeleteRow => match pb::PutRowResponse::decode(bytes) {
            Ok(r) => {
                row(r.row.as_deref().unwrap_or_default()).or_else(|e| bad("an undecodable row", &e))
            }
            Err(e) => bad("an undecodable response", &e),
        },
        Api::BatchGetRow => match pb::BatchGetRowResponse::decode(bytes) {
            Ok(r) => r
                .tables
                .iter()
                .flat_map(|t| &t.rows)
                .try_for_each(|r| row(r.row.as_deref().unwrap_or_default()))
                .or_else(|e| bad("an undecodable row", &e)),
            Err(e) => bad("an undecodable response", &e),
        },
        Api::BatchWriteRow => pb::BatchWriteRowResponse::decode(bytes)
            .map(drop)
            .or_else(|e| bad("an undecodable response", &e)),
        _ => Ok(()),
    }
}

/// Runs one request; returns the new transaction id a StartLocalTransaction answered.
fn run(catalog: &Catalog, req: &Req, started: &[String]) -> Result<Option<String>, String> {
    let (api, body) = encode(req, started);
    let answer = catch_unwind(AssertUnwindSafe(|| {
        api::handle(catalog, api, INSTANCE, &body)
    }))
    .map_err(|_| format!("{api:?} panicked on {req:?}"))?;
    match answer {
        Ok(bytes) => {
            check_response(api, &bytes).map_err(|e| format!("{e} (request {req:?})"))?;
            if api == Api::StartLocalTransaction {
                let id = pb::StartLocalTransactionResponse::decode(bytes.as_slice())
                    .map_err(|e| format!("StartLocalTransaction answered {e:?}"))?;
                return Ok(Some(id.transaction_id));
            }
            Ok(None)
        }
        Err(e) if e.code == ErrorCode::InternalServerError => {
            Err(format!("{api:?} answered 500 ({}) to {req:?}", e.message))
        }
        Err(_) => Ok(None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_never_panic_nor_answer_500(reqs in proptest::collection::vec(request(), 1..12)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = catalog(dir.path());
        let mut started = Vec::new();
        for req in &reqs {
            match run(&catalog, req, &started) {
                Ok(Some(id)) => started.push(id),
                Ok(None) => {}
                Err(why) => prop_assert!(false, "{}", why),
            }
        }
    }
}
