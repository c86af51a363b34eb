//! Model test: random writes, flushes, compactions and reopens against a `BTreeMap` model;
//! every step compares `get_row` of every row and full forward and backward scans.

mod engine_common;

use std::collections::BTreeMap;

use engine_common::{col_name, engine_view, rk, RowView};
use otsd::engine::{
    DataOptions, Direction, Engine, Options, ReadOptions, SyncPolicy, WriteBatch, WriteBufferBudget,
};
use proptest::prelude::*;

const ROWS: i64 = 6;

#[derive(Debug, Clone)]
enum Change {
    Put {
        row: i64,
        col: u8,
        ver: i64,
        val: u8,
    },
    DeleteVersion {
        row: i64,
        col: u8,
        ver: i64,
    },
    DeleteColumn {
        row: i64,
        col: u8,
    },
    DeleteRow {
        row: i64,
    },
    Marker {
        row: i64,
    },
}

#[derive(Debug, Clone)]
enum Step {
    Write(Vec<Change>),
    Flush,
    Compact,
    Reopen,
}

/// row -> (has marker, column -> version -> value)
type ModelRow = (bool, BTreeMap<u8, BTreeMap<i64, u8>>);

#[derive(Default)]
struct Model {
    rows: BTreeMap<i64, ModelRow>,
}

impl Model {
    fn apply(&mut self, c: &Change) {
        match *c {
            Change::Put { row, col, ver, val } => {
                self.rows
                    .entry(row)
                    .or_default()
                    .1
                    .entry(col)
                    .or_default()
                    .insert(ver, val);
            }
            Change::DeleteVersion { row, col, ver } => {
                if let Some(r) = self.rows.get_mut(&row) {
                    if let Some(c) = r.1.get_mut(&col) {
                        c.remove(&ver);
                    }
                }
            }
            Change::DeleteColumn { row, col } => {
                if let Some(r) = self.rows.get_mut(&row) {
                    r.1.remove(&col);
                }
            }
            Change::DeleteRow { row } => {
                self.rows.remove(&row);
            }
            Change::Marker { row } => {
                self.rows.insert(row, (true, BTreeMap::new()));
            }
        }
    }

    /// What a read sees: columns with their newest `max_versions` versions, newest first.
    fn view(&self, row: i64, max_versions: usize) -> Option<RowView> {
        let (marker, cols) = self.rows.get(&row)?;
        let out: Vec<_> = cols
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(c, v)| {
                (
                    *c,
                    v.iter()
                        .rev()
                        .take(max_versions)
                        .map(|(k, x)| (*k, *x))
                        .collect(),
                )
            })
            .collect();
        (*marker || !out.is_empty()).then_some(out)
    }
}

fn change(allow_delete_version: bool) -> impl Strategy<Value = Change> {
    let row = 0..ROWS;
    let col = 0u8..3;
    let ver = 1i64..5;
    prop_oneof![
        6 => (row.clone(), col.clone(), ver.clone(), any::<u8>()).prop_map(|(row, col, ver, val)| Change::Put { row, col, ver, val }),
        (if allow_delete_version { 2 } else { 0 }) => (row.clone(), col.clone(), ver).prop_map(|(row, col, ver)| Change::DeleteVersion { row, col, ver }),
        1 => (row.clone(), col).prop_map(|(row, col)| Change::DeleteColumn { row, col }),
        1 => row.clone().prop_map(|row| Change::DeleteRow { row }),
        1 => row.prop_map(|row| Change::Marker { row }),
    ]
}

fn step(allow_delete_version: bool) -> impl Strategy<Value = Step> {
    prop_oneof![
        20 => prop::collection::vec(change(allow_delete_version), 1..4).prop_map(Step::Write),
        2 => Just(Step::Flush),
        1 => Just(Step::Compact),
        1 => Just(Step::Reopen),
    ]
}

fn options() -> Options {
    Options {
        memtable_size_bytes: 1 << 10,
        l0_compaction_trigger: 2,
        sync: SyncPolicy::Never,
        // Below the memtable size: writers also seal early for the shared budget.
        write_buffer: WriteBufferBudget::new(768),
        ..Options::default()
    }
}

fn check(engine: &Engine, model: &Model, max_versions: usize) {
    let read = ReadOptions::default();
    let mut expected = Vec::new();
    for row in 0..ROWS {
        let got = engine
            .get_row(&rk(row), &read)
            .unwrap()
            .map(|r| engine_view(&r));
        let want = model.view(row, max_versions);
        assert_eq!(got, want, "get_row({row})");
        if let Some(w) = want {
            expected.push((row, w));
        }
    }
    let fwd: Vec<_> = engine
        .scan(&[0x00], &[0xFF], Direction::Forward, &read)
        .unwrap()
        .map(|r| engine_view(&r.unwrap()))
        .collect();
    assert_eq!(
        fwd,
        expected.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        "forward scan"
    );
    let back: Vec<_> = engine
        .scan(&[0xFF], &[0x00], Direction::Backward, &read)
        .unwrap()
        .map(|r| engine_view(&r.unwrap()))
        .collect();
    assert_eq!(
        back,
        expected
            .iter()
            .rev()
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>(),
        "backward scan"
    );
    // A bounded scan: rows [1, 4) forward and (1, 4] backward.
    let mid: Vec<_> = engine
        .scan(&rk(1), &rk(4), Direction::Forward, &read)
        .unwrap()
        .map(|r| r.unwrap().key)
        .collect();
    let want: Vec<_> = expected
        .iter()
        .filter(|(r, _)| (1..4).contains(r))
        .map(|(r, _)| rk(*r))
        .collect();
    assert_eq!(mid, want, "bounded forward scan");
    let mid_back: Vec<_> = engine
        .scan(&rk(4), &rk(1), Direction::Backward, &read)
        .unwrap()
        .map(|r| r.unwrap().key)
        .collect();
    let want: Vec<_> = expected
        .iter()
        .rev()
        .filter(|(r, _)| (2..=4).contains(r))
        .map(|(r, _)| rk(*r))
        .collect();
    assert_eq!(mid_back, want, "bounded backward scan");
}

fn run(steps: &[Step], max_versions: u32) {
    let dir = tempfile::tempdir().unwrap();
    let data = DataOptions {
        ttl_secs: None,
        max_versions,
    };
    let mut engine = Some(Engine::open(dir.path(), options(), data).unwrap());
    let mut model = Model::default();
    for s in steps {
        let e = engine.as_ref().unwrap();
        match s {
            Step::Write(changes) => {
                let mut b = WriteBatch::new();
                for c in changes {
                    match *c {
                        Change::Put { row, col, ver, val } => {
                            b.put(&rk(row), &col_name(col), Some(ver), &[val])
                        }
                        Change::DeleteVersion { row, col, ver } => {
                            b.delete_version(&rk(row), &col_name(col), ver)
                        }
                        Change::DeleteColumn { row, col } => {
                            b.delete_column(&rk(row), &col_name(col))
                        }
                        Change::DeleteRow { row } => b.delete_row(&rk(row)),
                        Change::Marker { row } => b.put_row_marker(&rk(row), Some(1)),
                    }
                    model.apply(c);
                }
                e.write(b).unwrap();
            }
            Step::Flush => e.flush().unwrap(),
            Step::Compact => e.compact().unwrap(),
            Step::Reopen => {
                engine.take().unwrap().close().unwrap();
                engine = Some(Engine::open(dir.path(), options(), data).unwrap());
            }
        }
        check(engine.as_ref().unwrap(), &model, max_versions as usize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_model_with_many_versions(steps in prop::collection::vec(step(true), 1..80)) {
        run(&steps, 1000);
    }

    #[test]
    fn engine_matches_model_with_one_version(steps in prop::collection::vec(step(false), 1..60)) {
        run(&steps, 1);
    }
}

#[test]
fn delete_row_then_put_in_one_batch_survives_flush_and_compaction() {
    use Change::*;
    run(
        &[
            Step::Write(vec![
                Put {
                    row: 1,
                    col: 0,
                    ver: 1,
                    val: 1,
                },
                Put {
                    row: 1,
                    col: 1,
                    ver: 2,
                    val: 2,
                },
            ]),
            Step::Flush,
            Step::Write(vec![
                DeleteRow { row: 1 },
                Put {
                    row: 1,
                    col: 1,
                    ver: 1,
                    val: 3,
                },
            ]),
            Step::Compact,
            Step::Write(vec![Marker { row: 2 }]),
            Step::Reopen,
            Step::Compact,
        ],
        1000,
    );
}
