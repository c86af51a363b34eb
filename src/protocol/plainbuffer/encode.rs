//! PlainBuffer encoding of rows, primary keys and bare values, computing every checksum.
//! The server only ever encodes put cells (no op byte, no delete marker); ops are written
//! only when a `Cell` carries one, which is what the client needs for UpdateRow.

use super::crc8::{crc_bytes, crc_u8};
use super::{tag, vt, Cell, CellOp, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row, HEADER};

/// A borrowed attribute value, so hot paths can encode without cloning strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// int64.
    Integer(i64),
    /// binary64.
    Double(f64),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 string.
    String(&'a str),
    /// Raw bytes.
    Binary(&'a [u8]),
}

impl ColumnValue {
    /// Borrows this value for encoding.
    pub fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            Self::Integer(v) => ValueRef::Integer(*v),
            Self::Double(v) => ValueRef::Double(*v),
            Self::Boolean(v) => ValueRef::Boolean(*v),
            Self::String(v) => ValueRef::String(v),
            Self::Binary(v) => ValueRef::Binary(v),
        }
    }
}

/// A borrowed put cell for [`RowsEncoder::push_parts`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellRef<'a> {
    /// Column name.
    pub name: &'a str,
    /// Cell value.
    pub value: ValueRef<'a>,
    /// Version in milliseconds; read responses should always carry it.
    pub timestamp: Option<i64>,
}

/// A borrowed primary-key value, for encoding without owning one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PkValueRef<'a> {
    /// int64.
    Integer(i64),
    /// UTF-8 string.
    String(&'a str),
    /// Raw bytes.
    Binary(&'a [u8]),
    /// Range bound below every value.
    InfMin,
    /// Range bound above every value.
    InfMax,
    /// Placeholder for a server-assigned value.
    AutoIncrement,
}

impl PrimaryKeyValue {
    /// Borrows this value for encoding.
    pub fn as_pk_ref(&self) -> PkValueRef<'_> {
        match self {
            Self::Integer(i) => PkValueRef::Integer(*i),
            Self::String(s) => PkValueRef::String(s),
            Self::Binary(b) => PkValueRef::Binary(b),
            Self::InfMin => PkValueRef::InfMin,
            Self::InfMax => PkValueRef::InfMax,
            Self::AutoIncrement => PkValueRef::AutoIncrement,
        }
    }
}

/// One primary-key column as `(name, value)` borrowed from its owned form.
fn pk_parts(col: &PrimaryKeyColumn) -> (&str, PkValueRef<'_>) {
    (&col.name, col.value.as_pk_ref())
}

/// Lengths are written as int32: callers bound names and values far below 2 GiB (limits.rs),
/// so saturating here only guards against nonsense, it never truncates real data.
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// Appends `type payload` of a value to `out` (no prefix).
fn put_value(out: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Integer(i) => {
            out.push(vt::INTEGER);
            out.extend_from_slice(&i.to_le_bytes());
        }
        ValueRef::Double(d) => {
            out.push(vt::DOUBLE);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        ValueRef::Boolean(b) => {
            out.push(vt::BOOLEAN);
            out.push(u8::from(b));
        }
        ValueRef::String(s) => {
            out.push(vt::STRING);
            out.extend_from_slice(&len_i32(s.len()).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        ValueRef::Binary(b) => {
            out.push(vt::BLOB);
            out.extend_from_slice(&len_i32(b.len()).to_le_bytes());
            out.extend_from_slice(b);
        }
    }
}

/// Appends `type payload` of a primary-key value to `out` (no prefix).
fn put_pk_value(out: &mut Vec<u8>, v: PkValueRef<'_>) {
    match v {
        PkValueRef::Integer(i) => put_value(out, ValueRef::Integer(i)),
        PkValueRef::String(s) => put_value(out, ValueRef::String(s)),
        PkValueRef::Binary(b) => put_value(out, ValueRef::Binary(b)),
        PkValueRef::InfMin => out.push(vt::INF_MIN),
        PkValueRef::InfMax => out.push(vt::INF_MAX),
        PkValueRef::AutoIncrement => out.push(vt::AUTO_INCREMENT),
    }
}

/// Appends `TAG_CELL TAG_CELL_NAME len name`; returns the crc of the name.
fn put_cell_start(out: &mut Vec<u8>, name: &str) -> u8 {
    out.push(tag::CELL);
    out.push(tag::CELL_NAME);
    out.extend_from_slice(&len_i32(name.len()).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    crc_bytes(0, name.as_bytes())
}

/// Appends `TAG_CELL_VALUE prefix type payload` written by `write`; returns the crc fed with
/// `type payload` (which is exactly what the checksum covers for every value type).
fn put_cell_value(out: &mut Vec<u8>, crc: u8, write: impl FnOnce(&mut Vec<u8>)) -> u8 {
    out.push(tag::CELL_VALUE);
    let prefix_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let value_at = out.len();
    write(out);
    let value = &out[value_at..];
    let crc = crc_bytes(crc, value);
    let prefix = len_i32(value.len()).to_le_bytes();
    out[prefix_at..value_at].copy_from_slice(&prefix);
    crc
}

/// Appends one primary-key cell; returns its checksum.
fn put_pk_cell(out: &mut Vec<u8>, name: &str, value: PkValueRef<'_>) -> u8 {
    let crc = put_cell_start(out, name);
    let crc = put_cell_value(out, crc, |o| put_pk_value(o, value));
    out.push(tag::CELL_CHECKSUM);
    out.push(crc);
    crc
}

/// Appends one attribute cell (op written only if present); returns its checksum.
fn put_attr_cell(
    out: &mut Vec<u8>,
    name: &str,
    value: Option<ValueRef<'_>>,
    op: Option<CellOp>,
    timestamp: Option<i64>,
) -> u8 {
    let mut crc = put_cell_start(out, name);
    if let Some(v) = value {
        crc = put_cell_value(out, crc, |o| put_value(o, v));
    }
    // Wire order is op then timestamp; checksum order is timestamp then op.
    if let Some(op) = op {
        out.push(tag::CELL_TYPE);
        out.push(op.to_byte());
    }
    if let Some(ts) = timestamp {
        out.push(tag::CELL_TIMESTAMP);
        out.extend_from_slice(&ts.to_le_bytes());
        crc = crc_bytes(crc, &ts.to_le_bytes());
    }
    if let Some(op) = op {
        crc = crc_u8(crc, op.to_byte());
    }
    out.push(tag::CELL_CHECKSUM);
    out.push(crc);
    crc
}

fn put_header(out: &mut Vec<u8>) {
    out.extend_from_slice(&HEADER.to_le_bytes());
}

/// Appends the primary-key section of a row; returns the row checksum so far.
fn put_pk_section<'a>(
    out: &mut Vec<u8>,
    pk: impl IntoIterator<Item = (&'a str, PkValueRef<'a>)>,
) -> u8 {
    out.push(tag::ROW_PK);
    pk.into_iter().fold(0u8, |row_crc, (name, value)| {
        crc_u8(row_crc, put_pk_cell(out, name, value))
    })
}

/// Appends the optional delete marker and the row checksum, which folds in the marker.
fn put_row_end(out: &mut Vec<u8>, row_crc: u8, delete_marker: bool) {
    if delete_marker {
        out.push(tag::DELETE_ROW_MARKER);
    }
    out.push(tag::ROW_CHECKSUM);
    out.push(crc_u8(row_crc, u8::from(delete_marker)));
}

/// Appends one row (no header) from its parts.
fn put_row<'a>(
    out: &mut Vec<u8>,
    pk: impl IntoIterator<Item = (&'a str, PkValueRef<'a>)>,
    cells: impl IntoIterator<Item = (&'a str, Option<ValueRef<'a>>, Option<CellOp>, Option<i64>)>,
    delete_marker: bool,
) {
    let mut row_crc = put_pk_section(out, pk);
    let mut cells = cells.into_iter().peekable();
    if cells.peek().is_some() {
        out.push(tag::ROW_DATA);
        for (name, value, op, ts) in cells {
            row_crc = crc_u8(row_crc, put_attr_cell(out, name, value, op, ts));
        }
    }
    put_row_end(out, row_crc, delete_marker);
}

/// Attribute cells encoded once for many rows: a fan-out writes the same cells under many
/// keys, and encoding them per row was the largest item of the sender's CPU. Holds the
/// cells' bytes and each cell's checksum, which a row's checksum folds in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedCells {
    bytes: Vec<u8>,
    crcs: Vec<u8>,
}

impl EncodedCells {
    /// Encodes `cells` (ops and timestamps as they carry them).
    pub fn new(cells: &[Cell]) -> Self {
        let mut encoded = EncodedCells::default();
        for c in cells {
            let (name, value, op, ts) = cell_parts(c);
            let crc = put_attr_cell(&mut encoded.bytes, name, value, op, ts);
            encoded.crcs.push(crc);
        }
        encoded
    }
}

/// Encodes header + one row of `primary_key` and pre-encoded `cells`: the same bytes as
/// [`encode_row`] of that key with those cells and no delete marker.
pub fn encode_row_with_cells<'a>(
    primary_key: impl IntoIterator<Item = (&'a str, PkValueRef<'a>)>,
    cells: &EncodedCells,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + cells.bytes.len());
    put_header(&mut out);
    let mut row_crc = put_pk_section(&mut out, primary_key);
    if !cells.crcs.is_empty() {
        out.push(tag::ROW_DATA);
        out.extend_from_slice(&cells.bytes);
        row_crc = cells.crcs.iter().fold(row_crc, |acc, &c| crc_u8(acc, c));
    }
    put_row_end(&mut out, row_crc, false);
    out
}

fn cell_parts(c: &Cell) -> (&str, Option<ValueRef<'_>>, Option<CellOp>, Option<i64>) {
    (
        &c.name,
        c.value.as_ref().map(ColumnValue::as_value_ref),
        c.op,
        c.timestamp,
    )
}

/// Encodes header + one row. Op bytes and the delete marker are written only when the row
/// carries them; the server never sets them, so its responses never contain those tags.
pub fn encode_row(row: &Row) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    put_header(&mut out);
    put_row(
        &mut out,
        row.primary_key.iter().map(pk_parts),
        row.cells.iter().map(cell_parts),
        row.delete_marker,
    );
    out
}

/// Encodes header + a primary-key-only row (GetRow keys, RT_PK returns, next start keys).
pub fn encode_primary_key(pk: &[PrimaryKeyColumn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    put_header(&mut out);
    put_row(&mut out, pk.iter().map(pk_parts), std::iter::empty(), false);
    out
}

/// Encodes a bare value: type byte + payload (filter `column_value`).
pub fn encode_value(v: &ColumnValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    put_value(&mut out, v.as_value_ref());
    out
}

/// Encodes a bare primary-key value: type byte + payload (`PartitionRange` begin/end).
pub fn encode_pk_value(v: &PrimaryKeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    put_pk_value(&mut out, v.as_pk_ref());
    out
}

/// Builds a multi-row buffer (GetRangeResponse.rows): ONE header, then rows back to back.
/// An encoder that got no rows finishes as zero bytes, which is what clients expect.
#[derive(Debug, Default)]
pub struct RowsEncoder {
    out: Vec<u8>,
    rows: usize,
}

impl RowsEncoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty encoder with room for `bytes` of output.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            out: Vec::with_capacity(bytes),
            rows: 0,
        }
    }

    fn start_row(&mut self) {
        if self.rows == 0 {
            put_header(&mut self.out);
        }
        self.rows += 1;
    }

    /// Appends a row (ops and the delete marker are written if present, see [`encode_row`]).
    pub fn push(&mut self, row: &Row) {
        self.start_row();
        put_row(
            &mut self.out,
            row.primary_key.iter().map(pk_parts),
            row.cells.iter().map(cell_parts),
            row.delete_marker,
        );
    }

    /// Appends a row of put cells without building a [`Row`] or owning any of it: the read
    /// path's encoder. The key is `(name, value)` pairs in schema order.
    pub fn push_parts<'a>(
        &mut self,
        primary_key: impl IntoIterator<Item = (&'a str, PkValueRef<'a>)>,
        cells: impl IntoIterator<Item = CellRef<'a>>,
    ) {
        self.start_row();
        put_row(
            &mut self.out,
            primary_key,
            cells
                .into_iter()
                .map(|c| (c.name, Some(c.value), None, c.timestamp)),
            false,
        );
    }

    /// Number of rows pushed so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True if no row was pushed.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes encoded so far (header included once a row was pushed), for response size caps.
    pub fn encoded_len(&self) -> usize {
        self.out.len()
    }

    /// The finished buffer: empty if no row was pushed.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}
