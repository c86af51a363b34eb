//! `SstIter`: a `KvIter` over one table, walking data blocks through the in-memory index.
//! Owns an `Arc<SstReader>`; the current block is a window of the mmap, so moving between
//! entries allocates nothing.

use std::sync::Arc;

use super::block::BlockIter;
use super::coding::Corrupt;
use super::reader::SstReader;
use crate::engine::error::{Error, Result};
use crate::engine::iter::KvIter;

/// One data block's payload inside the table's mmap (kept alive by the `Arc`).
struct SstBlock {
    reader: Arc<SstReader>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for SstBlock {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.reader
            .bytes()
            .get(self.start..self.end)
            .unwrap_or_default()
    }
}

/// A positioned iterator over one SSTable (see `KvIter` for the protocol). Any corruption
/// met while moving is returned as `Error::Corruption` naming the file, and leaves the
/// iterator invalid.
pub struct SstIter {
    reader: Arc<SstReader>,
    /// Index of the block loaded in `block` (meaningless while `block` is `None`).
    block_idx: usize,
    block: Option<BlockIter<SstBlock>>,
}

impl std::fmt::Debug for SstIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SstIter")
            .field("path", &self.reader.path())
            .field("block", &self.block_idx)
            .field("valid", &self.valid())
            .finish()
    }
}

impl SstIter {
    pub(crate) fn new(reader: Arc<SstReader>) -> SstIter {
        SstIter {
            reader,
            block_idx: 0,
            block: None,
        }
    }

    /// The table this iterator reads.
    pub fn reader(&self) -> &Arc<SstReader> {
        &self.reader
    }

    fn corruption(&self, base: usize, c: Corrupt) -> Error {
        Error::corruption(self.reader.path(), (base + c.offset) as u64, c.what)
    }

    /// Makes block `i` current (cursor position unspecified).
    fn load(&mut self, i: usize) -> Result<()> {
        if self.block.is_some() && self.block_idx == i {
            return Ok(());
        }
        let range = match self.reader.data_block(i) {
            Ok(r) => r,
            Err(e) => {
                self.block = None;
                return Err(e);
            }
        };
        let data = SstBlock {
            reader: Arc::clone(&self.reader),
            start: range.start,
            end: range.end,
        };
        let parsed = match self.block.as_mut() {
            Some(b) => b.reset(data),
            None => BlockIter::new(data).map(|b| self.block = Some(b)),
        };
        if let Err(c) = parsed {
            self.block = None;
            return Err(self.corruption(range.start, c));
        }
        self.block_idx = i;
        Ok(())
    }

    /// Runs a cursor move on the current block, mapping and handling failures.
    fn step(
        &mut self,
        f: impl FnOnce(&mut BlockIter<SstBlock>) -> std::result::Result<(), Corrupt>,
    ) -> Result<bool> {
        let Some(b) = self.block.as_mut() else {
            return Ok(false);
        };
        match f(b) {
            Ok(()) => Ok(b.valid()),
            Err(c) => {
                let base = self.reader_block_start();
                self.block = None;
                Err(self.corruption(base, c))
            }
        }
    }

    fn reader_block_start(&self) -> usize {
        self.block.as_ref().map_or(0, |b| b.data_start())
    }

    /// Positions on the first entry of the first non-empty block at or after `i`.
    fn first_from(&mut self, mut i: usize) -> Result<()> {
        while i < self.reader.num_blocks() {
            self.load(i)?;
            if self.step(|b| b.seek_to_first())? {
                return Ok(());
            }
            i += 1;
        }
        self.block = None;
        Ok(())
    }

    /// Positions on the last entry of the last non-empty block before `end`.
    fn last_before(&mut self, mut end: usize) -> Result<()> {
        while end > 0 {
            end -= 1;
            self.load(end)?;
            if self.step(|b| b.seek_to_last())? {
                return Ok(());
            }
        }
        self.block = None;
        Ok(())
    }
}

impl BlockIter<SstBlock> {
    /// File offset of this block's payload (for error offsets).
    fn data_start(&self) -> usize {
        self.data().start
    }
}

impl KvIter for SstIter {
    #[inline]
    fn valid(&self) -> bool {
        self.block.as_ref().is_some_and(|b| b.valid())
    }

    #[inline]
    fn key(&self) -> &[u8] {
        match &self.block {
            Some(b) => b.key(),
            None => &[],
        }
    }

    #[inline]
    fn value(&self) -> &[u8] {
        match &self.block {
            Some(b) => b.value(),
            None => &[],
        }
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let i = self.reader.find_block(target);
        if i >= self.reader.num_blocks() {
            self.block = None;
            return Ok(());
        }
        self.load(i)?;
        if self.step(|b| b.seek(target))? {
            return Ok(());
        }
        self.first_from(i + 1)
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.first_from(0)
    }

    fn next(&mut self) -> Result<()> {
        if self.step(|b| b.next())? {
            return Ok(());
        }
        if self.block.is_none() {
            return Ok(());
        }
        self.first_from(self.block_idx + 1)
    }

    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        let i = self.reader.find_block(target);
        if i >= self.reader.num_blocks() {
            return self.last_before(i);
        }
        self.load(i)?;
        if self.step(|b| b.seek_for_prev(target))? {
            return Ok(());
        }
        self.last_before(i)
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.last_before(self.reader.num_blocks())
    }

    fn prev(&mut self) -> Result<()> {
        if self.step(|b| b.prev())? {
            return Ok(());
        }
        if self.block.is_none() {
            return Ok(());
        }
        self.last_before(self.block_idx)
    }
}
