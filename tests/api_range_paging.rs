//! Property test of GetRange paging through `api::handle`: a random table content, then a
//! random range (either direction, real or INF_MIN / INF_MAX bound columns), limit,
//! projection and value filter, followed page by page through `next_start_primary_key` the
//! way SDK clients loop. The pages together must be exactly what a plain model of
//! SEMANTICS.md §7 and §11 selects, in scan order, each page within its limit; bounds in the
//! wrong order must be refused with the documented error.

mod api_common;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use otsd::api::{self, Api};
use otsd::error::ErrorCode;
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{
    encode_primary_key, encode_row, encode_value, Cell, ColumnValue, PrimaryKeyColumn,
    PrimaryKeyValue, Row,
};
use otsd::table::catalog::Catalog;
use proptest::prelude::*;
use prost::Message;

const INSTANCE: &str = "paging";
const TABLE: &str = "r";
const FORWARD: i32 = 0;
const BACKWARD: i32 = 1;
/// Pages a range may take before the test calls it an endless loop.
const MAX_PAGES: usize = 500;

/// A stored row: primary key (a, b) and the optional attributes v (INTEGER), w (STRING).
type Key = (String, i64);
#[derive(Debug, Clone, PartialEq)]
struct Attrs {
    v: Option<i64>,
    w: Option<String>,
}

/// One bound column: INF_MIN, a value, or INF_MAX (ordered that way, like the service).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum B<T> {
    Min,
    Val(T),
    Max,
}

#[derive(Debug, Clone)]
struct Query {
    direction: i32,
    start: (B<String>, B<i64>),
    end: (B<String>, B<i64>),
    limit: Option<i32>,
    columns: Vec<String>,
    /// (comparator 1..=6, value, filter_if_missing) on column v.
    filter: Option<(i32, i64, bool)>,
}

/// What a page row carries: its key and its attribute columns as (name, value).
type Got = (Key, Vec<(String, ColumnValue)>);

fn key_bound(k: &Key) -> (B<String>, B<i64>) {
    (B::Val(k.0.clone()), B::Val(k.1))
}

/// The rows the whole range returns, in scan order (SEMANTICS.md §7, §11).
fn expected(rows: &BTreeMap<Key, Attrs>, q: &Query) -> Vec<Got> {
    let in_range = |k: &Key| {
        let kb = key_bound(k);
        match q.direction {
            FORWARD => q.start <= kb && kb < q.end,
            _ => q.end < kb && kb <= q.start,
        }
    };
    let passes = |a: &Attrs| match (q.filter, a.v) {
        (None, _) => true,
        (Some((_, _, if_missing)), None) => !if_missing,
        (Some((cmp, given, _)), Some(v)) => api_common::accepts(cmp, v.cmp(&given)),
    };
    let wanted = |name: &str| q.columns.is_empty() || q.columns.iter().any(|c| c == name);
    let mut out: Vec<Got> = rows
        .iter()
        .filter(|(k, a)| in_range(k) && passes(a))
        .filter_map(|(k, a)| {
            let mut cols = Vec::new();
            if let Some(v) = a.v.filter(|_| wanted("v")) {
                cols.push(("v".to_string(), ColumnValue::Integer(v)));
            }
            if let Some(w) = a.w.as_ref().filter(|_| wanted("w")) {
                cols.push(("w".to_string(), ColumnValue::String(w.clone())));
            }
            // A projection that finds none of its columns returns no row.
            (q.columns.is_empty() || !cols.is_empty()).then(|| (k.clone(), cols))
        })
        .collect();
    if q.direction == BACKWARD {
        out.reverse();
    }
    out
}

fn pk_wire(b: &(B<String>, B<i64>)) -> Vec<PrimaryKeyColumn> {
    let a = match &b.0 {
        B::Min => PrimaryKeyValue::InfMin,
        B::Val(s) => PrimaryKeyValue::String(s.clone()),
        B::Max => PrimaryKeyValue::InfMax,
    };
    let n = match b.1 {
        B::Min => PrimaryKeyValue::InfMin,
        B::Val(i) => PrimaryKeyValue::Integer(i),
        B::Max => PrimaryKeyValue::InfMax,
    };
    vec![PrimaryKeyColumn::new("a", a), PrimaryKeyColumn::new("b", n)]
}

fn bound_from_wire(pk: &[PrimaryKeyColumn]) -> (B<String>, B<i64>) {
    let a = match &pk[0].value {
        PrimaryKeyValue::InfMin => B::Min,
        PrimaryKeyValue::InfMax => B::Max,
        PrimaryKeyValue::String(s) => B::Val(s.clone()),
        other => panic!("column a holds {other:?}"),
    };
    let b = match &pk[1].value {
        PrimaryKeyValue::InfMin => B::Min,
        PrimaryKeyValue::InfMax => B::Max,
        PrimaryKeyValue::Integer(i) => B::Val(*i),
        other => panic!("column b holds {other:?}"),
    };
    (a, b)
}

fn filter_wire(f: Option<(i32, i64, bool)>) -> Option<Vec<u8>> {
    f.map(|(comparator, value, filter_if_missing)| {
        let single = pb::SingleColumnValueFilter {
            comparator,
            column_name: "v".into(),
            column_value: encode_value(&ColumnValue::Integer(value)),
            filter_if_missing,
            latest_version_only: true,
            value_trans_rule: None,
        };
        pb::Filter {
            r#type: 1,
            filter: single.encode_to_vec(),
        }
        .encode_to_vec()
    })
}

fn catalog(dir: &std::path::Path) -> Catalog {
    api_common::open_with_table(dir, INSTANCE, TABLE, &[("a", 2, None), ("b", 1, None)], 1)
}

fn load(catalog: &Catalog, rows: &BTreeMap<Key, Attrs>) {
    let wire: Vec<_> = rows
        .iter()
        .map(|((a, b), attrs)| {
            let mut cells = Vec::new();
            let mut cell = |name: &str, value: ColumnValue| {
                cells.push(Cell {
                    name: name.into(),
                    value: Some(value),
                    op: None,
                    timestamp: None,
                })
            };
            if let Some(v) = attrs.v {
                cell("v", ColumnValue::Integer(v));
            }
            if let Some(w) = &attrs.w {
                cell("w", ColumnValue::String(w.clone()));
            }
            let row = Row {
                primary_key: pk_wire(&key_bound(&(a.clone(), *b))),
                cells,
                delete_marker: false,
            };
            pb::RowInBatchWriteRowRequest {
                r#type: 1,
                row_change: encode_row(&row),
                condition: pb::Condition {
                    row_existence: 0,
                    column_condition: None,
                },
                return_content: None,
            }
        })
        .collect();
    for chunk in wire.chunks(200) {
        let body = pb::BatchWriteRowRequest {
            tables: vec![pb::TableInBatchWriteRowRequest {
                table_name: TABLE.into(),
                rows: chunk.to_vec(),
            }],
            ..Default::default()
        }
        .encode_to_vec();
        let bytes = api::handle(catalog, Api::BatchWriteRow, INSTANCE, &body).expect("load");
        let resp = pb::BatchWriteRowResponse::decode(bytes.as_slice()).expect("decode");
        assert!(
            resp.tables[0].rows.iter().all(|r| r.is_ok),
            "a load row failed"
        );
    }
}

/// Follows the range page by page like an SDK client; returns every row, or the error of
/// the first request.
fn read_all(catalog: &Catalog, q: &Query) -> Result<Vec<Got>, otsd::error::OtsError> {
    let mut start = q.start.clone();
    let mut got = Vec::new();
    for _ in 0..MAX_PAGES {
        let body = pb::GetRangeRequest {
            table_name: TABLE.into(),
            direction: q.direction,
            columns_to_get: q.columns.clone(),
            limit: q.limit,
            inclusive_start_primary_key: encode_primary_key(&pk_wire(&start)),
            exclusive_end_primary_key: encode_primary_key(&pk_wire(&q.end)),
            filter: filter_wire(q.filter),
            max_versions: Some(1),
            ..Default::default()
        }
        .encode_to_vec();
        let bytes = api::handle(catalog, Api::GetRange, INSTANCE, &body)?;
        let resp = pb::GetRangeResponse::decode(bytes.as_slice()).expect("decode response");
        let rows = api_common::range_rows(&resp);
        if let Some(limit) = q.limit {
            assert!(
                rows.len() <= limit as usize,
                "a page over its limit of {limit}"
            );
        }
        for r in rows {
            let key = match bound_from_wire(&r.primary_key) {
                (B::Val(a), B::Val(b)) => (a, b),
                other => panic!("a returned row has key {other:?}"),
            };
            let cols = r
                .cells
                .into_iter()
                .map(|c| (c.name, c.value.expect("a returned cell without value")))
                .collect();
            got.push((key, cols));
        }
        match resp.next_start_primary_key {
            None => return Ok(got),
            Some(next) => {
                let next = bound_from_wire(
                    &otsd::protocol::plainbuffer::decode_row(&next)
                        .expect("decode next_start_primary_key")
                        .primary_key,
                );
                // Paging must move on in scan order, or clients loop for ever.
                let moved = match q.direction {
                    FORWARD => next > start,
                    _ => next < start,
                };
                assert!(moved, "next_start {next:?} does not move on from {start:?}");
                start = next;
            }
        }
    }
    panic!("the range did not end within {MAX_PAGES} pages");
}

fn string_key() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[abc]{1,2}"]
}

fn rows() -> impl Strategy<Value = BTreeMap<Key, Attrs>> {
    let attrs = (
        prop::option::weighted(0.8, -3i64..4),
        prop::option::weighted(0.5, "[xy]{0,3}"),
    )
        .prop_map(|(v, w)| Attrs { v, w });
    prop::collection::btree_map((string_key(), -4i64..5), attrs, 0..60)
}

fn bound() -> impl Strategy<Value = (B<String>, B<i64>)> {
    let col_a =
        prop_oneof![1 => Just(B::Min), 6 => string_key().prop_map(B::Val), 1 => Just(B::Max)];
    let col_b = prop_oneof![1 => Just(B::Min), 4 => (-5i64..6).prop_map(B::Val), 1 => Just(B::Max)];
    (col_a, col_b)
}

fn query() -> impl Strategy<Value = Query> {
    let columns = prop_oneof![
        3 => Just(vec![]),
        1 => Just(vec!["v".to_string()]),
        1 => Just(vec!["w".to_string()]),
        1 => Just(vec!["w".to_string(), "nope".to_string()]),
    ];
    (
        prop_oneof![Just(FORWARD), Just(BACKWARD)],
        bound(),
        bound(),
        prop::option::weighted(0.6, 1i32..8),
        columns,
        prop::option::weighted(0.4, (1i32..=6, -3i64..4, any::<bool>())),
    )
        .prop_map(|(direction, start, end, limit, columns, filter)| Query {
            direction,
            start,
            end,
            limit,
            columns,
            filter,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn pages_together_are_the_model_range(rows in rows(), queries in prop::collection::vec(query(), 1..6)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = catalog(dir.path());
        load(&catalog, &rows);
        for q in &queries {
            let ordered = match q.direction {
                FORWARD => q.start.cmp(&q.end) == Ordering::Less,
                _ => q.start.cmp(&q.end) == Ordering::Greater,
            };
            match read_all(&catalog, q) {
                Ok(got) => {
                    prop_assert!(ordered, "bounds out of order were accepted: {:?}", q);
                    prop_assert_eq!(got, expected(&rows, q), "query {:?}", q);
                }
                Err(e) => {
                    prop_assert!(!ordered, "refused {:?}: {:?}", q, e);
                    prop_assert_eq!(e.code, ErrorCode::ParameterInvalid);
                    let want = match q.direction {
                        FORWARD => "Begin key must less than end key in FORWARD",
                        _ => "Begin key must more than end key in BACKWARD",
                    };
                    prop_assert_eq!(e.message.as_str(), want);
                }
            }
        }
    }
}
