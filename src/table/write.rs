//! PutRow, UpdateRow and DeleteRow on a table: validation against the schema and limits,
//! auto-increment resolution, the existence check under the row's lock, and one atomic
//! `WriteBatch` per row.

use std::sync::Arc;

use parking_lot::RwLockReadGuard;

use crate::engine::{self, PkValue, ReadOptions, WriteBatch};
use crate::error::{OtsError, OtsResult};
use crate::table::capacity::Consumed;
use crate::table::condition::Condition;
use crate::table::index::Index;
use crate::table::limits;
use crate::table::row::{pk_len, ColumnChange, PrimaryKey, RowData};
use crate::table::row_lock::RowGuard;
use crate::table::schema::{validate_column_name, validate_pk, PkInput, PkUse, TableOptions};
use crate::table::transaction::{partition_key, TxnSession};
use crate::table::value::Value;
use crate::table::{now_ms, stripe, transaction, Table, PARTITION_GATE_STRIPES};

/// Partition gates and row locks held across a commit (see `Table::lock_and_stage`).
type WriteGuards<'a> = (IndexGuard<'a>, Vec<RwLockReadGuard<'a, ()>>, RowGuard<'a>);

/// A row of a BatchWriteRow run: its prepared write (or why it failed), condition and
/// what it returns.
type PreparedRow = (OtsResult<PreparedWrite>, Condition, ReturnKind);

/// The table's indexes, held shared from staging a row to its commit.
type IndexGuard<'a> = RwLockReadGuard<'a, Arc<Vec<Index>>>;

/// What a write returns besides its capacity (ReturnContent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReturnKind {
    /// Nothing.
    #[default]
    None,
    /// The final primary key (auto-increment value filled in).
    PrimaryKey,
    /// The primary key plus these columns' values after the write.
    AfterModify(Vec<String>),
}

/// The outcome of one row write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    /// Capacity consumed.
    pub consumed: Consumed,
    /// The row to return, per `ReturnKind` (`None` for `ReturnKind::None`).
    pub returned: Option<RowData>,
}

/// Which single-row write is running (for messages and checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    Put,
    Update,
    Delete,
}

/// Checks an explicit cell timestamp against the table's version deviation and TTL: the
/// valid range is `[now - min(deviation, ttl), now + deviation]`, compared in seconds.
fn check_timestamp(
    options: &TableOptions,
    column: &str,
    timestamp_ms: i64,
    now_ms: i64,
) -> OtsResult<()> {
    if timestamp_ms < 0 {
        return Err(OtsError::param(
            "Timestamp must be in range [0, INT64_MAX/1000).",
        ));
    }
    let ts_s = timestamp_ms / 1000;
    let now_s = now_ms / 1000;
    let dev = options.deviation_cell_version_in_sec;
    let mut lower = now_s.saturating_sub(dev);
    if options.time_to_live_secs > 0 {
        lower = lower.max(now_s - i64::from(options.time_to_live_secs));
    }
    if ts_s < lower || ts_s > now_s.saturating_add(dev) {
        return Err(OtsError::param(format!(
            "Invalid timestamp. Cell:{column}."
        )));
    }
    Ok(())
}

impl Table {
    /// Validates the key and resolves an AUTO_INCREMENT placeholder; returns the concrete
    /// key and whether a value was generated.
    fn resolve_pk(
        &self,
        pk: Vec<(String, PkInput)>,
        kind: WriteKind,
        condition: &Condition,
        in_txn: bool,
    ) -> OtsResult<(PrimaryKey, bool)> {
        let usage = if kind == WriteKind::Delete {
            PkUse::Exact
        } else {
            PkUse::Write
        };
        if kind == WriteKind::Delete && pk.iter().any(|(_, v)| *v == PkInput::AutoIncrement) {
            return Err(OtsError::param(
                "Invalid row to delete which with pk auto increment.",
            ));
        }
        validate_pk(self.schema(), &pk, usage)?;
        let has_placeholder = pk.iter().any(|(_, v)| *v == PkInput::AutoIncrement);
        if has_placeholder && in_txn {
            return Err(OtsError::param(
                "Auto-increment is not allowed in a transaction.",
            ));
        }
        if has_placeholder && condition.column_condition.is_some() {
            return Err(OtsError::param(
                "Can't set condition when modify row with pk auto increment.",
            ));
        }
        if has_placeholder && condition.row_existence.needs_read() {
            return Err(OtsError::param(format!(
                "Invalid expect:{} when modify row with pk auto increment.",
                condition.row_existence.name()
            )));
        }
        let mut out = Vec::with_capacity(pk.len());
        for (name, value) in pk {
            let value = match value {
                PkInput::Value(v) => v,
                PkInput::AutoIncrement => PkValue::Integer(self.engine().next_auto_increment()?),
            };
            out.push((name, value));
        }
        Ok((out, has_placeholder))
    }

    /// Checks the column changes of a Put/Update against names, limits and timestamps.
    fn check_changes(&self, changes: &[ColumnChange], now_ms: i64) -> OtsResult<()> {
        limits::check_columns_per_write(changes.len())?;
        let options = self.options();
        for change in changes {
            let name = change.name();
            validate_column_name(name)?;
            if self.schema().is_pk_column(name) {
                return Err(OtsError::param(format!(
                    "Duplicated attribute column name with primary key column: {name}."
                )));
            }
            match change {
                ColumnChange::Put {
                    value,
                    timestamp_ms,
                    ..
                } => {
                    match value {
                        Value::String(s) => limits::check_attribute_value_len(name, s.len())?,
                        Value::Binary(b) => limits::check_attribute_value_len(name, b.len())?,
                        Value::Double(d) if d.is_nan() => {
                            return Err(OtsError::param("NaN can't be set to double value."))
                        }
                        Value::Double(d) if d.is_infinite() => {
                            return Err(OtsError::param("Infinity can't be set to double value."))
                        }
                        _ => {}
                    }
                    if let Some(ts) = timestamp_ms {
                        check_timestamp(&options, name, *ts, now_ms)?;
                    }
                }
                ColumnChange::DeleteOneVersion { timestamp_ms, .. } if *timestamp_ms < 0 => {
                    return Err(OtsError::param(
                        "Timestamp must be in range [0, INT64_MAX/1000).",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The stored row a condition is checked against: every visible version when a column
    /// condition may look past the newest, else just the newest.
    fn stored_row(
        &self,
        row_key: &[u8],
        condition: &Condition,
        txn: Option<&TxnSession<'_>>,
    ) -> OtsResult<Option<RowData>> {
        let max_versions = if condition.column_condition.is_some() {
            0
        } else {
            1
        };
        let read = ReadOptions {
            max_versions,
            ..ReadOptions::default()
        };
        match self.read_row(row_key, &read, txn)? {
            Some(row) => Ok(Some(RowData::from_engine(self.schema(), row)?)),
            None => Ok(None),
        }
    }

    /// Reads a row from committed data, or as `txn` sees it.
    pub(crate) fn read_row(
        &self,
        row_key: &[u8],
        read: &ReadOptions,
        txn: Option<&TxnSession<'_>>,
    ) -> OtsResult<Option<engine::Row>> {
        Ok(match txn {
            Some(txn) => txn.get_row(self.engine(), row_key, read)?,
            None => self.engine().get_row(row_key, read)?,
        })
    }

    /// Applies a row's batch: to the engine, or to `txn`'s buffer.
    fn apply_batch(&self, batch: WriteBatch, txn: Option<&mut TxnSession<'_>>) -> OtsResult<()> {
        match txn {
            Some(txn) => txn.buffer(batch),
            None => self.engine().write(batch).map(|_| ()).map_err(Into::into),
        }
    }

    /// Admits a write to `pk`'s partition: inside `txn` the row must be in its partition;
    /// outside, no transaction may hold the partition (the guard keeps one from starting).
    ///
    /// Errors: 400 for a row outside the transaction's partition, 409 OTSRowOperationConflict.
    fn admit_write(
        &self,
        pk: &PrimaryKey,
        txn: Option<&TxnSession<'_>>,
    ) -> OtsResult<Option<RwLockReadGuard<'_, ()>>> {
        let partition = pk.first().map(|(_, v)| v);
        match txn {
            Some(txn) => txn.check_partition(partition).map(|()| None),
            None => match partition {
                Some(v) => self.enter_partition(&partition_key(v)).map(Some),
                None => Ok(None),
            },
        }
    }

    fn returned_row(
        &self,
        pk: &PrimaryKey,
        row_key: &[u8],
        ret: &ReturnKind,
        txn: Option<&TxnSession<'_>>,
    ) -> OtsResult<Option<RowData>> {
        Ok(match ret {
            ReturnKind::None => None,
            ReturnKind::PrimaryKey => Some(RowData {
                primary_key: pk.clone(),
                columns: vec![],
            }),
            ReturnKind::AfterModify(names) => {
                let mut columns = vec![];
                if !names.is_empty() {
                    let read = ReadOptions {
                        max_versions: 1,
                        columns: Some(names.iter().map(|n| n.as_bytes().to_vec()).collect()),
                        ..ReadOptions::default()
                    };
                    if let Some(row) = self.read_row(row_key, &read, txn)? {
                        columns = RowData::from_engine(self.schema(), row)?.columns;
                    }
                }
                Some(RowData {
                    primary_key: pk.clone(),
                    columns,
                })
            }
        })
    }

    /// PutRow: replaces the whole row with `cells` (puts only).
    ///
    /// Errors: schema/limit errors (400), condition failure (403), engine failures.
    pub fn put_row(
        &self,
        pk: Vec<(String, PkInput)>,
        cells: Vec<ColumnChange>,
        condition: &Condition,
        ret: &ReturnKind,
    ) -> OtsResult<WriteOutcome> {
        self.write_row_in(RowWrite::Put { pk, cells }, condition, ret, None)
    }

    /// UpdateRow: applies column changes to the row (creating it if needed).
    ///
    /// Errors: schema/limit errors and a non-integer INCREMENT target (400), condition
    /// failure (403), engine failures.
    pub fn update_row(
        &self,
        pk: Vec<(String, PkInput)>,
        changes: Vec<ColumnChange>,
        condition: &Condition,
        ret: &ReturnKind,
    ) -> OtsResult<WriteOutcome> {
        self.write_row_in(RowWrite::Update { pk, changes }, condition, ret, None)
    }

    /// DeleteRow: removes the whole row. EXPECT_NOT_EXIST always fails.
    ///
    /// Errors: key errors (400), condition failure (403), engine failures.
    pub fn delete_row(
        &self,
        pk: Vec<(String, PkInput)>,
        condition: &Condition,
        ret: &ReturnKind,
    ) -> OtsResult<WriteOutcome> {
        self.write_row_in(RowWrite::Delete { pk }, condition, ret, None)
    }

    /// One row write: validate and key it, then check and apply it under the row's lock;
    /// inside `txn` when given (buffered there, seen only by its reads).
    ///
    /// Errors: as `put_row` / `update_row` / `delete_row`, plus 400 for a placeholder or a
    /// row outside the transaction's partition, 409 when a transaction holds the partition
    /// and `txn` is `None`.
    pub fn write_row_in(
        &self,
        write: RowWrite,
        condition: &Condition,
        ret: &ReturnKind,
        txn: Option<&mut TxnSession<'_>>,
    ) -> OtsResult<WriteOutcome> {
        let prepared = self.prepare(write, condition, txn.is_some())?;
        self.write_prepared(&prepared, condition, ret, txn)
    }

    /// Checks and applies a prepared row write under its gate and row lock (waiting for them).
    fn write_prepared(
        &self,
        p: &PreparedWrite,
        condition: &Condition,
        ret: &ReturnKind,
        mut txn: Option<&mut TxnSession<'_>>,
    ) -> OtsResult<WriteOutcome> {
        let _gate = self.admit_write(&p.pk, txn.as_deref())?;
        let _guard = self.lock_row(&p.row_key);
        let indexes = self.indexes.read();
        let (batch, consumed) = self.stage(p, condition, txn.as_deref(), &indexes)?;
        self.apply_batch(batch, txn.as_deref_mut())?;
        let returned = self.returned_row(&p.pk, &p.row_key, ret, txn.as_deref())?;
        Ok(WriteOutcome { consumed, returned })
    }

    /// One row write outside any transaction, for callers on an async runtime: the check runs
    /// here under the row's gate and lock, taken without waiting, and the commit is awaited
    /// (`Engine::write_async`), so no runtime thread blocks on an fsync. When the gate or the
    /// lock is busy (another writer on the row, a transaction starting), the write moves to
    /// a blocking thread and waits there instead.
    ///
    /// Errors: as `write_row_in`.
    // The gate, row lock and index guards must span the commit, so they are held across its
    // await on purpose: they are only try-locked here, never waited for on a runtime thread,
    // and whoever waits for them does so on a blocking thread (`send_guard`).
    #[allow(clippy::await_holding_lock)]
    pub async fn write_row_async(
        self: Arc<Self>,
        write: RowWrite,
        condition: Condition,
        ret: ReturnKind,
    ) -> OtsResult<WriteOutcome> {
        let p = self.prepare(write, &condition, false)?;
        let gate = match p.pk.first() {
            None => None,
            Some((_, v)) => match self.gate(&partition_key(v)).try_read() {
                Some(gate) => Some(gate),
                None => {
                    return Arc::clone(&self)
                        .write_prepared_blocking(p, condition, ret)
                        .await
                }
            },
        };
        self.check_partition_free(&p.pk)?;
        let lock = match p.generated {
            true => None,
            false => match self.row_locks.try_lock(&p.row_key) {
                Some(lock) => Some(lock),
                None => {
                    drop(gate);
                    return Arc::clone(&self)
                        .write_prepared_blocking(p, condition, ret)
                        .await;
                }
            },
        };
        let Some(indexes) = self.indexes.try_read() else {
            drop((lock, gate));
            return Arc::clone(&self)
                .write_prepared_blocking(p, condition, ret)
                .await;
        };
        let (batch, consumed) = self.stage(&p, &condition, None, &indexes)?;
        self.engine().write_async(batch).await?;
        let returned = self.returned_row(&p.pk, &p.row_key, &ret, None)?;
        drop((indexes, lock, gate));
        Ok(WriteOutcome { consumed, returned })
    }

    async fn write_prepared_blocking(
        self: Arc<Self>,
        p: PreparedWrite,
        condition: Condition,
        ret: ReturnKind,
    ) -> OtsResult<WriteOutcome> {
        tokio::task::spawn_blocking(move || self.write_prepared(&p, &condition, &ret, None))
            .await
            .map_err(|_| OtsError::internal())?
    }

    /// Many independent row writes outside any transaction (BatchWriteRow for one table):
    /// each row is checked and applied atomically on its own and answers on its own, but
    /// rows share commits (one WAL append, one fsync per group).
    ///
    /// A row touched twice must see its earlier write, so the rows are cut into runs where
    /// no row repeats; runs commit one after the other, in request order.
    pub fn write_rows(
        &self,
        rows: Vec<(RowWrite, Condition, ReturnKind)>,
    ) -> Vec<OtsResult<WriteOutcome>> {
        let mut results = Vec::with_capacity(rows.len());
        for run in self.prepare_runs(rows) {
            results.extend(self.write_run(run));
        }
        results
    }

    /// `write_rows` for an async caller: each run whose locks are free at once is staged
    /// here and its commit awaited without holding a thread (`Engine::write_many_async`);
    /// a run that would wait for a lock goes to the blocking pool instead.
    pub async fn write_rows_async(
        self: Arc<Self>,
        rows: Vec<(RowWrite, Condition, ReturnKind)>,
    ) -> Vec<OtsResult<WriteOutcome>> {
        let mut results = Vec::with_capacity(rows.len());
        for run in self.prepare_runs(rows) {
            results.extend(Arc::clone(&self).write_run_async(run).await);
        }
        results
    }

    /// Prepares `rows` and cuts them into runs in which no row key repeats (a row touched
    /// twice must see its earlier write, so runs commit one after the other, in order).
    fn prepare_runs(&self, rows: Vec<(RowWrite, Condition, ReturnKind)>) -> Vec<Vec<PreparedRow>> {
        let mut runs = Vec::new();
        let mut run = Vec::new();
        let mut keys = std::collections::HashSet::new();
        for (write, condition, ret) in rows {
            let prepared = self.prepare(write, &condition, false);
            // A generated key is new, so only given keys can repeat within the request.
            if let Some(p) = prepared.as_ref().ok().filter(|p| !p.generated) {
                if !keys.insert(p.row_key.clone()) {
                    runs.push(std::mem::take(&mut run));
                    keys.clear();
                    keys.insert(p.row_key.clone());
                }
            }
            run.push((prepared, condition, ret));
        }
        runs.push(run);
        runs
    }

    /// An atomic BatchWriteRow (`is_atomic`) on one table: every row is checked first and
    /// either all are applied, as one engine batch, or none is. A row that fails answers its
    /// own error; every other row answers that the batch was not applied.
    ///
    /// Errors (request level): 400 when the rows do not share one partition key or one row
    /// is written twice (later rows could not see earlier ones inside one atomic batch).
    pub fn write_rows_atomic(
        &self,
        rows: Vec<(RowWrite, Condition, ReturnKind)>,
    ) -> OtsResult<Vec<OtsResult<WriteOutcome>>> {
        let partitions: Vec<Option<&PkInput>> = rows
            .iter()
            .map(|(write, _, _)| write.primary_key().first().map(|(_, v)| v))
            .collect();
        if partitions.windows(2).any(|w| w[0] != w[1]) {
            return Err(OtsError::param(
                "All rows of an atomic batch must have the same partition key.",
            ));
        }
        let mut prepared = Vec::with_capacity(rows.len());
        for (write, condition, ret) in rows {
            prepared.push((self.prepare(write, &condition, false), condition, ret));
        }
        let mut keys: Vec<&[u8]> = prepared
            .iter()
            .filter_map(|(p, _, _)| p.as_ref().ok().map(|p| p.row_key.as_slice()))
            .collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(OtsError::param(
                "An atomic batch can't write the same row twice.",
            ));
        }
        let mut batch = WriteBatch::new();
        let (_guards, staged) = self.lock_and_stage(&prepared, |row_batch| batch.append(row_batch));
        let failure = staged
            .iter()
            .enumerate()
            .find_map(|(i, r)| r.as_ref().err().map(|e| (i, e.clone())));
        let committed = match failure {
            Some(failure) => Err(failure),
            None => self
                .engine()
                .write(batch)
                .map(|_| ())
                .map_err(|e| (usize::MAX, OtsError::from(e))),
        };
        Ok(prepared
            .iter()
            .zip(staged)
            .enumerate()
            .map(|(i, ((p, _, ret), staged))| match &committed {
                Err((at, e)) if *at == i => Err(e.clone()),
                Err((at, e)) => Err(not_applied(*at, e)),
                Ok(()) => {
                    let consumed = staged?;
                    let p = p.as_ref().map_err(Clone::clone)?;
                    let returned = self.returned_row(&p.pk, &p.row_key, ret, None)?;
                    Ok(WriteOutcome { consumed, returned })
                }
            })
            .collect())
    }

    /// Writes rows with distinct keys in one commit group.
    ///
    /// Locks are taken in one global order (partition gates, then row keys, each
    /// sorted) so that concurrent batches cannot deadlock. A row whose key was just generated
    /// by auto-increment needs no row lock: no other writer can know that key yet.
    fn write_run(&self, run: Vec<PreparedRow>) -> Vec<OtsResult<WriteOutcome>> {
        let mut batches = Vec::with_capacity(run.len());
        let (_guards, staged) = self.lock_and_stage(&run, |batch| batches.push(batch));
        let committed = self.engine().write_many(batches);
        self.run_outcomes(&run, staged, committed)
    }

    /// `write_run` for an async caller (see `write_rows_async`).
    async fn write_run_async(
        self: Arc<Self>,
        run: Vec<PreparedRow>,
    ) -> Vec<OtsResult<WriteOutcome>> {
        let Some(guards) = self.take_guards(&run, false) else {
            let rows = run.len();
            let table = Arc::clone(&self);
            let blocking = tokio::task::spawn_blocking(move || table.write_run(run));
            return blocking
                .await
                .unwrap_or_else(|_| (0..rows).map(|_| Err(OtsError::internal())).collect());
        };
        let mut batches = Vec::with_capacity(run.len());
        let staged = self.stage_rows(&run, &guards.0, |batch| batches.push(batch));
        let committed = self.engine().write_many_async(batches).await;
        let outcomes = self.run_outcomes(&run, staged, committed);
        drop(guards);
        outcomes
    }

    /// Each row's answer once its run's commits are done: its staging error, its commit
    /// error, or its outcome. `committed` holds one result per staged row, in order.
    fn run_outcomes(
        &self,
        run: &[PreparedRow],
        staged: Vec<OtsResult<Consumed>>,
        committed: Vec<engine::Result<engine::SeqNo>>,
    ) -> Vec<OtsResult<WriteOutcome>> {
        let mut committed = committed.into_iter();
        run.iter()
            .zip(staged)
            .map(|((p, _, ret), staged)| {
                let consumed = staged?;
                committed.next().unwrap_or(Err(engine::Error::Poisoned))?;
                let p = p.as_ref().map_err(Clone::clone)?;
                let returned = self.returned_row(&p.pk, &p.row_key, ret, None)?;
                Ok(WriteOutcome { consumed, returned })
            })
            .collect()
    }

    /// Takes the partition gates and row locks of `rows` in the global order (gates, then
    /// row keys, each sorted), then checks and stages each prepared row, handing its batch
    /// to `sink`. The returned guards must be held until the batches are committed.
    fn lock_and_stage(
        &self,
        rows: &[PreparedRow],
        sink: impl FnMut(WriteBatch),
    ) -> (WriteGuards<'_>, Vec<OtsResult<Consumed>>) {
        let guards = self
            .take_guards(rows, true)
            .unwrap_or_else(|| unreachable!("waiting for the guards takes them all"));
        let staged = self.stage_rows(rows, &guards.0, sink);
        (guards, staged)
    }

    /// The guards a run of `rows` is staged and committed under: the index list (shared),
    /// the partition gates and the row locks, in the global order. With `wait` false, `None`
    /// as soon as one is held elsewhere, with nothing kept.
    fn take_guards(&self, rows: &[PreparedRow], wait: bool) -> Option<WriteGuards<'_>> {
        let ok = || rows.iter().filter_map(|(p, _, _)| p.as_ref().ok());
        let mut gates: Vec<usize> = ok()
            .filter_map(|p| p.pk.first())
            .map(|(_, v)| stripe(&partition_key(v), PARTITION_GATE_STRIPES))
            .collect();
        gates.sort_unstable();
        gates.dedup();
        let mut gate_guards = Vec::with_capacity(gates.len());
        for gate in gates
            .into_iter()
            .filter_map(|i| self.partition_gates.get(i))
        {
            gate_guards.push(if wait { gate.read() } else { gate.try_read()? });
        }
        let keys = ok().filter(|p| !p.generated).map(|p| p.row_key.as_slice());
        let locks = match wait {
            true => self.row_locks.lock_all(keys),
            false => self.row_locks.try_lock_all(keys)?,
        };
        let indexes = if wait {
            self.indexes.read()
        } else {
            self.indexes.try_read()?
        };
        Some((indexes, gate_guards, locks))
    }

    /// Checks and stages each prepared row of `rows` under its guards, handing each batch
    /// to `sink`; the capacity each row consumed, or its error.
    fn stage_rows(
        &self,
        rows: &[PreparedRow],
        indexes: &IndexGuard<'_>,
        mut sink: impl FnMut(WriteBatch),
    ) -> Vec<OtsResult<Consumed>> {
        rows.iter()
            .map(|(p, condition, _)| {
                let p = p.as_ref().map_err(Clone::clone)?;
                self.check_partition_free(&p.pk)?;
                let (batch, consumed) = self.stage(p, condition, None, indexes)?;
                sink(batch);
                Ok(consumed)
            })
            .collect()
    }

    /// Errors with 409 when a transaction holds `pk`'s partition (caller holds its gate).
    fn check_partition_free(&self, pk: &PrimaryKey) -> OtsResult<()> {
        match pk.first() {
            Some((_, v)) if self.holder(&partition_key(v)).is_some() => {
                Err(transaction::conflict())
            }
            _ => Ok(()),
        }
    }

    /// Validates a row write against the schema and limits and resolves its key.
    fn prepare(
        &self,
        write: RowWrite,
        condition: &Condition,
        in_txn: bool,
    ) -> OtsResult<PreparedWrite> {
        self.check_writable()?;
        let (kind, pk, changes) = match write {
            RowWrite::Put { pk, cells } => {
                self.check_changes(&cells, now_ms())?;
                if cells.iter().any(|c| !matches!(c, ColumnChange::Put { .. })) {
                    return Err(OtsError::param(
                        "Invalid request of put row: find cells without values.",
                    ));
                }
                (WriteKind::Put, pk, cells)
            }
            RowWrite::Update { pk, changes } => {
                self.check_update(&changes)?;
                (WriteKind::Update, pk, changes)
            }
            RowWrite::Delete { pk } => (WriteKind::Delete, pk, Vec::new()),
        };
        let (pk, generated) = self.resolve_pk(pk, kind, condition, in_txn)?;
        let row_key = self.row_key(pk.iter().map(|(_, v)| v));
        let size = pk_len(&pk) + changes.iter().map(ColumnChange::size_bytes).sum::<usize>();
        Ok(PreparedWrite {
            kind,
            pk,
            row_key,
            generated,
            changes,
            size,
        })
    }

    /// Checks `condition` against the stored row; the capacity the check and write cost.
    fn check_existence(
        &self,
        row_key: &[u8],
        condition: &Condition,
        size: usize,
        txn: Option<&TxnSession<'_>>,
    ) -> OtsResult<Consumed> {
        if condition.needs_read() {
            let row = self.stored_row(row_key, condition, txn)?;
            condition.check(row.as_ref())?;
            Ok(Consumed::checked_write(
                size,
                row.as_ref().map(RowData::size_bytes).unwrap_or(0),
            ))
        } else {
            Ok(Consumed::write(size))
        }
    }

    /// UpdateRow's own checks on its changes.
    fn check_update(&self, changes: &[ColumnChange]) -> OtsResult<()> {
        if changes.is_empty() {
            return Err(OtsError::param(
                "Invalid update row request: missing cells in request.",
            ));
        }
        if !self.options().allow_update {
            return Err(OtsError::param(
                "UpdateRow is not allowed on this table (allow_update is false).",
            ));
        }
        self.check_changes(changes, now_ms())?;
        for (i, change) in changes.iter().enumerate() {
            if changes[..i].iter().any(|c| c.name() == change.name()) {
                return Err(OtsError::param(format!(
                    "Duplicated column name: '{}' in UpdateRow.",
                    change.name()
                )));
            }
        }
        Ok(())
    }

    /// Checks the row's condition against stored data and builds its batch. The caller holds
    /// the row's gate and lock (or the key was generated), so check and write are atomic.
    /// The batch carries the changes the write makes to `indexes` too.
    fn stage(
        &self,
        p: &PreparedWrite,
        condition: &Condition,
        txn: Option<&TxnSession<'_>>,
        indexes: &[Index],
    ) -> OtsResult<(WriteBatch, Consumed)> {
        let mut consumed = self.check_existence(&p.row_key, condition, p.size, txn)?;
        let mut batch = WriteBatch::new();
        match p.kind {
            WriteKind::Put if p.changes.is_empty() => batch.put_row_marker(&p.row_key, None),
            WriteKind::Put => {
                // A freshly generated key has nothing to replace.
                if !p.generated {
                    batch.delete_row(&p.row_key);
                }
                self.stage_changes(&mut batch, p, None, now_ms())?;
            }
            WriteKind::Update => {
                let current = self.increment_bases(p, txn, &mut consumed)?;
                self.stage_changes(&mut batch, p, current.as_ref(), now_ms())?;
            }
            WriteKind::Delete => batch.delete_row(&p.row_key),
        }
        self.stage_index_changes(indexes, &p.pk, &p.row_key, p.generated, txn, &mut batch)?;
        Ok((batch, consumed))
    }

    /// The stored values an update's INCREMENTs add to (`None` when it has none).
    fn increment_bases(
        &self,
        p: &PreparedWrite,
        txn: Option<&TxnSession<'_>>,
        consumed: &mut Consumed,
    ) -> OtsResult<Option<RowData>> {
        let increments: Vec<Vec<u8>> = p
            .changes
            .iter()
            .filter_map(|c| match c {
                ColumnChange::Increment { name, .. } => Some(name.as_bytes().to_vec()),
                _ => None,
            })
            .collect();
        if increments.is_empty() {
            return Ok(None);
        }
        let read = ReadOptions {
            max_versions: 1,
            columns: Some(increments),
            ..ReadOptions::default()
        };
        consumed.read = consumed.read.max(1);
        match self.read_row(&p.row_key, &read, txn)? {
            Some(row) => Ok(Some(RowData::from_engine(self.schema(), row)?)),
            None => Ok(None),
        }
    }

    /// Appends the cell operations of `p`'s changes; INCREMENTs add to `current`.
    fn stage_changes(
        &self,
        batch: &mut WriteBatch,
        p: &PreparedWrite,
        current: Option<&RowData>,
        now: i64,
    ) -> OtsResult<()> {
        let row_key = &p.row_key;
        for change in &p.changes {
            match change {
                ColumnChange::Put {
                    name,
                    value,
                    timestamp_ms,
                } => {
                    batch.put(row_key, name.as_bytes(), *timestamp_ms, &value.encode());
                }
                ColumnChange::DeleteOneVersion { name, timestamp_ms } => {
                    batch.delete_version(row_key, name.as_bytes(), *timestamp_ms);
                }
                ColumnChange::DeleteAllVersions { name } => {
                    batch.delete_column(row_key, name.as_bytes())
                }
                ColumnChange::Increment { name, delta } => {
                    let latest = current.and_then(|r| r.latest(name));
                    let (base, version) = match latest {
                        None => (0, now),
                        Some(v) => match v.value {
                            // Newest even if the old version is in the future: at that same
                            // version the newer record decides. Never old + 1: within one ms
                            // that runs ahead of the clock and hides later writes at clock time.
                            Value::Integer(i) => (i, now.max(v.timestamp_ms)),
                            _ => {
                                return Err(OtsError::param(format!(
                                    "Can't increment column '{name}': its value is not an integer."
                                )))
                            }
                        },
                    };
                    // The service refuses an overflow rather than wrapping (atomic counter docs).
                    let sum = base.checked_add(*delta).ok_or_else(|| {
                        OtsError::param(format!(
                            "Can't increment column '{name}': {base} + {delta} overflows a 64-bit integer."
                        ))
                    })?;
                    batch.put(
                        row_key,
                        name.as_bytes(),
                        Some(version),
                        &Value::Integer(sum).encode(),
                    );
                }
            }
        }
        Ok(())
    }
}

/// The answer of a row of an atomic batch that another row (`at`, or the commit itself when
/// `at` is `usize::MAX`) made fail: same code, saying why nothing was applied.
fn not_applied(at: usize, cause: &OtsError) -> OtsError {
    let why = match at {
        usize::MAX => format!("the atomic batch was not applied: {}", cause.message),
        _ => format!(
            "the atomic batch was not applied: row {at} failed: {}",
            cause.message
        ),
    };
    OtsError::new(cause.code, why)
}

impl RowWrite {
    /// The primary key as requested.
    pub fn primary_key(&self) -> &[(String, PkInput)] {
        match self {
            RowWrite::Put { pk, .. } | RowWrite::Update { pk, .. } | RowWrite::Delete { pk } => pk,
        }
    }
}

/// A single-row write as requested, before validation.
#[derive(Debug, Clone, PartialEq)]
pub enum RowWrite {
    /// PutRow: replace the row by these cells (puts only).
    Put {
        pk: Vec<(String, PkInput)>,
        cells: Vec<ColumnChange>,
    },
    /// UpdateRow: apply these changes.
    Update {
        pk: Vec<(String, PkInput)>,
        changes: Vec<ColumnChange>,
    },
    /// DeleteRow.
    Delete { pk: Vec<(String, PkInput)> },
}

/// A row write validated and keyed, not yet checked against stored data.
#[derive(Debug)]
struct PreparedWrite {
    kind: WriteKind,
    pk: PrimaryKey,
    row_key: Vec<u8>,
    /// The key holds a freshly generated auto-increment value.
    generated: bool,
    changes: Vec<ColumnChange>,
    /// Bytes the write counts for (capacity).
    size: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::condition::RowExistence;
    use crate::table::row::ReadSpec;
    use crate::table::schema::{
        CapacityUnits, PkColumnSchema, PkType, TableOptionsPatch, TableSchema,
    };
    use crate::table::Catalog;
    use std::sync::Arc;

    fn open(dir: &std::path::Path) -> (Catalog, Arc<Table>) {
        let catalog = Catalog::open(dir).unwrap();
        let schema = TableSchema {
            table_name: "t".into(),
            primary_key: vec![PkColumnSchema {
                name: "k".into(),
                pk_type: PkType::Integer,
                auto_increment: false,
            }],
            defined_columns: vec![],
        };
        catalog
            .create_table(
                "i",
                schema,
                &TableOptionsPatch::default(),
                CapacityUnits::default(),
            )
            .unwrap();
        let t = catalog.table("i", "t").unwrap();
        (catalog, t)
    }

    fn pk(k: i64) -> Vec<(String, PkInput)> {
        vec![("k".into(), PkInput::Value(PkValue::Integer(k)))]
    }

    fn put(k: i64, v: i64) -> RowWrite {
        RowWrite::Put {
            pk: pk(k),
            cells: vec![ColumnChange::Put {
                name: "v".into(),
                value: Value::Integer(v),
                timestamp_ms: None,
            }],
        }
    }

    fn incr(k: i64) -> RowWrite {
        RowWrite::Update {
            pk: pk(k),
            changes: vec![ColumnChange::Increment {
                name: "v".into(),
                delta: 1,
            }],
        }
    }

    fn plain(w: RowWrite) -> (RowWrite, Condition, ReturnKind) {
        (w, Condition::default(), ReturnKind::None)
    }

    fn expecting(w: RowWrite, row_existence: RowExistence) -> (RowWrite, Condition, ReturnKind) {
        let condition = Condition {
            row_existence,
            column_condition: None,
        };
        (w, condition, ReturnKind::None)
    }

    fn value(t: &Table, k: i64) -> Option<Value> {
        let spec = ReadSpec {
            max_versions: Some(1),
            ..Default::default()
        };
        let (row, _) = t.get_row_in(pk(k), &spec, None).unwrap();
        row.and_then(|r| r.latest("v").map(|c| c.value.clone()))
    }

    /// Writes a BatchWriteRow run through the blocking path or the async one.
    fn write_rows_via(
        t: &Arc<Table>,
        rows: Vec<(RowWrite, Condition, ReturnKind)>,
        async_path: bool,
    ) -> Vec<OtsResult<WriteOutcome>> {
        if !async_path {
            return t.write_rows(rows);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(Arc::clone(t).write_rows_async(rows))
    }

    #[test]
    fn batched_rows_answer_one_by_one_and_are_all_applied() {
        for async_path in [false, true] {
            batched_rows_answer_one_by_one(async_path);
        }
    }

    fn batched_rows_answer_one_by_one(async_path: bool) {
        let dir = tempfile::tempdir().unwrap();
        let (_catalog, t) = open(dir.path());
        t.put_row(pk(2), vec![], &Condition::default(), &ReturnKind::None)
            .unwrap();
        let rows = vec![
            plain(put(1, 10)),
            expecting(put(3, 30), RowExistence::ExpectExist),
            expecting(incr(2), RowExistence::ExpectExist),
            expecting(RowWrite::Delete { pk: pk(4) }, RowExistence::Ignore),
            plain(RowWrite::Update {
                pk: pk(5),
                changes: vec![],
            }),
        ];
        let results = write_rows_via(&t, rows, async_path);
        assert!(results[0].is_ok());
        assert_eq!(
            results[1].as_ref().unwrap_err().code,
            crate::error::ErrorCode::ConditionCheckFail
        );
        assert!(results[2].is_ok());
        assert!(results[3].is_ok());
        assert_eq!(
            results[4].as_ref().unwrap_err().code,
            crate::error::ErrorCode::ParameterInvalid
        );
        assert_eq!(value(&t, 1), Some(Value::Integer(10)));
        assert_eq!(value(&t, 2), Some(Value::Integer(1)));
        assert_eq!(value(&t, 3), None);
    }

    #[test]
    fn an_update_right_after_an_increment_is_not_hidden_by_it() {
        // Rounds run well inside one ms, where an increment versioned ahead of the clock would
        // outrank the next write's clock-time version.
        let dir = tempfile::tempdir().unwrap();
        let (_catalog, t) = open(dir.path());
        let no_condition = Condition::default();
        for round in 0..200 {
            t.write_row_in(put(1, 0), &no_condition, &ReturnKind::None, None)
                .unwrap();
            t.write_row_in(incr(1), &no_condition, &ReturnKind::None, None)
                .unwrap();
            let reset = RowWrite::Update {
                pk: pk(1),
                changes: vec![ColumnChange::Put {
                    name: "v".into(),
                    value: Value::Integer(100),
                    timestamp_ms: None,
                }],
            };
            t.write_row_in(reset, &no_condition, &ReturnKind::None, None)
                .unwrap();
            assert_eq!(value(&t, 1), Some(Value::Integer(100)), "round {round}");
        }
    }

    #[test]
    fn a_row_written_twice_in_one_batch_sees_its_earlier_write() {
        for async_path in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let (_catalog, t) = open(dir.path());
            let rows = vec![
                plain(put(7, 5)),
                expecting(incr(7), RowExistence::ExpectExist),
                plain(incr(7)),
            ];
            let results = write_rows_via(&t, rows, async_path);
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            assert_eq!(value(&t, 7), Some(Value::Integer(7)));
        }
    }

    #[test]
    fn an_async_batch_waits_for_a_held_row_lock_on_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let (_catalog, t) = open(dir.path());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let held = t.row_locks.lock(&t.row_key([&PkValue::Integer(3)]));
        let batch =
            rt.spawn(Arc::clone(&t).write_rows_async(vec![plain(put(3, 1)), plain(put(4, 2))]));
        rt.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(50)).await });
        assert!(!batch.is_finished(), "the batch must wait for the lock");
        assert_eq!(
            value(&t, 4),
            None,
            "nothing of the run is applied before it"
        );
        drop(held);
        let results = rt.block_on(batch).unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(value(&t, 3), Some(Value::Integer(1)));
        assert_eq!(value(&t, 4), Some(Value::Integer(2)));
    }

    #[test]
    fn concurrent_async_and_blocking_batches_over_shared_rows_lose_no_increment() {
        let dir = tempfile::tempdir().unwrap();
        let (_catalog, t) = open(dir.path());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let rows = |reverse: bool| {
            let mut keys: Vec<i64> = (0..20).collect();
            if reverse {
                keys.reverse();
            }
            keys.into_iter().map(|k| plain(incr(k))).collect::<Vec<_>>()
        };
        let tasks: Vec<_> = (0..4)
            .map(|n| {
                let t = Arc::clone(&t);
                rt.spawn(async move {
                    for _ in 0..50 {
                        let results = Arc::clone(&t).write_rows_async(rows(n % 2 == 1)).await;
                        assert!(results.iter().all(Result::is_ok), "{results:?}");
                    }
                })
            })
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|n| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        assert!(t.write_rows(rows(n == 1)).iter().all(Result::is_ok));
                    }
                })
            })
            .collect();
        for task in tasks {
            rt.block_on(task).unwrap();
        }
        for th in threads {
            th.join().unwrap();
        }
        for k in 0..20 {
            assert_eq!(value(&t, k), Some(Value::Integer(300)));
        }
    }

    #[test]
    fn concurrent_batches_over_shared_rows_neither_deadlock_nor_lose_increments() {
        let dir = tempfile::tempdir().unwrap();
        let (_catalog, t) = open(dir.path());
        let threads: Vec<_> = (0..4)
            .map(|n| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        // Opposite key orders in alternate threads would deadlock naive locking.
                        let mut keys: Vec<i64> = (0..20).collect();
                        if n % 2 == 1 {
                            keys.reverse();
                        }
                        let rows = keys.into_iter().map(|k| plain(incr(k))).collect();
                        assert!(t.write_rows(rows).iter().all(Result::is_ok));
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        for k in 0..20 {
            assert_eq!(value(&t, k), Some(Value::Integer(200)));
        }
    }

    #[test]
    fn timestamps_must_lie_within_the_deviation_and_ttl() {
        let now = 1_700_000_000_000;
        let opts = TableOptions::default();
        assert!(check_timestamp(&opts, "c", now, now).is_ok());
        assert!(check_timestamp(&opts, "c", now - 86_400_000, now).is_ok());
        let e = check_timestamp(&opts, "c", now - 86_401_000, now).unwrap_err();
        assert_eq!(e.message, "Invalid timestamp. Cell:c.");
        assert!(check_timestamp(&opts, "c", now + 86_401_000, now).is_err());
        assert!(check_timestamp(&opts, "c", -1, now).is_err());
        let short_ttl = TableOptions {
            time_to_live_secs: 100,
            deviation_cell_version_in_sec: 1000,
            ..opts
        };
        assert!(check_timestamp(&short_ttl, "c", now - 200_000, now).is_err());
        assert!(check_timestamp(&short_ttl, "c", now - 50_000, now).is_ok());
    }
}
