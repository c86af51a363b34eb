//! `RowBuf`: one row held in reusable flat buffers (the key, one byte arena for column names
//! and values, and span tables), so a scan can assemble row after row without allocating.
//! Readers borrow columns and cells from it; `to_row` makes an owned `Row` when one is needed.

use std::ops::Range;

use super::{Cell, Column, Row};

/// One column: its name and its cells, as spans into the buffer.
#[derive(Debug, Clone)]
struct ColumnSpan {
    name: Range<usize>,
    cells: Range<usize>,
}

/// One version: its timestamp and value span.
#[derive(Debug, Clone, Copy)]
struct CellSpan {
    version_ms: i64,
    start: usize,
    end: usize,
}

/// A row assembled into reusable buffers; cleared, not freed, between rows.
#[derive(Debug, Default)]
pub struct RowBuf {
    key: Vec<u8>,
    bytes: Vec<u8>,
    columns: Vec<ColumnSpan>,
    cells: Vec<CellSpan>,
    /// The assembler's scratch: the pending column's name as the cell keys escape it.
    pub(crate) pending_escaped: Vec<u8>,
    /// See `Row::exists_unlisted`.
    exists_unlisted: bool,
}

/// A borrowed column of a `RowBuf`.
#[derive(Debug, Clone, Copy)]
pub struct ColumnRef<'a> {
    buf: &'a RowBuf,
    span: &'a ColumnSpan,
}

/// A borrowed cell (one version) of a `RowBuf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRef<'a> {
    /// Version timestamp in milliseconds.
    pub version_ms: i64,
    /// The stored value bytes.
    pub value: &'a [u8],
}

impl RowBuf {
    /// An empty buffer.
    pub fn new() -> RowBuf {
        RowBuf::default()
    }

    /// The encoded row key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Number of visible columns.
    pub fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// Visible columns in ascending name order.
    pub fn columns(&self) -> impl ExactSizeIterator<Item = ColumnRef<'_>> + '_ {
        self.columns
            .iter()
            .map(move |span| ColumnRef { buf: self, span })
    }

    /// Total bytes of column names and values (the row's payload without its key).
    pub fn payload_len(&self) -> usize {
        self.bytes.len()
    }

    /// Frees the buffers when they have grown past `max_bytes` (after one huge row), so a
    /// long-lived buffer does not pin that memory forever.
    pub fn trim(&mut self, max_bytes: usize) {
        if self.bytes.capacity() + self.key.capacity() > max_bytes {
            *self = RowBuf::new();
        }
    }

    /// The row exists apart from its listed columns (see `Row::exists_unlisted`).
    pub fn exists_unlisted(&self) -> bool {
        self.exists_unlisted
    }

    /// An owned copy.
    pub fn to_row(&self) -> Row {
        Row {
            exists_unlisted: self.exists_unlisted,
            key: self.key.clone(),
            columns: self
                .columns()
                .map(|c| Column {
                    name: c.name().to_vec(),
                    cells: c
                        .cells()
                        .map(|cell| Cell {
                            version_ms: cell.version_ms,
                            value: cell.value.to_vec(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    // ---- building (the row assembler's side) ----

    /// Empties the buffer and sets the row key.
    pub(crate) fn reset(&mut self, key: &[u8]) {
        self.key.clear();
        self.key.extend_from_slice(key);
        self.bytes.clear();
        self.columns.clear();
        self.cells.clear();
        self.exists_unlisted = false;
    }

    /// Records that the row exists apart from its listed columns.
    pub(crate) fn set_exists_unlisted(&mut self, exists: bool) {
        self.exists_unlisted = exists;
    }

    /// Marks where a new column starts; pass it to `commit_column` or `rollback`.
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            bytes: self.bytes.len(),
            cells: self.cells.len(),
        }
    }

    /// The byte arena, for appending a column name after `mark`.
    pub(crate) fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// The `len` bytes at `start` of the arena (a pending column's name).
    pub(crate) fn arena(&self, start: usize, len: usize) -> &[u8] {
        &self.bytes[start..start + len]
    }

    /// Appends one cell to the pending column.
    pub(crate) fn push_cell(&mut self, version_ms: i64, value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.cells.push(CellSpan {
            version_ms,
            start,
            end: self.bytes.len(),
        });
    }

    /// Keeps only the pending column's cells for which `keep(version_ms)` holds, and at most
    /// `max` of them; returns how many remain.
    pub(crate) fn retain_pending(
        &mut self,
        mark: &Mark,
        max: usize,
        mut keep: impl FnMut(i64) -> bool,
    ) -> usize {
        let cells = &mut self.cells;
        let mut kept = mark.cells;
        for i in mark.cells..cells.len() {
            if kept - mark.cells < max && keep(cells[i].version_ms) {
                cells[kept] = cells[i];
                kept += 1;
            }
        }
        cells.truncate(kept);
        kept - mark.cells
    }

    /// Records the pending column, its name being the `name_len` bytes right after `mark`.
    pub(crate) fn commit_column(&mut self, mark: &Mark, name_len: usize) {
        self.columns.push(ColumnSpan {
            name: mark.bytes..mark.bytes + name_len,
            cells: mark.cells..self.cells.len(),
        });
    }

    /// Drops everything appended since `mark`.
    pub(crate) fn rollback(&mut self, mark: &Mark) {
        self.bytes.truncate(mark.bytes);
        self.cells.truncate(mark.cells);
    }
}

/// A position in a `RowBuf` where a pending column starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    bytes: usize,
    cells: usize,
}

impl Mark {
    /// Where the pending column's name starts in the byte arena.
    pub(crate) fn name_start(&self) -> usize {
        self.bytes
    }
}

impl<'a> ColumnRef<'a> {
    /// Column name bytes.
    pub fn name(&self) -> &'a [u8] {
        &self.buf.bytes[self.span.name.clone()]
    }

    /// Number of visible versions (never zero).
    pub fn cell_count(&self) -> usize {
        self.span.cells.len()
    }

    /// Visible versions, newest first.
    pub fn cells(&self) -> impl ExactSizeIterator<Item = CellRef<'a>> + 'a {
        let buf = self.buf;
        buf.cells[self.span.cells.clone()]
            .iter()
            .map(move |c| CellRef {
                version_ms: c.version_ms,
                value: &buf.bytes[c.start..c.end],
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_roll_back_and_commit() {
        let mut buf = RowBuf::new();
        buf.reset(b"row");
        let m = buf.mark();
        buf.bytes_mut().extend_from_slice(b"a");
        buf.push_cell(3, b"x3");
        buf.push_cell(2, b"x2");
        buf.push_cell(1, b"x1");
        assert_eq!(buf.retain_pending(&m, 2, |v| v != 3), 2);
        buf.commit_column(&m, 1);
        let m = buf.mark();
        buf.bytes_mut().extend_from_slice(b"b");
        buf.push_cell(1, b"gone");
        buf.rollback(&m);
        let row = buf.to_row();
        assert_eq!(row.key, b"row");
        assert_eq!(row.columns.len(), 1);
        assert_eq!(row.columns[0].name, b"a");
        let versions: Vec<i64> = row.columns[0].cells.iter().map(|c| c.version_ms).collect();
        assert_eq!(versions, vec![2, 1]);
        assert_eq!(row.columns[0].cells[0].value, b"x2");
        buf.reset(b"next");
        assert_eq!(buf.column_count(), 0);
        assert_eq!(buf.key(), b"next");
        buf.push_cell(1, &[0u8; 4096]);
        buf.trim(1 << 20);
        assert_eq!(buf.payload_len(), 4096, "small buffers are kept");
        buf.trim(1024);
        assert_eq!((buf.key(), buf.payload_len()), (&b""[..], 0));
    }
}
