//! SSTables: immutable sorted files of (internal key, value) records. `SstBuilder` writes
//! one, `SstReader` opens it through mmap, `SstIter` walks it as a `KvIter`. Which files
//! exist and at which level is the manifest's business, not this module's.
//!
//! ```text
//! file    := data_block* ‖ bloom_block ‖ index_block ‖ props_block ‖ footer
//! block   := payload ‖ crc32(payload): u32 LE            (crc32fast; no compression)
//! handle  := offset ‖ size                               (size excludes the 4-byte crc)
//!
//! data / index payload (LevelDB style, keys prefix-compressed against the previous key):
//!   entry*  ‖ restart: u32 LE × n ‖ n: u32 LE
//!   entry   := shared: varint32 ‖ unshared: varint32 ‖ value_len: varint32
//!              ‖ key[shared..]: unshared bytes ‖ value: value_len bytes
//!   every `restart_interval`-th entry is a restart point: shared = 0, its offset listed.
//!   data block:  key = internal key, value = record value; ~block_size_bytes each
//!   index block: key = last internal key of data block i, value = offset: varint64 ‖ size: varint64
//!
//! bloom payload := bits: ⌈n·bits_per_key/8⌉ bytes (≥ 8) ‖ k: u8 (1..=30)
//!   over the distinct ROW keys (key::cell_row of each cell); probe i sets bit
//!   (h + i·(rotl(h,32)|1)) mod nbits, h = bloom::row_hash(row)
//! props payload := entries: u64 LE ‖ smallest_seqno: u64 LE ‖ largest_seqno: u64 LE
//!                  ‖ len: varint32 ‖ smallest key ‖ len: varint32 ‖ largest key
//! footer (64 bytes) := index handle ‖ bloom handle ‖ props handle   (u64 LE offset, u64 LE size each)
//!                      ‖ format_version: u32 LE (=1) ‖ crc32(previous 52 bytes): u32 LE
//!                      ‖ magic: u64 LE (0x6f747364_53535431)
//! ```
//! These bytes reach disk: bump `FORMAT_VERSION` for any change. Index, bloom, properties
//! and footer are verified on open; a data block's crc when an iterator first loads it.

mod block;
mod bloom;
mod builder;
mod coding;
mod footer;
mod iter;
mod reader;

#[cfg(test)]
mod tests;

pub use builder::SstBuilder;
pub use iter::SstIter;
pub use reader::SstReader;

/// Layout knobs of one table (taken from the engine `Options`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SstOptions {
    /// A data block is cut once its payload reaches this many bytes.
    pub block_size_bytes: usize,
    /// Keys between restart points inside a block.
    pub restart_interval: usize,
    /// Bloom bits per distinct row key; 10 gives about 1 % false positives.
    pub bloom_bits_per_key: usize,
}

impl SstOptions {
    /// The table layout the engine options ask for.
    pub fn from_engine(o: &crate::engine::Options) -> SstOptions {
        SstOptions {
            block_size_bytes: o.block_size_bytes,
            restart_interval: o.block_restart_interval,
            bloom_bits_per_key: o.bloom_bits_per_key,
        }
    }
}

impl Default for SstOptions {
    fn default() -> Self {
        SstOptions {
            block_size_bytes: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
        }
    }
}

/// Summary of a finished table, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SstInfo {
    /// Size of the file in bytes.
    pub file_size: u64,
    /// Number of records.
    pub entries: u64,
    /// Smallest internal key (empty if the table is empty).
    pub smallest: Vec<u8>,
    /// Largest internal key (empty if the table is empty).
    pub largest: Vec<u8>,
    /// Smallest seqno of any record (0 if empty).
    pub smallest_seqno: u64,
    /// Largest seqno of any record (0 if empty).
    pub largest_seqno: u64,
}
