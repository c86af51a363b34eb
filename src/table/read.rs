//! GetRow and GetRange on a table: key validation, the engine read, projection to
//! columns_to_get, and GetRange's paging rules (limit, 5000 rows, 4 MB, next start key).

use crate::engine::{key, Direction, PkValue};
use crate::error::{OtsError, OtsResult};
use crate::table::capacity::Consumed;
use crate::table::limits;
use crate::table::row::{pk_len, PrimaryKey, ReadSpec, RowData};
use crate::table::schema::{validate_pk, PkInput, PkUse};
use crate::table::Table;

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

fn encode(pk: &PrimaryKey) -> Vec<u8> {
    key::encode_row_key(&pk.iter().map(|(_, v)| v.clone()).collect::<Vec<PkValue>>())
}

impl Table {
    /// GetRow: the row at `pk`, shaped by `spec`; `None` when absent or projected away.
    ///
    /// Errors: key and spec errors (400), engine failures.
    pub fn get_row(
        &self,
        pk: Vec<(String, PkInput)>,
        spec: &ReadSpec,
    ) -> OtsResult<(Option<RowData>, Consumed)> {
        validate_pk(self.schema(), &pk, PkUse::Exact)?;
        spec.validate()?;
        let pk = concrete(pk);
        let row = self
            .engine()
            .get_row(&encode(&pk), &spec.read_options(self.schema()))?;
        let row = match row {
            Some(row) => spec.project(self.schema(), RowData::from_engine(self.schema(), row)?),
            None => None,
        };
        let bytes = row.as_ref().map(RowData::size_bytes).unwrap_or(0);
        Ok((row, Consumed::read(bytes)))
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
        let (start_key, end_key) = (encode(&start), encode(&end));
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
        let mut iter = self.engine().scan(
            &start_key,
            &end_key,
            direction,
            &spec.read_options(self.schema()),
        )?;
        let mut rows = Vec::new();
        let mut bytes = 0usize;
        let mut next_start = None;
        while let Some(row) = iter.next().transpose()? {
            let row = RowData::from_engine(self.schema(), row)?;
            if rows.len() >= max_rows || bytes >= limits::MAX_RANGE_BYTES {
                next_start = Some(row.primary_key);
                break;
            }
            bytes += pk_len(&row.primary_key);
            if let Some(row) = spec.project(self.schema(), row) {
                bytes += row.size_bytes() - pk_len(&row.primary_key);
                rows.push(row);
            }
        }
        Ok(RangePage {
            rows,
            next_start,
            consumed: Consumed::read(bytes),
        })
    }
}
