//! Sequence numbers pinned by open reads. A scan registers its snapshot seqno here for as
//! long as it lives, so compaction (which asks for `smallest`) keeps every record a live
//! scan may still need.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::key::SeqNo;

/// The multiset of pinned snapshot seqnos.
#[derive(Debug, Default)]
pub struct SnapshotList {
    pinned: Mutex<BTreeMap<SeqNo, usize>>,
}

impl SnapshotList {
    /// An empty list.
    pub fn new() -> Arc<SnapshotList> {
        Arc::new(SnapshotList::default())
    }

    /// Pins `seqno` until the returned guard drops.
    pub fn pin(self: &Arc<Self>, seqno: SeqNo) -> PinnedSnapshot {
        *self.pinned.lock().entry(seqno).or_insert(0) += 1;
        PinnedSnapshot {
            list: Arc::clone(self),
            seqno,
        }
    }

    /// Pins the seqno `current` returns, read while the list is locked: a compaction that
    /// asks for `smallest` afterwards sees the pin, and one that asked before used a seqno no
    /// newer than this one (published seqnos only grow), so no record this snapshot needs
    /// can be dropped in between.
    pub fn pin_current(self: &Arc<Self>, current: impl FnOnce() -> SeqNo) -> PinnedSnapshot {
        let mut pinned = self.pinned.lock();
        let seqno = current();
        *pinned.entry(seqno).or_insert(0) += 1;
        PinnedSnapshot {
            list: Arc::clone(self),
            seqno,
        }
    }

    /// The oldest pinned seqno, or `latest` when nothing is pinned: compaction may drop a
    /// record only if a newer record of its key is visible at this seqno.
    pub fn smallest(&self, latest: SeqNo) -> SeqNo {
        self.pinned
            .lock()
            .keys()
            .next()
            .copied()
            .map_or(latest, |s| s.min(latest))
    }

    /// Number of open pins.
    pub fn len(&self) -> usize {
        self.pinned.lock().values().sum()
    }

    /// True when nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.pinned.lock().is_empty()
    }
}

/// A pinned snapshot; unpins on drop.
#[derive(Debug)]
pub struct PinnedSnapshot {
    list: Arc<SnapshotList>,
    seqno: SeqNo,
}

impl PinnedSnapshot {
    /// The pinned seqno.
    pub fn seqno(&self) -> SeqNo {
        self.seqno
    }
}

impl Drop for PinnedSnapshot {
    fn drop(&mut self) {
        let mut pinned = self.list.pinned.lock();
        if let Some(n) = pinned.get_mut(&self.seqno) {
            *n -= 1;
            if *n == 0 {
                pinned.remove(&self.seqno);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_tracks_the_oldest_live_pin() {
        let list = SnapshotList::new();
        assert_eq!(list.smallest(50), 50);
        let a = list.pin(10);
        let b = list.pin(7);
        let b2 = list.pin(7);
        assert_eq!((list.smallest(50), list.len()), (7, 3));
        drop(b);
        assert_eq!(list.smallest(50), 7);
        drop(b2);
        assert_eq!(list.smallest(50), 10);
        assert_eq!(a.seqno(), 10);
        drop(a);
        assert!(list.is_empty());
        assert_eq!(list.smallest(50), 50);
    }
}
