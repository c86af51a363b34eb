//! The envelope of a sync-queue copy: the message's system fields (conversation, StoreTable
//! seq id, sender, client message id, send and push times) packed into one BINARY column.
//! Storage cost grows with the number of cells, and fan-out writes one copy per member, so
//! one packed cell instead of six separate ones makes each fan-out row much cheaper.
//!
//! Layout (little-endian): version byte `1`, `store_seq i64`, `sent_ms i64`, `push_ms i64`,
//! then `conversation`, `sender`, `client_msg_id`, each as `len u32 ‖ UTF-8 bytes`.

/// Format version written first, so a later layout can be told apart.
const VERSION: u8 = 1;

/// The system fields of one sync-queue copy.
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
}

impl Envelope {
    /// The packed bytes.
    pub fn encode(&self) -> Vec<u8> {
        let strings = [&self.conversation, &self.sender, &self.client_msg_id];
        let len = 1 + 3 * 8 + strings.iter().map(|s| 4 + s.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.push(VERSION);
        for n in [self.store_seq, self.sent_ms, self.push_ms] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for s in strings {
            // Ids are far below 4 GiB (request limits); saturate rather than wrap regardless.
            let n = u32::try_from(s.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    /// Unpacks `bytes`; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, String> {
        let mut r = Reader { bytes, at: 0 };
        match r.take(1)? {
            [VERSION] => {}
            [v] => return Err(format!("unknown envelope version {v}")),
            _ => return Err("empty envelope".into()),
        }
        let store_seq = r.i64()?;
        let sent_ms = r.i64()?;
        let push_ms = r.i64()?;
        let envelope = Envelope {
            conversation: r.string()?,
            store_seq,
            sender: r.string()?,
            client_msg_id: r.string()?,
            sent_ms,
            push_ms,
        };
        if r.at != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - r.at));
        }
        Ok(envelope)
    }
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

    fn string(&mut self) -> Result<String, String> {
        let n: [u8; 4] = self.take(4)?.try_into().map_err(|_| "short length")?;
        let len = u32::from_le_bytes(n) as usize;
        let at = self.at;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| format!("invalid UTF-8 at {at}"))
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
        }
    }

    #[test]
    fn envelopes_round_trip() {
        assert_eq!(Envelope::decode(&sample().encode()), Ok(sample()));
        let empty = Envelope {
            conversation: String::new(),
            sender: String::new(),
            client_msg_id: String::new(),
            ..sample()
        };
        assert_eq!(Envelope::decode(&empty.encode()), Ok(empty));
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
        let mut huge = good;
        huge[25..29].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Envelope::decode(&huge).is_err());
    }
}
