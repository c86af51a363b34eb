//! A table's secondary indexes as data: keeping them current on every write, filling a new
//! index from the rows already stored, and clearing a dropped one.

use std::sync::Arc;

use parking_lot::RwLockWriteGuard;

use crate::engine::{self, key, Direction, ReadOptions, WriteBatch};
use crate::error::{ErrorCode, OtsError, OtsResult};
use crate::log_limit::{LogLimit, REPEAT_INTERVAL};
use crate::table::index::{self, Index, IndexMeta};
use crate::table::row::PrimaryKey;
use crate::table::transaction::{self, TxnSession};
use crate::table::Table;

/// Rows written per batch while filling or clearing an index.
const BULK_BATCH_ROWS: usize = 1000;

fn unreadable_key(table: &str) -> OtsError {
    static LOG: LogLimit = LogLimit::new(REPEAT_INTERVAL);
    if let Some(held_back) = LOG.admit() {
        tracing::error!(table, held_back, "stored row key does not decode");
    }
    OtsError::internal()
}

impl Table {
    /// What index maintenance reads of a row: the newest version of every column an index
    /// uses. An index keyed by primary-key columns only has a row exactly while the base row
    /// exists, which every column decides: then the whole row is read.
    fn index_read(&self, indexes: &[Index]) -> ReadOptions {
        let schema = self.schema();
        let keyed_by_pk_only = indexes.iter().any(|i| {
            i.meta
                .primary_key
                .iter()
                .all(|name| schema.is_pk_column(name))
        });
        let columns = (!keyed_by_pk_only).then(|| {
            let mut columns: Vec<Vec<u8>> = indexes
                .iter()
                .flat_map(|i| i.attribute_columns(schema))
                .map(|c| c.as_bytes().to_vec())
                .collect();
            columns.sort_unstable();
            columns.dedup();
            columns
        });
        ReadOptions {
            max_versions: 1,
            columns,
            ..ReadOptions::default()
        }
    }

    /// Appends to `batch` (the base row's own write) the index changes it causes: the row
    /// before is read under the row's lock, the row after is that row with `batch` applied.
    pub(super) fn stage_index_changes(
        &self,
        indexes: &[Index],
        pk: &PrimaryKey,
        row_key: &[u8],
        generated: bool,
        txn: Option<&TxnSession<'_>>,
        batch: &mut WriteBatch,
    ) -> OtsResult<()> {
        if indexes.is_empty() {
            return Ok(());
        }
        let read = self.index_read(indexes);
        // A freshly generated key has no stored row.
        let before = match generated {
            true => None,
            false => self.read_row(row_key, &read, txn)?,
        };
        let after = transaction::apply_to_row(
            before.clone(),
            batch.ops(),
            row_key,
            &read,
            self.engine().data_options(),
        );
        index::stage_changes(
            indexes,
            self.schema(),
            pk,
            before.as_ref(),
            after.as_ref(),
            batch,
        );
        Ok(())
    }

    /// Adds `index` to this table: installs it for writers, fills it from the stored rows
    /// when `fill` is set, then records it in the meta. Writers keep going while it fills:
    /// they maintain the new index from the moment it is installed, and wait only while one
    /// chunk of the fill is read and written (see `fill_index`).
    ///
    /// Errors: 409 OTSRowOperationConflict while a local transaction is open on the table
    /// (its buffered writes were staged without the index); engine and I/O failures, after
    /// which the index is withdrawn and its rows are cleared again.
    pub(super) fn install_index(&self, index: &IndexMeta, fill: bool) -> OtsResult<()> {
        let active = Index::new(index.clone(), &self.meta().schema);
        {
            let mut indexes = self.indexes.write();
            // Not `is_live`: a transaction's write holds its state while it waits for the
            // index list held here.
            if self.held.lock().values().any(|t| t.is_live_or_busy()) {
                return Err(OtsError::new(
                    ErrorCode::RowOperationConflict,
                    "A local transaction is open on the table; commit or abort it first.",
                ));
            }
            let mut next = (**indexes).clone();
            next.push(active.clone());
            *indexes = Arc::new(next);
        }
        let installed = match fill {
            true => self.fill_index(&active),
            false => Ok(()),
        }
        .and_then(|()| {
            self.update_meta(|meta| {
                meta.indexes.push(index.clone());
                Ok(())
            })
            .map(|_| ())
        });
        if let Err(e) = installed {
            self.withdraw_index(&index.name);
            self.clear_index(index);
            return Err(e);
        }
        Ok(())
    }

    /// Takes the index `name` out of the writers' list (after a failed install). Once this
    /// returns, no writer that staged changes for it is still committing them.
    fn withdraw_index(&self, name: &str) {
        let mut indexes = self.indexes.write();
        let next = indexes
            .iter()
            .filter(|i| i.meta.name != name)
            .cloned()
            .collect();
        *indexes = Arc::new(next);
    }

    /// Removes the index `name` from this table's meta and from its writers; its rows stay
    /// until `clear_index`.
    ///
    /// Errors: 404 OTSObjectNotExist when the table has no such index; I/O failures.
    pub(super) fn remove_index(&self, name: &str) -> OtsResult<IndexMeta> {
        let mut indexes = self.indexes.write();
        let Some(index) = indexes.iter().find(|i| i.meta.name == name) else {
            return Err(OtsError::new(
                ErrorCode::ObjectNotExist,
                "Requested index does not exist.",
            ));
        };
        self.update_meta(|meta| {
            meta.indexes.retain(|i| i.name != name);
            Ok(())
        })?;
        let index = index.meta.clone();
        let next = indexes
            .iter()
            .filter(|i| i.meta.name != name)
            .cloned()
            .collect();
        *indexes = Arc::new(next);
        Ok(index)
    }

    /// Writes the index row of every stored row, `BULK_BATCH_ROWS` rows at a time. Each
    /// chunk is read and written while it holds every partition gate (so no transaction
    /// commits) and the index list exclusively (so no other write is staged or committing:
    /// writers hold it shared from staging to commit). A chunk therefore indexes each row as
    /// it stands, and every later change to the row, made by a writer that already maintains
    /// `index`, replaces that index row; rows ahead of the fill that writers index first are
    /// indexed again to the same result.
    fn fill_index(&self, index: &Index) -> OtsResult<()> {
        let read = self.index_read(std::slice::from_ref(index));
        let end = index::base_space_end();
        let names: Vec<String> = self
            .schema()
            .primary_key
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let mut from = key::encode_row_key(&[engine::PkValue::InfMin]);
        // The previous chunk's last row, where this chunk starts again.
        let mut done: Option<Vec<u8>> = None;
        loop {
            let gates: Vec<_> = self.partition_gates.iter().map(|g| g.read()).collect();
            let writers_out = self.indexes.write();
            let mut rows = self.engine().scan(&from, &end, Direction::Forward, &read)?;
            let mut batch = WriteBatch::new();
            let mut taken = 0;
            let mut last = None;
            while let Some(row) = rows.next_ref()? {
                if done.as_deref() == Some(row.key()) {
                    continue;
                }
                let values =
                    key::decode_row_key(row.key()).ok_or_else(|| unreadable_key(self.name()))?;
                let pk: PrimaryKey = names.iter().cloned().zip(values).collect();
                if let Some(entry) = index.row_of(&pk, Some(&row.to_row())) {
                    index::write_row(&entry, &mut batch);
                }
                taken += 1;
                if taken == BULK_BATCH_ROWS {
                    last = Some(row.key().to_vec());
                    break;
                }
            }
            drop(rows);
            if !batch.is_empty() {
                self.engine().write(batch)?;
            }
            // Hand the lock to the writers that queued behind this chunk.
            RwLockWriteGuard::unlock_fair(writers_out);
            drop(gates);
            match last {
                Some(key) => {
                    from.clone_from(&key);
                    done = Some(key);
                }
                None => return Ok(()),
            }
        }
    }

    /// Deletes every row of `index` (dropped, or never finished). Best effort: a row left
    /// behind sits in a key space no index uses any more.
    pub(super) fn clear_index(&self, index: &IndexMeta) {
        if let Err(e) = self.try_clear_index(index) {
            tracing::warn!(table = self.name(), index = %index.name, error = %e.message, "could not clear the rows of an index");
        }
    }

    fn try_clear_index(&self, index: &IndexMeta) -> OtsResult<()> {
        let prefix = index.key_prefix();
        let (mut start, mut end) = (prefix.clone(), prefix);
        start.push(0x00);
        end.push(0xFF);
        let read = ReadOptions {
            max_versions: 1,
            columns: Some(Vec::new()),
            ..ReadOptions::default()
        };
        let mut rows = self
            .engine()
            .scan(&start, &end, Direction::Forward, &read)?;
        let mut batch = WriteBatch::new();
        while let Some(row) = rows.next_ref()? {
            batch.delete_row(row.key());
            if batch.len() >= BULK_BATCH_ROWS {
                self.engine().write(std::mem::take(&mut batch))?;
            }
        }
        if !batch.is_empty() {
            self.engine().write(batch)?;
        }
        Ok(())
    }
}
