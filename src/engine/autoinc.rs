//! Auto-increment values that stay unique across restarts and kill -9. The service promises
//! values that strictly increase within a partition; one sequence for the whole table keeps
//! that promise without a map of partitions (which grew with every partition ever written and
//! cost a hash lookup per row). Values are `max(now_micros, last + 1)`, so they track the clock
//! and stay increasing if it steps back. Before handing out a value above the persisted
//! ceiling, the ceiling is raised well ahead (`RESERVE_AHEAD`) and made durable in `AUTOINC`
//! (write temp, fsync, rename, fsync dir), so at steady state this costs about one fsync per
//! second of traffic. That fsync is kept off the request path: once less than half the
//! reserve is left, the engine raises the ceiling ahead on a thread of its own
//! (`claim_raise_ahead`, `raise_ahead`); a caller only waits for it when it overtakes that
//! raise. On open the sequence starts above the stored ceiling.
//!
//! ```text
//! AUTOINC := ceiling: i64 LE ‖ crc32(ceiling bytes): u32 LE
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use parking_lot::Mutex;

use super::error::{Error, Result};
use super::filename;
use super::fsync::sync_dir;

/// How far past the handed-out value the persisted ceiling is raised (one second of micros).
pub const RESERVE_AHEAD: i64 = 1_000_000;

/// The per-table auto-increment allocator.
pub struct AutoIncrement {
    dir: PathBuf,
    /// The last value handed out (at open, the ceiling found on disk).
    last: AtomicI64,
    /// Every value handed out is <= this, and it is durable on disk. Only grows, and only
    /// under `raising`.
    ceiling: AtomicI64,
    raising: Mutex<()>,
    /// A raise ahead is claimed (running, or failed: then only a raise on the request path
    /// clears it, so a failing disk is not retried on every value).
    ahead_claimed: AtomicBool,
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
            last: AtomicI64::new(ceiling),
            ceiling: AtomicI64::new(ceiling),
            raising: Mutex::new(()),
            ahead_claimed: AtomicBool::new(false),
            now_micros,
        })
    }

    /// The next value: strictly above every value handed out before, in this process or any
    /// earlier one (so strictly increasing within every partition).
    ///
    /// Errors: the sequence is exhausted, or the raised ceiling could not be made durable.
    pub fn next(&self) -> Result<i64> {
        let now = (self.now_micros)();
        let mut prev = self.last.load(Ordering::Acquire);
        loop {
            let value = now.max(
                prev.checked_add(1)
                    .ok_or_else(|| Error::InvalidArgument("auto-increment exhausted".into()))?,
            );
            if value > self.ceiling.load(Ordering::Acquire) {
                self.raise_ceiling_to(value.saturating_add(RESERVE_AHEAD))?;
                self.ahead_claimed.store(false, Ordering::Release);
            }
            match self
                .last
                .compare_exchange_weak(prev, value, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(value),
                Err(current) => prev = current,
            }
        }
    }

    /// True for the one caller that should now run `raise_ahead` (off the request path):
    /// less than half the reserve is left above the last value, and no raise ahead is
    /// claimed yet.
    pub fn claim_raise_ahead(&self) -> bool {
        let last = self.last.load(Ordering::Acquire);
        let half_left = self.ceiling.load(Ordering::Acquire) - RESERVE_AHEAD / 2;
        last > half_left && !self.ahead_claimed.swap(true, Ordering::AcqRel)
    }

    /// Gives back a claim whose raise will not run.
    pub fn release_raise_ahead(&self) {
        self.ahead_claimed.store(false, Ordering::Release);
    }

    /// Makes the ceiling a full reserve above the last value, durably (blocking: fsyncs).
    /// Run by the claimant of `claim_raise_ahead`; on success the claim is released.
    ///
    /// Errors: the ceiling could not be made durable (the claim stays, see `ahead_claimed`).
    pub fn raise_ahead(&self) -> Result<()> {
        let target = self
            .last
            .load(Ordering::Acquire)
            .saturating_add(RESERVE_AHEAD);
        self.raise_ceiling_to(target)?;
        self.ahead_claimed.store(false, Ordering::Release);
        Ok(())
    }

    /// Makes a ceiling of at least `ceiling` durable.
    fn raise_ceiling_to(&self, ceiling: i64) -> Result<()> {
        let _raising = self.raising.lock();
        if ceiling <= self.ceiling.load(Ordering::Acquire) {
            return Ok(()); // another caller raised it meanwhile
        }
        persist(&self.dir, ceiling)?;
        self.ceiling.store(ceiling, Ordering::Release);
        Ok(())
    }

    /// The durable ceiling (for tests and diagnostics).
    pub fn ceiling(&self) -> i64 {
        self.ceiling.load(Ordering::Acquire)
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
    fn values_increase_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = AutoIncrement::open_with_clock(dir.path(), frozen).unwrap();
        let v1 = a.next().unwrap();
        let v2 = a.next().unwrap();
        assert_eq!((v1, v2), (5_000_000, 5_000_001));
        assert_eq!(a.ceiling(), 5_000_000 + RESERVE_AHEAD);
        drop(a);
        // A "crash" right after: the clock has not moved, yet values stay above the ceiling.
        let b = AutoIncrement::open_with_clock(dir.path(), frozen).unwrap();
        assert_eq!(b.next().unwrap(), 5_000_000 + RESERVE_AHEAD + 1);
    }

    #[test]
    fn the_ceiling_is_raised_only_when_passed() {
        let dir = tempfile::tempdir().unwrap();
        let a = AutoIncrement::open_with_clock(dir.path(), frozen).unwrap();
        a.next().unwrap();
        let c = a.ceiling();
        for _ in 0..1000 {
            a.next().unwrap();
        }
        assert_eq!(a.ceiling(), c);
    }

    #[test]
    fn the_ceiling_is_raised_ahead_once_half_the_reserve_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let a = AutoIncrement::open_with_clock(dir.path(), frozen).unwrap();
        let first = a.next().unwrap();
        let c = a.ceiling();
        while a.next().unwrap() <= c - RESERVE_AHEAD / 2 {
            assert!(!a.claim_raise_ahead(), "more than half the reserve is left");
        }
        assert!(a.claim_raise_ahead());
        assert!(!a.claim_raise_ahead(), "claimed once");
        a.raise_ahead().unwrap();
        assert!(a.ceiling() > c + RESERVE_AHEAD / 2);
        assert!(!a.claim_raise_ahead(), "a full reserve is left again");
        // The raised ceiling is what a reopen starts above.
        drop(a);
        let b = AutoIncrement::open_with_clock(dir.path(), frozen).unwrap();
        assert!(b.next().unwrap() > first + RESERVE_AHEAD);
    }

    #[test]
    fn concurrent_callers_never_share_a_value_and_never_pass_the_durable_ceiling() {
        let dir = tempfile::tempdir().unwrap();
        // A frozen clock makes every value come from `last + 1`: the contended path.
        let a = std::sync::Arc::new(AutoIncrement::open_with_clock(dir.path(), frozen).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let a = std::sync::Arc::clone(&a);
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    for _ in 0..(RESERVE_AHEAD / 2) {
                        let v = a.next().unwrap();
                        assert!(v <= a.ceiling(), "{v} handed out above the ceiling");
                        got.push(v);
                    }
                    // Each caller sees its own values strictly increase.
                    assert!(got.windows(2).all(|w| w[0] < w[1]));
                    got
                })
            })
            .collect();
        let mut all: Vec<i64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a value was handed out twice");
        // Two million values from a frozen clock passed the first ceiling: it was raised, and
        // what is on disk covers every value handed out.
        let on_disk = decode(&std::fs::read(filename::autoinc_path(dir.path())).unwrap());
        assert!(on_disk.unwrap() >= *all.last().unwrap());
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
