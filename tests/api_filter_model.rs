//! Property test of read filters through `api::handle` (SEMANTICS.md §6, §7): random rows
//! with up to three versions per column, read by GetRow and GetRange with a random filter
//! tree (single conditions with all eight comparators, pass-if-missing, latest or any
//! version, values of a matching or a different type; NOT / AND / OR) and a projection. The
//! answers must be what a model of the rules selects: a filter judges the whole stored row,
//! a missing column passes only when allowed, values of different types never compare,
//! and projection comes after the filter.
//!
//! Reads ask for every version the table keeps (`max_versions` 3, no time range), so "any
//! version" means the same whether it counts versions read or versions stored.

mod api_common;

use std::collections::BTreeMap;

use otsd::api::{self, Api};
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{
    decode_row, encode_primary_key, encode_row, encode_value, Cell, ColumnValue, PrimaryKeyColumn,
    PrimaryKeyValue, Row,
};
use otsd::table::catalog::Catalog;
use proptest::prelude::*;
use prost::Message;

const INSTANCE: &str = "filters";
const TABLE: &str = "f";
const ROWS: i64 = 6;
const COLUMNS: [&str; 3] = ["a", "b", "c"];
const VERSIONS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
enum V {
    Int(i64),
    Str(String),
}

/// A stored row: column -> values, newest first (at most `VERSIONS`).
type StoredRow = BTreeMap<usize, Vec<V>>;

#[derive(Debug, Clone)]
enum F {
    /// (column, comparator 1..=8, value, pass_if_missing, latest_version_only)
    Single(usize, i32, V, bool, bool),
    Not(Box<F>),
    And(Vec<F>),
    Or(Vec<F>),
}

fn ordering(a: &V, b: &V) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Str(x), V::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => None,
    }
}

/// The rules of SEMANTICS.md §6 for one row.
fn passes(f: &F, row: &StoredRow) -> bool {
    match f {
        F::Single(col, cmp, value, pass_if_missing, latest_only) => {
            let versions = match row.get(col) {
                Some(v) if !v.is_empty() => v,
                _ => return *cmp == 8 || (*cmp != 7 && *pass_if_missing),
            };
            match cmp {
                7 => return true,
                8 => return false,
                _ => {}
            }
            let candidates = if *latest_only {
                &versions[..1]
            } else {
                &versions[..]
            };
            candidates
                .iter()
                .any(|v| ordering(v, value).is_some_and(|o| api_common::accepts(*cmp, o)))
        }
        F::Not(sub) => !passes(sub, row),
        F::And(subs) => subs.iter().all(|s| passes(s, row)),
        F::Or(subs) => subs.iter().any(|s| passes(s, row)),
    }
}

/// What a read returns of a stored row: its columns after filter and projection, or
/// `None` when the filter drops it or the projection finds none of its columns.
fn expected(row: &StoredRow, f: &F, columns: &[usize]) -> Option<StoredRow> {
    if !passes(f, row) {
        return None;
    }
    let kept: StoredRow = row
        .iter()
        .filter(|(c, v)| !v.is_empty() && (columns.is_empty() || columns.contains(c)))
        .map(|(c, v)| (*c, v.clone()))
        .collect();
    (columns.is_empty() || !kept.is_empty()).then_some(kept)
}

fn wire_value(v: &V) -> ColumnValue {
    match v {
        V::Int(i) => ColumnValue::Integer(*i),
        V::Str(s) => ColumnValue::String(s.clone()),
    }
}

fn wire_filter(f: &F) -> pb::Filter {
    match f {
        F::Single(col, comparator, value, pass_if_missing, latest_version_only) => pb::Filter {
            r#type: 1,
            filter: pb::SingleColumnValueFilter {
                comparator: *comparator,
                column_name: COLUMNS[*col].into(),
                column_value: encode_value(&wire_value(value)),
                filter_if_missing: !pass_if_missing,
                latest_version_only: *latest_version_only,
                value_trans_rule: None,
            }
            .encode_to_vec(),
        },
        F::Not(sub) => composite(1, std::slice::from_ref(sub.as_ref())),
        F::And(subs) => composite(2, subs),
        F::Or(subs) => composite(3, subs),
    }
}

fn composite(combinator: i32, subs: &[F]) -> pb::Filter {
    pb::Filter {
        r#type: 2,
        filter: pb::CompositeColumnValueFilter {
            combinator,
            sub_filters: subs.iter().map(wire_filter).collect(),
        }
        .encode_to_vec(),
    }
}

fn pk(k: i64) -> Vec<PrimaryKeyColumn> {
    vec![PrimaryKeyColumn::new("k", PrimaryKeyValue::Integer(k))]
}

fn catalog(dir: &std::path::Path) -> Catalog {
    api_common::open_with_table(dir, INSTANCE, TABLE, &[("k", 1, None)], VERSIONS as i32)
}

/// Stores `rows` with explicit versions a second apart, the newest a minute ago (inside the
/// allowed deviation from now).
fn load(catalog: &Catalog, rows: &BTreeMap<i64, StoredRow>) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let base = now_ms - 60_000 - 1000 * VERSIONS as i64;
    for (k, row) in rows {
        let mut cells = Vec::new();
        for (col, values) in row {
            for (age, v) in values.iter().enumerate() {
                cells.push(Cell {
                    name: COLUMNS[*col].into(),
                    value: Some(wire_value(v)),
                    op: None,
                    timestamp: Some(base + 1000 * (VERSIONS - age) as i64),
                });
            }
        }
        let body = pb::PutRowRequest {
            table_name: TABLE.into(),
            row: encode_row(&Row {
                primary_key: pk(*k),
                cells,
                delete_marker: false,
            }),
            condition: pb::Condition::default(),
            return_content: None,
            transaction_id: None,
        }
        .encode_to_vec();
        api::handle(catalog, Api::PutRow, INSTANCE, &body).expect("PutRow");
    }
}

/// A response row in model form: its key and columns, values newest first.
fn model_row(row: &Row) -> (i64, StoredRow) {
    let k = match row.primary_key[0].value {
        PrimaryKeyValue::Integer(k) => k,
        ref other => panic!("key {other:?}"),
    };
    let mut cells: Vec<(usize, i64, V)> = row
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
                other => panic!("{other:?}"),
            };
            (
                col,
                c.timestamp.expect("a returned cell has its version"),
                v,
            )
        })
        .collect();
    cells.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut out = StoredRow::new();
    for (col, _, v) in cells {
        out.entry(col).or_default().push(v);
    }
    (k, out)
}

fn value() -> impl Strategy<Value = V> {
    prop_oneof![3 => (-2i64..3).prop_map(V::Int), 1 => "[xy]{0,2}".prop_map(V::Str)]
}

fn stored_row() -> impl Strategy<Value = StoredRow> {
    prop::collection::btree_map(
        0..COLUMNS.len(),
        prop::collection::vec(value(), 1..=VERSIONS),
        0..=3,
    )
}

fn filter() -> impl Strategy<Value = F> {
    let single = (
        0..COLUMNS.len(),
        1i32..=8,
        value(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(c, cmp, v, missing, latest)| F::Single(c, cmp, v, missing, latest));
    single.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| F::Not(Box::new(f))),
            prop::collection::vec(inner.clone(), 2..=3).prop_map(F::And),
            prop::collection::vec(inner, 2..=3).prop_map(F::Or),
        ]
    })
}

fn projection() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        2 => Just(vec![]),
        1 => prop::collection::btree_set(0..COLUMNS.len(), 1..=2).prop_map(|s| s.into_iter().collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn filtered_reads_match_the_model(
        rows in prop::collection::btree_map(0..ROWS, stored_row(), 0..=ROWS as usize),
        reads in prop::collection::vec((filter(), projection()), 1..6),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = catalog(dir.path());
        load(&catalog, &rows);
        for (f, columns) in &reads {
            let filter = Some(wire_filter(f).encode_to_vec());
            let columns_to_get: Vec<String> = columns.iter().map(|c| COLUMNS[*c].to_string()).collect();
            // A row stored without columns exists (a PK-only PutRow).
            let want: Vec<(i64, StoredRow)> = rows
                .iter()
                .filter_map(|(k, r)| expected(r, f, columns).map(|e| (*k, e)))
                .collect();
            let body = pb::GetRangeRequest {
                table_name: TABLE.into(),
                direction: 0,
                max_versions: Some(VERSIONS as i32),
                columns_to_get: columns_to_get.clone(),
                filter: filter.clone(),
                inclusive_start_primary_key: encode_primary_key(&[PrimaryKeyColumn::new("k", PrimaryKeyValue::InfMin)]),
                exclusive_end_primary_key: encode_primary_key(&[PrimaryKeyColumn::new("k", PrimaryKeyValue::InfMax)]),
                ..Default::default()
            }
            .encode_to_vec();
            let bytes = api::handle(&catalog, Api::GetRange, INSTANCE, &body).expect("GetRange");
            let resp = pb::GetRangeResponse::decode(bytes.as_slice()).expect("decode");
            let got: Vec<(i64, StoredRow)> = api_common::range_rows(&resp).iter().map(model_row).collect();
            prop_assert_eq!(&got, &want, "GetRange with {:?} and columns {:?}", f, columns);
            for k in 0..ROWS {
                let body = pb::GetRowRequest {
                    table_name: TABLE.into(),
                    primary_key: encode_primary_key(&pk(k)),
                    max_versions: Some(VERSIONS as i32),
                    columns_to_get: columns_to_get.clone(),
                    filter: filter.clone(),
                    ..Default::default()
                }
                .encode_to_vec();
                let bytes = api::handle(&catalog, Api::GetRow, INSTANCE, &body).expect("GetRow");
                let resp = pb::GetRowResponse::decode(bytes.as_slice()).expect("decode");
                let got = (!resp.row.is_empty())
                    .then(|| model_row(&decode_row(&resp.row).expect("row")).1);
                let want_row = want.iter().find(|(wk, _)| *wk == k).map(|(_, r)| r.clone());
                prop_assert_eq!(got, want_row, "GetRow({}) with {:?} and columns {:?}", k, f, columns);
            }
        }
    }
}
