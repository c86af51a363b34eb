//! `Version` (the live SSTables per level, immutable and shared by readers) and `VersionSet`
//! (the current version, the counters, and the manifest that persists every change).
//! Obsolete tables are deleted by `TableFile`'s `Drop`, once no version or iterator holds them.
//!
//! Level invariants: L0 is sorted newest first and its files may overlap; in L1+ files are
//! sorted by key and hold disjoint row ranges (compaction cuts outputs only between rows), so
//! deeper data of a row is always older than shallower data of the same row.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::edit::{FileMeta, VersionEdit};
use super::manifest::{self, ManifestWriter};
use crate::engine::error::{Error, Result};
use crate::engine::filename::{self, FileKind};
use crate::engine::fsync;
use crate::engine::iter::KvIter;
use crate::engine::key::{self, SeqNo};
use crate::engine::merge::{BoxedIter, LevelIter, LevelTable};
use crate::engine::options::Options;
use crate::engine::sstable::{SstIter, SstReader};

/// The manifest is rewritten as a fresh snapshot once it grows past this: replay stays fast
/// and the log never grows without bound.
pub const MANIFEST_ROLL_BYTES: u64 = 4 << 20;

/// One live SSTable: its manifest entry and its open reader.
pub struct TableFile {
    /// What the manifest records about the file.
    pub meta: FileMeta,
    /// The open table.
    pub reader: Arc<SstReader>,
    smallest_row: Vec<u8>,
    largest_row: Vec<u8>,
    obsolete: AtomicBool,
}

impl std::fmt::Debug for TableFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFile")
            .field("number", &self.meta.number)
            .field("file_size", &self.meta.file_size)
            .field("obsolete", &self.is_obsolete())
            .finish()
    }
}

fn key_row<'a>(path: &Path, internal: &'a [u8], what: &str) -> Result<&'a [u8]> {
    key::split_internal_key(internal)
        .and_then(|(cell, _, _)| key::cell_row(cell))
        .ok_or_else(|| {
            Error::corruption(path, 0, format!("malformed {what} key in manifest entry"))
        })
}

impl TableFile {
    /// Opens the SSTable `meta` describes in `dir`.
    ///
    /// Errors: `Io` / `Corruption` from the reader, or `Corruption` when the recorded key
    /// bounds are not internal keys.
    pub fn open(dir: &Path, meta: FileMeta) -> Result<Arc<TableFile>> {
        let path = filename::sst_path(dir, meta.number);
        let smallest_row = key_row(&path, &meta.smallest, "smallest")?.to_vec();
        let largest_row = key_row(&path, &meta.largest, "largest")?.to_vec();
        let reader = Arc::new(SstReader::open(&path)?);
        Ok(Arc::new(TableFile {
            meta,
            reader,
            smallest_row,
            largest_row,
            obsolete: AtomicBool::new(false),
        }))
    }

    /// File number.
    pub fn number(&self) -> u64 {
        self.meta.number
    }

    /// The table's path.
    pub fn path(&self) -> &Path {
        self.reader.path()
    }

    /// Row key of the smallest record.
    pub fn smallest_row(&self) -> &[u8] {
        &self.smallest_row
    }

    /// Row key of the largest record.
    pub fn largest_row(&self) -> &[u8] {
        &self.largest_row
    }

    /// True when `row` lies within the file's row range (the bloom filter is not asked).
    pub fn covers_row(&self, row: &[u8]) -> bool {
        self.smallest_row.as_slice() <= row && row <= self.largest_row.as_slice()
    }

    /// True when the file's row range meets `[first_row, last_row]`.
    pub fn overlaps_rows(&self, first_row: &[u8], last_row: &[u8]) -> bool {
        self.smallest_row.as_slice() <= last_row && first_row <= self.largest_row.as_slice()
    }

    /// Marks the file as no longer in the current version: it is deleted when dropped.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }

    /// True once the file left the current version.
    pub fn is_obsolete(&self) -> bool {
        self.obsolete.load(Ordering::Acquire)
    }

    /// An iterator over the file that keeps the file alive (and undeleted) while it lives.
    pub fn iter(self: &Arc<Self>) -> TableIter {
        TableIter {
            iter: self.reader.iter(),
            _file: self.clone(),
        }
    }
}

impl Drop for TableFile {
    fn drop(&mut self) {
        if !self.is_obsolete() {
            return;
        }
        let path = self.reader.path();
        match fs::remove_file(path) {
            Ok(()) => tracing::debug!(file = %path.display(), "deleted obsolete table"),
            // Left behind, it is found and deleted as unreferenced on the next open.
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot delete obsolete table")
            }
        }
    }
}

impl LevelTable for TableFile {
    fn smallest(&self) -> &[u8] {
        &self.meta.smallest
    }
    fn largest(&self) -> &[u8] {
        &self.meta.largest
    }
    fn open_iter(&self) -> Result<BoxedIter> {
        Ok(Box::new(self.reader.iter()))
    }
}

/// An `SstIter` that holds its `TableFile`, so the file outlives the iterator.
pub struct TableIter {
    iter: SstIter,
    _file: Arc<TableFile>,
}

impl KvIter for TableIter {
    fn valid(&self) -> bool {
        self.iter.valid()
    }
    fn key(&self) -> &[u8] {
        self.iter.key()
    }
    fn value(&self) -> &[u8] {
        self.iter.value()
    }
    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.iter.seek(target)
    }
    fn seek_to_first(&mut self) -> Result<()> {
        self.iter.seek_to_first()
    }
    fn next(&mut self) -> Result<()> {
        self.iter.next()
    }
    fn seek_for_prev(&mut self, target: &[u8]) -> Result<()> {
        self.iter.seek_for_prev(target)
    }
    fn seek_to_last(&mut self) -> Result<()> {
        self.iter.seek_to_last()
    }
    fn prev(&mut self) -> Result<()> {
        self.iter.prev()
    }
}

/// An immutable set of live tables per level. Readers hold an `Arc<Version>` for as long
/// as they read; changes make a new `Version`.
#[derive(Debug, Clone)]
pub struct Version {
    /// `levels[0]` newest first (files may overlap); `levels[1..]` sorted, disjoint rows.
    pub levels: Vec<Vec<Arc<TableFile>>>,
}

/// Sorts a level by its invariant: L0 newest first, deeper levels by smallest key.
fn sort_level(level: usize, files: &mut [Arc<TableFile>]) {
    if level == 0 {
        files.sort_by(|a, b| {
            (b.meta.largest_seqno, b.meta.number).cmp(&(a.meta.largest_seqno, a.meta.number))
        });
    } else {
        files.sort_by(|a, b| a.meta.smallest.cmp(&b.meta.smallest));
    }
}

impl Version {
    /// A version with `num_levels` empty levels.
    pub fn empty(num_levels: usize) -> Version {
        Version {
            levels: vec![Vec::new(); num_levels.max(2)],
        }
    }

    /// Number of levels.
    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }

    /// The files of `level` (empty past the last level).
    pub fn files(&self, level: usize) -> &[Arc<TableFile>] {
        self.levels.get(level).map_or(&[], |l| l.as_slice())
    }

    /// Total bytes of the files in `level`.
    pub fn level_size(&self, level: usize) -> u64 {
        self.files(level).iter().map(|f| f.meta.file_size).sum()
    }

    /// Every live file, any order.
    pub fn all_files(&self) -> impl Iterator<Item = &Arc<TableFile>> {
        self.levels.iter().flatten()
    }

    /// Files whose row range holds `row`, newest first: overlapping L0 files, then at most
    /// one file per deeper level (found by binary search). The bloom filters are not asked,
    /// so a point read can rule a file out by its seqnos before probing its filter.
    pub fn files_covering_row<'a>(
        &'a self,
        row: &'a [u8],
    ) -> impl Iterator<Item = &'a Arc<TableFile>> + 'a {
        self.levels
            .iter()
            .enumerate()
            .flat_map(move |(level, files)| {
                let candidates: &[Arc<TableFile>] = if level == 0 {
                    files
                } else {
                    let i = files.partition_point(|f| f.largest_row() < row);
                    files.get(i).map(std::slice::from_ref).unwrap_or(&[])
                };
                candidates.iter().filter(move |f| f.covers_row(row))
            })
    }

    /// Files of `level` whose rows meet `[first_row, last_row]`, in level order.
    pub fn overlapping_files(
        &self,
        level: usize,
        first_row: &[u8],
        last_row: &[u8],
    ) -> Vec<Arc<TableFile>> {
        let files = self.files(level);
        if level == 0 {
            return files
                .iter()
                .filter(|f| f.overlaps_rows(first_row, last_row))
                .cloned()
                .collect();
        }
        let start = files.partition_point(|f| f.largest_row() < first_row);
        files[start..]
            .iter()
            .take_while(|f| f.smallest_row() <= last_row)
            .cloned()
            .collect()
    }

    /// Iterators over every table, newest first: one per L0 file, one `LevelIter` per
    /// non-empty deeper level. Each keeps its files alive. Unpositioned.
    pub fn iters(&self) -> Vec<BoxedIter> {
        let mut out: Vec<BoxedIter> = Vec::new();
        for f in self.files(0) {
            out.push(Box::new(f.iter()));
        }
        for files in self.levels.iter().skip(1).filter(|l| !l.is_empty()) {
            out.push(Box::new(LevelIter::new(files.clone())));
        }
        out
    }

    /// The manifest edit that recreates this version from nothing.
    fn snapshot_files(&self) -> Vec<(usize, FileMeta)> {
        let mut out = Vec::new();
        for (level, files) in self.levels.iter().enumerate() {
            out.extend(files.iter().map(|f| (level, f.meta.clone())));
        }
        out
    }

    /// Checks the L1+ invariant: sorted by key with disjoint row ranges.
    fn check_levels(&self) -> std::result::Result<(), String> {
        for (level, files) in self.levels.iter().enumerate().skip(1) {
            for pair in files.windows(2) {
                if pair[0].largest_row() >= pair[1].smallest_row() {
                    return Err(format!(
                        "level {level}: files {} and {} overlap",
                        pair[0].number(),
                        pair[1].number()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What `VersionSet::open` recovered, for the engine's WAL replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// WAL segments numbered below this are fully in SSTables (safe to delete).
    pub log_number: u64,
    /// The last seqno the manifest recorded (the WAL may hold later ones).
    pub last_seqno: SeqNo,
    /// Every WAL segment found in the directory, ascending.
    pub wal_numbers: Vec<u64>,
}

/// The mutable state behind the manifest lock.
struct ManifestState {
    writer: ManifestWriter,
    /// Set after a manifest write failed in a way that may have left the edit, or a torn part
    /// of it, in the file.
    poisoned: bool,
}

/// The current `Version`, the persisted counters and the manifest that logs every change.
/// Thread-safe; `log_and_apply` calls are serialized.
pub struct VersionSet {
    dir: PathBuf,
    num_levels: usize,
    current: Mutex<Arc<Version>>,
    manifest: Mutex<ManifestState>,
    next_file_number: AtomicU64,
    log_number: AtomicU64,
    last_seqno: AtomicU64,
    manifest_roll_bytes: AtomicU64,
}

impl std::fmt::Debug for VersionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionSet")
            .field("dir", &self.dir)
            .field(
                "next_file_number",
                &self.next_file_number.load(Ordering::Relaxed),
            )
            .field("log_number", &self.log_number())
            .field("last_seqno", &self.last_seqno())
            .finish()
    }
}

/// Level -> file number -> meta, while replaying.
type LevelMap = Vec<BTreeMap<u64, FileMeta>>;

/// Applies one replayed edit to the file map and counters.
fn replay_edit(
    path: &Path,
    levels: &mut LevelMap,
    counters: &mut (u64, u64, SeqNo),
    edit: VersionEdit,
) -> Result<()> {
    if let Some(n) = edit.log_number {
        counters.0 = n;
    }
    if let Some(n) = edit.next_file_number {
        counters.1 = counters.1.max(n);
    }
    if let Some(s) = edit.last_seqno {
        counters.2 = counters.2.max(s);
    }
    for (level, number) in edit.deleted {
        let removed = levels.get_mut(level).and_then(|l| l.remove(&number));
        if removed.is_none() {
            return Err(Error::corruption(
                path,
                0,
                format!("edit deletes unknown file {number} at level {level}"),
            ));
        }
    }
    for (level, meta) in edit.added {
        let Some(files) = levels.get_mut(level) else {
            return Err(Error::corruption(
                path,
                0,
                format!("edit adds file {} at level {level}", meta.number),
            ));
        };
        files.insert(meta.number, meta);
    }
    Ok(())
}

/// Lists the engine files in `dir` by kind.
fn list_dir(dir: &Path) -> Result<Vec<(String, FileKind)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if let Some(kind) = filename::parse_file_name(&name) {
            out.push((name, kind));
        }
    }
    Ok(out)
}

/// After a fresh manifest could not be started for lack of space or descriptors, the open
/// continues the old one (`old`: its number and intact length) instead, so that a server on
/// a full disk still starts and serves reads while writes wait for space. Any other failure,
/// or a new directory with no manifest yet, is `e` itself.
fn continue_manifest(dir: &Path, old: Option<(u64, u64)>, e: Error) -> Result<ManifestWriter> {
    match old {
        Some((number, valid_len)) if e.is_resource_exhausted() => {
            tracing::warn!(error = %e, manifest = number, "cannot start a fresh manifest; continuing the old one");
            ManifestWriter::reopen(dir, number, valid_len)
        }
        _ => Err(e),
    }
}

fn remove_quietly(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => tracing::info!(file = %path.display(), "removed stale file"),
        Err(e) => tracing::warn!(file = %path.display(), error = %e, "cannot remove stale file"),
    }
}

impl VersionSet {
    /// Opens (or creates) the version set of `dir`: replays the manifest `CURRENT` names,
    /// opens every live table, deletes unreferenced tables, temp files and old manifests, and
    /// starts a fresh manifest holding a snapshot (so a torn tail is never appended to). On
    /// a full disk it continues the old manifest after its intact records instead.
    ///
    /// Errors: `Io`; `Corruption` for a damaged manifest or `CURRENT`, or a live table that
    /// fails to open.
    pub fn open(dir: &Path, options: &Options) -> Result<(VersionSet, RecoveryInfo)> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let num_levels = options.num_levels.max(2);
        let mut levels: LevelMap = vec![BTreeMap::new(); num_levels];
        // (log_number, next_file_number, last_seqno)
        let mut counters = (0u64, 1u64, 0 as SeqNo);
        let old_manifest = manifest::read_current(dir)?;
        // The old manifest's number and intact length, to continue it on a full disk.
        let mut old_valid = None;
        if let Some(number) = old_manifest {
            let path = filename::manifest_path(dir, number);
            if !path.exists() {
                return Err(Error::corruption(
                    &path,
                    0,
                    "CURRENT names a missing manifest",
                ));
            }
            let replay = manifest::read_manifest(&path)?;
            old_valid = Some((number, replay.valid_len));
            for edit in replay.edits {
                replay_edit(&path, &mut levels, &mut counters, edit)?;
            }
        }
        let (log_number, mut next_file_number, last_seqno) = counters;

        let live: HashSet<u64> = levels.iter().flat_map(|l| l.keys().copied()).collect();
        let mut wal_numbers = Vec::new();
        for (name, kind) in list_dir(dir)? {
            let path = dir.join(&name);
            match kind {
                FileKind::Wal(n) => {
                    wal_numbers.push(n);
                    next_file_number = next_file_number.max(n + 1);
                }
                FileKind::Sst(n) => {
                    next_file_number = next_file_number.max(n + 1);
                    if !live.contains(&n) {
                        remove_quietly(&path);
                    }
                }
                FileKind::Manifest(n) => {
                    next_file_number = next_file_number.max(n + 1);
                    if Some(n) != old_manifest {
                        remove_quietly(&path);
                    }
                }
                FileKind::Temp => remove_quietly(&path),
                FileKind::Current | FileKind::Lock | FileKind::AutoInc => {}
            }
        }
        wal_numbers.sort_unstable();

        let mut version = Version::empty(num_levels);
        for (level, files) in levels.into_iter().enumerate() {
            for meta in files.into_values() {
                version.levels[level].push(TableFile::open(dir, meta)?);
            }
            sort_level(level, &mut version.levels[level]);
        }

        let manifest_number = next_file_number;
        next_file_number += 1;
        let (writer, fresh) = match ManifestWriter::create(dir, manifest_number) {
            Ok(writer) => (writer, true),
            Err(e) => (continue_manifest(dir, old_valid, e)?, false),
        };
        let set = VersionSet {
            dir: dir.to_path_buf(),
            num_levels,
            current: Mutex::new(Arc::new(version)),
            manifest: Mutex::new(ManifestState {
                writer,
                poisoned: false,
            }),
            next_file_number: AtomicU64::new(next_file_number),
            log_number: AtomicU64::new(log_number),
            last_seqno: AtomicU64::new(last_seqno),
            manifest_roll_bytes: AtomicU64::new(MANIFEST_ROLL_BYTES),
        };
        if fresh {
            let mut state = set.manifest.lock();
            let snapshot = set.snapshot_edit(&set.current());
            let started = state
                .writer
                .append(&snapshot)
                .and_then(|()| manifest::set_current(dir, manifest_number));
            match started {
                Ok(()) => {
                    if let Some(old) = old_manifest {
                        remove_quietly(&filename::manifest_path(dir, old));
                    }
                }
                Err(e) => {
                    // `CURRENT` still names the old manifest (a failed `set_current` leaves
                    // it), so the fresh one is only wasted space.
                    state.writer = continue_manifest(dir, old_valid, e)?;
                    remove_quietly(&filename::manifest_path(dir, manifest_number));
                }
            }
        }
        Ok((
            set,
            RecoveryInfo {
                log_number,
                last_seqno,
                wal_numbers,
            },
        ))
    }

    /// The directory the set manages.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of levels.
    pub fn num_levels(&self) -> usize {
        self.num_levels
    }

    /// The current version (cheap: one `Arc` clone).
    pub fn current(&self) -> Arc<Version> {
        self.current.lock().clone()
    }

    /// Whether a failed manifest write stopped the set (nothing more can be logged until the
    /// engine is reopened).
    pub fn is_poisoned(&self) -> bool {
        self.manifest.lock().poisoned
    }

    /// Allocates a fresh file number (for a WAL segment, table or manifest).
    pub fn new_file_number(&self) -> u64 {
        self.next_file_number.fetch_add(1, Ordering::Relaxed)
    }

    /// WAL segments below this number are no longer needed.
    pub fn log_number(&self) -> u64 {
        self.log_number.load(Ordering::Acquire)
    }

    /// The largest seqno recorded in the manifest.
    pub fn last_seqno(&self) -> SeqNo {
        self.last_seqno.load(Ordering::Acquire)
    }

    /// Changes the manifest size past which it is rewritten as a snapshot (tests, tools).
    pub fn set_manifest_roll_bytes(&self, bytes: u64) {
        self.manifest_roll_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Number of the live manifest.
    pub fn manifest_number(&self) -> u64 {
        self.manifest.lock().writer.number()
    }

    /// Size in bytes of the live manifest.
    pub fn manifest_size(&self) -> u64 {
        self.manifest.lock().writer.size()
    }

    fn snapshot_edit(&self, version: &Version) -> VersionEdit {
        VersionEdit {
            log_number: Some(self.log_number()),
            next_file_number: Some(self.next_file_number.load(Ordering::Relaxed)),
            last_seqno: Some(self.last_seqno()),
            added: version.snapshot_files(),
            deleted: Vec::new(),
        }
    }

    /// Persists `edit` to the manifest (fsynced), then installs the version it makes.
    /// Files it deletes become obsolete and vanish once their last user drops them.
    ///
    /// Errors: `InvalidArgument` when the edit does not fit the current version (unknown
    /// deleted file, bad level, overlapping L1+ files), `Io`/`Corruption` opening added
    /// tables, `Io` writing the manifest. A write refused for lack of space or descriptors
    /// leaves the manifest as it was; after any other failed write the set is `Poisoned`.
    pub fn log_and_apply(&self, mut edit: VersionEdit) -> Result<()> {
        let mut state = self.manifest.lock();
        if state.poisoned {
            return Err(Error::Poisoned);
        }
        let base = self.current();
        let version = self.build(&base, &edit)?;
        edit.next_file_number = Some(self.next_file_number.load(Ordering::Relaxed));
        if let Err(e) = self.persist(&mut state, &mut edit, &version) {
            // A resource shortage that left the manifest as it was is the caller's to retry;
            // after anything else the manifest may hold the edit or a torn part of it.
            if !(e.is_resource_exhausted() && state.writer.is_intact()) {
                state.poisoned = true;
            }
            return Err(e);
        }
        if let Some(n) = edit.log_number {
            self.log_number.store(n, Ordering::Release);
        }
        if let Some(s) = edit.last_seqno {
            self.last_seqno.fetch_max(s, Ordering::AcqRel);
        }
        let kept: HashSet<u64> = version.all_files().map(|f| f.number()).collect();
        *self.current.lock() = Arc::new(version);
        for f in base.all_files().filter(|f| !kept.contains(&f.number())) {
            f.mark_obsolete();
        }
        Ok(())
    }

    /// Writes `edit` (or, past the size limit, a snapshot of `version` into a new manifest).
    fn persist(
        &self,
        state: &mut ManifestState,
        edit: &mut VersionEdit,
        version: &Version,
    ) -> Result<()> {
        if !edit.added.is_empty() {
            // New tables' directory entries must be durable before the manifest names them.
            fsync::sync_dir(&self.dir)?;
        }
        if state.writer.size() < self.manifest_roll_bytes.load(Ordering::Relaxed) {
            return state.writer.append(edit);
        }
        let number = self.new_file_number();
        let mut snapshot = self.snapshot_edit(version);
        snapshot.log_number = edit.log_number.or(snapshot.log_number);
        snapshot.last_seqno = edit.last_seqno.max(snapshot.last_seqno);
        let path = filename::manifest_path(&self.dir, number);
        let rolled = ManifestWriter::create(&self.dir, number).and_then(|mut writer| {
            writer.append(&snapshot)?;
            manifest::set_current(&self.dir, number)?;
            Ok(writer)
        });
        let writer = match rolled {
            Ok(writer) => writer,
            Err(e) => {
                // Short of space or descriptors, CURRENT still names the live manifest and
                // the new one is only clutter; otherwise either may be current: keep both.
                if e.is_resource_exhausted() {
                    remove_quietly(&path);
                }
                return Err(e);
            }
        };
        let old = std::mem::replace(&mut state.writer, writer);
        remove_quietly(old.path());
        Ok(())
    }

    /// The version `edit` makes from `base`, opening added tables; nothing is persisted.
    fn build(&self, base: &Version, edit: &VersionEdit) -> Result<Version> {
        let invalid = |what: String| Err(Error::InvalidArgument(what));
        let mut by_number: HashMap<u64, Arc<TableFile>> = HashMap::new();
        let mut levels = base.levels.clone();
        for &(level, number) in &edit.deleted {
            let Some(files) = levels.get_mut(level) else {
                return invalid(format!("edit deletes file {number} at level {level}"));
            };
            let Some(pos) = files.iter().position(|f| f.number() == number) else {
                return invalid(format!(
                    "edit deletes file {number} missing from level {level}"
                ));
            };
            by_number.insert(number, files.remove(pos));
        }
        for (level, meta) in &edit.added {
            if *level >= self.num_levels {
                return invalid(format!("edit adds file {} at level {level}", meta.number));
            }
            if meta.entries == 0 || meta.smallest.is_empty() {
                return invalid(format!("edit adds empty table {}", meta.number));
            }
            if levels.iter().flatten().any(|f| f.number() == meta.number) {
                return invalid(format!("edit adds file {} twice", meta.number));
            }
            // A file moved between levels keeps its open reader.
            let file = match by_number.remove(&meta.number) {
                Some(f) if f.meta == *meta => f,
                _ => TableFile::open(&self.dir, meta.clone())?,
            };
            levels[*level].push(file);
        }
        for (level, files) in levels.iter_mut().enumerate() {
            sort_level(level, files);
        }
        let version = Version { levels };
        version.check_levels().map_err(Error::InvalidArgument)?;
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::key::{make_internal_key, row_head_key, Kind};
    use crate::engine::sstable::{SstBuilder, SstOptions};

    fn row(i: u32) -> Vec<u8> {
        let mut r = vec![0x02];
        r.extend_from_slice(&(u64::from(i) ^ (1 << 63)).to_be_bytes());
        r
    }

    /// Writes table `number` with one row marker per row in `rows` at `seqno`.
    fn write_table(dir: &Path, number: u64, rows: std::ops::Range<u32>, seqno: SeqNo) -> FileMeta {
        let path = filename::sst_path(dir, number);
        let mut b = SstBuilder::create(&path, SstOptions::default()).unwrap();
        for r in rows {
            let key = make_internal_key(row_head_key(&row(r)), seqno, Kind::RowExists);
            b.add(&key, &0i64.to_le_bytes()).unwrap();
        }
        FileMeta::from_sst(number, b.finish().unwrap())
    }

    fn layout(v: &Version) -> Vec<Vec<u64>> {
        v.levels
            .iter()
            .map(|l| l.iter().map(|f| f.number()).collect())
            .collect()
    }

    fn options() -> Options {
        Options {
            num_levels: 4,
            ..Options::default()
        }
    }

    #[test]
    fn fresh_directory_opens_empty_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let (set, info) = VersionSet::open(dir.path(), &options()).unwrap();
        assert_eq!(
            info,
            RecoveryInfo {
                log_number: 0,
                last_seqno: 0,
                wal_numbers: vec![]
            }
        );
        assert_eq!(layout(&set.current()), vec![Vec::<u64>::new(); 4]);
        assert_eq!(
            manifest::read_current(dir.path()).unwrap(),
            Some(set.manifest_number())
        );
        let a = set.new_file_number();
        assert!(set.new_file_number() > a);
        drop(set);
        let (set, _) = VersionSet::open(dir.path(), &options()).unwrap();
        assert!(set.new_file_number() > a, "file numbers are never reused");
    }

    #[test]
    fn edits_survive_reopen_with_levels_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (set, _) = VersionSet::open(d, &options()).unwrap();
        let (n1, n2, n3) = (
            set.new_file_number(),
            set.new_file_number(),
            set.new_file_number(),
        );
        let edit = VersionEdit {
            log_number: Some(9),
            last_seqno: Some(300),
            added: vec![
                (0, write_table(d, n1, 0..10, 100)),
                (0, write_table(d, n2, 5..20, 200)),
            ],
            ..Default::default()
        };
        set.log_and_apply(edit).unwrap();
        assert_eq!(layout(&set.current())[0], [n2, n1], "L0 newest first");
        let edit = VersionEdit {
            added: vec![(1, write_table(d, n3, 30..40, 50))],
            deleted: vec![(0, n1)],
            ..Default::default()
        };
        set.log_and_apply(edit).unwrap();
        assert_eq!((set.log_number(), set.last_seqno()), (9, 300));
        let before = layout(&set.current());
        drop(set);
        std::fs::write(filename::wal_path(d, 77), b"").unwrap();
        let (set, info) = VersionSet::open(d, &options()).unwrap();
        assert_eq!(layout(&set.current()), before);
        assert_eq!(
            (info.log_number, info.last_seqno, info.wal_numbers),
            (9, 300, vec![77])
        );
        assert!(set.new_file_number() > 77);
        assert!(!filename::sst_path(d, n1).exists(), "deleted table is gone");
        let v = set.current();
        assert_eq!(
            v.files_covering_row(&row(7))
                .map(|f| f.number())
                .collect::<Vec<_>>(),
            [n2]
        );
        assert_eq!(
            v.files_covering_row(&row(35))
                .map(|f| f.number())
                .collect::<Vec<_>>(),
            [n3]
        );
        assert_eq!(v.files_covering_row(&row(25)).count(), 0);
        assert_eq!(v.level_size(1), v.files(1)[0].meta.file_size);
    }

    #[test]
    fn many_edits_replay_and_the_manifest_rolls_to_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (set, _) = VersionSet::open(d, &options()).unwrap();
        set.set_manifest_roll_bytes(2048);
        let first_manifest = set.manifest_number();
        let mut live = Vec::new();
        for i in 0..60u32 {
            let n = set.new_file_number();
            let mut edit = VersionEdit {
                last_seqno: Some(u64::from(i) * 10),
                ..Default::default()
            };
            edit.added
                .push((1, write_table(d, n, i * 10..i * 10 + 5, 1)));
            if i % 3 == 2 {
                let old: u64 = live.remove(0);
                edit.deleted.push((1, old));
            }
            live.push(n);
            set.log_and_apply(edit).unwrap();
        }
        assert_ne!(
            set.manifest_number(),
            first_manifest,
            "manifest was rewritten"
        );
        assert!(!filename::manifest_path(d, first_manifest).exists());
        assert_eq!(
            manifest::read_current(d).unwrap(),
            Some(set.manifest_number())
        );
        assert_eq!(layout(&set.current())[1], live);
        drop(set);
        let (set, info) = VersionSet::open(d, &options()).unwrap();
        assert_eq!(layout(&set.current())[1], live);
        assert_eq!(info.last_seqno, 590);
    }

    #[test]
    fn obsolete_table_is_deleted_only_after_its_last_user_drops() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (set, _) = VersionSet::open(d, &options()).unwrap();
        let n = set.new_file_number();
        set.log_and_apply(VersionEdit {
            added: vec![(0, write_table(d, n, 0..5, 1))],
            ..Default::default()
        })
        .unwrap();
        let old_version = set.current();
        let mut iter = old_version.files(0)[0].iter();
        drop(old_version);
        set.log_and_apply(VersionEdit {
            deleted: vec![(0, n)],
            ..Default::default()
        })
        .unwrap();
        let path = filename::sst_path(d, n);
        assert!(path.exists(), "an iterator still reads it");
        iter.seek_to_first().unwrap();
        assert!(iter.valid());
        drop(iter);
        assert!(!path.exists(), "deleted when the last user dropped");
    }

    #[test]
    fn moving_a_table_between_levels_keeps_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (set, _) = VersionSet::open(d, &options()).unwrap();
        let n = set.new_file_number();
        let meta = write_table(d, n, 0..5, 1);
        set.log_and_apply(VersionEdit {
            added: vec![(0, meta.clone())],
            ..Default::default()
        })
        .unwrap();
        let edit = VersionEdit {
            added: vec![(2, meta)],
            deleted: vec![(0, n)],
            ..Default::default()
        };
        set.log_and_apply(edit).unwrap();
        assert_eq!(layout(&set.current())[2], [n]);
        assert!(filename::sst_path(d, n).exists());
    }

    #[test]
    fn invalid_edits_are_refused_before_reaching_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (set, _) = VersionSet::open(d, &options()).unwrap();
        let size = set.manifest_size();
        let bad = VersionEdit {
            deleted: vec![(1, 42)],
            ..Default::default()
        };
        assert!(matches!(
            set.log_and_apply(bad),
            Err(Error::InvalidArgument(_))
        ));
        let (a, b) = (set.new_file_number(), set.new_file_number());
        let overlapping = VersionEdit {
            added: vec![
                (1, write_table(d, a, 0..10, 1)),
                (1, write_table(d, b, 9..12, 1)),
            ],
            ..Default::default()
        };
        assert!(matches!(
            set.log_and_apply(overlapping),
            Err(Error::InvalidArgument(_))
        ));
        let deep = VersionEdit {
            added: vec![(9, write_table(d, a, 0..1, 1))],
            ..Default::default()
        };
        assert!(matches!(
            set.log_and_apply(deep),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(set.manifest_size(), size);
    }

    #[test]
    fn open_removes_unreferenced_tables_temp_files_and_old_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (set, _) = VersionSet::open(d, &options()).unwrap();
        let keep = set.new_file_number();
        set.log_and_apply(VersionEdit {
            added: vec![(0, write_table(d, keep, 0..3, 1))],
            ..Default::default()
        })
        .unwrap();
        drop(set);
        write_table(d, 500, 0..3, 1);
        std::fs::write(d.join("000501.sst.tmp"), b"partial").unwrap();
        std::fs::write(filename::manifest_path(d, 499), b"stale").unwrap();
        std::fs::write(d.join("notes.txt"), b"not ours").unwrap();
        let (set, _) = VersionSet::open(d, &options()).unwrap();
        assert!(filename::sst_path(d, keep).exists());
        assert!(!filename::sst_path(d, 500).exists());
        assert!(!d.join("000501.sst.tmp").exists());
        assert!(!filename::manifest_path(d, 499).exists());
        assert!(d.join("notes.txt").exists());
        assert!(set.new_file_number() > 501);
    }

    #[test]
    fn damaged_manifest_or_current_fails_open_with_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (set, _) = VersionSet::open(d, &options()).unwrap();
        for _ in 0..3 {
            let n = set.new_file_number();
            set.log_and_apply(VersionEdit {
                added: vec![(0, write_table(d, n, 0..3, n))],
                ..Default::default()
            })
            .unwrap();
        }
        let path = filename::manifest_path(d, set.manifest_number());
        drop(set);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            VersionSet::open(d, &options()),
            Err(Error::Corruption { .. })
        ));
        std::fs::write(filename::current_path(d), b"MANIFEST-999999\n").unwrap();
        assert!(matches!(
            VersionSet::open(d, &options()),
            Err(Error::Corruption { .. })
        ));
    }
}
