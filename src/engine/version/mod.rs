//! Which SSTables are live, per level, and how that survives restarts: `VersionEdit`s logged
//! to the manifest (`manifest`), replayed into a `VersionSet` whose current `Version` readers
//! share. Building tables is `sstable`'s job; choosing and running compactions is `compaction`'s.

pub mod edit;
pub mod manifest;
pub mod set;

pub use edit::{FileMeta, VersionEdit};
pub use set::{RecoveryInfo, TableFile, TableIter, Version, VersionSet, MANIFEST_ROLL_BYTES};
