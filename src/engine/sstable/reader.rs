//! `SstReader`: opens a finished table through mmap, verifies footer, index, bloom and
//! properties, keeps the decoded index in memory, and hands out crc-verified data blocks
//! to `SstIter`s.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use memmap2::Mmap;

use super::block::BlockIter;
use super::bloom::{row_hash, Bloom};
use super::coding::{u32_at, Corrupt};
use super::footer::{BlockHandle, Footer, Properties, BLOCK_TRAILER_LEN, FOOTER_LEN};
use super::iter::SstIter;
use super::SstInfo;
use crate::engine::error::{Error, Result};

/// One data block as the index describes it.
#[derive(Debug, Clone)]
struct IndexEntry {
    /// End of this entry's last key in `index_keys` (the start is the previous entry's end).
    key_end: usize,
    /// Payload range in the file (the crc follows it).
    payload: Range<usize>,
}

/// An open, immutable SSTable. `Send + Sync`; share it behind an `Arc`.
///
/// The file must not be modified or truncated while open (tables are immutable once
/// `SstBuilder::finish` returns; the engine deletes them only after the last reader drops).
pub struct SstReader {
    path: PathBuf,
    mmap: Mmap,
    props: Properties,
    bloom: Range<usize>,
    index_keys: Vec<u8>,
    index: Vec<IndexEntry>,
    /// Set once a data block's crc has been checked, so hot blocks are hashed once.
    verified: Vec<AtomicBool>,
}

impl std::fmt::Debug for SstReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SstReader")
            .field("path", &self.path)
            .field("file_size", &self.mmap.len())
            .field("entries", &self.props.entries)
            .field("blocks", &self.index.len())
            .finish()
    }
}

impl SstReader {
    /// Maps the file and checks footer magic/version/crc and the crcs and shapes of the
    /// index, bloom and properties blocks. Damage gives `Error::Corruption`.
    pub fn open(path: &Path) -> Result<SstReader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if file_size < FOOTER_LEN as u64 {
            return Err(Error::corruption(
                path,
                0,
                format!("file of {file_size} bytes is shorter than a table footer"),
            ));
        }
        // SAFETY: tables are immutable once written and are only deleted after every reader
        // has dropped; nothing truncates or rewrites a mapped file.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let footer_at = mmap.len().saturating_sub(FOOTER_LEN);
        let corrupt_at = |base: usize| {
            move |c: Corrupt| Error::corruption(path, (base + c.offset) as u64, c.what)
        };
        let footer = Footer::decode(mmap.get(footer_at..).unwrap_or_default())
            .map_err(corrupt_at(footer_at))?;
        let limit = footer_at as u64;

        let index_payload = checked_block(path, &mmap, footer.index, limit, "index")?;
        let bloom = checked_block(path, &mmap, footer.bloom, limit, "bloom")?;
        let props_payload = checked_block(path, &mmap, footer.props, limit, "properties")?;

        let bloom_base = bloom.start;
        Bloom::parse(mmap.get(bloom.clone()).unwrap_or_default())
            .map_err(corrupt_at(bloom_base))?;
        let props_base = props_payload.start;
        let props = Properties::decode(mmap.get(props_payload).unwrap_or_default())
            .map_err(corrupt_at(props_base))?;

        // Decode the whole index now: a damaged index fails open, and seeks binary-search
        // a plain vector.
        let index_base = index_payload.start;
        let index_bytes = mmap.get(index_payload).unwrap_or_default();
        let mut it = BlockIter::new(index_bytes).map_err(corrupt_at(index_base))?;
        let mut index_keys = Vec::new();
        let mut index: Vec<IndexEntry> = Vec::new();
        let mut last_key_start = 0;
        it.seek_to_first().map_err(corrupt_at(index_base))?;
        while it.valid() {
            let handle = BlockHandle::decode_varint(it.value()).map_err(corrupt_at(index_base))?;
            let Some(payload) = handle.payload_range(limit) else {
                return Err(Error::corruption(
                    path,
                    index_base as u64,
                    format!(
                        "index entry {} points outside the file: offset {} size {}",
                        index.len(),
                        handle.offset,
                        handle.size
                    ),
                ));
            };
            if !index.is_empty() && index_keys.get(last_key_start..).unwrap_or_default() >= it.key()
            {
                return Err(Error::corruption(
                    path,
                    index_base as u64,
                    format!("index keys out of order at entry {}", index.len()),
                ));
            }
            last_key_start = index_keys.len();
            index_keys.extend_from_slice(it.key());
            index.push(IndexEntry {
                key_end: index_keys.len(),
                payload,
            });
            it.next().map_err(corrupt_at(index_base))?;
        }
        let verified = (0..index.len()).map(|_| AtomicBool::new(false)).collect();
        Ok(SstReader {
            path: path.to_path_buf(),
            mmap,
            props,
            bloom,
            index_keys,
            index,
            verified,
        })
    }

    /// False only when no entry of this table belongs to `row` (an encoded row key).
    pub fn may_contain_row(&self, row: &[u8]) -> bool {
        match self.mmap.get(self.bloom.clone()).map(Bloom::parse) {
            Some(Ok(bloom)) => bloom.may_contain(row_hash(row)),
            _ => true,
        }
    }

    /// A new iterator over the whole table (unpositioned).
    pub fn iter(self: &Arc<Self>) -> SstIter {
        SstIter::new(Arc::clone(self))
    }

    /// The file this table was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> u64 {
        self.mmap.len() as u64
    }

    /// Number of records in the table.
    pub fn entries(&self) -> u64 {
        self.props.entries
    }

    /// Smallest internal key (empty for an empty table).
    pub fn smallest(&self) -> &[u8] {
        &self.props.smallest
    }

    /// Largest internal key (empty for an empty table).
    pub fn largest(&self) -> &[u8] {
        &self.props.largest
    }

    /// Smallest seqno of any record.
    pub fn smallest_seqno(&self) -> u64 {
        self.props.smallest_seqno
    }

    /// Largest seqno of any record.
    pub fn largest_seqno(&self) -> u64 {
        self.props.largest_seqno
    }

    /// The same summary `SstBuilder::finish` returned.
    pub fn info(&self) -> SstInfo {
        SstInfo {
            file_size: self.file_size(),
            entries: self.props.entries,
            smallest: self.props.smallest.clone(),
            largest: self.props.largest.clone(),
            smallest_seqno: self.props.smallest_seqno,
            largest_seqno: self.props.largest_seqno,
        }
    }

    /// Number of data blocks.
    pub(crate) fn num_blocks(&self) -> usize {
        self.index.len()
    }

    /// The last key of data block `i`.
    fn index_key(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.index.get(i - 1).map_or(0, |e| e.key_end)
        };
        let end = self.index.get(i).map_or(start, |e| e.key_end);
        self.index_keys.get(start..end).unwrap_or_default()
    }

    /// The first block whose last key is >= `target` (`num_blocks()` if none).
    pub(crate) fn find_block(&self, target: &[u8]) -> usize {
        let (mut lo, mut hi) = (0usize, self.index.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.index_key(mid) < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The payload of data block `i`, crc-checked the first time any iterator loads it.
    pub(crate) fn data_block(&self, i: usize) -> Result<Range<usize>> {
        let Some(entry) = self.index.get(i) else {
            return Err(Error::corruption(
                &self.path,
                0,
                format!("data block {i} does not exist"),
            ));
        };
        let range = entry.payload.clone();
        let verified = self
            .verified
            .get(i)
            .is_some_and(|v| v.load(Ordering::Acquire));
        if !verified {
            verify_crc(&self.path, &self.mmap, &range, "data")?;
            if let Some(v) = self.verified.get(i) {
                v.store(true, Ordering::Release);
            }
        }
        Ok(range)
    }

    /// The mapped file bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.mmap
    }
}

/// Checks a block's crc and returns its payload range.
fn checked_block(
    path: &Path,
    mmap: &[u8],
    handle: BlockHandle,
    limit: u64,
    what: &str,
) -> Result<Range<usize>> {
    let Some(range) = handle.payload_range(limit) else {
        return Err(Error::corruption(
            path,
            limit,
            format!(
                "{what} block handle points outside the file: offset {} size {}",
                handle.offset, handle.size
            ),
        ));
    };
    verify_crc(path, mmap, &range, what)?;
    Ok(range)
}

fn verify_crc(path: &Path, mmap: &[u8], range: &Range<usize>, what: &str) -> Result<()> {
    let at = range.start as u64;
    let payload = mmap
        .get(range.clone())
        .ok_or_else(|| Error::corruption(path, at, format!("{what} block outside the file")))?;
    let stored =
        u32_at(mmap, range.end, "block crc").map_err(|c| Error::corruption(path, at, c.what))?;
    let actual = crc32fast::hash(payload);
    if stored != actual {
        return Err(Error::corruption(
            path,
            at,
            format!("{what} block checksum mismatch (stored {stored:#010x}, computed {actual:#010x}, {} bytes)", payload.len()),
        ));
    }
    debug_assert!(range.end + BLOCK_TRAILER_LEN <= mmap.len());
    Ok(())
}
