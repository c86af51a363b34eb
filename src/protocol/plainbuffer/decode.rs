//! PlainBuffer decoding of untrusted bytes: every read goes through a labelled, bounds-checked
//! cursor, every checksum is verified, and nothing is allocated from an unchecked length.
//! The value-length `prefix` is bounds-checked but otherwise ignored, as every SDK reader does.

use super::crc8::{crc_bytes, crc_u8};
use super::{tag, vt, Cell, CellOp, ColumnValue, PrimaryKeyColumn, PrimaryKeyValue, Row, HEADER};

/// Why a PlainBuffer was rejected, and the byte offset where that was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at offset {offset}")]
pub struct DecodeError {
    /// Offset in the input buffer.
    pub offset: usize,
    /// What was wrong, naming the field.
    pub what: String,
}

type Result<T> = std::result::Result<T, DecodeError>;

/// A bounds-checked reader over the input.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn err(&self, offset: usize, what: impl Into<String>) -> DecodeError {
        DecodeError {
            offset,
            what: what.into(),
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn take_bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.err(self.pos, format!("truncated {what}")))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let at = self.pos;
        let bytes = self.take_bytes(N, what)?;
        bytes
            .try_into()
            .map_err(|_| self.err(at, format!("truncated {what}")))
    }

    fn take_u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take_array::<1>(what)?[0])
    }

    fn take_i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take_array(what)?))
    }

    fn take_i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take_array(what)?))
    }

    /// Reads an int32 length, rejecting negative values and lengths past the end of input.
    fn take_len(&mut self, what: &str) -> Result<usize> {
        let at = self.pos;
        let len = self.take_i32(what)?;
        let len =
            usize::try_from(len).map_err(|_| self.err(at, format!("negative {what} {len}")))?;
        if len > self.remaining() {
            return Err(self.err(
                at,
                format!("{what} {len} exceeds the {} bytes left", self.remaining()),
            ));
        }
        Ok(len)
    }

    fn take_str(&mut self, len_what: &str, what: &str) -> Result<&'a str> {
        let len = self.take_len(len_what)?;
        let at = self.pos;
        let bytes = self.take_bytes(len, what)?;
        std::str::from_utf8(bytes).map_err(|_| self.err(at, format!("invalid UTF-8 in {what}")))
    }

    fn expect_tag(&mut self, want: u8, what: &str) -> Result<()> {
        let at = self.pos;
        let got = self.take_u8(what)?;
        if got != want {
            return Err(self.err(
                at,
                format!("expected {what} (0x{want:02x}), found 0x{got:02x}"),
            ));
        }
        Ok(())
    }

    fn expect_header(&mut self) -> Result<()> {
        let at = self.pos;
        let h = self.take_i32("header")?;
        if h != HEADER {
            return Err(self.err(at, format!("bad header 0x{h:x}, expected 0x75")));
        }
        Ok(())
    }

    fn expect_end(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err(self.pos, "trailing bytes after row"))
        }
    }

    /// Like `expect_end`, but zero bytes may follow: the Node SDK (5.6.5) sizes its buffer
    /// with one byte too many for each INF_MIN / INF_MAX / AUTO_INCREMENT placeholder and
    /// sends the unused zeros, which the service ignores. Any other byte is an error.
    fn expect_end_or_zero_padding(&self) -> Result<()> {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        match rest.iter().position(|&b| b != 0) {
            None => Ok(()),
            Some(i) => Err(self.err(self.pos + i, "trailing bytes after row")),
        }
    }
}

/// A decoded value of any variant type, before deciding whether it is a key or an attribute.
enum WireValue<'a> {
    Integer(i64),
    Double(f64),
    Boolean(bool),
    String(&'a str),
    Binary(&'a [u8]),
    InfMin,
    InfMax,
    AutoIncrement,
}

impl WireValue<'_> {
    fn into_pk(self, cur: &Cursor<'_>, at: usize) -> Result<PrimaryKeyValue> {
        Ok(match self {
            Self::Integer(i) => PrimaryKeyValue::Integer(i),
            Self::String(s) => PrimaryKeyValue::String(s.to_owned()),
            Self::Binary(b) => PrimaryKeyValue::Binary(b.to_vec()),
            Self::InfMin => PrimaryKeyValue::InfMin,
            Self::InfMax => PrimaryKeyValue::InfMax,
            Self::AutoIncrement => PrimaryKeyValue::AutoIncrement,
            Self::Double(_) | Self::Boolean(_) => {
                return Err(cur.err(at, "primary key value must be INTEGER, STRING or BINARY"))
            }
        })
    }

    fn into_column(self, cur: &Cursor<'_>, at: usize) -> Result<ColumnValue> {
        Ok(match self {
            Self::Integer(i) => ColumnValue::Integer(i),
            Self::Double(d) => ColumnValue::Double(d),
            Self::Boolean(b) => ColumnValue::Boolean(b),
            Self::String(s) => ColumnValue::String(s.to_owned()),
            Self::Binary(b) => ColumnValue::Binary(b.to_vec()),
            Self::InfMin | Self::InfMax | Self::AutoIncrement => {
                return Err(cur.err(at, "placeholder value in an attribute column"))
            }
        })
    }
}

/// Reads `type payload`; returns the value and the offset of its type byte.
fn take_value<'a>(cur: &mut Cursor<'a>) -> Result<(WireValue<'a>, usize)> {
    let at = cur.pos;
    let ty = cur.take_u8("value type")?;
    let v = match ty {
        vt::INTEGER => WireValue::Integer(cur.take_i64("INTEGER value")?),
        vt::DOUBLE => WireValue::Double(f64::from_bits(cur.take_i64("DOUBLE value")? as u64)),
        vt::BOOLEAN => {
            let b_at = cur.pos;
            match cur.take_u8("BOOLEAN value")? {
                0 => WireValue::Boolean(false),
                1 => WireValue::Boolean(true),
                b => return Err(cur.err(b_at, format!("BOOLEAN value byte 0x{b:02x}"))),
            }
        }
        vt::STRING => WireValue::String(cur.take_str("STRING length", "STRING value")?),
        vt::BLOB => {
            let len = cur.take_len("BLOB length")?;
            WireValue::Binary(cur.take_bytes(len, "BLOB value")?)
        }
        vt::INF_MIN => WireValue::InfMin,
        vt::INF_MAX => WireValue::InfMax,
        vt::AUTO_INCREMENT => WireValue::AutoIncrement,
        vt::NULL => return Err(cur.err(at, "NULL value type is not supported")),
        other => return Err(cur.err(at, format!("unknown value type 0x{other:02x}"))),
    };
    Ok((v, at))
}

/// Reads `TAG_CELL_VALUE prefix type payload` (the tag already consumed); returns the value,
/// its offset and the crc fed with `type payload`.
fn take_cell_value<'a>(cur: &mut Cursor<'a>, crc: u8) -> Result<(WireValue<'a>, usize, u8)> {
    // The prefix must fit in the input; its exact value is ignored like every SDK does.
    cur.take_len("value prefix")?;
    let start = cur.pos;
    let (v, at) = take_value(cur)?;
    let crc = crc_bytes(crc, cur.buf.get(start..cur.pos).unwrap_or_default());
    Ok((v, at, crc))
}

/// Reads `TAG_CELL TAG_CELL_NAME len name`; returns the name and its crc.
fn take_cell_start<'a>(cur: &mut Cursor<'a>) -> Result<(&'a str, u8)> {
    cur.expect_tag(tag::CELL, "TAG_CELL")?;
    cur.expect_tag(tag::CELL_NAME, "TAG_CELL_NAME")?;
    let name = cur.take_str("cell name length", "cell name")?;
    Ok((name, crc_bytes(0, name.as_bytes())))
}

fn check_cell_crc(cur: &mut Cursor<'_>, crc: u8) -> Result<u8> {
    cur.expect_tag(tag::CELL_CHECKSUM, "TAG_CELL_CHECKSUM")?;
    let at = cur.pos;
    let got = cur.take_u8("cell checksum")?;
    if got != crc {
        return Err(cur.err(
            at,
            format!("cell checksum mismatch: stored 0x{got:02x}, computed 0x{crc:02x}"),
        ));
    }
    Ok(crc)
}

fn take_pk_cell(cur: &mut Cursor<'_>) -> Result<(PrimaryKeyColumn, u8)> {
    let (name, crc) = take_cell_start(cur)?;
    cur.expect_tag(tag::CELL_VALUE, "TAG_CELL_VALUE of a primary key cell")?;
    let (v, at, crc) = take_cell_value(cur, crc)?;
    let value = v.into_pk(cur, at)?;
    let crc = check_cell_crc(cur, crc)?;
    Ok((
        PrimaryKeyColumn {
            name: name.to_owned(),
            value,
        },
        crc,
    ))
}

fn take_attr_cell(cur: &mut Cursor<'_>) -> Result<(Cell, u8)> {
    let (name, mut crc) = take_cell_start(cur)?;
    let mut value = None;
    let mut op = None;
    let mut timestamp = None;
    // Value, op and timestamp are each optional; SDKs write them in that order, but any order
    // is accepted as long as each appears at most once.
    loop {
        let at = cur.pos;
        match cur.peek() {
            Some(tag::CELL_VALUE) if value.is_none() => {
                cur.pos += 1;
                let (v, v_at, c) = take_cell_value(cur, crc)?;
                value = Some(v.into_column(cur, v_at)?);
                crc = c;
            }
            Some(tag::CELL_TYPE) if op.is_none() => {
                cur.pos += 1;
                let b = cur.take_u8("cell op")?;
                op = Some(
                    CellOp::from_byte(b)
                        .ok_or_else(|| cur.err(at + 1, format!("unknown cell op 0x{b:02x}")))?,
                );
            }
            Some(tag::CELL_TIMESTAMP) if timestamp.is_none() => {
                cur.pos += 1;
                timestamp = Some(cur.take_i64("cell timestamp")?);
            }
            Some(tag::CELL_CHECKSUM) => break,
            Some(t) => return Err(cur.err(at, format!("unexpected tag 0x{t:02x} in cell"))),
            None => return Err(cur.err(at, "truncated cell")),
        }
    }
    // Checksum order: name, value, timestamp, op.
    if let Some(ts) = timestamp {
        crc = crc_bytes(crc, &ts.to_le_bytes());
    }
    if let Some(op) = op {
        crc = crc_u8(crc, op.to_byte());
    }
    let crc = check_cell_crc(cur, crc)?;
    Ok((
        Cell {
            name: name.to_owned(),
            value,
            op,
            timestamp,
        },
        crc,
    ))
}

fn take_row(cur: &mut Cursor<'_>) -> Result<Row> {
    cur.expect_tag(tag::ROW_PK, "TAG_ROW_PK")?;
    let mut row = Row::default();
    let mut row_crc = 0u8;
    while cur.peek() == Some(tag::CELL) {
        let (col, crc) = take_pk_cell(cur)?;
        row.primary_key.push(col);
        row_crc = crc_u8(row_crc, crc);
    }
    if cur.peek() == Some(tag::ROW_DATA) {
        cur.pos += 1;
        while cur.peek() == Some(tag::CELL) {
            let (cell, crc) = take_attr_cell(cur)?;
            row.cells.push(cell);
            row_crc = crc_u8(row_crc, crc);
        }
    }
    if cur.peek() == Some(tag::DELETE_ROW_MARKER) {
        cur.pos += 1;
        row.delete_marker = true;
    }
    row_crc = crc_u8(row_crc, u8::from(row.delete_marker));
    cur.expect_tag(tag::ROW_CHECKSUM, "TAG_ROW_CHECKSUM")?;
    let at = cur.pos;
    let got = cur.take_u8("row checksum")?;
    if got != row_crc {
        return Err(cur.err(
            at,
            format!("row checksum mismatch: stored 0x{got:02x}, computed 0x{row_crc:02x}"),
        ));
    }
    Ok(row)
}

/// Decodes header + exactly one row (request rows and keys, GetRow responses); zero bytes
/// after the row are padding and ignored.
///
/// Errors on a bad header, unknown tag or value type, bad length, invalid UTF-8, checksum
/// mismatch, truncation and non-zero trailing bytes.
pub fn decode_row(buf: &[u8]) -> Result<Row> {
    let mut cur = Cursor::new(buf);
    cur.expect_header()?;
    let row = take_row(&mut cur)?;
    cur.expect_end_or_zero_padding()?;
    Ok(row)
}

/// Decodes header + any number of rows (GetRange responses). An empty buffer, or a lone
/// header, is zero rows.
pub fn decode_rows(buf: &[u8]) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    if buf.is_empty() {
        return Ok(rows);
    }
    let mut cur = Cursor::new(buf);
    cur.expect_header()?;
    while !cur.is_empty() {
        rows.push(take_row(&mut cur)?);
    }
    Ok(rows)
}

/// Decodes a bare attribute value: type byte + payload, nothing after (filter operands).
pub fn decode_value(buf: &[u8]) -> Result<ColumnValue> {
    let mut cur = Cursor::new(buf);
    let (v, at) = take_value(&mut cur)?;
    let v = v.into_column(&cur, at)?;
    cur.expect_end()?;
    Ok(v)
}

/// Decodes a bare primary-key value: type byte + payload (`PartitionRange` begin/end).
pub fn decode_pk_value(buf: &[u8]) -> Result<PrimaryKeyValue> {
    let mut cur = Cursor::new(buf);
    let (v, at) = take_value(&mut cur)?;
    let v = v.into_pk(&cur, at)?;
    cur.expect_end_or_zero_padding()?;
    Ok(v)
}
