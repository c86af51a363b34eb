//! Order-preserving key encodings: primary-key rows, cell keys (row, column, version) and
//! internal keys (cell key + seqno + kind). Byte order of every encoding equals Tablestore order.
//!
//! ```text
//! row key    := pk_col*                          (prefix-free for a fixed schema)
//! pk_col     := 0x00                             INF_MIN (bounds only)
//!             | 0x02 ‖ (i64 ^ 1<<63) as u64 BE   INTEGER
//!             | 0x03 ‖ esc(bytes)                STRING
//!             | 0x04 ‖ esc(bytes)                BINARY
//!             | 0xFF                             INF_MAX (bounds only)
//! esc(b)     := b with 0x00 -> 0x00 0xFF, then 0x00 0x01   (order-preserving, self-delimiting)
//!
//! cell key   := row key ‖ body ‖ row_len: u16 BE
//! body       := 0x00                                     row head (DeleteRow / RowExists)
//!             | 0x01 ‖ esc(column) ‖ 0x00                 column tombstone (all versions)
//!             | 0x01 ‖ esc(column) ‖ 0x01 ‖ !ord(ver) BE  one version; newest sorts first
//!
//! internal   := cell key ‖ !(seqno << 8 | kind) as u64 BE   (same cell: newest seqno first)
//! ```
//! Cell keys are prefix-free, so plain `memcmp` on internal keys gives (cell asc, seqno desc).
//! The trailing `row_len` never decides order (equal prefixes imply equal lengths); it only
//! lets the engine split a cell key without knowing the schema. These bytes reach disk:
//! never renumber a tag or a kind.

use std::cmp::Ordering;

/// A sequence number: the commit order of every record in the engine.
pub type SeqNo = u64;

/// Largest sequence number that fits the 56-bit field of the internal-key trailer.
pub const MAX_SEQNO: SeqNo = (1 << 56) - 1;

/// Bytes appended to a cell key to make an internal key.
pub const TRAILER_LEN: usize = 8;

/// One primary-key column value, including the range placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PkValue {
    /// Smaller than every value of the column (range bounds only).
    InfMin,
    /// Signed 64-bit integer.
    Integer(i64),
    /// UTF-8 string, compared bytewise.
    String(String),
    /// Raw bytes, compared bytewise.
    Binary(Vec<u8>),
    /// Larger than every value of the column (range bounds only).
    InfMax,
}

impl PkValue {
    /// Tablestore order within one column (values of one column share a type).
    pub fn compare(&self, other: &PkValue) -> Ordering {
        let mut a = Vec::new();
        let mut b = Vec::new();
        encode_pk_value(self, &mut a);
        encode_pk_value(other, &mut b);
        a.cmp(&b)
    }
}

/// What a record in the engine says about its cell key. Stored on disk: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A value for one (column, version).
    Put = 1,
    /// Deletes exactly one (column, version).
    DeleteVersion = 2,
    /// Deletes every older record of one column (its cell body is the column tombstone).
    DeleteColumn = 3,
    /// Deletes every older record of the row (row head).
    DeleteRow = 4,
    /// Deletes every older record of the row and marks the row as present with no columns
    /// (a PutRow without attribute columns). Its value is the version in ms, 8 bytes LE.
    RowExists = 5,
}

impl Kind {
    /// Parses a stored kind byte.
    pub fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Put,
            2 => Kind::DeleteVersion,
            3 => Kind::DeleteColumn,
            4 => Kind::DeleteRow,
            5 => Kind::RowExists,
            _ => return None,
        })
    }
}

const TAG_INF_MIN: u8 = 0x00;
const TAG_INTEGER: u8 = 0x02;
const TAG_STRING: u8 = 0x03;
const TAG_BINARY: u8 = 0x04;
const TAG_INF_MAX: u8 = 0xFF;

const BODY_ROW_HEAD: u8 = 0x00;
const BODY_COLUMN: u8 = 0x01;
const SUB_TOMBSTONE: u8 = 0x00;
const SUB_VERSION: u8 = 0x01;

/// Appends `esc(bytes)`: 0x00 becomes 0x00 0xFF, and 0x00 0x01 terminates.
pub fn escape_into(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.push(0x00);
    out.push(0x01);
}

/// Reads one escaped string from the front of `input`; returns (bytes, consumed length).
pub fn unescape(input: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let used = unescape_into(input, &mut out)?;
    Some((out, used))
}

/// Appends the escaped string at the front of `input` to `out`; returns the consumed length.
/// On `None` (malformed input) `out` may hold a partial string.
pub fn unescape_into(input: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut i = 0;
    loop {
        // Copy the run up to the next 0x00 in one go: most names hold no zero byte.
        let run = input.get(i..)?.iter().position(|&b| b == 0)?;
        out.extend_from_slice(&input[i..i + run]);
        i += run;
        match *input.get(i + 1)? {
            0xFF => {
                out.push(0);
                i += 2;
            }
            0x01 => return Some(i + 2),
            _ => return None,
        }
    }
}

/// Length of the escaped string at the front of `input`, terminator included.
fn escaped_len(input: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        i += input.get(i..)?.iter().position(|&b| b == 0)?;
        match *input.get(i + 1)? {
            0xFF => i += 2,
            0x01 => return Some(i + 2),
            _ => return None,
        }
    }
}

/// Appends one primary-key column in order-preserving form.
pub fn encode_pk_value(value: &PkValue, out: &mut Vec<u8>) {
    match value {
        PkValue::InfMin => out.push(TAG_INF_MIN),
        PkValue::InfMax => out.push(TAG_INF_MAX),
        PkValue::Integer(v) => {
            out.push(TAG_INTEGER);
            out.extend_from_slice(&((*v as u64) ^ (1 << 63)).to_be_bytes());
        }
        PkValue::String(s) => {
            out.push(TAG_STRING);
            escape_into(s.as_bytes(), out);
        }
        PkValue::Binary(b) => {
            out.push(TAG_BINARY);
            escape_into(b, out);
        }
    }
}

/// Encodes a whole primary key (all columns in schema order) as a row key.
pub fn encode_row_key<'a>(values: impl IntoIterator<Item = &'a PkValue>) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    for v in values {
        encode_pk_value(v, &mut out);
    }
    out
}

/// Decodes a row key back into its column values; `None` if the bytes are not a row key.
pub fn decode_row_key(input: &[u8]) -> Option<Vec<PkValue>> {
    let mut values = Vec::new();
    decode_row_key_into(input, &mut values, &mut Vec::new())?;
    Some(values)
}

/// `decode_row_key` appending to `values`, so a scan can reuse one vector from row to row,
/// and taking the buffers of STRING and BINARY values from `spare` (then filled anew).
/// On `None` the values decoded before the damage are left in `values`.
pub fn decode_row_key_into(
    mut input: &[u8],
    values: &mut Vec<PkValue>,
    spare: &mut Vec<Vec<u8>>,
) -> Option<()> {
    // STRING and BINARY values take their buffer from `spare` (a scan hands back the
    // previous row's), so decoding a row allocates nothing once the buffers are warm.
    let mut take_escaped = |rest: &[u8]| {
        let mut bytes = spare.pop().unwrap_or_default();
        bytes.clear();
        let used = unescape_into(rest, &mut bytes)?;
        Some((bytes, used))
    };
    while let Some((&tag, rest)) = input.split_first() {
        let (value, used) = match tag {
            TAG_INF_MIN => (PkValue::InfMin, 0),
            TAG_INF_MAX => (PkValue::InfMax, 0),
            TAG_INTEGER => {
                let raw: [u8; 8] = rest.get(..8)?.try_into().ok()?;
                (
                    PkValue::Integer((u64::from_be_bytes(raw) ^ (1 << 63)) as i64),
                    8,
                )
            }
            TAG_STRING => {
                let (bytes, used) = take_escaped(rest)?;
                (PkValue::String(String::from_utf8(bytes).ok()?), used)
            }
            TAG_BINARY => {
                let (bytes, used) = take_escaped(rest)?;
                (PkValue::Binary(bytes), used)
            }
            _ => return None,
        };
        values.push(value);
        input = &rest[used..];
    }
    Some(())
}

/// Which part of a row a cell key addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellBody {
    /// The row head: DeleteRow / RowExists records.
    RowHead,
    /// A column tombstone: DeleteColumn records.
    ColumnTombstone { column: Vec<u8> },
    /// One version of one column: Put / DeleteVersion records.
    Version { column: Vec<u8>, version_ms: i64 },
}

/// A parsed cell key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCellKey<'a> {
    /// The encoded row key the cell belongs to.
    pub row: &'a [u8],
    /// Which cell of the row.
    pub body: CellBody,
}

fn version_ord(version_ms: i64) -> u64 {
    !((version_ms as u64) ^ (1 << 63))
}

fn finish_cell_key(row: &[u8], mut out: Vec<u8>) -> Vec<u8> {
    let len = u16::try_from(row.len()).expect("row keys are limited far below 64 KiB");
    out.extend_from_slice(&len.to_be_bytes());
    out
}

/// Cell key of the row head (DeleteRow / RowExists).
pub fn row_head_key(row: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.len() + 3 + TRAILER_LEN);
    out.extend_from_slice(row);
    out.push(BODY_ROW_HEAD);
    finish_cell_key(row, out)
}

/// Cell key of a column tombstone (DeleteColumn).
pub fn column_tombstone_key(row: &[u8], column: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.len() + column.len() + 6 + TRAILER_LEN);
    out.extend_from_slice(row);
    out.push(BODY_COLUMN);
    escape_into(column, &mut out);
    out.push(SUB_TOMBSTONE);
    finish_cell_key(row, out)
}

/// Cell key of one version of a column (Put / DeleteVersion).
pub fn version_key(row: &[u8], column: &[u8], version_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.len() + column.len() + 14 + TRAILER_LEN);
    out.extend_from_slice(row);
    out.push(BODY_COLUMN);
    escape_into(column, &mut out);
    out.push(SUB_VERSION);
    out.extend_from_slice(&version_ord(version_ms).to_be_bytes());
    finish_cell_key(row, out)
}

/// A seek target past every record of one column of `row` (`escaped` is `esc(name)` as a
/// cell key holds it) and before any later column: the sub-tags are 0x00 and 0x01.
pub fn column_end_key(row: &[u8], escaped: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.len() + escaped.len() + 2);
    out.extend_from_slice(row);
    out.push(BODY_COLUMN);
    out.extend_from_slice(escaped);
    out.push(SUB_VERSION + 1);
    out
}

/// The smallest key after every row-head record of `row`: where its columns begin.
pub fn first_column_key(row: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.len() + 1);
    out.extend_from_slice(row);
    out.push(BODY_COLUMN);
    out
}

/// The smallest cell key of any column named `column` or later in `row` (a seek target).
pub fn column_seek_key(row: &[u8], column: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.len() + column.len() + 4);
    out.extend_from_slice(row);
    out.push(BODY_COLUMN);
    escape_into(column, &mut out);
    out
}

/// Which part of a row a cell key addresses, with the column still escaped: equal escaped
/// names are equal names, so readers compare these without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawCellBody<'a> {
    /// The row head: DeleteRow / RowExists records.
    RowHead,
    /// A column tombstone; `column` is `esc(name)`.
    ColumnTombstone { column: &'a [u8] },
    /// One version of one column; `column` is `esc(name)`.
    Version { column: &'a [u8], version_ms: i64 },
}

/// Splits a cell key into its row and raw body without copying; `None` if malformed.
pub fn parse_cell_key_raw(cell: &[u8]) -> Option<(&[u8], RawCellBody<'_>)> {
    let split = cell.len().checked_sub(2)?;
    let row_len = u16::from_be_bytes([cell[split], cell[split + 1]]) as usize;
    let row = cell.get(..row_len)?;
    let body = cell.get(row_len..split)?;
    let (&tag, rest) = body.split_first()?;
    let body = match tag {
        BODY_ROW_HEAD if rest.is_empty() => RawCellBody::RowHead,
        BODY_COLUMN => {
            let used = escaped_len(rest)?;
            let column = &rest[..used];
            match &rest[used..] {
                [SUB_TOMBSTONE] => RawCellBody::ColumnTombstone { column },
                [SUB_VERSION, v @ ..] if v.len() == 8 => {
                    let ord = u64::from_be_bytes(v.try_into().ok()?);
                    let version_ms = ((!ord) ^ (1 << 63)) as i64;
                    RawCellBody::Version { column, version_ms }
                }
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((row, body))
}

/// Splits a cell key into its row and body; `None` if malformed.
pub fn parse_cell_key(cell: &[u8]) -> Option<ParsedCellKey<'_>> {
    let (row, raw) = parse_cell_key_raw(cell)?;
    let name = |esc: &[u8]| unescape(esc).map(|(name, _)| name);
    let body = match raw {
        RawCellBody::RowHead => CellBody::RowHead,
        RawCellBody::ColumnTombstone { column } => CellBody::ColumnTombstone {
            column: name(column)?,
        },
        RawCellBody::Version { column, version_ms } => CellBody::Version {
            column: name(column)?,
            version_ms,
        },
    };
    Some(ParsedCellKey { row, body })
}

/// The row key of a cell key, read from its trailing length; `None` if malformed.
pub fn cell_row(cell: &[u8]) -> Option<&[u8]> {
    let split = cell.len().checked_sub(2)?;
    let row_len = u16::from_be_bytes([cell[split], cell[split + 1]]) as usize;
    if row_len > split {
        return None;
    }
    Some(&cell[..row_len])
}

/// Appends the internal-key trailer for (seqno, kind) to a cell key.
pub fn make_internal_key(mut cell: Vec<u8>, seqno: SeqNo, kind: Kind) -> Vec<u8> {
    cell.extend_from_slice(&trailer(seqno, kind));
    cell
}

/// The 8 trailer bytes for (seqno, kind): newer seqnos sort first.
pub fn trailer(seqno: SeqNo, kind: Kind) -> [u8; TRAILER_LEN] {
    debug_assert!(seqno <= MAX_SEQNO);
    (!((seqno << 8) | kind as u64)).to_be_bytes()
}

/// The seek target that finds the newest record of `cell` visible at `seqno`.
pub fn seek_key(cell: &[u8], seqno: SeqNo) -> Vec<u8> {
    let mut out = Vec::with_capacity(cell.len() + TRAILER_LEN);
    out.extend_from_slice(cell);
    out.extend_from_slice(&(!((seqno << 8) | 0xFF)).to_be_bytes());
    out
}

/// Splits an internal key into (cell key, seqno, kind); `None` if malformed.
pub fn split_internal_key(internal: &[u8]) -> Option<(&[u8], SeqNo, Kind)> {
    let split = internal.len().checked_sub(TRAILER_LEN)?;
    let raw = !u64::from_be_bytes(internal[split..].try_into().ok()?);
    let kind = Kind::from_u8((raw & 0xFF) as u8)?;
    Some((&internal[..split], raw >> 8, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(values: &[PkValue]) {
        let enc: Vec<Vec<u8>> = values
            .iter()
            .map(|v| encode_row_key(std::slice::from_ref(v)))
            .collect();
        for w in enc.windows(2) {
            assert!(w[0] < w[1], "{:?} !< {:?}", w[0], w[1]);
        }
        for (v, e) in values.iter().zip(&enc) {
            assert_eq!(decode_row_key(e).unwrap(), vec![v.clone()]);
        }
    }

    #[test]
    fn integers_order_as_signed_64_bit() {
        ordered(&[
            PkValue::InfMin,
            PkValue::Integer(i64::MIN),
            PkValue::Integer(-1_000_000),
            PkValue::Integer(-1),
            PkValue::Integer(0),
            PkValue::Integer(1),
            PkValue::Integer(255),
            PkValue::Integer(256),
            PkValue::Integer(i64::MAX),
            PkValue::InfMax,
        ]);
    }

    #[test]
    fn strings_order_bytewise_with_prefixes_and_edge_bytes() {
        let s = |x: &str| PkValue::String(x.to_string());
        ordered(&[
            PkValue::InfMin,
            s(""),
            s("\0"),
            s("\0\0"),
            s("\u{1}"),
            s("a"),
            s("a\0"),
            s("a\0b"),
            s("a\u{1}"),
            s("ab"),
            s("b"),
            s("\u{7f}"),
            PkValue::InfMax,
        ]);
        let b = |x: &[u8]| PkValue::Binary(x.to_vec());
        ordered(&[
            b(b""),
            b(&[0]),
            b(&[0, 0]),
            b(&[0, 0xFF]),
            b(&[0, 0xFF, 0]),
            b(&[1]),
            b(&[0xFE]),
            b(&[0xFF]),
            b(&[0xFF, 0]),
            b(&[0xFF, 0xFF]),
        ]);
    }

    #[test]
    fn multi_column_keys_compare_column_by_column() {
        let k = |a: &str, b: i64| encode_row_key(&[PkValue::String(a.into()), PkValue::Integer(b)]);
        assert!(k("a", i64::MAX) < k("a\0", i64::MIN));
        assert!(k("a", -5) < k("a", 5));
        assert!(k("a", 5) < k("ab", -5));
        let lo = encode_row_key(&[PkValue::String("a".into()), PkValue::InfMin]);
        let hi = encode_row_key(&[PkValue::String("a".into()), PkValue::InfMax]);
        assert!(lo < k("a", i64::MIN) && k("a", i64::MAX) < hi && hi < k("a\0", 0));
    }

    #[test]
    fn cell_keys_sort_row_head_then_columns_then_newest_version() {
        let row = encode_row_key(&[PkValue::Integer(7)]);
        let head = row_head_key(&row);
        let tomb = column_tombstone_key(&row, b"c");
        let v_new = version_key(&row, b"c", 2000);
        let v_old = version_key(&row, b"c", -5);
        let d = version_key(&row, b"d", 1);
        let c_nul = version_key(&row, b"c\0", 1);
        let next_row = row_head_key(&encode_row_key(&[PkValue::Integer(8)]));
        let keys = [&head, &tomb, &v_new, &v_old, &c_nul, &d, &next_row];
        for w in keys.windows(2) {
            assert!(w[0] < w[1]);
        }
        match parse_cell_key(&v_old).unwrap().body {
            CellBody::Version { column, version_ms } => {
                assert_eq!((column.as_slice(), version_ms), (&b"c"[..], -5))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_cell_key(&tomb).unwrap().body,
            CellBody::ColumnTombstone {
                column: b"c".to_vec()
            }
        );
        assert_eq!(
            parse_cell_key(&head).unwrap(),
            ParsedCellKey {
                row: &row,
                body: CellBody::RowHead
            }
        );
        assert_eq!(cell_row(&c_nul), Some(&row[..]));
    }

    #[test]
    fn internal_keys_put_newest_seqno_first() {
        let cell = version_key(b"\x02\0\0\0\0\0\0\0\x01", b"c", 5);
        let a = make_internal_key(cell.clone(), 10, Kind::Put);
        let b = make_internal_key(cell.clone(), 9, Kind::DeleteVersion);
        assert!(a < b);
        assert!(seek_key(&cell, 10) <= a && seek_key(&cell, 9) > a && seek_key(&cell, 9) <= b);
        assert_eq!(split_internal_key(&a), Some((&cell[..], 10, Kind::Put)));
        assert_eq!(
            split_internal_key(&b),
            Some((&cell[..], 9, Kind::DeleteVersion))
        );
    }

    #[test]
    fn malformed_keys_are_rejected_not_panicking() {
        for bad in [&b""[..], b"\x01", b"\x03abc", b"\x02\0\0", b"\x03a\0\x05"] {
            let _ = decode_row_key(bad);
            let _ = parse_cell_key(bad);
            let _ = split_internal_key(bad);
            let _ = cell_row(bad);
        }
        assert!(decode_row_key(b"\x03a\0\x05").is_none());
    }

    #[test]
    fn decoding_into_spare_buffers_overwrites_what_they_held() {
        let row = vec![
            PkValue::String("ab\0c".into()),
            PkValue::Integer(-5),
            PkValue::Binary(vec![0, 0xff, 7]),
        ];
        let key = encode_row_key(&row);
        let mut spare = vec![b"stale longer bytes".to_vec(), vec![9; 40]];
        let mut values = Vec::new();
        decode_row_key_into(&key, &mut values, &mut spare).unwrap();
        assert_eq!(values, row);
        assert!(spare.is_empty(), "both buffers were taken");
        // With no spare left, values get fresh buffers.
        values.clear();
        decode_row_key_into(&key, &mut values, &mut spare).unwrap();
        assert_eq!(values, row);
        // Not UTF-8 in a STRING column: refused, whatever the spare buffer held.
        let mut spare = vec![b"ok".to_vec()];
        assert!(decode_row_key_into(b"\x03\xff\0\x01", &mut Vec::new(), &mut spare).is_none());
    }
}
