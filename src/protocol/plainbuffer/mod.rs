//! PlainBuffer: Tablestore's row format inside protobuf `bytes` fields, decoded into and
//! encoded from the row types below. Semantic checks (schema, op/value combinations) are left
//! to `api`/`table`; this module only guarantees well-formed bytes and matching checksums.
//!
//! Layout (all integers little-endian; see docs/PLAINBUFFER.md):
//! ```text
//! buffer    := header(i32 = 0x75) row*            ; one header, rows back to back
//! row       := 0x01 pk_cell* [0x02 attr_cell*] [0x08 delete marker] 0x09 row_crc:u8
//! pk_cell   := 0x03 0x04 len:i32 name  0x05 prefix:i32 type:u8 payload  0x0A cell_crc:u8
//! attr_cell := 0x03 0x04 len:i32 name [0x05 prefix type payload] [0x06 op:u8] [0x07 ts:i64]
//!              0x0A cell_crc:u8
//! payload   := i64 (INTEGER) | f64 bits (DOUBLE) | u8 (BOOLEAN) | len:i32 bytes (STRING, BLOB)
//!              | nothing (INF_MIN, INF_MAX, AUTO_INCREMENT)
//! cell_crc  := crc8(name, type, payload, [ts], [op])  ; prefix and tags are not checksummed
//! row_crc   := crc8(each cell_crc in wire order, delete_marker ? 1 : 0)
//! ```
//! `prefix` counts the bytes after it (type byte + payload). Filter values and partition bounds
//! use the bare `type payload` form without header, tags or prefix.

mod crc8;
mod decode;
mod encode;

pub use crc8::{crc_bytes, crc_i32, crc_i64, crc_u8};
pub use decode::{decode_pk_value, decode_row, decode_rows, decode_value, DecodeError};
pub use encode::{
    encode_pk_value, encode_primary_key, encode_row, encode_row_with_cells, encode_value, CellRef,
    EncodedCells, PkValueRef, RowsEncoder, ValueRef,
};

/// The int32 that opens every PlainBuffer (`75 00 00 00` on the wire).
pub const HEADER: i32 = 0x75;

/// Tag bytes. Wire constants: never renumber.
pub mod tag {
    /// Starts the primary-key cells of a row.
    pub const ROW_PK: u8 = 0x01;
    /// Starts the attribute cells of a row.
    pub const ROW_DATA: u8 = 0x02;
    /// Starts one cell.
    pub const CELL: u8 = 0x03;
    /// Cell name: int32 length + UTF-8 bytes.
    pub const CELL_NAME: u8 = 0x04;
    /// Cell value: int32 prefix + type byte + payload.
    pub const CELL_VALUE: u8 = 0x05;
    /// Cell operation byte (UpdateRow only).
    pub const CELL_TYPE: u8 = 0x06;
    /// Cell timestamp: int64 milliseconds.
    pub const CELL_TIMESTAMP: u8 = 0x07;
    /// Marks a row as a delete (DeleteRow / BatchWrite DELETE).
    pub const DELETE_ROW_MARKER: u8 = 0x08;
    /// Row checksum byte follows.
    pub const ROW_CHECKSUM: u8 = 0x09;
    /// Cell checksum byte follows.
    pub const CELL_CHECKSUM: u8 = 0x0A;
}

/// Variant type bytes inside a cell value. Wire constants: never renumber.
pub mod vt {
    /// int64.
    pub const INTEGER: u8 = 0x00;
    /// IEEE-754 binary64.
    pub const DOUBLE: u8 = 0x01;
    /// One byte, 1 or 0.
    pub const BOOLEAN: u8 = 0x02;
    /// int32 length + UTF-8 bytes.
    pub const STRING: u8 = 0x03;
    /// No payload; never accepted by otsd in rows.
    pub const NULL: u8 = 0x06;
    /// int32 length + bytes.
    pub const BLOB: u8 = 0x07;
    /// No payload; primary-key placeholder in range bounds.
    pub const INF_MIN: u8 = 0x09;
    /// No payload; primary-key placeholder in range bounds.
    pub const INF_MAX: u8 = 0x0A;
    /// No payload; primary-key placeholder in writes.
    pub const AUTO_INCREMENT: u8 = 0x0B;
}

/// Cell op bytes (TAG_CELL_TYPE). Wire constants: never renumber.
pub mod op {
    /// Delete every version of the column.
    pub const DELETE_ALL_VERSIONS: u8 = 0x01;
    /// Delete the version at the cell's timestamp.
    pub const DELETE_ONE_VERSION: u8 = 0x03;
    /// Add the cell's integer value to the column.
    pub const INCREMENT: u8 = 0x04;
}

/// The value of one primary-key column, including the placeholders requests may carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrimaryKeyValue {
    /// int64.
    Integer(i64),
    /// UTF-8 string.
    String(String),
    /// Raw bytes.
    Binary(Vec<u8>),
    /// Smaller than every value (GetRange bounds only).
    InfMin,
    /// Larger than every value (GetRange bounds only).
    InfMax,
    /// "Generate this value" (writes to the auto-increment column only).
    AutoIncrement,
}

/// One named primary-key column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrimaryKeyColumn {
    /// Column name.
    pub name: String,
    /// Column value.
    pub value: PrimaryKeyValue,
}

impl PrimaryKeyColumn {
    /// A column named `name` holding `value`.
    pub fn new(name: impl Into<String>, value: PrimaryKeyValue) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }
}

/// The value of an attribute column (and of filter operands).
#[derive(Debug, Clone)]
pub enum ColumnValue {
    /// int64.
    Integer(i64),
    /// binary64; compared by bit pattern so NaN equals itself.
    Double(f64),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 string.
    String(String),
    /// Raw bytes.
    Binary(Vec<u8>),
}

impl PartialEq for ColumnValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Integer(a), Self::Integer(b)) => a == b,
            (Self::Double(a), Self::Double(b)) => a.to_bits() == b.to_bits(),
            (Self::Boolean(a), Self::Boolean(b)) => a == b,
            (Self::String(a), Self::String(b)) => a == b,
            (Self::Binary(a), Self::Binary(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for ColumnValue {}

/// What an UpdateRow cell does; a cell without an op is a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellOp {
    /// Delete every version (cell has a name only).
    DeleteAllVersions,
    /// Delete the version at `timestamp` (cell has name + timestamp).
    DeleteOneVersion,
    /// Add the integer `value` to the column.
    Increment,
}

impl CellOp {
    /// The wire byte of this op.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::DeleteAllVersions => op::DELETE_ALL_VERSIONS,
            Self::DeleteOneVersion => op::DELETE_ONE_VERSION,
            Self::Increment => op::INCREMENT,
        }
    }

    /// The op for a wire byte, if it names one.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            op::DELETE_ALL_VERSIONS => Some(Self::DeleteAllVersions),
            op::DELETE_ONE_VERSION => Some(Self::DeleteOneVersion),
            op::INCREMENT => Some(Self::Increment),
            _ => None,
        }
    }
}

/// One attribute cell as it appears on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Column name.
    pub name: String,
    /// Value; absent for deletes.
    pub value: Option<ColumnValue>,
    /// Operation; `None` means put.
    pub op: Option<CellOp>,
    /// Version in milliseconds, if given.
    pub timestamp: Option<i64>,
}

impl Cell {
    /// A put cell (the only kind a response carries).
    pub fn put(name: impl Into<String>, value: ColumnValue, timestamp: Option<i64>) -> Self {
        Self {
            name: name.into(),
            value: Some(value),
            op: None,
            timestamp,
        }
    }
}

/// One row: primary key, attribute cells and the delete marker.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    /// Primary-key columns in wire order.
    pub primary_key: Vec<PrimaryKeyColumn>,
    /// Attribute cells in wire order.
    pub cells: Vec<Cell>,
    /// Set for DeleteRow keys and BatchWrite DELETE rows; never in responses.
    pub delete_marker: bool,
}

#[cfg(test)]
mod tests;
