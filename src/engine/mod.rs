//! The storage engine: a log-structured merge tree written for otsd. One `Engine` per table.
//!
//! It stores cells — (row key, column, version) -> value — as blind writes, plus row and
//! column tombstones, ordered by `key`'s byte encodings. Writes go to the WAL (group commit),
//! then the skiplist memtable; full memtables are flushed to SSTables and compacted by level.
//! Reads merge every source at one snapshot seqno and apply versions, tombstones, TTL and
//! max_versions. The engine never sees HTTP, protobuf or PlainBuffer.

pub mod batch;
pub mod error;
pub mod iter;
pub mod key;
pub mod options;

pub use batch::WriteBatch;
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

/// An open LSM engine for one table. Cheap to share behind an `Arc`; every method is
/// thread-safe. (API fixed; the implementation is owned by the engine-core work.)
pub struct Engine {
    _private: (),
}

/// Rows of a scan, in scan order, read at one snapshot.
pub struct RowIter {
    _private: (),
}

impl Iterator for RowIter {
    type Item = Result<Row>;
    fn next(&mut self) -> Option<Result<Row>> {
        None
    }
}

impl Engine {
    /// Opens or creates the engine in `dir`, replaying the WAL after the last flushed state.
    pub fn open(dir: &std::path::Path, options: Options, data: DataOptions) -> Result<Engine> {
        let _ = (dir, options, data);
        Err(Error::Closed)
    }
    /// Applies `batch` atomically; returns once it is durable per the sync policy.
    /// Returns the seqno of the batch's last record.
    pub fn write(&self, batch: WriteBatch) -> Result<SeqNo> {
        let _ = batch;
        Err(Error::Closed)
    }
    /// The seqno a read started now would see.
    pub fn snapshot_seqno(&self) -> SeqNo {
        0
    }
    /// Reads one row; `None` when it has no visible cell and no row marker.
    pub fn get_row(&self, row: &[u8], read: &ReadOptions) -> Result<Option<Row>> {
        let _ = (row, read);
        Err(Error::Closed)
    }
    /// Scans rows between two encoded bounds (see `Direction`), at one snapshot.
    pub fn scan(&self, start: &[u8], end: &[u8], direction: Direction, read: &ReadOptions) -> Result<RowIter> {
        let _ = (start, end, direction, read);
        Err(Error::Closed)
    }
    /// The table's current TTL and max_versions.
    pub fn data_options(&self) -> DataOptions {
        DataOptions::default()
    }
    /// Changes TTL / max_versions; reads and later compactions use the new values at once.
    pub fn set_data_options(&self, data: DataOptions) {
        let _ = data;
    }
    /// A strictly increasing auto-increment value for `partition` (the encoded first PK
    /// column), never handed out twice, even across crashes.
    pub fn next_auto_increment(&self, partition: &[u8]) -> Result<i64> {
        let _ = partition;
        Err(Error::Closed)
    }
    /// Flushes the memtable to an SSTable and waits for it.
    pub fn flush(&self) -> Result<()> {
        Err(Error::Closed)
    }
    /// Compacts everything down to the last level and waits for it.
    pub fn compact(&self) -> Result<()> {
        Err(Error::Closed)
    }
    /// Flushes, stops background threads and releases files. Later calls fail with `Closed`.
    pub fn close(&self) -> Result<()> {
        Err(Error::Closed)
    }
}
