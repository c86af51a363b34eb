//! A memory budget for memtables shared by every engine of a server: each table's memtable
//! is sealed at its own size limit, but many tables written at once could otherwise hold
//! that limit (plus the sealed memtables waiting for flush) each. When the shared total
//! passes the budget, engines seal early (see `flush::make_room` and the background loop)
//! so flushes bring memory back under it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes held by the memtables of every engine sharing this budget, against a limit.
#[derive(Debug)]
pub struct WriteBufferBudget {
    limit: usize,
    used: AtomicUsize,
}

impl WriteBufferBudget {
    /// A budget of `limit_bytes`, shared by cloning the `Arc`.
    pub fn new(limit_bytes: usize) -> Arc<WriteBufferBudget> {
        Arc::new(WriteBufferBudget {
            limit: limit_bytes,
            used: AtomicUsize::new(0),
        })
    }

    /// A budget that never asks for an early seal (one engine alone, tests).
    pub fn unlimited() -> Arc<WriteBufferBudget> {
        WriteBufferBudget::new(usize::MAX)
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes currently charged.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// True when the memtables hold more than the limit.
    pub fn is_over(&self) -> bool {
        self.used() > self.limit
    }

    /// Charges `bytes` inserted into some memtable.
    pub fn charge(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Releases the `bytes` of a memtable that was dropped.
    pub fn release(&self, bytes: usize) {
        // Saturating: a release never exceeds what its memtable charged, but stay safe.
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(bytes))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_and_releases_against_the_limit() {
        let b = WriteBufferBudget::new(100);
        b.charge(60);
        assert!(!b.is_over());
        b.charge(60);
        assert!(b.is_over());
        assert_eq!(b.used(), 120);
        b.release(60);
        assert!(!b.is_over());
        b.release(1000);
        assert_eq!(b.used(), 0);
        assert!(!WriteBufferBudget::unlimited().is_over());
    }
}
