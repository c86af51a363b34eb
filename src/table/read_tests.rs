//! The lent read paths (`get_row_lent`, `get_range_lent`), which encode from the engine's
//! buffer, must answer exactly as the owned paths (`get_row`, `get_range`) over the same
//! data and spec: same rows, cells, versions, next start key and consumed capacity.

use proptest::prelude::*;

use crate::engine::{Direction, PkValue};
use crate::table::condition::Condition;
use crate::table::row::{Column, ColumnChange, ReadSpec, RowData, RowView, TimeRange, Version};
use crate::table::schema::TableSchema;
use crate::table::schema::{CapacityUnits, PkColumnSchema, PkInput, PkType, TableOptionsPatch};
use crate::table::value::Value;
use crate::table::write::ReturnKind;
use crate::table::{Catalog, Table};

/// Timestamps of written versions: `BASE_MS + 1..=4`, inside the allowed deviation from now.
fn base_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_millis()).unwrap() / 1000 * 1000
}

const COLUMNS: [&str; 4] = ["a", "b", "c", "d"];

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Integer),
        (-1e6f64..1e6).prop_map(Value::Double),
        any::<bool>().prop_map(Value::Boolean),
        "[a-zé]{0,6}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Value::Binary),
    ]
}

/// A write: row key (k, n), column index, version 1..=4, value.
fn write() -> impl Strategy<Value = (String, i64, usize, i64, Value)> {
    ("[a-c]", 0i64..6, 0usize..4, 1i64..5, value())
}

/// A read spec without a filter, as the lent paths take.
fn spec() -> impl Strategy<Value = ReadSpec> {
    let names = proptest::sample::subsequence(vec!["k", "a", "b", "c", "d", "n"], 0..4);
    let versions = prop_oneof![
        (1i32..4).prop_map(|n| (Some(n), None)),
        (0i64..6, 1i64..6).prop_map(|(s, len)| (None, Some((s, s + len)))),
        (1i64..5).prop_map(|t| (None, Some((t, -1)))),
    ];
    let column_range = (
        proptest::option::of(proptest::sample::select(vec!["a", "b", "c"])),
        proptest::option::of(proptest::sample::select(vec!["b", "c", "d"])),
    );
    (names, versions, column_range).prop_map(|(names, (max, range), (from, to))| {
        ReadSpec {
            columns_to_get: names.into_iter().map(String::from).collect(),
            max_versions: max,
            time_range: None,
            start_column: from.map(String::from),
            end_column: to.map(String::from),
            filter: None,
        }
        .with_range(range)
    })
}

impl ReadSpec {
    /// `range` as (start, end) with -1 for "exactly start", offsets from the test's base time.
    fn with_range(mut self, range: Option<(i64, i64)>) -> ReadSpec {
        self.time_range = range.map(|(s, e)| match e {
            -1 => TimeRange::Specific(s),
            e => TimeRange::Range {
                start_ms: s,
                end_ms: e,
            },
        });
        self
    }

    /// The spec with its time range moved to absolute milliseconds from `base`.
    fn at(mut self, base: i64) -> ReadSpec {
        self.time_range = self.time_range.map(|t| match t {
            TimeRange::Specific(s) => TimeRange::Specific(base + s),
            TimeRange::Range { start_ms, end_ms } => TimeRange::Range {
                start_ms: base + start_ms,
                end_ms: base + end_ms,
            },
        });
        self
    }
}

fn table(dir: &std::path::Path) -> (Catalog, std::sync::Arc<Table>) {
    let catalog = Catalog::open(dir).unwrap();
    let pk = |name: &str, pk_type| PkColumnSchema {
        name: name.into(),
        pk_type,
        auto_increment: false,
    };
    let schema = TableSchema {
        table_name: "t".into(),
        primary_key: vec![pk("k", PkType::String), pk("n", PkType::Integer)],
        defined_columns: vec![],
    };
    let options = TableOptionsPatch {
        max_versions: Some(4),
        ..Default::default()
    };
    catalog
        .create_table("i", schema, &options, CapacityUnits::default())
        .unwrap();
    let t = catalog.table("i", "t").unwrap();
    (catalog, t)
}

fn key(k: &str, n: PkValue) -> Vec<(String, PkInput)> {
    vec![
        ("k".into(), PkInput::Value(PkValue::String(k.into()))),
        ("n".into(), PkInput::Value(n)),
    ]
}

fn bound(v: PkValue) -> Vec<(String, PkInput)> {
    vec![
        ("k".into(), PkInput::Value(v.clone())),
        ("n".into(), PkInput::Value(v)),
    ]
}

/// The owned form of a lent row, columns grouped from consecutive cells; checks that both
/// forms count the same bytes.
fn owned(row: &RowView<'_>) -> RowData {
    let mut columns: Vec<Column> = Vec::new();
    for cell in &row.cells {
        let version = Version {
            timestamp_ms: cell.timestamp_ms,
            value: cell.value.to_value(),
        };
        match columns.last_mut() {
            Some(c) if c.name == cell.name => c.versions.push(version),
            _ => columns.push(Column {
                name: cell.name.to_string(),
                versions: vec![version],
            }),
        }
    }
    let data = RowData {
        primary_key: row.owned_key(),
        columns,
    };
    assert_eq!(row.size_bytes(), data.size_bytes(), "{data:?}");
    data
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn lent_reads_answer_as_owned_reads(
        writes in proptest::collection::vec(write(), 1..40),
        specs in proptest::collection::vec(spec(), 1..6),
        limit in proptest::option::of(1i32..8),
        backward in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (_catalog, t) = table(dir.path());
        let base = base_ms();
        for (k, n, column, version, value) in writes {
            let change = ColumnChange::Put {
                name: COLUMNS[column].into(),
                value,
                timestamp_ms: Some(base + version),
            };
            t.update_row(key(&k, PkValue::Integer(n)), vec![change], &Condition::default(), &ReturnKind::None)
                .unwrap();
        }
        let (lo, hi) = (bound(PkValue::InfMin), bound(PkValue::InfMax));
        let (start, end, direction) = match backward {
            false => (lo, hi, Direction::Forward),
            true => (hi, lo, Direction::Backward),
        };
        for spec in specs {
            let spec = spec.at(base);
            let owned_page = t.get_range(start.clone(), end.clone(), direction, limit, &spec).unwrap();
            let mut lent_rows = Vec::new();
            let lent_page = t
                .get_range_lent(start.clone(), end.clone(), direction, limit, &spec, |r| lent_rows.push(owned(r)))
                .unwrap();
            prop_assert_eq!(&lent_rows, &owned_page.rows, "spec {:?}", spec);
            prop_assert_eq!(&lent_page.next_start, &owned_page.next_start);
            prop_assert_eq!(lent_page.consumed, owned_page.consumed);
            for k in ["a", "b", "c"] {
                for n in [0, 3, 5] {
                    let (row, used) = t.get_row(key(k, PkValue::Integer(n)), &spec).unwrap();
                    let mut lent = None;
                    let lent_used = t.get_row_lent(key(k, PkValue::Integer(n)), &spec, |r| lent = Some(owned(r))).unwrap();
                    prop_assert_eq!(&lent, &row, "row ({}, {}) spec {:?}", k, n, spec);
                    prop_assert_eq!(lent_used, used);
                }
            }
        }
    }
}

#[test]
fn lent_reads_check_keys_and_specs_as_owned_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (_catalog, t) = table(dir.path());
    let spec = ReadSpec {
        max_versions: Some(1),
        ..Default::default()
    };
    let short = vec![("k".to_string(), PkInput::Value(PkValue::String("a".into())))];
    let owned = t.get_row(short.clone(), &spec).unwrap_err();
    let lent = t.get_row_lent(short, &spec, |_| {}).unwrap_err();
    assert_eq!((lent.code, lent.message), (owned.code, owned.message));
    let (lo, hi) = (bound(PkValue::InfMin), bound(PkValue::InfMax));
    let owned = t
        .get_range(hi.clone(), lo.clone(), Direction::Forward, None, &spec)
        .unwrap_err();
    let lent = t
        .get_range_lent(hi, lo, Direction::Forward, None, &spec, |_| {})
        .unwrap_err();
    assert_eq!((lent.code, lent.message), (owned.code, owned.message));
    let no_versions = ReadSpec::default();
    let owned = t
        .get_row(key("a", PkValue::Integer(1)), &no_versions)
        .unwrap_err();
    let lent = t
        .get_row_lent(key("a", PkValue::Integer(1)), &no_versions, |_| {})
        .unwrap_err();
    assert_eq!((lent.code, lent.message), (owned.code, owned.message));
}
