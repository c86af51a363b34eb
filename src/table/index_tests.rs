//! Secondary indexes against a model: random puts, updates, deletes, batches, index
//! creation and drops and reopens, after each of which every index holds exactly the rows
//! its definition derives from the base rows, and base scans never see an index row.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use crate::engine::{Direction, PkValue};
use crate::table::condition::Condition;
use crate::table::index::{IndexKind, IndexMeta};
use crate::table::row::{ColumnChange, ReadSpec, RowData};
use crate::table::schema::{
    CapacityUnits, DefinedColumnSchema, DefinedColumnType, PkColumnSchema, PkInput, PkType,
    TableOptionsPatch, TableSchema,
};
use crate::table::value::Value;
use crate::table::write::{ReturnKind, RowWrite};
use crate::table::{Catalog, Table};

/// The attribute columns of a model row: `e` (STRING, key of index `by_e`, which covers
/// `a`), `n` (INTEGER, key of index `by_n`) and `a` (INTEGER).
#[derive(Debug, Clone, Default, PartialEq)]
struct Attrs {
    e: Option<String>,
    n: Option<i64>,
    a: Option<i64>,
    /// Written by a PutRow without columns (the row exists with none); set by `put`.
    marker: bool,
}

/// Whether the model row is there: it has a column, or a PutRow without any wrote it.
fn exists(a: &Attrs) -> bool {
    a.marker || a.e.is_some() || a.n.is_some() || a.a.is_some()
}

/// The model row a PutRow of `a` leaves.
fn put(a: &Attrs) -> Attrs {
    Attrs {
        marker: a.e.is_none() && a.n.is_none() && a.a.is_none(),
        ..a.clone()
    }
}

#[derive(Debug, Clone)]
enum Change {
    PutE(String),
    PutN(i64),
    PutA(i64),
    DeleteE,
    DeleteA,
    IncrementN(i64),
}

#[derive(Debug, Clone)]
enum Op {
    Put(i64, Attrs),
    Update(i64, Vec<Change>),
    Delete(i64),
    Batch(Vec<(i64, Attrs)>),
    AtomicBatch(Vec<(i64, Attrs)>),
    ToggleByN(bool),
    Reopen,
}

fn attrs() -> impl Strategy<Value = Attrs> {
    (
        proptest::option::of("[a-c]{1,2}"),
        proptest::option::of(0i64..4),
        proptest::option::of(0i64..100),
    )
        .prop_map(|(e, n, a)| Attrs {
            e,
            n,
            a,
            marker: false,
        })
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        "[a-c]{1,2}".prop_map(Change::PutE),
        (0i64..4).prop_map(Change::PutN),
        (0i64..100).prop_map(Change::PutA),
        Just(Change::DeleteE),
        Just(Change::DeleteA),
        (-2i64..3).prop_map(Change::IncrementN),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0i64..8;
    prop_oneof![
        6 => (key.clone(), attrs()).prop_map(|(k, a)| Op::Put(k, a)),
        5 => (key.clone(), proptest::collection::vec(change(), 1..4)).prop_map(|(k, c)| Op::Update(k, c)),
        2 => key.clone().prop_map(Op::Delete),
        2 => proptest::collection::vec((key.clone(), attrs()), 1..5).prop_map(Op::Batch),
        1 => proptest::collection::vec((Just(0i64), attrs()), 1..2).prop_map(Op::AtomicBatch),
        1 => any::<bool>().prop_map(Op::ToggleByN),
        1 => Just(Op::Reopen),
    ]
}

fn schema() -> TableSchema {
    let defined = |name: &str, column_type| DefinedColumnSchema {
        name: name.into(),
        column_type,
    };
    TableSchema {
        table_name: "t".into(),
        primary_key: vec![PkColumnSchema {
            name: "k".into(),
            pk_type: PkType::Integer,
            auto_increment: false,
        }],
        defined_columns: vec![
            defined("e", DefinedColumnType::String),
            defined("n", DefinedColumnType::Integer),
            defined("a", DefinedColumnType::Integer),
        ],
    }
}

fn index(name: &str, key: &str, covered: &[&str]) -> IndexMeta {
    IndexMeta {
        name: name.into(),
        primary_key: vec![key.into()],
        defined_columns: covered.iter().map(|c| c.to_string()).collect(),
        kind: IndexKind::Global,
        id: 0,
    }
}

fn pk(k: i64) -> Vec<(String, PkInput)> {
    vec![("k".into(), PkInput::Value(PkValue::Integer(k)))]
}

fn cells(a: &Attrs) -> Vec<ColumnChange> {
    let put = |name: &str, value| ColumnChange::Put {
        name: name.into(),
        value,
        timestamp_ms: None,
    };
    let mut out = Vec::new();
    if let Some(e) = &a.e {
        out.push(put("e", Value::String(e.clone())));
    }
    if let Some(n) = a.n {
        out.push(put("n", Value::Integer(n)));
    }
    if let Some(v) = a.a {
        out.push(put("a", Value::Integer(v)));
    }
    out
}

fn to_change(c: &Change) -> ColumnChange {
    let put = |name: &str, value| ColumnChange::Put {
        name: name.into(),
        value,
        timestamp_ms: None,
    };
    match c {
        Change::PutE(e) => put("e", Value::String(e.clone())),
        Change::PutN(n) => put("n", Value::Integer(*n)),
        Change::PutA(a) => put("a", Value::Integer(*a)),
        Change::DeleteE => ColumnChange::DeleteAllVersions { name: "e".into() },
        Change::DeleteA => ColumnChange::DeleteAllVersions { name: "a".into() },
        Change::IncrementN(d) => ColumnChange::Increment {
            name: "n".into(),
            delta: *d,
        },
    }
}

/// Applies an update's changes to a model row (UpdateRow refuses a repeated column).
fn apply(row: &mut Attrs, changes: &[Change]) {
    for c in changes {
        match c {
            Change::PutE(e) => row.e = Some(e.clone()),
            Change::PutN(n) => row.n = Some(*n),
            Change::PutA(a) => row.a = Some(*a),
            Change::DeleteE => row.e = None,
            Change::DeleteA => row.a = None,
            Change::IncrementN(d) => row.n = Some(row.n.unwrap_or(0) + d),
        }
    }
}

fn distinct_columns(changes: &[Change]) -> bool {
    let name = |c: &Change| match c {
        Change::PutE(_) | Change::DeleteE => 'e',
        Change::PutN(_) | Change::IncrementN(_) => 'n',
        Change::PutA(_) | Change::DeleteA => 'a',
    };
    let mut names: Vec<char> = changes.iter().map(name).collect();
    names.sort_unstable();
    names.windows(2).all(|w| w[0] != w[1])
}

fn scan(t: &Table) -> Vec<RowData> {
    let bound = |v: PkValue| -> Vec<(String, PkInput)> {
        t.schema()
            .primary_key
            .iter()
            .map(|c| (c.name.clone(), PkInput::Value(v.clone())))
            .collect()
    };
    let spec = ReadSpec {
        max_versions: Some(1),
        ..Default::default()
    };
    let page = t
        .get_range(
            bound(PkValue::InfMin),
            bound(PkValue::InfMax),
            Direction::Forward,
            None,
            &spec,
        )
        .unwrap();
    assert!(page.next_start.is_none());
    page.rows
}

/// What index `by_e` (key e, covering a) or `by_n` (key n) holds for the model.
fn expected(model: &BTreeMap<i64, Attrs>, by_e: bool) -> Vec<(Vec<PkValue>, Option<i64>)> {
    let mut rows: Vec<(Vec<PkValue>, Option<i64>)> = model
        .iter()
        .filter_map(|(k, a)| {
            let key = match by_e {
                true => PkValue::String(a.e.clone()?),
                false => PkValue::Integer(a.n?),
            };
            let covered = if by_e { a.a } else { None };
            Some((vec![key, PkValue::Integer(*k)], covered))
        })
        .collect();
    rows.sort_by(|x, y| {
        crate::engine::key::encode_row_key(&x.0).cmp(&crate::engine::key::encode_row_key(&y.0))
    });
    rows
}

fn actual(t: &Table) -> Vec<(Vec<PkValue>, Option<i64>)> {
    scan(t)
        .into_iter()
        .map(|r| {
            let covered = r.latest("a").map(|c| match c.value {
                Value::Integer(i) => i,
                ref other => panic!("covered a is {other:?}"),
            });
            (r.primary_key.into_iter().map(|(_, v)| v).collect(), covered)
        })
        .collect()
}

fn open(dir: &std::path::Path) -> Catalog {
    Catalog::open(dir).unwrap()
}

/// A catalog in `dir` with table `i`/`t` of [`schema`] and `indexes`.
fn with_indexes(dir: &std::path::Path, indexes: Vec<IndexMeta>) -> Catalog {
    let catalog = open(dir);
    catalog
        .create_table_with_indexes(
            "i",
            schema(),
            &TableOptionsPatch::default(),
            CapacityUnits::default(),
            indexes,
        )
        .unwrap();
    catalog
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn indexes_always_hold_exactly_what_the_base_rows_make(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog = open(dir.path());
        catalog
            .create_table_with_indexes(
                "i",
                schema(),
                &TableOptionsPatch::default(),
                CapacityUnits::default(),
                vec![
                    index("by_e", "e", &["a"]),
                    index("by_n", "n", &[]),
                    index("by_k", "k", &[]),
                ],
            )
            .unwrap();
        let mut model: BTreeMap<i64, Attrs> = BTreeMap::new();
        let mut by_n = true;
        let none = Condition::default();
        for op in &ops {
            let t = catalog.table("i", "t").unwrap();
            match op {
                Op::Put(k, a) => {
                    t.put_row(pk(*k), cells(a), &none, &ReturnKind::None).unwrap();
                    model.insert(*k, put(a));
                }
                Op::Update(k, changes) => {
                    let result = t.update_row(pk(*k), changes.iter().map(to_change).collect(), &none, &ReturnKind::None);
                    prop_assert_eq!(result.is_ok(), distinct_columns(changes), "{:?}", result);
                    if result.is_ok() {
                        apply(model.entry(*k).or_default(), changes);
                    }
                }
                Op::Delete(k) => {
                    t.delete_row(pk(*k), &none, &ReturnKind::None).unwrap();
                    model.remove(k);
                }
                Op::Batch(rows) | Op::AtomicBatch(rows) => {
                    let writes = rows
                        .iter()
                        .map(|(k, a)| (RowWrite::Put { pk: pk(*k), cells: cells(a) }, Condition::default(), ReturnKind::None))
                        .collect();
                    let results = match op {
                        Op::Batch(_) => t.write_rows(writes),
                        _ => t.write_rows_atomic(writes).unwrap(),
                    };
                    prop_assert!(results.iter().all(Result::is_ok), "{:?}", results);
                    for (k, a) in rows {
                        model.insert(*k, put(a));
                    }
                }
                Op::ToggleByN(fill) => {
                    if by_n {
                        catalog.drop_index("i", "t", "by_n").unwrap();
                    } else {
                        catalog.create_index("i", "t", index("by_n", "n", &[]), *fill).unwrap();
                        if !fill {
                            // Only rows written from now on are indexed: start the model
                            // over from what the index holds, by rewriting every row.
                            for (k, a) in model.iter_mut().filter(|(_, a)| exists(a)) {
                                t.put_row(pk(*k), cells(a), &none, &ReturnKind::None).unwrap();
                                *a = put(a);
                            }
                        }
                    }
                    by_n = !by_n;
                }
                Op::Reopen => {
                    drop(t);
                    catalog.close().unwrap();
                    drop(catalog);
                    catalog = open(dir.path());
                }
            }
            let t = catalog.table("i", "t").unwrap();
            let base: Vec<i64> = scan(&t)
                .iter()
                .map(|r| match r.primary_key[0].1 { PkValue::Integer(k) => k, _ => unreachable!() })
                .collect();
            let present: Vec<i64> = model
                .iter()
                .filter(|(_, a)| exists(a))
                .map(|(k, _)| *k)
                .collect();
            prop_assert_eq!(&base, &present, "base rows after {:?}", op);
            // Keyed by the primary key alone, an index has a row exactly for each base row.
            let by_k: Vec<i64> = actual(&catalog.table("i", "by_k").unwrap())
                .iter()
                .map(|(key, _)| match key[0] { PkValue::Integer(k) => k, _ => unreachable!() })
                .collect();
            prop_assert_eq!(by_k, present, "by_k after {:?}", op);
            let e_index = catalog.table("i", "by_e").unwrap();
            prop_assert_eq!(actual(&e_index), expected(&model, true), "by_e after {:?}", op);
            match catalog.table("i", "by_n") {
                Ok(n_index) => {
                    prop_assert!(by_n);
                    prop_assert_eq!(actual(&n_index), expected(&model, false), "by_n after {:?}", op);
                }
                Err(_) => prop_assert!(!by_n),
            }
            prop_assert_eq!(catalog.list_tables("i"), vec!["t".to_string()]);
        }
    }
}

#[test]
fn a_transaction_keeps_its_indexes_current_and_blocks_a_new_index() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = with_indexes(dir.path(), vec![index("by_e", "e", &["a"])]);
    let id = catalog.start_transaction("i", "t", pk(1)).unwrap();
    let a = Attrs {
        e: Some("x".into()),
        a: Some(5),
        ..Attrs::default()
    };
    put_in_transaction(&catalog, &id, 1, &a);
    let refused = catalog
        .create_index("i", "t", index("by_n", "n", &[]), true)
        .unwrap_err();
    assert_eq!(refused.code, crate::error::ErrorCode::RowOperationConflict);
    assert!(
        catalog.table("i", "by_n").is_err(),
        "a refused index leaves no name"
    );
    let by_e = catalog.table("i", "by_e").unwrap();
    assert!(
        actual(&by_e).is_empty(),
        "uncommitted writes are not indexed"
    );
    catalog.commit_transaction("i", &id).unwrap();
    assert_eq!(
        actual(&by_e),
        vec![(
            vec![PkValue::String("x".into()), PkValue::Integer(1)],
            Some(5)
        )]
    );
}

#[test]
fn indexes_are_read_only_and_go_with_their_table() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = with_indexes(dir.path(), vec![index("by_e", "e", &[])]);
    let by_e = catalog.table("i", "by_e").unwrap();
    let write = by_e
        .put_row(
            vec![
                ("e".into(), PkInput::Value(PkValue::String("x".into()))),
                ("k".into(), PkInput::Value(PkValue::Integer(1))),
            ],
            vec![],
            &Condition::default(),
            &ReturnKind::None,
        )
        .unwrap_err();
    assert!(write.message.contains("index table"), "{}", write.message);
    assert!(catalog.delete_table("i", "by_e").is_err());
    assert!(catalog
        .update_table(
            "i",
            "t",
            &TableOptionsPatch {
                max_versions: Some(2),
                ..Default::default()
            },
            None
        )
        .is_err());
    let taken = catalog
        .create_index("i", "t", index("t", "n", &[]), false)
        .unwrap_err();
    assert_eq!(taken.code, crate::error::ErrorCode::ObjectAlreadyExist);
    catalog.delete_table("i", "t").unwrap();
    assert!(catalog.table("i", "by_e").is_err());
    drop(catalog);
    let catalog = open(dir.path());
    assert!(catalog.table("i", "by_e").is_err());
}

#[test]
fn an_index_on_a_defined_column_added_after_creation_uses_its_declared_type() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(dir.path());
    catalog
        .create_table(
            "i",
            schema(),
            &TableOptionsPatch::default(),
            CapacityUnits::default(),
        )
        .unwrap();
    catalog
        .change_defined_columns("i", "t", |columns| {
            columns.push(DefinedColumnSchema {
                name: "m".into(),
                column_type: DefinedColumnType::Integer,
            });
            Ok(())
        })
        .unwrap();
    catalog
        .create_index("i", "t", index("by_m", "m", &[]), false)
        .unwrap();
    let put_m = |k: i64, m: i64| {
        let t = catalog.table("i", "t").unwrap();
        let cells = vec![ColumnChange::Put {
            name: "m".into(),
            value: Value::Integer(m),
            timestamp_ms: None,
        }];
        t.put_row(pk(k), cells, &Condition::default(), &ReturnKind::None)
            .unwrap();
    };
    put_m(1, 30);
    put_m(2, 10);
    let keys: Vec<Vec<PkValue>> = actual(&catalog.table("i", "by_m").unwrap())
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    let row = |m, k| vec![PkValue::Integer(m), PkValue::Integer(k)];
    assert_eq!(keys, [row(10, 2), row(30, 1)]);
    // The index keeps the column from being dropped.
    let dropped = catalog.change_defined_columns("i", "t", |columns| {
        columns.retain(|c| c.name != "m");
        Ok(())
    });
    assert!(dropped.is_err());
}

#[test]
fn an_index_created_under_concurrent_writes_misses_none_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Arc::new(with_indexes(dir.path(), vec![]));
    let writers: Vec<_> = (0..4i64)
        .map(|w| {
            let catalog = Arc::clone(&catalog);
            std::thread::spawn(move || {
                let t = catalog.table("i", "t").unwrap();
                // Every key is written once (and some deleted once, a little later), so a
                // write the index missed is never repaired by a later one.
                for i in 0..300i64 {
                    let k = w * 1000 + i;
                    let a = Attrs {
                        n: Some(i % 5),
                        ..Attrs::default()
                    };
                    let none = Condition::default();
                    t.put_row(pk(k), cells(&a), &none, &ReturnKind::None)
                        .unwrap();
                    if i % 7 == 6 {
                        t.delete_row(pk(k - 3), &none, &ReturnKind::None).unwrap();
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(5));
    catalog
        .create_index("i", "t", index("by_n", "n", &[]), true)
        .unwrap();
    for w in writers {
        w.join().unwrap();
    }
    // Whatever interleaving happened, the index is what the base rows make now.
    let model = model_of(&catalog.table("i", "t").unwrap());
    let by_n = catalog.table("i", "by_n").unwrap();
    assert_eq!(actual(&by_n), expected(&model, false));
}

/// Puts row `k` of table `i`/`t` as `a` inside the open transaction `id`.
fn put_in_transaction(catalog: &Catalog, id: &str, k: i64, a: &Attrs) {
    let (t, txn) = catalog.transaction("i", id).unwrap();
    let mut session = txn.session().unwrap();
    let put = RowWrite::Put {
        pk: pk(k),
        cells: cells(a),
    };
    t.write_row_in(
        put,
        &Condition::default(),
        &ReturnKind::None,
        Some(&mut session),
    )
    .unwrap();
}

/// The model of the base table as it stands, read back from a scan.
fn model_of(t: &Table) -> BTreeMap<i64, Attrs> {
    scan(t)
        .into_iter()
        .map(|row| {
            let k = match row.primary_key[0].1 {
                PkValue::Integer(k) => k,
                _ => unreachable!(),
            };
            let n = row.latest("n").map(|c| match c.value {
                Value::Integer(n) => n,
                _ => unreachable!(),
            });
            (
                k,
                Attrs {
                    n,
                    ..Attrs::default()
                },
            )
        })
        .collect()
}

#[test]
fn an_index_filled_in_chunks_under_changing_rows_and_transactions_stays_exact() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Arc::new(with_indexes(dir.path(), vec![]));
    // Three chunks of stored rows (BULK_BATCH_ROWS is 1000).
    const ROWS: i64 = 2500;
    let t = catalog.table("i", "t").unwrap();
    let none = Condition::default();
    for k in 0..ROWS {
        let a = Attrs {
            n: Some(k % 10),
            ..Attrs::default()
        };
        t.put_row(pk(k), cells(&a), &none, &ReturnKind::None)
            .unwrap();
    }
    let filling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let still_filling =
        |f: &std::sync::atomic::AtomicBool| f.load(std::sync::atomic::Ordering::Acquire);
    // Writers change the indexed value of rows ahead of and behind the fill, delete rows
    // and put them back, until the index is in place (and a little after).
    let writers: Vec<_> = (0..3i64)
        .map(|w| {
            let (catalog, filling) = (Arc::clone(&catalog), Arc::clone(&filling));
            std::thread::spawn(move || {
                let t = catalog.table("i", "t").unwrap();
                let none = Condition::default();
                let mut step = 0i64;
                while still_filling(&filling) || step < 200 {
                    let k = (step * 7919 + w * 613) % ROWS;
                    let written = match step % 5 {
                        4 => t.delete_row(pk(k), &none, &ReturnKind::None).map(|_| ()),
                        _ => {
                            let a = Attrs {
                                n: Some(100 + (step + w) % 50),
                                ..Attrs::default()
                            };
                            t.put_row(pk(k), cells(&a), &none, &ReturnKind::None)
                                .map(|_| ())
                        }
                    };
                    // A row whose partition a transaction holds refuses other writers.
                    if let Err(e) = written {
                        assert_eq!(e.code, crate::error::ErrorCode::RowOperationConflict);
                    }
                    step += 1;
                }
            })
        })
        .collect();
    // A transaction that commits a change while the fill runs.
    let transactions = {
        let (catalog, filling) = (Arc::clone(&catalog), Arc::clone(&filling));
        std::thread::spawn(move || {
            let mut round = 0i64;
            while still_filling(&filling) || round < 20 {
                let k = (round * 131) % ROWS;
                // Refused while the index is being installed: that is the documented 409.
                let Ok(id) = catalog.start_transaction("i", "t", pk(k)) else {
                    round += 1;
                    continue;
                };
                let a = Attrs {
                    n: Some(1000 + round),
                    ..Attrs::default()
                };
                put_in_transaction(&catalog, &id, k, &a);
                catalog.commit_transaction("i", &id).unwrap();
                round += 1;
            }
        })
    };
    // An open transaction refuses the index (409); retry until none is open.
    let created = loop {
        match catalog.create_index("i", "t", index("by_n", "n", &[]), true) {
            Err(e) if e.code == crate::error::ErrorCode::RowOperationConflict => continue,
            other => break other,
        }
    };
    filling.store(false, std::sync::atomic::Ordering::Release);
    created.unwrap();
    for w in writers {
        w.join().unwrap();
    }
    transactions.join().unwrap();
    let model = model_of(&t);
    let by_n = catalog.table("i", "by_n").unwrap();
    assert_eq!(actual(&by_n), expected(&model, false));
}
