//! The manifest: an append-only log of `VersionEdit`s, and `CURRENT`, which names the live one.
//!
//! ```text
//! manifest := record*
//! record   := len: u32 LE ‖ crc: u32 LE ‖ payload[len]    crc = crc32(len bytes ‖ payload)
//! ```
//! Each record is fsynced before the edit it carries is acknowledged, so a crash can only
//! leave an *incomplete* last frame (header or payload cut short) or a zero-filled tail. Replay
//! ignores exactly those. A complete frame whose crc does not match was fsynced, so it is damage,
//! not a torn write: ignoring it could drop a flush edit whose WAL is already deleted, so it is
//! `Error::Corruption`, wherever it sits.
//! `CURRENT` holds `MANIFEST-NNNNNN\n` and is replaced by write temp + fsync + rename + fsync(dir).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::edit::VersionEdit;
use crate::engine::error::{Error, Result};
use crate::engine::fault;
use crate::engine::filename::{self, FileKind};
use crate::engine::fsync::{self, sync_dir};

/// Bytes before each payload: length and checksum.
pub const RECORD_HEADER_LEN: usize = 8;

fn checksum(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len_bytes);
    h.update(payload);
    h.finalize()
}

/// Frames `payload` as one manifest record.
pub fn encode_record(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&checksum(len, payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// What the bytes at one offset of a manifest hold.
#[derive(Debug, PartialEq, Eq)]
enum Frame<'a> {
    /// A complete record with a matching crc: its payload and the offset just past it.
    Valid(&'a [u8], usize),
    /// The file ends inside the frame, or only zeros follow: what a crash can leave.
    Incomplete,
    /// A complete frame that cannot be valid: bad crc, or an empty record before non-zero bytes.
    Damaged(&'static str),
}

/// Classifies the frame starting at `pos` (which is `< buf.len()`).
fn frame_at(buf: &[u8], pos: usize) -> Frame<'_> {
    let rest = buf.get(pos..).unwrap_or(&[]);
    let Some(header) = rest.get(..RECORD_HEADER_LEN) else {
        return Frame::Incomplete;
    };
    let len_bytes = [header[0], header[1], header[2], header[3]];
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let len = u32::from_le_bytes(len_bytes) as usize;
    // Empty records are never written, so a zero length can only start a zero-filled tail
    // (preallocated blocks after a crash).
    if len == 0 {
        return if rest.iter().all(|&b| b == 0) {
            Frame::Incomplete
        } else {
            Frame::Damaged("empty manifest record")
        };
    }
    let Some(payload) = rest.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN.saturating_add(len)) else {
        return Frame::Incomplete;
    };
    if checksum(len_bytes, payload) != crc {
        return Frame::Damaged("manifest record checksum mismatch");
    }
    Frame::Valid(payload, pos + RECORD_HEADER_LEN + len)
}

/// What replaying one manifest file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// Every intact edit, in order.
    pub edits: Vec<VersionEdit>,
    /// Bytes of intact records; anything after is an ignored torn tail.
    pub valid_len: u64,
}

/// Reads every edit of the manifest at `path`.
///
/// Errors: `Io` when unreadable; `Corruption { file, offset }` when a complete record has a
/// bad crc (anywhere, the last one included), when an incomplete frame is followed by an
/// intact record (so it is not at the end), or when an intact record does not decode. Only an
/// incomplete last frame or a zero-filled tail is ignored, as a torn append.
pub fn read_manifest(path: &Path) -> Result<Replay> {
    let buf = fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut edits = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let (payload, end) = match frame_at(&buf, pos) {
            Frame::Valid(payload, end) => (payload, end),
            Frame::Damaged(what) => return Err(Error::corruption(path, pos as u64, what)),
            Frame::Incomplete => {
                // A damaged length can make a mid-log record look cut short: if any intact
                // record follows, this is not the end of the log.
                if (pos + 1..buf.len()).any(|q| matches!(frame_at(&buf, q), Frame::Valid(..))) {
                    return Err(Error::corruption(
                        path,
                        pos as u64,
                        "damaged manifest record",
                    ));
                }
                tracing::warn!(file = %path.display(), offset = pos, "ignoring torn manifest tail");
                break;
            }
        };
        let edit = VersionEdit::decode(payload).map_err(|e| {
            let offset = (pos + RECORD_HEADER_LEN + e.offset) as u64;
            Error::corruption(path, offset, format!("version edit: {}", e.what))
        })?;
        edits.push(edit);
        pos = end;
    }
    Ok(Replay {
        edits,
        valid_len: pos as u64,
    })
}

/// Appends edits to one manifest file, fsyncing each.
pub struct ManifestWriter {
    path: PathBuf,
    number: u64,
    file: File,
    size: u64,
    /// False once a failure may have left bytes past `size` that replay would read.
    intact: bool,
}

impl ManifestWriter {
    /// Creates manifest `number` in `dir` (truncating any leftover file of that name).
    pub fn create(dir: &Path, number: u64) -> Result<ManifestWriter> {
        let path = filename::manifest_path(dir, number);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(ManifestWriter {
            path,
            number,
            file,
            size: 0,
            intact: true,
        })
    }

    /// Continues manifest `number` in `dir` after its first `valid_len` bytes (its intact
    /// records, see `Replay`), cutting off a torn tail first: for an open that cannot write
    /// a fresh manifest because the disk is full.
    ///
    /// Errors: `Io`.
    pub fn reopen(dir: &Path, number: u64, valid_len: u64) -> Result<ManifestWriter> {
        let path = filename::manifest_path(dir, number);
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if len > valid_len {
            // Truncating frees space, so it works on a full disk.
            file.set_len(valid_len).map_err(|e| Error::io(&path, e))?;
            fsync::sync_data(&file, &path)?;
        }
        Ok(ManifestWriter {
            path,
            number,
            file,
            size: valid_len,
            intact: true,
        })
    }

    /// Appends `edit` as one record and fsyncs; the edit is durable when this returns.
    ///
    /// Errors: `Io`. When the write itself fails (a full disk), the part of the record that
    /// landed is cut off again, so the manifest stays as it was and a later append may
    /// succeed; check `is_intact` before appending after any failure.
    pub fn append(&mut self, edit: &VersionEdit) -> Result<()> {
        let record = encode_record(&edit.encode());
        if let Err(e) = fault::write_all_at(&self.file, &self.path, &record, self.size) {
            // Truncating frees space, so it works on a full disk; the cut need not be
            // durable: a torn frame that comes back after a crash is a torn tail to replay.
            if self.file.set_len(self.size).is_err() {
                self.intact = false;
            }
            return Err(Error::io(&self.path, e));
        }
        if let Err(e) = fsync::sync_data(&self.file, &self.path) {
            self.intact = false;
            return Err(e);
        }
        self.size += record.len() as u64;
        Ok(())
    }

    /// Whether the file holds exactly the records appended successfully: no failure left a
    /// torn record or an unsynced one behind.
    pub fn is_intact(&self) -> bool {
        self.intact
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The manifest's file number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The manifest's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The manifest number `CURRENT` names; `None` when there is no `CURRENT` (a new directory).
///
/// Errors: `Io`; `Corruption` when `CURRENT` does not name a manifest.
pub fn read_current(dir: &Path) -> Result<Option<u64>> {
    let path = filename::current_path(dir);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let name = std::str::from_utf8(&text)
        .ok()
        .and_then(|s| s.strip_suffix('\n'));
    match name.and_then(filename::parse_file_name) {
        Some(FileKind::Manifest(number)) => Ok(Some(number)),
        _ => Err(Error::corruption(
            &path,
            0,
            "CURRENT does not name a manifest",
        )),
    }
}

/// Points `CURRENT` at manifest `number`: write temp, fsync, rename, fsync the directory.
///
/// Errors: `Io`. A failure before the rename leaves `CURRENT` as it was (and no temp file);
/// one after it (making the rename durable) is never a resource shortage, since `CURRENT`
/// may then name either manifest.
pub fn set_current(dir: &Path, number: u64) -> Result<()> {
    let tmp = filename::temp_path(dir, filename::CURRENT);
    let current = filename::current_path(dir);
    let text = format!("{}\n", filename::manifest_name(number));
    let staged = write_durably(&tmp, text.as_bytes())
        .and_then(|()| fs::rename(&tmp, &current).map_err(|e| Error::io(&current, e)));
    if let Err(e) = staged {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir).map_err(|e| {
        Error::io(
            dir,
            std::io::Error::other(format!("cannot make the new CURRENT durable: {e}")),
        )
    })
}

/// Creates `path` holding `bytes`, fsynced.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    fault::check_space(path)
        .and_then(|()| file.write_all(bytes))
        .map_err(|e| Error::io(path, e))?;
    fsync::sync_data(&file, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::version::edit::FileMeta;

    fn edit(i: u64) -> VersionEdit {
        VersionEdit {
            log_number: Some(i),
            next_file_number: Some(i + 10),
            last_seqno: Some(i * 100),
            added: vec![(
                (i % 3) as usize,
                FileMeta {
                    number: i,
                    file_size: 100 + i,
                    entries: i,
                    smallest: format!("a{i}").into_bytes(),
                    largest: format!("z{i}").into_bytes(),
                    smallest_seqno: i,
                    largest_seqno: i + 1,
                },
            )],
            deleted: if i > 1 { vec![(0, i - 1)] } else { vec![] },
        }
    }

    fn write_edits(dir: &Path, n: u64) -> PathBuf {
        let mut w = ManifestWriter::create(dir, 1).unwrap();
        for i in 1..=n {
            w.append(&edit(i)).unwrap();
        }
        w.path().to_path_buf()
    }

    #[test]
    fn replay_returns_every_edit_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_edits(dir.path(), 500);
        let replay = read_manifest(&path).unwrap();
        assert_eq!(replay.edits.len(), 500);
        for (i, e) in replay.edits.iter().enumerate() {
            assert_eq!(*e, edit(i as u64 + 1));
        }
        assert_eq!(replay.valid_len, fs::metadata(&path).unwrap().len());
    }

    #[test]
    fn torn_tail_is_ignored_at_every_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_edits(dir.path(), 3);
        let full = fs::read(&path).unwrap();
        let last_start = full.len() - encode_record(&edit(3).encode()).len();
        for cut in last_start..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let replay = read_manifest(&path).unwrap();
            assert_eq!(replay.edits, vec![edit(1), edit(2)], "cut at {cut}");
            assert_eq!(replay.valid_len, last_start as u64);
        }
        // A zero-filled tail (preallocated blocks after a crash) is torn too.
        let mut padded = full.clone();
        padded.extend_from_slice(&[0; 64]);
        fs::write(&path, &padded).unwrap();
        assert_eq!(read_manifest(&path).unwrap().edits.len(), 3);
    }

    #[test]
    fn flipped_byte_is_corruption_unless_it_only_cuts_the_last_frame_short() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_edits(dir.path(), 4);
        let full = fs::read(&path).unwrap();
        let last_start = full.len() - encode_record(&edit(4).encode()).len();
        for pos in 0..full.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = full.clone();
                bad[pos] ^= flip;
                fs::write(&path, &bad).unwrap();
                // Only a flipped length byte of the last record that makes it reach past the
                // end of the file looks like a torn append.
                let len_of_last =
                    u32::from_le_bytes(bad[last_start..last_start + 4].try_into().unwrap());
                let cut_short = pos >= last_start
                    && pos < last_start + 4
                    && last_start + RECORD_HEADER_LEN + len_of_last as usize > full.len();
                match read_manifest(&path) {
                    Err(Error::Corruption { file, offset, .. }) => {
                        assert!(
                            !cut_short,
                            "an incomplete last frame at {pos} must be ignored"
                        );
                        assert_eq!(file, path);
                        assert!(offset <= pos as u64);
                    }
                    Ok(replay) => {
                        assert!(cut_short, "damage at {pos} went unnoticed");
                        assert_eq!(replay.edits, vec![edit(1), edit(2), edit(3)]);
                    }
                    Err(other) => panic!("unexpected error {other}"),
                }
            }
        }
    }

    #[test]
    fn complete_last_record_with_bad_crc_is_corruption_at_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_edits(dir.path(), 3);
        let full = fs::read(&path).unwrap();
        let last_start = full.len() - encode_record(&edit(3).encode()).len();
        for pos in [
            last_start + 4,
            last_start + RECORD_HEADER_LEN,
            full.len() - 1,
        ] {
            let mut bad = full.clone();
            bad[pos] ^= 0x40;
            fs::write(&path, &bad).unwrap();
            match read_manifest(&path) {
                Err(Error::Corruption { file, offset, .. }) => {
                    assert_eq!((file, offset), (path.clone(), last_start as u64));
                }
                other => panic!("flip at {pos}: expected corruption, got {other:?}"),
            }
        }
        // Non-zero bytes after a zero length are not a preallocated tail either.
        let mut bad = full.clone();
        bad.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 7]);
        fs::write(&path, &bad).unwrap();
        assert!(matches!(
            read_manifest(&path),
            Err(Error::Corruption { offset, .. }) if offset == full.len() as u64
        ));
    }

    #[test]
    fn a_record_refused_by_a_full_disk_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ManifestWriter::create(dir.path(), 1).unwrap();
        w.append(&edit(1)).unwrap();
        let size = w.size();
        // Half of the record lands before the disk is full: it is cut off again.
        fault::set_disk_full(dir.path(), Some(fault::Full::Manifest));
        assert!(w.append(&edit(2)).is_err());
        assert!(w.is_intact());
        assert_eq!(fs::metadata(w.path()).unwrap().len(), size);
        fault::set_disk_full(dir.path(), None);
        w.append(&edit(3)).unwrap();
        assert_eq!(
            read_manifest(w.path()).unwrap().edits,
            vec![edit(1), edit(3)]
        );
    }

    #[test]
    fn a_reopened_manifest_cuts_its_torn_tail_and_continues_after_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ManifestWriter::create(dir.path(), 1).unwrap();
        w.append(&edit(1)).unwrap();
        let path = w.path().to_path_buf();
        drop(w);
        // A record that only partly reached the disk.
        let mut torn = fs::read(&path).unwrap();
        let whole = torn.len();
        torn.extend_from_slice(&encode_record(&edit(2).encode())[..5]);
        fs::write(&path, &torn).unwrap();
        let valid_len = read_manifest(&path).unwrap().valid_len;
        assert_eq!(valid_len, whole as u64);
        let mut w = ManifestWriter::reopen(dir.path(), 1, valid_len).unwrap();
        assert_eq!(w.size(), valid_len);
        w.append(&edit(3)).unwrap();
        assert_eq!(read_manifest(&path).unwrap().edits, vec![edit(1), edit(3)]);
    }

    #[test]
    fn a_current_refused_by_a_full_disk_is_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        set_current(dir.path(), 3).unwrap();
        fault::set_disk_full(dir.path(), Some(fault::Full::All));
        assert!(set_current(dir.path(), 4).unwrap_err().is_disk_full());
        fault::set_disk_full(dir.path(), None);
        assert_eq!(read_current(dir.path()).unwrap(), Some(3));
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file is left");
    }

    #[test]
    fn current_is_replaced_atomically_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_current(dir.path()).unwrap(), None);
        set_current(dir.path(), 3).unwrap();
        assert_eq!(read_current(dir.path()).unwrap(), Some(3));
        set_current(dir.path(), 12).unwrap();
        assert_eq!(read_current(dir.path()).unwrap(), Some(12));
        assert!(!filename::temp_path(dir.path(), filename::CURRENT).exists());
        fs::write(filename::current_path(dir.path()), b"garbage").unwrap();
        assert!(matches!(
            read_current(dir.path()),
            Err(Error::Corruption { .. })
        ));
    }
}
