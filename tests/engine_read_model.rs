//! Model test of the read rules (engine/read.rs): random writes with explicit versions,
//! flushes, compactions, reopens, a clock that moves on (TTL), tightened data options
//! (UpdateTable) and scans left open across all of that; after every step every row is read
//! with a random projection, time range, column range and version limit, by `get_row` and by
//! forward and backward scans, and compared with a plain model of the rules.
//!
//! Compaction physically drops what the table's limits hide, so the runs avoid the moves that
//! would bring dropped data back into view: with a bounded `max_versions` no version is
//! deleted (an older one would move up) and `max_versions` only shrinks; TTL only shrinks and
//! the clock only moves forward.

mod engine_common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use engine_common::{col_name, engine_view, rk, RowView};
use otsd::engine::{
    DataOptions, Direction, Engine, Options, ReadOptions, RowIter, SyncPolicy, WriteBatch,
};
use proptest::prelude::*;

const ROWS: i64 = 5;
const COLUMNS: u8 = 3;
/// Unbounded `max_versions`: every version stays, so versions may be deleted.
const ALL_VERSIONS: u32 = 1000;

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
        ver: i64,
    },
}

#[derive(Debug, Clone)]
struct Read {
    max_versions: u32,
    time_range: Option<(i64, i64)>,
    columns: Option<Vec<u8>>,
    start_column: Option<u8>,
    end_column: Option<u8>,
}

#[derive(Debug, Clone)]
enum Step {
    Write(Vec<Change>),
    Flush,
    Compact,
    Reopen,
    /// Moves the clock on by this many ms.
    Advance(i64),
    /// Tightens the data options: a smaller `max_versions` and/or a shorter TTL.
    Tighten {
        max_versions: Option<u32>,
        ttl_secs: Option<i64>,
    },
    /// Opens a scan with this read; it is drained later, after more steps.
    OpenScan(Read),
    DrainScan,
}

#[derive(Debug, Clone, Default)]
struct ModelRow {
    /// The version of the row marker (PutRow without columns), if the row has one.
    marker: Option<i64>,
    columns: BTreeMap<u8, BTreeMap<i64, u8>>,
}

#[derive(Debug, Clone)]
struct Model {
    rows: BTreeMap<i64, ModelRow>,
    data: DataOptions,
    now_ms: i64,
}

impl Model {
    fn apply(&mut self, c: &Change) {
        match *c {
            Change::Put { row, col, ver, val } => {
                let r = self.rows.entry(row).or_default();
                r.columns.entry(col).or_default().insert(ver, val);
            }
            Change::DeleteVersion { row, col, ver } => {
                if let Some(c) = self
                    .rows
                    .get_mut(&row)
                    .and_then(|r| r.columns.get_mut(&col))
                {
                    c.remove(&ver);
                }
            }
            Change::DeleteColumn { row, col } => {
                if let Some(r) = self.rows.get_mut(&row) {
                    r.columns.remove(&col);
                }
            }
            Change::DeleteRow { row } => {
                self.rows.remove(&row);
            }
            Change::Marker { row, ver } => {
                let marked = ModelRow {
                    marker: Some(ver),
                    columns: BTreeMap::new(),
                };
                self.rows.insert(row, marked);
            }
        }
    }

    fn expired(&self, version_ms: i64) -> bool {
        self.data
            .ttl_secs
            .is_some_and(|ttl| version_ms + ttl * 1000 < self.now_ms)
    }

    /// The rules of engine/read.rs, written the plain way: a column's live versions are its
    /// newest `max_versions` that are not expired; a row exists with a live version in any
    /// column or a live marker; the read then filters by column, time range and count.
    fn view(&self, row: i64, read: &Read) -> Option<RowView> {
        let r = self.rows.get(&row)?;
        let table_max = self.data.max_versions.max(1) as usize;
        let read_max = match read.max_versions {
            0 => table_max,
            n => (n as usize).min(table_max),
        };
        let mut exists = r.marker.is_some_and(|v| !self.expired(v));
        let mut out = Vec::new();
        for (&col, versions) in &r.columns {
            let live: Vec<(i64, u8)> = versions
                .iter()
                .rev()
                .take(table_max)
                .filter(|(v, _)| !self.expired(**v))
                .map(|(v, x)| (*v, *x))
                .collect();
            exists |= !live.is_empty();
            if !wants(read, col) {
                continue;
            }
            let kept: Vec<(i64, u8)> = live
                .into_iter()
                .filter(|(v, _)| read.time_range.is_none_or(|(s, e)| s <= *v && *v < e))
                .take(read_max)
                .collect();
            if !kept.is_empty() {
                out.push((col, kept));
            }
        }
        exists.then_some(out)
    }

    /// Every existing row in key order.
    fn scan(&self, read: &Read) -> Vec<RowView> {
        (0..ROWS).filter_map(|row| self.view(row, read)).collect()
    }
}

fn wants(read: &Read, col: u8) -> bool {
    read.columns.as_ref().is_none_or(|cols| cols.contains(&col))
        && read.start_column.is_none_or(|s| col >= s)
        && read.end_column.is_none_or(|e| col < e)
}

fn engine_read(read: &Read) -> ReadOptions {
    ReadOptions {
        max_versions: read.max_versions,
        time_range: read.time_range,
        columns: read
            .columns
            .as_ref()
            .map(|cols| cols.iter().map(|c| col_name(*c)).collect()),
        start_column: read.start_column.map(col_name),
        end_column: read.end_column.map(col_name),
        snapshot: None,
    }
}

fn collect(iter: RowIter) -> Vec<RowView> {
    iter.map(|r| engine_view(&r.unwrap())).collect()
}

/// Versions are whole seconds, so TTLs of a few seconds expire some of them as the clock
/// (starting at 6 s) moves on.
fn version() -> impl Strategy<Value = i64> {
    (1i64..=6).prop_map(|s| s * 1000)
}

fn change(delete_versions: bool) -> impl Strategy<Value = Change> {
    let row = 0..ROWS;
    let col = 0..COLUMNS;
    prop_oneof![
        8 => (row.clone(), col.clone(), version(), any::<u8>())
            .prop_map(|(row, col, ver, val)| Change::Put { row, col, ver, val }),
        (if delete_versions { 2 } else { 0 }) => (row.clone(), col.clone(), version())
            .prop_map(|(row, col, ver)| Change::DeleteVersion { row, col, ver }),
        1 => (row.clone(), col).prop_map(|(row, col)| Change::DeleteColumn { row, col }),
        1 => row.clone().prop_map(|row| Change::DeleteRow { row }),
        1 => (row, version()).prop_map(|(row, ver)| Change::Marker { row, ver }),
    ]
}

fn read() -> impl Strategy<Value = Read> {
    // Column 3 is never written: asking for it must change nothing.
    let cols = prop::collection::btree_set(0u8..=COLUMNS, 1..=3)
        .prop_map(|s| s.into_iter().collect::<Vec<_>>());
    (
        0u32..=3,
        prop::option::weighted(0.4, (0i64..=12, 1i64..=6)),
        prop::option::weighted(0.3, cols),
        prop::option::weighted(0.2, 0u8..=COLUMNS),
        prop::option::weighted(0.2, 0u8..=COLUMNS),
    )
        .prop_map(
            |(max_versions, range, columns, start_column, end_column)| Read {
                max_versions,
                time_range: range.map(|(a, len)| (a * 500, a * 500 + len * 1000)),
                columns,
                start_column,
                end_column,
            },
        )
}

fn step(bounded_versions: bool) -> impl Strategy<Value = Step> {
    // Only a bounded max_versions shrinks (see the module docs).
    let shrunk_versions = if bounded_versions {
        prop::option::of(1u32..=3).boxed()
    } else {
        Just(None).boxed()
    };
    prop_oneof![
        20 => prop::collection::vec(change(!bounded_versions), 1..4).prop_map(Step::Write),
        2 => Just(Step::Flush),
        1 => Just(Step::Compact),
        1 => Just(Step::Reopen),
        3 => (0i64..2500).prop_map(Step::Advance),
        1 => (shrunk_versions, prop::option::of(1i64..=6))
            .prop_map(|(max_versions, ttl_secs)| Step::Tighten { max_versions, ttl_secs }),
        2 => read().prop_map(Step::OpenScan),
        2 => Just(Step::DrainScan),
    ]
}

fn options(clock: &Arc<AtomicI64>) -> Options {
    let clock = Arc::clone(clock);
    Options {
        memtable_size_bytes: 1 << 10,
        l0_compaction_trigger: 2,
        sync: SyncPolicy::Never,
        clock: Arc::new(move || clock.load(Ordering::Relaxed)),
        ..Options::default()
    }
}

/// The tighter of two data options (what UpdateTable may do here without bringing dropped
/// data back).
fn tighten(data: DataOptions, max_versions: Option<u32>, ttl_secs: Option<i64>) -> DataOptions {
    DataOptions {
        max_versions: max_versions.map_or(data.max_versions, |m| m.min(data.max_versions)),
        ttl_secs: match (data.ttl_secs, ttl_secs) {
            (Some(old), Some(new)) => Some(old.min(new)),
            (old, new) => old.or(new),
        },
    }
}

fn check(engine: &Engine, model: &Model, read: &Read) {
    let opts = engine_read(read);
    for row in 0..ROWS {
        let got = engine.get_row(&rk(row), &opts).unwrap();
        assert_eq!(
            got.as_ref().map(engine_view),
            model.view(row, read),
            "get_row({row}) with {read:?}"
        );
    }
    let want = model.scan(read);
    let fwd = collect(
        engine
            .scan(&[0x00], &[0xFF], Direction::Forward, &opts)
            .unwrap(),
    );
    assert_eq!(fwd, want, "forward scan with {read:?}");
    let mut back = collect(
        engine
            .scan(&[0xFF], &[0x00], Direction::Backward, &opts)
            .unwrap(),
    );
    back.reverse();
    assert_eq!(back, want, "backward scan with {read:?}");
}

fn run(data: DataOptions, steps: &[(Step, Read)]) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(6000));
    let mut engine = Some(Engine::open(dir.path(), options(&clock), data).unwrap());
    let mut model = Model {
        rows: BTreeMap::new(),
        data,
        now_ms: 6000,
    };
    // An open scan with what it must return: the model as it stood when the scan opened.
    let mut open: Option<(RowIter, Vec<RowView>, Read)> = None;
    for (s, read) in steps {
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
                        Change::Marker { row, ver } => b.put_row_marker(&rk(row), Some(ver)),
                    }
                    model.apply(c);
                }
                e.write(b).unwrap();
            }
            Step::Flush => e.flush().unwrap(),
            Step::Compact => e.compact().unwrap(),
            Step::Reopen => {
                // An open scan keeps reading the files it pinned, even across the reopen.
                let data = e.data_options();
                engine.take().unwrap().close().unwrap();
                engine = Some(Engine::open(dir.path(), options(&clock), data).unwrap());
            }
            Step::Advance(ms) => {
                model.now_ms += ms;
                clock.store(model.now_ms, Ordering::Relaxed);
            }
            Step::Tighten {
                max_versions,
                ttl_secs,
            } => {
                model.data = tighten(model.data, *max_versions, *ttl_secs);
                e.set_data_options(model.data);
            }
            Step::OpenScan(scan_read) => {
                let iter = e
                    .scan(
                        &[0x00],
                        &[0xFF],
                        Direction::Forward,
                        &engine_read(scan_read),
                    )
                    .unwrap();
                open = Some((iter, model.scan(scan_read), scan_read.clone()));
            }
            Step::DrainScan => {
                if let Some((iter, want, scan_read)) = open.take() {
                    assert_eq!(
                        collect(iter),
                        want,
                        "scan opened earlier with {scan_read:?}"
                    );
                }
            }
        }
        check(engine.as_ref().unwrap(), &model, read);
    }
}

fn data_options(bounded_versions: bool) -> impl Strategy<Value = DataOptions> {
    let versions = if bounded_versions {
        (1u32..=3).boxed()
    } else {
        Just(ALL_VERSIONS).boxed()
    };
    (versions, prop::option::of(1i64..=6)).prop_map(|(max_versions, ttl_secs)| DataOptions {
        ttl_secs,
        max_versions,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, max_shrink_iters: 3000, ..ProptestConfig::default() })]

    #[test]
    fn reads_match_the_model_with_every_version_kept(
        data in data_options(false),
        steps in prop::collection::vec((step(false), read()), 1..70),
    ) {
        run(data, &steps);
    }

    #[test]
    fn reads_match_the_model_with_bounded_versions(
        data in data_options(true),
        steps in prop::collection::vec((step(true), read()), 1..70),
    ) {
        run(data, &steps);
    }
}
