//! Local transactions (SEMANTICS §14): one partition-key value of one table, held exclusively
//! from StartLocalTransaction until Commit, Abort or 60 s of idleness. Writes are buffered
//! here, never in the engine, and read back merged over committed data only by reads that carry
//! the transaction id; Commit hands the buffer to the engine as one `WriteBatch`.
//!
//! Lock order: a table's partition gate, then its held-partition map, then a transaction's
//! state. The map lock is never held while a state lock is taken.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use crate::engine::batch::BatchOp;
use crate::engine::{self, Direction, Engine, PkValue, ReadOptions, WriteBatch};
use crate::error::{ErrorCode, OtsError, OtsResult};
use crate::table::now_ms;

/// How long a transaction may stay idle before it is aborted.
pub const DEFAULT_TXN_TIMEOUT: Duration = Duration::from_secs(60);
/// Environment variable overriding the idle timeout in seconds (tests only).
pub const TXN_TIMEOUT_ENV: &str = "OTSD_TXN_TIMEOUT_SECS";
/// Most bytes of changes one transaction may buffer.
pub const MAX_TXN_BYTES: usize = 4 << 20;

/// The idle timeout: `OTSD_TXN_TIMEOUT_SECS` when set to a positive integer, else 60 s.
pub fn timeout_from_env() -> Duration {
    std::env::var(TXN_TIMEOUT_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TXN_TIMEOUT)
}

/// 400 OTSParameterInvalid "TransactionID is invalid." (unknown, expired or foreign id).
pub fn invalid_id() -> OtsError {
    OtsError::param("TransactionID is invalid.")
}

/// 409 OTSRowOperationConflict: the partition is held by a transaction.
pub fn conflict() -> OtsError {
    OtsError::new(
        ErrorCode::RowOperationConflict,
        "Data is being modified by the other request.",
    )
}

struct TxnState {
    ops: Vec<BatchOp>,
    bytes: usize,
    last_active: Instant,
    finished: bool,
}

/// One open local transaction.
pub struct Transaction {
    id: String,
    partition_key: Vec<u8>,
    partition_value: PkValue,
    timeout: Duration,
    state: Mutex<TxnState>,
}

impl Transaction {
    /// A new transaction holding `partition_value` (the first PK column's value).
    pub fn new(id: String, partition_value: PkValue, timeout: Duration) -> Transaction {
        Transaction {
            id,
            partition_key: partition_key(&partition_value),
            partition_value,
            timeout,
            state: Mutex::new(TxnState {
                ops: Vec::new(),
                bytes: 0,
                last_active: Instant::now(),
                finished: false,
            }),
        }
    }

    /// The transaction id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The encoded partition-key value it holds.
    pub fn partition_key(&self) -> &[u8] {
        &self.partition_key
    }

    /// Whether it can still be used (not committed, aborted or expired). An expired
    /// transaction is marked finished here, dropping its buffer.
    pub fn is_live(&self) -> bool {
        let mut state = self.state.lock();
        Transaction::check_live(&mut state, self.timeout)
    }

    /// Like `is_live`, without waiting: a transaction in the middle of an operation (its
    /// state locked by a session) counts as live. For callers holding a lock that such an
    /// operation may be waiting for (the index list), where waiting would deadlock.
    pub fn is_live_or_busy(&self) -> bool {
        match self.state.try_lock() {
            Some(mut state) => Transaction::check_live(&mut state, self.timeout),
            None => true,
        }
    }

    fn check_live(state: &mut TxnState, timeout: Duration) -> bool {
        if !state.finished && state.last_active.elapsed() > timeout {
            state.finished = true;
            state.ops.clear();
        }
        !state.finished
    }

    /// Starts one operation in the transaction; ops of one transaction run one at a time.
    ///
    /// Errors: 400 "TransactionID is invalid." once finished or expired.
    pub fn session(&self) -> OtsResult<TxnSession<'_>> {
        let mut state = self.state.lock();
        if !Transaction::check_live(&mut state, self.timeout) {
            return Err(invalid_id());
        }
        state.last_active = Instant::now();
        Ok(TxnSession { txn: self, state })
    }

    /// Ends the transaction and returns its changes as one batch (empty when nothing was
    /// written).
    ///
    /// Errors: 400 "TransactionID is invalid." when already finished or expired.
    pub fn finish(&self) -> OtsResult<WriteBatch> {
        let mut session = self.session()?;
        session.state.finished = true;
        let ops = std::mem::take(&mut session.state.ops);
        Ok(WriteBatch::from_ops(ops))
    }
}

/// The encoded partition key of a partition-key value (the key-prefix of its rows).
pub fn partition_key(value: &PkValue) -> Vec<u8> {
    engine::key::encode_row_key(std::slice::from_ref(value))
}

fn op_bytes(op: &BatchOp) -> usize {
    match op {
        BatchOp::Put {
            row, column, value, ..
        } => row.len() + column.len() + value.len() + 8,
        BatchOp::DeleteVersion { row, column, .. } => row.len() + column.len() + 8,
        BatchOp::DeleteColumn { row, column } => row.len() + column.len(),
        BatchOp::DeleteRow { row } | BatchOp::PutRowMarker { row, .. } => row.len() + 8,
    }
}

/// One operation inside a transaction: holds the transaction's state until dropped.
pub struct TxnSession<'a> {
    txn: &'a Transaction,
    state: MutexGuard<'a, TxnState>,
}

impl TxnSession<'_> {
    /// The partition-key value the transaction holds.
    pub fn partition_value(&self) -> &PkValue {
        &self.txn.partition_value
    }

    /// Checks that a row's partition-key value is the transaction's.
    ///
    /// Errors: 400 OTSParameterInvalid for a row of another partition.
    pub fn check_partition(&self, value: Option<&PkValue>) -> OtsResult<()> {
        if value == Some(&self.txn.partition_value) {
            Ok(())
        } else {
            Err(OtsError::param(
                "The partition key of the row does not match the transaction's partition key.",
            ))
        }
    }

    /// Buffers `batch`; versions left to the server get the current time now, so reads in
    /// the transaction and the committed data agree.
    ///
    /// Errors: 400 when the transaction would buffer more than 4 MB.
    pub fn buffer(&mut self, batch: WriteBatch) -> OtsResult<()> {
        let now = now_ms();
        let mut ops: Vec<BatchOp> = batch.ops().to_vec();
        for op in &mut ops {
            match op {
                BatchOp::Put { version_ms, .. } | BatchOp::PutRowMarker { version_ms, .. } => {
                    version_ms.get_or_insert(now);
                }
                _ => {}
            }
        }
        let bytes = self.state.bytes + ops.iter().map(op_bytes).sum::<usize>();
        if bytes > MAX_TXN_BYTES {
            return Err(OtsError::param(
                "The data written in the transaction exceeds 4 MB.",
            ));
        }
        self.state.bytes = bytes;
        self.state.ops.extend(ops);
        Ok(())
    }

    /// Reads `row_key` as the transaction sees it: committed data with the buffered changes
    /// on top, shaped by `read` like an engine read.
    ///
    /// Errors: engine failures.
    pub fn get_row(
        &self,
        engine: &Engine,
        row_key: &[u8],
        read: &ReadOptions,
    ) -> engine::Result<Option<engine::Row>> {
        let ops: Vec<&BatchOp> = self
            .state
            .ops
            .iter()
            .filter(|op| op.row() == row_key)
            .collect();
        if ops.is_empty() {
            return engine.get_row(row_key, read);
        }
        let base = engine.get_row(row_key, &ReadOptions::default())?;
        let mut model = RowModel::from_engine(base);
        for op in ops {
            model.apply(op);
        }
        Ok(model.shape(row_key, read, engine.data_options(), now_ms()))
    }

    /// Row keys the transaction changed inside `[start, end)` (forward) or `(end, start]`
    /// (backward), in scan order.
    pub fn touched_rows(&self, start: &[u8], end: &[u8], direction: Direction) -> Vec<Vec<u8>> {
        let keys: BTreeSet<&[u8]> = self
            .state
            .ops
            .iter()
            .map(BatchOp::row)
            .filter(|k| match direction {
                Direction::Forward => *k >= start && *k < end,
                Direction::Backward => *k <= start && *k > end,
            })
            .collect();
        let keys = keys.into_iter().map(<[u8]>::to_vec);
        match direction {
            Direction::Forward => keys.collect(),
            Direction::Backward => keys.rev().collect(),
        }
    }
}

/// The row `base` (as read with `read`) becomes once `ops` are applied (ops on other rows
/// are skipped), shaped by `read` as an engine read would shape it.
pub(crate) fn apply_to_row(
    base: Option<engine::Row>,
    ops: &[BatchOp],
    row_key: &[u8],
    read: &ReadOptions,
    data: engine::DataOptions,
) -> Option<engine::Row> {
    let mut model = RowModel::from_engine(base);
    for op in ops.iter().filter(|op| op.row() == row_key) {
        model.apply(op);
    }
    model.shape(row_key, read, data, now_ms())
}

/// A row's cells in memory, to replay buffered changes over committed data.
#[derive(Debug, Default)]
struct RowModel {
    /// Present without cells (PutRow with no attributes, or a committed row).
    marker: bool,
    /// column -> version -> value.
    columns: BTreeMap<Vec<u8>, BTreeMap<i64, Vec<u8>>>,
}

impl RowModel {
    fn from_engine(row: Option<engine::Row>) -> RowModel {
        let Some(row) = row else {
            return RowModel::default();
        };
        // An existing row without listed columns exists through something unlisted.
        let marker = row.exists_unlisted || row.columns.is_empty();
        let columns = row
            .columns
            .into_iter()
            .map(|c| {
                let versions = c.cells.into_iter().map(|x| (x.version_ms, x.value));
                (c.name, versions.collect())
            })
            .collect();
        RowModel { marker, columns }
    }

    fn apply(&mut self, op: &BatchOp) {
        match op {
            BatchOp::Put {
                column,
                version_ms,
                value,
                ..
            } => {
                let version = version_ms.unwrap_or_else(now_ms);
                self.columns
                    .entry(column.clone())
                    .or_default()
                    .insert(version, value.clone());
            }
            BatchOp::DeleteVersion {
                column, version_ms, ..
            } => {
                if let Some(versions) = self.columns.get_mut(column) {
                    versions.remove(version_ms);
                }
            }
            BatchOp::DeleteColumn { column, .. } => {
                self.columns.remove(column);
            }
            BatchOp::DeleteRow { .. } => {
                self.columns.clear();
                self.marker = false;
            }
            BatchOp::PutRowMarker { .. } => {
                self.columns.clear();
                self.marker = true;
            }
        }
    }

    /// The engine's visibility rules (TTL, table max_versions, then the read's time range,
    /// max versions and column choice) applied to the model.
    fn shape(
        self,
        row_key: &[u8],
        read: &ReadOptions,
        data: engine::DataOptions,
        now_ms: i64,
    ) -> Option<engine::Row> {
        let expired = |v: i64| match data.ttl_secs {
            Some(ttl) => v.saturating_add(ttl.saturating_mul(1000)) < now_ms,
            None => false,
        };
        let table_max = data.max_versions.max(1) as usize;
        let read_max = match read.max_versions {
            0 => table_max,
            n => (n as usize).min(table_max),
        };
        let wants = |name: &[u8]| {
            read.columns
                .as_ref()
                .is_none_or(|cols| cols.iter().any(|c| c.as_slice() == name))
                && read
                    .start_column
                    .as_ref()
                    .is_none_or(|s| name >= s.as_slice())
                && read.end_column.as_ref().is_none_or(|e| name < e.as_slice())
        };
        let mut exists = self.marker;
        let mut unlisted = self.marker;
        let mut columns = Vec::new();
        for (name, versions) in self.columns {
            let visible: Vec<engine::Cell> = versions
                .into_iter()
                .rev()
                .filter(|(v, _)| !expired(*v))
                .take(table_max)
                .map(|(version_ms, value)| engine::Cell { version_ms, value })
                .collect();
            if visible.is_empty() {
                continue;
            }
            exists = true;
            if !wants(&name) {
                unlisted = true;
                continue;
            }
            let cells: Vec<engine::Cell> = visible
                .into_iter()
                .filter(|c| {
                    read.time_range
                        .is_none_or(|(s, e)| c.version_ms >= s && c.version_ms < e)
                })
                .take(read_max)
                .collect();
            if cells.is_empty() {
                unlisted = true;
            } else {
                columns.push(engine::Column { name, cells });
            }
        }
        exists.then(|| engine::Row {
            key: row_key.to_vec(),
            columns,
            exists_unlisted: unlisted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(max_versions: u32, ttl_secs: Option<i64>) -> engine::DataOptions {
        engine::DataOptions {
            ttl_secs,
            max_versions,
        }
    }

    fn put(column: &str, version: i64, value: &[u8]) -> BatchOp {
        BatchOp::Put {
            row: b"r".to_vec(),
            column: column.as_bytes().to_vec(),
            version_ms: Some(version),
            value: value.to_vec(),
        }
    }

    #[test]
    fn replayed_changes_follow_the_engine_visibility_rules() {
        let mut model = RowModel::default();
        model.apply(&put("a", 10, b"1"));
        model.apply(&put("a", 20, b"2"));
        model.apply(&put("b", 5, b"x"));
        let row = model
            .shape(b"r", &ReadOptions::default(), data(1, None), 100)
            .unwrap();
        assert_eq!(row.columns.len(), 2);
        assert_eq!(row.columns[0].cells[0].value, b"2");
        assert_eq!(row.columns[0].cells.len(), 1);

        let mut model = RowModel::default();
        model.apply(&put("a", 10, b"1"));
        model.apply(&BatchOp::DeleteColumn {
            row: b"r".to_vec(),
            column: b"a".to_vec(),
        });
        assert!(model
            .shape(b"r", &ReadOptions::default(), data(1, None), 100)
            .is_none());

        let mut model = RowModel::default();
        model.apply(&BatchOp::PutRowMarker {
            row: b"r".to_vec(),
            version_ms: Some(1),
        });
        let row = model
            .shape(b"r", &ReadOptions::default(), data(1, None), 100)
            .unwrap();
        assert!(row.columns.is_empty());
    }

    #[test]
    fn a_row_that_exists_apart_from_its_listed_columns_outlives_their_deletion() {
        let stored = |exists_unlisted| engine::Row {
            key: b"r".to_vec(),
            columns: vec![engine::Column {
                name: b"a".to_vec(),
                cells: vec![engine::Cell {
                    version_ms: 10,
                    value: b"1".to_vec(),
                }],
            }],
            exists_unlisted,
        };
        let delete_a = [BatchOp::DeleteColumn {
            row: b"r".to_vec(),
            column: b"a".to_vec(),
        }];
        let read = ReadOptions::default();
        // A PutRow marker (or a column the read left out) keeps the row...
        let after = apply_to_row(Some(stored(true)), &delete_a, b"r", &read, data(1, None));
        let after = after.expect("the row outlives its listed column");
        assert!(after.columns.is_empty() && after.exists_unlisted);
        // ...while a row made only of its listed column goes with it.
        let after = apply_to_row(Some(stored(false)), &delete_a, b"r", &read, data(1, None));
        assert!(after.is_none());
    }

    #[test]
    fn ttl_and_projection_hide_cells_but_projection_keeps_the_row() {
        let mut model = RowModel::default();
        model.apply(&put("old", 1_000, b"o"));
        model.apply(&put("new", 99_000, b"n"));
        let read = ReadOptions {
            columns: Some(vec![b"zzz".to_vec()]),
            ..ReadOptions::default()
        };
        let row = model
            .shape(b"r", &read, data(3, Some(10)), 100_000)
            .unwrap();
        assert!(row.columns.is_empty() && row.exists_unlisted);
        let mut model = RowModel::default();
        model.apply(&put("old", 1_000, b"o"));
        assert!(model
            .shape(b"r", &ReadOptions::default(), data(3, Some(10)), 100_000)
            .is_none());
    }

    #[test]
    fn a_transaction_in_an_operation_counts_as_live_without_waiting() {
        let txn = Transaction::new("t1".into(), PkValue::Integer(1), Duration::from_secs(60));
        let session = txn.session().unwrap();
        assert!(txn.is_live_or_busy(), "busy: its state is locked");
        drop(session);
        assert!(txn.is_live_or_busy());
        txn.finish().unwrap();
        assert!(!txn.is_live_or_busy(), "finished");
    }

    #[test]
    fn sessions_fail_once_finished_or_idle_too_long() {
        let txn = Transaction::new("t1".into(), PkValue::Integer(1), Duration::from_secs(60));
        {
            let mut s = txn.session().unwrap();
            let mut batch = WriteBatch::new();
            batch.put(b"r", b"c", None, b"v");
            s.buffer(batch).unwrap();
            assert!(s.check_partition(Some(&PkValue::Integer(1))).is_ok());
            assert!(s.check_partition(Some(&PkValue::Integer(2))).is_err());
        }
        let batch = txn.finish().unwrap();
        assert_eq!(batch.len(), 1);
        assert!(matches!(
            batch.ops()[0],
            BatchOp::Put {
                version_ms: Some(_),
                ..
            }
        ));
        let e = txn.session().err().unwrap();
        assert_eq!(e.message, "TransactionID is invalid.");

        let short = Transaction::new("t2".into(), PkValue::Integer(1), Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!short.is_live());
        assert!(short.finish().is_err());
    }
}
