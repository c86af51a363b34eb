//! Iterators built from other iterators: `MergeIter` (k-way merge of memtables, L0 files and
//! levels into one internal-key order) and `LevelIter` (the sorted, non-overlapping files of
//! one level, opening one file at a time). `VecIter` is an in-memory source for tests and
//! small sorted runs. Visibility (seqnos, tombstones) is decided by the readers above.

use std::cmp::Ordering;
use std::sync::Arc;

use super::error::Result;
use super::iter::KvIter;

/// A boxed child iterator as the merge holds it.
pub type BoxedIter = Box<dyn KvIter + Send>;

/// Merges many iterators into one internal-key order, forward or backward.
///
/// Children earlier in the vector are newer: on exactly equal internal keys (which unique
/// seqnos should prevent) the earlier child is yielded first. The direction is fixed by the
/// last positioning call (`seek*` forward, `seek_for_prev` / `seek_to_last` backward).
pub struct MergeIter {
    children: Vec<BoxedIter>,
    /// Indices of valid children, a binary heap whose top is the current record.
    heap: Vec<usize>,
    forward: bool,
}

impl MergeIter {
    /// A merge over `children`, newest first. Unpositioned until a seek.
    pub fn new(children: Vec<BoxedIter>) -> MergeIter {
        MergeIter {
            children,
            heap: Vec::new(),
            forward: true,
        }
    }

    /// A forward merge over `children` (newest first) that are already positioned, each at
    /// its first record at or after one common key.
    pub fn positioned(children: Vec<BoxedIter>) -> MergeIter {
        let mut merge = MergeIter::new(children);
        merge.rebuild(true);
        merge
    }

    /// Number of child iterators.
    pub fn num_children(&self) -> usize {
        self.children.len()
    }

    /// Rebuilds the heap from every valid child after a positioning call.
    fn rebuild(&mut self, forward: bool) {
        self.forward = forward;
        self.heap.clear();
        self.heap
            .extend((0..self.children.len()).filter(|&i| self.children[i].valid()));
        for pos in (0..self.heap.len() / 2).rev() {
            sift_down(&mut self.heap, &self.children, forward, pos);
        }
    }

    /// Positions every child with `f`; on error the merge becomes invalid.
    fn position_all(
        &mut self,
        forward: bool,
        mut f: impl FnMut(&mut BoxedIter) -> Result<()>,
    ) -> Result<()> {
        self.heap.clear();
        for child in &mut self.children {
            f(child)?;
        }
        self.rebuild(forward);
        Ok(())
    }

    /// Moves the top child one step with `step`, then restores the heap.
    fn step_top(&mut self, step: impl FnOnce(&mut BoxedIter) -> Result<()>) -> Result<()> {
        let Some(&top) = self.heap.first() else {
            return Ok(());
        };
        if let Err(e) = step(&mut self.children[top]) {
            self.heap.clear();
            return Err(e);
        }
        if !self.children[top].valid() {
            let last = self.heap.len() - 1;
            self.heap.swap(0, last);
            self.heap.pop();
        }
        sift_down(&mut self.heap, &self.children, self.forward, 0);
        Ok(())
    }
}

/// True when child `a` must come out before child `b` in the given direction.
fn before(children: &[BoxedIter], forward: bool, a: usize, b: usize) -> bool {
    let ord = children[a].key().cmp(children[b].key());
    let ord = if forward { ord } else { ord.reverse() };
    ord.then(a.cmp(&b)) == Ordering::Less
}

fn sift_down(heap: &mut [usize], children: &[BoxedIter], forward: bool, mut pos: usize) {
    loop {
        let left = 2 * pos + 1;
        if left >= heap.len() {
            return;
        }
        let right = left + 1;
        let mut best = left;
        if right < heap.len() && before(children, forward, heap[right], heap[left]) {
            best = right;
        }
        if !before(children, forward, heap[best], heap[pos]) {
            return;
        }
        heap.swap(pos, best);
        pos = best;
    }
}

impl KvIter for MergeIter {
    fn valid(&self) -> bool {
        !self.heap.is_empty()
    }
    fn key(&self) -> &[u8] {
        self.children[self.heap[0]].key()
    }
    fn value(&self) -> &[u8] {
        self.children[self.heap[0]].value()
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.position_all(true, |c| c.seek(target))
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.position_all(true, |c| c.seek_to_first())
    }
    fn next(&mut self) -> Result<()> {
        debug_assert!(self.forward, "next() on a backward MergeIter");
        self.step_top(|c| c.next())
    }
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.position_all(false, |c| c.seek_for_prev(target))
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.position_all(false, |c| c.seek_to_last())
    }
    fn prev(&mut self) -> Result<()> {
        debug_assert!(!self.forward, "prev() on a forward MergeIter");
        self.step_top(|c| c.prev())
    }
}

/// A table that can sit in a level: its key bounds and a way to walk it.
pub trait LevelTable: Send + Sync {
    /// Smallest internal key in the table.
    fn smallest(&self) -> &[u8];
    /// Largest internal key in the table.
    fn largest(&self) -> &[u8];
    /// A fresh, unpositioned iterator over the table.
    fn open_iter(&self) -> Result<BoxedIter>;
}

/// Walks the sorted, non-overlapping tables of one level as one iterator, keeping only the
/// current table's iterator open. Finds tables by binary search on their bounds.
pub struct LevelIter<T: LevelTable> {
    tables: Vec<Arc<T>>,
    /// Index of the table `current` walks (meaningless while `current` is `None`).
    index: usize,
    current: Option<BoxedIter>,
}

impl<T: LevelTable> LevelIter<T> {
    /// A level iterator over `tables`, which must be sorted by key and non-overlapping.
    pub fn new(tables: Vec<Arc<T>>) -> LevelIter<T> {
        LevelIter {
            tables,
            index: 0,
            current: None,
        }
    }

    /// Opens table `index` (reusing the open one) and returns its iterator.
    fn open(&mut self, index: usize) -> Result<&mut BoxedIter> {
        if self.index != index {
            self.current = None;
        }
        let iter = match self.current.take() {
            Some(iter) => iter,
            None => {
                let iter = self.tables[index].open_iter()?;
                self.index = index;
                iter
            }
        };
        Ok(self.current.insert(iter))
    }

    /// Moves to the first record of the tables from `index` on, skipping empty ones.
    fn skip_forward(&mut self, mut index: usize) -> Result<()> {
        while let Some(iter) = &self.current {
            if iter.valid() {
                return Ok(());
            }
            index += 1;
            if index >= self.tables.len() {
                self.current = None;
                return Ok(());
            }
            self.open(index)?.seek_to_first()?;
        }
        Ok(())
    }

    /// Moves to the last record of the tables up to `index`, skipping empty ones.
    fn skip_backward(&mut self, mut index: usize) -> Result<()> {
        while let Some(iter) = &self.current {
            if iter.valid() {
                return Ok(());
            }
            if index == 0 {
                self.current = None;
                return Ok(());
            }
            index -= 1;
            self.open(index)?.seek_to_last()?;
        }
        Ok(())
    }

    fn guard<R>(&mut self, result: Result<R>) -> Result<R> {
        if result.is_err() {
            self.current = None;
        }
        result
    }
}

impl<T: LevelTable> KvIter for LevelIter<T> {
    fn valid(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.valid())
    }
    fn key(&self) -> &[u8] {
        match &self.current {
            Some(c) => c.key(),
            None => &[],
        }
    }
    fn value(&self) -> &[u8] {
        match &self.current {
            Some(c) => c.value(),
            None => &[],
        }
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        // First table whose largest key is >= target: every earlier table ends before it.
        let index = self.tables.partition_point(|t| t.largest() < target);
        if index >= self.tables.len() {
            self.current = None;
            return Ok(());
        }
        let r = self.open(index).and_then(|it| it.seek(target));
        let r = r.and_then(|()| self.skip_forward(index));
        self.guard(r)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        if self.tables.is_empty() {
            self.current = None;
            return Ok(());
        }
        let r = self.open(0).and_then(|it| it.seek_to_first());
        let r = r.and_then(|()| self.skip_forward(0));
        self.guard(r)
    }
    fn next(&mut self) -> Result<()> {
        let index = self.index;
        let r = match self.current.as_mut() {
            Some(it) => it.next(),
            None => return Ok(()),
        };
        let r = r.and_then(|()| self.skip_forward(index));
        self.guard(r)
    }
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        // Last table whose smallest key is <= target: every later table starts after it.
        let count = self.tables.partition_point(|t| t.smallest() <= target);
        if count == 0 {
            self.current = None;
            return Ok(());
        }
        let index = count - 1;
        let r = self.open(index).and_then(|it| it.seek_for_prev(target));
        let r = r.and_then(|()| self.skip_backward(index));
        self.guard(r)
    }
    fn seek_to_last(&mut self) -> Result<()> {
        let Some(index) = self.tables.len().checked_sub(1) else {
            self.current = None;
            return Ok(());
        };
        let r = self.open(index).and_then(|it| it.seek_to_last());
        let r = r.and_then(|()| self.skip_backward(index));
        self.guard(r)
    }
    fn prev(&mut self) -> Result<()> {
        let index = self.index;
        let r = match self.current.as_mut() {
            Some(it) => it.prev(),
            None => return Ok(()),
        };
        let r = r.and_then(|()| self.skip_backward(index));
        self.guard(r)
    }
}

/// An iterator over an in-memory, sorted vector of (internal key, value) records.
#[derive(Debug, Clone)]
pub struct VecIter {
    records: Arc<Vec<(Vec<u8>, Vec<u8>)>>,
    /// Position; `records.len()` means invalid.
    pos: usize,
}

impl VecIter {
    /// Iterates `records`, which are sorted here by key (duplicates are the caller's problem).
    pub fn new(mut records: Vec<(Vec<u8>, Vec<u8>)>) -> VecIter {
        records.sort_by(|a, b| a.0.cmp(&b.0));
        let pos = records.len();
        VecIter {
            records: Arc::new(records),
            pos,
        }
    }

    /// Iterates records shared with other iterators (must already be sorted by key).
    pub fn from_shared(records: Arc<Vec<(Vec<u8>, Vec<u8>)>>) -> VecIter {
        let pos = records.len();
        VecIter { records, pos }
    }
}

impl KvIter for VecIter {
    fn valid(&self) -> bool {
        self.pos < self.records.len()
    }
    fn key(&self) -> &[u8] {
        self.records.get(self.pos).map_or(&[], |r| &r.0)
    }
    fn value(&self) -> &[u8] {
        self.records.get(self.pos).map_or(&[], |r| &r.1)
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.pos = self.records.partition_point(|r| r.0.as_slice() < target);
        Ok(())
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.pos = 0;
        Ok(())
    }
    fn next(&mut self) -> Result<()> {
        if self.valid() {
            self.pos += 1;
        }
        Ok(())
    }
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        let count = self.records.partition_point(|r| r.0.as_slice() <= target);
        self.pos = count.checked_sub(1).unwrap_or(self.records.len());
        Ok(())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.pos = self.records.len().saturating_sub(1);
        Ok(())
    }
    fn prev(&mut self) -> Result<()> {
        self.pos = self.pos.checked_sub(1).unwrap_or(self.records.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::error::Error;
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

    fn rec(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    fn boxed(records: &[(&str, &str)]) -> BoxedIter {
        Box::new(VecIter::new(
            records.iter().map(|(k, v)| rec(k, v)).collect(),
        ))
    }

    fn forward(it: &mut dyn KvIter) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while it.valid() {
            out.push((
                String::from_utf8_lossy(it.key()).into_owned(),
                String::from_utf8_lossy(it.value()).into_owned(),
            ));
            it.next().unwrap();
        }
        out
    }

    fn backward(it: &mut dyn KvIter) -> Vec<String> {
        let mut out = Vec::new();
        while it.valid() {
            out.push(String::from_utf8_lossy(it.key()).into_owned());
            it.prev().unwrap();
        }
        out
    }

    fn keys(v: &[(String, String)]) -> Vec<&str> {
        v.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn vec_iter_seeks_both_ways() {
        let mut it = VecIter::new(vec![rec("b", "1"), rec("d", "2"), rec("a", "0")]);
        assert!(!it.valid());
        it.seek(b"c").unwrap();
        assert_eq!(it.key(), b"d");
        it.seek(b"e").unwrap();
        assert!(!it.valid());
        it.seek_for_prev(b"c").unwrap();
        assert_eq!(it.key(), b"b");
        it.seek_for_prev(b"0").unwrap();
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        assert_eq!(backward(&mut it), ["d", "b", "a"]);
    }

    #[test]
    fn merge_interleaves_children_in_key_order_both_ways() {
        let mut m = MergeIter::new(vec![
            boxed(&[("a", "0"), ("d", "0"), ("g", "0")]),
            boxed(&[]),
            boxed(&[("b", "1"), ("e", "1")]),
            boxed(&[("c", "2"), ("f", "2"), ("h", "2")]),
        ]);
        m.seek_to_first().unwrap();
        let all = forward(&mut m);
        assert_eq!(keys(&all), ["a", "b", "c", "d", "e", "f", "g", "h"]);
        m.seek(b"cc").unwrap();
        assert_eq!(keys(&forward(&mut m)), ["d", "e", "f", "g", "h"]);
        m.seek_to_last().unwrap();
        assert_eq!(backward(&mut m), ["h", "g", "f", "e", "d", "c", "b", "a"]);
        m.seek_for_prev(b"ee").unwrap();
        assert_eq!(backward(&mut m), ["e", "d", "c", "b", "a"]);
        m.seek_for_prev(b"e").unwrap();
        assert_eq!(m.key(), b"e");
        // Switching back to forward after backward repositions every child.
        m.seek(b"b").unwrap();
        assert_eq!(keys(&forward(&mut m)), ["b", "c", "d", "e", "f", "g", "h"]);
    }

    #[test]
    fn merge_prefers_the_earlier_child_on_equal_keys() {
        let mut m = MergeIter::new(vec![
            boxed(&[("k", "newest")]),
            boxed(&[("k", "middle"), ("z", "z")]),
            boxed(&[("k", "oldest")]),
        ]);
        m.seek_to_first().unwrap();
        let values: Vec<String> = forward(&mut m).into_iter().map(|(_, v)| v).collect();
        assert_eq!(values, ["newest", "middle", "oldest", "z"]);
        m.seek_for_prev(b"k").unwrap();
        assert_eq!(m.value(), b"newest");
    }

    #[test]
    fn merge_matches_a_sorted_union_for_many_children() {
        // Deterministic pseudo-random keys spread over 9 children.
        let mut state = 12345u64;
        let mut children = Vec::new();
        let mut all = Vec::new();
        for c in 0..9 {
            let mut recs = Vec::new();
            for _ in 0..50 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let k = format!("{:08}-{c}", (state >> 33) % 100_000);
                recs.push((k.clone().into_bytes(), vec![c as u8]));
                all.push(k);
            }
            children.push(Box::new(VecIter::new(recs)) as BoxedIter);
        }
        all.sort();
        all.dedup();
        let mut m = MergeIter::new(children);
        m.seek_to_first().unwrap();
        let got: Vec<String> = forward(&mut m).into_iter().map(|(k, _)| k).collect();
        assert_eq!(got, all);
        m.seek_to_last().unwrap();
        let mut rev = backward(&mut m);
        rev.reverse();
        assert_eq!(rev, all);
    }

    /// A level table over a vector that counts how often it is opened.
    struct MemTable {
        records: Arc<Vec<(Vec<u8>, Vec<u8>)>>,
        opens: Arc<AtomicUsize>,
        fail: bool,
    }

    impl LevelTable for MemTable {
        fn smallest(&self) -> &[u8] {
            self.records.first().map_or(&[], |r| &r.0)
        }
        fn largest(&self) -> &[u8] {
            self.records.last().map_or(&[], |r| &r.0)
        }
        fn open_iter(&self) -> Result<BoxedIter> {
            self.opens.fetch_add(1, AtomicOrdering::SeqCst);
            if self.fail {
                return Err(Error::corruption("mem", 0, "injected"));
            }
            Ok(Box::new(VecIter::from_shared(self.records.clone())))
        }
    }

    fn level(tables: &[&[&str]], opens: &Arc<AtomicUsize>) -> Vec<Arc<MemTable>> {
        tables
            .iter()
            .map(|keys| {
                Arc::new(MemTable {
                    records: Arc::new(keys.iter().map(|k| rec(k, "v")).collect()),
                    opens: opens.clone(),
                    fail: false,
                })
            })
            .collect()
    }

    #[test]
    fn level_iter_walks_tables_in_order_both_ways() {
        let opens = Arc::new(AtomicUsize::new(0));
        let tables = level(&[&["b", "c"], &["e"], &["g", "h", "i"]], &opens);
        let mut it = LevelIter::new(tables);
        it.seek_to_first().unwrap();
        assert_eq!(keys(&forward(&mut it)), ["b", "c", "e", "g", "h", "i"]);
        it.seek(b"d").unwrap();
        assert_eq!(it.key(), b"e");
        it.seek(b"a").unwrap();
        assert_eq!(it.key(), b"b");
        it.seek(b"j").unwrap();
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        assert_eq!(backward(&mut it), ["i", "h", "g", "e", "c", "b"]);
        it.seek_for_prev(b"f").unwrap();
        assert_eq!(it.key(), b"e");
        it.seek_for_prev(b"d").unwrap();
        assert_eq!(backward(&mut it), ["c", "b"]);
        it.seek_for_prev(b"a").unwrap();
        assert!(!it.valid());
    }

    #[test]
    fn level_iter_opens_only_the_tables_it_visits() {
        let opens = Arc::new(AtomicUsize::new(0));
        let tables = level(&[&["a"], &["c"], &["e"], &["g"]], &opens);
        let mut it = LevelIter::new(tables);
        it.seek(b"e").unwrap();
        assert_eq!(it.key(), b"e");
        assert_eq!(opens.load(AtomicOrdering::SeqCst), 1);
        it.seek(b"e").unwrap();
        assert_eq!(
            opens.load(AtomicOrdering::SeqCst),
            1,
            "same table is reused"
        );
    }

    #[test]
    fn level_iter_reports_open_failures_and_becomes_invalid() {
        let opens = Arc::new(AtomicUsize::new(0));
        let mut tables = level(&[&["a"]], &opens);
        tables.push(Arc::new(MemTable {
            records: Arc::new(vec![rec("z", "v")]),
            opens,
            fail: true,
        }));
        let mut it = LevelIter::new(tables);
        it.seek_to_first().unwrap();
        assert_eq!(it.key(), b"a");
        assert!(it.next().is_err());
        assert!(!it.valid());
    }

    #[test]
    fn merge_of_levels_and_vectors() {
        let opens = Arc::new(AtomicUsize::new(0));
        let l1 = LevelIter::new(level(&[&["b", "d"], &["f"]], &opens));
        let mut m = MergeIter::new(vec![boxed(&[("a", "m"), ("e", "m")]), Box::new(l1)]);
        m.seek(b"c").unwrap();
        assert_eq!(keys(&forward(&mut m)), ["d", "e", "f"]);
        m.seek_to_last().unwrap();
        assert_eq!(backward(&mut m), ["f", "e", "d", "b", "a"]);
    }
}
