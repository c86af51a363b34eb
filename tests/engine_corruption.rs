//! Corruption test: flipped bytes in a WAL, the MANIFEST and an SSTable. A damaged WAL is cut
//! cleanly at the damaged record; a damaged manifest or table gives `Error::Corruption` naming
//! the file (on open or on the read that touches it). Nothing may panic.

use std::path::{Path, PathBuf};

use otsd::engine::key::{encode_row_key, PkValue};
use otsd::engine::{
    DataOptions, Direction, Engine, Error, Options, ReadOptions, SyncPolicy, WriteBatch,
};

const BATCHES: i64 = 20;

fn rk(n: i64) -> Vec<u8> {
    encode_row_key(&[PkValue::Integer(n)])
}

fn options() -> Options {
    Options {
        sync: SyncPolicy::Always,
        ..Options::default()
    }
}

fn data() -> DataOptions {
    DataOptions {
        ttl_secs: None,
        max_versions: 1,
    }
}

fn write_batches(e: &Engine, range: std::ops::Range<i64>) {
    for n in range {
        let mut b = WriteBatch::new();
        b.put(&rk(n), b"col", Some(1), &[n as u8; 32]);
        e.write(b).unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn find(dir: &Path, pred: impl Fn(&str) -> bool) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| pred(e.file_name().to_str().unwrap()) && e.metadata().unwrap().len() > 0)
        .map(|e| e.path())
        .next()
        .expect("file present")
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x41;
    std::fs::write(path, bytes).unwrap();
}

/// Reads everything; returns the first error, if any, and the rows seen.
fn read_all(e: &Engine) -> (Option<Error>, Vec<i64>) {
    let mut rows = Vec::new();
    for n in 0..BATCHES {
        match e.get_row(&rk(n), &ReadOptions::default()) {
            Ok(Some(_)) => rows.push(n),
            Ok(None) => {}
            Err(err) => return (Some(err), rows),
        }
    }
    for dir in [Direction::Forward, Direction::Backward] {
        let (start, end) = if dir == Direction::Forward {
            (vec![0x00], vec![0xFF])
        } else {
            (vec![0xFF], vec![0x00])
        };
        for r in e.scan(&start, &end, dir, &ReadOptions::default()).unwrap() {
            if let Err(err) = r {
                return (Some(err), rows);
            }
        }
    }
    (None, rows)
}

fn corruption_names(err: &Error, what: &str) -> bool {
    matches!(err, Error::Corruption { file, .. } if file.to_string_lossy().contains(what))
}

#[test]
fn flipped_wal_bytes_cut_the_log_at_the_damaged_record() {
    let template = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(template.path(), options(), data()).unwrap();
        write_batches(&e, 0..BATCHES);
        e.close().unwrap();
    }
    let wal = find(template.path(), |n| n.ends_with(".wal"));
    // A durable WAL is preallocated: the log ends where the zero fill starts.
    let len = otsd::engine::wal::replay(&wal, |_| Ok(()))
        .unwrap()
        .valid_bytes as usize;
    let record = len / BATCHES as usize;
    assert_eq!(record * BATCHES as usize, len, "equal-sized records");
    let file_len = std::fs::metadata(&wal).unwrap().len() as usize;
    // Every record offset, plus damage in the zero-filled tail past the last record.
    let offsets = (0..len).step_by(7).chain([len, len + 100, file_len - 1]);
    for offset in offsets.filter(|&o| o < file_len) {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        flip(&dir.path().join(wal.file_name().unwrap()), offset);
        let e = Engine::open(dir.path(), options(), data()).unwrap();
        let (err, rows) = read_all(&e);
        assert!(err.is_none(), "offset {offset}: {err:?}");
        let intact = (offset / record).min(BATCHES as usize) as i64;
        assert_eq!(
            rows,
            (0..intact).collect::<Vec<_>>(),
            "flip at {offset}: records before it survive, the rest are cut"
        );
        // The engine keeps working after the cut.
        write_batches(&e, 100..101);
        assert!(e
            .get_row(&rk(100), &ReadOptions::default())
            .unwrap()
            .is_some());
    }
}

#[test]
fn flipped_manifest_bytes_are_reported_as_corruption_of_the_manifest() {
    let template = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(template.path(), options(), data()).unwrap();
        write_batches(&e, 0..10);
        e.flush().unwrap();
        write_batches(&e, 10..BATCHES);
        e.flush().unwrap();
        e.close().unwrap();
    }
    let manifest = find(template.path(), |n| n.starts_with("MANIFEST-"));
    let len = std::fs::metadata(&manifest).unwrap().len() as usize;
    // The first record (the snapshot written at open) is followed by intact records, so any
    // damage in it is corruption, not a torn tail.
    let first_record_end = {
        let bytes = std::fs::read(&manifest).unwrap();
        8 + u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize
    };
    assert!(first_record_end < len);
    for offset in 0..first_record_end {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        flip(&dir.path().join(manifest.file_name().unwrap()), offset);
        match Engine::open(dir.path(), options(), data()) {
            Err(err) => assert!(
                corruption_names(&err, "MANIFEST-"),
                "offset {offset}: {err}"
            ),
            Ok(_) => panic!("offset {offset}: a damaged manifest record opened cleanly"),
        }
    }
}

#[test]
fn flipped_sstable_bytes_are_reported_as_corruption_of_the_table() {
    let template = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(template.path(), options(), data()).unwrap();
        write_batches(&e, 0..BATCHES);
        e.flush().unwrap();
        e.close().unwrap();
    }
    let sst = find(template.path(), |n| n.ends_with(".sst"));
    let len = std::fs::metadata(&sst).unwrap().len() as usize;
    let mut detected = 0;
    for offset in (0..len).step_by(5) {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        flip(&dir.path().join(sst.file_name().unwrap()), offset);
        let err = match Engine::open(dir.path(), options(), data()) {
            Err(err) => Some(err),
            Ok(e) => read_all(&e).0,
        };
        match err {
            Some(err) => {
                assert!(corruption_names(&err, ".sst"), "offset {offset}: {err}");
                detected += 1;
            }
            None => panic!("offset {offset}: damage in the table went unnoticed"),
        }
    }
    assert!(detected > 0);
}
