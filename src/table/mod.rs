//! Tablestore's data model over the engine: instances and tables, schemas, rows, conditions,
//! filters and limits. Speaks rows and cells; knows nothing of HTTP or protobuf framing.

pub mod capacity;
pub mod catalog;
pub mod condition;
pub mod filter;
pub mod index;
mod index_data;
pub mod limits;
pub mod read;
pub mod row;
pub mod row_lock;
pub mod schema;
pub mod transaction;
pub mod value;
pub mod write;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::engine::{Engine, PkValue};
use crate::error::OtsResult;
use index::{Index, IndexMeta};
use row_lock::{RowGuard, RowLocks};
use transaction::Transaction;

pub use catalog::{Catalog, TableMeta};
pub use schema::{TableOptions, TableSchema};

/// Partition gates per table: writers outside transactions share a gate, a transaction's
/// start and commit take it exclusively.
const PARTITION_GATE_STRIPES: usize = 256;

/// Wall-clock milliseconds since the Unix epoch: the version of cells written without an
/// explicit timestamp and the "now" of TTL checks (0 before the epoch, saturating far after).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn stripe(bytes: &[u8], stripes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    (hasher.finish() % stripes as u64) as usize
}

/// One open table: its meta, its engine and the row locks that make check-and-write atomic.
///
/// A secondary index is a `Table` too, read-only, over its base table's engine: its rows
/// live there under `key_prefix` (see `index`).
pub struct Table {
    instance: String,
    dir: PathBuf,
    schema: TableSchema,
    meta: RwLock<TableMeta>,
    engine: Arc<Engine>,
    /// Prepended to every row key this table encodes: empty for a base table.
    key_prefix: Vec<u8>,
    /// For an index, the name of its base table.
    index_of: Option<String>,
    /// A base table's indexes. Writers hold it shared from staging a row to its commit, so
    /// an index is created or dropped between writes, never in the middle of one.
    indexes: RwLock<Arc<Vec<Index>>>,
    row_locks: RowLocks,
    partition_gates: Box<[RwLock<()>]>,
    // Encoded partition key -> the transaction holding it.
    held: Mutex<HashMap<Vec<u8>, Arc<Transaction>>>,
}

impl Table {
    /// Wraps an opened engine with its meta.
    pub fn new(instance: String, dir: PathBuf, meta: TableMeta, engine: Engine) -> Table {
        Table {
            instance,
            dir,
            schema: meta.schema.clone(),
            indexes: RwLock::new(Arc::new(
                meta.indexes
                    .iter()
                    .map(|i| Index::new(i.clone(), &meta.schema))
                    .collect(),
            )),
            meta: RwLock::new(meta),
            engine: Arc::new(engine),
            key_prefix: Vec::new(),
            index_of: None,
            row_locks: RowLocks::default(),
            partition_gates: (0..PARTITION_GATE_STRIPES)
                .map(|_| RwLock::new(()))
                .collect(),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// The read-only table of `index`, one of this table's indexes, over this table's engine.
    pub fn index_table(&self, index: &IndexMeta) -> Table {
        let base = self.meta();
        let meta = TableMeta {
            schema: index.schema(&base.schema),
            indexes: Vec::new(),
            next_index_id: 0,
            reserved: Default::default(),
            ..base
        };
        Table {
            instance: self.instance.clone(),
            dir: self.dir.clone(),
            schema: meta.schema.clone(),
            meta: RwLock::new(meta),
            engine: Arc::clone(&self.engine),
            key_prefix: index.key_prefix(),
            index_of: Some(self.name().to_string()),
            indexes: RwLock::new(Arc::new(Vec::new())),
            row_locks: RowLocks::default(),
            partition_gates: Box::new([RwLock::new(())]),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// For an index table, the name of its base table.
    pub fn index_of(&self) -> Option<&str> {
        self.index_of.as_deref()
    }

    /// The current secondary indexes of a base table.
    pub fn indexes(&self) -> Arc<Vec<Index>> {
        Arc::clone(&self.indexes.read())
    }

    /// The engine key of the row `values` (with an index's key-space prefix).
    fn row_key<'a>(&self, values: impl IntoIterator<Item = &'a PkValue>) -> Vec<u8> {
        let mut row_key = self.key_prefix.clone();
        row_key.extend(crate::engine::key::encode_row_key(values));
        row_key
    }

    /// Errors with 400 when this table is an index: only its base table's writes change it.
    fn check_writable(&self) -> OtsResult<()> {
        match &self.index_of {
            None => Ok(()),
            Some(base) => Err(crate::error::OtsError::param(format!(
                "'{}' is an index table and cannot be written; write to its table '{base}'.",
                self.name()
            ))),
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

    /// Name and primary key (fixed at creation), used by every row operation. Its defined
    /// columns are those of the creation: AddDefinedColumn and DeleteDefinedColumn change the
    /// meta's copy (`meta().schema`), which DescribeTable reports.
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

    /// Locks `row_key` (an encoded row key) for a check-and-write.
    pub fn lock_row(&self, row_key: &[u8]) -> RowGuard<'_> {
        self.row_locks.lock(row_key)
    }

    fn gate(&self, partition_key: &[u8]) -> &RwLock<()> {
        let index = stripe(partition_key, PARTITION_GATE_STRIPES);
        self.partition_gates
            .get(index)
            .unwrap_or(&self.partition_gates[0])
    }

    /// The live transaction holding `partition_key`, forgetting a finished or expired one.
    fn holder(&self, partition_key: &[u8]) -> Option<Arc<Transaction>> {
        let txn = self.held.lock().get(partition_key).cloned()?;
        if txn.is_live() {
            return Some(txn);
        }
        self.release_partition(&txn);
        None
    }

    /// Admits a write made outside any transaction to the partition `partition_key`; the
    /// guard keeps transactions from starting or committing there until it is dropped.
    ///
    /// Errors: 409 OTSRowOperationConflict while a transaction holds the partition.
    pub fn enter_partition(&self, partition_key: &[u8]) -> OtsResult<RwLockReadGuard<'_, ()>> {
        let gate = self.gate(partition_key).read();
        match self.holder(partition_key) {
            Some(_) => Err(transaction::conflict()),
            None => Ok(gate),
        }
    }

    /// Makes `txn` the holder of its partition.
    ///
    /// Errors: 409 OTSRowOperationConflict when another live transaction holds it.
    pub fn hold_partition(&self, txn: Arc<Transaction>) -> OtsResult<()> {
        let _gate = self.gate(txn.partition_key()).write();
        if self.holder(txn.partition_key()).is_some() {
            return Err(transaction::conflict());
        }
        self.held.lock().insert(txn.partition_key().to_vec(), txn);
        Ok(())
    }

    /// Blocks writers outside transactions on `txn`'s partition (for its commit).
    pub fn lock_partition(&self, txn: &Transaction) -> RwLockWriteGuard<'_, ()> {
        self.gate(txn.partition_key()).write()
    }

    /// Frees `txn`'s partition if `txn` still holds it.
    pub fn release_partition(&self, txn: &Transaction) {
        let mut held = self.held.lock();
        if held
            .get(txn.partition_key())
            .is_some_and(|h| h.id() == txn.id())
        {
            held.remove(txn.partition_key());
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
mod index_tests;
#[cfg(test)]
mod read_tests;
#[cfg(test)]
mod tests;
