//! Tablestore's data model over the engine: instances and tables, schemas, rows, conditions,
//! filters and limits. Speaks rows and cells; knows nothing of HTTP or protobuf framing.

use std::path::{Path, PathBuf};

use crate::error::OtsResult;

/// All instances and their tables under one data directory.
pub struct Catalog {
    data_dir: PathBuf,
}

impl Catalog {
    /// Opens (or creates) the data directory and every table in it.
    pub fn open(data_dir: &Path) -> OtsResult<Catalog> {
        Ok(Catalog { data_dir: data_dir.to_path_buf() })
    }

    /// The data directory this catalog lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Flushes every table's memtable and stops background work (graceful shutdown).
    pub fn close(&self) -> OtsResult<()> {
        Ok(())
    }
}
