//! The write-ahead log: one file per memtable (`NNNNNN.wal`), each record one encoded
//! `WriteBatch`. `format` draws the framing, `writer` appends (and runs group commit),
//! `reader` replays on open and cuts a torn or corrupt tail.

pub mod format;
pub mod reader;
pub mod writer;

pub use reader::{replay, ReplayStats};
pub use writer::{CommitQueue, WalWriter};
