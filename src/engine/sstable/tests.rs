//! Table-level tests: builder → reader → iterator round trips, seeks across blocks, bloom
//! behaviour, and corruption of every part of the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::engine::error::Error;
use crate::engine::iter::KvIter;
use crate::engine::key::{self, Kind, PkValue};

fn row(i: u32) -> Vec<u8> {
    key::encode_row_key(&[
        PkValue::String(format!("user{i:08}")),
        PkValue::Integer(i64::from(i) * 7),
    ])
}

fn ikey(r: u32, col: &str, version_ms: i64, seqno: u64) -> Vec<u8> {
    key::make_internal_key(
        key::version_key(&row(r), col.as_bytes(), version_ms),
        seqno,
        Kind::Put,
    )
}

/// `rows` rows × 3 columns, each with an empty or 0..60-byte value.
fn sample(rows: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for r in 0..rows {
        for (c, col) in ["a", "bb", "c\0d"].iter().enumerate() {
            let v = if (r as usize + c).is_multiple_of(5) {
                Vec::new()
            } else {
                vec![(r % 251) as u8; (r as usize * 7 + c) % 60]
            };
            out.push((
                ikey(
                    r,
                    col,
                    1_000 + i64::from(r),
                    u64::from(r) * 3 + c as u64 + 1,
                ),
                v,
            ));
        }
    }
    out
}

fn small_blocks() -> SstOptions {
    SstOptions {
        block_size_bytes: 256,
        restart_interval: 4,
        bloom_bits_per_key: 10,
    }
}

fn build(
    dir: &Path,
    name: &str,
    entries: &[(Vec<u8>, Vec<u8>)],
    opts: SstOptions,
) -> (PathBuf, SstInfo) {
    let path = dir.join(name);
    let mut b = SstBuilder::create(&path, opts).unwrap();
    for (k, v) in entries {
        b.add(k, v).unwrap();
    }
    assert_eq!(b.entries(), entries.len() as u64);
    let info = b.finish().unwrap();
    (path, info)
}

fn open(path: &Path) -> Arc<SstReader> {
    Arc::new(SstReader::open(path).unwrap())
}

fn forward(it: &mut impl KvIter) -> crate::engine::error::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    it.seek_to_first()?;
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next()?;
    }
    Ok(out)
}

fn backward(it: &mut impl KvIter) -> crate::engine::error::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    it.seek_to_last()?;
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.prev()?;
    }
    out.reverse();
    Ok(out)
}

fn assert_corruption_of(err: Error, path: &Path) {
    match err {
        Error::Corruption { file, .. } => assert_eq!(file, path),
        other => panic!("expected corruption of {}, got {other:?}", path.display()),
    }
}

#[test]
fn table_round_trips_forward_and_backward_across_many_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample(700);
    let (path, info) = build(dir.path(), "t.sst", &input, small_blocks());
    let reader = open(&path);
    assert!(
        reader.num_blocks() > 50,
        "only {} blocks",
        reader.num_blocks()
    );
    assert_eq!(info, reader.info());
    assert_eq!(info.file_size, std::fs::metadata(&path).unwrap().len());
    assert_eq!(info.entries, input.len() as u64);
    assert_eq!(reader.smallest(), input[0].0.as_slice());
    assert_eq!(reader.largest(), input[input.len() - 1].0.as_slice());
    assert_eq!((info.smallest_seqno, info.largest_seqno), (1, 699 * 3 + 3));
    let mut it = reader.iter();
    assert_eq!(forward(&mut it).unwrap(), input);
    assert_eq!(backward(&mut it).unwrap(), input);
}

#[test]
fn seeks_hit_exact_between_before_and_after_keys_across_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample(200);
    let (path, _) = build(dir.path(), "t.sst", &input, small_blocks());
    let reader = open(&path);
    let mut it = reader.iter();
    for (i, (k, v)) in input.iter().enumerate() {
        it.seek(k).unwrap();
        assert_eq!((it.key(), it.value()), (k.as_slice(), v.as_slice()));
        it.seek_for_prev(k).unwrap();
        assert_eq!(it.key(), k.as_slice());
        // Internal keys are prefix-free, so k ‖ 0x00 lies strictly between k and its successor.
        let mut between = k.clone();
        between.push(0);
        it.seek(&between).unwrap();
        match input.get(i + 1) {
            Some((next, _)) => {
                assert_eq!(it.key(), next.as_slice());
                // Walking on from a seek and back again crosses block boundaries.
                it.prev().unwrap();
                assert_eq!(it.key(), k.as_slice());
            }
            None => assert!(!it.valid()),
        }
        it.seek_for_prev(&between).unwrap();
        assert_eq!(it.key(), k.as_slice());
        it.next().unwrap();
        match input.get(i + 1) {
            Some((next, _)) => assert_eq!(it.key(), next.as_slice()),
            None => assert!(!it.valid()),
        }
    }
    it.seek(b"").unwrap();
    assert_eq!(it.key(), input[0].0.as_slice());
    it.seek_for_prev(b"").unwrap();
    assert!(!it.valid());
    it.seek(&[0xFF; 64]).unwrap();
    assert!(!it.valid());
    it.seek_for_prev(&[0xFF; 64]).unwrap();
    assert_eq!(it.key(), input[input.len() - 1].0.as_slice());
    // A seek key as the engine builds it: newest record of a cell visible at a seqno.
    let cell = key::version_key(&row(10), b"bb", 1_010);
    it.seek(&key::seek_key(&cell, key::MAX_SEQNO)).unwrap();
    assert_eq!(it.key(), ikey(10, "bb", 1_010, 32).as_slice());
}

#[test]
fn bloom_knows_every_row_and_rejects_most_others() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(dir.path(), "t.sst", &sample(3000), SstOptions::default());
    let reader = open(&path);
    for r in 0..3000 {
        assert!(
            reader.may_contain_row(&row(r)),
            "false negative for row {r}"
        );
    }
    let fp = (3000..23_000)
        .filter(|&r| reader.may_contain_row(&row(r)))
        .count();
    assert!(fp < 400, "{fp} false positives of 20000");
}

#[test]
fn builder_rejects_unordered_duplicate_and_malformed_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = SstBuilder::create(&dir.path().join("t.sst"), SstOptions::default()).unwrap();
    b.add(&ikey(5, "a", 1, 1), b"v").unwrap();
    for bad in [ikey(5, "a", 1, 1), ikey(4, "a", 1, 1), b"short".to_vec()] {
        assert!(
            matches!(b.add(&bad, b"v"), Err(Error::InvalidArgument(_))),
            "{bad:?} accepted"
        );
    }
    assert!(b.estimated_size() > 0);
    assert_eq!(b.entries(), 1);
    b.add(&ikey(6, "a", 1, 1), b"v").unwrap();
    assert_eq!(b.finish().unwrap().entries, 2);
}

#[test]
fn empty_table_opens_and_iterates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (path, info) = build(dir.path(), "t.sst", &[], SstOptions::default());
    assert_eq!(info.entries, 0);
    let reader = open(&path);
    assert!(!reader.may_contain_row(&row(1)));
    let mut it = reader.iter();
    assert!(forward(&mut it).unwrap().is_empty());
    assert!(backward(&mut it).unwrap().is_empty());
    it.seek(b"x").unwrap();
    assert!(!it.valid());
    it.seek_for_prev(b"x").unwrap();
    assert!(!it.valid());
}

#[test]
fn estimated_size_grows_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = SstBuilder::create(&dir.path().join("t.sst"), SstOptions::default()).unwrap();
    let mut last = b.estimated_size();
    for (k, v) in sample(300) {
        b.add(&k, &v).unwrap();
        assert!(b.estimated_size() >= last);
        last = b.estimated_size();
    }
    let info = b.finish().unwrap();
    assert!(info.file_size >= last);
}

#[test]
fn truncated_and_garbage_files_fail_open_with_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let (path, info) = build(dir.path(), "t.sst", &sample(50), small_blocks());
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.sst");
    for len in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        assert_corruption_of(SstReader::open(&cut).unwrap_err(), &cut);
    }
    let garbage = dir.path().join("garbage.sst");
    for n in [0usize, 10, 64, 4096] {
        let junk: Vec<u8> = (0..n).map(|i| (i * 31 % 256) as u8).collect();
        std::fs::write(&garbage, junk).unwrap();
        assert_corruption_of(SstReader::open(&garbage).unwrap_err(), &garbage);
    }
    assert!(info.file_size > 0);
}

#[test]
fn flipped_byte_in_a_data_block_fails_iteration_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample(100);
    let (path, _) = build(dir.path(), "t.sst", &input, small_blocks());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[300] ^= 0x04; // inside the second data block (blocks are ~256 bytes)
    std::fs::write(&path, &bytes).unwrap();
    let reader = open(&path);
    let mut it = reader.iter();
    let err = forward(&mut it).unwrap_err();
    assert!(!it.valid());
    match err {
        Error::Corruption { file, offset, what } => {
            assert_eq!(file, path);
            assert!(offset > 0 && offset <= 300, "offset {offset}");
            assert!(what.contains("checksum"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // The first block is intact and still readable.
    it.seek_to_first().unwrap();
    assert_eq!(it.key(), input[0].0.as_slice());
    assert_corruption_of(backward(&mut it).unwrap_err(), &path);
}

#[test]
fn flipped_byte_in_index_bloom_props_or_footer_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(dir.path(), "t.sst", &sample(100), small_blocks());
    let bytes = std::fs::read(&path).unwrap();
    let footer = footer::Footer::decode(&bytes[bytes.len() - footer::FOOTER_LEN..]).unwrap();
    let bad = dir.path().join("bad.sst");
    let targets = [
        footer.index.offset + 3,
        footer.bloom.offset + 1,
        footer.props.offset + 2,
        (bytes.len() - 20) as u64,
        (bytes.len() - 1) as u64,
    ];
    for at in targets {
        let mut copy = bytes.clone();
        copy[at as usize] ^= 0x20;
        std::fs::write(&bad, &copy).unwrap();
        assert_corruption_of(SstReader::open(&bad).unwrap_err(), &bad);
    }
}

#[test]
fn every_single_byte_flip_is_detected_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample(12);
    let (path, _) = build(
        dir.path(),
        "t.sst",
        &input,
        SstOptions {
            block_size_bytes: 128,
            restart_interval: 2,
            bloom_bits_per_key: 10,
        },
    );
    let bytes = std::fs::read(&path).unwrap();
    let bad = dir.path().join("bad.sst");
    for i in 0..bytes.len() {
        let mut copy = bytes.clone();
        copy[i] ^= 0x41;
        std::fs::write(&bad, &copy).unwrap();
        let Ok(reader) = SstReader::open(&bad) else {
            continue;
        };
        let reader = Arc::new(reader);
        let mut it = reader.iter();
        let fwd = forward(&mut it);
        let bwd = backward(&mut it);
        for (k, _) in &input {
            let _ = it.seek(k);
            let _ = it.seek_for_prev(k);
        }
        assert!(
            fwd.is_err() && bwd.is_err(),
            "flip at byte {i} of {} went unnoticed",
            bytes.len()
        );
    }
}

#[test]
fn readers_and_iterators_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<SstReader>();
    send::<SstIter>();
    let dir = tempfile::tempdir().unwrap();
    let input = sample(300);
    let (path, _) = build(dir.path(), "t.sst", &input, small_blocks());
    let reader = open(&path);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| assert_eq!(forward(&mut reader.iter()).unwrap(), input));
        }
    });
}

fn model_key(row_id: u16, col: u8, version_ms: i64, seqno: u64) -> Vec<u8> {
    let r = key::encode_row_key(&[PkValue::Integer(i64::from(row_id))]);
    key::make_internal_key(
        key::version_key(&r, &[b'c', col], version_ms),
        seqno,
        Kind::Put,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn table_matches_a_btreemap_model(
        records in proptest::collection::btree_map((0u16..200, 0u8..4, 0i64..3, 1u64..5), proptest::collection::vec(any::<u8>(), 0..40), 0..400),
        probes in proptest::collection::vec((0u16..210, 0u8..5, 0i64..4, 0u64..6), 1..40),
        block_size_bytes in 32usize..600,
        restart_interval in 1usize..8,
    ) {
        let model: BTreeMap<Vec<u8>, Vec<u8>> =
            records.into_iter().map(|((r, c, v, s), val)| (model_key(r, c, v, s), val)).collect();
        let input: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let dir = tempfile::tempdir().unwrap();
        let opts = SstOptions { block_size_bytes, restart_interval, bloom_bits_per_key: 10 };
        let (path, _) = build(dir.path(), "p.sst", &input, opts);
        let reader = open(&path);
        let mut it = reader.iter();
        prop_assert_eq!(&forward(&mut it).unwrap(), &input);
        prop_assert_eq!(&backward(&mut it).unwrap(), &input);
        for (r, c, v, s) in probes {
            let target = model_key(r, c, v, s);
            it.seek(&target).unwrap();
            let want = model.range(target.clone()..).next();
            prop_assert_eq!(it.valid().then(|| it.key().to_vec()), want.map(|(k, _)| k.clone()));
            if let Some((k, val)) = want {
                prop_assert_eq!(it.value(), val.as_slice());
                it.next().unwrap();
                let after = model.range((std::ops::Bound::Excluded(k.clone()), std::ops::Bound::Unbounded)).next();
                prop_assert_eq!(it.valid().then(|| it.key().to_vec()), after.map(|(k, _)| k.clone()));
            }
            it.seek_for_prev(&target).unwrap();
            let want = model.range(..=target.clone()).next_back();
            prop_assert_eq!(it.valid().then(|| it.key().to_vec()), want.map(|(k, _)| k.clone()));
            if let Some((k, _)) = want {
                it.prev().unwrap();
                let before = model.range(..k.clone()).next_back();
                prop_assert_eq!(it.valid().then(|| it.key().to_vec()), before.map(|(k, _)| k.clone()));
            }
        }
    }
}

#[test]
fn options_follow_the_engine_options() {
    let engine = crate::engine::Options {
        block_size_bytes: 8192,
        block_restart_interval: 8,
        bloom_bits_per_key: 12,
        ..crate::engine::Options::default()
    };
    let o = SstOptions::from_engine(&engine);
    assert_eq!(
        (o.block_size_bytes, o.restart_interval, o.bloom_bits_per_key),
        (8192, 8, 12)
    );
    assert_eq!(
        SstOptions::default(),
        SstOptions {
            block_size_bytes: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10
        }
    );
}
