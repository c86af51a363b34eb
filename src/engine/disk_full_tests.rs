//! A state machine against a `BTreeMap` with the disk filling and emptying at random
//! (`fault`): writes refused for a full disk are invisible, every acknowledged write stays
//! readable through flushes, compactions and reopens, and only a failed manifest write
//! stops writes until reopen.

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

/// What a write under `disk` with the engine `poisoned` must do: `Ok` when it must succeed.
fn expect_write(disk: Option<Full>, poisoned: bool) -> std::result::Result<(), &'static str> {
    match (poisoned, disk) {
        (true, _) => Err("poisoned"),
        (false, Some(Full::All)) => Err("disk full"),
        _ => Ok(()),
    }
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
        let mut poisoned = false;
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
                    match (expect_write(disk, poisoned), e.write(b)) {
                        (Ok(()), Ok(_)) => match value {
                            Some(v) => { model.insert(k, v); }
                            None => { model.remove(&k); }
                        },
                        (Err("poisoned"), Err(Error::Poisoned)) => {}
                        (Err("disk full"), Err(err)) => prop_assert!(err.is_disk_full(), "{}", err),
                        (want, got) => prop_assert!(false, "{:?} wanted {:?}, got {:?}", op, want, got.map(|_| ())),
                    }
                }
                Op::Flush | Op::Compact => {
                    let result = if matches!(op, Op::Flush) { e.flush() } else { e.compact() };
                    match (poisoned, disk) {
                        (true, _) => prop_assert!(result.is_err()),
                        (false, None) => prop_assert!(result.is_ok(), "{:?}", result.err()),
                        // A failed manifest write stops writes until reopen (when there was
                        // a table to log); a full disk otherwise only fails this job.
                        (false, Some(Full::Manifest)) => {
                            if result.is_err() {
                                poisoned = e.inner.versions.is_poisoned();
                                prop_assert!(poisoned, "only the manifest can have failed");
                            }
                        }
                        (false, Some(_)) => {
                            if let Err(err) = &result {
                                prop_assert!(err.is_disk_full(), "{}", err);
                            }
                        }
                    }
                }
                Op::Disk(full) => {
                    fault::set_disk_full(dir.path(), full);
                    disk = full;
                }
                Op::Reopen => {
                    fault::set_disk_full(dir.path(), None);
                    disk = None;
                    drop(e);
                    e = open(dir.path());
                    poisoned = false;
                }
            }
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
