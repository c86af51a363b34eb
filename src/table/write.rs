//! PutRow, UpdateRow and DeleteRow on a table: validation against the schema and limits,
//! auto-increment resolution, the existence check under the row's lock, and one atomic
//! `WriteBatch` per row.

use parking_lot::RwLockReadGuard;

use crate::engine::{self, key, PkValue, ReadOptions, WriteBatch};
use crate::error::{OtsError, OtsResult};
use crate::table::capacity::Consumed;
use crate::table::condition::Condition;
use crate::table::limits;
use crate::table::row::{pk_len, ColumnChange, PrimaryKey, RowData};
use crate::table::schema::{validate_column_name, validate_pk, PkInput, PkUse, TableOptions};
use crate::table::transaction::{partition_key, TxnSession};
use crate::table::value::Value;
use crate::table::Table;

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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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
    ) -> OtsResult<PrimaryKey> {
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
        let partition = match pk.first() {
            Some((_, PkInput::Value(v))) => key::encode_row_key(std::slice::from_ref(v)),
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(pk.len());
        for (name, value) in pk {
            let value = match value {
                PkInput::Value(v) => v,
                PkInput::AutoIncrement => {
                    PkValue::Integer(self.engine().next_auto_increment(&partition)?)
                }
            };
            out.push((name, value));
        }
        Ok(out)
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
        self.put_row_in(pk, cells, condition, ret, None)
    }

    /// PutRow, inside `txn` when given (buffered there, seen only by its reads).
    ///
    /// Errors: as `put_row`, plus 400 for a placeholder or a row outside the transaction's
    /// partition, 409 when a transaction holds the partition and `txn` is `None`.
    pub fn put_row_in(
        &self,
        pk: Vec<(String, PkInput)>,
        cells: Vec<ColumnChange>,
        condition: &Condition,
        ret: &ReturnKind,
        mut txn: Option<&mut TxnSession<'_>>,
    ) -> OtsResult<WriteOutcome> {
        let now = now_ms();
        self.check_changes(&cells, now)?;
        if cells.iter().any(|c| !matches!(c, ColumnChange::Put { .. })) {
            return Err(OtsError::param(
                "Invalid request of put row: find cells without values.",
            ));
        }
        let pk = self.resolve_pk(pk, WriteKind::Put, condition, txn.is_some())?;
        let _gate = self.admit_write(&pk, txn.as_deref())?;
        let row_key = key::encode_row_key(&pk.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>());
        let mut batch = WriteBatch::new();
        if cells.is_empty() {
            batch.put_row_marker(&row_key, None);
        } else {
            batch.delete_row(&row_key);
            for cell in &cells {
                if let ColumnChange::Put {
                    name,
                    value,
                    timestamp_ms,
                } = cell
                {
                    batch.put(&row_key, name.as_bytes(), *timestamp_ms, &value.encode());
                }
            }
        }
        let size = pk_len(&pk) + cells.iter().map(ColumnChange::size_bytes).sum::<usize>();
        let _guard = self.lock_row(&row_key);
        let consumed = self.check_existence(&row_key, condition, size, txn.as_deref())?;
        self.apply_batch(batch, txn.as_deref_mut())?;
        let returned = self.returned_row(&pk, &row_key, ret, txn.as_deref())?;
        Ok(WriteOutcome { consumed, returned })
    }

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
        self.update_row_in(pk, changes, condition, ret, None)
    }

    /// UpdateRow, inside `txn` when given (see `put_row_in`).
    ///
    /// Errors: as `update_row` and `put_row_in`.
    pub fn update_row_in(
        &self,
        pk: Vec<(String, PkInput)>,
        changes: Vec<ColumnChange>,
        condition: &Condition,
        ret: &ReturnKind,
        mut txn: Option<&mut TxnSession<'_>>,
    ) -> OtsResult<WriteOutcome> {
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
        let now = now_ms();
        self.check_changes(&changes, now)?;
        for (i, change) in changes.iter().enumerate() {
            if changes[..i].iter().any(|c| c.name() == change.name()) {
                return Err(OtsError::param(format!(
                    "Duplicated column name: '{}' in UpdateRow.",
                    change.name()
                )));
            }
        }
        let pk = self.resolve_pk(pk, WriteKind::Update, condition, txn.is_some())?;
        let _gate = self.admit_write(&pk, txn.as_deref())?;
        let row_key = key::encode_row_key(&pk.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>());
        let size = pk_len(&pk) + changes.iter().map(ColumnChange::size_bytes).sum::<usize>();
        let _guard = self.lock_row(&row_key);
        let mut consumed = self.check_existence(&row_key, condition, size, txn.as_deref())?;
        let increments: Vec<&str> = changes
            .iter()
            .filter_map(|c| match c {
                ColumnChange::Increment { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        let current = if increments.is_empty() {
            None
        } else {
            let read = ReadOptions {
                max_versions: 1,
                columns: Some(increments.iter().map(|n| n.as_bytes().to_vec()).collect()),
                ..ReadOptions::default()
            };
            consumed.read = consumed.read.max(1);
            match self.read_row(&row_key, &read, txn.as_deref())? {
                Some(row) => Some(RowData::from_engine(self.schema(), row)?),
                None => None,
            }
        };
        let mut batch = WriteBatch::new();
        for change in &changes {
            match change {
                ColumnChange::Put {
                    name,
                    value,
                    timestamp_ms,
                } => {
                    batch.put(&row_key, name.as_bytes(), *timestamp_ms, &value.encode());
                }
                ColumnChange::DeleteOneVersion { name, timestamp_ms } => {
                    batch.delete_version(&row_key, name.as_bytes(), *timestamp_ms);
                }
                ColumnChange::DeleteAllVersions { name } => {
                    batch.delete_column(&row_key, name.as_bytes())
                }
                ColumnChange::Increment { name, delta } => {
                    let latest = current.as_ref().and_then(|r| r.latest(name));
                    let (base, version) = match latest {
                        None => (0, now),
                        Some(v) => match v.value {
                            // The new version must be newest even if the old one is in the future.
                            Value::Integer(i) => (i, now.max(v.timestamp_ms.saturating_add(1))),
                            _ => {
                                return Err(OtsError::param(format!(
                                    "Can't increment column '{name}': its value is not an integer."
                                )))
                            }
                        },
                    };
                    let sum = base.wrapping_add(*delta);
                    batch.put(
                        &row_key,
                        name.as_bytes(),
                        Some(version),
                        &Value::Integer(sum).encode(),
                    );
                }
            }
        }
        self.apply_batch(batch, txn.as_deref_mut())?;
        let returned = self.returned_row(&pk, &row_key, ret, txn.as_deref())?;
        Ok(WriteOutcome { consumed, returned })
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
        self.delete_row_in(pk, condition, ret, None)
    }

    /// DeleteRow, inside `txn` when given (see `put_row_in`).
    ///
    /// Errors: as `delete_row` and `put_row_in`.
    pub fn delete_row_in(
        &self,
        pk: Vec<(String, PkInput)>,
        condition: &Condition,
        ret: &ReturnKind,
        txn: Option<&mut TxnSession<'_>>,
    ) -> OtsResult<WriteOutcome> {
        let pk = self.resolve_pk(pk, WriteKind::Delete, condition, txn.is_some())?;
        let _gate = self.admit_write(&pk, txn.as_deref())?;
        let row_key = key::encode_row_key(&pk.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>());
        let mut batch = WriteBatch::new();
        batch.delete_row(&row_key);
        let _guard = self.lock_row(&row_key);
        let consumed = self.check_existence(&row_key, condition, pk_len(&pk), txn.as_deref())?;
        self.apply_batch(batch, txn)?;
        let returned = match ret {
            ReturnKind::None => None,
            _ => Some(RowData {
                primary_key: pk,
                columns: vec![],
            }),
        };
        Ok(WriteOutcome { consumed, returned })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
