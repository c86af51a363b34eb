//! GetRow and GetRange on a table: key validation, the engine read, projection to
//! columns_to_get, and GetRange's paging rules (limit, 5000 rows, 4 MB, next start key).

use crate::engine::{self, Direction, RowIter};
use crate::error::{OtsError, OtsResult};
use crate::table::capacity::Consumed;
use crate::table::index;
use crate::table::limits;
use crate::table::row::{PrimaryKey, ReadSpec, RowData, RowView, RowViewSpace};
use crate::table::schema::{validate_pk, PkInput, PkUse};
use crate::table::transaction::TxnSession;
use crate::table::Table;

thread_local! {
    /// Each thread's buffer for point reads, reused so a GetRow allocates no engine row.
    static READ_BUF: std::cell::RefCell<engine::RowBuf> = Default::default();
}

/// A point-read buffer that grew past this (one huge row) is freed after the read.
const READ_BUF_KEEP_BYTES: usize = 1 << 20;

/// The rows one GetRange call returns.
#[derive(Debug, Clone, PartialEq)]
pub struct RangePage {
    /// Rows in scan order.
    pub rows: Vec<RowData>,
    /// Where the next call should start; `None` when the range is exhausted.
    pub next_start: Option<PrimaryKey>,
    /// Capacity consumed.
    pub consumed: Consumed,
}

fn concrete(pk: Vec<(String, PkInput)>) -> PrimaryKey {
    pk.into_iter()
        .filter_map(|(n, v)| match v {
            PkInput::Value(v) => Some((n, v)),
            PkInput::AutoIncrement => None,
        })
        .collect()
}

impl Table {
    fn encode(&self, pk: &PrimaryKey) -> Vec<u8> {
        self.row_key(pk.iter().map(|(_, v)| v))
    }

    fn decode_buf(&self, row: &engine::RowBuf) -> OtsResult<RowData> {
        RowData::from_row_buf_in(self.schema(), row, self.key_prefix.len())
    }

    fn decode_row(&self, row: engine::Row) -> OtsResult<RowData> {
        RowData::from_engine_in(self.schema(), row, self.key_prefix.len())
    }

    /// Keeps a base table's scan below the index key space (an INF_MAX bound sorts above
    /// it); an index's bounds already lie inside its own prefix.
    fn clamp_to_rows(&self, start: &mut Vec<u8>, end: &mut Vec<u8>, direction: Direction) {
        if !self.key_prefix.is_empty() {
            return;
        }
        let limit = index::base_space_end();
        let bound = match direction {
            Direction::Forward => end,
            Direction::Backward => start,
        };
        if *bound > limit {
            *bound = limit;
        }
    }

    /// GetRow: the row at `pk`, shaped by `spec`; `None` when absent or projected away.
    ///
    /// Errors: key and spec errors (400), engine failures.
    pub fn get_row(
        &self,
        pk: Vec<(String, PkInput)>,
        spec: &ReadSpec,
    ) -> OtsResult<(Option<RowData>, Consumed)> {
        self.get_row_in(pk, spec, None)
    }

    /// GetRow as `txn` sees the row (its buffered writes over committed data) when given.
    ///
    /// Errors: as `get_row`, plus 400 for a row outside the transaction's partition.
    pub fn get_row_in(
        &self,
        pk: Vec<(String, PkInput)>,
        spec: &ReadSpec,
        txn: Option<&TxnSession<'_>>,
    ) -> OtsResult<(Option<RowData>, Consumed)> {
        validate_pk(self.schema(), &pk, PkUse::Exact)?;
        spec.validate()?;
        let pk = concrete(pk);
        if let Some(txn) = txn {
            txn.check_partition(pk.first().map(|(_, v)| v))?;
        }
        let row_key = self.encode(&pk);
        let read = spec.read_options(self.schema());
        let row = match txn {
            Some(_) => match self.read_row(&row_key, &read, txn)? {
                Some(row) => Some(self.decode_row(row)?),
                None => None,
            },
            None => READ_BUF.with_borrow_mut(|buf| -> OtsResult<Option<RowData>> {
                let found = self.engine().get_row_into(&row_key, &read, buf)?;
                let row = match found {
                    true => Some(self.decode_buf(buf)?),
                    false => None,
                };
                buf.trim(READ_BUF_KEEP_BYTES);
                Ok(row)
            })?,
        };
        let row = row.and_then(|row| spec.project(self.schema(), row));
        let bytes = row.as_ref().map(RowData::size_bytes).unwrap_or(0);
        Ok((row, Consumed::read(bytes)))
    }

    /// GetRow outside a transaction for a spec without a filter: the row, if any, goes to
    /// `emit` as a view into the thread's read buffer, so no value is copied before the
    /// response encodes it. Returns the capacity consumed; errors as `get_row`.
    pub fn get_row_lent(
        &self,
        pk: Vec<(String, PkInput)>,
        spec: &ReadSpec,
        emit: impl FnOnce(&RowView<'_>),
    ) -> OtsResult<Consumed> {
        debug_assert!(spec.filter.is_none(), "a filter needs the owned row");
        validate_pk(self.schema(), &pk, PkUse::Exact)?;
        spec.validate()?;
        let row_key = self.encode(&concrete(pk));
        let read = spec.read_options(self.schema());
        let attrs = spec.attribute_columns(self.schema());
        READ_BUF.with_borrow_mut(|buf| {
            let mut bytes = 0;
            if self.engine().get_row_into(&row_key, &read, buf)? {
                let row = RowView::from_row_buf_in(self.schema(), buf, self.key_prefix.len())?;
                if let Ok(row) = spec.project_view(attrs.as_deref(), row) {
                    bytes = row.size_bytes();
                    emit(&row);
                }
            }
            buf.trim(READ_BUF_KEEP_BYTES);
            Ok(Consumed::read(bytes))
        })
    }

    /// GetRange: rows between `start` (inclusive) and `end` (exclusive) in `direction`.
    ///
    /// Errors: key, spec, limit and bound-order errors (400), engine failures.
    pub fn get_range(
        &self,
        start: Vec<(String, PkInput)>,
        end: Vec<(String, PkInput)>,
        direction: Direction,
        limit: Option<i32>,
        spec: &ReadSpec,
    ) -> OtsResult<RangePage> {
        self.get_range_in(start, end, direction, limit, spec, None)
    }

    /// GetRange as `txn` sees the range when given: both bounds must lie in its partition.
    ///
    /// Paging: `limit` caps the rows returned; the scan budget (5000 rows or 4 MB scanned)
    /// counts rows a filter drops too, so a page may hold no row yet carry a next start key.
    ///
    /// Errors: as `get_range`, plus 400 for bounds outside the transaction's partition.
    pub fn get_range_in(
        &self,
        start: Vec<(String, PkInput)>,
        end: Vec<(String, PkInput)>,
        direction: Direction,
        limit: Option<i32>,
        spec: &ReadSpec,
        txn: Option<&TxnSession<'_>>,
    ) -> OtsResult<RangePage> {
        let range = self.range_bounds(start, end, direction, limit, spec, txn)?;
        let read = spec.read_options(self.schema());
        let scan = self
            .engine()
            .scan(&range.start_key, &range.end_key, direction, &read)?;
        let mut source = RangeSource {
            table: self,
            scan,
            peeked: None,
            touched: txn
                .map(|t| t.touched_rows(&range.start_key, &range.end_key, direction))
                .unwrap_or_default()
                .into_iter()
                .peekable(),
            direction,
            read: &read,
            txn,
        };
        let mut rows = Vec::new();
        let mut budget = PageBudget::new(range.max_rows);
        let mut next_start = None;
        while let Some(row) = source.next_row()? {
            if budget.is_spent(rows.len()) {
                next_start = Some(row.primary_key);
                break;
            }
            budget.charge(row.size_bytes());
            if let Some(row) = spec.project(self.schema(), row) {
                rows.push(row);
            }
        }
        Ok(RangePage {
            rows,
            next_start,
            consumed: Consumed::read(budget.bytes),
        })
    }

    /// GetRange outside a transaction for a spec without a filter: each returned row goes
    /// to `emit` as a view into the engine's lent buffer, so no value is copied before the
    /// response encodes it. Paging and errors as `get_range`; the returned page holds no rows.
    pub fn get_range_lent(
        &self,
        start: Vec<(String, PkInput)>,
        end: Vec<(String, PkInput)>,
        direction: Direction,
        limit: Option<i32>,
        spec: &ReadSpec,
        mut emit: impl FnMut(&RowView<'_>),
    ) -> OtsResult<RangePage> {
        debug_assert!(spec.filter.is_none(), "a filter needs the owned rows");
        let range = self.range_bounds(start, end, direction, limit, spec, None)?;
        let read = spec.read_options(self.schema());
        let attrs = spec.attribute_columns(self.schema());
        let mut scan = self
            .engine()
            .scan(&range.start_key, &range.end_key, direction, &read)?;
        let mut budget = PageBudget::new(range.max_rows);
        let mut returned = 0;
        let mut next_start = None;
        let mut space = RowViewSpace::default();
        while let Some(buf) = scan.next_ref()? {
            let row =
                RowView::decode_reusing(self.schema(), buf, self.key_prefix.len(), &mut space)?;
            if budget.is_spent(returned) {
                next_start = Some(row.owned_key());
                break;
            }
            budget.charge(row.size_bytes());
            match spec.project_view(attrs.as_deref(), row) {
                Ok(row) => {
                    emit(&row);
                    returned += 1;
                    space.recycle(row);
                }
                Err(emptied) => space.recycle(emptied),
            }
        }
        Ok(RangePage {
            rows: Vec::new(),
            next_start,
            consumed: Consumed::read(budget.bytes),
        })
    }

    /// Checks a GetRange's bounds, spec and limit and encodes the bounds as engine keys.
    fn range_bounds(
        &self,
        start: Vec<(String, PkInput)>,
        end: Vec<(String, PkInput)>,
        direction: Direction,
        limit: Option<i32>,
        spec: &ReadSpec,
        txn: Option<&TxnSession<'_>>,
    ) -> OtsResult<RangeBounds> {
        validate_pk(self.schema(), &start, PkUse::RangeBound)?;
        validate_pk(self.schema(), &end, PkUse::RangeBound)?;
        spec.validate()?;
        let max_rows = match limit {
            Some(n) if n <= 0 => return Err(OtsError::param("The limit must be greater than 0.")),
            Some(n) => usize::try_from(n)
                .unwrap_or(limits::MAX_RANGE_ROWS)
                .min(limits::MAX_RANGE_ROWS),
            None => limits::MAX_RANGE_ROWS,
        };
        let (start, end) = (concrete(start), concrete(end));
        let (mut start_key, mut end_key) = (self.encode(&start), self.encode(&end));
        match direction {
            Direction::Forward if start_key >= end_key => {
                return Err(OtsError::param(
                    "Begin key must less than end key in FORWARD",
                ));
            }
            Direction::Backward if start_key <= end_key => {
                return Err(OtsError::param(
                    "Begin key must more than end key in BACKWARD",
                ));
            }
            _ => {}
        }
        if let Some(txn) = txn {
            txn.check_partition(start.first().map(|(_, v)| v))?;
            txn.check_partition(end.first().map(|(_, v)| v))?;
        }
        self.clamp_to_rows(&mut start_key, &mut end_key, direction);
        Ok(RangeBounds {
            start_key,
            end_key,
            max_rows,
        })
    }
}

/// A checked GetRange: engine keys of its bounds and the most rows a page returns.
struct RangeBounds {
    start_key: Vec<u8>,
    end_key: Vec<u8>,
    max_rows: usize,
}

/// Where a GetRange page ends: its row limit, or 5000 rows or 4 MB scanned (rows a filter
/// or projection drops count too).
struct PageBudget {
    max_rows: usize,
    scanned_rows: usize,
    bytes: usize,
}

impl PageBudget {
    fn new(max_rows: usize) -> Self {
        PageBudget {
            max_rows,
            scanned_rows: 0,
            bytes: 0,
        }
    }

    /// Whether the page is full with `returned` rows in it; the next row starts the next page.
    fn is_spent(&self, returned: usize) -> bool {
        returned >= self.max_rows
            || self.scanned_rows >= limits::MAX_RANGE_ROWS
            || self.bytes >= limits::MAX_RANGE_BYTES
    }

    /// Counts a scanned row of `bytes`.
    fn charge(&mut self, bytes: usize) {
        self.scanned_rows += 1;
        self.bytes += bytes;
    }
}

/// The rows of a GetRange: the engine's scan, with a transaction's changed rows merged in
/// (read through the transaction) when there is one.
struct RangeSource<'a, 't> {
    table: &'a Table,
    scan: RowIter,
    /// The next scanned row (encoded key, decoded row), held while merging touched rows.
    peeked: Option<(Vec<u8>, RowData)>,
    // Row keys the transaction changed inside the range, in scan order.
    touched: std::iter::Peekable<std::vec::IntoIter<Vec<u8>>>,
    direction: Direction,
    read: &'a engine::ReadOptions,
    txn: Option<&'a TxnSession<'t>>,
}

impl RangeSource<'_, '_> {
    fn next_row(&mut self) -> OtsResult<Option<RowData>> {
        let table = self.table;
        if self.peeked.is_none() && self.touched.peek().is_none() {
            // Nothing to merge: decode straight from the scan's lent row.
            return match self.scan.next_ref()? {
                Some(row) => Ok(Some(table.decode_buf(row)?)),
                None => Ok(None),
            };
        }
        loop {
            if self.peeked.is_none() {
                if let Some(row) = self.scan.next_ref()? {
                    self.peeked = Some((row.key().to_vec(), table.decode_buf(row)?));
                }
            }
            let take_touched = match (self.touched.peek(), &self.peeked) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(t), Some((key, _))) => match self.direction {
                    Direction::Forward => t <= key,
                    Direction::Backward => t >= key,
                },
            };
            if !take_touched {
                return Ok(self.peeked.take().map(|(_, row)| row));
            }
            let Some(row_key) = self.touched.next() else {
                return Ok(self.peeked.take().map(|(_, row)| row));
            };
            if self.peeked.as_ref().is_some_and(|(key, _)| *key == row_key) {
                self.peeked = None;
            }
            // A row the transaction deleted reads as `None`: skip to the next one.
            if let Some(row) = self.table.read_row(&row_key, self.read, self.txn)? {
                return Ok(Some(table.decode_row(row)?));
            }
        }
    }
}
