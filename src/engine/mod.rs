//! The storage engine: a log-structured merge tree written for otsd. One `Engine` per table.
//!
//! It stores cells — (row key, column, version) -> value — as blind writes, plus row and
//! column tombstones, ordered by `key`'s byte encodings. Writes go to the WAL (group commit),
//! then the skiplist memtable; full memtables are flushed to SSTables and compacted by level.
//! Reads merge every source at one snapshot seqno and apply versions, tombstones, TTL and
//! max_versions. The engine never sees HTTP, protobuf or PlainBuffer.

pub mod async_commit;
pub mod autoinc;
pub mod batch;
pub mod error;
pub(crate) mod fault;
pub mod filename;
pub mod fsync;
pub mod iter;
pub mod key;
pub mod memtable;
pub mod merge;
pub mod options;
pub mod read;
pub mod row_buf;
pub mod snapshot;
pub mod write_budget;

pub use batch::WriteBatch;
pub use error::{Error, Result};
pub use key::{PkValue, SeqNo};
pub use options::{Clock, DataOptions, Options, SyncPolicy};
pub use row_buf::{CellRef, ColumnRef, RowBuf};
pub use write_budget::WriteBufferBudget;

/// One version of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Version timestamp in milliseconds.
    pub version_ms: i64,
    /// The stored value bytes (opaque to the engine).
    pub value: Vec<u8>,
}

/// The visible versions of one column, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name bytes.
    pub name: Vec<u8>,
    /// Visible versions, newest first; never empty in a returned row.
    pub cells: Vec<Cell>,
}

/// A row as a read sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The encoded row key (see `key::encode_row_key`).
    pub key: Vec<u8>,
    /// Visible columns in ascending name order, after the read's projection.
    pub columns: Vec<Column>,
    /// The row exists apart from `columns`: its PK-only marker (a PutRow without
    /// attributes) is alive, or so is a column the read left out (projection, time range).
    /// Deleting every listed column leaves such a row in place.
    pub exists_unlisted: bool,
}

/// Scan direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending keys: `start <= key < end`.
    Forward,
    /// Descending keys: `end < key <= start`.
    Backward,
}

/// What a read returns of each row.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// At most this many newest versions per column (further capped by the table's
    /// max_versions). `0` means "the table's max_versions".
    pub max_versions: u32,
    /// Only versions with `start <= version_ms < end`.
    pub time_range: Option<(i64, i64)>,
    /// Only these columns (any order); `None` = all columns.
    pub columns: Option<Vec<Vec<u8>>>,
    /// Only columns with `start_column <= name`.
    pub start_column: Option<Vec<u8>>,
    /// Only columns with `name < end_column`.
    pub end_column: Option<Vec<u8>>,
    /// Read at this snapshot seqno instead of the latest.
    pub snapshot: Option<SeqNo>,
}

pub mod compaction;
pub mod sstable;
pub mod version;
pub mod wal;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

use batch::BatchRecords;
use memtable::Memtable;
use merge::{BoxedIter, MergeIter};
use read::{ReadContext, RowScanner};
use snapshot::{PinnedSnapshot, SnapshotList};
use version::{Version, VersionSet};
use wal::{CommitQueue, WalWriter};

pub mod flush;

/// What reads see: the memtables and the files, swapped as a whole, never mutated.
struct ReadView {
    active: Arc<Memtable>,
    /// Sealed memtables waiting for flush, newest first.
    immutables: Vec<Arc<Memtable>>,
    version: Arc<Version>,
}

impl ReadView {
    /// Every source, newest first, unpositioned (for scans).
    fn iterators(&self) -> Vec<BoxedIter> {
        let mut out: Vec<BoxedIter> = Vec::with_capacity(4 + self.immutables.len());
        out.push(Box::new(self.active.iter()));
        for m in &self.immutables {
            out.push(Box::new(m.iter()));
        }
        out.extend(self.version.iters());
        out
    }

    /// The sources a point read of `row` at `snapshot` needs, newest first, each positioned
    /// at `row`. A row head (DeleteRow, or the replace of a PutRow) hides every older record
    /// of its row, so once one visible head is found, sources whose newest record is older
    /// than it are left out: a row overwritten by PutRow is read from the memtable that
    /// holds its last put instead of from every file that still holds an old copy.
    fn point_sources(&self, row: &[u8], snapshot: SeqNo) -> Result<Vec<BoxedIter>> {
        let mut out: Vec<BoxedIter> = Vec::with_capacity(4 + self.immutables.len());
        let mut floor: Option<SeqNo> = None;
        let mut add = |mut iter: BoxedIter, floor: &mut Option<SeqNo>| -> Result<()> {
            iter.seek(row)?;
            if floor.is_none() {
                *floor = read::visible_row_head(&*iter, row, snapshot);
            }
            out.push(iter);
            Ok(())
        };
        let older = |max_seqno: SeqNo, floor: Option<SeqNo>| floor.is_some_and(|h| max_seqno < h);
        add(Box::new(self.active.iter()), &mut floor)?;
        for m in &self.immutables {
            if !older(m.max_seqno(), floor) {
                add(Box::new(m.iter()), &mut floor)?;
            }
        }
        for f in self.version.files_covering_row(row) {
            if !older(f.meta.largest_seqno, floor) && f.reader.may_contain_row(row) {
                add(Box::new(f.iter()), &mut floor)?;
            }
        }
        Ok(out)
    }
}

/// State only the commit leader (or a flush request) touches, under `Inner::writer`.
struct WriterState {
    wal: WalWriter,
    last_seqno: SeqNo,
    buf: Vec<u8>,
}

/// Background work requests and results, under `Inner::bg`.
#[derive(Default)]
struct BgState {
    shutdown: bool,
    /// Manual compactions requested / finished (a counter pair, so waiters know theirs).
    manual_requested: u64,
    manual_done: u64,
    /// A background failure that stops the engine, reported to waiters.
    error: Option<Error>,
    /// A background failure that passes (disk full, no descriptor left): reported to
    /// waiters, and the job is tried again from this instant on.
    retry: Option<(std::time::Instant, Error)>,
    /// Failed background jobs so far, so a waiter can tell a failure of its own time.
    failures: u64,
}

struct Inner {
    dir: PathBuf,
    options: Options,
    data: RwLock<DataOptions>,
    view: RwLock<Arc<ReadView>>,
    versions: VersionSet,
    visible_seqno: AtomicU64,
    /// The newest seqno whose WAL record is on stable storage (fdatasynced): an
    /// acknowledged write under `SyncPolicy::Always` is never above it.
    durable_seqno: AtomicU64,
    commit: CommitQueue<WriteBatch>,
    /// The queue of async writers and its committer thread (`write_async`).
    async_commit: Arc<async_commit::AsyncCommitter>,
    writer: Mutex<WriterState>,
    /// A handle on the active WAL for the periodic syncer.
    wal_sync: Mutex<Option<File>>,
    snapshots: Arc<SnapshotList>,
    autoinc: autoinc::AutoIncrement,
    poisoned: AtomicBool,
    closed: AtomicBool,
    bg: Mutex<BgState>,
    /// Signals the background thread: work may be waiting.
    bg_work: Condvar,
    /// Signals writers and waiters: a flush or compaction finished.
    bg_done: Condvar,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    _lock: File,
}

/// An open LSM engine for one table. Cheap to share behind an `Arc`; every method is
/// thread-safe.
pub struct Engine {
    inner: Arc<Inner>,
}

/// Rows of a scan, in scan order, read at one snapshot. Holds no engine lock: it pins the
/// memtables and files it reads through `Arc`s and its snapshot in the snapshot list.
pub struct RowIter {
    scanner: RowScanner<MergeIter>,
    _pin: PinnedSnapshot,
}

impl RowIter {
    /// The snapshot seqno this scan reads at.
    pub fn snapshot_seqno(&self) -> SeqNo {
        self.scanner.context().snapshot
    }

    /// The next row, borrowed until the next call: the allocation-free way to scan.
    pub fn next_ref(&mut self) -> Result<Option<&RowBuf>> {
        self.scanner.next_row_ref()
    }
}

impl Iterator for RowIter {
    type Item = Result<Row>;
    fn next(&mut self) -> Option<Result<Row>> {
        self.scanner.next_row().transpose()
    }
}

/// Opens (creating it if needed) and exclusively flocks `path` without waiting; the lock
/// lasts as long as the returned file. `None` when another open file holds it.
pub(crate) fn try_lock_file(path: &Path) -> std::io::Result<Option<File>> {
    use std::os::unix::io::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    // SAFETY: flock on a valid, owned file descriptor has no memory-safety preconditions.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    Ok((rc == 0).then_some(file))
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = filename::lock_path(dir);
    try_lock_file(&path)
        .map_err(|e| Error::io(&path, e))?
        .ok_or_else(|| {
            let held = std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "engine directory is locked by another engine",
            );
            Error::io(&path, held)
        })
}

/// Replays WAL `number` into `mem`; returns the largest seqno seen.
fn replay_wal(dir: &Path, number: u64, mem: &Memtable) -> Result<SeqNo> {
    let path = filename::wal_path(dir, number);
    let mut last = 0;
    let stats = wal::replay(&path, |payload| {
        let records = BatchRecords::parse(payload)?;
        if records.count() == 0 {
            return Ok(());
        }
        if records.first_seqno() <= last {
            return Err(format!(
                "seqno {} does not follow {last}",
                records.first_seqno()
            ));
        }
        mem.apply(&records);
        last = records.last_seqno();
        Ok(())
    })?;
    // After a process crash the replayed records may sit only in the page cache: make them
    // durable before new writes are acknowledged, so a later power loss cannot keep a new
    // write while losing an older one.
    File::open(&path)
        .and_then(|f| f.sync_data())
        .map_err(|e| Error::io(&path, e))?;
    tracing::debug!(wal = number, records = stats.records, "replayed WAL");
    Ok(last)
}

/// A new WAL: preallocated with durable extensions when it will be fsynced (so each
/// fdatasync commits no metadata); unsynced and appended through a mapping otherwise.
fn new_wal(dir: &Path, number: u64, sync: SyncPolicy) -> Result<WalWriter> {
    match sync {
        SyncPolicy::Never => WalWriter::create_unsynced(dir, number),
        _ => WalWriter::create(dir, number),
    }
}

/// The WAL an engine opens with. On a full disk it starts empty rather than failing the
/// open: the engine then serves reads, and refuses commits until space is freed.
fn open_wal(dir: &Path, number: u64, sync: SyncPolicy) -> Result<WalWriter> {
    match new_wal(dir, number, sync) {
        Err(e) if e.is_resource_exhausted() => {
            tracing::warn!(error = %e, "cannot preallocate the WAL; writes wait for space");
            WalWriter::create_empty(dir, number, sync != SyncPolicy::Never)
        }
        other => other,
    }
}

fn clone_error(e: &Error) -> Error {
    match e {
        Error::Io { path, source } => Error::io(
            path.clone(),
            std::io::Error::new(source.kind(), source.to_string()),
        ),
        Error::Corruption { file, offset, what } => {
            Error::corruption(file.clone(), *offset, what.clone())
        }
        Error::Poisoned => Error::Poisoned,
        Error::Closed => Error::Closed,
        Error::Stalled(s) => Error::Stalled(s.clone()),
        Error::InvalidArgument(s) => Error::InvalidArgument(s.clone()),
    }
}

impl Inner {
    fn now_ms(&self) -> i64 {
        (self.options.clock)()
    }

    fn current_view(&self) -> Arc<ReadView> {
        Arc::clone(&self.view.read())
    }

    /// Pins the read's snapshot (see `SnapshotList::pin_current`) and builds its context.
    fn read_context(&self, read: &ReadOptions) -> (ReadContext, PinnedSnapshot) {
        let pin = self.snapshots.pin_current(|| {
            let latest = self.visible_seqno.load(Ordering::Acquire);
            read.snapshot.map_or(latest, |s| s.min(latest))
        });
        let ctx = ReadContext {
            snapshot: pin.seqno(),
            now_ms: self.now_ms(),
            data: *self.data.read(),
            read: read.clone(),
        };
        (ctx, pin)
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Whether a write may go in: the engine is open and no earlier I/O failure poisoned it.
    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    /// Records that every WAL record up to `seqno` is on stable storage.
    fn mark_durable(&self, seqno: SeqNo) {
        self.durable_seqno.fetch_max(seqno, Ordering::AcqRel);
    }

    fn poison(&self, e: &Error) {
        if !self.poisoned.swap(true, Ordering::AcqRel) {
            tracing::error!(error = %e, "engine poisoned: refusing writes until reopened");
        }
    }

    /// Seals the active memtable and starts a new one with a new WAL. Caller holds `writer`.
    fn switch_memtable(&self, w: &mut WriterState) -> Result<()> {
        let number = self.versions.new_file_number();
        let wal = new_wal(&self.dir, number, self.options.sync)?;
        if self.options.sync != SyncPolicy::Always {
            // The periodic syncer moves on to the new file: make the old one durable now.
            w.wal.sync()?;
            self.mark_durable(w.last_seqno);
        }
        *self.wal_sync.lock() = wal.sync_handle().ok();
        w.wal = wal;
        {
            let mut view = self.view.write();
            let mut immutables = Vec::with_capacity(view.immutables.len() + 1);
            immutables.push(Arc::clone(&view.active));
            immutables.extend(view.immutables.iter().cloned());
            *view = Arc::new(ReadView {
                active: Arc::new(Memtable::with_budget(
                    number,
                    Arc::clone(&self.options.write_buffer),
                )),
                immutables,
                version: Arc::clone(&view.version),
            });
        }
        let _bg = self.bg.lock();
        self.bg_work.notify_all();
        Ok(())
    }

    /// The group-commit leader's work: one WAL append (+ fsync), memtable inserts, publish.
    fn commit_group(&self, batches: Vec<WriteBatch>) -> Vec<Result<SeqNo>> {
        let fail_all = |e: &Error| {
            batches
                .iter()
                .map(|_| Err(clone_error(e)))
                .collect::<Vec<_>>()
        };
        if let Err(e) = self.check_writable() {
            return fail_all(&e);
        }
        let mut guard = self.writer.lock();
        let w = &mut *guard;
        if let Err(e) = flush::make_room(self, w) {
            // A full disk or a lack of descriptors (no new WAL, or a flush that cannot
            // write) passes; the group is refused, nothing of it was written.
            if !(matches!(e, Error::Stalled(_) | Error::Closed) || e.is_resource_exhausted()) {
                self.poison(&e);
            }
            return fail_all(&e);
        }
        let now_ms = self.now_ms();
        w.buf.clear();
        let mut results: Vec<Result<SeqNo>> = Vec::with_capacity(batches.len());
        let mut frames = Vec::with_capacity(batches.len());
        let mut seqno = w.last_seqno;
        for b in &batches {
            if let Err(e) = b.validate() {
                results.push(Err(e));
                continue;
            }
            if b.is_empty() {
                results.push(Ok(seqno));
                continue;
            }
            if seqno + b.len() as u64 > key::MAX_SEQNO {
                results.push(Err(Error::InvalidArgument(
                    "sequence numbers exhausted".into(),
                )));
                continue;
            }
            let at = wal::format::begin_frame(&mut w.buf);
            b.encode_into(seqno + 1, now_ms, &mut w.buf);
            wal::format::seal_frame(&mut w.buf, at);
            frames.push((at, w.buf.len()));
            seqno += b.len() as u64;
            results.push(Ok(seqno));
        }
        if frames.is_empty() {
            return results;
        }
        let io = match w.wal.append(&w.buf) {
            // The group is refused and the engine stays writable: a failed append leaves
            // the log's end where it was (the next append overwrites any torn bytes, see
            // `WalWriter::append`), and nothing reached the memtable. Writes resume once
            // space is freed; no restart needed.
            Err(e) if e.is_resource_exhausted() => Err(e),
            Err(e) => {
                self.poison(&e);
                Err(e)
            }
            Ok(()) => match self.options.sync {
                // After a failed fsync the kernel may have dropped the dirty pages: no
                // later write can be trusted to be durable, so the engine stops.
                SyncPolicy::Always => w
                    .wal
                    .sync()
                    .map(|()| self.mark_durable(seqno))
                    .inspect_err(|e| self.poison(e)),
                _ => Ok(()),
            },
        };
        if let Err(e) = io {
            return results
                .into_iter()
                .map(|r| r.and(Err(clone_error(&e))))
                .collect();
        }
        let active = Arc::clone(&self.view.read().active);
        for (start, end) in frames {
            let payload = &w.buf[start + wal::format::HEADER_LEN..end];
            match BatchRecords::parse(payload) {
                Ok(records) => active.apply(&records),
                Err(why) => {
                    // We just encoded it: failing to parse is a bug, not damage on disk.
                    self.poison(&Error::InvalidArgument(format!(
                        "freshly encoded batch does not parse: {why}"
                    )));
                }
            }
        }
        w.last_seqno = seqno;
        // Publish only after every record of the group is in the memtable: a read never
        // sees half a group.
        self.visible_seqno.store(seqno, Ordering::Release);
        results
    }
}

impl Engine {
    /// Opens or creates the engine in `dir`, replaying the WAL after the last flushed state.
    ///
    /// Errors: `Io` (including a directory locked by another engine), `Corruption` for a
    /// damaged manifest, SSTable or `AUTOINC` (a damaged WAL tail is cut off, not an error).
    pub fn open(dir: &std::path::Path, options: Options, data: DataOptions) -> Result<Engine> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = lock_dir(dir)?;
        let (versions, recovery) = VersionSet::open(dir, &options)?;
        let wal_number = versions.new_file_number();
        let mem = Arc::new(Memtable::with_budget(
            wal_number,
            Arc::clone(&options.write_buffer),
        ));
        let mut last_seqno = recovery.last_seqno;
        for &n in &recovery.wal_numbers {
            if n >= recovery.log_number {
                last_seqno = last_seqno.max(replay_wal(dir, n, &mem)?);
            } else if let Err(e) = std::fs::remove_file(filename::wal_path(dir, n)) {
                tracing::warn!(wal = n, error = %e, "cannot remove obsolete WAL");
            }
        }
        let wal = open_wal(dir, wal_number, options.sync)?;
        let wal_sync = wal.sync_handle().ok();
        let autoinc = autoinc::AutoIncrement::open(dir)?;
        let version = versions.current();
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            options,
            data: RwLock::new(data),
            view: RwLock::new(Arc::new(ReadView {
                active: mem,
                immutables: Vec::new(),
                version,
            })),
            versions,
            visible_seqno: AtomicU64::new(last_seqno),
            // Flushed state is in synced SSTables and replayed WALs were synced above.
            durable_seqno: AtomicU64::new(last_seqno),
            commit: CommitQueue::new(),
            async_commit: Arc::default(),
            writer: Mutex::new(WriterState {
                wal,
                last_seqno,
                buf: Vec::new(),
            }),
            wal_sync: Mutex::new(wal_sync),
            snapshots: SnapshotList::new(),
            autoinc,
            poisoned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            bg: Mutex::new(BgState::default()),
            bg_work: Condvar::new(),
            bg_done: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            _lock: lock,
        });
        flush::start_threads(&inner)?;
        Ok(Engine { inner })
    }

    /// The directory the engine lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Applies `batch` atomically; returns once it is durable per the sync policy.
    /// Returns the seqno of the batch's last record.
    ///
    /// Errors: `Closed`, `Poisoned` (after an earlier I/O failure), `Stalled` (flush and
    /// compaction fell behind for longer than `stall_timeout`), `InvalidArgument`, `Io`.
    pub fn write(&self, batch: WriteBatch) -> Result<SeqNo> {
        self.inner.check_writable()?;
        let inner = &self.inner;
        inner
            .commit
            .submit(batch, |group| inner.commit_group(group))
    }

    /// Like `write`, for callers on an async runtime: the batch is committed by the engine's
    /// committer thread (with whatever else is queued, as one group) while the caller awaits,
    /// so no runtime thread blocks on the WAL or an fsync.
    ///
    /// Errors: as `write`.
    pub fn write_async(
        &self,
        batch: WriteBatch,
    ) -> impl std::future::Future<Output = Result<SeqNo>> + Send + 'static {
        let queued = self.queue_async(vec![batch]);
        async move {
            let results = async_commit::wait(queued?, 1).await;
            results.into_iter().next().unwrap_or(Err(Error::Poisoned))
        }
    }

    /// Like `write_many`, for callers on an async runtime (see `write_async`): each batch
    /// is applied atomically on its own, all in the committer's next group.
    ///
    /// Errors (per batch): as `write`.
    pub fn write_many_async(
        &self,
        batches: Vec<WriteBatch>,
    ) -> impl std::future::Future<Output = Vec<Result<SeqNo>>> + Send + 'static {
        let count = batches.len();
        let queued = self.queue_async(batches);
        async move {
            match queued {
                Ok(rx) => async_commit::wait(rx, count).await,
                Err(e) => (0..count).map(|_| Err(clone_error(&e))).collect(),
            }
        }
    }

    fn queue_async(
        &self,
        batches: Vec<WriteBatch>,
    ) -> Result<tokio::sync::oneshot::Receiver<async_commit::Results>> {
        self.inner.check_writable()?;
        let inner = &self.inner;
        inner.async_commit.submit(batches, || {
            let worker = Arc::clone(inner);
            let handle = async_commit::spawn(
                Arc::clone(&inner.async_commit),
                Box::new(move |group| worker.commit_group(group)),
                &inner.dir,
            )?;
            let mut threads = inner.threads.lock();
            threads.retain(|t| !t.is_finished()); // committers that exited when idle
            threads.push(handle);
            Ok(())
        })
    }

    /// Applies each of `batches` atomically on its own, all in one commit group (one WAL
    /// append and one fsync); returns one result per batch, in order. A batch that fails
    /// validation fails alone.
    ///
    /// Errors (per batch): as `write`.
    pub fn write_many(&self, batches: Vec<WriteBatch>) -> Vec<Result<SeqNo>> {
        let refuse = |e: Error| batches.iter().map(|_| Err(clone_error(&e))).collect();
        if let Err(e) = self.inner.check_writable() {
            return refuse(e);
        }
        let inner = &self.inner;
        inner
            .commit
            .submit_many(batches, |group| inner.commit_group(group))
    }

    /// The newest seqno known to be on stable storage. Under `SyncPolicy::Always` it is at
    /// least the seqno of every acknowledged write; under the other policies it trails
    /// until the next sync (periodic, memtable switch or `close`).
    pub fn durable_seqno(&self) -> SeqNo {
        self.inner.durable_seqno.load(Ordering::Acquire)
    }

    /// The seqno a read started now would see.
    pub fn snapshot_seqno(&self) -> SeqNo {
        self.inner.visible_seqno.load(Ordering::Acquire)
    }

    /// Reads one row; `None` when it has no visible cell and no row marker.
    pub fn get_row(&self, row: &[u8], read: &ReadOptions) -> Result<Option<Row>> {
        let mut buf = RowBuf::new();
        Ok(self
            .get_row_into(row, read, &mut buf)?
            .then(|| buf.to_row()))
    }

    /// Reads one row into `buf` (reused across calls); false when the row does not exist.
    pub fn get_row_into(&self, row: &[u8], read: &ReadOptions, buf: &mut RowBuf) -> Result<bool> {
        self.inner.check_open()?;
        // Seqno first, then the view: every record up to the seqno was in a memtable before
        // the seqno was published, and a later view holds that memtable or the table it was
        // flushed to (both change in one view swap).
        let (ctx, _pin) = self.inner.read_context(read);
        let view = self.inner.current_view();
        let mut iter = MergeIter::positioned(view.point_sources(row, ctx.snapshot)?);
        read::assemble_row(&mut iter, row, &ctx, buf)
    }

    /// Scans rows between two encoded bounds (see `Direction`), at one snapshot.
    pub fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        direction: Direction,
        read: &ReadOptions,
    ) -> Result<RowIter> {
        self.inner.check_open()?;
        let (ctx, pin) = self.inner.read_context(read);
        let view = self.inner.current_view();
        let iter = MergeIter::new(view.iterators());
        Ok(RowIter {
            scanner: RowScanner::new(iter, ctx, start, end, direction),
            _pin: pin,
        })
    }

    /// The table's current TTL and max_versions.
    pub fn data_options(&self) -> DataOptions {
        *self.inner.data.read()
    }

    /// Changes TTL / max_versions; reads and later compactions use the new values at once.
    pub fn set_data_options(&self, data: DataOptions) {
        *self.inner.data.write() = data;
    }

    /// An auto-increment value above every one handed out before, even across crashes (one
    /// sequence per engine, so strictly increasing within every partition).
    pub fn next_auto_increment(&self) -> Result<i64> {
        self.inner.check_open()?;
        let value = self.inner.autoinc.next()?;
        if self.inner.autoinc.claim_raise_ahead() {
            self.raise_auto_increment_ahead();
        }
        Ok(value)
    }

    /// Raises the auto-increment ceiling on a short-lived thread, so no request waits for
    /// its fsyncs. The thread is joined by `close` (it writes in the engine's directory).
    fn raise_auto_increment_ahead(&self) {
        let inner = &self.inner;
        let mut threads = inner.threads.lock();
        // Under the threads lock: `close` sets `closed` before it joins them all.
        if inner.closed.load(Ordering::Acquire) {
            inner.autoinc.release_raise_ahead();
            return;
        }
        let worker = Arc::clone(inner);
        let spawned = std::thread::Builder::new()
            .name("otsd-autoinc".into())
            .spawn(move || {
                if let Err(e) = worker.autoinc.raise_ahead() {
                    tracing::warn!(error = %e, "cannot raise the auto-increment ceiling ahead");
                }
            });
        match spawned {
            Ok(handle) => {
                threads.retain(|t| !t.is_finished());
                threads.push(handle);
            }
            // The next value above the ceiling raises it on the request path instead.
            Err(_) => inner.autoinc.release_raise_ahead(),
        }
    }

    /// Flushes the memtable to an SSTable and waits for it.
    pub fn flush(&self) -> Result<()> {
        self.inner.check_open()?;
        flush::flush_and_wait(&self.inner)
    }

    /// Compacts everything down to the last level and waits for it.
    pub fn compact(&self) -> Result<()> {
        self.inner.check_open()?;
        flush::flush_and_wait(&self.inner)?;
        flush::compact_and_wait(&self.inner)
    }

    /// Files per level (L0 first), for tests and diagnostics.
    pub fn level_file_counts(&self) -> Vec<usize> {
        let v = self.inner.versions.current();
        (0..v.num_levels()).map(|l| v.files(l).len()).collect()
    }

    /// Stops background threads and makes the WAL durable. Later calls fail with `Closed`.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        flush::stop_threads(&self.inner);
        let w = self.inner.writer.lock();
        w.wal.sync()?;
        self.inner.mark_durable(w.last_seqno);
        Ok(())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if !self.inner.closed.load(Ordering::Acquire) {
            if let Err(e) = self.close() {
                tracing::warn!(error = %e, "closing engine on drop failed");
            }
        }
    }
}

#[cfg(test)]
mod disk_full_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn row(i: i64) -> Vec<u8> {
        key::encode_row_key(&[PkValue::Integer(i)])
    }

    fn opts() -> Options {
        Options {
            sync: SyncPolicy::Never,
            ..Options::default()
        }
    }

    /// Options for a table keeping `max_versions` versions and no TTL.
    fn keep_versions(max_versions: u32) -> DataOptions {
        DataOptions {
            ttl_secs: None,
            max_versions,
        }
    }

    #[test]
    fn many_versions_across_memtable_and_sstables_read_the_newest_by_get_and_scan() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(dir.path(), opts(), keep_versions(2)).unwrap();
        for v in 1..=60i64 {
            for r in 1..=3 {
                let mut b = WriteBatch::new();
                b.put(&row(r), b"a", Some(v), &v.to_le_bytes());
                b.put(&row(r), b"b", Some(100 - v), b"b");
                e.write(b).unwrap();
            }
            if v % 15 == 0 {
                e.flush().unwrap(); // versions spread over several SSTables and the memtable
            }
        }
        let read = ReadOptions::default();
        let versions = |r: &Row| -> Vec<(Vec<u8>, Vec<i64>)> {
            r.columns
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.cells.iter().map(|c| c.version_ms).collect(),
                    )
                })
                .collect()
        };
        let want = vec![(b"a".to_vec(), vec![60, 59]), (b"b".to_vec(), vec![99, 98])];
        for r in 1..=3 {
            assert_eq!(versions(&e.get_row(&row(r), &read).unwrap().unwrap()), want);
        }
        let scanned: Vec<Row> = e
            .scan(&row(0), &row(9), Direction::Forward, &read)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(scanned.len(), 3);
        for (i, r) in scanned.iter().enumerate() {
            assert_eq!(
                (r.key.clone(), versions(r)),
                (row(i as i64 + 1), want.clone())
            );
        }
    }

    /// The sources a point read of `r` merges, at `snapshot`.
    fn point_source_count(e: &Engine, r: &[u8], snapshot: SeqNo) -> usize {
        e.inner
            .current_view()
            .point_sources(r, snapshot)
            .unwrap()
            .len()
    }

    #[test]
    fn point_reads_leave_out_sources_older_than_the_newest_row_head() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(dir.path(), opts(), keep_versions(1)).unwrap();
        let put = |r: i64, col: &[u8], v: &[u8]| {
            let mut b = WriteBatch::new();
            b.delete_row(&row(r)); // a PutRow replaces the row
            b.put(&row(r), col, Some(1), v);
            e.write(b).unwrap()
        };
        let update = |r: i64, col: &[u8], v: &[u8]| {
            let mut b = WriteBatch::new();
            b.put(&row(r), col, Some(2), v);
            e.write(b).unwrap()
        };
        let cols = |r: i64, snapshot: Option<SeqNo>| -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
            let read = ReadOptions {
                snapshot,
                ..ReadOptions::default()
            };
            e.get_row(&row(r), &read).unwrap().map(|row| {
                row.columns
                    .into_iter()
                    .map(|c| (c.name, c.cells[0].value.clone()))
                    .collect()
            })
        };
        // Row 1 is put in three files, then put again in the memtable.
        for v in [b"v1", b"v2", b"v3"] {
            put(1, b"a", v);
            e.flush().unwrap();
        }
        let old = e.snapshot_seqno();
        let newest = put(1, b"b", b"v4");
        let latest = e.snapshot_seqno();
        assert_eq!(
            point_source_count(&e, &row(1), latest),
            1,
            "the memtable alone"
        );
        assert_eq!(cols(1, None), Some(vec![(b"b".to_vec(), b"v4".to_vec())]));
        // A snapshot older than that put reads the newest file too, but not the older ones.
        assert!(old < newest);
        assert_eq!(point_source_count(&e, &row(1), old), 2);
        assert_eq!(
            cols(1, Some(old)),
            Some(vec![(b"a".to_vec(), b"v3".to_vec())])
        );
        // An update writes no head: the put it updates is found in an older source.
        e.flush().unwrap();
        update(1, b"c", b"u");
        assert_eq!(point_source_count(&e, &row(1), e.snapshot_seqno()), 2);
        assert_eq!(
            cols(1, None),
            Some(vec![
                (b"b".to_vec(), b"v4".to_vec()),
                (b"c".to_vec(), b"u".to_vec())
            ])
        );
        // A delete hides the files' copies too.
        let mut b = WriteBatch::new();
        b.delete_row(&row(1));
        e.write(b).unwrap();
        assert_eq!(point_source_count(&e, &row(1), e.snapshot_seqno()), 1);
        assert_eq!(cols(1, None), None);
    }

    /// One step of the point-read differential test.
    #[derive(Debug, Clone)]
    enum PointStep {
        /// PutRow: a row head, then one cell per listed column.
        Put(i64, Vec<u8>),
        /// UpdateRow: cells with no head.
        Update(i64, Vec<u8>),
        Delete(i64),
        Flush,
        /// Remembers the current snapshot seqno for the reads at the end.
        Mark,
    }

    fn point_step() -> impl proptest::strategy::Strategy<Value = PointStep> {
        use proptest::prelude::*;
        let cols = proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'c')], 1..3);
        prop_oneof![
            3 => (0..4i64, cols.clone()).prop_map(|(r, c)| PointStep::Put(r, c)),
            3 => (0..4i64, cols).prop_map(|(r, c)| PointStep::Update(r, c)),
            1 => (0..4i64).prop_map(PointStep::Delete),
            2 => Just(PointStep::Flush),
            2 => Just(PointStep::Mark),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

        /// A point read leaves sources out (`ReadView::point_sources`); a scan never does.
        /// At every remembered snapshot, both must see each row the same.
        #[test]
        fn point_reads_agree_with_scans_at_every_snapshot(
            steps in proptest::collection::vec(point_step(), 1..40)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let e = Engine::open(dir.path(), opts(), keep_versions(3)).unwrap();
            let mut marks = vec![0];
            for (i, step) in steps.iter().enumerate() {
                let version = Some(i as i64 + 1);
                let mut b = WriteBatch::new();
                match step {
                    PointStep::Put(r, cols) | PointStep::Update(r, cols) => {
                        if matches!(step, PointStep::Put(..)) {
                            b.delete_row(&row(*r));
                        }
                        for c in cols {
                            b.put(&row(*r), &[*c], version, &[i as u8]);
                        }
                    }
                    PointStep::Delete(r) => b.delete_row(&row(*r)),
                    PointStep::Flush => e.flush().unwrap(),
                    PointStep::Mark => marks.push(e.snapshot_seqno()),
                }
                if !b.is_empty() {
                    e.write(b).unwrap();
                }
            }
            marks.push(e.snapshot_seqno());
            for snapshot in marks {
                let read = ReadOptions { snapshot: Some(snapshot), ..ReadOptions::default() };
                let scanned: Vec<Row> = e
                    .scan(&row(0), &row(9), Direction::Forward, &read)
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect();
                for r in 0..4 {
                    let got = e.get_row(&row(r), &read).unwrap();
                    let want = scanned.iter().find(|s| s.key == row(r)).cloned();
                    proptest::prop_assert_eq!(got, want, "row {} at snapshot {}", r, snapshot);
                }
            }
        }
    }

    #[test]
    fn async_writes_from_many_tasks_are_durable_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let durable = Options {
            sync: SyncPolicy::Always,
            ..Options::default()
        };
        {
            let e = Arc::new(
                Engine::open(dir.path(), durable.clone(), DataOptions::default()).unwrap(),
            );
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap();
            let mut seqnos = rt.block_on(async {
                let tasks: Vec<_> = (0..64)
                    .map(|t| {
                        let e = Arc::clone(&e);
                        tokio::spawn(async move {
                            let mut out = Vec::new();
                            for i in 0..20 {
                                let mut b = WriteBatch::new();
                                b.put(&row(t * 100 + i), b"c", None, b"v");
                                out.push(e.write_async(b).await.unwrap());
                            }
                            out
                        })
                    })
                    .collect();
                let mut all = Vec::new();
                for t in tasks {
                    all.extend(t.await.unwrap());
                }
                all
            });
            seqnos.sort_unstable();
            assert_eq!(
                seqnos,
                (1..=1280).collect::<Vec<u64>>(),
                "one seqno per write"
            );
            e.close().unwrap();
            let mut b = WriteBatch::new();
            b.put(&row(1), b"c", None, b"v");
            assert!(matches!(rt.block_on(e.write_async(b)), Err(Error::Closed)));
        }
        let e = Engine::open(dir.path(), durable, DataOptions::default()).unwrap();
        for t in 0..64 {
            for i in 0..20 {
                assert!(e
                    .get_row(&row(t * 100 + i), &ReadOptions::default())
                    .unwrap()
                    .is_some());
            }
        }
    }

    /// One small write of row `i`.
    fn one_put(i: i64) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(&row(i), b"c", None, b"v");
        b
    }

    #[test]
    fn every_acknowledged_write_is_fdatasynced_before_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let durable = Options {
            sync: SyncPolicy::Always,
            ..Options::default()
        };
        let e = Arc::new(Engine::open(dir.path(), durable, DataOptions::default()).unwrap());
        // Blocking writers (the group-commit queue) and async writers (the committer thread)
        // at once, so acknowledgements come from shared groups led by other writers.
        let blocking: Vec<_> = (0..4)
            .map(|t| {
                let e = Arc::clone(&e);
                std::thread::spawn(move || {
                    for i in 0..100 {
                        let seqno = e.write(one_put(t * 1000 + i)).unwrap();
                        assert!(e.durable_seqno() >= seqno, "write {seqno} acked unsynced");
                    }
                })
            })
            .collect();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..16)
                .map(|t| {
                    let e = Arc::clone(&e);
                    tokio::spawn(async move {
                        for i in 0..25 {
                            let seqno = e.write_async(one_put(10_000 + t * 100 + i)).await;
                            let seqno = seqno.unwrap();
                            assert!(e.durable_seqno() >= seqno, "write {seqno} acked unsynced");
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        for t in blocking {
            t.join().unwrap();
        }
        for batches in [vec![one_put(1), one_put(2)], vec![one_put(3)]] {
            let last = e.write_many(batches).into_iter().map(|r| r.unwrap()).max();
            assert!(e.durable_seqno() >= last.unwrap());
        }
        assert_eq!(e.durable_seqno(), e.snapshot_seqno());
    }

    #[test]
    fn the_auto_increment_ceiling_is_raised_ahead_off_the_request_path() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
        let first = e.next_auto_increment().unwrap();
        let ceiling = e.inner.autoinc.ceiling();
        // Values follow the microsecond clock: past half the reserve, the next value hands
        // the raise to a thread of the engine.
        std::thread::sleep(Duration::from_micros(
            (autoinc::RESERVE_AHEAD / 2 + 50_000) as u64,
        ));
        let later = e.next_auto_increment().unwrap();
        assert!(later > first);
        let deadline = Instant::now() + Duration::from_secs(10);
        while e.inner.autoinc.ceiling() == ceiling && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(e.inner.autoinc.ceiling() >= later + autoinc::RESERVE_AHEAD);
        e.close().unwrap();
        assert!(e.inner.threads.lock().is_empty(), "close joined the raise");
    }

    #[test]
    fn async_batches_submitted_together_answer_one_by_one_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let durable = Options {
            sync: SyncPolicy::Always,
            ..Options::default()
        };
        let e = Engine::open(dir.path(), durable, DataOptions::default()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut oversized = WriteBatch::new();
        oversized.delete_row(&vec![1u8; batch::MAX_ROW_KEY_BYTES + 1]);
        let batches = vec![one_put(1), oversized, one_put(2), WriteBatch::new()];
        let results = rt.block_on(e.write_many_async(batches));
        assert_eq!(results.len(), 4);
        // The invalid batch fails alone; the others commit in order, durably.
        assert!(matches!(results[1], Err(Error::InvalidArgument(_))));
        let first = *results[0].as_ref().unwrap();
        assert_eq!(*results[2].as_ref().unwrap(), first + 1);
        assert_eq!(
            *results[3].as_ref().unwrap(),
            first + 1,
            "empty: nothing new"
        );
        assert!(e.durable_seqno() > first);
        let read = ReadOptions::default();
        assert!(e.get_row(&row(1), &read).unwrap().is_some());
        assert!(e.get_row(&row(2), &read).unwrap().is_some());
        // Nothing submitted: answered at once, with no committer woken for it.
        assert!(rt.block_on(e.write_many_async(Vec::new())).is_empty());
    }

    #[test]
    fn unsynced_writes_count_as_durable_only_from_close_on() {
        let dir = tempfile::tempdir().unwrap();
        {
            let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
            for i in 0..10 {
                e.write(one_put(i)).unwrap();
            }
            // SyncPolicy::Never acknowledges at once: nothing is known to be durable yet.
            assert_eq!(e.durable_seqno(), 0);
            e.close().unwrap();
            assert_eq!(e.durable_seqno(), 10);
        }
        let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
        // Recovered records count as durable (open fdatasyncs every WAL it replays).
        assert_eq!(e.durable_seqno(), 10);
    }

    #[test]
    fn the_periodic_syncer_advances_the_durable_seqno() {
        let dir = tempfile::tempdir().unwrap();
        let periodic = Options {
            sync: SyncPolicy::Periodic(Duration::from_millis(5)),
            ..Options::default()
        };
        let e = Engine::open(dir.path(), periodic, DataOptions::default()).unwrap();
        let last = (0..20).map(|i| e.write(one_put(i)).unwrap()).max().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while e.durable_seqno() < last {
            assert!(Instant::now() < deadline, "the syncer never synced {last}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn writes_are_read_back_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataOptions {
            ttl_secs: None,
            max_versions: 3,
        };
        {
            let e = Engine::open(dir.path(), opts(), data).unwrap();
            for i in 0..10 {
                let mut b = WriteBatch::new();
                b.put(&row(i), b"c", Some(1), &i.to_le_bytes());
                b.put(&row(i), b"d", None, b"x");
                assert_eq!(e.write(b).unwrap(), (i as u64 + 1) * 2);
            }
            assert_eq!(e.snapshot_seqno(), 20);
            let r = e
                .get_row(&row(3), &ReadOptions::default())
                .unwrap()
                .unwrap();
            assert_eq!(r.columns.len(), 2);
            assert!(e
                .get_row(&row(30), &ReadOptions::default())
                .unwrap()
                .is_none());
            e.close().unwrap();
            assert!(matches!(e.write(WriteBatch::new()), Err(Error::Closed)));
        }
        let e = Engine::open(dir.path(), opts(), data).unwrap();
        assert_eq!(e.snapshot_seqno(), 20);
        let fwd: Vec<_> = e
            .scan(
                &row(2),
                &row(6),
                Direction::Forward,
                &ReadOptions::default(),
            )
            .unwrap()
            .map(|r| r.unwrap().key)
            .collect();
        assert_eq!(fwd, (2..6).map(row).collect::<Vec<_>>());
        let back: Vec<_> = e
            .scan(
                &row(6),
                &row(2),
                Direction::Backward,
                &ReadOptions::default(),
            )
            .unwrap()
            .map(|r| r.unwrap().key)
            .collect();
        assert_eq!(back, (3..=6).rev().map(row).collect::<Vec<_>>());
        let mut b = WriteBatch::new();
        b.delete_row(&row(4));
        assert_eq!(e.write(b).unwrap(), 21);
        assert!(e
            .get_row(&row(4), &ReadOptions::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_second_engine_cannot_open_the_same_dir() {
        let dir = tempfile::tempdir().unwrap();
        let _e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
        assert!(Engine::open(dir.path(), opts(), DataOptions::default()).is_err());
    }

    #[test]
    fn a_scan_keeps_its_snapshot_while_writes_continue() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
        let mut b = WriteBatch::new();
        b.put(&row(1), b"c", Some(1), b"a");
        e.write(b).unwrap();
        let mut it = e
            .scan(
                &[0x00],
                &[0xFF],
                Direction::Forward,
                &ReadOptions::default(),
            )
            .unwrap();
        let mut b = WriteBatch::new();
        b.put(&row(2), b"c", Some(1), b"b");
        e.write(b).unwrap();
        assert_eq!(it.next().unwrap().unwrap().key, row(1));
        assert!(it.next().is_none());
        assert_eq!(e.inner.snapshots.len(), 1);
        drop(it);
        assert_eq!(e.inner.snapshots.len(), 0);
    }

    #[test]
    fn flush_leaves_out_overwritten_records_no_snapshot_can_see() {
        let dir = tempfile::tempdir().unwrap();
        let data = keep_versions(1);
        let e = Engine::open(dir.path(), opts(), data).unwrap();
        let overwrite = |v: i64| {
            let mut b = WriteBatch::new();
            b.put_row_marker(&row(1), Some(v));
            b.put(&row(1), b"a", Some(v), &v.to_le_bytes());
            e.write(b).unwrap();
        };
        let l0_entries = |e: &Engine| -> Vec<u64> {
            let version = e.inner.versions.current();
            version.files(0).iter().map(|f| f.meta.entries).collect()
        };
        let cells =
            |r: &Row| -> Vec<i64> { r.columns[0].cells.iter().map(|c| c.version_ms).collect() };
        for v in 1..=20 {
            overwrite(v);
        }
        e.flush().unwrap();
        // Nothing pinned: the newest row head and cell are all that is left.
        assert_eq!(l0_entries(&e), vec![2]);
        // An open scan pins the row as of version 21 across the next flush.
        overwrite(21);
        let mut pinned = e
            .scan(
                &row(0),
                &row(9),
                Direction::Forward,
                &ReadOptions::default(),
            )
            .unwrap();
        for v in 22..=50 {
            overwrite(v);
        }
        e.flush().unwrap();
        assert_eq!(cells(&pinned.next().unwrap().unwrap()), vec![21]);
        let read = ReadOptions::default();
        assert_eq!(
            cells(&e.get_row(&row(1), &read).unwrap().unwrap()),
            vec![50]
        );
        drop(pinned);
        drop(e);
        let e = Engine::open(dir.path(), opts(), data).unwrap();
        assert_eq!(
            cells(&e.get_row(&row(1), &read).unwrap().unwrap()),
            vec![50]
        );
    }

    #[test]
    fn compact_drops_tombstones_already_in_the_last_level() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
        for i in 0..10 {
            let mut b = WriteBatch::new();
            b.put(&row(i), b"c", Some(1), b"v");
            e.write(b).unwrap();
        }
        e.flush().unwrap();
        // A pinned scan keeps the puts (and so the tombstones) alive through a compaction.
        let scan = e
            .scan(
                &[0x00],
                &[0xFF],
                Direction::Forward,
                &ReadOptions::default(),
            )
            .unwrap();
        for i in 0..10 {
            let mut b = WriteBatch::new();
            b.delete_row(&row(i));
            e.write(b).unwrap();
        }
        e.compact().unwrap();
        assert_eq!(scan.count(), 10, "the pinned scan still sees every row");
        assert!(e.level_file_counts().iter().sum::<usize>() > 0);
        // Nothing is left above the last level, yet its tombstones must go too.
        e.compact().unwrap();
        assert_eq!(e.level_file_counts().iter().sum::<usize>(), 0);
        assert!(e
            .scan(
                &[0x00],
                &[0xFF],
                Direction::Forward,
                &ReadOptions::default()
            )
            .unwrap()
            .next()
            .is_none());
    }

    #[test]
    fn flushed_and_compacted_data_reads_the_same_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataOptions {
            ttl_secs: None,
            max_versions: 2,
        };
        let small = || Options {
            memtable_size_bytes: 4 << 10,
            l0_compaction_trigger: 2,
            ..opts()
        };
        let expect = |e: &Engine| {
            for i in 0..200 {
                let r = e.get_row(&row(i), &ReadOptions::default()).unwrap();
                if i % 10 == 3 {
                    assert!(r.is_none(), "row {i} was deleted");
                } else {
                    let r = r.unwrap();
                    let cells = &r.columns[0].cells;
                    assert_eq!(cells.len(), 2, "row {i}");
                    assert_eq!(cells[0].value, format!("v{i}-2").into_bytes());
                }
            }
            let n = e
                .scan(
                    &[0x00],
                    &[0xFF],
                    Direction::Forward,
                    &ReadOptions::default(),
                )
                .unwrap()
                .count();
            let m = e
                .scan(
                    &[0xFF],
                    &[0x00],
                    Direction::Backward,
                    &ReadOptions::default(),
                )
                .unwrap()
                .count();
            assert_eq!((n, m), (180, 180));
        };
        {
            let e = Engine::open(dir.path(), small(), data).unwrap();
            for v in 0..3 {
                for i in 0..200 {
                    let mut b = WriteBatch::new();
                    b.put(&row(i), b"col", Some(v), format!("v{i}-{v}").as_bytes());
                    e.write(b).unwrap();
                }
            }
            for i in (3..200).step_by(10) {
                let mut b = WriteBatch::new();
                b.delete_row(&row(i));
                e.write(b).unwrap();
            }
            expect(&e);
            e.flush().unwrap();
            assert!(e.level_file_counts().iter().sum::<usize>() > 0);
            expect(&e);
            e.compact().unwrap();
            assert_eq!(e.level_file_counts()[0], 0);
            expect(&e);
        }
        let e = Engine::open(dir.path(), small(), data).unwrap();
        expect(&e);
    }

    /// Writes `n` rows of ~200-byte values to `e` starting at row `from`.
    fn fill(e: &Engine, from: i64, n: i64) {
        for i in from..from + n {
            let mut b = WriteBatch::new();
            b.put(&row(i), b"col", Some(1), &[7u8; 200]);
            e.write(b).unwrap();
        }
    }

    fn files(e: &Engine) -> usize {
        e.level_file_counts().iter().sum()
    }

    /// 1 MiB memtables under `budget`, with no compaction: the file count is the flush count.
    fn budget_options(budget: &Arc<WriteBufferBudget>) -> Options {
        Options {
            memtable_size_bytes: 1 << 20,
            write_buffer: Arc::clone(budget),
            l0_compaction_trigger: 1000,
            l0_slowdown_trigger: 1000,
            l0_stop_trigger: 1000,
            ..opts()
        }
    }

    fn count_rows(e: &Engine) -> usize {
        e.scan(
            &[0x00],
            &[0xFF],
            Direction::Forward,
            &ReadOptions::default(),
        )
        .unwrap()
        .count()
    }

    #[test]
    fn a_writer_over_the_shared_budget_seals_its_memtable_early() {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let budget = WriteBufferBudget::new(64 << 10);
        let a = Engine::open(da.path(), budget_options(&budget), keep_versions(1)).unwrap();
        let b = Engine::open(db.path(), budget_options(&budget), keep_versions(1)).unwrap();
        // ~330 KB each: far below a table's own 1 MiB limit, far over the shared 64 KiB.
        fill(&a, 0, 1000);
        fill(&b, 0, 1000);
        // Flushes run behind the writers; once they catch up, both tables have flushed early
        // and at most two memtables below the seal size (1 MiB / 16) are left.
        let settled = || files(&a) >= 3 && files(&b) >= 3 && budget.used() < 2 * (64 << 10);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !settled() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Sealing from ~64 KiB on, ~330 KiB make several files (without a budget: none, as
        // the last test shows).
        assert!(
            files(&a) >= 3 && files(&b) >= 3,
            "both writers sealed early: {} and {} files",
            files(&a),
            files(&b)
        );
        assert!(
            budget.used() < 2 * (64 << 10),
            "{} bytes held",
            budget.used()
        );
        assert_eq!((count_rows(&a), count_rows(&b)), (1000, 1000));
    }

    #[test]
    fn an_idle_table_over_the_shared_budget_is_sealed_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let budget = WriteBufferBudget::new(1 << 20);
        let e = Engine::open(dir.path(), budget_options(&budget), keep_versions(1)).unwrap();
        fill(&e, 0, 1000); // ~330 KB: under the budget and the table's size, nothing sealed
        assert_eq!(files(&e), 0);
        // Other tables' memtables push the total over; this table writes nothing more.
        budget.charge(1 << 20);
        let deadline = Instant::now() + Duration::from_secs(10);
        while files(&e) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(files(&e) > 0, "the idle table was not sealed");
        while budget.used() > 1 << 20 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            budget.used(),
            1 << 20,
            "the flushed memtable's bytes were released"
        );
        budget.release(1 << 20);
        assert_eq!(count_rows(&e), 1000);
    }

    #[test]
    fn without_a_shared_budget_memtables_seal_at_their_own_size() {
        let dir = tempfile::tempdir().unwrap();
        let o = Options {
            memtable_size_bytes: 1 << 20,
            ..opts()
        };
        let e = Engine::open(dir.path(), o, keep_versions(1)).unwrap();
        fill(&e, 0, 1000);
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(files(&e), 0);
    }

    fn put_row(e: &Engine, r: i64) -> Result<SeqNo> {
        let mut b = WriteBatch::new();
        b.put(&row(r), b"v", Some(1), &r.to_le_bytes());
        e.write(b)
    }

    fn present(e: &Engine, r: i64) -> bool {
        e.get_row(&row(r), &ReadOptions::default())
            .unwrap()
            .is_some()
    }

    fn table_files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|f| {
                f.as_ref()
                    .is_ok_and(|f| f.path().extension().is_some_and(|x| x == "sst"))
            })
            .count()
    }

    #[test]
    fn a_full_disk_refuses_commits_without_poisoning_and_a_torn_record_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let durable = Options {
            sync: SyncPolicy::Always,
            ..Options::default()
        };
        {
            let e = Engine::open(dir.path(), durable.clone(), DataOptions::default()).unwrap();
            put_row(&e, 1).unwrap();
            // The disk fills in the middle of the WAL write: half a record lands.
            fault::set_disk_full(dir.path(), Some(fault::Full::All));
            let refused = put_row(&e, 2).unwrap_err();
            assert!(refused.is_disk_full(), "{refused}");
            assert!(present(&e, 1), "reads go on while the disk is full");
            assert!(!present(&e, 2), "a refused write is not visible");
            fault::set_disk_full(dir.path(), None);
            // Shorter than the torn bytes it overwrites; more follow it.
            let mut small = WriteBatch::new();
            small.put(&row(3), b"v", Some(1), b"x");
            e.write(small).unwrap();
            put_row(&e, 4).unwrap();
        }
        let e = Engine::open(dir.path(), durable, DataOptions::default()).unwrap();
        assert_eq!(
            [1, 2, 3, 4].map(|r| present(&e, r)),
            [true, false, true, true]
        );
    }

    #[test]
    fn a_flush_that_hits_a_full_disk_is_retried_and_keeps_the_engine_writable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
            put_row(&e, 1).unwrap();
            fault::set_disk_full(dir.path(), Some(fault::Full::Tables));
            let failed = e.flush().unwrap_err();
            assert!(failed.is_disk_full(), "{failed}");
            assert_eq!(table_files(dir.path()), 0, "the partial table is removed");
            put_row(&e, 2).unwrap();
            assert!(present(&e, 1) && present(&e, 2));
            fault::set_disk_full(dir.path(), None);
            e.flush().unwrap();
            assert_eq!(
                table_files(dir.path()),
                2,
                "both sealed memtables are flushed"
            );
            put_row(&e, 3).unwrap();
        }
        let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
        assert!((1..=3).all(|r| present(&e, r)));
    }

    fn manifests(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|f| f.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("MANIFEST"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_manifest_record_refused_for_a_full_disk_is_cut_off_and_the_flush_retried() {
        let dir = tempfile::tempdir().unwrap();
        {
            let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
            put_row(&e, 1).unwrap();
            let before = e.inner.versions.manifest_size();
            // The table is written; half the manifest record lands, then the disk is full.
            fault::set_disk_full(dir.path(), Some(fault::Full::Manifest));
            let failed = e.flush().unwrap_err();
            assert!(failed.is_disk_full(), "{failed}");
            assert!(!e.inner.versions.is_poisoned());
            assert_eq!(table_files(dir.path()), 0, "the unlogged table is removed");
            let manifest = dir.path().join(&manifests(dir.path())[0]);
            assert_eq!(std::fs::metadata(&manifest).unwrap().len(), before);
            put_row(&e, 2).unwrap();
            fault::set_disk_full(dir.path(), None);
            e.flush().unwrap();
            assert_eq!(table_files(dir.path()), 2);
            put_row(&e, 3).unwrap();
        }
        let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
        assert!((1..=3).all(|r| present(&e, r)));
    }

    #[test]
    fn a_manifest_roll_refused_for_a_full_disk_keeps_the_live_manifest() {
        let dir = tempfile::tempdir().unwrap();
        {
            let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
            e.inner.versions.set_manifest_roll_bytes(0);
            let live = manifests(dir.path());
            put_row(&e, 1).unwrap();
            fault::set_disk_full(dir.path(), Some(fault::Full::Manifest));
            assert!(e.flush().unwrap_err().is_disk_full());
            assert_eq!(manifests(dir.path()), live, "the new manifest is removed");
            fault::set_disk_full(dir.path(), None);
            e.flush().unwrap();
            assert_ne!(manifests(dir.path()), live, "the next edit rolls");
            put_row(&e, 2).unwrap();
        }
        let e = Engine::open(dir.path(), opts(), DataOptions::default()).unwrap();
        assert!(present(&e, 1) && present(&e, 2));
    }
}
