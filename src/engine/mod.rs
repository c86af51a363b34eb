//! The storage engine: a log-structured merge tree written for otsd. One `Engine` per table.
//!
//! It stores cells — (row key, column, version) -> value — as blind writes, plus row and
//! column tombstones, ordered by `key`'s byte encodings. Writes go to the WAL (group commit),
//! then the skiplist memtable; full memtables are flushed to SSTables and compacted by level.
//! Reads merge every source at one snapshot seqno and apply versions, tombstones, TTL and
//! max_versions. The engine never sees HTTP, protobuf or PlainBuffer.

pub mod error;
pub mod iter;
pub mod key;
pub mod options;

pub use error::{Error, Result};
pub use key::{PkValue, SeqNo};
pub use options::{Clock, DataOptions, Options, SyncPolicy};

/// One version of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Version timestamp in milliseconds.
    pub version_ms: i64,
    /// The stored value bytes (opaque to the engine).
    pub value: Vec<u8>,
}

/// The visible versions of one column, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name bytes.
    pub name: Vec<u8>,
    /// Visible versions, newest first; never empty in a returned row.
    pub cells: Vec<Cell>,
}

/// A row as a read sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The encoded row key (see `key::encode_row_key`).
    pub key: Vec<u8>,
    /// Visible columns in ascending name order, after the read's projection.
    pub columns: Vec<Column>,
}

/// Scan direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending keys: `start <= key < end`.
    Forward,
    /// Descending keys: `end < key <= start`.
    Backward,
}

/// What a read returns of each row.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// At most this many newest versions per column (further capped by the table's
    /// max_versions). `0` means "the table's max_versions".
    pub max_versions: u32,
    /// Only versions with `start <= version_ms < end`.
    pub time_range: Option<(i64, i64)>,
    /// Only these columns (any order); `None` = all columns.
    pub columns: Option<Vec<Vec<u8>>>,
    /// Only columns with `start_column <= name`.
    pub start_column: Option<Vec<u8>>,
    /// Only columns with `name < end_column`.
    pub end_column: Option<Vec<u8>>,
    /// Read at this snapshot seqno instead of the latest.
    pub snapshot: Option<SeqNo>,
}

pub mod compaction;
pub mod sstable;
pub mod version;
pub mod wal;
