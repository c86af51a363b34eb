//! WAL record framing. A WAL file is a plain sequence of records, no blocks or padding:
//!
//! ```text
//! record  := len: u32 LE ‖ crc: u32 LE ‖ payload[len]
//! crc     := crc32(len bytes ‖ payload)          (crc32fast, IEEE)
//! payload := one encoded WriteBatch (see batch.rs)
//! ```
//! Covering `len` by the checksum means a flipped length byte is caught even when the
//! misread length happens to land inside the file. A record is valid only if the whole
//! frame is present and the crc matches; the first invalid record ends the log (reader.rs).

/// Bytes of framing before each payload.
pub const HEADER_LEN: usize = 8;

/// Largest payload accepted (1 GiB): a bigger length field is treated as corruption.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 30;

fn checksum(len: [u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(payload);
    h.finalize()
}

/// Appends a framed record of `payload` to `out`.
pub fn frame_into(payload: &[u8], out: &mut Vec<u8>) {
    let len = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&checksum(len, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Reserves a frame header in `out` and returns its position; write the payload after it
/// and call `seal_frame` (lets the batch encode straight into the WAL buffer).
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    at
}

/// Fills in the header reserved by `begin_frame` at `at` for the payload that follows it.
pub fn seal_frame(out: &mut [u8], at: usize) {
    let payload_len = out.len() - at - HEADER_LEN;
    let len = (payload_len as u32).to_le_bytes();
    let crc = checksum(len, &out[at + HEADER_LEN..]);
    out[at..at + 4].copy_from_slice(&len);
    out[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The file ends inside the frame (a torn write).
    Truncated,
    /// The checksum does not match or the length is absurd.
    Corrupt(String),
}

/// Reads the frame at the start of `input`: `Ok(Some((payload, frame_len)))`, `Ok(None)`
/// at a clean end of input, or why the frame is bad.
pub fn read_frame(input: &[u8]) -> Result<Option<(&[u8], usize)>, FrameError> {
    if input.is_empty() {
        return Ok(None);
    }
    let Some(header) = input.get(..HEADER_LEN) else {
        return Err(FrameError::Truncated);
    };
    let len = [header[0], header[1], header[2], header[3]];
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let payload_len = u32::from_le_bytes(len) as usize;
    if payload_len > MAX_PAYLOAD_BYTES {
        return Err(FrameError::Corrupt(format!(
            "record length {payload_len} too large"
        )));
    }
    let Some(payload) = input.get(HEADER_LEN..HEADER_LEN + payload_len) else {
        return Err(FrameError::Truncated);
    };
    if checksum(len, payload) != crc {
        return Err(FrameError::Corrupt("record checksum mismatch".into()));
    }
    Ok(Some((payload, HEADER_LEN + payload_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_both_builders_agree() {
        let mut a = Vec::new();
        frame_into(b"hello", &mut a);
        frame_into(b"", &mut a);
        let mut b = Vec::new();
        let at = begin_frame(&mut b);
        b.extend_from_slice(b"hello");
        seal_frame(&mut b, at);
        let at = begin_frame(&mut b);
        seal_frame(&mut b, at);
        assert_eq!(a, b);
        let (p, n) = read_frame(&a).unwrap().unwrap();
        assert_eq!((p, n), (&b"hello"[..], 13));
        let (p, n2) = read_frame(&a[n..]).unwrap().unwrap();
        assert_eq!((p, n2), (&b""[..], 8));
        assert_eq!(read_frame(&a[n + n2..]), Ok(None));
    }

    #[test]
    fn torn_and_flipped_frames_are_detected() {
        let mut a = Vec::new();
        frame_into(b"payload bytes", &mut a);
        for cut in 1..a.len() {
            assert_eq!(
                read_frame(&a[..cut]),
                Err(FrameError::Truncated),
                "cut {cut}"
            );
        }
        for i in 0..a.len() {
            let mut bad = a.clone();
            bad[i] ^= 0x10;
            assert!(read_frame(&bad).is_err(), "flip at {i}");
        }
        assert!(
            read_frame(&[0u8; 8]).is_err(),
            "zeroed header is not a valid empty record"
        );
    }
}
