//! Runs one `CompactionTask`: merges its inputs, passes every record through the
//! `CompactionFilter`, writes the survivors to new SSTables cut near the target size, and
//! returns the `VersionEdit` swapping inputs for outputs. Persisting the edit is the caller's.

use std::path::{Path, PathBuf};

use super::filter::{CompactionFilter, FilterParams};
use super::picker::CompactionTask;
use crate::engine::error::{Error, Result};
use crate::engine::filename;
use crate::engine::iter::KvIter;
use crate::engine::key;
use crate::engine::merge::{BoxedIter, LevelIter, MergeIter};
use crate::engine::sstable::{SstBuilder, SstOptions};
use crate::engine::version::{FileMeta, VersionEdit};

/// The merged input of a task: L0 files one by one (newest first), deeper levels as one
/// `LevelIter` each.
fn input_iter(task: &CompactionTask) -> MergeIter {
    let mut children: Vec<BoxedIter> = Vec::new();
    if task.level == 0 {
        for f in &task.inputs {
            children.push(Box::new(f.iter()));
        }
    } else if !task.inputs.is_empty() {
        children.push(Box::new(LevelIter::new(task.inputs.clone())));
    }
    if !task.next_level_inputs.is_empty() {
        children.push(Box::new(LevelIter::new(task.next_level_inputs.clone())));
    }
    MergeIter::new(children)
}

/// Output tables being written; deletes them all unless `done` is called.
struct Outputs<'a> {
    dir: &'a Path,
    sst: SstOptions,
    target_file_size: u64,
    current: Option<(u64, SstBuilder)>,
    finished: Vec<FileMeta>,
    created: Vec<PathBuf>,
    done: bool,
}

impl Outputs<'_> {
    fn finish_current(&mut self) -> Result<()> {
        if let Some((number, builder)) = self.current.take() {
            self.finished
                .push(FileMeta::from_sst(number, builder.finish()?));
        }
        Ok(())
    }

    /// Adds one record; `new_row` says whether it starts a row (the only place a file is cut).
    fn add(
        &mut self,
        key: &[u8],
        value: &[u8],
        new_row: bool,
        new_file_number: &mut dyn FnMut() -> u64,
    ) -> Result<()> {
        let full = self
            .current
            .as_ref()
            .is_some_and(|(_, b)| b.estimated_size() >= self.target_file_size);
        if full && new_row {
            self.finish_current()?;
        }
        let builder = match &mut self.current {
            Some((_, b)) => b,
            None => {
                let number = new_file_number();
                let path = filename::sst_path(self.dir, number);
                self.created.push(path.clone());
                let b = SstBuilder::create(&path, self.sst)?;
                &mut self.current.insert((number, b)).1
            }
        };
        builder.add(key, value)
    }
}

impl Drop for Outputs<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.current = None;
        for path in &self.created {
            if let Err(e) = std::fs::remove_file(path) {
                let file = path.display();
                tracing::warn!(%file, error = %e, "cannot remove failed compaction output");
            }
        }
    }
}

/// Runs `task` in `dir`: output tables get numbers from `new_file_number` and are cut at the
/// first row boundary past `target_file_size` bytes, so a row never spans two files of a
/// level. Returns the edit deleting every input and adding every output at the output level.
/// On error, outputs written so far are deleted and inputs are untouched.
///
/// Errors: `Io` / `Corruption` reading inputs or writing outputs.
pub fn run_compaction(
    task: &CompactionTask,
    dir: &Path,
    sst: SstOptions,
    params: FilterParams,
    new_file_number: &mut dyn FnMut() -> u64,
    target_file_size: u64,
) -> Result<VersionEdit> {
    let mut input = input_iter(task);
    let mut filter = CompactionFilter::new(params);
    let mut outputs = Outputs {
        dir,
        sst,
        target_file_size,
        current: None,
        finished: Vec::new(),
        created: Vec::new(),
        done: false,
    };
    let mut last_row: Vec<u8> = Vec::new();
    let mut dropped = 0u64;
    input.seek_to_first()?;
    while input.valid() {
        let (k, v) = (input.key(), input.value());
        if filter.keep(k, v)? {
            let row = key::split_internal_key(k)
                .and_then(|(cell, _, _)| key::cell_row(cell))
                .ok_or_else(|| Error::corruption(dir, 0, "malformed key in compaction input"))?;
            let new_row = row != last_row.as_slice();
            if new_row {
                last_row.clear();
                last_row.extend_from_slice(row);
            }
            outputs.add(k, v, new_row, new_file_number)?;
        } else {
            dropped += 1;
        }
        input.next()?;
    }
    outputs.finish_current()?;
    outputs.done = true;
    let mut edit = VersionEdit::default();
    edit.deleted
        .extend(task.inputs.iter().map(|f| (task.level, f.number())));
    edit.deleted.extend(
        task.next_level_inputs
            .iter()
            .map(|f| (task.output_level, f.number())),
    );
    edit.added
        .extend(outputs.finished.drain(..).map(|m| (task.output_level, m)));
    tracing::debug!(
        level = task.level,
        inputs = edit.deleted.len(),
        outputs = edit.added.len(),
        dropped,
        "compaction finished"
    );
    Ok(edit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::compaction::picker::manual_compaction_task;
    use crate::engine::key::{make_internal_key, row_head_key, version_key, Kind, SeqNo};
    use crate::engine::options::{DataOptions, Options};
    use crate::engine::version::VersionSet;
    use std::collections::BTreeSet;

    type Records = Vec<(Vec<u8>, Vec<u8>)>;

    fn row(i: u32) -> Vec<u8> {
        let mut r = vec![0x02];
        r.extend_from_slice(&(u64::from(i) ^ (1 << 63)).to_be_bytes());
        r
    }

    fn put(r: u32, col: &str, ver: i64, seq: SeqNo) -> (Vec<u8>, Vec<u8>) {
        let key = make_internal_key(version_key(&row(r), col.as_bytes(), ver), seq, Kind::Put);
        (
            key,
            format!("r{r}-{col}@{ver}#{seq}-{}", "x".repeat(40)).into_bytes(),
        )
    }

    fn del_row(r: u32, seq: SeqNo) -> (Vec<u8>, Vec<u8>) {
        (
            make_internal_key(row_head_key(&row(r)), seq, Kind::DeleteRow),
            Vec::new(),
        )
    }

    /// Writes `records` as a new table and returns its manifest entry.
    fn write(set: &VersionSet, mut records: Records) -> FileMeta {
        records.sort();
        let number = set.new_file_number();
        let path = filename::sst_path(set.dir(), number);
        let mut b = SstBuilder::create(&path, SstOptions::default()).unwrap();
        for (k, v) in &records {
            b.add(k, v).unwrap();
        }
        FileMeta::from_sst(number, b.finish().unwrap())
    }

    fn read_all(iter: &mut dyn KvIter) -> Records {
        let mut out = Vec::new();
        iter.seek_to_first().unwrap();
        while iter.valid() {
            out.push((iter.key().to_vec(), iter.value().to_vec()));
            iter.next().unwrap();
        }
        out
    }

    fn params(bottommost: bool) -> FilterParams {
        FilterParams {
            smallest_snapshot: 1_000,
            data: DataOptions {
                ttl_secs: None,
                max_versions: 2,
            },
            now_ms: 0,
            bottommost,
        }
    }

    /// Three overlapping L0 tables and one L1 table, written through a version set.
    fn setup(dir: &Path) -> (VersionSet, Records) {
        let (set, _) = VersionSet::open(
            dir,
            &Options {
                num_levels: 3,
                ..Options::default()
            },
        )
        .unwrap();
        let mut oldest = Vec::new();
        for r in 0..200 {
            oldest.push(put(r, "a", 1, 1));
            oldest.push(put(r, "b", 1, 2));
        }
        let mut middle = Vec::new();
        for r in (0..200).step_by(2) {
            middle.push(put(r, "a", 2, 10));
            middle.push(put(r, "a", 3, 11));
        }
        let mut newest = Vec::new();
        for r in (0..200).step_by(5) {
            newest.push(del_row(r, 20));
            newest.push(put(r, "c", 9, 21));
        }
        // The same cell written again (same column and version, newer seqno).
        newest.push(put(1, "a", 1, 22));
        let l1 = write(&set, oldest.clone());
        let l0 = [write(&set, middle.clone()), write(&set, newest.clone())];
        let mut edit = VersionEdit::default();
        edit.added.push((1, l1));
        edit.added.extend(l0.into_iter().map(|m| (0, m)));
        set.log_and_apply(edit).unwrap();
        let mut all: Records = oldest.into_iter().chain(middle).chain(newest).collect();
        all.sort();
        (set, all)
    }

    #[test]
    fn compaction_merges_filters_and_cuts_outputs_between_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (set, all) = setup(dir.path());
        let task = manual_compaction_task(&set.current(), 1).unwrap();
        assert!(task.bottommost);
        let mut next = || set.new_file_number();
        let edit = run_compaction(
            &task,
            dir.path(),
            SstOptions::default(),
            params(true),
            &mut next,
            1024,
        )
        .unwrap();
        assert_eq!(edit.deleted.len(), 3);
        assert!(
            edit.added.len() > 3,
            "small target size gives several outputs"
        );
        assert!(edit.added.iter().all(|(level, _)| *level == 1));

        // What survives is exactly the filter's verdict over the sorted union.
        let mut filter = CompactionFilter::new(params(true));
        let expected: Records = all
            .into_iter()
            .filter(|(k, v)| filter.keep(k, v).unwrap())
            .collect();
        set.log_and_apply(edit).unwrap();
        let version = set.current();
        assert!(version.files(0).is_empty());
        let mut merged = MergeIter::new(version.iters());
        let got = read_all(&mut merged);
        assert_eq!(got, expected);

        // Spot checks of the rules: deleted rows keep only what came after the delete, the
        // rewritten cell keeps its newest record, max_versions = 2 trims row 2's column a.
        let cells = |r: u32| -> Vec<String> {
            got.iter()
                .filter(|(k, _)| {
                    key::cell_row(key::split_internal_key(k).unwrap().0) == Some(&row(r)[..])
                })
                .map(|(_, v)| {
                    String::from_utf8_lossy(v)
                        .split('-')
                        .nth(1)
                        .unwrap_or("")
                        .to_string()
                })
                .collect()
        };
        assert_eq!(cells(0), ["c@9#21"]);
        assert_eq!(cells(1), ["a@1#22", "b@1#2"]);
        assert_eq!(cells(2), ["a@3#11", "a@2#10", "b@1#2"]);

        // Output files are sorted, disjoint, and no row (hence no cell key) spans two files.
        let files = version.files(1);
        let mut seen_rows = BTreeSet::new();
        for pair in files.windows(2) {
            assert!(pair[0].meta.largest < pair[1].meta.smallest);
            assert!(pair[0].largest_row() < pair[1].smallest_row());
        }
        for f in files {
            let mut rows = BTreeSet::new();
            for (k, _) in read_all(&mut f.iter()) {
                rows.insert(
                    key::cell_row(key::split_internal_key(&k).unwrap().0)
                        .unwrap()
                        .to_vec(),
                );
            }
            for r in rows {
                assert!(seen_rows.insert(r), "a row spans two output files");
            }
        }
    }

    #[test]
    fn failed_compaction_removes_its_outputs_and_leaves_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let (set, _) = setup(dir.path());
        let version = set.current();
        let task = manual_compaction_task(&version, 1).unwrap();
        // Damage a data block late in the L1 input, so outputs exist when the error hits.
        let victim = task.next_level_inputs[0].path().to_path_buf();
        let mut bytes = std::fs::read(&victim).unwrap();
        let at = bytes.len() * 3 / 4;
        bytes[at] ^= 0xFF;
        std::fs::write(&victim, &bytes).unwrap();
        let before: BTreeSet<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let mut outputs_started = 0;
        let mut next = || {
            outputs_started += 1;
            set.new_file_number()
        };
        let err = run_compaction(
            &task,
            dir.path(),
            SstOptions::default(),
            params(false),
            &mut next,
            1024,
        );
        assert!(matches!(err, Err(Error::Corruption { .. })), "{err:?}");
        assert!(
            outputs_started > 1,
            "the failure came after some outputs were written"
        );
        let after: BTreeSet<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(before, after, "no output left behind, no input removed");
    }

    #[test]
    fn compaction_that_drops_everything_writes_no_table() {
        let dir = tempfile::tempdir().unwrap();
        let (set, _) = VersionSet::open(dir.path(), &Options::default()).unwrap();
        let meta = write(&set, vec![del_row(1, 5), put(1, "a", 1, 1)]);
        set.log_and_apply(VersionEdit {
            added: vec![(0, meta)],
            ..Default::default()
        })
        .unwrap();
        let task = manual_compaction_task(&set.current(), 1).unwrap();
        let mut next = || set.new_file_number();
        let edit = run_compaction(
            &task,
            dir.path(),
            SstOptions::default(),
            params(true),
            &mut next,
            1 << 20,
        )
        .unwrap();
        assert!(edit.added.is_empty());
        assert_eq!(edit.deleted.len(), 1);
        set.log_and_apply(edit).unwrap();
        assert_eq!(set.current().all_files().count(), 0);
    }
}
