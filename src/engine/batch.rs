//! WriteBatch: the unit of atomicity. All records of one batch reach the WAL as one record
//! and become visible together. (Public builder API fixed; encoding owned by engine core.)

/// One change inside a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Write one version of a column (`None`: the engine assigns the commit time in ms).
    Put { row: Vec<u8>, column: Vec<u8>, version_ms: Option<i64>, value: Vec<u8> },
    /// Delete exactly one version of a column.
    DeleteVersion { row: Vec<u8>, column: Vec<u8>, version_ms: i64 },
    /// Delete every version of a column.
    DeleteColumn { row: Vec<u8>, column: Vec<u8> },
    /// Delete the whole row.
    DeleteRow { row: Vec<u8> },
    /// Delete the whole row and mark it present without columns (PutRow with no attributes).
    PutRowMarker { row: Vec<u8>, version_ms: Option<i64> },
}

/// An atomic group of changes, possibly to several rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }
    /// Writes one version of `column` in `row` (an encoded row key).
    pub fn put(&mut self, row: &[u8], column: &[u8], version_ms: Option<i64>, value: &[u8]) {
        self.ops.push(BatchOp::Put { row: row.to_vec(), column: column.to_vec(), version_ms, value: value.to_vec() });
    }
    /// Deletes the version `version_ms` of `column`.
    pub fn delete_version(&mut self, row: &[u8], column: &[u8], version_ms: i64) {
        self.ops.push(BatchOp::DeleteVersion { row: row.to_vec(), column: column.to_vec(), version_ms });
    }
    /// Deletes all versions of `column`.
    pub fn delete_column(&mut self, row: &[u8], column: &[u8]) {
        self.ops.push(BatchOp::DeleteColumn { row: row.to_vec(), column: column.to_vec() });
    }
    /// Deletes the whole row.
    pub fn delete_row(&mut self, row: &[u8]) {
        self.ops.push(BatchOp::DeleteRow { row: row.to_vec() });
    }
    /// Replaces the row by an empty but present row (later puts in the batch add columns).
    pub fn put_row_marker(&mut self, row: &[u8], version_ms: Option<i64>) {
        self.ops.push(BatchOp::PutRowMarker { row: row.to_vec(), version_ms });
    }
    /// The changes in order.
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }
    /// Number of changes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// True when the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
