//! Property test of auto-increment keys through `api::handle` (SEMANTICS.md §10): PutRow and
//! BatchWriteRow with the AUTO_INCREMENT placeholder over two partitions, with catalog
//! restarts in between. Every generated value returned with RT_PK is strictly greater than
//! every earlier one of its partition (never reused, also across restarts), and each
//! partition's GetRange returns exactly the rows written, under the keys handed out.

mod api_common;

use std::collections::BTreeMap;

use otsd::api::{self, Api};
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{
    decode_row, encode_primary_key, encode_row, Cell, ColumnValue, PrimaryKeyColumn,
    PrimaryKeyValue, Row,
};
use otsd::table::catalog::Catalog;
use proptest::prelude::*;
use prost::Message;

const INSTANCE: &str = "autoinc";
const TABLE: &str = "a";
const PARTITIONS: [&str; 2] = ["p", "q"];

#[derive(Debug, Clone)]
enum Op {
    /// One PutRow into a partition, storing this value.
    Put(usize, i64),
    /// One BatchWriteRow of PUT rows (partition, value), in request order.
    Batch(Vec<(usize, i64)>),
    Reopen,
}

fn catalog(dir: &std::path::Path) -> Catalog {
    api_common::open_with_table(
        dir,
        INSTANCE,
        TABLE,
        &[("part", 2, None), ("seq", 1, Some(1))],
        1,
    )
}

fn new_row(partition: usize, value: i64) -> Vec<u8> {
    encode_row(&Row {
        primary_key: vec![
            PrimaryKeyColumn::new(
                "part",
                PrimaryKeyValue::String(PARTITIONS[partition].into()),
            ),
            PrimaryKeyColumn::new("seq", PrimaryKeyValue::AutoIncrement),
        ],
        cells: vec![Cell {
            name: "v".into(),
            value: Some(ColumnValue::Integer(value)),
            op: None,
            timestamp: None,
        }],
        delete_marker: false,
    })
}

fn rt_pk() -> Option<pb::ReturnContent> {
    Some(pb::ReturnContent {
        return_type: Some(1),
        return_column_names: vec![],
    })
}

/// The (partition, seq) of a returned RT_PK row.
fn generated(row: &[u8]) -> (usize, i64) {
    let row = decode_row(row).expect("decode returned key");
    let part = match &row.primary_key[0].value {
        PrimaryKeyValue::String(s) => PARTITIONS.iter().position(|p| p == s).expect("partition"),
        other => panic!("part is {other:?}"),
    };
    match row.primary_key[1].value {
        PrimaryKeyValue::Integer(seq) => (part, seq),
        ref other => panic!("seq is {other:?}"),
    }
}

/// Writes `rows` (one PutRow for a single row, else one BatchWriteRow); returns the keys
/// handed out, in request order.
fn write(catalog: &Catalog, rows: &[(usize, i64)], single: bool) -> Vec<(usize, i64)> {
    if single {
        let (p, v) = rows[0];
        let body = pb::PutRowRequest {
            table_name: TABLE.into(),
            row: new_row(p, v),
            condition: pb::Condition::default(),
            return_content: rt_pk(),
            transaction_id: None,
        }
        .encode_to_vec();
        let bytes = api::handle(catalog, Api::PutRow, INSTANCE, &body).expect("PutRow");
        let resp = pb::PutRowResponse::decode(bytes.as_slice()).expect("decode");
        return vec![generated(resp.row.as_deref().expect("RT_PK row"))];
    }
    let body = pb::BatchWriteRowRequest {
        tables: vec![pb::TableInBatchWriteRowRequest {
            table_name: TABLE.into(),
            rows: rows
                .iter()
                .map(|&(p, v)| pb::RowInBatchWriteRowRequest {
                    r#type: 1,
                    row_change: new_row(p, v),
                    condition: pb::Condition::default(),
                    return_content: rt_pk(),
                })
                .collect(),
        }],
        ..Default::default()
    }
    .encode_to_vec();
    let bytes = api::handle(catalog, Api::BatchWriteRow, INSTANCE, &body).expect("BatchWriteRow");
    let resp = pb::BatchWriteRowResponse::decode(bytes.as_slice()).expect("decode");
    resp.tables[0]
        .rows
        .iter()
        .map(|r| {
            assert!(r.is_ok, "a row failed: {:?}", r.error);
            generated(r.row.as_deref().expect("RT_PK row"))
        })
        .collect()
}

/// Every row of `partition`, as (seq, value) in key order.
fn partition_rows(catalog: &Catalog, partition: usize) -> Vec<(i64, i64)> {
    let bound = |inf| {
        encode_primary_key(&[
            PrimaryKeyColumn::new(
                "part",
                PrimaryKeyValue::String(PARTITIONS[partition].into()),
            ),
            PrimaryKeyColumn::new("seq", inf),
        ])
    };
    let body = pb::GetRangeRequest {
        table_name: TABLE.into(),
        direction: 0,
        max_versions: Some(1),
        inclusive_start_primary_key: bound(PrimaryKeyValue::InfMin),
        exclusive_end_primary_key: bound(PrimaryKeyValue::InfMax),
        ..Default::default()
    }
    .encode_to_vec();
    let bytes = api::handle(catalog, Api::GetRange, INSTANCE, &body).expect("GetRange");
    let resp = pb::GetRangeResponse::decode(bytes.as_slice()).expect("decode");
    assert!(
        resp.next_start_primary_key.is_none(),
        "a small partition took one page"
    );
    api_common::range_rows(&resp)
        .iter()
        .map(|r| {
            let seq = match r.primary_key[1].value {
                PrimaryKeyValue::Integer(s) => s,
                ref other => panic!("seq is {other:?}"),
            };
            match r.cells[0].value {
                Some(ColumnValue::Integer(v)) => (seq, v),
                ref other => panic!("v is {other:?}"),
            }
        })
        .collect()
}

fn op() -> impl Strategy<Value = Op> {
    let row = (0usize..PARTITIONS.len(), any::<i64>());
    prop_oneof![
        4 => row.clone().prop_map(|(p, v)| Op::Put(p, v)),
        2 => prop::collection::vec(row, 1..12).prop_map(Op::Batch),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn generated_keys_only_grow_and_hold_their_rows(ops in prop::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut catalog = catalog(dir.path());
        // Per partition: seq -> value, in the order the keys were handed out.
        let mut written: [BTreeMap<i64, i64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        let mut last: [Option<i64>; 2] = [None, None];
        for op in &ops {
            let (rows, single) = match op {
                Op::Reopen => {
                    catalog = api_common::restart(catalog, dir.path());
                    continue;
                }
                Op::Put(p, v) => (vec![(*p, *v)], true),
                Op::Batch(rows) => (rows.clone(), false),
            };
            let keys = write(&catalog, &rows, single);
            prop_assert_eq!(keys.len(), rows.len());
            for (&(p, v), (kp, seq)) in rows.iter().zip(keys) {
                prop_assert_eq!(kp, p, "the key is in the row's own partition");
                prop_assert!(last[p].is_none_or(|l| seq > l), "seq {} after {:?} in {}", seq, last[p], PARTITIONS[p]);
                last[p] = Some(seq);
                written[p].insert(seq, v);
            }
        }
        for (p, rows) in written.iter().enumerate() {
            let want: Vec<(i64, i64)> = rows.iter().map(|(s, v)| (*s, *v)).collect();
            prop_assert_eq!(partition_rows(&catalog, p), want, "partition {}", PARTITIONS[p]);
        }
    }
}
