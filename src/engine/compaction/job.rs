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
use crate::engine::sstable::{SstBuilder, SstInfo, SstOptions};
use crate::engine::version::{FileMeta, VersionEdit};

/// The manifest entry of a finished table.
pub fn file_meta(number: u64, info: SstInfo) -> FileMeta {
    FileMeta {
        number,
        file_size: info.file_size,
        entries: info.entries,
        smallest: info.smallest,
        largest: info.largest,
        smallest_seqno: info.smallest_seqno,
        largest_seqno: info.largest_seqno,
    }
}

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
            self.finished.push(file_meta(number, builder.finish()?));
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
                tracing::warn!(file = %path.display(), error = %e, "cannot remove failed compaction output");
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
