//! Table-layer behaviour over a real engine in a temp dir: catalog persistence, row writes
//! with conditions, reads with projections and versions, ranges with paging.

use crate::engine::{Direction, PkValue};
use crate::error::ErrorCode;
use crate::table::condition::{Condition, RowExistence};
use crate::table::row::{ColumnChange, ReadSpec};
use crate::table::schema::{
    CapacityUnits, PkColumnSchema, PkInput, PkType, TableOptionsPatch, TableSchema,
};
use crate::table::value::Value;
use crate::table::write::{ReturnKind, RowWrite};
use crate::table::Catalog;

fn schema(name: &str, auto_increment: bool) -> TableSchema {
    TableSchema {
        table_name: name.into(),
        primary_key: vec![
            PkColumnSchema {
                name: "uid".into(),
                pk_type: PkType::String,
                auto_increment: false,
            },
            PkColumnSchema {
                name: "seq".into(),
                pk_type: PkType::Integer,
                auto_increment,
            },
        ],
        defined_columns: vec![],
    }
}

/// A catalog in `dir` with table `i`/`t` of [`schema`] (no auto-increment).
fn open_table(dir: &std::path::Path) -> (Catalog, std::sync::Arc<crate::table::Table>) {
    let catalog = Catalog::open(dir).unwrap();
    catalog
        .create_table(
            "i",
            schema("t", false),
            &TableOptionsPatch::default(),
            CapacityUnits::default(),
        )
        .unwrap();
    let t = catalog.table("i", "t").unwrap();
    (catalog, t)
}

fn key(uid: &str, seq: i64) -> Vec<(String, PkInput)> {
    vec![
        ("uid".into(), PkInput::Value(PkValue::String(uid.into()))),
        ("seq".into(), PkInput::Value(PkValue::Integer(seq))),
    ]
}

fn put(name: &str, value: Value) -> ColumnChange {
    ColumnChange::Put {
        name: name.into(),
        value,
        timestamp_ms: None,
    }
}

fn latest() -> ReadSpec {
    ReadSpec {
        max_versions: Some(1),
        ..Default::default()
    }
}

fn expect(row_existence: RowExistence) -> Condition {
    Condition {
        row_existence,
        column_condition: None,
    }
}

#[test]
fn a_data_dir_is_served_by_one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = Catalog::open(dir.path()).unwrap();
    let Err(second) = Catalog::open(dir.path()) else {
        panic!("a second catalog opened a data dir in use");
    };
    assert!(
        second.message.contains("another otsd process is using it"),
        "{}",
        second.message
    );
    drop(first);
    Catalog::open(dir.path()).expect("the lock goes with the catalog");
}

#[test]
fn start_up_errors_say_what_failed_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let Err(e) = Catalog::open(&file.join("data")) else {
        panic!("a data dir under a file opened");
    };
    assert!(e.message.starts_with("cannot create"), "{}", e.message);
    assert!(e.message.contains("Not a directory"), "{}", e.message);

    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("inst/t")).unwrap();
    std::fs::write(data.join("inst/t/table.json"), b"{bad").unwrap();
    let Err(e) = Catalog::open(&data) else {
        panic!("a damaged table.json opened");
    };
    assert!(e.message.starts_with("cannot parse"), "{}", e.message);
    assert!(e.message.contains("table.json"), "{}", e.message);
}

#[test]
fn tables_persist_across_reopen_and_drops_stay_dropped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let catalog = Catalog::open(dir.path()).unwrap();
        let opts = TableOptionsPatch {
            max_versions: Some(3),
            ..Default::default()
        };
        catalog
            .create_table(
                "inst",
                schema("a", false),
                &opts,
                CapacityUnits { read: 1, write: 2 },
            )
            .unwrap();
        catalog
            .create_table(
                "inst",
                schema("b", false),
                &TableOptionsPatch::default(),
                CapacityUnits::default(),
            )
            .unwrap();
        let e = catalog
            .create_table("inst", schema("a", false), &opts, CapacityUnits::default())
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::ObjectAlreadyExist);
        let t = catalog.table("inst", "a").unwrap();
        t.put_row(
            key("u", 1),
            vec![put("c", Value::Integer(5))],
            &Condition::default(),
            &ReturnKind::None,
        )
        .unwrap();
        catalog.delete_table("inst", "b").unwrap();
        assert_eq!(catalog.list_tables("inst"), vec!["a".to_string()]);
        assert!(catalog.list_tables("other").is_empty());
        catalog.close().unwrap();
    }
    let catalog = Catalog::open(dir.path()).unwrap();
    assert_eq!(catalog.list_tables("inst"), vec!["a".to_string()]);
    let t = catalog.table("inst", "a").unwrap();
    assert_eq!(t.options().max_versions, 3);
    assert_eq!(t.meta().reserved, CapacityUnits { read: 1, write: 2 });
    let (row, _) = t.get_row(key("u", 1), &latest()).unwrap();
    assert_eq!(row.unwrap().latest("c").unwrap().value, Value::Integer(5));
    assert_eq!(
        catalog.table("inst", "b").err().unwrap().code,
        ErrorCode::ObjectNotExist
    );
}

#[test]
fn conditions_are_checked_against_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let (_catalog, t) = open_table(dir.path());
    let cells = || vec![put("a", Value::Boolean(true))];
    let e = t
        .put_row(
            key("u", 1),
            cells(),
            &expect(RowExistence::ExpectExist),
            &ReturnKind::None,
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConditionCheckFail);
    t.put_row(
        key("u", 1),
        cells(),
        &expect(RowExistence::ExpectNotExist),
        &ReturnKind::None,
    )
    .unwrap();
    let e = t
        .put_row(
            key("u", 1),
            cells(),
            &expect(RowExistence::ExpectNotExist),
            &ReturnKind::None,
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConditionCheckFail);
    let e = t
        .delete_row(
            key("u", 1),
            &expect(RowExistence::ExpectNotExist),
            &ReturnKind::None,
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConditionCheckFail);
    t.delete_row(
        key("u", 1),
        &expect(RowExistence::ExpectExist),
        &ReturnKind::None,
    )
    .unwrap();
    assert_eq!(t.get_row(key("u", 1), &latest()).unwrap().0, None);
    // A PK-only row exists.
    t.put_row(
        key("u", 2),
        vec![],
        &Condition::default(),
        &ReturnKind::None,
    )
    .unwrap();
    let (row, _) = t.get_row(key("u", 2), &latest()).unwrap();
    assert!(row.unwrap().columns.is_empty());
}

#[test]
fn update_row_increments_deletes_and_leaves_missing_rows_absent() {
    let dir = tempfile::tempdir().unwrap();
    let (_catalog, t) = open_table(dir.path());
    let inc = || {
        vec![ColumnChange::Increment {
            name: "n".into(),
            delta: 2,
        }]
    };
    for _ in 0..3 {
        t.update_row(key("c", 1), inc(), &Condition::default(), &ReturnKind::None)
            .unwrap();
    }
    let ret = ReturnKind::AfterModify(vec!["n".into()]);
    let out = t
        .update_row(key("c", 1), inc(), &Condition::default(), &ret)
        .unwrap();
    assert_eq!(
        out.returned.unwrap().latest("n").unwrap().value,
        Value::Integer(8)
    );
    t.update_row(
        key("c", 1),
        vec![put("s", Value::String("x".into()))],
        &Condition::default(),
        &ReturnKind::None,
    )
    .unwrap();
    let past_max = vec![ColumnChange::Increment {
        name: "n".into(),
        delta: i64::MAX,
    }];
    let e = t
        .update_row(
            key("c", 1),
            past_max,
            &Condition::default(),
            &ReturnKind::None,
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ParameterInvalid, "{}", e.message);
    let (row, _) = t.get_row(key("c", 1), &latest()).unwrap();
    assert_eq!(
        row.unwrap().latest("n").unwrap().value,
        Value::Integer(8),
        "an overflowing increment changes nothing"
    );
    let bad = vec![ColumnChange::Increment {
        name: "s".into(),
        delta: 1,
    }];
    assert_eq!(
        t.update_row(key("c", 1), bad, &Condition::default(), &ReturnKind::None)
            .unwrap_err()
            .code,
        ErrorCode::ParameterInvalid
    );
    let del = vec![ColumnChange::DeleteAllVersions { name: "n".into() }];
    t.update_row(
        key("c", 1),
        del.clone(),
        &Condition::default(),
        &ReturnKind::None,
    )
    .unwrap();
    let (row, _) = t.get_row(key("c", 1), &latest()).unwrap();
    assert_eq!(
        row.unwrap()
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        vec!["s"]
    );
    t.update_row(
        key("ghost", 1),
        del,
        &Condition::default(),
        &ReturnKind::None,
    )
    .unwrap();
    assert_eq!(t.get_row(key("ghost", 1), &latest()).unwrap().0, None);
}

#[test]
fn auto_increment_values_grow_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(dir.path()).unwrap();
    catalog
        .create_table(
            "i",
            schema("t", true),
            &TableOptionsPatch::default(),
            CapacityUnits::default(),
        )
        .unwrap();
    let t = catalog.table("i", "t").unwrap();
    let mut last = i64::MIN;
    for _ in 0..3 {
        let pk = vec![
            ("uid".into(), PkInput::Value(PkValue::String("p".into()))),
            ("seq".into(), PkInput::AutoIncrement),
        ];
        let out = t
            .put_row(
                pk,
                vec![put("a", Value::Integer(1))],
                &Condition::default(),
                &ReturnKind::PrimaryKey,
            )
            .unwrap();
        let Some((_, PkValue::Integer(seq))) = out.returned.unwrap().primary_key.get(1).cloned()
        else {
            panic!("no seq")
        };
        assert!(seq > last);
        last = seq;
    }
    let pk = vec![
        ("uid".into(), PkInput::Value(PkValue::String("p".into()))),
        ("seq".into(), PkInput::AutoIncrement),
    ];
    let e = t
        .put_row(
            pk,
            vec![],
            &expect(RowExistence::ExpectNotExist),
            &ReturnKind::None,
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ParameterInvalid);
}

#[test]
fn ranges_page_in_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let (_catalog, t) = open_table(dir.path());
    for seq in 0..7 {
        t.put_row(
            key("r", seq),
            vec![put("v", Value::Integer(seq))],
            &Condition::default(),
            &ReturnKind::None,
        )
        .unwrap();
    }
    let bound = |v: PkValue| {
        vec![
            ("uid".to_string(), PkInput::Value(v.clone())),
            ("seq".to_string(), PkInput::Value(v)),
        ]
    };
    let (lo, hi) = (bound(PkValue::InfMin), bound(PkValue::InfMax));
    let page = t
        .get_range(
            lo.clone(),
            hi.clone(),
            Direction::Forward,
            Some(3),
            &latest(),
        )
        .unwrap();
    let seqs: Vec<_> = page
        .rows
        .iter()
        .map(|r| r.primary_key[1].1.clone())
        .collect();
    assert_eq!(
        seqs,
        vec![
            PkValue::Integer(0),
            PkValue::Integer(1),
            PkValue::Integer(2)
        ]
    );
    assert_eq!(page.next_start.unwrap()[1].1, PkValue::Integer(3));
    let page = t
        .get_range(
            hi.clone(),
            lo.clone(),
            Direction::Backward,
            Some(2),
            &latest(),
        )
        .unwrap();
    assert_eq!(page.rows[0].primary_key[1].1, PkValue::Integer(6));
    assert_eq!(page.next_start.unwrap()[1].1, PkValue::Integer(4));
    let page = t
        .get_range(lo.clone(), hi.clone(), Direction::Forward, None, &latest())
        .unwrap();
    assert_eq!((page.rows.len(), page.next_start), (7, None));
    let e = t
        .get_range(hi.clone(), lo.clone(), Direction::Forward, None, &latest())
        .unwrap_err();
    assert_eq!(e.message, "Begin key must less than end key in FORWARD");
    let e = t
        .get_range(lo, hi, Direction::Forward, Some(0), &latest())
        .unwrap_err();
    assert_eq!(e.message, "The limit must be greater than 0.");
}

fn value_of(row: Option<crate::table::row::RowData>) -> Option<Value> {
    row.and_then(|r| r.latest("v").map(|v| v.value.clone()))
}

#[test]
fn transactions_buffer_until_commit_and_lock_their_partition() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, t) = open_table(dir.path());
    let none = || (Condition::default(), ReturnKind::None);
    let (c, r) = none();
    t.put_row(key("u", 1), vec![put("v", Value::Integer(1))], &c, &r)
        .unwrap();
    let partition = vec![(
        "uid".to_string(),
        PkInput::Value(PkValue::String("u".into())),
    )];
    let id = catalog
        .start_transaction("i", "t", partition.clone())
        .unwrap();
    let (_, txn) = catalog.transaction("i", &id).unwrap();
    {
        let mut s = txn.session().unwrap();
        let put_in = |k, v| RowWrite::Put {
            pk: k,
            cells: vec![put("v", Value::Integer(v))],
        };
        t.write_row_in(put_in(key("u", 1), 2), &c, &r, Some(&mut s))
            .unwrap();
        let delete = RowWrite::Delete { pk: key("u", 1) };
        t.write_row_in(delete, &c, &r, Some(&mut s)).unwrap();
        t.write_row_in(put_in(key("u", 3), 3), &c, &r, Some(&mut s))
            .unwrap();
        // Read-your-writes, merged over committed rows in ranges too.
        assert_eq!(
            value_of(t.get_row_in(key("u", 1), &latest(), Some(&s)).unwrap().0),
            None
        );
        let page = t
            .get_range_in(
                key("u", 0),
                key("u", 9),
                Direction::Forward,
                None,
                &latest(),
                Some(&s),
            )
            .unwrap();
        assert_eq!(page.rows.len(), 1);
        assert_eq!(
            value_of(page.rows.into_iter().next()),
            Some(Value::Integer(3))
        );
        // Rows of another partition are refused inside the transaction.
        let e = t.get_row_in(key("x", 1), &latest(), Some(&s)).unwrap_err();
        assert_eq!(e.code, ErrorCode::ParameterInvalid);
    }
    // Outside the transaction: committed data only, writes refused, a second start refused.
    assert_eq!(
        value_of(t.get_row(key("u", 1), &latest()).unwrap().0),
        Some(Value::Integer(1))
    );
    let e = t
        .put_row(key("u", 5), vec![put("v", Value::Integer(5))], &c, &r)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RowOperationConflict);
    let e = catalog
        .start_transaction("i", "t", partition.clone())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RowOperationConflict);
    t.put_row(key("w", 5), vec![put("v", Value::Integer(5))], &c, &r)
        .unwrap();
    catalog.commit_transaction("i", &id).unwrap();
    assert_eq!(t.get_row(key("u", 1), &latest()).unwrap().0, None);
    assert_eq!(
        value_of(t.get_row(key("u", 3), &latest()).unwrap().0),
        Some(Value::Integer(3))
    );
    assert_eq!(
        catalog.commit_transaction("i", &id).unwrap_err().message,
        "TransactionID is invalid."
    );
    // Aborted and expired transactions leave nothing behind and free the partition.
    let id = catalog
        .start_transaction("i", "t", partition.clone())
        .unwrap();
    catalog.abort_transaction("i", &id).unwrap();
    let mut short = catalog;
    short.set_transaction_timeout(std::time::Duration::from_millis(10));
    let id = short
        .start_transaction("i", "t", partition.clone())
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(short.transaction("i", &id).is_err());
    t.put_row(key("u", 5), vec![put("v", Value::Integer(5))], &c, &r)
        .unwrap();
}

#[test]
fn filtered_ranges_stop_at_the_scan_budget_with_a_next_key() {
    use crate::table::filter::{Comparator, Filter};
    let dir = tempfile::tempdir().unwrap();
    let (_catalog, t) = open_table(dir.path());
    let rows = crate::table::limits::MAX_RANGE_ROWS as i64 + 10;
    for seq in 0..rows {
        t.put_row(
            key("r", seq),
            vec![put("v", Value::Integer(seq))],
            &Condition::default(),
            &ReturnKind::None,
        )
        .unwrap();
    }
    let spec = ReadSpec {
        filter: Some(Filter::Single {
            column: "v".into(),
            comparator: Comparator::Equal,
            value: Some(Value::Integer(-1)),
            pass_if_missing: false,
            latest_version_only: true,
            transfer: None,
        }),
        ..latest()
    };
    let page = t
        .get_range(
            key("r", 0),
            key("r", rows),
            Direction::Forward,
            Some(3),
            &spec,
        )
        .unwrap();
    assert!(page.rows.is_empty());
    let next = page.next_start.unwrap();
    assert_eq!(
        next[1].1,
        PkValue::Integer(crate::table::limits::MAX_RANGE_ROWS as i64)
    );
    let rest = next
        .into_iter()
        .map(|(n, v)| (n, PkInput::Value(v)))
        .collect();
    let page = t
        .get_range(rest, key("r", rows), Direction::Forward, Some(3), &spec)
        .unwrap();
    assert!(page.rows.is_empty() && page.next_start.is_none());
}
