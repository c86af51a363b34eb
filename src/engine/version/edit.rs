//! `VersionEdit`: one change to the set of live files (files added and deleted per level plus
//! the counters that must survive a restart), and its byte encoding inside manifest records.
//!
//! ```text
//! edit   := field*
//! field  := 0x01 log_number: varint
//!         | 0x02 next_file_number: varint
//!         | 0x03 last_seqno: varint
//!         | 0x04 level: varint ‖ file                  added file
//!         | 0x05 level: varint ‖ number: varint        deleted file
//! file   := number ‖ file_size ‖ entries (varints) ‖ smallest ‖ largest (varint len ‖ bytes)
//!           ‖ smallest_seqno ‖ largest_seqno (varints)
//! ```
//! Tags reach disk: never renumber them.

use crate::engine::key::SeqNo;
use crate::engine::sstable::SstInfo;

const TAG_LOG_NUMBER: u8 = 1;
const TAG_NEXT_FILE_NUMBER: u8 = 2;
const TAG_LAST_SEQNO: u8 = 3;
const TAG_ADDED: u8 = 4;
const TAG_DELETED: u8 = 5;

/// What the manifest knows about one SSTable, independent of its level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// File number (`NNNNNN.sst`).
    pub number: u64,
    /// Size in bytes.
    pub file_size: u64,
    /// Number of records.
    pub entries: u64,
    /// Smallest internal key.
    pub smallest: Vec<u8>,
    /// Largest internal key.
    pub largest: Vec<u8>,
    /// Smallest seqno of any record.
    pub smallest_seqno: SeqNo,
    /// Largest seqno of any record.
    pub largest_seqno: SeqNo,
}

/// One atomic change to the version: applied in full or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// WAL segments numbered below this are fully flushed and no longer needed.
    pub log_number: Option<u64>,
    /// Every file number in use is below this.
    pub next_file_number: Option<u64>,
    /// Largest seqno whose record is in an SSTable (or the WAL at `log_number` or later).
    pub last_seqno: Option<SeqNo>,
    /// Files added, with their level.
    pub added: Vec<(usize, FileMeta)>,
    /// Files deleted, as (level, file number).
    pub deleted: Vec<(usize, u64)>,
}

/// A decode failure inside one edit payload: offset within the payload and what was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset inside the payload.
    pub offset: usize,
    /// What was being decoded.
    pub what: String,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A cursor over an edit payload whose reads name the field they decode.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, at: usize, what: &str) -> Result<T, DecodeError> {
        Err(DecodeError {
            offset: at,
            what: what.to_string(),
        })
    }

    fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => self.fail(self.pos, &format!("truncated {what}")),
        }
    }

    fn varint(&mut self, what: &str) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return self.fail(start, &format!("truncated varint {what}"));
            };
            self.pos += 1;
            let bits = u64::from(b & 0x7F);
            if shift == 63 && bits > 1 {
                return self.fail(start, &format!("varint {what} overflows 64 bits"));
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.fail(start, &format!("varint {what} is too long"))
    }

    fn usize(&mut self, what: &str) -> Result<usize, DecodeError> {
        let start = self.pos;
        let v = self.varint(what)?;
        match usize::try_from(v) {
            Ok(v) => Ok(v),
            Err(_) => self.fail(start, &format!("{what} {v} does not fit usize")),
        }
    }

    fn bytes(&mut self, what: &str) -> Result<Vec<u8>, DecodeError> {
        let start = self.pos;
        let len = self.usize(what)?;
        let end = self.pos.checked_add(len).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let out = self.buf[self.pos..end].to_vec();
                self.pos = end;
                Ok(out)
            }
            None => self.fail(
                start,
                &format!("{what} of {len} bytes runs past the record"),
            ),
        }
    }
}

impl FileMeta {
    /// The manifest entry of table `number`, as its builder summarised it.
    pub fn from_sst(number: u64, info: SstInfo) -> FileMeta {
        FileMeta {
            number,
            file_size: info.file_size,
            entries: info.entries,
            smallest: info.smallest,
            largest: info.largest,
            smallest_seqno: info.smallest_seqno,
            largest_seqno: info.largest_seqno,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        put_varint(out, self.number);
        put_varint(out, self.file_size);
        put_varint(out, self.entries);
        put_bytes(out, &self.smallest);
        put_bytes(out, &self.largest);
        put_varint(out, self.smallest_seqno);
        put_varint(out, self.largest_seqno);
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<FileMeta, DecodeError> {
        Ok(FileMeta {
            number: r.varint("file number")?,
            file_size: r.varint("file size")?,
            entries: r.varint("file entries")?,
            smallest: r.bytes("smallest key")?,
            largest: r.bytes("largest key")?,
            smallest_seqno: r.varint("smallest seqno")?,
            largest_seqno: r.varint("largest seqno")?,
        })
    }
}

impl VersionEdit {
    /// True when the edit changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == VersionEdit::default()
    }

    /// The payload bytes of this edit.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.added.len() * 64);
        let counters = [
            (TAG_LOG_NUMBER, self.log_number),
            (TAG_NEXT_FILE_NUMBER, self.next_file_number),
            (TAG_LAST_SEQNO, self.last_seqno),
        ];
        for (tag, value) in counters {
            if let Some(v) = value {
                out.push(tag);
                put_varint(&mut out, v);
            }
        }
        for (level, meta) in &self.added {
            out.push(TAG_ADDED);
            put_varint(&mut out, *level as u64);
            meta.encode_into(&mut out);
        }
        for (level, number) in &self.deleted {
            out.push(TAG_DELETED);
            put_varint(&mut out, *level as u64);
            put_varint(&mut out, *number);
        }
        out
    }

    /// Parses a payload made by `encode`.
    ///
    /// Errors: `DecodeError` naming the field and its offset inside `payload`.
    pub fn decode(payload: &[u8]) -> Result<VersionEdit, DecodeError> {
        let mut r = Reader {
            buf: payload,
            pos: 0,
        };
        let mut edit = VersionEdit::default();
        while r.pos < payload.len() {
            let at = r.pos;
            match r.u8("field tag")? {
                TAG_LOG_NUMBER => edit.log_number = Some(r.varint("log number")?),
                TAG_NEXT_FILE_NUMBER => edit.next_file_number = Some(r.varint("next file number")?),
                TAG_LAST_SEQNO => edit.last_seqno = Some(r.varint("last seqno")?),
                TAG_ADDED => {
                    let level = r.usize("added file level")?;
                    edit.added.push((level, FileMeta::decode_from(&mut r)?));
                }
                TAG_DELETED => {
                    let level = r.usize("deleted file level")?;
                    edit.deleted.push((level, r.varint("deleted file number")?));
                }
                other => return r.fail(at, &format!("unknown field tag {other}")),
            }
        }
        Ok(edit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(number: u64) -> FileMeta {
        FileMeta {
            number,
            file_size: 4096 * number + 17,
            entries: 1000 + number,
            smallest: vec![0, 1, 2, number as u8],
            largest: vec![0xFF; 300],
            smallest_seqno: 5,
            largest_seqno: u64::MAX >> 8,
        }
    }

    #[test]
    fn edit_round_trips_every_field() {
        let edit = VersionEdit {
            log_number: Some(7),
            next_file_number: Some(300),
            last_seqno: Some(1 << 40),
            added: vec![(0, meta(1)), (3, meta(200))],
            deleted: vec![(1, 9), (6, u64::MAX)],
        };
        assert_eq!(VersionEdit::decode(&edit.encode()), Ok(edit));
        let empty = VersionEdit::default();
        assert!(empty.is_empty());
        assert_eq!(VersionEdit::decode(&empty.encode()), Ok(empty));
        let only_seqno = VersionEdit {
            last_seqno: Some(0),
            ..Default::default()
        };
        assert_eq!(VersionEdit::decode(&only_seqno.encode()), Ok(only_seqno));
    }

    #[test]
    fn truncated_or_garbled_payloads_are_errors_not_panics() {
        let edit = VersionEdit {
            log_number: Some(7),
            added: vec![(2, meta(4))],
            deleted: vec![(1, 3)],
            ..Default::default()
        };
        let bytes = edit.encode();
        for len in 0..bytes.len() {
            // Every strict prefix either fails or decodes to something other than the edit.
            if let Ok(got) = VersionEdit::decode(&bytes[..len]) {
                assert_ne!(got, edit);
            }
        }
        let err = VersionEdit::decode(&[9]).unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(err.what.contains("unknown field tag"));
        let err = VersionEdit::decode(&[TAG_LOG_NUMBER, 0xFF, 0xFF]).unwrap_err();
        assert!(err.what.contains("log number"), "{err:?}");
        let overlong = [
            TAG_LAST_SEQNO,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0x7F,
        ];
        assert!(VersionEdit::decode(&overlong).is_err());
    }
}
