//! Property test of conditional writes through `api::handle` (SEMANTICS.md §5, §6, §8, §9):
//! random PutRow, UpdateRow (PUT, DELETE_ALL, INCREMENT) and DeleteRow under random row
//! existence expectations and column conditions, each answer and the row read back after it
//! compared with a model: a failed check answers 403 OTSConditionCheckFail and changes
//! nothing, an INCREMENT of a non-integer answers 400 and changes nothing, and
//! RT_AFTER_MODIFY returns the counter's new value. BatchWriteRow applies its rows in request
//! order, each answering on its own, and refuses every row of a key that another row of the
//! request also writes when one of them is an INCREMENT. Restarts in between change nothing,
//! and BatchGetRow always answers what GetRow does.

mod api_common;

use std::collections::BTreeMap;

use otsd::api::{self, Api};
use otsd::error::{ErrorCode, OtsError};
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{
    decode_row, encode_primary_key, encode_row, encode_value, Cell, CellOp, ColumnValue,
    PrimaryKeyColumn, PrimaryKeyValue, Row,
};
use otsd::table::catalog::Catalog;
use proptest::prelude::*;
use prost::Message;

const INSTANCE: &str = "cond";
const TABLE: &str = "c";
const KEYS: i64 = 3;
/// The attribute columns: `n` is only ever an integer; `s` a string or, once incremented
/// from nothing, an integer.
const COLUMNS: [&str; 2] = ["n", "s"];

#[derive(Debug, Clone, PartialEq)]
enum V {
    Int(i64),
    Str(String),
}

#[derive(Debug, Clone)]
enum Change {
    Put(usize, V),
    DeleteAll(usize),
    Increment(usize, i64),
}

/// Row existence expectation (0 IGNORE, 1 EXPECT_EXIST, 2 EXPECT_NOT_EXIST) and an optional
/// single-column condition on `n`: (comparator 1..=6, value, pass_if_missing).
#[derive(Debug, Clone)]
struct Cond {
    existence: i32,
    column: Option<(i32, i64, bool)>,
}

#[derive(Debug, Clone)]
enum Op {
    Put(i64, Vec<(usize, V)>, Cond),
    Update(i64, Vec<Change>, Cond, bool),
    Delete(i64, Cond),
    /// One BatchWriteRow of single-row writes (never itself a `Batch`), in request order.
    Batch(Vec<Op>),
    /// Closes the catalog and opens it again on the same directory (a server restart).
    Reopen,
}

/// A stored row: a PK-only marker (from a PutRow without columns) and its columns.
#[derive(Debug, Clone, Default, PartialEq)]
struct ModelRow {
    marker: bool,
    columns: BTreeMap<usize, V>,
}

impl ModelRow {
    fn exists(&self) -> bool {
        self.marker || !self.columns.is_empty()
    }
}

/// Whether `cond` holds for the stored row (`None`: absent).
fn holds(cond: &Cond, row: Option<&ModelRow>) -> bool {
    let exists = row.is_some_and(ModelRow::exists);
    let existence = match cond.existence {
        1 => exists,
        2 => !exists,
        _ => true,
    };
    let column = match cond.column {
        None => true,
        Some((comparator, given, pass_if_missing)) => {
            match row.filter(|r| r.exists()).and_then(|r| r.columns.get(&0)) {
                None => pass_if_missing,
                Some(V::Int(n)) => api_common::accepts(comparator, n.cmp(&given)),
                Some(V::Str(_)) => false,
            }
        }
    };
    existence && column
}

fn wire_value(v: &V) -> ColumnValue {
    match v {
        V::Int(i) => ColumnValue::Integer(*i),
        V::Str(s) => ColumnValue::String(s.clone()),
    }
}

fn pk(k: i64) -> Vec<PrimaryKeyColumn> {
    vec![PrimaryKeyColumn::new("k", PrimaryKeyValue::Integer(k))]
}

fn condition(c: &Cond) -> pb::Condition {
    pb::Condition {
        row_existence: c.existence,
        column_condition: c.column.map(|(comparator, value, pass_if_missing)| {
            pb::Filter {
                r#type: 1,
                filter: pb::SingleColumnValueFilter {
                    comparator,
                    column_name: "n".into(),
                    column_value: encode_value(&ColumnValue::Integer(value)),
                    filter_if_missing: !pass_if_missing,
                    latest_version_only: true,
                    value_trans_rule: None,
                }
                .encode_to_vec(),
            }
            .encode_to_vec()
        }),
    }
}

fn cell(name: usize, value: Option<ColumnValue>, op: Option<CellOp>) -> Cell {
    Cell {
        name: COLUMNS[name].into(),
        value,
        op,
        timestamp: None,
    }
}

/// The PlainBuffer row of a single-row write.
fn wire_row(op: &Op) -> Row {
    match op {
        Op::Put(k, cells, _) => Row {
            primary_key: pk(*k),
            cells: cells
                .iter()
                .map(|(c, v)| cell(*c, Some(wire_value(v)), None))
                .collect(),
            delete_marker: false,
        },
        Op::Update(k, changes, _, _) => Row {
            primary_key: pk(*k),
            cells: changes
                .iter()
                .map(|c| match c {
                    Change::Put(col, v) => cell(*col, Some(wire_value(v)), None),
                    Change::DeleteAll(col) => cell(*col, None, Some(CellOp::DeleteAllVersions)),
                    Change::Increment(col, d) => cell(
                        *col,
                        Some(ColumnValue::Integer(*d)),
                        Some(CellOp::Increment),
                    ),
                })
                .collect(),
            delete_marker: false,
        },
        Op::Delete(k, _) => Row {
            primary_key: pk(*k),
            cells: vec![],
            delete_marker: true,
        },
        Op::Batch(_) | Op::Reopen => unreachable!("not a single-row write"),
    }
}

fn encode(op: &Op) -> (Api, Vec<u8>) {
    match op {
        Op::Reopen => unreachable!("a restart is no request"),
        Op::Batch(rows) => (
            Api::BatchWriteRow,
            pb::BatchWriteRowRequest {
                tables: vec![pb::TableInBatchWriteRowRequest {
                    table_name: TABLE.into(),
                    rows: rows
                        .iter()
                        .map(|row| {
                            let (kind, cond) = match row {
                                Op::Put(_, _, c) => (1, c),
                                Op::Update(_, _, c, _) => (2, c),
                                Op::Delete(_, c) => (3, c),
                                Op::Batch(_) | Op::Reopen => unreachable!("not a single-row write"),
                            };
                            pb::RowInBatchWriteRowRequest {
                                r#type: kind,
                                row_change: encode_row(&wire_row(row)),
                                condition: condition(cond),
                                return_content: None,
                            }
                        })
                        .collect(),
                }],
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        Op::Put(_, _, cond) => (
            Api::PutRow,
            pb::PutRowRequest {
                table_name: TABLE.into(),
                row: encode_row(&wire_row(op)),
                condition: condition(cond),
                return_content: None,
                transaction_id: None,
            }
            .encode_to_vec(),
        ),
        Op::Update(_, _, cond, after_modify) => (
            Api::UpdateRow,
            pb::UpdateRowRequest {
                table_name: TABLE.into(),
                row_change: encode_row(&wire_row(op)),
                condition: condition(cond),
                return_content: after_modify.then(|| pb::ReturnContent {
                    return_type: Some(2),
                    return_column_names: vec!["n".into()],
                }),
                transaction_id: None,
            }
            .encode_to_vec(),
        ),
        Op::Delete(_, cond) => (
            Api::DeleteRow,
            pb::DeleteRowRequest {
                table_name: TABLE.into(),
                primary_key: encode_row(&wire_row(op)),
                condition: condition(cond),
                return_content: None,
                transaction_id: None,
            }
            .encode_to_vec(),
        ),
    }
}

/// What the model expects of `op`: the row after it, or the error code it must answer.
fn apply(rows: &BTreeMap<i64, ModelRow>, op: &Op) -> Result<Option<ModelRow>, ErrorCode> {
    let (k, cond) = match op {
        Op::Put(k, _, c) | Op::Update(k, _, c, _) | Op::Delete(k, c) => (*k, c),
        Op::Batch(_) | Op::Reopen => unreachable!("not a single-row write"),
    };
    let current = rows.get(&k);
    if !holds(cond, current) {
        return Err(ErrorCode::ConditionCheckFail);
    }
    match op {
        Op::Put(_, cells, _) => Ok(Some(ModelRow {
            marker: cells.is_empty(),
            columns: cells.iter().cloned().collect(),
        })),
        Op::Update(_, changes, _, _) => {
            let mut row = current.cloned().unwrap_or_default();
            for change in changes {
                match change {
                    Change::Put(col, v) => {
                        row.columns.insert(*col, v.clone());
                    }
                    Change::DeleteAll(col) => {
                        row.columns.remove(col);
                    }
                    Change::Increment(col, d) => {
                        let base = match row.columns.get(col) {
                            None => 0,
                            Some(V::Int(n)) => *n,
                            Some(V::Str(_)) => return Err(ErrorCode::ParameterInvalid),
                        };
                        row.columns.insert(*col, V::Int(base + d));
                    }
                }
            }
            Ok(Some(row))
        }
        Op::Delete(..) | Op::Batch(_) | Op::Reopen => Ok(None),
    }
}

fn key_of(op: &Op) -> i64 {
    match op {
        Op::Put(k, ..) | Op::Update(k, ..) | Op::Delete(k, _) => *k,
        Op::Batch(_) | Op::Reopen => unreachable!("not a single-row write"),
    }
}

fn is_counter(op: &Op) -> bool {
    matches!(op, Op::Update(_, changes, _, _) if changes.iter().any(|c| matches!(c, Change::Increment(..))))
}

/// What each row of a batch must answer, applying the rows in order to `rows`.
fn apply_batch(rows: &mut BTreeMap<i64, ModelRow>, batch: &[Op]) -> Vec<Result<(), ErrorCode>> {
    batch
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let repeated_counter = batch.iter().enumerate().any(|(j, other)| {
                j != i && key_of(other) == key_of(op) && (is_counter(op) || is_counter(other))
            });
            if repeated_counter {
                return Err(ErrorCode::ParameterInvalid);
            }
            let row = apply(rows, op)?;
            store(rows, key_of(op), row);
            Ok(())
        })
        .collect()
}

fn store(rows: &mut BTreeMap<i64, ModelRow>, k: i64, row: Option<ModelRow>) {
    match row {
        Some(r) => rows.insert(k, r),
        None => rows.remove(&k),
    };
}

/// Checks a BatchWriteRow answer row by row.
fn check_batch_answer(answer: Result<Vec<u8>, OtsError>, want: &[Result<(), ErrorCode>], op: &Op) {
    let bytes = answer.unwrap_or_else(|e| panic!("{op:?} refused: {e:?}"));
    let resp = pb::BatchWriteRowResponse::decode(bytes.as_slice()).expect("decode");
    let got: Vec<Result<(), String>> = resp.tables[0]
        .rows
        .iter()
        .map(|r| match (r.is_ok, &r.error) {
            (true, _) => Ok(()),
            (false, Some(e)) => Err(e.code.clone()),
            (false, None) => Err("no error".into()),
        })
        .collect();
    let want: Vec<Result<(), String>> = want
        .iter()
        .map(|w| w.map_err(|c| c.as_str().to_string()))
        .collect();
    assert_eq!(got, want, "{op:?}");
}

fn catalog(dir: &std::path::Path) -> Catalog {
    api_common::open_with_table(dir, INSTANCE, TABLE, &[("k", 1, None)], 1)
}

/// The row at `k` as GetRow returns it, in model form.
fn read(catalog: &Catalog, k: i64) -> Option<ModelRow> {
    let body = pb::GetRowRequest {
        table_name: TABLE.into(),
        primary_key: encode_primary_key(&pk(k)),
        max_versions: Some(1),
        ..Default::default()
    }
    .encode_to_vec();
    let bytes = api::handle(catalog, Api::GetRow, INSTANCE, &body).expect("GetRow");
    let resp = pb::GetRowResponse::decode(bytes.as_slice()).expect("decode");
    model_row(&resp.row)
}

/// The rows at every key, in key order, as one BatchGetRow returns them.
fn batch_read(catalog: &Catalog) -> Vec<Option<ModelRow>> {
    let body = pb::BatchGetRowRequest {
        tables: vec![pb::TableInBatchGetRowRequest {
            table_name: TABLE.into(),
            primary_key: (0..KEYS).map(|k| encode_primary_key(&pk(k))).collect(),
            max_versions: Some(1),
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let bytes = api::handle(catalog, Api::BatchGetRow, INSTANCE, &body).expect("BatchGetRow");
    let resp = pb::BatchGetRowResponse::decode(bytes.as_slice()).expect("decode");
    resp.tables[0]
        .rows
        .iter()
        .map(|r| {
            assert!(r.is_ok, "a BatchGetRow row failed: {:?}", r.error);
            model_row(r.row.as_deref().unwrap_or_default())
        })
        .collect()
}

/// A response row in model form (`None` for the empty row of a missing one).
fn model_row(bytes: &[u8]) -> Option<ModelRow> {
    if bytes.is_empty() {
        return None;
    }
    let row = decode_row(bytes).expect("decode row");
    let columns: BTreeMap<usize, V> = row
        .cells
        .iter()
        .map(|c| {
            let col = COLUMNS
                .iter()
                .position(|n| *n == c.name)
                .expect("known column");
            let v = match c.value.as_ref() {
                Some(ColumnValue::Integer(i)) => V::Int(*i),
                Some(ColumnValue::String(s)) => V::Str(s.clone()),
                other => panic!("column {} holds {other:?}", c.name),
            };
            (col, v)
        })
        .collect();
    // A row without columns can only be a marked one.
    Some(ModelRow {
        marker: columns.is_empty(),
        columns,
    })
}

/// The `n` an RT_AFTER_MODIFY answer carries.
fn returned_n(bytes: &[u8]) -> Option<i64> {
    let resp = pb::UpdateRowResponse::decode(bytes).expect("decode");
    let row = decode_row(resp.row.as_deref().filter(|r| !r.is_empty())?).expect("decode row");
    row.cells
        .iter()
        .find(|c| c.name == "n")
        .map(|c| match c.value {
            Some(ColumnValue::Integer(n)) => n,
            ref other => panic!("returned n is {other:?}"),
        })
}

/// Compares a read-back row with the model's, where a marker only shows as a row that
/// exists without columns.
fn same(got: Option<ModelRow>, want: Option<&ModelRow>) -> bool {
    let want = want.filter(|r| r.exists());
    match (got, want) {
        (None, None) => true,
        (Some(g), Some(w)) => g.columns == w.columns,
        _ => false,
    }
}

fn value() -> impl Strategy<Value = V> {
    prop_oneof![(-3i64..4).prop_map(V::Int), "[ab]{0,2}".prop_map(V::Str)]
}

/// Cells of a PutRow: `n` an integer, `s` a string.
fn put_cells() -> impl Strategy<Value = Vec<(usize, V)>> {
    (
        prop::option::of((-3i64..4).prop_map(V::Int)),
        prop::option::of("[ab]{0,2}".prop_map(V::Str)),
    )
        .prop_map(|(n, s)| {
            let mut cells = Vec::new();
            cells.extend(n.map(|v| (0, v)));
            cells.extend(s.map(|v| (1, v)));
            cells
        })
}

/// Changes of an UpdateRow, at most one per column (the service refuses repeats).
fn changes() -> impl Strategy<Value = Vec<Change>> {
    let change = |col: usize| {
        prop_oneof![
            2 => value()
                .prop_filter("n holds integers only", move |v| col == 1 || matches!(v, V::Int(_)))
                .prop_map(move |v| Change::Put(col, v)),
            1 => Just(Change::DeleteAll(col)),
            2 => (-2i64..3).prop_map(move |d| Change::Increment(col, d)),
        ]
    };
    (prop::option::of(change(0)), prop::option::of(change(1))).prop_filter_map(
        "at least one change",
        |(n, s)| {
            let all: Vec<Change> = n.into_iter().chain(s).collect();
            (!all.is_empty()).then_some(all)
        },
    )
}

fn cond() -> impl Strategy<Value = Cond> {
    (
        0i32..3,
        prop::option::weighted(0.5, (1i32..=6, -3i64..4, any::<bool>())),
    )
        .prop_map(|(existence, column)| Cond { existence, column })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => single_op(),
        2 => prop::collection::vec(single_op(), 1..6).prop_map(Op::Batch),
        1 => Just(Op::Reopen),
    ]
}

fn single_op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS;
    prop_oneof![
        3 => (key.clone(), put_cells(), cond()).prop_map(|(k, c, cond)| Op::Put(k, c, cond)),
        4 => (key.clone(), changes(), cond(), any::<bool>())
            .prop_map(|(k, c, cond, r)| Op::Update(k, c, cond, r)),
        1 => (key, cond()).prop_map(|(k, cond)| Op::Delete(k, cond)),
    ]
}

fn check_answer(
    answer: Result<Vec<u8>, OtsError>,
    want: &Result<Option<ModelRow>, ErrorCode>,
    op: &Op,
) {
    match (answer, want) {
        (Ok(bytes), Ok(row)) => {
            if let Op::Update(_, _, _, true) = op {
                let want_n = row.as_ref().and_then(|r| match r.columns.get(&0) {
                    Some(V::Int(n)) => Some(*n),
                    _ => None,
                });
                assert_eq!(returned_n(&bytes), want_n, "RT_AFTER_MODIFY of {op:?}");
            }
        }
        (Err(e), Err(code)) => {
            assert_eq!(e.code, *code, "{op:?}: {}", e.message);
            if *code == ErrorCode::ConditionCheckFail {
                assert_eq!(e.message, "Condition check failed.");
            }
        }
        (got, want) => panic!("{op:?}: got {got:?}, model says {want:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn conditional_writes_match_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut catalog = catalog(dir.path());
        let mut rows: BTreeMap<i64, ModelRow> = BTreeMap::new();
        for op in &ops {
            if let Op::Reopen = op {
                catalog = api_common::restart(catalog, dir.path());
                for (k, got) in (0..KEYS).zip(batch_read(&catalog)) {
                    prop_assert!(same(got, rows.get(&k)), "row {} after a restart", k);
                }
                continue;
            }
            let (api, body) = encode(op);
            let answer = api::handle(&catalog, api, INSTANCE, &body);
            let keys: Vec<i64> = match op {
                Op::Batch(batch) => {
                    let want = apply_batch(&mut rows, batch);
                    check_batch_answer(answer, &want, op);
                    batch.iter().map(key_of).collect()
                }
                _ => {
                    let want = apply(&rows, op);
                    check_answer(answer, &want, op);
                    if let Ok(row) = want {
                        store(&mut rows, key_of(op), row);
                    }
                    vec![key_of(op)]
                }
            };
            for k in keys {
                prop_assert!(same(read(&catalog, k), rows.get(&k)), "row {} after {:?}: stored {:?}", k, op, read(&catalog, k));
            }
            // BatchGetRow sees what GetRow sees, in request order.
            let all: Vec<Option<ModelRow>> = (0..KEYS).map(|k| read(&catalog, k)).collect();
            prop_assert_eq!(batch_read(&catalog), all, "BatchGetRow after {:?}", op);
        }
    }
}
