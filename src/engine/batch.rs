//! WriteBatch: the unit of atomicity. All records of one batch reach the WAL as one record
//! and become visible together. The batch is encoded once (`encode_into`) into the WAL payload;
//! the memtable is filled by decoding that same payload (`BatchRecords`), so recovery and the
//! live write path share one code path.
//!
//! ```text
//! payload := first_seqno: u64 LE ‖ count: u32 LE ‖ record{count}
//! record  := kind: u8 ‖ key_len: u32 LE ‖ cell key ‖ value_len: u32 LE ‖ value
//! ```
//! Record `i` has seqno `first_seqno + i`; `kind` is `key::Kind` (never renumber). Versions
//! left to the engine (`None`) are resolved to the commit time before encoding.

use super::error::{Error, Result};
use super::key::{self, Kind, SeqNo};

/// One change inside a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Write one version of a column (`None`: the engine assigns the commit time in ms).
    Put {
        row: Vec<u8>,
        column: Vec<u8>,
        version_ms: Option<i64>,
        value: Vec<u8>,
    },
    /// Delete exactly one version of a column.
    DeleteVersion {
        row: Vec<u8>,
        column: Vec<u8>,
        version_ms: i64,
    },
    /// Delete every version of a column.
    DeleteColumn { row: Vec<u8>, column: Vec<u8> },
    /// Delete the whole row.
    DeleteRow { row: Vec<u8> },
    /// Delete the whole row and mark it present without columns (PutRow with no attributes).
    PutRowMarker {
        row: Vec<u8>,
        version_ms: Option<i64>,
    },
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
        self.ops.push(BatchOp::Put {
            row: row.to_vec(),
            column: column.to_vec(),
            version_ms,
            value: value.to_vec(),
        });
    }
    /// Deletes the version `version_ms` of `column`.
    pub fn delete_version(&mut self, row: &[u8], column: &[u8], version_ms: i64) {
        self.ops.push(BatchOp::DeleteVersion {
            row: row.to_vec(),
            column: column.to_vec(),
            version_ms,
        });
    }
    /// Deletes all versions of `column`.
    pub fn delete_column(&mut self, row: &[u8], column: &[u8]) {
        self.ops.push(BatchOp::DeleteColumn {
            row: row.to_vec(),
            column: column.to_vec(),
        });
    }
    /// Deletes the whole row.
    pub fn delete_row(&mut self, row: &[u8]) {
        self.ops.push(BatchOp::DeleteRow { row: row.to_vec() });
    }
    /// Replaces the row by an empty but present row (later puts in the batch add columns).
    pub fn put_row_marker(&mut self, row: &[u8], version_ms: Option<i64>) {
        self.ops.push(BatchOp::PutRowMarker {
            row: row.to_vec(),
            version_ms,
        });
    }
    /// A batch of `ops`, in order: what the builder methods above would make from the same
    /// changes, without copying them again.
    pub fn from_ops(ops: Vec<BatchOp>) -> WriteBatch {
        WriteBatch { ops }
    }
    /// Moves every change of `other` to the end of this batch (one atomic batch of both).
    pub fn append(&mut self, mut other: WriteBatch) {
        self.ops.append(&mut other.ops);
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

/// Longest row key the engine stores (cell keys carry the row length in a u16).
pub const MAX_ROW_KEY_BYTES: usize = u16::MAX as usize;

const BODY_ROW_HEAD: u8 = 0x00;
const BODY_COLUMN: u8 = 0x01;
const SUB_TOMBSTONE: u8 = 0x00;
const SUB_VERSION: u8 = 0x01;
const HEADER_LEN: usize = 12;

impl BatchOp {
    /// The row key the operation writes to.
    pub fn row(&self) -> &[u8] {
        match self {
            BatchOp::Put { row, .. }
            | BatchOp::DeleteVersion { row, .. }
            | BatchOp::DeleteColumn { row, .. }
            | BatchOp::DeleteRow { row }
            | BatchOp::PutRowMarker { row, .. } => row,
        }
    }
}

/// Appends `row ‖ body ‖ row_len` exactly as `key::row_head_key` & co. build it, without
/// the intermediate allocation.
fn push_cell_key(out: &mut Vec<u8>, row: &[u8], column: Option<(&[u8], Option<i64>)>) {
    out.extend_from_slice(row);
    match column {
        None => out.push(BODY_ROW_HEAD),
        Some((name, version)) => {
            out.push(BODY_COLUMN);
            key::escape_into(name, out);
            match version {
                None => out.push(SUB_TOMBSTONE),
                Some(v) => {
                    out.push(SUB_VERSION);
                    out.extend_from_slice(&(!((v as u64) ^ (1 << 63))).to_be_bytes());
                }
            }
        }
    }
    // Length checked by `validate` before encoding.
    out.extend_from_slice(&(row.len() as u16).to_be_bytes());
}

fn push_record(
    out: &mut Vec<u8>,
    kind: Kind,
    row: &[u8],
    column: Option<(&[u8], Option<i64>)>,
    value: &[u8],
) {
    out.push(kind as u8);
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    push_cell_key(out, row, column);
    let key_len = (out.len() - len_at - 4) as u32;
    out[len_at..len_at + 4].copy_from_slice(&key_len.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

impl WriteBatch {
    /// Checks that every op can be stored (row keys fit the cell-key format).
    pub fn validate(&self) -> Result<()> {
        for op in &self.ops {
            let row = op.row();
            if row.len() > MAX_ROW_KEY_BYTES {
                return Err(Error::InvalidArgument(format!(
                    "row key of {} bytes exceeds {MAX_ROW_KEY_BYTES}",
                    row.len()
                )));
            }
            if let BatchOp::Put { value, .. } = op {
                if u32::try_from(value.len()).is_err() {
                    return Err(Error::InvalidArgument("value larger than 4 GiB".into()));
                }
            }
        }
        Ok(())
    }

    /// An estimate of the encoded size, for buffer reservation.
    pub fn approximate_size(&self) -> usize {
        HEADER_LEN
            + self
                .ops
                .iter()
                .map(|op| {
                    let extra = match op {
                        BatchOp::Put { column, value, .. } => column.len() + value.len() + 16,
                        BatchOp::DeleteVersion { column, .. }
                        | BatchOp::DeleteColumn { column, .. } => column.len() + 16,
                        BatchOp::DeleteRow { .. } | BatchOp::PutRowMarker { .. } => 8,
                    };
                    op.row().len() + extra + 12
                })
                .sum::<usize>()
    }

    /// Appends the WAL payload of this batch to `out`: records get seqnos `first_seqno..`,
    /// and versions left to the engine become `now_ms`. Call `validate` first.
    pub fn encode_into(&self, first_seqno: SeqNo, now_ms: i64, out: &mut Vec<u8>) {
        out.reserve(self.approximate_size());
        out.extend_from_slice(&first_seqno.to_le_bytes());
        out.extend_from_slice(&(self.ops.len() as u32).to_le_bytes());
        for op in &self.ops {
            match op {
                BatchOp::Put {
                    row,
                    column,
                    version_ms,
                    value,
                } => {
                    let v = version_ms.unwrap_or(now_ms);
                    push_record(out, Kind::Put, row, Some((column, Some(v))), value);
                }
                BatchOp::DeleteVersion {
                    row,
                    column,
                    version_ms,
                } => {
                    push_record(
                        out,
                        Kind::DeleteVersion,
                        row,
                        Some((column, Some(*version_ms))),
                        &[],
                    );
                }
                BatchOp::DeleteColumn { row, column } => {
                    push_record(out, Kind::DeleteColumn, row, Some((column, None)), &[]);
                }
                BatchOp::DeleteRow { row } => push_record(out, Kind::DeleteRow, row, None, &[]),
                BatchOp::PutRowMarker { row, version_ms } => {
                    let v = version_ms.unwrap_or(now_ms);
                    push_record(out, Kind::RowExists, row, None, &v.to_le_bytes());
                }
            }
        }
    }
}

/// One decoded record of a batch payload, borrowing the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRecord<'a> {
    /// The record's sequence number.
    pub seqno: SeqNo,
    /// What the record says.
    pub kind: Kind,
    /// The cell key (no trailer).
    pub cell_key: &'a [u8],
    /// The value (empty for tombstones; 8-byte LE version for `RowExists`).
    pub value: &'a [u8],
}

/// A checked view of an encoded batch payload; iterate with `records()`.
#[derive(Debug, Clone, Copy)]
pub struct BatchRecords<'a> {
    first_seqno: SeqNo,
    count: u32,
    body: &'a [u8],
}

fn take<'a>(input: &mut &'a [u8], n: usize, what: &str) -> std::result::Result<&'a [u8], String> {
    if input.len() < n {
        return Err(format!(
            "batch payload too short for {what}: need {n}, have {}",
            input.len()
        ));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn take_u32(input: &mut &[u8], what: &str) -> std::result::Result<u32, String> {
    let b = take(input, 4, what)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl<'a> BatchRecords<'a> {
    /// Parses and fully validates `payload` (every record well-formed, kinds known, no
    /// trailing bytes); the error says which field is broken.
    pub fn parse(payload: &'a [u8]) -> std::result::Result<BatchRecords<'a>, String> {
        let mut input = payload;
        let seq = take(&mut input, 8, "first_seqno")?;
        let first_seqno =
            u64::from_le_bytes(seq.try_into().map_err(|_| "first_seqno".to_string())?);
        let count = take_u32(&mut input, "count")?;
        let parsed = BatchRecords {
            first_seqno,
            count,
            body: input,
        };
        let mut n = 0u32;
        let mut it = parsed.iter_unchecked();
        while let Some(r) = it.next_checked() {
            let r = r?;
            if key::cell_row(r.cell_key).is_none() {
                return Err(format!("record {n}: malformed cell key"));
            }
            n += 1;
            if n > count {
                return Err(format!("batch says {count} records, holds more"));
            }
        }
        if n != count {
            return Err(format!("batch says {count} records, holds {n}"));
        }
        if first_seqno
            .checked_add(count as u64)
            .is_none_or(|end| end > key::MAX_SEQNO + 1)
        {
            return Err(format!("seqno {first_seqno} + {count} out of range"));
        }
        Ok(parsed)
    }

    /// Seqno of the first record.
    pub fn first_seqno(&self) -> SeqNo {
        self.first_seqno
    }

    /// Number of records.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Seqno of the last record (`first_seqno - 1` for an empty batch).
    pub fn last_seqno(&self) -> SeqNo {
        (self.first_seqno + self.count as u64).saturating_sub(1)
    }

    fn iter_unchecked(&self) -> RecordIter<'a> {
        RecordIter {
            input: self.body,
            seqno: self.first_seqno,
        }
    }

    /// The records in order (already validated by `parse`).
    pub fn records(&self) -> impl Iterator<Item = BatchRecord<'a>> {
        let mut it = self.iter_unchecked();
        std::iter::from_fn(move || it.next_checked().and_then(|r| r.ok()))
    }
}

struct RecordIter<'a> {
    input: &'a [u8],
    seqno: SeqNo,
}

impl<'a> RecordIter<'a> {
    fn next_checked(&mut self) -> Option<std::result::Result<BatchRecord<'a>, String>> {
        if self.input.is_empty() {
            return None;
        }
        Some(self.decode_one())
    }

    fn decode_one(&mut self) -> std::result::Result<BatchRecord<'a>, String> {
        let kind_byte = take(&mut self.input, 1, "kind")?[0];
        let kind =
            Kind::from_u8(kind_byte).ok_or_else(|| format!("unknown record kind {kind_byte}"))?;
        let key_len = take_u32(&mut self.input, "key_len")? as usize;
        let cell_key = take(&mut self.input, key_len, "cell key")?;
        let value_len = take_u32(&mut self.input, "value_len")? as usize;
        let value = take(&mut self.input, value_len, "value")?;
        let seqno = self.seqno;
        self.seqno = self.seqno.wrapping_add(1);
        Ok(BatchRecord {
            seqno,
            kind,
            cell_key,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put_row_marker(b"r1", None);
        b.put(b"r1", b"c\0x", Some(-7), b"value");
        b.put(b"r1", b"d", None, b"");
        b.delete_version(b"r2", b"c", 42);
        b.delete_column(b"r2", b"c");
        b.delete_row(b"r3");
        b.put_row_marker(b"r4", Some(9));
        b
    }

    #[test]
    fn batch_round_trips_with_consecutive_seqnos_and_resolved_versions() {
        let b = sample();
        b.validate().unwrap();
        let mut buf = Vec::new();
        b.encode_into(100, 5555, &mut buf);
        let parsed = BatchRecords::parse(&buf).unwrap();
        assert_eq!(
            (parsed.first_seqno(), parsed.count(), parsed.last_seqno()),
            (100, 7, 106)
        );
        let recs: Vec<_> = parsed.records().collect();
        let expect = [
            (
                Kind::RowExists,
                key::row_head_key(b"r1"),
                5555i64.to_le_bytes().to_vec(),
            ),
            (
                Kind::Put,
                key::version_key(b"r1", b"c\0x", -7),
                b"value".to_vec(),
            ),
            (Kind::Put, key::version_key(b"r1", b"d", 5555), vec![]),
            (
                Kind::DeleteVersion,
                key::version_key(b"r2", b"c", 42),
                vec![],
            ),
            (
                Kind::DeleteColumn,
                key::column_tombstone_key(b"r2", b"c"),
                vec![],
            ),
            (Kind::DeleteRow, key::row_head_key(b"r3"), vec![]),
            (
                Kind::RowExists,
                key::row_head_key(b"r4"),
                9i64.to_le_bytes().to_vec(),
            ),
        ];
        assert_eq!(recs.len(), expect.len());
        for (i, (r, (kind, cell, value))) in recs.iter().zip(expect.iter()).enumerate() {
            assert_eq!(r.seqno, 100 + i as u64);
            assert_eq!(r.kind, *kind);
            assert_eq!(r.cell_key, &cell[..]);
            assert_eq!(r.value, &value[..]);
        }
        assert!(b.approximate_size() >= buf.len());
    }

    #[test]
    fn every_truncation_and_garbage_is_an_error_not_a_panic() {
        let mut buf = Vec::new();
        sample().encode_into(1, 2, &mut buf);
        for cut in 0..buf.len() {
            assert!(BatchRecords::parse(&buf[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = buf.clone();
        extra.push(1);
        assert!(BatchRecords::parse(&extra).is_err());
        let mut bad_kind = buf.clone();
        bad_kind[12] = 99;
        assert!(BatchRecords::parse(&bad_kind).unwrap_err().contains("kind"));
        let mut big_seq = buf.clone();
        big_seq[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(BatchRecords::parse(&big_seq).is_err());
    }

    #[test]
    fn oversized_row_keys_are_rejected() {
        let mut b = WriteBatch::new();
        b.delete_row(&vec![1u8; MAX_ROW_KEY_BYTES + 1]);
        assert!(matches!(b.validate(), Err(Error::InvalidArgument(_))));
    }
}
