//! Auto-increment values that stay unique across restarts and kill -9. Values are
//! `max(now_micros, last + 1)` per partition. Before handing out a value above the persisted
//! ceiling, the ceiling is raised well ahead (`RESERVE_AHEAD`) and made durable in `AUTOINC`
//! (write temp, fsync, rename, fsync dir), so at steady state this costs about one fsync per
//! second of traffic. On open every partition starts above the stored ceiling.
//!
//! ```text
//! AUTOINC := ceiling: i64 LE ‖ crc32(ceiling bytes): u32 LE
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::error::{Error, Result};
use super::filename;
use super::fsync::sync_dir;

/// How far past the handed-out value the persisted ceiling is raised (one second of micros).
pub const RESERVE_AHEAD: i64 = 1_000_000;

struct State {
    /// Every value handed out is <= this, and it is durable on disk.
    ceiling: i64,
    /// The ceiling found at open: every value from now on must exceed it.
    floor: i64,
    last: HashMap<Vec<u8>, i64>,
}

/// The per-table auto-increment allocator.
pub struct AutoIncrement {
    dir: PathBuf,
    state: Mutex<State>,
    now_micros: fn() -> i64,
}

fn system_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl AutoIncrement {
    /// Loads the ceiling from `dir/AUTOINC` (0 if absent).
    pub fn open(dir: &Path) -> Result<AutoIncrement> {
        Self::open_with_clock(dir, system_micros)
    }

    /// Like `open` with a replaceable microsecond clock (tests).
    pub fn open_with_clock(dir: &Path, now_micros: fn() -> i64) -> Result<AutoIncrement> {
        let path = filename::autoinc_path(dir);
        let ceiling = match std::fs::read(&path) {
            Ok(bytes) => decode(&bytes).ok_or_else(|| {
                Error::corruption(&path, 0, "AUTOINC is not an 8-byte ceiling with its crc")
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(Error::io(&path, e)),
        };
        Ok(AutoIncrement {
            dir: dir.to_path_buf(),
            state: Mutex::new(State {
                ceiling,
                floor: ceiling,
                last: HashMap::new(),
            }),
            now_micros,
        })
    }

    /// The next value for `partition`: strictly above every value handed out before for it,
    /// in this process or any earlier one.
    pub fn next(&self, partition: &[u8]) -> Result<i64> {
        let mut st = self.state.lock();
        let prev = st.last.get(partition).copied().unwrap_or(st.floor);
        let value = (self.now_micros)().max(
            prev.checked_add(1)
                .ok_or_else(|| Error::InvalidArgument("auto-increment exhausted".into()))?,
        );
        if value > st.ceiling {
            let ceiling = value.saturating_add(RESERVE_AHEAD);
            persist(&self.dir, ceiling)?;
            st.ceiling = ceiling;
        }
        match st.last.get_mut(partition) {
            Some(v) => *v = value,
            None => {
                st.last.insert(partition.to_vec(), value);
            }
        }
        Ok(value)
    }

    /// The durable ceiling (for tests and diagnostics).
    pub fn ceiling(&self) -> i64 {
        self.state.lock().ceiling
    }
}

fn decode(bytes: &[u8]) -> Option<i64> {
    let raw: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    let crc = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
    (bytes.len() == 12 && crc32fast::hash(&raw) == crc).then(|| i64::from_le_bytes(raw))
}

fn persist(dir: &Path, ceiling: i64) -> Result<()> {
    let tmp = filename::temp_path(dir, filename::AUTOINC);
    let dst = filename::autoinc_path(dir);
    let raw = ceiling.to_le_bytes();
    let mut bytes = raw.to_vec();
    bytes.extend_from_slice(&crc32fast::hash(&raw).to_le_bytes());
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(&bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    // Rename only after the temp file is durable, then make the rename itself durable.
    std::fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frozen() -> i64 {
        5_000_000
    }

    #[test]
    fn values_increase_per_partition_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = AutoIncrement::open_with_clock(dir.path(), frozen).unwrap();
        let v1 = a.next(b"p").unwrap();
        let v2 = a.next(b"p").unwrap();
        let q1 = a.next(b"q").unwrap();
        assert_eq!((v1, v2, q1), (5_000_000, 5_000_001, 5_000_000));
        assert_eq!(a.ceiling(), 5_000_000 + RESERVE_AHEAD);
        drop(a);
        // A "crash" right after: the clock has not moved, yet values stay above the ceiling.
        let b = AutoIncrement::open_with_clock(dir.path(), frozen).unwrap();
        assert_eq!(b.next(b"p").unwrap(), 5_000_000 + RESERVE_AHEAD + 1);
        assert_eq!(b.next(b"q").unwrap(), 5_000_000 + RESERVE_AHEAD + 1);
    }

    #[test]
    fn the_ceiling_is_raised_only_when_passed() {
        let dir = tempfile::tempdir().unwrap();
        let a = AutoIncrement::open_with_clock(dir.path(), frozen).unwrap();
        a.next(b"p").unwrap();
        let c = a.ceiling();
        for _ in 0..1000 {
            a.next(b"p").unwrap();
        }
        assert_eq!(a.ceiling(), c);
    }

    #[test]
    fn a_damaged_autoinc_file_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(filename::autoinc_path(dir.path()), b"garbage").unwrap();
        assert!(matches!(
            AutoIncrement::open(dir.path()),
            Err(Error::Corruption { .. })
        ));
    }
}
