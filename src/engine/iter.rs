//! The engine's iterator trait over internal keys, shared by memtables, SSTables and the
//! merge/level iterators. An iterator walks in one direction for its whole life:
//! forward (`seek` / `seek_to_first` + `next`) or backward (`seek_for_prev` / `seek_to_last` + `prev`).

use super::error::Result;

/// A fallible, positioned iterator over (internal key, value) records in internal-key order.
pub trait KvIter {
    /// True while positioned on a record.
    fn valid(&self) -> bool;
    /// The current internal key. Only call while `valid()`.
    fn key(&self) -> &[u8];
    /// The current value. Only call while `valid()`.
    fn value(&self) -> &[u8];
    /// Positions on the first record with key >= `target` (forward mode).
    fn seek(&mut self, target: &[u8]) -> Result<()>;
    /// Positions on the first record (forward mode).
    fn seek_to_first(&mut self) -> Result<()>;
    /// Advances forward. Only call while `valid()`.
    fn next(&mut self) -> Result<()>;
    /// Positions on the last record with key <= `target` (backward mode).
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()>;
    /// Positions on the last record (backward mode).
    fn seek_to_last(&mut self) -> Result<()>;
    /// Moves backward. Only call while `valid()`.
    fn prev(&mut self) -> Result<()>;
}

/// Boxed iterators are iterators too, so merge iterators can hold mixed sources.
impl<T: KvIter + ?Sized> KvIter for Box<T> {
    fn valid(&self) -> bool {
        (**self).valid()
    }
    fn key(&self) -> &[u8] {
        (**self).key()
    }
    fn value(&self) -> &[u8] {
        (**self).value()
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        (**self).seek(target)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        (**self).seek_to_first()
    }
    fn next(&mut self) -> Result<()> {
        (**self).next()
    }
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        (**self).seek_for_prev(target)
    }
    fn seek_to_last(&mut self) -> Result<()> {
        (**self).seek_to_last()
    }
    fn prev(&mut self) -> Result<()> {
        (**self).prev()
    }
}
