//! The envelope of a sync-queue copy: the whole message (conversation, StoreTable seq id,
//! sender, client message id, send and push times, and the caller's columns) packed into one
//! BINARY column, as the reference Timeline library stores a serialized message. Storage cost
//! grows with the number of cells (each is a skiplist insert, a WAL record and an SSTable
//! entry), and fan-out writes one copy per member, so one cell per copy instead of one per
//! field makes each fan-out row much cheaper.
//!
//! Layout (little-endian): version byte, `store_seq i64`, `sent_ms i64`, `push_ms i64`, then
//! `conversation`, `sender`, `client_msg_id`, each as `len u32 ‖ UTF-8 bytes`. Version 2 then
//! has `count u32` and, per caller column, `name` as above and its value as `len u32 ‖`
//! PlainBuffer value bytes (type byte and payload). Version 1 (written before columns were
//! packed) ends after `client_msg_id`; its caller columns are cells of the row.

use crate::protocol::plainbuffer::{decode_value, encode_value, ColumnValue};

/// The format version written: columns packed.
const VERSION: u8 = 2;
/// The version of envelopes whose caller columns are separate cells (still read).
const VERSION_CELLS: u8 = 1;

/// One sync-queue copy of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Conversation id.
    pub conversation: String,
    /// The message's StoreTable seq id.
    pub store_seq: i64,
    /// Sender's user id.
    pub sender: String,
    /// The sender's client message id.
    pub client_msg_id: String,
    /// Send time (ms, sender clock).
    pub sent_ms: i64,
    /// When the fan-out wrote this copy (ms, writer clock).
    pub push_ms: i64,
    /// The caller's columns, in order (empty in a version-1 envelope: they are row cells).
    pub columns: Vec<(String, ColumnValue)>,
}

impl Envelope {
    /// The packed bytes (the current version).
    pub fn encode(&self) -> Vec<u8> {
        let values: Vec<Vec<u8>> = self.columns.iter().map(|(_, v)| encode_value(v)).collect();
        let strings = [&self.conversation, &self.sender, &self.client_msg_id];
        let len = 1
            + 3 * 8
            + strings.iter().map(|s| 4 + s.len()).sum::<usize>()
            + 4
            + self
                .columns
                .iter()
                .zip(&values)
                .map(|((name, _), value)| 8 + name.len() + value.len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.push(VERSION);
        for n in [self.store_seq, self.sent_ms, self.push_ms] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for s in strings {
            put_bytes(&mut out, s.as_bytes());
        }
        put_len(&mut out, self.columns.len());
        for ((name, _), value) in self.columns.iter().zip(&values) {
            put_bytes(&mut out, name.as_bytes());
            put_bytes(&mut out, value);
        }
        out
    }

    /// Unpacks `bytes` of either version; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, String> {
        let mut r = Reader { bytes, at: 0 };
        let version = match r.take(1)? {
            [v @ (VERSION | VERSION_CELLS)] => *v,
            [v] => return Err(format!("unknown envelope version {v}")),
            _ => return Err("empty envelope".into()),
        };
        let store_seq = r.i64()?;
        let sent_ms = r.i64()?;
        let push_ms = r.i64()?;
        let mut envelope = Envelope {
            conversation: r.string()?,
            store_seq,
            sender: r.string()?,
            client_msg_id: r.string()?,
            sent_ms,
            push_ms,
            columns: Vec::new(),
        };
        if version == VERSION {
            let count = r.len()?;
            // Each column takes at least 9 bytes: a bound on what the count may claim.
            if count > (bytes.len() - r.at) / 9 {
                return Err(format!(
                    "{count} columns cannot fit in {} bytes",
                    bytes.len() - r.at
                ));
            }
            envelope.columns.reserve(count);
            for _ in 0..count {
                let name = r.string()?;
                let at = r.at;
                let value = decode_value(r.bytes_field()?)
                    .map_err(|e| format!("value of column '{name}' at {at}: {e}"))?;
                envelope.columns.push((name, value));
            }
        }
        if r.at != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - r.at));
        }
        Ok(envelope)
    }
}

/// A version-1 envelope (caller columns as row cells), as otsd wrote it before columns were
/// packed: for tests that old rows still read. Fields in envelope order after the version.
#[cfg(test)]
pub(crate) fn encode_v1(times: [i64; 3], strings: [&str; 3]) -> Vec<u8> {
    let mut out = vec![VERSION_CELLS];
    for n in times {
        out.extend_from_slice(&n.to_le_bytes());
    }
    for s in strings {
        put_bytes(&mut out, s.as_bytes());
    }
    out
}

/// Appends `len u32` (lengths here are far below 4 GiB: request limits; saturate regardless).
fn put_len(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
}

/// Appends `len u32 ‖ bytes`.
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("truncated at byte {}", self.at));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn i64(&mut self) -> Result<i64, String> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| "short integer")?;
        Ok(i64::from_le_bytes(b))
    }

    fn len(&mut self) -> Result<usize, String> {
        let n: [u8; 4] = self.take(4)?.try_into().map_err(|_| "short length")?;
        Ok(u32::from_le_bytes(n) as usize)
    }

    fn bytes_field(&mut self) -> Result<&'a [u8], String> {
        let len = self.len()?;
        self.take(len)
    }

    fn string(&mut self) -> Result<String, String> {
        let at = self.at + 4;
        String::from_utf8(self.bytes_field()?.to_vec())
            .map_err(|_| format!("invalid UTF-8 at {at}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope {
            conversation: "g1".into(),
            store_seq: -7,
            sender: "bob".into(),
            client_msg_id: "m-é".into(),
            sent_ms: i64::MAX,
            push_ms: 1_700_000_000_000,
            columns: vec![
                ("text".into(), ColumnValue::String("hi ✓".into())),
                ("n".into(), ColumnValue::Integer(-3)),
                ("pic".into(), ColumnValue::Binary(vec![0, 255, 7])),
                ("ok".into(), ColumnValue::Boolean(true)),
                ("x".into(), ColumnValue::Double(0.25)),
                (String::new(), ColumnValue::String(String::new())),
            ],
        }
    }

    #[test]
    fn envelopes_round_trip() {
        assert_eq!(Envelope::decode(&sample().encode()), Ok(sample()));
        let empty = Envelope {
            conversation: String::new(),
            sender: String::new(),
            client_msg_id: String::new(),
            columns: Vec::new(),
            ..sample()
        };
        assert_eq!(Envelope::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn version_1_envelopes_still_decode_without_columns() {
        let mut v1 = encode_v1([5, 10, 20], ["g", "ann", "c1"]);
        let got = Envelope::decode(&v1).expect("v1");
        assert_eq!(
            (got.store_seq, got.sent_ms, got.push_ms, got.sender.as_str()),
            (5, 10, 20, "ann")
        );
        assert!(got.columns.is_empty());
        // A version-1 envelope ends after the client message id.
        v1.extend_from_slice(&0u32.to_le_bytes());
        assert!(Envelope::decode(&v1).unwrap_err().contains("trailing"));
    }

    #[test]
    fn damaged_envelopes_are_errors_not_panics() {
        let good = sample().encode();
        for cut in 0..good.len() {
            assert!(Envelope::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = good.clone();
        extra.push(0);
        assert!(Envelope::decode(&extra).unwrap_err().contains("trailing"));
        let mut version = good.clone();
        version[0] = 9;
        assert!(Envelope::decode(&version).unwrap_err().contains("version"));
        let mut huge = good.clone();
        huge[25..29].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Envelope::decode(&huge).is_err());
        // A column count far beyond the bytes left is refused before anything is reserved.
        let count_at = 1 + 24 + (4 + 2) + (4 + 3) + (4 + "m-é".len());
        let mut many = good.clone();
        many[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Envelope::decode(&many).unwrap_err().contains("cannot fit"));
        // A value that is not a PlainBuffer value names its column.
        let empty = Envelope {
            columns: vec![("t".into(), ColumnValue::Integer(1))],
            ..sample()
        };
        let mut bad = empty.encode();
        let type_at = bad.len() - 9;
        bad[type_at] = 0x7f;
        assert!(Envelope::decode(&bad).unwrap_err().contains("column 't'"));
    }
}
