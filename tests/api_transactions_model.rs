//! Property test of local transactions through `api::handle` (SEMANTICS.md §14): random
//! interleavings of StartLocalTransaction, writes and reads with and without transaction ids,
//! Commit and Abort over two partitions, against a model of the rules — a transaction holds
//! its partition exclusively, its writes are seen only by reads that carry its id until
//! Commit applies them all at once, Abort discards them, and a finished id is refused. A
//! restart ends every open transaction and keeps what was committed.

mod api_common;

use std::collections::BTreeMap;

use otsd::api::{self, Api};
use otsd::error::{ErrorCode, OtsError};
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{
    decode_row, encode_primary_key, encode_row, Cell, ColumnValue, PrimaryKeyColumn,
    PrimaryKeyValue, Row,
};
use otsd::table::catalog::Catalog;
use proptest::prelude::*;
use prost::Message;

const INSTANCE: &str = "txn";
const TABLE: &str = "t";
const PARTITIONS: [&str; 2] = ["x", "y"];
const SORTS: i64 = 3;

/// A row key: (partition index, sort key).
type Key = (usize, i64);

#[derive(Debug, Clone)]
enum Op {
    Start(usize),
    /// Puts value `v` at `key`, through the transaction with this index (if any).
    Put(Key, i64, Option<usize>),
    Delete(Key, Option<usize>),
    Get(Key, Option<usize>),
    /// Reads the whole partition with GetRange.
    Range(usize, Option<usize>),
    Commit(usize),
    Abort(usize),
    /// Closes the catalog and opens it again: open transactions are lost with their buffers
    /// (they live in memory, as an idle one would time out), committed data stays.
    Reopen,
}

/// One transaction the test started: its id and partition, and whether it is still open.
struct Txn {
    id: String,
    partition: usize,
    open: bool,
    /// Its buffered writes: `None` is a delete.
    writes: BTreeMap<Key, Option<i64>>,
}

#[derive(Default)]
struct Model {
    committed: BTreeMap<Key, i64>,
    txns: Vec<Txn>,
}

impl Model {
    fn holder(&self, partition: usize) -> Option<usize> {
        self.txns
            .iter()
            .position(|t| t.open && t.partition == partition)
    }

    /// The value at `key` as a read with transaction `txn` (or none) sees it.
    fn read(&self, key: Key, txn: Option<usize>) -> Option<i64> {
        if let Some(t) = txn.map(|i| &self.txns[i]) {
            if let Some(w) = t.writes.get(&key) {
                return *w;
            }
        }
        self.committed.get(&key).copied()
    }
}

fn pk(key: Key) -> Vec<PrimaryKeyColumn> {
    vec![
        PrimaryKeyColumn::new("p", PrimaryKeyValue::String(PARTITIONS[key.0].into())),
        PrimaryKeyColumn::new("s", PrimaryKeyValue::Integer(key.1)),
    ]
}

fn catalog(dir: &std::path::Path) -> Catalog {
    api_common::open_with_table(dir, INSTANCE, TABLE, &[("p", 2, None), ("s", 1, None)], 1)
}

/// The id a request carries for transaction index `i`: a real id, or one never issued when
/// the test has not started that many.
fn id_of(model: &Model, i: Option<usize>) -> Option<String> {
    i.map(|i| {
        model
            .txns
            .get(i)
            .map_or_else(|| format!("never-issued-{i}"), |t| t.id.clone())
    })
}

fn call(catalog: &Catalog, api: Api, body: Vec<u8>) -> Result<Vec<u8>, OtsError> {
    api::handle(catalog, api, INSTANCE, &body)
}

fn value_of(row: &Row) -> i64 {
    match row.cells.first().and_then(|c| c.value.as_ref()) {
        Some(ColumnValue::Integer(v)) => *v,
        other => panic!("row holds {other:?}"),
    }
}

/// What the model says a request carrying transaction `txn` may do to `partition`: `Ok`
/// or the error it must get.
fn access(
    model: &Model,
    partition: usize,
    txn: Option<usize>,
    write: bool,
) -> Result<(), &'static str> {
    match txn {
        Some(i) => match model.txns.get(i) {
            Some(t) if t.open && t.partition == partition => Ok(()),
            Some(t) if t.open => Err("partition"),
            _ => Err("invalid"),
        },
        None if write && model.holder(partition).is_some() => Err("conflict"),
        None => Ok(()),
    }
}

fn check_error(e: &OtsError, want: &str, op: &Op) {
    let (code, message) = match want {
        "conflict" => (
            ErrorCode::RowOperationConflict,
            "Data is being modified by the other request.",
        ),
        "invalid" => (ErrorCode::ParameterInvalid, "TransactionID is invalid."),
        _ => (
            ErrorCode::ParameterInvalid,
            "The partition key of the row does not match the transaction's partition key.",
        ),
    };
    assert_eq!((e.code, e.message.as_str()), (code, message), "{op:?}");
}

fn step(catalog: &Catalog, model: &mut Model, op: &Op) {
    match *op {
        Op::Start(p) => {
            let body = pb::StartLocalTransactionRequest {
                table_name: TABLE.into(),
                key: encode_primary_key(&pk((p, 0))[..1]),
            }
            .encode_to_vec();
            match (
                call(catalog, Api::StartLocalTransaction, body),
                model.holder(p),
            ) {
                (Ok(bytes), None) => {
                    let id = pb::StartLocalTransactionResponse::decode(bytes.as_slice())
                        .expect("decode")
                        .transaction_id;
                    model.txns.push(Txn {
                        id,
                        partition: p,
                        open: true,
                        writes: BTreeMap::new(),
                    });
                }
                (Err(e), Some(_)) => check_error(&e, "conflict", op),
                (got, holder) => panic!("{op:?}: got {got:?} with holder {holder:?}"),
            }
        }
        Op::Put(key, v, txn) => write(catalog, model, op, key, Some(v), txn),
        Op::Delete(key, txn) => write(catalog, model, op, key, None, txn),
        Op::Get(key, txn) => {
            let body = pb::GetRowRequest {
                table_name: TABLE.into(),
                primary_key: encode_primary_key(&pk(key)),
                max_versions: Some(1),
                transaction_id: id_of(model, txn),
                ..Default::default()
            }
            .encode_to_vec();
            match (
                call(catalog, Api::GetRow, body),
                access(model, key.0, txn, false),
            ) {
                (Ok(bytes), Ok(())) => {
                    let resp = pb::GetRowResponse::decode(bytes.as_slice()).expect("decode");
                    let got = (!resp.row.is_empty())
                        .then(|| value_of(&decode_row(&resp.row).expect("decode row")));
                    assert_eq!(got, model.read(key, txn), "{op:?}");
                }
                (Err(e), Err(want)) => check_error(&e, want, op),
                (got, want) => panic!("{op:?}: got {got:?}, model says {want:?}"),
            }
        }
        Op::Range(p, txn) => {
            let bound = |inf| {
                vec![
                    PrimaryKeyColumn::new("p", PrimaryKeyValue::String(PARTITIONS[p].into())),
                    PrimaryKeyColumn::new("s", inf),
                ]
            };
            let body = pb::GetRangeRequest {
                table_name: TABLE.into(),
                direction: 0,
                max_versions: Some(1),
                inclusive_start_primary_key: encode_primary_key(&bound(PrimaryKeyValue::InfMin)),
                exclusive_end_primary_key: encode_primary_key(&bound(PrimaryKeyValue::InfMax)),
                transaction_id: id_of(model, txn),
                ..Default::default()
            }
            .encode_to_vec();
            match (
                call(catalog, Api::GetRange, body),
                access(model, p, txn, false),
            ) {
                (Ok(bytes), Ok(())) => {
                    let resp = pb::GetRangeResponse::decode(bytes.as_slice()).expect("decode");
                    let rows = api_common::range_rows(&resp);
                    let got: Vec<(i64, i64)> = rows
                        .iter()
                        .map(|r| match r.primary_key[1].value {
                            PrimaryKeyValue::Integer(s) => (s, value_of(r)),
                            ref other => panic!("sort key {other:?}"),
                        })
                        .collect();
                    let want: Vec<(i64, i64)> = (0..SORTS)
                        .filter_map(|s| model.read((p, s), txn).map(|v| (s, v)))
                        .collect();
                    assert_eq!(got, want, "{op:?}");
                    assert!(resp.next_start_primary_key.is_none(), "{op:?}");
                }
                (Err(e), Err(want)) => check_error(&e, want, op),
                (got, want) => panic!("{op:?}: got {got:?}, model says {want:?}"),
            }
        }
        Op::Reopen => unreachable!("a restart is no request"),
        Op::Commit(i) | Op::Abort(i) => {
            let commit = matches!(op, Op::Commit(_));
            let id = id_of(model, Some(i)).unwrap_or_default();
            let (api, body) = if commit {
                (
                    Api::CommitTransaction,
                    pb::CommitTransactionRequest { transaction_id: id }.encode_to_vec(),
                )
            } else {
                (
                    Api::AbortTransaction,
                    pb::AbortTransactionRequest { transaction_id: id }.encode_to_vec(),
                )
            };
            let open = model.txns.get(i).is_some_and(|t| t.open);
            match (call(catalog, api, body), open) {
                (Ok(_), true) => {
                    let t = &mut model.txns[i];
                    t.open = false;
                    if commit {
                        for (key, w) in std::mem::take(&mut t.writes) {
                            match w {
                                Some(v) => model.committed.insert(key, v),
                                None => model.committed.remove(&key),
                            };
                        }
                    }
                }
                (Err(e), false) => check_error(&e, "invalid", op),
                (got, open) => panic!("{op:?}: got {got:?}, open {open}"),
            }
        }
    }
}

/// A PutRow (`value`) or DeleteRow (`None`) at `key`, through transaction `txn` if any.
fn write(
    catalog: &Catalog,
    model: &mut Model,
    op: &Op,
    key: Key,
    value: Option<i64>,
    txn: Option<usize>,
) {
    let (api, body) = match value {
        Some(v) => (
            Api::PutRow,
            pb::PutRowRequest {
                table_name: TABLE.into(),
                row: encode_row(&Row {
                    primary_key: pk(key),
                    cells: vec![Cell {
                        name: "v".into(),
                        value: Some(ColumnValue::Integer(v)),
                        op: None,
                        timestamp: None,
                    }],
                    delete_marker: false,
                }),
                condition: pb::Condition::default(),
                return_content: None,
                transaction_id: id_of(model, txn),
            }
            .encode_to_vec(),
        ),
        None => (
            Api::DeleteRow,
            pb::DeleteRowRequest {
                table_name: TABLE.into(),
                primary_key: encode_row(&Row {
                    primary_key: pk(key),
                    cells: vec![],
                    delete_marker: true,
                }),
                condition: pb::Condition::default(),
                return_content: None,
                transaction_id: id_of(model, txn),
            }
            .encode_to_vec(),
        ),
    };
    let result = call(catalog, api, body);
    match (result, access(model, key.0, txn, true)) {
        (Ok(_), Ok(())) => match txn {
            Some(i) => {
                model.txns[i].writes.insert(key, value);
            }
            None => match value {
                Some(v) => {
                    model.committed.insert(key, v);
                }
                None => {
                    model.committed.remove(&key);
                }
            },
        },
        (Err(e), Err(want)) => check_error(&e, want, op),
        (got, want) => panic!("{op:?}: got {got:?}, model says {want:?}"),
    }
}

fn op() -> impl Strategy<Value = Op> {
    let key = (0usize..PARTITIONS.len(), 0..SORTS);
    let txn = || prop::option::weighted(0.6, 0usize..4);
    let partition = || 0usize..PARTITIONS.len();
    prop_oneof![
        2 => partition().prop_map(Op::Start),
        5 => (key.clone(), 0i64..100, txn()).prop_map(|(k, v, t)| Op::Put(k, v, t)),
        1 => (key.clone(), txn()).prop_map(|(k, t)| Op::Delete(k, t)),
        3 => (key, txn()).prop_map(|(k, t)| Op::Get(k, t)),
        2 => (partition(), txn()).prop_map(|(p, t)| Op::Range(p, t)),
        2 => (0usize..4).prop_map(Op::Commit),
        1 => (0usize..4).prop_map(Op::Abort),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn transactions_match_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut catalog = catalog(dir.path());
        let mut model = Model::default();
        for op in &ops {
            if let Op::Reopen = op {
                catalog = api_common::restart(catalog, dir.path());
                for t in &mut model.txns {
                    t.open = false;
                    t.writes.clear();
                }
                continue;
            }
            step(&catalog, &mut model, op);
        }
    }
}
