//! The in-memory write buffer: a lock-free `crossbeam_skiplist::SkipMap` from internal key to
//! value, with approximate size accounting. One memtable is active (taking writes); full ones
//! are sealed and wait in the immutable list for flush.rs. Sealing and switching are the
//! engine's job (mod.rs); this file only stores, sizes and iterates.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_skiplist::map::Entry;
use crossbeam_skiplist::SkipMap;

use super::batch::BatchRecords;
use super::error::Result;
use super::iter::KvIter;
use super::key::{self, SeqNo};

/// Bytes charged per entry beyond key and value: skiplist node, tower and two boxes.
const ENTRY_OVERHEAD_BYTES: usize = 64;

type Map = SkipMap<Box<[u8]>, Box<[u8]>>;
type MapEntry = Entry<'static, Box<[u8]>, Box<[u8]>>;

/// A skiplist of (internal key -> value) records.
pub struct Memtable {
    map: Map,
    bytes: AtomicUsize,
    max_seqno: AtomicU64,
    wal_number: u64,
}

impl std::fmt::Debug for Memtable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memtable")
            .field("entries", &self.map.len())
            .field("bytes", &self.approximate_bytes())
            .field("wal_number", &self.wal_number)
            .finish()
    }
}

impl Memtable {
    /// An empty memtable whose records are logged in WAL `wal_number` (or older WALs).
    pub fn new(wal_number: u64) -> Memtable {
        Memtable {
            map: SkipMap::new(),
            bytes: AtomicUsize::new(0),
            max_seqno: AtomicU64::new(0),
            wal_number,
        }
    }

    /// The newest WAL holding records of this memtable: once it is flushed, every WAL up to
    /// and including this number is obsolete.
    pub fn wal_number(&self) -> u64 {
        self.wal_number
    }

    /// Inserts one record under its internal key.
    pub fn insert(&self, internal_key: Box<[u8]>, value: Box<[u8]>) {
        let charge = internal_key.len() + value.len() + ENTRY_OVERHEAD_BYTES;
        if let Some((_, seqno, _)) = key::split_internal_key(&internal_key) {
            self.max_seqno.fetch_max(seqno, Ordering::Relaxed);
        }
        self.map.insert(internal_key, value);
        self.bytes.fetch_add(charge, Ordering::Relaxed);
    }

    /// Inserts every record of a decoded batch.
    pub fn apply(&self, batch: &BatchRecords<'_>) {
        let mut max = 0;
        let mut charge = 0;
        for r in batch.records() {
            let mut ikey = Vec::with_capacity(r.cell_key.len() + key::TRAILER_LEN);
            ikey.extend_from_slice(r.cell_key);
            ikey.extend_from_slice(&key::trailer(r.seqno, r.kind));
            charge += ikey.len() + r.value.len() + ENTRY_OVERHEAD_BYTES;
            max = max.max(r.seqno);
            self.map.insert(ikey.into_boxed_slice(), r.value.into());
        }
        self.max_seqno.fetch_max(max, Ordering::Relaxed);
        self.bytes.fetch_add(charge, Ordering::Relaxed);
    }

    /// Approximate memory held, in bytes.
    pub fn approximate_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no record was inserted.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Largest seqno inserted (0 when empty).
    pub fn max_seqno(&self) -> SeqNo {
        self.max_seqno.load(Ordering::Relaxed)
    }

    /// An owning iterator over the records (keeps the memtable alive).
    pub fn iter(self: &Arc<Self>) -> MemtableIter {
        MemtableIter {
            current: None,
            table: Arc::clone(self),
        }
    }
}

/// An iterator over a memtable that owns an `Arc` of it, so it can outlive every lock.
pub struct MemtableIter {
    // Declared before `table`: fields drop in order, so the entry (which borrows the map
    // inside `table`) is released before the Arc that keeps the map alive.
    current: Option<MapEntry>,
    table: Arc<Memtable>,
}

impl MemtableIter {
    fn map(&self) -> &'static Map {
        let map: *const Map = &self.table.map;
        // SAFETY: the map lives in the heap allocation of `self.table`, an Arc this iterator
        // holds for its whole life, so the address is stable and the map outlives every entry
        // we create from it. Entries are stored only in `self.current` (dropped before
        // `table`, see the field order) and are only lent out through `&self`, so no
        // reference derived from the 'static lifetime escapes the iterator.
        unsafe { &*map }
    }
}

impl KvIter for MemtableIter {
    fn valid(&self) -> bool {
        self.current.is_some()
    }
    fn key(&self) -> &[u8] {
        self.current.as_ref().map(|e| &e.key()[..]).unwrap_or(&[])
    }
    fn value(&self) -> &[u8] {
        self.current.as_ref().map(|e| &e.value()[..]).unwrap_or(&[])
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.current = self.map().lower_bound(Bound::Included(target));
        Ok(())
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.current = self.map().front();
        Ok(())
    }
    fn next(&mut self) -> Result<()> {
        if let Some(e) = &mut self.current {
            if !e.move_next() {
                self.current = None;
            }
        }
        Ok(())
    }
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.current = self.map().upper_bound(Bound::Included(target));
        Ok(())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.current = self.map().back();
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        if let Some(e) = &mut self.current {
            if !e.move_prev() {
                self.current = None;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::batch::WriteBatch;
    use crate::engine::key::Kind;

    fn filled() -> Arc<Memtable> {
        let m = Arc::new(Memtable::new(1));
        let mut b = WriteBatch::new();
        for r in [3u8, 1, 2] {
            b.put(&[r], b"c", Some(10), &[r]);
            b.put(&[r], b"c", Some(20), &[r, r]);
        }
        let mut buf = Vec::new();
        b.encode_into(1, 0, &mut buf);
        m.apply(&BatchRecords::parse(&buf).unwrap());
        m
    }

    fn collect_forward(it: &mut MemtableIter) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while it.valid() {
            out.push(it.key().to_vec());
            it.next().unwrap();
        }
        out
    }

    #[test]
    fn iterates_in_internal_key_order_both_directions() {
        let m = filled();
        assert_eq!((m.len(), m.max_seqno()), (6, 6));
        assert!(m.approximate_bytes() > 6 * ENTRY_OVERHEAD_BYTES);
        let mut it = m.iter();
        it.seek_to_first().unwrap();
        let fwd = collect_forward(&mut it);
        let mut sorted = fwd.clone();
        sorted.sort();
        assert_eq!(fwd, sorted);
        assert_eq!(fwd.len(), 6);
        // Row 1, newest version (20) first.
        let (cell, seqno, kind) = key::split_internal_key(&fwd[0]).unwrap();
        assert_eq!(
            (cell, seqno, kind),
            (&key::version_key(&[1], b"c", 20)[..], 4, Kind::Put)
        );

        it.seek_to_last().unwrap();
        let mut back = Vec::new();
        while it.valid() {
            back.push(it.key().to_vec());
            it.prev().unwrap();
        }
        back.reverse();
        assert_eq!(back, fwd);
    }

    #[test]
    fn seeks_land_on_bounds() {
        let m = filled();
        let mut it = m.iter();
        it.seek(&key::row_head_key(&[2])).unwrap();
        assert_eq!(
            key::cell_row(key::split_internal_key(it.key()).unwrap().0),
            Some(&[2u8][..])
        );
        it.seek(&[9]).unwrap();
        assert!(!it.valid());
        it.seek_for_prev(&[2, 0xFF]).unwrap();
        let (cell, _, _) = key::split_internal_key(it.key()).unwrap();
        assert_eq!(cell, &key::version_key(&[2], b"c", 10)[..]);
        it.seek_for_prev(&[0]).unwrap();
        assert!(!it.valid());
        // Iterator keeps the memtable alive on its own.
        let mut it = filled().iter();
        it.seek_to_first().unwrap();
        assert_eq!(collect_forward(&mut it).len(), 6);
    }
}
