//! The table's fixed-size footer (handles of index, bloom and properties blocks, format
//! version, magic) and the properties block (entry count, seqno range, smallest/largest key).
//! Layout drawn in `sstable/mod.rs`.

use super::coding::{
    put_varint, take_bytes, take_u32, take_u64, take_varint32, Corrupt, DecodeResult,
};

/// Ends every table; chosen at random, little-endian on disk. Never change.
pub(crate) const MAGIC: u64 = 0x6f74_7364_5353_5431; // "otsdSST1"
/// The one format this code reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Bytes of the footer: 3 handles (16 each) + version + crc + magic.
pub(crate) const FOOTER_LEN: usize = 3 * 16 + 4 + 4 + 8;
/// Bytes of the crc32 that follows every block payload.
pub(crate) const BLOCK_TRAILER_LEN: usize = 4;

/// Where a block's payload lives: `size` excludes the 4-byte crc after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BlockHandle {
    pub offset: u64,
    pub size: u64,
}

impl BlockHandle {
    /// Appends the handle as two varints (index-block values).
    pub(crate) fn encode_varint(&self, out: &mut Vec<u8>) {
        put_varint(out, self.offset);
        put_varint(out, self.size);
    }

    /// Reads a handle written by `encode_varint`.
    pub(crate) fn decode_varint(buf: &[u8]) -> DecodeResult<BlockHandle> {
        let mut pos = 0;
        let offset = super::coding::take_varint64(buf, &mut pos, "block offset")?;
        let size = super::coding::take_varint64(buf, &mut pos, "block size")?;
        if pos != buf.len() {
            return Err(Corrupt::new(pos, "trailing bytes after block handle"));
        }
        Ok(BlockHandle { offset, size })
    }

    /// The payload range inside a file whose blocks end at `limit`; `None` if it does not fit.
    pub(crate) fn payload_range(&self, limit: u64) -> Option<std::ops::Range<usize>> {
        let end = self.offset.checked_add(self.size)?;
        let with_crc = end.checked_add(BLOCK_TRAILER_LEN as u64)?;
        if with_crc > limit {
            return None;
        }
        Some(usize::try_from(self.offset).ok()?..usize::try_from(end).ok()?)
    }
}

/// The decoded footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub index: BlockHandle,
    pub bloom: BlockHandle,
    pub props: BlockHandle,
}

impl Footer {
    /// The `FOOTER_LEN` bytes of the footer.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        for h in [self.index, self.bloom, self.props] {
            out.extend_from_slice(&h.offset.to_le_bytes());
            out.extend_from_slice(&h.size.to_le_bytes());
        }
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out
    }

    /// Parses and checks magic, crc and version of exactly `FOOTER_LEN` bytes.
    pub(crate) fn decode(buf: &[u8]) -> DecodeResult<Footer> {
        if buf.len() != FOOTER_LEN {
            return Err(Corrupt::new(
                0,
                format!("footer is {} bytes, expected {FOOTER_LEN}", buf.len()),
            ));
        }
        let mut pos = FOOTER_LEN - 8;
        let magic = take_u64(buf, &mut pos, "magic")?;
        if magic != MAGIC {
            return Err(Corrupt::new(
                FOOTER_LEN - 8,
                format!("bad magic {magic:#018x}: not an otsd table"),
            ));
        }
        let mut pos = FOOTER_LEN - 12;
        let stored_crc = take_u32(buf, &mut pos, "footer crc")?;
        let actual = crc32fast::hash(&buf[..FOOTER_LEN - 12]);
        if stored_crc != actual {
            return Err(Corrupt::new(
                0,
                format!(
                    "footer checksum mismatch (stored {stored_crc:#010x}, computed {actual:#010x})"
                ),
            ));
        }
        let mut pos = 0;
        let mut handle = |what: &str| -> DecodeResult<BlockHandle> {
            let offset = take_u64(buf, &mut pos, what)?;
            let size = take_u64(buf, &mut pos, what)?;
            Ok(BlockHandle { offset, size })
        };
        let index = handle("index handle")?;
        let bloom = handle("bloom handle")?;
        let props = handle("properties handle")?;
        let version = take_u32(buf, &mut pos, "format version")?;
        if version != FORMAT_VERSION {
            return Err(Corrupt::new(
                pos - 4,
                format!("unsupported table format version {version}"),
            ));
        }
        Ok(Footer {
            index,
            bloom,
            props,
        })
    }
}

/// The properties block: what `SstInfo` reports, readable without touching data blocks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Properties {
    pub entries: u64,
    pub smallest_seqno: u64,
    pub largest_seqno: u64,
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
}

impl Properties {
    /// `entries u64 ‖ smallest_seqno u64 ‖ largest_seqno u64 ‖ varint len ‖ smallest ‖ varint len ‖ largest`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + 10 + self.smallest.len() + self.largest.len());
        out.extend_from_slice(&self.entries.to_le_bytes());
        out.extend_from_slice(&self.smallest_seqno.to_le_bytes());
        out.extend_from_slice(&self.largest_seqno.to_le_bytes());
        put_varint(&mut out, self.smallest.len() as u64);
        out.extend_from_slice(&self.smallest);
        put_varint(&mut out, self.largest.len() as u64);
        out.extend_from_slice(&self.largest);
        out
    }

    /// Parses a properties payload.
    pub(crate) fn decode(buf: &[u8]) -> DecodeResult<Properties> {
        let mut pos = 0;
        let entries = take_u64(buf, &mut pos, "entry count")?;
        let smallest_seqno = take_u64(buf, &mut pos, "smallest seqno")?;
        let largest_seqno = take_u64(buf, &mut pos, "largest seqno")?;
        let len = take_varint32(buf, &mut pos, "smallest key length")? as usize;
        let smallest = take_bytes(buf, &mut pos, len, "smallest key")?.to_vec();
        let len = take_varint32(buf, &mut pos, "largest key length")? as usize;
        let largest = take_bytes(buf, &mut pos, len, "largest key")?.to_vec();
        if pos != buf.len() {
            return Err(Corrupt::new(pos, "trailing bytes after properties"));
        }
        Ok(Properties {
            entries,
            smallest_seqno,
            largest_seqno,
            smallest,
            largest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_round_trips_and_rejects_any_flipped_byte() {
        let f = Footer {
            index: BlockHandle {
                offset: 1000,
                size: 200,
            },
            bloom: BlockHandle {
                offset: 700,
                size: 300,
            },
            props: BlockHandle {
                offset: 1204,
                size: 60,
            },
        };
        let bytes = f.encode();
        assert_eq!(bytes.len(), FOOTER_LEN);
        assert_eq!(Footer::decode(&bytes).unwrap(), f);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(Footer::decode(&bad).is_err(), "flip at {i} accepted");
        }
        assert!(Footer::decode(&bytes[1..]).is_err());
    }

    #[test]
    fn properties_round_trip_and_truncations_fail() {
        let p = Properties {
            entries: 7,
            smallest_seqno: 3,
            largest_seqno: 99,
            smallest: b"a".to_vec(),
            largest: b"zz".to_vec(),
        };
        let bytes = p.encode();
        assert_eq!(Properties::decode(&bytes).unwrap(), p);
        for len in 0..bytes.len() {
            assert!(Properties::decode(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn handles_outside_the_file_have_no_range() {
        let h = BlockHandle {
            offset: 10,
            size: 20,
        };
        assert_eq!(h.payload_range(34), Some(10..30));
        assert_eq!(h.payload_range(33), None);
        assert_eq!(
            BlockHandle {
                offset: u64::MAX,
                size: 2
            }
            .payload_range(u64::MAX),
            None
        );
        let mut buf = Vec::new();
        h.encode_varint(&mut buf);
        assert_eq!(BlockHandle::decode_varint(&buf).unwrap(), h);
        assert!(BlockHandle::decode_varint(&buf[..1]).is_err());
    }
}
