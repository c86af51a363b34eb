//! Background work and write back-pressure: the engine's background thread flushes sealed
//! memtables to L0 SSTables and runs compactions; `make_room` (called by the commit leader)
//! seals full memtables and slows or stalls writers when flush/compaction fall behind
//! (LevelDB's L0 slowdown/stop triggers). A periodic syncer thread serves
//! `SyncPolicy::Periodic`.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::compaction::{
    bottommost_rewrite_task, manual_compaction_task, manual_target_level, pick_compaction,
    run_compaction, CompactionFilter, CompactionTask, FilterParams,
};
use super::error::{Error, Result};
use super::iter::KvIter;
use super::memtable::Memtable;
use super::options::{Options, SyncPolicy};
use super::sstable::{SstBuilder, SstInfo, SstOptions};
use super::version::{FileMeta, VersionEdit};
use super::{clone_error, filename, BgState, Inner, ReadView, WriterState};

/// How long a waiter sleeps between re-checks (guards against a missed wake-up).
const RECHECK: Duration = Duration::from_millis(20);
/// How long a background job that ran out of disk space or descriptors waits before it
/// tries again.
const RESOURCE_RETRY: Duration = Duration::from_secs(1);

/// Starts the background worker (and the periodic WAL syncer if the policy asks for one).
pub(super) fn start_threads(inner: &Arc<Inner>) -> Result<()> {
    let mut threads = inner.threads.lock();
    let worker = Arc::clone(inner);
    let spawn_err = |e| Error::io(&inner.dir, e);
    threads.push(
        std::thread::Builder::new()
            .name("otsd-engine-bg".into())
            .spawn(move || background_loop(&worker))
            .map_err(spawn_err)?,
    );
    if let SyncPolicy::Periodic(every) = inner.options.sync {
        let syncer = Arc::clone(inner);
        threads.push(
            std::thread::Builder::new()
                .name("otsd-wal-sync".into())
                .spawn(move || sync_loop(&syncer, every))
                .map_err(spawn_err)?,
        );
    }
    Ok(())
}

/// Asks the background threads to stop and joins them.
pub(super) fn stop_threads(inner: &Inner) {
    inner.async_commit.shutdown();
    {
        let mut bg = inner.bg.lock();
        bg.shutdown = true;
        inner.bg_work.notify_all();
        inner.bg_done.notify_all();
    }
    let handles: Vec<_> = inner.threads.lock().drain(..).collect();
    for h in handles {
        if h.join().is_err() {
            tracing::error!("engine background thread panicked");
        }
    }
}

fn sync_loop(inner: &Inner, every: Duration) {
    loop {
        {
            let mut bg = inner.bg.lock();
            if bg.shutdown {
                return;
            }
            inner.bg_work.wait_for(&mut bg, every);
            if bg.shutdown {
                return;
            }
        }
        // Read before the sync: every record published by now was appended to this WAL or
        // to an older one, which the memtable switch synced.
        let published = inner.visible_seqno.load(Ordering::Acquire);
        let handle = inner
            .wal_sync
            .lock()
            .as_ref()
            .and_then(|f| f.try_clone().ok());
        if let Some(file) = handle {
            match file.sync_data() {
                Ok(()) => inner.mark_durable(published),
                Err(e) => inner.poison(&Error::io(&inner.dir, e)),
            }
        }
    }
}

/// Called by the commit leader before it writes: seals a full memtable, delays writes while
/// L0 is crowded and waits (up to `stall_timeout`) while flush or compaction cannot keep up.
pub(super) fn make_room(inner: &Inner, w: &mut WriterState) -> Result<()> {
    let o = &inner.options;
    let deadline = Instant::now() + o.stall_timeout;
    let mut slowed = false;
    loop {
        inner.check_open()?;
        let view = inner.current_view();
        let l0 = view.version.files(0).len();
        let active = view.active.approximate_bytes();
        let full = active >= o.memtable_size_bytes;
        let imm_full = view.immutables.len() >= o.max_immutable_memtables.max(1);
        // Over the shared budget, a writer seals its memtable early, but never stalls for it.
        let over_budget = active >= budget_seal_bytes(o) && o.write_buffer.is_over();
        if (full || over_budget) && !imm_full {
            inner.switch_memtable(w)?;
            continue;
        }
        let stall = (full && imm_full) || l0 >= o.l0_stop_trigger;
        if !stall {
            if l0 >= o.l0_slowdown_trigger && !slowed {
                slowed = true;
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            return Ok(());
        }
        let mut bg = inner.bg.lock();
        if let Some(e) = bg.error.as_ref().or(bg.retry.as_ref().map(|(_, e)| e)) {
            return Err(clone_error(e));
        }
        if bg.shutdown {
            return Err(Error::Closed);
        }
        if Instant::now() >= deadline {
            return Err(Error::Stalled(format!(
                "{} sealed memtables and {l0} L0 files waiting for flush/compaction for {:?}",
                view.immutables.len(),
                o.stall_timeout
            )));
        }
        inner.bg_work.notify_all();
        inner.bg_done.wait_for(&mut bg, RECHECK);
    }
}

/// The least a memtable holds before the shared budget seals it: small enough to free
/// memory, large enough that the flushed L0 files are not tiny.
fn budget_seal_bytes(o: &Options) -> usize {
    (o.memtable_size_bytes / 16).max(1)
}

/// Seals the active memtable of an idle table over the shared budget, so tables no longer
/// written do not hold their memory while others seal small memtables over and over;
/// writers seal their own in `make_room`.
fn seal_for_budget(inner: &Inner) -> Result<()> {
    let o = &inner.options;
    if !o.write_buffer.is_over() || inner.poisoned.load(Ordering::Acquire) {
        return Ok(());
    }
    inner.check_open()?;
    // A held writer lock means the table is being written (its writer seals in `make_room`)
    // or a writer is waiting for this very thread to flush: never block on it.
    let Some(mut w) = inner.writer.try_lock() else {
        return Ok(());
    };
    let view = inner.current_view();
    let imm_full = view.immutables.len() >= o.max_immutable_memtables.max(1);
    if imm_full || view.active.approximate_bytes() < budget_seal_bytes(o) {
        return Ok(());
    }
    inner.switch_memtable(&mut w)
}

/// Seals the active memtable (if it holds anything) and waits until every sealed memtable
/// is flushed.
pub(super) fn flush_and_wait(inner: &Inner) -> Result<()> {
    {
        let mut w = inner.writer.lock();
        if !inner.current_view().active.is_empty() {
            inner.switch_memtable(&mut w)?;
        }
    }
    let mut bg = inner.bg.lock();
    let failures = retry_now(&mut bg);
    loop {
        if let Some(e) = failed_since(&bg, failures) {
            return Err(e);
        }
        if inner.current_view().immutables.is_empty() {
            return Ok(());
        }
        if bg.shutdown {
            return Err(Error::Closed);
        }
        inner.bg_work.notify_all();
        inner.bg_done.wait_for(&mut bg, RECHECK);
    }
}

/// Requests a manual full compaction and waits for it.
pub(super) fn compact_and_wait(inner: &Inner) -> Result<()> {
    let mut bg = inner.bg.lock();
    bg.manual_requested += 1;
    let ticket = bg.manual_requested;
    let failures = retry_now(&mut bg);
    inner.bg_work.notify_all();
    loop {
        if let Some(e) = failed_since(&bg, failures) {
            return Err(e);
        }
        if bg.manual_done >= ticket {
            return Ok(());
        }
        if bg.shutdown {
            return Err(Error::Closed);
        }
        inner.bg_done.wait_for(&mut bg, RECHECK);
    }
}

/// Lets a background job that ran out of a resource run again at once (a caller waits for
/// it); returns the failure count to wait from.
fn retry_now(bg: &mut BgState) -> u64 {
    if let Some((at, _)) = &mut bg.retry {
        *at = Instant::now();
    }
    bg.failures
}

/// The error to report to a waiter that started at failure count `since`: the stopping
/// error, or a passing one that happened since.
fn failed_since(bg: &BgState, since: u64) -> Option<Error> {
    if let Some(e) = &bg.error {
        return Some(clone_error(e));
    }
    match &bg.retry {
        Some((_, e)) if bg.failures > since => Some(clone_error(e)),
        _ => None,
    }
}

/// Whether background work may run now: nothing stopped it and no retry is pending.
fn may_work(bg: &BgState) -> bool {
    bg.error.is_none()
        && bg
            .retry
            .as_ref()
            .is_none_or(|(at, _)| Instant::now() >= *at)
}

/// Records the outcome of a background job. A full disk or a lack of descriptors is retried
/// after `RESOURCE_RETRY` with the engine still writable (nothing was lost: the data is
/// still in its WAL or input tables); any other failure, or one that left the manifest
/// unwritable, stops writes until the engine is reopened.
fn record_outcome(inner: &Inner, bg: &mut BgState, result: Result<()>) {
    let e = match result {
        Ok(()) => {
            if bg.retry.take().is_some() {
                tracing::info!("background flush/compaction works again");
            }
            return;
        }
        Err(e) => e,
    };
    bg.failures += 1;
    if e.is_resource_exhausted() && !inner.versions.is_poisoned() {
        if bg.retry.is_none() {
            tracing::error!(error = %e, "background flush/compaction failed; retrying");
        }
        bg.retry = Some((Instant::now() + RESOURCE_RETRY, e));
        return;
    }
    tracing::error!(error = %e, "background flush/compaction failed");
    inner.poison(&e);
    bg.error = Some(e);
}

/// How often a budget seal that keeps failing (a full disk) is logged again.
const SEAL_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Longest wait of the background thread for readers to let go of a flushed memtable.
/// Readers hold a view for one request, so this is rarely reached; past it the last reader
/// frees the memtable after all.
const RELEASE_WAIT: Duration = Duration::from_millis(50);

fn background_loop(inner: &Inner) {
    let mut seal_warned: Option<Instant> = None;
    loop {
        let manual;
        {
            let mut bg = inner.bg.lock();
            loop {
                if bg.shutdown {
                    return;
                }
                let has_flush = !inner.current_view().immutables.is_empty();
                let has_manual = bg.manual_requested > bg.manual_done;
                if may_work(&bg) && (has_flush || has_manual || compaction_wanted(inner)) {
                    manual = (!has_flush && has_manual).then_some(bg.manual_requested);
                    break;
                }
                inner.bg_work.wait_for(&mut bg, Duration::from_millis(500));
                if bg.shutdown || bg.error.is_some() || !inner.options.write_buffer.is_over() {
                    continue;
                }
                // Over the shared budget: the writer lock is taken after the bg lock is let go.
                drop(bg);
                match seal_for_budget(inner) {
                    Ok(()) => seal_warned = None,
                    Err(e) => {
                        // Retried every wake-up; one line a minute says it as well.
                        if seal_warned.is_none_or(|at| at.elapsed() >= SEAL_WARNING_INTERVAL) {
                            tracing::warn!(error = %e, "cannot seal a memtable for the write budget");
                            seal_warned = Some(Instant::now());
                        }
                    }
                }
                bg = inner.bg.lock();
            }
        }
        let result = match manual {
            Some(_) => compact_all(inner),
            None => match inner.current_view().immutables.last().cloned() {
                Some(oldest) => {
                    let flushed = flush_memtable(inner, &oldest);
                    if flushed.is_ok() {
                        release_here(oldest, RELEASE_WAIT);
                    }
                    flushed
                }
                None => compact_once(inner).map(|_| ()),
            },
        };
        let mut bg = inner.bg.lock();
        if let (Ok(()), Some(ticket)) = (&result, manual) {
            bg.manual_done = bg.manual_done.max(ticket);
        }
        record_outcome(inner, &mut bg, result);
        inner.bg_done.notify_all();
    }
}

/// Drops `mem` on this (background) thread once no reader holds it, waiting at most `wait`:
/// freeing a full memtable's skiplist takes milliseconds, which the last reader, a request
/// on a connection worker, would otherwise pay, and with it every connection of its worker.
fn release_here(mem: Arc<Memtable>, wait: Duration) {
    let deadline = Instant::now() + wait;
    while Arc::strong_count(&mem) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    drop(mem);
}

/// Installs the version set's current version in the read view, dropping `flushed` from
/// the sealed memtables.
pub(super) fn install_version(inner: &Inner, flushed: Option<&Arc<Memtable>>) {
    let mut view = inner.view.write();
    let immutables = view
        .immutables
        .iter()
        .filter(|m| !flushed.is_some_and(|f| Arc::ptr_eq(m, f)))
        .cloned()
        .collect();
    *view = Arc::new(ReadView {
        active: Arc::clone(&view.active),
        immutables,
        version: inner.versions.current(),
    });
}

/// Writes `mem` to a new L0 table, records it in the manifest with the new log number,
/// swaps it into the read view and deletes the WALs it made obsolete.
///
/// Records no snapshot can see any more (overwritten cells, versions past max_versions or
/// the TTL) stay behind, as a compaction above the bottom level would drop them: every
/// record that hides them is newer and lands in the same table, so readers of any level see
/// what they saw before. A memtable of hot rows shrinks to one record per cell.
fn flush_memtable(inner: &Inner, mem: &Arc<Memtable>) -> Result<()> {
    let number = inner.versions.new_file_number();
    let path = filename::sst_path(&inner.dir, number);
    let mut edit = VersionEdit {
        log_number: Some(mem.wal_number() + 1),
        last_seqno: Some(mem.max_seqno().max(inner.versions.last_seqno())),
        ..VersionEdit::default()
    };
    let written = write_level0(inner, mem, &path).inspect_err(|_| {
        // Not in the manifest: a partial table is only wasted space (a full disk's, too).
        let _ = std::fs::remove_file(&path);
    })?;
    if let Some(info) = written {
        edit.added.push((0, FileMeta::from_sst(number, info)));
    }
    log_or_discard(inner, edit)?;
    install_version(inner, Some(mem));
    delete_obsolete_wals(inner, mem.wal_number() + 1);
    tracing::debug!(table = number, entries = mem.len(), "flushed memtable");
    Ok(())
}

/// Logs `edit` in the manifest. When the manifest refused it and stayed as it was (a full
/// disk), the tables the edit would add are deleted: nothing names them, and the retry writes
/// new ones. When it may hold the edit (the set is poisoned), they stay for the reopen.
fn log_or_discard(inner: &Inner, edit: VersionEdit) -> Result<()> {
    let moved: Vec<u64> = edit.deleted.iter().map(|&(_, number)| number).collect();
    let new: Vec<u64> = edit
        .added
        .iter()
        .map(|(_, meta)| meta.number)
        .filter(|number| !moved.contains(number))
        .collect();
    inner.versions.log_and_apply(edit).inspect_err(|_| {
        if !inner.versions.is_poisoned() {
            for number in new {
                let _ = std::fs::remove_file(filename::sst_path(&inner.dir, number));
            }
        }
    })
}

/// Writes the records of `mem` that any snapshot may still need to a table at `path`;
/// `None` (and no file) when there are none.
fn write_level0(inner: &Inner, mem: &Arc<Memtable>, path: &Path) -> Result<Option<SstInfo>> {
    let latest = inner.visible_seqno.load(Ordering::Acquire);
    let mut filter = CompactionFilter::new(FilterParams {
        smallest_snapshot: inner.snapshots.smallest(latest),
        data: *inner.data.read(),
        now_ms: inner.now_ms(),
        bottommost: false,
    });
    let mut builder: Option<SstBuilder> = None;
    let mut it = mem.iter();
    it.seek_to_first()?;
    while it.valid() {
        if filter.keep(it.key(), it.value())? {
            let b = match &mut builder {
                Some(b) => b,
                None => builder.insert(SstBuilder::create(
                    path,
                    SstOptions::from_engine(&inner.options),
                )?),
            };
            b.add(it.key(), it.value())?;
        }
        it.next()?;
    }
    builder.map(SstBuilder::finish).transpose()
}

fn delete_obsolete_wals(inner: &Inner, log_number: u64) {
    let Ok(entries) = std::fs::read_dir(&inner.dir) else {
        return;
    };
    for entry in entries.flatten() {
        if let Some(filename::FileKind::Wal(n)) = entry
            .file_name()
            .to_str()
            .and_then(filename::parse_file_name)
        {
            if n < log_number {
                if let Err(e) = std::fs::remove_file(entry.path()) {
                    tracing::warn!(wal = n, error = %e, "cannot remove obsolete WAL");
                }
            }
        }
    }
}

fn compaction_wanted(inner: &Inner) -> bool {
    pick_compaction(&inner.versions.current(), &inner.options).is_some()
}

/// Runs one compaction the picker chooses; `false` if none is due.
fn compact_once(inner: &Inner) -> Result<bool> {
    let Some(task) = pick_compaction(&inner.versions.current(), &inner.options) else {
        return Ok(false);
    };
    run_task(inner, &task)?;
    Ok(true)
}

/// Pushes every file down to the deepest non-empty level, one level at a time.
fn compact_all(inner: &Inner) -> Result<()> {
    let target = manual_target_level(&inner.versions.current());
    // Whether the last step already rewrote every file of the target level as bottommost.
    let mut bottom_done = false;
    while let Some(task) = manual_compaction_task(&inner.versions.current(), target) {
        let target_files = inner.versions.current().files(target).len();
        bottom_done = task.bottommost
            && task.output_level == target
            && task.next_level_inputs.len() == target_files;
        run_task(inner, &task)?;
    }
    // Data that already sat in the last level still holds its tombstones: rewrite it once.
    if !bottom_done {
        if let Some(task) = bottommost_rewrite_task(&inner.versions.current(), target) {
            run_task(inner, &task)?;
        }
    }
    Ok(())
}

fn run_task(inner: &Inner, task: &CompactionTask) -> Result<()> {
    let latest = inner.visible_seqno.load(Ordering::Acquire);
    let params = FilterParams {
        smallest_snapshot: inner.snapshots.smallest(latest),
        data: *inner.data.read(),
        now_ms: inner.now_ms(),
        bottommost: task.bottommost,
    };
    let mut new_file_number = || inner.versions.new_file_number();
    let edit = run_compaction(
        task,
        &inner.dir,
        SstOptions::from_engine(&inner.options),
        params,
        &mut new_file_number,
        inner.options.target_file_size_bytes,
    )?;
    log_or_discard(inner, edit)?;
    install_version(inner, None);
    tracing::debug!(
        level = task.level,
        output_level = task.output_level,
        "compaction finished"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flushed_memtable_is_freed_by_the_releasing_thread_once_readers_let_go() {
        let mem = Arc::new(Memtable::new(1));
        let weak = Arc::downgrade(&mem);
        let reader = Arc::clone(&mem);
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(reader);
        });
        release_here(mem, Duration::from_secs(10));
        // The reader let go first, so the wait ended with the last reference freed here.
        assert!(weak.upgrade().is_none());
        holder.join().expect("holder");
    }

    #[test]
    fn a_reader_holding_on_past_the_wait_frees_it_later() {
        let mem = Arc::new(Memtable::new(1));
        let weak = Arc::downgrade(&mem);
        let reader = Arc::clone(&mem);
        let started = Instant::now();
        release_here(mem, Duration::from_millis(5));
        assert!(started.elapsed() >= Duration::from_millis(5));
        assert!(weak.upgrade().is_some(), "the reader still holds it");
        drop(reader);
        assert!(weak.upgrade().is_none());
    }
}
