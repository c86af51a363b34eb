//! The in-memory write buffer: a lock-free `crossbeam_skiplist` skip list from internal key to
//! value, with approximate size accounting. One memtable is active (taking writes); full ones
//! are sealed and wait in the immutable list for flush.rs. Sealing and switching are the
//! engine's job (mod.rs); this file only stores, sizes and iterates.
//!
//! A memtable only grows: no record is ever removed or replaced (internal keys are unique),
//! so no node is freed before the whole list drops. Iterators rely on that: they walk the
//! list without pinning an epoch or counting references on nodes, which cost an atomic
//! write per step on nodes every reader shares.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_epoch::{self as epoch, Guard};
use crossbeam_skiplist::base::{Entry, SkipList};

use super::batch::BatchRecords;
use super::error::Result;
use super::iter::KvIter;
use super::key::{self, SeqNo};
use super::write_budget::WriteBufferBudget;

/// Bytes charged per entry beyond key and value: skiplist node, tower, the inline key buffer
/// and the value box.
const ENTRY_OVERHEAD_BYTES: usize = 64 + INLINE_KEY_BYTES;

/// Internal keys up to this length live inside the skiplist node itself (typical cell keys
/// are 40-60 bytes), so a search step reads the key from the node it just loaded instead of
/// chasing a second pointer: the profile showed half the insert/lookup time in those misses.
const INLINE_KEY_BYTES: usize = 64;

/// An internal key as the skiplist stores it: inline when short, boxed otherwise. Ordered
/// (and borrowed) as its bytes, so searches take plain `&[u8]` targets.
#[derive(Clone)]
enum MemKey {
    Inline {
        len: u8,
        bytes: [u8; INLINE_KEY_BYTES],
    },
    Heap(Box<[u8]>),
}

impl MemKey {
    fn new(parts: &[&[u8]]) -> MemKey {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total <= INLINE_KEY_BYTES {
            let mut bytes = [0u8; INLINE_KEY_BYTES];
            let mut at = 0;
            for p in parts {
                bytes[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
            // `total <= INLINE_KEY_BYTES < 256`, so the length fits a byte.
            MemKey::Inline {
                len: total as u8,
                bytes,
            }
        } else {
            MemKey::Heap(parts.concat().into_boxed_slice())
        }
    }

    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            MemKey::Inline { len, bytes } => &bytes[..*len as usize],
            MemKey::Heap(b) => b,
        }
    }
}

impl std::borrow::Borrow<[u8]> for MemKey {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for MemKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for MemKey {}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MemKey {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

type Map = SkipList<MemKey, Box<[u8]>>;
type MapEntry = Entry<'static, 'static, MemKey, Box<[u8]>>;

/// The guard iterators walk with: a dummy that pins nothing.
fn walk_guard() -> &'static Guard {
    // SAFETY: an unprotected guard is sound where no node can be freed while it is in use.
    // Memtable nodes are freed only when the list drops (see the module docs: nothing is
    // removed or replaced), and every iterator holds an `Arc` of its memtable.
    unsafe { epoch::unprotected() }
}

/// A skiplist of (internal key -> value) records.
pub struct Memtable {
    map: Map,
    bytes: AtomicUsize,
    max_seqno: AtomicU64,
    wal_number: u64,
    /// The server-wide memtable budget this table's bytes count against.
    budget: Arc<WriteBufferBudget>,
}

impl Drop for Memtable {
    fn drop(&mut self) {
        self.budget.release(self.approximate_bytes());
    }
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
    /// An empty memtable whose records are logged in WAL `wal_number` (or older WALs),
    /// outside any shared budget.
    pub fn new(wal_number: u64) -> Memtable {
        Memtable::with_budget(wal_number, WriteBufferBudget::unlimited())
    }

    /// An empty memtable whose bytes count against `budget` until it drops.
    pub fn with_budget(wal_number: u64, budget: Arc<WriteBufferBudget>) -> Memtable {
        Memtable {
            map: SkipList::new(epoch::default_collector().clone()),
            bytes: AtomicUsize::new(0),
            max_seqno: AtomicU64::new(0),
            wal_number,
            budget,
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
        self.add(MemKey::new(&[&internal_key]), value, &epoch::pin());
        self.charge(charge);
    }

    /// Inserts every record of a decoded batch.
    pub fn apply(&self, batch: &BatchRecords<'_>) {
        let mut max = 0;
        let mut charge = 0;
        let guard = &epoch::pin();
        for r in batch.records() {
            let ikey = MemKey::new(&[r.cell_key, &key::trailer(r.seqno, r.kind)]);
            charge += r.cell_key.len() + key::TRAILER_LEN + r.value.len() + ENTRY_OVERHEAD_BYTES;
            max = max.max(r.seqno);
            self.add(ikey, r.value.into(), guard);
        }
        self.max_seqno.fetch_max(max, Ordering::Relaxed);
        self.charge(charge);
    }

    /// Links one record in. `get_or_insert` never unlinks a node (a plain insert would
    /// replace an equal key, freeing a node under the iterators); internal keys are unique,
    /// so the record is always new.
    fn add(&self, ikey: MemKey, value: Box<[u8]>, guard: &Guard) {
        let entry = self.map.get_or_insert(ikey, value, guard);
        entry.release(guard);
    }

    fn charge(&self, bytes: usize) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.budget.charge(bytes);
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

// SAFETY: what keeps an `Entry` from being `Send` is its `&Guard`; ours is the unprotected
// dummy, which has no thread-local state and is never used to pin or defer. The rest of an
// entry is shared references into a `Sync` skip list kept alive by `table`.
unsafe impl Send for MemtableIter {}

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
        self.current
            .as_ref()
            .map(|e| e.key().as_slice())
            .unwrap_or(&[])
    }
    fn value(&self) -> &[u8] {
        self.current.as_ref().map(|e| &e.value()[..]).unwrap_or(&[])
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.current = self
            .map()
            .lower_bound(Bound::Included(target), walk_guard());
        Ok(())
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.current = self.map().front(walk_guard());
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
        self.current = self
            .map()
            .upper_bound(Bound::Included(target), walk_guard());
        Ok(())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.current = self.map().back(walk_guard());
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

    #[test]
    fn bytes_count_against_the_shared_budget_until_the_memtable_drops() {
        let budget = WriteBufferBudget::new(1);
        let a = Memtable::with_budget(1, Arc::clone(&budget));
        let b = Memtable::with_budget(2, Arc::clone(&budget));
        a.insert(
            key::make_internal_key(vec![1], 1, Kind::Put).into_boxed_slice(),
            Box::new([1]),
        );
        b.insert(
            key::make_internal_key(vec![2], 2, Kind::Put).into_boxed_slice(),
            Box::new([2, 2]),
        );
        assert_eq!(budget.used(), a.approximate_bytes() + b.approximate_bytes());
        assert!(budget.is_over());
        drop(a);
        assert_eq!(budget.used(), b.approximate_bytes());
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn iterators_walk_safely_while_other_threads_insert() {
        let m = Arc::new(Memtable::new(1));
        let writers: Vec<_> = (0..2u64)
            .map(|w| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for i in 0..20_000u64 {
                        let seqno = i * 2 + w + 1;
                        let cell = key::row_head_key(&(i % 500).to_be_bytes());
                        let full = key::make_internal_key(cell, seqno, Kind::Put);
                        m.insert(full.into_boxed_slice(), Box::new([w as u8]));
                    }
                })
            })
            .collect();
        // Every walk sees a sorted list that only grows, and never a record twice.
        let walk = || {
            let mut it = m.iter();
            it.seek_to_first().unwrap();
            let keys = collect_forward(&mut it);
            assert!(keys.windows(2).all(|w| w[0] < w[1]));
            keys.len()
        };
        let mut seen = 0;
        while !writers.iter().all(|w| w.is_finished()) {
            let now = walk();
            assert!(now >= seen);
            seen = now;
        }
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!((walk(), m.len()), (40_000, 40_000));
    }

    #[test]
    fn inline_and_boxed_keys_order_by_their_bytes() {
        let m = Arc::new(Memtable::new(1));
        let long = vec![5u8; INLINE_KEY_BYTES + 10];
        let keys: Vec<Vec<u8>> = vec![
            long.clone(),
            vec![5u8; INLINE_KEY_BYTES],
            vec![5u8; 3],
            vec![],
            [&long[..], &[0]].concat(),
            vec![6u8],
        ];
        for k in &keys {
            let full = key::make_internal_key(k.clone(), 1, Kind::Put);
            m.insert(full.into_boxed_slice(), k.clone().into_boxed_slice());
        }
        let mut it = m.iter();
        it.seek_to_first().unwrap();
        let got = collect_forward(&mut it);
        let mut want: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| key::make_internal_key(k.clone(), 1, Kind::Put))
            .collect();
        want.sort();
        assert_eq!(got, want);
        it.seek(&want[3]).unwrap();
        assert_eq!(it.key(), &want[3][..]);
        assert_eq!(it.value().len(), want[3].len() - key::TRAILER_LEN);
    }
}
