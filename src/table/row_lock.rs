//! Row locks by exact row key: a check-and-write holds its row's key until its batch is
//! committed. Keyed exactly (not striped) so that two BatchWriteRows conflict only when they
//! really share a row; with stripes, two 100-row batches almost always shared one and ran
//! one fsync after the other.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use parking_lot::{Condvar, Mutex};

/// Shards of the lock table: each a set of held keys and a condvar for its waiters.
const SHARDS: usize = 64;

#[derive(Default)]
struct Shard {
    held: Mutex<HashSet<Vec<u8>>>,
    released: Condvar,
}

/// The set of row keys currently locked in one table.
pub struct RowLocks {
    shards: Box<[Shard]>,
}

impl Default for RowLocks {
    fn default() -> Self {
        RowLocks {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

/// Holds some row keys locked; unlocks them when dropped.
#[must_use = "the rows are unlocked when the guard is dropped"]
pub struct RowGuard<'a> {
    locks: &'a RowLocks,
    keys: Vec<Vec<u8>>,
}

impl RowLocks {
    fn shard(&self, key: &[u8]) -> &Shard {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let index = (hasher.finish() % SHARDS as u64) as usize;
        // In range by the modulo; `get` keeps this panic-free regardless.
        self.shards.get(index).unwrap_or(&self.shards[0])
    }

    /// Locks one row key, waiting while another writer holds it.
    pub fn lock(&self, key: &[u8]) -> RowGuard<'_> {
        self.lock_all(std::iter::once(key))
    }

    /// Locks `key` if no one holds it; `None` instead of waiting.
    pub fn try_lock(&self, key: &[u8]) -> Option<RowGuard<'_>> {
        let shard = self.shard(key);
        let mut held = shard.held.lock();
        if held.contains(key) {
            return None;
        }
        held.insert(key.to_vec());
        Some(RowGuard {
            locks: self,
            keys: vec![key.to_vec()],
        })
    }

    /// Locks every key of `keys` (duplicates allowed) if none is held; `None` instead of
    /// waiting, with nothing taken.
    pub fn try_lock_all<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> Option<RowGuard<'_>> {
        self.acquire(keys, false)
    }

    /// Locks every key of `keys` (duplicates allowed), waiting for holders.
    pub fn lock_all<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> RowGuard<'_> {
        self.acquire(keys, true)
            .unwrap_or_else(|| unreachable!("a waiting acquire takes every key"))
    }

    /// Takes `keys` in sorted order, the one order every caller uses, so two callers cannot
    /// wait on each other in a cycle. A held key is waited for, or (`wait` false) makes the
    /// whole call give up and release what it took.
    fn acquire<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        wait: bool,
    ) -> Option<RowGuard<'_>> {
        let mut keys: Vec<Vec<u8>> = keys.into_iter().map(<[u8]>::to_vec).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut guard = RowGuard {
            locks: self,
            keys: Vec::with_capacity(keys.len()),
        };
        for key in keys {
            let shard = self.shard(&key);
            let mut held = shard.held.lock();
            while held.contains(&key) {
                if !wait {
                    return None; // dropping `guard` unlocks what was taken
                }
                shard.released.wait(&mut held);
            }
            held.insert(key.clone());
            drop(held);
            // Recorded at once: a panic later still unlocks what was taken.
            guard.keys.push(key);
        }
        Some(guard)
    }
}

impl Drop for RowGuard<'_> {
    fn drop(&mut self) {
        for key in self.keys.drain(..) {
            let shard = self.locks.shard(&key);
            let removed = shard.held.lock().remove(&key);
            if removed {
                shard.released.notify_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_locked_key_blocks_only_that_key() {
        let locks = Arc::new(RowLocks::default());
        let g = locks.lock(b"a");
        // Another key is free at once, and locking a set twice over is fine.
        drop(locks.lock_all([&b"b"[..], b"c", b"b"]));
        let entered = Arc::new(AtomicUsize::new(0));
        let t = {
            let (locks, entered) = (Arc::clone(&locks), Arc::clone(&entered));
            std::thread::spawn(move || {
                let _g = locks.lock(b"a");
                entered.fetch_add(1, Ordering::SeqCst);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(entered.load(Ordering::SeqCst), 0, "waits for the holder");
        drop(g);
        t.join().unwrap();
        assert_eq!(entered.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn try_lock_all_takes_every_key_or_none() {
        let locks = RowLocks::default();
        let held = locks.lock(b"b");
        assert!(locks.try_lock_all([&b"a"[..], b"b", b"c"]).is_none());
        // The failed attempt left nothing locked behind it.
        drop(locks.try_lock(b"a").expect("a was released"));
        drop(locks.try_lock(b"c").expect("c was never taken"));
        drop(held);
        let all = locks
            .try_lock_all([&b"c"[..], b"a", b"b", b"a"])
            .expect("all free");
        assert!(locks.try_lock(b"a").is_none() && locks.try_lock(b"c").is_none());
        drop(all);
        drop(
            locks
                .try_lock_all([&b"a"[..], b"b", b"c"])
                .expect("all released"),
        );
    }

    #[test]
    fn overlapping_sets_in_opposite_orders_do_not_deadlock() {
        let locks = Arc::new(RowLocks::default());
        let counter = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|n| {
                let (locks, counter) = (Arc::clone(&locks), Arc::clone(&counter));
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let mut keys: Vec<Vec<u8>> = (0..10u8).map(|k| vec![k]).collect();
                        if n % 2 == 1 {
                            keys.reverse();
                        }
                        let _g = locks.lock_all(keys.iter().map(Vec::as_slice));
                        *counter.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 800);
        assert!(locks.shards.iter().all(|s| s.held.lock().is_empty()));
    }
}
