//! Rows as the table layer speaks them: primary keys, attribute cells with versions, the
//! changes a write makes, and what a read asks for (columns_to_get, time range, versions).

use crate::engine::{self, key, PkValue};
use crate::error::{OtsError, OtsResult};
use crate::log_limit::{LogLimit, REPEAT_INTERVAL};
use crate::table::filter::Filter;
use crate::table::limits;
use crate::table::schema::TableSchema;
use crate::table::value::{Value, ValueView};

/// A primary key with its column names, in schema order.
pub type PrimaryKey = Vec<(String, PkValue)>;

/// One version of an attribute column.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Timestamp in milliseconds.
    pub timestamp_ms: i64,
    /// The value.
    pub value: Value,
}

/// One attribute column with its visible versions, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Versions, newest first; never empty.
    pub versions: Vec<Version>,
}

/// A row as a read returns it: primary key and attribute columns in ascending name order.
#[derive(Debug, Clone, PartialEq)]
pub struct RowData {
    /// The primary key.
    pub primary_key: PrimaryKey,
    /// Attribute columns, ascending by name.
    pub columns: Vec<Column>,
}

/// Bytes a primary-key value counts for (capacity and response budgets).
pub fn pk_value_len(value: &PkValue) -> usize {
    match value {
        PkValue::Integer(_) => 8,
        PkValue::String(s) => s.len(),
        PkValue::Binary(b) => b.len(),
        PkValue::InfMin | PkValue::InfMax => 1,
    }
}

/// Bytes of a primary key (names + values).
pub fn pk_len(pk: &PrimaryKey) -> usize {
    pk.iter().map(|(n, v)| n.len() + pk_value_len(v)).sum()
}

/// The error for stored bytes that do not decode, logged with the table name.
fn corrupt(schema: &TableSchema, what: &str) -> OtsError {
    static LOG: LogLimit = LogLimit::new(REPEAT_INTERVAL);
    if let Some(held_back) = LOG.admit() {
        tracing::error!(table = %schema.table_name, what, held_back, "stored row does not decode");
    }
    OtsError::internal()
}

/// A stored row key (without key-space prefix) as the values of the schema's key columns.
fn decode_stored_key(schema: &TableSchema, key_bytes: &[u8]) -> OtsResult<Vec<PkValue>> {
    let values = key::decode_row_key(key_bytes).ok_or_else(|| corrupt(schema, "row key"))?;
    if values.len() != schema.primary_key.len() {
        return Err(corrupt(schema, "row key column count"));
    }
    Ok(values)
}

/// Appends the cells of `row` to `cells`, borrowing names and values from it.
fn push_cells<'a>(
    schema: &TableSchema,
    row: &'a engine::RowBuf,
    cells: &mut Vec<CellView<'a>>,
) -> OtsResult<()> {
    for column in row.columns() {
        let name =
            std::str::from_utf8(column.name()).map_err(|_| corrupt(schema, "column name"))?;
        for cell in column.cells() {
            cells.push(CellView {
                name,
                timestamp_ms: cell.version_ms,
                value: ValueView::decode(cell.value).map_err(|e| corrupt(schema, e.what))?,
            });
        }
    }
    Ok(())
}

/// One version of an attribute column, borrowed from an engine row buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellView<'a> {
    /// Column name.
    pub name: &'a str,
    /// Timestamp in milliseconds.
    pub timestamp_ms: i64,
    /// The value.
    pub value: ValueView<'a>,
}

/// A read row whose cells stay in the engine's lent buffer: what a read without a filter
/// encodes straight into its response, with no owned copy of each value.
#[derive(Debug, Clone, PartialEq)]
pub struct RowView<'a> {
    /// The primary key, its names borrowed from the schema.
    pub primary_key: Vec<(&'a str, PkValue)>,
    /// Cells by column name ascending, each column's versions newest first.
    pub cells: Vec<CellView<'a>>,
}

/// The vectors of a `RowView`, kept from row to row so a scan decodes its rows without
/// allocating for each (`RowView::decode_reusing`, then `RowViewSpace::recycle`).
#[derive(Default)]
pub struct RowViewSpace {
    values: Vec<PkValue>,
    primary_key: Vec<(&'static str, PkValue)>,
    cells: Vec<CellView<'static>>,
    /// Buffers of the last row's STRING and BINARY key values, for the next row's.
    spare: Vec<Vec<u8>>,
}

/// Key-value buffers a `RowViewSpace` keeps at most (a primary key has up to 4 columns).
const MAX_SPARE_BUFFERS: usize = 4;

impl RowViewSpace {
    /// Takes back the vectors of a row that is done with.
    pub fn recycle(&mut self, mut row: RowView<'_>) {
        for (_, value) in row.primary_key.drain(..) {
            if self.spare.len() >= MAX_SPARE_BUFFERS {
                break;
            }
            match value {
                PkValue::String(s) => self.spare.push(s.into_bytes()),
                PkValue::Binary(b) => self.spare.push(b),
                _ => {}
            }
        }
        self.primary_key = relifetime(row.primary_key);
        self.cells = relifetime(row.cells);
    }
}

/// An empty vector with `v`'s allocation, for elements that differ from `T` only in their
/// lifetimes (same layout, so the standard library collects in place and keeps the buffer).
fn relifetime<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

impl<'a> RowView<'a> {
    /// `from_row_buf_in` with the vectors of `space` (give them back with
    /// `RowViewSpace::recycle`).
    ///
    /// Errors: as `from_row_buf_in`.
    pub fn decode_reusing(
        schema: &'a TableSchema,
        row: &'a engine::RowBuf,
        prefix_len: usize,
        space: &mut RowViewSpace,
    ) -> OtsResult<RowView<'a>> {
        let key_bytes = row.key().get(prefix_len..).unwrap_or(&[]);
        let values = &mut space.values;
        values.clear();
        key::decode_row_key_into(key_bytes, values, &mut space.spare)
            .ok_or_else(|| corrupt(schema, "row key"))?;
        if values.len() != schema.primary_key.len() {
            return Err(corrupt(schema, "row key column count"));
        }
        let mut primary_key: Vec<(&'a str, PkValue)> =
            relifetime(std::mem::take(&mut space.primary_key));
        let names = schema.primary_key.iter().map(|c| c.name.as_str());
        primary_key.extend(names.zip(values.drain(..)));
        let mut cells: Vec<CellView<'a>> = relifetime(std::mem::take(&mut space.cells));
        push_cells(schema, row, &mut cells)?;
        Ok(RowView { primary_key, cells })
    }

    /// Decodes the row an engine scan or point read lent, whose key starts with
    /// `prefix_len` bytes of key-space prefix.
    ///
    /// Errors: 500 when stored bytes do not decode (logged with the table name).
    pub fn from_row_buf_in(
        schema: &'a TableSchema,
        row: &'a engine::RowBuf,
        prefix_len: usize,
    ) -> OtsResult<RowView<'a>> {
        Self::decode_reusing(schema, row, prefix_len, &mut RowViewSpace::default())
    }

    /// Bytes this row counts for, as `RowData::size_bytes`.
    pub fn size_bytes(&self) -> usize {
        let cells: usize = self
            .cells
            .iter()
            .map(|c| c.name.len() + c.value.payload_len() + 8)
            .sum();
        let key: usize = self
            .primary_key
            .iter()
            .map(|(n, v)| n.len() + pk_value_len(v))
            .sum();
        key + cells
    }

    /// The primary key with owned names.
    pub fn owned_key(&self) -> PrimaryKey {
        let columns = self.primary_key.iter();
        columns.map(|(n, v)| (n.to_string(), v.clone())).collect()
    }
}

impl RowData {
    /// Decodes an engine row (its key by the schema, its values by `value`).
    ///
    /// Errors: 500 when stored bytes do not decode (logged with the table name).
    pub fn from_engine(schema: &TableSchema, row: engine::Row) -> OtsResult<RowData> {
        Self::from_engine_in(schema, row, 0)
    }

    /// Like `from_engine` for a row whose key starts with `prefix_len` bytes of key-space
    /// prefix (an index row).
    pub fn from_engine_in(
        schema: &TableSchema,
        row: engine::Row,
        prefix_len: usize,
    ) -> OtsResult<RowData> {
        let columns = row.columns.iter().map(|c| {
            let cells = c
                .cells
                .iter()
                .map(|cell| (cell.version_ms, cell.value.as_slice()));
            (c.name.as_slice(), cells)
        });
        Self::decode(schema, row.key.get(prefix_len..).unwrap_or(&[]), columns)
    }

    /// Decodes a row lent by an engine scan or point read, without an owned copy first.
    ///
    /// Errors: as `from_engine`.
    pub fn from_row_buf(schema: &TableSchema, row: &engine::RowBuf) -> OtsResult<RowData> {
        Self::from_row_buf_in(schema, row, 0)
    }

    /// Like `from_row_buf` for a row whose key starts with `prefix_len` bytes of key-space
    /// prefix (an index row).
    pub fn from_row_buf_in(
        schema: &TableSchema,
        row: &engine::RowBuf,
        prefix_len: usize,
    ) -> OtsResult<RowData> {
        let columns = row.columns().map(|c| {
            let cells = c.cells().map(|cell| (cell.version_ms, cell.value));
            (c.name(), cells)
        });
        Self::decode(schema, row.key().get(prefix_len..).unwrap_or(&[]), columns)
    }

    fn decode<'a, C>(
        schema: &TableSchema,
        key_bytes: &[u8],
        stored: impl ExactSizeIterator<Item = (&'a [u8], C)>,
    ) -> OtsResult<RowData>
    where
        C: ExactSizeIterator<Item = (i64, &'a [u8])>,
    {
        let values = decode_stored_key(schema, key_bytes)?;
        let names = schema.primary_key.iter().map(|c| c.name.clone());
        let primary_key = names.zip(values).collect();
        let mut columns = Vec::with_capacity(stored.len());
        for (name, cells) in stored {
            let name = std::str::from_utf8(name).map_err(|_| corrupt(schema, "column name"))?;
            let mut versions = Vec::with_capacity(cells.len());
            for (version_ms, bytes) in cells {
                let value = Value::decode(bytes).map_err(|e| corrupt(schema, e.what))?;
                versions.push(Version {
                    timestamp_ms: version_ms,
                    value,
                });
            }
            if !versions.is_empty() {
                columns.push(Column {
                    name: name.to_string(),
                    versions,
                });
            }
        }
        Ok(RowData {
            primary_key,
            columns,
        })
    }

    /// Bytes this row counts for: key plus every version's name, value and timestamp.
    pub fn size_bytes(&self) -> usize {
        let cells: usize = self
            .columns
            .iter()
            .map(|c| {
                c.versions
                    .iter()
                    .map(|v| c.name.len() + v.value.payload_len() + 8)
                    .sum::<usize>()
            })
            .sum();
        pk_len(&self.primary_key) + cells
    }

    /// The newest version of `column`, if present.
    pub fn latest(&self, column: &str) -> Option<&Version> {
        self.columns
            .iter()
            .find(|c| c.name == column)
            .and_then(|c| c.versions.first())
    }
}

/// One change an UpdateRow (or PutRow, as puts only) makes to a column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnChange {
    /// Write a version (`None`: server time).
    Put {
        name: String,
        value: Value,
        timestamp_ms: Option<i64>,
    },
    /// Delete the version at exactly `timestamp_ms`.
    DeleteOneVersion { name: String, timestamp_ms: i64 },
    /// Delete every version.
    DeleteAllVersions { name: String },
    /// Add `delta` to the newest INTEGER value (missing counts as 0).
    Increment { name: String, delta: i64 },
}

impl ColumnChange {
    /// The column this change touches.
    pub fn name(&self) -> &str {
        match self {
            ColumnChange::Put { name, .. }
            | ColumnChange::DeleteOneVersion { name, .. }
            | ColumnChange::DeleteAllVersions { name }
            | ColumnChange::Increment { name, .. } => name,
        }
    }

    /// Bytes this change counts for (write capacity).
    pub fn size_bytes(&self) -> usize {
        match self {
            ColumnChange::Put { name, value, .. } => name.len() + value.payload_len() + 8,
            ColumnChange::DeleteOneVersion { name, .. } => name.len() + 8,
            ColumnChange::DeleteAllVersions { name } => name.len(),
            ColumnChange::Increment { name, .. } => name.len() + 8,
        }
    }
}

/// Which versions a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeRange {
    /// Versions with `start_ms <= ts < end_ms`.
    Range { start_ms: i64, end_ms: i64 },
    /// Only the version at exactly this timestamp.
    Specific(i64),
}

/// What a read asks for besides the key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadSpec {
    /// Columns to return (empty = all). PK names may appear; they are always returned.
    pub columns_to_get: Vec<String>,
    /// At most this many newest versions per column.
    pub max_versions: Option<i32>,
    /// Only versions in this range.
    pub time_range: Option<TimeRange>,
    /// Only columns with names `>= start_column`.
    pub start_column: Option<String>,
    /// Only columns with names `< end_column`.
    pub end_column: Option<String>,
    /// Rows failing this filter are not returned; evaluated on the row before projection.
    pub filter: Option<Filter>,
}

impl ReadSpec {
    /// Checks the spec: one of max_versions/time_range, positive max_versions, a sane
    /// range, at most 128 columns.
    pub fn validate(&self) -> OtsResult<()> {
        limits::check_columns_to_get(self.columns_to_get.len())?;
        if let Some(filter) = &self.filter {
            filter.validate()?;
        }
        if self.max_versions.is_none() && self.time_range.is_none() {
            return Err(OtsError::param(
                "No version condition is specified while querying row.",
            ));
        }
        if let Some(n) = self.max_versions {
            if n <= 0 {
                return Err(OtsError::param(format!(
                    "Invalid max versions: {n}. Reason: Max versions must be positive."
                )));
            }
        }
        match self.time_range {
            Some(TimeRange::Range { start_ms, end_ms }) => {
                if start_ms < 0 || end_ms < 0 {
                    return Err(OtsError::param(
                        "Timestamp must be in range [0, INT64_MAX/1000).",
                    ));
                }
                if start_ms >= end_ms {
                    return Err(OtsError::param(
                        "The start time must be less than the end time.",
                    ));
                }
            }
            Some(TimeRange::Specific(ts)) if ts < 0 => {
                return Err(OtsError::param("Specific timestamp cannot be less than 0."));
            }
            _ => {}
        }
        Ok(())
    }

    /// Attribute names of columns_to_get (PK names removed); `None` = every column.
    pub fn attribute_columns(&self, schema: &TableSchema) -> Option<Vec<String>> {
        if self.columns_to_get.is_empty() {
            return None;
        }
        Some(
            self.columns_to_get
                .iter()
                .filter(|c| !schema.is_pk_column(c))
                .cloned()
                .collect(),
        )
    }

    /// The engine read options for this spec.
    pub fn read_options(&self, schema: &TableSchema) -> engine::ReadOptions {
        let time_range = self.time_range.map(|t| match t {
            TimeRange::Range { start_ms, end_ms } => (start_ms, end_ms),
            TimeRange::Specific(ts) => (ts, ts.saturating_add(1)),
        });
        let columns = match self.attribute_columns(schema) {
            // A value filter is evaluated against the whole row; projection comes after it.
            // A pagination filter pages the projected columns, so projection can go first.
            _ if self.filter.as_ref().is_some_and(|f| !f.is_pagination()) => None,
            // Only PK names asked for: read everything to learn whether the row exists.
            Some(attrs) if !attrs.is_empty() => {
                Some(attrs.into_iter().map(String::into_bytes).collect())
            }
            _ => None,
        };
        engine::ReadOptions {
            max_versions: self
                .max_versions
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            time_range,
            columns,
            start_column: self.start_column.clone().map(String::into_bytes),
            end_column: self.end_column.clone().map(String::into_bytes),
            snapshot: None,
        }
    }

    /// Shapes a read row for the response: `None` when a value filter drops it or when
    /// columns_to_get named attributes and the row has none of them; attribute columns
    /// dropped when only PK names were asked. A value filter sees the whole row before
    /// projection; a pagination filter pages the projected columns.
    pub fn project(&self, schema: &TableSchema, row: RowData) -> Option<RowData> {
        let (value_filter, pagination) = match &self.filter {
            Some(f) if f.is_pagination() => (None, Some(f)),
            other => (other.as_ref(), None),
        };
        let mut row = match value_filter {
            Some(filter) => filter.apply(row)?,
            None => row,
        };
        match self.attribute_columns(schema) {
            None => {}
            Some(attrs) if attrs.is_empty() => row.columns.clear(),
            Some(attrs) => {
                row.columns.retain(|c| attrs.contains(&c.name));
                if row.columns.is_empty() {
                    return None;
                }
            }
        }
        match pagination {
            Some(pager) => pager.apply(row),
            None => Some(row),
        }
    }

    /// `project` for a lent row of a read without a filter; `attrs` is
    /// `attribute_columns`, computed once per request. `Err` gives back a row the
    /// projection left without any cell (not returned), so a scan can recycle it.
    pub fn project_view<'a>(
        &self,
        attrs: Option<&[String]>,
        mut row: RowView<'a>,
    ) -> Result<RowView<'a>, RowView<'a>> {
        debug_assert!(self.filter.is_none(), "a filter needs the owned row");
        match attrs {
            None => {}
            Some([]) => row.cells.clear(),
            Some(attrs) => {
                row.cells.retain(|c| attrs.iter().any(|a| a == c.name));
                if row.cells.is_empty() {
                    return Err(row);
                }
            }
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema::{PkColumnSchema, PkType};

    fn schema() -> TableSchema {
        TableSchema {
            table_name: "t".into(),
            primary_key: vec![PkColumnSchema {
                name: "id".into(),
                pk_type: PkType::Integer,
                auto_increment: false,
            }],
            defined_columns: vec![],
        }
    }

    #[test]
    fn reused_row_views_keep_their_vectors_and_decode_like_fresh_ones() {
        let schema = schema();
        let dir = tempfile::tempdir().unwrap();
        let options = engine::Options {
            sync: engine::SyncPolicy::Never,
            ..engine::Options::default()
        };
        let e = engine::Engine::open(dir.path(), options, engine::DataOptions::default()).unwrap();
        let mut batch = engine::WriteBatch::new();
        for i in 0..3i64 {
            let k = key::encode_row_key(&[PkValue::Integer(i)]);
            batch.put(&k, b"a", Some(1), &Value::Integer(i).encode());
            batch.put(&k, b"b", Some(1), &Value::Integer(-i).encode());
        }
        e.write(batch).unwrap();
        let (start, end) = (
            key::encode_row_key(&[PkValue::InfMin]),
            key::encode_row_key(&[PkValue::InfMax]),
        );
        let mut scan = e
            .scan(
                &start,
                &end,
                engine::Direction::Forward,
                &engine::ReadOptions::default(),
            )
            .unwrap();
        let mut space = RowViewSpace::default();
        let mut rows = 0;
        while let Some(buf) = scan.next_ref().unwrap() {
            let kept = (space.primary_key.capacity(), space.cells.capacity());
            let row = RowView::decode_reusing(&schema, buf, 0, &mut space).unwrap();
            // As the owned decoding, which shares no code with it.
            let owned = RowData::from_row_buf_in(&schema, buf, 0).unwrap();
            assert_eq!(row.owned_key(), owned.primary_key);
            let cells: Vec<(&str, i64, Value)> = row
                .cells
                .iter()
                .map(|c| (c.name, c.timestamp_ms, c.value.to_value()))
                .collect();
            let want: Vec<(&str, i64, Value)> = owned
                .columns
                .iter()
                .flat_map(|c| {
                    c.versions
                        .iter()
                        .map(|v| (c.name.as_str(), v.timestamp_ms, v.value.clone()))
                })
                .collect();
            assert_eq!(cells, want);
            if rows > 0 {
                // The row decoded into the vectors the previous row gave back.
                assert!(kept.0 >= 1 && kept.1 >= 2, "{kept:?}");
                assert_eq!((row.primary_key.capacity(), row.cells.capacity()), kept);
            }
            space.recycle(row);
            rows += 1;
        }
        assert_eq!(rows, 3);
    }

    #[test]
    fn engine_rows_decode_with_names_and_values() {
        let row = engine::Row {
            exists_unlisted: false,
            key: key::encode_row_key(&[PkValue::Integer(3)]),
            columns: vec![engine::Column {
                name: b"c".to_vec(),
                cells: vec![engine::Cell {
                    version_ms: 5,
                    value: Value::Integer(9).encode(),
                }],
            }],
        };
        let data = RowData::from_engine(&schema(), row).unwrap();
        assert_eq!(
            data.primary_key,
            vec![("id".to_string(), PkValue::Integer(3))]
        );
        assert_eq!(
            data.latest("c"),
            Some(&Version {
                timestamp_ms: 5,
                value: Value::Integer(9)
            })
        );
        let bad = engine::Row {
            key: b"\x09".to_vec(),
            columns: vec![],
            exists_unlisted: true,
        };
        assert!(RowData::from_engine(&schema(), bad).is_err());
    }

    #[test]
    fn read_spec_requires_a_version_condition() {
        let spec = ReadSpec::default();
        assert_eq!(
            spec.validate().unwrap_err().message,
            "No version condition is specified while querying row."
        );
        let spec = ReadSpec {
            max_versions: Some(0),
            ..Default::default()
        };
        assert!(spec.validate().is_err());
        let spec = ReadSpec {
            time_range: Some(TimeRange::Specific(5)),
            ..Default::default()
        };
        assert!(spec.validate().is_ok());
        assert_eq!(spec.read_options(&schema()).time_range, Some((5, 6)));
    }

    #[test]
    fn projection_keeps_pk_and_requested_columns() {
        let row = RowData {
            primary_key: vec![("id".into(), PkValue::Integer(1))],
            columns: vec![Column {
                name: "a".into(),
                versions: vec![Version {
                    timestamp_ms: 1,
                    value: Value::Boolean(true),
                }],
            }],
        };
        let only_pk = ReadSpec {
            columns_to_get: vec!["id".into()],
            max_versions: Some(1),
            ..Default::default()
        };
        assert!(only_pk
            .project(&schema(), row.clone())
            .unwrap()
            .columns
            .is_empty());
        assert_eq!(only_pk.read_options(&schema()).columns, None);
        let missing = ReadSpec {
            columns_to_get: vec!["blah".into()],
            max_versions: Some(1),
            ..Default::default()
        };
        assert_eq!(missing.project(&schema(), row.clone()), None);
        let all = ReadSpec {
            max_versions: Some(1),
            ..Default::default()
        };
        assert_eq!(all.project(&schema(), row.clone()), Some(row));
    }

    #[test]
    fn pagination_pages_the_columns_to_get_not_the_whole_row() {
        let col = |name: &str| Column {
            name: name.into(),
            versions: vec![Version {
                timestamp_ms: 1,
                value: Value::Integer(1),
            }],
        };
        let row = RowData {
            primary_key: vec![("id".into(), PkValue::Integer(1))],
            columns: ["a", "b", "c", "d"].into_iter().map(col).collect(),
        };
        let spec = ReadSpec {
            columns_to_get: vec!["c".into(), "d".into()],
            max_versions: Some(1),
            filter: Some(Filter::Pagination {
                offset: 1,
                limit: 1,
            }),
            ..Default::default()
        };
        let names = |r: RowData| r.columns.into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(spec.project(&schema(), row).unwrap()), vec!["d"]);
        // The engine may then read only the requested columns.
        assert_eq!(
            spec.read_options(&schema()).columns,
            Some(vec![b"c".to_vec(), b"d".to_vec()])
        );
    }
}
