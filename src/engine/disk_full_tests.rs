//! A state machine against a `BTreeMap` with the disk filling and emptying at random
//! (`fault`): writes refused for a full disk are invisible, every acknowledged write stays
//! readable through flushes, compactions and reopens (a full disk's too), and nothing stops
//! the engine: every refused write, flush, compaction or manifest record can be retried once
//! space is back.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::fault::{self, Full};
use super::*;

#[derive(Debug, Clone)]
enum Op {
    Put(i64, u8),
    Delete(i64),
    Flush,
    Compact,
    Disk(Option<Full>),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let full = prop_oneof![
        3 => Just(None),
        2 => Just(Some(Full::All)),
        2 => Just(Some(Full::Tables)),
        1 => Just(Some(Full::Manifest)),
    ];
    prop_oneof![
        8 => (0i64..12, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0i64..12).prop_map(Op::Delete),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        3 => full.prop_map(Op::Disk),
        1 => Just(Op::Reopen),
    ]
}

fn row(k: i64) -> Vec<u8> {
    key::encode_row_key(&[PkValue::Integer(k)])
}

fn options() -> Options {
    Options {
        sync: SyncPolicy::Always,
        ..Options::default()
    }
}

fn open(dir: &std::path::Path) -> Engine {
    Engine::open(dir, options(), DataOptions::default()).expect("open")
}

fn read(e: &Engine, k: i64) -> Option<u8> {
    let r = e
        .get_row(&row(k), &ReadOptions::default())
        .expect("reads never fail");
    r.map(|r| r.columns[0].cells[0].value[0])
}

/// Whether the engine stopped taking writes until reopened.
fn stopped(e: &Engine) -> bool {
    e.inner.poisoned.load(std::sync::atomic::Ordering::Acquire) || e.inner.versions.is_poisoned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn acknowledged_writes_survive_a_disk_that_fills_and_empties(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut e = open(dir.path());
        let mut model: BTreeMap<i64, u8> = BTreeMap::new();
        let mut disk: Option<Full> = None;
        for op in ops {
            match op {
                Op::Put(k, _) | Op::Delete(k) => {
                    let value = match op {
                        Op::Put(_, v) => Some(v),
                        _ => None,
                    };
                    let mut b = WriteBatch::new();
                    match value {
                        Some(v) => b.put(&row(k), b"c", Some(1), &[v]),
                        None => b.delete_row(&row(k)),
                    }
                    match e.write(b) {
                        Ok(_) => {
                            prop_assert!(disk != Some(Full::All), "{:?} went onto a full disk", op);
                            match value {
                                Some(v) => { model.insert(k, v); }
                                None => { model.remove(&k); }
                            }
                        }
                        Err(err) => {
                            prop_assert!(err.is_disk_full() && disk == Some(Full::All), "{:?}: {}", op, err);
                        }
                    }
                }
                Op::Flush | Op::Compact => {
                    let result = if matches!(op, Op::Flush) { e.flush() } else { e.compact() };
                    if let Err(err) = result {
                        prop_assert!(disk.is_some() && err.is_disk_full(), "{:?} failed: {}", op, err);
                    }
                }
                Op::Disk(full) => {
                    fault::set_disk_full(dir.path(), full);
                    disk = full;
                }
                // On a full disk too: the open continues the old manifest and starts an
                // empty WAL, and the engine serves reads until space is back.
                Op::Reopen => {
                    drop(e);
                    e = open(dir.path());
                }
            }
            // Not even a background flush or compaction that failed on the full disk.
            prop_assert!(!stopped(&e), "the engine stopped after {:?}", op);
            for k in 0..12 {
                prop_assert_eq!(read(&e, k), model.get(&k).copied(), "row {} after {:?}", k, op);
            }
        }
        fault::set_disk_full(dir.path(), None);
        drop(e);
        let e = open(dir.path());
        for k in 0..12 {
            prop_assert_eq!(read(&e, k), model.get(&k).copied(), "row {} after the last reopen", k);
        }
    }
}

fn put(e: &Engine, k: i64, v: u8) -> Result<SeqNo> {
    let mut b = WriteBatch::new();
    b.put(&row(k), b"c", Some(1), &[v]);
    e.write(b)
}

#[test]
fn an_engine_opens_on_a_full_disk_serves_reads_and_writes_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    put(&e, 1, 10).unwrap();
    e.flush().unwrap();
    put(&e, 2, 20).unwrap();
    drop(e);

    fault::set_disk_full(dir.path(), Some(Full::All));
    let e = open(dir.path());
    assert_eq!((read(&e, 1), read(&e, 2)), (Some(10), Some(20)));
    assert!(put(&e, 3, 30).unwrap_err().is_disk_full());
    assert!(!stopped(&e));

    fault::set_disk_full(dir.path(), None);
    put(&e, 3, 30).unwrap();
    drop(e);
    let e = open(dir.path());
    assert_eq!(
        (read(&e, 1), read(&e, 2), read(&e, 3)),
        (Some(10), Some(20), Some(30))
    );
}

#[test]
fn a_new_engine_on_a_full_disk_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    fault::set_disk_full(dir.path(), Some(Full::All));
    let opened = Engine::open(dir.path(), options(), DataOptions::default());
    fault::set_disk_full(dir.path(), None);
    match opened {
        Err(err) => assert!(err.is_disk_full(), "{err}"),
        Ok(_) => panic!("opened a new engine on a full disk"),
    }
}
