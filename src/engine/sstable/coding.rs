//! Checked little-endian and varint codecs for SSTable bytes. Every read names the field it
//! was decoding, so a short or malformed input becomes a `Corrupt` the caller turns into
//! `Error::Corruption` with the file and absolute offset.

/// A decode failure inside one buffer: where (relative to the buffer) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corrupt {
    /// Offset inside the buffer being decoded.
    pub offset: usize,
    /// What was being read and why it failed.
    pub what: String,
}

impl Corrupt {
    pub(crate) fn new(offset: usize, what: impl Into<String>) -> Corrupt {
        Corrupt {
            offset,
            what: what.into(),
        }
    }
}

/// Result of decoding one buffer.
pub(crate) type DecodeResult<T> = std::result::Result<T, Corrupt>;

/// Appends `v` as a LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a LEB128 varint of at most `max_bits` bits at `*pos`, advancing it.
#[inline]
fn take_varint(buf: &[u8], pos: &mut usize, max_bits: u32, what: &str) -> DecodeResult<u64> {
    let start = *pos;
    let mut result: u64 = 0;
    let mut shift: u32 = 0;
    loop {
        let Some(&b) = buf.get(*pos) else {
            return Err(Corrupt::new(start, format!("truncated varint {what}")));
        };
        *pos += 1;
        let bits = u64::from(b & 0x7F);
        // The last byte of a varint may carry only the bits still left in the value.
        let room = max_bits.saturating_sub(shift);
        if room == 0 || (room < 7 && bits >> room != 0) {
            return Err(Corrupt::new(
                start,
                format!("varint {what} overflows {max_bits} bits"),
            ));
        }
        result |= bits << shift;
        if b & 0x80 == 0 {
            return Ok(result);
        }
        shift += 7;
    }
}

/// Reads a varint that must fit 32 bits.
#[inline]
pub(crate) fn take_varint32(buf: &[u8], pos: &mut usize, what: &str) -> DecodeResult<u32> {
    // Fast path: one byte, the common case for entry lengths.
    if let Some(&b) = buf.get(*pos) {
        if b < 0x80 {
            *pos += 1;
            return Ok(u32::from(b));
        }
    }
    take_varint(buf, pos, 32, what).map(|v| v as u32)
}

/// Reads a varint that must fit 64 bits.
pub(crate) fn take_varint64(buf: &[u8], pos: &mut usize, what: &str) -> DecodeResult<u64> {
    take_varint(buf, pos, 64, what)
}

/// Reads `len` bytes at `*pos`, advancing it.
#[inline]
pub(crate) fn take_bytes<'a>(
    buf: &'a [u8],
    pos: &mut usize,
    len: usize,
    what: &str,
) -> DecodeResult<&'a [u8]> {
    match pos.checked_add(len).and_then(|end| buf.get(*pos..end)) {
        Some(out) => {
            *pos += len;
            Ok(out)
        }
        None => Err(past_end(*pos, len, buf.len(), what)),
    }
}

/// Builds the error of a read past the end; kept out of line so hot decoders stay small.
#[cold]
#[inline(never)]
fn past_end(pos: usize, len: usize, buf_len: usize, what: &str) -> Corrupt {
    Corrupt::new(
        pos,
        format!("{what} ({len} bytes) runs past the end ({buf_len} bytes)"),
    )
}

/// Reads a little-endian u32 at `*pos`, advancing it.
#[inline]
pub(crate) fn take_u32(buf: &[u8], pos: &mut usize, what: &str) -> DecodeResult<u32> {
    match pos.checked_add(4).and_then(|end| buf.get(*pos..end)) {
        Some(&[a, b, c, d]) => {
            *pos += 4;
            Ok(u32::from_le_bytes([a, b, c, d]))
        }
        _ => Err(past_end(*pos, 4, buf.len(), what)),
    }
}

/// Reads a little-endian u64 at `*pos`, advancing it.
pub(crate) fn take_u64(buf: &[u8], pos: &mut usize, what: &str) -> DecodeResult<u64> {
    let b = take_bytes(buf, pos, 8, what)?;
    let mut raw = [0u8; 8];
    raw.copy_from_slice(b);
    Ok(u64::from_le_bytes(raw))
}

/// Reads a little-endian u32 at a fixed offset without a cursor.
#[inline]
pub(crate) fn u32_at(buf: &[u8], at: usize, what: &str) -> DecodeResult<u32> {
    let mut pos = at;
    take_u32(buf, &mut pos, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0u64,
            1,
            127,
            128,
            255,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut pos = 0;
            assert_eq!(take_varint64(&buf, &mut pos, "v").unwrap(), v);
            assert_eq!(pos, buf.len());
            let mut pos = 0;
            let r32 = take_varint32(&buf, &mut pos, "v");
            if v <= u32::MAX as u64 {
                assert_eq!(r32.unwrap() as u64, v);
            } else {
                assert!(r32.is_err(), "{v} must not fit a varint32");
            }
        }
    }

    #[test]
    fn bad_varints_and_short_reads_are_errors() {
        let mut pos = 0;
        assert!(take_varint32(&[0x80, 0x80], &mut pos, "x").is_err());
        let mut pos = 0;
        assert!(take_varint64(&[0xFF; 11], &mut pos, "x").is_err());
        let mut pos = 0;
        // 5th byte of a varint32 may only carry 4 bits.
        assert!(take_varint32(&[0xFF, 0xFF, 0xFF, 0xFF, 0x1F], &mut pos, "x").is_err());
        let mut pos = 0;
        assert_eq!(
            take_varint32(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F], &mut pos, "x").unwrap(),
            u32::MAX
        );
        let mut pos = 2;
        let err = take_u32(&[0; 5], &mut pos, "restart count").unwrap_err();
        assert!(err.what.contains("restart count"));
        let mut pos = usize::MAX - 1;
        assert!(take_bytes(&[0; 5], &mut pos, 4, "x").is_err());
    }
}
