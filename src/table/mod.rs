//! Tablestore's data model over the engine: instances and tables, schemas, rows, conditions,
//! filters and limits. Speaks rows and cells; knows nothing of HTTP or protobuf framing.

pub mod capacity;
pub mod catalog;
pub mod condition;
pub mod filter;
pub mod limits;
pub mod read;
pub mod row;
pub mod schema;
pub mod value;
pub mod write;

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::engine::Engine;
use crate::error::OtsResult;

pub use catalog::{Catalog, TableMeta};
pub use schema::{TableOptions, TableSchema};

/// Row-lock stripes per table: enough that unrelated rows rarely share one.
const ROW_LOCK_STRIPES: usize = 1024;

/// One open table: its meta, its engine and the row locks that make check-and-write atomic.
pub struct Table {
    instance: String,
    dir: PathBuf,
    schema: TableSchema,
    meta: RwLock<TableMeta>,
    engine: Engine,
    row_locks: Box<[Mutex<()>]>,
}

impl Table {
    /// Wraps an opened engine with its meta.
    pub fn new(instance: String, dir: PathBuf, meta: TableMeta, engine: Engine) -> Table {
        let row_locks = (0..ROW_LOCK_STRIPES).map(|_| Mutex::new(())).collect();
        Table {
            instance,
            dir,
            schema: meta.schema.clone(),
            meta: RwLock::new(meta),
            engine,
            row_locks,
        }
    }

    /// The instance this table belongs to.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.schema.table_name
    }

    /// The table's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Name, primary key and defined columns (never change after creation).
    pub fn schema(&self) -> &TableSchema {
        &self.schema
    }

    /// A copy of the current meta (options, throughput, times).
    pub fn meta(&self) -> TableMeta {
        self.meta.read().clone()
    }

    /// The current options.
    pub fn options(&self) -> TableOptions {
        self.meta.read().options
    }

    /// The table's engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Locks the stripe of `row_key` (an encoded row key) for a check-and-write.
    pub fn lock_row(&self, row_key: &[u8]) -> MutexGuard<'_, ()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        row_key.hash(&mut hasher);
        let index = (hasher.finish() % ROW_LOCK_STRIPES as u64) as usize;
        // The modulo keeps the index in range; `get` keeps it panic-free regardless.
        match self.row_locks.get(index) {
            Some(lock) => lock.lock(),
            None => self.row_locks[0].lock(),
        }
    }

    /// Applies `change` to a copy of the meta, persists it, then publishes it and pushes the
    /// new data options to the engine. Returns the new meta.
    pub fn update_meta(
        &self,
        change: impl FnOnce(&mut TableMeta) -> OtsResult<()>,
    ) -> OtsResult<TableMeta> {
        let mut guard = self.meta.write();
        let mut next = guard.clone();
        change(&mut next)?;
        catalog::persist_meta(&self.dir, &next)?;
        self.engine.set_data_options(next.options.data_options());
        *guard = next.clone();
        Ok(next)
    }
}

#[cfg(test)]
mod tests;
