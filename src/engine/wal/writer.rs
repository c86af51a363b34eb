//! WAL appends and group commit. `WalWriter` owns one log file; `CommitQueue` lets concurrent
//! writers share one write + one fsync: each writer enqueues its batch; whoever finds no leader
//! running becomes the leader, takes the whole queue, runs the commit for the group and hands
//! every member its result (the shape of RocksDB's write_thread, reduced to one mutex).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::thread::{JoinHandle, Thread};

use memmap2::{MmapMut, MmapOptions};
use parking_lot::Mutex;

use crate::engine::error::{Error, Result};
use crate::engine::fsync::{self, sync_dir};
use crate::engine::{fault, filename};

/// Size of one zero-filled extension of a preallocated WAL. Large enough that the metadata
/// commit it costs is rare, small enough that writing it does not stall a commit for long.
pub const PREALLOCATE_CHUNK_BYTES: u64 = 8 << 20;

/// The step of a synced WAL's extensions in the foreground: its first chunk, written while
/// the commit that switched logs waits, and the room an append takes when no helper made
/// it (a helper failed on a full disk). Other extensions run ahead of the appends on a
/// helper thread (`extend_ahead`): 8 MiB written and fdatasynced in the foreground stalled
/// every commit for ~8 ms. Small, so that a nearly full disk still takes the next records.
pub const FOREGROUND_CHUNK_BYTES: u64 = 1 << 20;

/// How many groups in a row one group-commit leader may commit before handing over, which
/// bounds how long its own caller waits for the answer it already has.
const MAX_ROUNDS_PER_LEADER: usize = 4;

/// An open WAL file being appended to.
#[derive(Debug)]
pub struct WalWriter {
    file: File,
    path: PathBuf,
    number: u64,
    bytes: u64,
    /// Bytes of the file already written (zeros past `bytes`).
    allocated: u64,
    /// Extensions are fdatasynced (the log will be synced) or not (`SyncPolicy::Never`).
    synced: bool,
    /// For unsynced logs, a shared mapping of the preallocated bytes: appends are a `memcpy`
    /// into the page cache instead of a `pwrite` each, and as safe against a process crash
    /// (the page cache outlives the process).
    map: Option<MmapMut>,
    /// A zero-fill running ahead of the appends on a helper thread (synced logs only).
    ahead: Option<Ahead>,
    /// The last helper failed (a full disk): none is started again until an extension in
    /// the foreground succeeds, so a full disk costs no thread and no warning per commit.
    ahead_failed: bool,
}

/// An extension in progress on a helper thread: zeros from the allocated end to `target`.
#[derive(Debug)]
struct Ahead {
    target: u64,
    thread: JoinHandle<Result<()>>,
}

impl Drop for WalWriter {
    fn drop(&mut self) {
        // No helper outlives its log's writer: it writes into the data directory.
        self.settle_ahead();
    }
}

impl WalWriter {
    /// Creates WAL `number` in `dir` (fails if it exists) and makes its name durable. The
    /// file is extended in zero-filled chunks of `PREALLOCATE_CHUNK_BYTES` (each made durable
    /// once), so a later `sync` overwrites already-allocated blocks and fdatasync need not
    /// commit any metadata: the cheap fsync that makes durable group commit fast. A zero
    /// frame header marks the end of the log (see reader.rs).
    pub fn create(dir: &Path, number: u64) -> Result<WalWriter> {
        Self::open_new(dir, number, true)
    }

    /// Like `create`, without fsyncing each extension, and appended to through a shared
    /// mapping: for logs that are never synced (`SyncPolicy::Never`).
    pub fn create_unsynced(dir: &Path, number: u64) -> Result<WalWriter> {
        Self::open_new(dir, number, false)
    }

    /// Like `create` (or `create_unsynced`), without preallocating: the first append
    /// extends the file. For an engine opening on a full disk, which then serves reads and
    /// refuses commits until space is freed, as it does when the disk fills while it runs.
    pub fn create_empty(dir: &Path, number: u64, synced: bool) -> Result<WalWriter> {
        let w = Self::new_file(dir, number, synced)?;
        if let Err(e) = sync_dir(dir) {
            let _ = std::fs::remove_file(&w.path);
            return Err(e);
        }
        Ok(w)
    }

    fn open_new(dir: &Path, number: u64, synced: bool) -> Result<WalWriter> {
        let mut w = Self::new_file(dir, number, synced)?;
        let first = if synced {
            FOREGROUND_CHUNK_BYTES
        } else {
            PREALLOCATE_CHUNK_BYTES
        };
        // A log that could not be set up (a full disk) is removed, not left to take space.
        if let Err(e) = w.extend_to(first).and_then(|()| sync_dir(dir)) {
            let _ = std::fs::remove_file(&w.path);
            return Err(e);
        }
        Ok(w)
    }

    /// Creates the file of WAL `number`, empty and not yet durable.
    fn new_file(dir: &Path, number: u64, synced: bool) -> Result<WalWriter> {
        let path = filename::wal_path(dir, number);
        let file = OpenOptions::new()
            .read(true) // a shared writable mapping needs a read-write descriptor
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(WalWriter {
            file,
            path,
            number,
            bytes: 0,
            allocated: 0,
            synced,
            map: None,
            ahead: None,
            ahead_failed: false,
        })
    }

    /// Writes zeros up to `target` in the foreground and, for a synced log, fdatasyncs the
    /// new length.
    fn extend_to(&mut self, target: u64) -> Result<()> {
        zero_fill(&self.file, &self.path, self.allocated, target, self.synced)?;
        self.allocated = target;
        self.ahead_failed = false;
        if !self.synced {
            // Only unsynced logs are mapped: under fdatasync, every store to a page just
            // written back faults again (write protection, stable pages), which made durable
            // group commit several times slower than `pwrite`.
            //
            // SAFETY: the file is this engine's own WAL (the data directory is locked) and
            // is never truncated below what is mapped (a failed extension cuts off only its
            // own zeros), and its blocks were just written, so stores through the mapping
            // cannot fault on a missing page or a full disk. `MmapMut` keeps the mapping
            // alive for as long as it is used.
            let map = unsafe { MmapOptions::new().len(target as usize).map_mut(&self.file) }
                .map_err(|e| Error::io(&self.path, e))?;
            self.map = Some(map);
        }
        Ok(())
    }

    /// Appends framed records (not yet durable): one `write` call, or a copy into the
    /// mapping of an unsynced log.
    ///
    /// On error the log's end stays where it was: bytes of a partly written frame are
    /// overwritten by the next append, and until then they fail their checksum, so replay
    /// ends before them. A full disk is therefore safe to retry once space is freed.
    pub fn append(&mut self, framed: &[u8]) -> Result<()> {
        let end = self.bytes + framed.len() as u64;
        if end > self.allocated {
            // The helper may be about to make room: wait for it before writing zeros here.
            self.settle_ahead();
        }
        if end > self.allocated {
            let step = if self.synced {
                FOREGROUND_CHUNK_BYTES
            } else {
                PREALLOCATE_CHUNK_BYTES
            };
            self.extend_to(end.div_ceil(step).max(1) * step)?;
        }
        match &mut self.map {
            Some(map) => map[self.bytes as usize..end as usize].copy_from_slice(framed),
            None => fault::write_all_at(&self.file, &self.path, framed, self.bytes)
                .map_err(|e| Error::io(&self.path, e))?,
        }
        self.bytes = end;
        self.extend_ahead();
        Ok(())
    }

    /// Starts zero-filling the next chunk on a helper thread once less than half a chunk of
    /// preallocated space is left, so that no commit waits for the zeros or their fdatasync.
    /// The helper writes only past `allocated` and appends only below it, so the two never
    /// touch the same bytes; `allocated` moves when the helper is collected.
    ///
    /// The helper opens the log anew rather than sharing this descriptor: the kernel reports
    /// a failed writeback once per open file, so an fdatasync failure seen by the helper is
    /// still seen by this writer's next `sync`, which then fails its commit.
    fn extend_ahead(&mut self) {
        // Unsynced logs append through a mapping of the allocated bytes; after a failure,
        // the foreground extends first.
        if !self.synced || self.ahead_failed {
            return;
        }
        if let Some(ahead) = &self.ahead {
            if !ahead.thread.is_finished() {
                return;
            }
            self.settle_ahead();
        }
        if self.allocated - self.bytes >= PREALLOCATE_CHUNK_BYTES / 2 {
            return;
        }
        let from = self.allocated;
        let target = from + PREALLOCATE_CHUNK_BYTES;
        let path = self.path.clone();
        let spawned = std::thread::Builder::new()
            .name("otsd-wal-prealloc".into())
            .spawn(move || {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                zero_fill(&file, &path, from, target, true)
            });
        match spawned {
            Ok(thread) => self.ahead = Some(Ahead { target, thread }),
            // The append that needs the room extends in the foreground instead.
            Err(e) => tracing::debug!(error = %e, "cannot start WAL preallocation thread"),
        }
    }

    /// Waits for the helper's extension, if any, and takes its room. A failed one leaves
    /// `allocated` where it was: the next append past it extends in the foreground and
    /// reports a full disk to its commit, and a failed fdatasync reaches this writer's own
    /// next `sync` (see `extend_ahead`).
    fn settle_ahead(&mut self) {
        let Some(ahead) = self.ahead.take() else {
            return;
        };
        match ahead.thread.join() {
            Ok(Ok(())) => self.allocated = self.allocated.max(ahead.target),
            Ok(Err(e)) => {
                self.ahead_failed = true;
                tracing::warn!(error = %e, "preallocating the WAL ahead failed");
            }
            Err(_) => {
                self.ahead_failed = true;
                tracing::error!("WAL preallocation thread panicked");
            }
        }
    }

    /// Makes every appended byte durable (fdatasync).
    pub fn sync(&self) -> Result<()> {
        fsync::sync_data(&self.file, &self.path)
    }

    /// A second handle on the file, for a background syncer.
    pub fn sync_handle(&self) -> Result<File> {
        self.file.try_clone().map_err(|e| Error::io(&self.path, e))
    }

    /// The WAL's file number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The WAL's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes appended so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// Writes zeros over `from..target` of `file` (which ends at `from`) and, when `sync`,
/// fdatasyncs them (with the new file length) so that later appends overwrite allocated
/// blocks. Zeros that could not all be written (a full disk) are cut off again, giving
/// their space back to the flush that will free the disk.
fn zero_fill(file: &File, path: &Path, from: u64, target: u64, sync: bool) -> Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = from;
    while at < target {
        let n = (target - at).min(zeros.len() as u64) as usize;
        let written = fault::write_all_at(file, path, &zeros[..n], at);
        if let Err(e) = written {
            let _ = file.set_len(from);
            return Err(Error::io(path, e));
        }
        at += n as u64;
    }
    if sync {
        fsync::sync_data(file, path)?;
    }
    Ok(())
}

/// Hashes tickets (distinct u64s) with one multiply: SipHash was a visible cost per write.
#[derive(Default)]
struct TicketHasher(u64);

impl Hasher for TicketHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

struct QueueState<T> {
    /// Waiting items with their ticket and the thread to wake when the item is done.
    pending: Vec<(u64, T, Thread)>,
    results: HashMap<u64, Result<u64>, BuildHasherDefault<TicketHasher>>,
    next_ticket: u64,
    leader_busy: bool,
}

impl<T> QueueState<T> {
    /// Ends a leader's turn: the thread owning the oldest pending item (if any) must be woken
    /// so that it leads the next group; everyone else keeps sleeping.
    fn release_leader(&mut self) -> Option<Thread> {
        self.leader_busy = false;
        self.pending.first().map(|(_, _, th)| th.clone())
    }
}

/// Group commit: a queue of items committed in groups by one leader at a time.
///
/// Wake-ups are per waiter (`Thread::unpark`), not a broadcast: a finished group wakes only
/// its own members plus the one waiter that must lead the next group, so 64 writers in flight
/// do not all wake on every commit.
pub struct CommitQueue<T> {
    state: Mutex<QueueState<T>>,
}

impl<T> Default for CommitQueue<T> {
    fn default() -> Self {
        CommitQueue {
            state: Mutex::new(QueueState {
                pending: Vec::new(),
                results: HashMap::default(),
                next_ticket: 0,
                leader_busy: false,
            }),
        }
    }
}

/// Resets the leader flag even if the commit closure panics, so followers do not hang.
struct LeaderGuard<'a, T> {
    queue: &'a CommitQueue<T>,
    members: Vec<(u64, Thread)>,
    finished: bool,
}

impl<T> Drop for LeaderGuard<'_, T> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut st = self.queue.state.lock();
        for (t, _) in &self.members {
            st.results.insert(*t, Err(Error::Poisoned));
        }
        let next = st.release_leader();
        drop(st);
        for (_, th) in self.members.drain(..) {
            th.unpark();
        }
        if let Some(th) = next {
            th.unpark();
        }
    }
}

impl<T> CommitQueue<T> {
    /// A new, empty queue.
    pub fn new() -> CommitQueue<T> {
        CommitQueue::default()
    }

    /// Enqueues `item` and returns its result once some leader committed it. If this caller
    /// becomes the leader, `commit` runs with the whole group (in queue order, this item
    /// included), and possibly again with the groups queued behind it; each time it must
    /// return one result per item, in the same order.
    pub fn submit(&self, item: T, commit: impl FnMut(Vec<T>) -> Vec<Result<u64>>) -> Result<u64> {
        self.submit_many(vec![item], commit)
            .pop()
            .unwrap_or(Err(Error::Poisoned))
    }

    /// Enqueues `items` together (they always land in the same group, in order) and returns
    /// their results, one per item. Lets one caller commit many independent items with one
    /// WAL append and one fsync.
    pub fn submit_many(
        &self,
        items: Vec<T>,
        mut commit: impl FnMut(Vec<T>) -> Vec<Result<u64>>,
    ) -> Vec<Result<u64>> {
        if items.is_empty() {
            return Vec::new();
        }
        let mut st = self.state.lock();
        if !st.leader_busy && st.pending.is_empty() {
            // Nobody is committing or waiting: lead a group of just these items, without
            // tickets, thread handles or the results map.
            st.leader_busy = true;
            drop(st);
            let n = items.len();
            let mut guard = LeaderGuard {
                queue: self,
                members: Vec::new(),
                finished: false,
            };
            let mut results = commit(items);
            results.resize_with(n, || Err(Error::Poisoned));
            st = self.state.lock();
            guard.finished = true;
            let next = st.release_leader();
            drop(st);
            if let Some(th) = next {
                th.unpark();
            }
            return results;
        }
        let first = st.next_ticket;
        let count = items.len() as u64;
        st.next_ticket += count;
        let me = std::thread::current();
        for (i, item) in items.into_iter().enumerate() {
            st.pending.push((first + i as u64, item, me.clone()));
        }
        loop {
            // All of this caller's items were taken by one leader, so they finish together.
            if st.results.contains_key(&first) {
                return (first..first + count)
                    .map(|t| st.results.remove(&t).unwrap_or(Err(Error::Poisoned)))
                    .collect();
            }
            if st.leader_busy {
                // Parking after unlocking is race-free: an `unpark` issued in between leaves
                // a token that makes `park` return at once. Spurious returns just loop.
                drop(st);
                std::thread::park();
                st = self.state.lock();
                continue;
            }
            st.leader_busy = true;
            // A leader whose group is done keeps leading while writers are queued (up to
            // `MAX_ROUNDS_PER_LEADER` groups): it is already running, whereas handing over
            // costs a wake-up and a context switch before the next WAL write can start.
            for round in 1.. {
                let group = std::mem::take(&mut st.pending);
                drop(st);
                let mut members = Vec::with_capacity(group.len());
                let mut items = Vec::with_capacity(group.len());
                for (t, it, th) in group {
                    members.push((t, th));
                    items.push(it);
                }
                let mut guard = LeaderGuard {
                    queue: self,
                    members,
                    finished: false,
                };
                let results = commit(items);
                st = self.state.lock();
                let mut results = results.into_iter();
                for (t, _) in &guard.members {
                    st.results
                        .insert(*t, results.next().unwrap_or(Err(Error::Poisoned)));
                }
                guard.finished = true;
                let members = std::mem::take(&mut guard.members);
                if round < MAX_ROUNDS_PER_LEADER && !st.pending.is_empty() {
                    drop(st);
                    wake(members, None, me.id());
                    st = self.state.lock();
                    continue;
                }
                let next = st.release_leader();
                drop(st);
                wake(members, next, me.id());
                st = self.state.lock();
                break;
            }
            // This caller's items were in the first group, so its results are in `results`.
        }
    }
}

/// Wakes each distinct member thread of a finished group once (except the leader itself),
/// then the thread that must lead the next group.
fn wake(members: Vec<(u64, Thread)>, next: Option<Thread>, leader: std::thread::ThreadId) {
    let mut last = None;
    for (_, th) in members {
        // A caller's items are adjacent in the queue: one unpark per run is enough.
        if th.id() != leader && last != Some(th.id()) {
            last = Some(th.id());
            th.unpark();
        }
    }
    if let Some(th) = next {
        th.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn wal_writer_appends_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        for (number, mut w) in [
            (3, WalWriter::create(dir.path(), 3).unwrap()),
            (5, WalWriter::create_unsynced(dir.path(), 5).unwrap()),
        ] {
            w.append(b"abc").unwrap();
            w.sync().unwrap();
            assert_eq!((w.bytes(), w.number()), (3, number));
            let on_disk = std::fs::read(w.path()).unwrap();
            assert_eq!(
                &on_disk[..4],
                b"abc\0",
                "appended bytes, then the zero tail"
            );
            assert!(WalWriter::create(dir.path(), number).is_err());
            assert!(WalWriter::create_unsynced(dir.path(), number).is_err());
        }
    }

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::engine::wal::format::frame_into(payload, &mut out);
        out
    }

    fn file_len(w: &WalWriter) -> u64 {
        std::fs::metadata(w.path()).unwrap().len()
    }

    fn replayed(w: &WalWriter) -> (Vec<Vec<u8>>, crate::engine::wal::ReplayStats) {
        let mut got = Vec::new();
        let stats = crate::engine::wal::replay(w.path(), |p| {
            got.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        (got, stats)
    }

    #[test]
    fn preallocated_wal_grows_in_zero_chunks_and_replays_to_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create_unsynced(dir.path(), 4).unwrap();
        assert_eq!(file_len(&w), PREALLOCATE_CHUNK_BYTES);
        let mut payloads = Vec::new();
        let big = vec![7u8; (PREALLOCATE_CHUNK_BYTES as usize) / 3];
        for i in 0..4u8 {
            let mut p = big.clone();
            p[0] = i;
            w.append(&framed(&p)).unwrap();
            payloads.push(p);
        }
        w.sync().unwrap();
        assert_eq!(
            file_len(&w),
            2 * PREALLOCATE_CHUNK_BYTES,
            "grew by whole chunks"
        );
        let (got, stats) = replayed(&w);
        assert_eq!(got, payloads);
        assert_eq!((stats.valid_bytes, stats.truncated_bytes), (w.bytes(), 0));
        assert_eq!(
            file_len(&w),
            2 * PREALLOCATE_CHUNK_BYTES,
            "zero tail is a clean end"
        );
    }

    #[test]
    fn a_synced_wal_is_extended_ahead_of_its_appends() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(dir.path(), 6).unwrap();
        assert_eq!(file_len(&w), FOREGROUND_CHUNK_BYTES, "a small first chunk");
        // Past half of the first chunk, a helper zero-fills the next chunk.
        let first = vec![1u8; (FOREGROUND_CHUNK_BYTES as usize) * 3 / 4];
        w.append(&framed(&first)).unwrap();
        assert!(w.ahead.is_some(), "extension started ahead");
        w.settle_ahead();
        let room = FOREGROUND_CHUNK_BYTES + PREALLOCATE_CHUNK_BYTES;
        assert_eq!((w.allocated, file_len(&w)), (room, room));
        // Appends inside the room need no foreground extension; one larger than the room
        // left is extended in the foreground, whole chunks at a time.
        let second = vec![2u8; 1000];
        w.append(&framed(&second)).unwrap();
        w.settle_ahead();
        let huge = vec![3u8; 2 * PREALLOCATE_CHUNK_BYTES as usize];
        w.append(&framed(&huge)).unwrap();
        w.sync().unwrap();
        w.settle_ahead();
        assert!(w.allocated >= w.bytes(), "never writes past the room");
        assert_eq!(file_len(&w), w.allocated);
        let (got, stats) = replayed(&w);
        assert_eq!(got, vec![first, second, huge]);
        assert_eq!((stats.valid_bytes, stats.truncated_bytes), (w.bytes(), 0));
    }

    #[test]
    fn zeros_that_do_not_all_fit_are_cut_off_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000001.wal");
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        zero_fill(&file, &path, 0, 3 << 20, false).unwrap();
        fault::set_disk_full(dir.path(), Some(fault::Full::All));
        // The first 1 MiB write is torn halfway, as on a disk that fills up.
        assert!(zero_fill(&file, &path, 3 << 20, 5 << 20, true).is_err());
        fault::set_disk_full(dir.path(), None);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 << 20);
    }

    #[test]
    fn a_failed_extension_ahead_takes_no_room_and_the_append_that_needs_it_retries() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = WalWriter::create(dir.path(), 8).unwrap();
        let first = vec![1u8; 1000];
        w.append(&framed(&first)).unwrap();
        // A helper that failed (a full disk) is collected without moving the end of room.
        let path = w.path().to_path_buf();
        let thread = std::thread::spawn(move || {
            let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
            Err(Error::io(&path, full))
        });
        w.ahead = Some(Ahead {
            target: FOREGROUND_CHUNK_BYTES + PREALLOCATE_CHUNK_BYTES,
            thread,
        });
        w.settle_ahead();
        assert_eq!(w.allocated, FOREGROUND_CHUNK_BYTES);
        // No new helper while the last one's failure stands, however little room is left.
        let filler = vec![4u8; (FOREGROUND_CHUNK_BYTES as usize) * 3 / 4];
        w.append(&framed(&filler)).unwrap();
        assert!(w.ahead.is_none(), "no helper started after a failure");
        // The append past the room extends in the foreground: refused while the disk is
        // full, done once there is space again.
        let second = vec![2u8; FOREGROUND_CHUNK_BYTES as usize];
        fault::set_disk_full(dir.path(), Some(fault::Full::All));
        assert!(w.append(&framed(&second)).is_err());
        fault::set_disk_full(dir.path(), None);
        w.append(&framed(&second)).unwrap();
        w.sync().unwrap();
        w.settle_ahead();
        let (got, stats) = replayed(&w);
        assert_eq!(got, vec![first, filler, second]);
        assert_eq!(stats.truncated_bytes, 0);
        // The foreground extension succeeded: helpers run ahead again.
        assert!(!w.ahead_failed);
    }

    #[test]
    fn concurrent_submitters_are_grouped_and_each_gets_its_own_result() {
        let q = Arc::new(CommitQueue::<u64>::new());
        let groups = Arc::new(AtomicU64::new(0));
        let seq = Arc::new(Mutex::new(0u64));
        let handles: Vec<_> = (0..8u64)
            .map(|t| {
                let (q, groups, seq) = (q.clone(), groups.clone(), seq.clone());
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..200u64 {
                        let item = t * 1000 + i;
                        let r = q
                            .submit(item, |items| {
                                groups.fetch_add(1, Ordering::Relaxed);
                                let mut s = seq.lock();
                                items
                                    .iter()
                                    .map(|&it| {
                                        *s += 1;
                                        Ok(it * 1_000_000 + *s)
                                    })
                                    .collect()
                            })
                            .unwrap();
                        assert_eq!(r / 1_000_000, item, "result belongs to the submitted item");
                        mine.push(r % 1_000_000);
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (1..=1600).collect::<Vec<_>>());
        assert!(groups.load(Ordering::Relaxed) <= 1600);
    }

    #[test]
    fn submit_many_commits_its_items_in_one_group_in_order() {
        let q = Arc::new(CommitQueue::<u64>::new());
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let q = Arc::clone(&q);
                std::thread::spawn(move || {
                    for round in 0..100u64 {
                        let items: Vec<u64> =
                            (0..10).map(|i| t * 1_000_000 + round * 10 + i).collect();
                        let results = q.submit_many(items.clone(), |group| {
                            // A leader may also commit groups queued behind its own, so
                            // check every caller's items: each run of ten starts at a
                            // multiple of ten and continues in order, never split.
                            let mut j = 0;
                            while j < group.len() {
                                let first = group[j];
                                assert_eq!(first % 10, 0, "a run starts mid-way: {group:?}");
                                let want: Vec<u64> = (first..first + 10).collect();
                                assert_eq!(group.get(j..j + 10), Some(want.as_slice()));
                                j += 10;
                            }
                            group.iter().map(|x| Ok(x * 2)).collect()
                        });
                        let got: Vec<u64> = results.into_iter().map(|r| r.unwrap()).collect();
                        assert_eq!(got, items.iter().map(|x| x * 2).collect::<Vec<_>>());
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(q.submit_many(Vec::new(), |_| unreachable!()).is_empty());
    }

    #[test]
    fn a_panicking_leader_fails_its_group_without_hanging_followers() {
        let q = CommitQueue::<u32>::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            q.submit(1, |_| panic!("boom"))
        }));
        assert!(r.is_err());
        assert_eq!(
            q.submit(2, |items| items.iter().map(|&i| Ok(i as u64)).collect())
                .unwrap(),
            2
        );
    }
}
