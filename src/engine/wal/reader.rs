//! WAL replay on open: hands every valid record's payload to the caller in order and cuts
//! the file after the last valid one. A torn write, a checksum mismatch or a payload the
//! caller rejects all end the log there: later bytes are never replayed, even if they look
//! valid, because a hole means the writes after it were never acknowledged as a sequence.

use std::fs::OpenOptions;
use std::io::Read;
use std::path::Path;

use super::format::{read_frame, FrameError};
use crate::engine::error::{Error, Result};

/// What a replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records handed to the caller.
    pub records: u64,
    /// Bytes of valid log kept.
    pub valid_bytes: u64,
    /// Bytes cut off the end (torn or corrupt tail).
    pub truncated_bytes: u64,
}

/// True when `rest` starts with a whole zero frame header and holds only zeros: the unused
/// part of a preallocated WAL. (A real empty record has a non-zero crc, so a zero header is
/// never a record.) Zeros cut short of a header, or followed by other bytes, are not a clean
/// end but a torn or damaged record.
fn is_zero_tail(rest: &[u8]) -> bool {
    rest.len() >= super::format::HEADER_LEN && rest.iter().all(|&b| b == 0)
}

/// Replays the WAL at `path`, calling `apply` with each valid payload in order. If `apply`
/// returns `Err(reason)` the record counts as corrupt. Everything after the first bad record
/// is truncated away (logged with `tracing::warn`). Only I/O failures are returned as errors.
pub fn replay(
    path: &Path,
    mut apply: impl FnMut(&[u8]) -> std::result::Result<(), String>,
) -> Result<ReplayStats> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|e| Error::io(path, e))?;
    let mut stats = ReplayStats::default();
    let mut offset = 0usize;
    let mut problem: Option<String> = None;
    while offset < data.len() {
        if is_zero_tail(&data[offset..]) {
            // A preallocated file (writer.rs) past its last record: the clean end.
            break;
        }
        match read_frame(&data[offset..]) {
            Ok(None) => break,
            Ok(Some((payload, frame_len))) => {
                if let Err(why) = apply(payload) {
                    problem = Some(format!("bad batch: {why}"));
                    break;
                }
                stats.records += 1;
                offset += frame_len;
            }
            Err(FrameError::Truncated) => {
                problem = Some("torn record".into());
                break;
            }
            Err(FrameError::Corrupt(why)) => {
                problem = Some(why);
                break;
            }
        }
    }
    stats.valid_bytes = offset as u64;
    if let Some(why) = problem {
        stats.truncated_bytes = (data.len() - offset) as u64;
        tracing::warn!(
            file = %path.display(),
            offset,
            cut_bytes = stats.truncated_bytes,
            "WAL ends in an invalid record ({why}); truncating it"
        );
        file.set_len(offset as u64)
            .map_err(|e| Error::io(path, e))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::wal::format::frame_into;

    fn log_of(payloads: &[&[u8]]) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut ends = Vec::new();
        for p in payloads {
            frame_into(p, &mut buf);
            ends.push(buf.len());
        }
        (buf, ends)
    }

    fn replay_bytes(dir: &Path, bytes: &[u8]) -> (Vec<Vec<u8>>, ReplayStats, u64) {
        let path = dir.join("000001.wal");
        std::fs::write(&path, bytes).unwrap();
        let mut got = Vec::new();
        let stats = replay(&path, |p| {
            got.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        (got, stats, len)
    }

    #[test]
    fn wal_round_trip_replays_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let payloads: [&[u8]; 3] = [b"one", b"", b"three"];
        let (buf, _) = log_of(&payloads);
        let (got, stats, len) = replay_bytes(dir.path(), &buf);
        assert_eq!(got, payloads.iter().map(|p| p.to_vec()).collect::<Vec<_>>());
        assert_eq!(
            (stats.records, stats.truncated_bytes, len),
            (3, 0, buf.len() as u64)
        );
    }

    #[test]
    fn torn_tail_is_cut_at_every_truncation_length() {
        let dir = tempfile::tempdir().unwrap();
        let payloads: [&[u8]; 3] = [b"first record", b"2", b"the third one"];
        let (buf, ends) = log_of(&payloads);
        for cut in 0..=buf.len() {
            let (got, stats, len) = replay_bytes(dir.path(), &buf[..cut]);
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(got.len(), whole, "cut {cut}");
            let keep = if whole == 0 { 0 } else { ends[whole - 1] };
            assert_eq!(
                len, keep as u64,
                "file truncated to the last whole record, cut {cut}"
            );
            assert_eq!(stats.valid_bytes, keep as u64);
        }
    }

    #[test]
    fn flipped_bytes_end_the_log_cleanly_and_never_replay_later_records() {
        let dir = tempfile::tempdir().unwrap();
        let payloads: [&[u8]; 3] = [b"alpha", b"beta", b"gamma"];
        let (buf, ends) = log_of(&payloads);
        for i in 0..buf.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = buf.clone();
                bad[i] ^= bit;
                let (got, _, len) = replay_bytes(dir.path(), &bad);
                let damaged = ends.iter().position(|&e| i < e).unwrap();
                assert_eq!(got.len(), damaged, "flip at {i}");
                assert_eq!(
                    got,
                    payloads[..damaged]
                        .iter()
                        .map(|p| p.to_vec())
                        .collect::<Vec<_>>()
                );
                assert_eq!(
                    len,
                    if damaged == 0 {
                        0
                    } else {
                        ends[damaged - 1] as u64
                    }
                );
            }
        }
    }

    #[test]
    fn zero_filled_tail_is_a_clean_end_and_a_torn_record_before_it_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let payloads: [&[u8]; 2] = [b"first record", b"second record"];
        let (buf, ends) = log_of(&payloads);
        let mut padded = buf.clone();
        padded.extend_from_slice(&[0; 4096]);
        let (got, stats, len) = replay_bytes(dir.path(), &padded);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (stats.valid_bytes, stats.truncated_bytes),
            (buf.len() as u64, 0)
        );
        assert_eq!(len, padded.len() as u64, "a clean end is left alone");
        // The second record only partly reached the disk: its tail reads as zeros.
        for written in ends[0] + 1..ends[1] {
            let mut torn = buf[..written].to_vec();
            torn.resize(padded.len(), 0);
            let (got, stats, len) = replay_bytes(dir.path(), &torn);
            assert_eq!(got.len(), 1, "written {written}");
            assert_eq!((stats.valid_bytes, len), (ends[0] as u64, ends[0] as u64));
        }
        // Zeros then garbage are damage, not a clean end.
        let mut bad = padded.clone();
        bad.push(9);
        let (got, _, len) = replay_bytes(dir.path(), &bad);
        assert_eq!((got.len(), len), (2, buf.len() as u64));
    }

    #[test]
    fn a_payload_the_caller_rejects_ends_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let (buf, ends) = log_of(&[b"ok", b"bad", b"ok"]);
        let path = dir.path().join("000002.wal");
        std::fs::write(&path, &buf).unwrap();
        let mut n = 0;
        let stats = replay(&path, |p| {
            if p == b"bad" {
                return Err("rejected".into());
            }
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            (n, stats.records, stats.valid_bytes),
            (1, 1, ends[0] as u64)
        );
    }
}
