//! The compaction picker: a pure choice of what to compact next, given a `Version` and the
//! options. Running the task is `job`'s business; applying its edit is the `VersionSet`'s.
//!
//! Inputs are widened by row range, never by internal key alone: L1+ files hold disjoint rows,
//! so taking every next-level file that meets the inputs' rows keeps each row of a level in one
//! file and lets a bottommost compaction drop tombstones without uncovering older data.

use std::sync::Arc;

use crate::engine::options::Options;
use crate::engine::version::{TableFile, Version};

/// One compaction to run: `inputs` of `level` merged with `next_level_inputs` of
/// `output_level`, written to `output_level`.
#[derive(Debug, Clone)]
pub struct CompactionTask {
    /// The level the inputs come from.
    pub level: usize,
    /// Files taken from `level` (L0: newest first; L1+: in key order).
    pub inputs: Vec<Arc<TableFile>>,
    /// Where the outputs go (`level + 1`).
    pub output_level: usize,
    /// Files of `output_level` whose rows meet the inputs', rewritten with them (key order).
    pub next_level_inputs: Vec<Arc<TableFile>>,
    /// True when no level below `output_level` holds any of these rows: tombstones can go.
    pub bottommost: bool,
}

impl CompactionTask {
    /// Total bytes read by the task.
    pub fn input_bytes(&self) -> u64 {
        self.inputs
            .iter()
            .chain(&self.next_level_inputs)
            .map(|f| f.meta.file_size)
            .sum()
    }

    /// Every input file of both levels.
    pub fn all_inputs(&self) -> impl Iterator<Item = &Arc<TableFile>> {
        self.inputs.iter().chain(&self.next_level_inputs)
    }
}

/// Byte budget of `level` (>= 1): `level1_size_bytes * level_fanout^(level-1)`.
pub fn level_target_bytes(options: &Options, level: usize) -> u64 {
    let mut target = options.level1_size_bytes.max(1);
    for _ in 1..level {
        target = target.saturating_mul(options.level_fanout.max(1));
    }
    target
}

/// The (first, last) row covered by `files`; `None` when there are none.
fn row_range<'a>(
    files: impl IntoIterator<Item = &'a Arc<TableFile>>,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut range: Option<(&[u8], &[u8])> = None;
    for f in files {
        let (lo, hi) = (f.smallest_row(), f.largest_row());
        range = Some(match range {
            None => (lo, hi),
            Some((a, b)) => (a.min(lo), b.max(hi)),
        });
    }
    range.map(|(a, b)| (a.to_vec(), b.to_vec()))
}

/// Builds the task for `inputs` of `level`, adding the overlapping files of the next level.
fn task_for(
    version: &Version,
    level: usize,
    inputs: Vec<Arc<TableFile>>,
) -> Option<CompactionTask> {
    let output_level = level + 1;
    if output_level >= version.num_levels() {
        return None;
    }
    let (first, last) = row_range(&inputs)?;
    let next_level_inputs = version.overlapping_files(output_level, &first, &last);
    let (first, last) = row_range(inputs.iter().chain(&next_level_inputs))?;
    let bottommost = (output_level + 1..version.num_levels())
        .all(|l| version.overlapping_files(l, &first, &last).is_empty());
    Some(CompactionTask {
        level,
        inputs,
        output_level,
        next_level_inputs,
        bottommost,
    })
}

/// Picks the most urgent size-triggered compaction, if any: L0 once it holds
/// `l0_compaction_trigger` files (all of them, plus the L1 files they meet), or the level
/// (below the last) most over its byte budget, taking the file whose rewrite of the next
/// level costs least per byte moved.
pub fn pick_compaction(version: &Version, options: &Options) -> Option<CompactionTask> {
    let last = version.num_levels().saturating_sub(1);
    let mut best: Option<(f64, usize)> = None;
    let l0_count = version.files(0).len();
    let trigger = options.l0_compaction_trigger.max(1);
    if l0_count >= trigger {
        best = Some((l0_count as f64 / trigger as f64, 0));
    }
    for level in 1..last {
        let size = version.level_size(level);
        let score = size as f64 / level_target_bytes(options, level) as f64;
        if score > 1.0 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, level));
        }
    }
    let (_, level) = best?;
    if level == 0 {
        return task_for(version, 0, version.files(0).to_vec());
    }
    // Least next-level bytes rewritten per input byte (RocksDB's min-overlapping-ratio).
    let choice = version.files(level).iter().min_by(|a, b| {
        let ratio = |f: &Arc<TableFile>| {
            let overlap = version.overlapping_files(level + 1, f.smallest_row(), f.largest_row());
            let bytes: u64 = overlap.iter().map(|o| o.meta.file_size).sum();
            bytes as f64 / f.meta.file_size.max(1) as f64
        };
        ratio(a).total_cmp(&ratio(b))
    })?;
    task_for(version, level, vec![choice.clone()])
}

/// The level a manual full compaction pushes everything to: the deepest non-empty level
/// (at least L1, so L0 always empties).
pub fn manual_target_level(version: &Version) -> usize {
    let deepest = (0..version.num_levels())
        .rev()
        .find(|&l| !version.files(l).is_empty());
    deepest
        .unwrap_or(0)
        .max(1)
        .min(version.num_levels().saturating_sub(1))
}

/// The next step of a manual compaction towards `target_level`: every file of the shallowest
/// non-empty level above it, merged into the next level. `None` once only `target_level`
/// (and deeper) hold data. Call again on the version each step produced.
pub fn manual_compaction_task(version: &Version, target_level: usize) -> Option<CompactionTask> {
    let level = (0..target_level).find(|&l| !version.files(l).is_empty())?;
    task_for(version, level, version.files(level).to_vec())
}

/// The last step of a manual compaction: every file of `target_level` rewritten in place as
/// a bottommost compaction, so tombstones and shadowed versions there are dropped too. `None`
/// when the level is empty or a deeper level holds data (then it is not the bottom).
pub fn bottommost_rewrite_task(version: &Version, target_level: usize) -> Option<CompactionTask> {
    let files = version.files(target_level);
    if files.is_empty()
        || (target_level + 1..version.num_levels()).any(|l| !version.files(l).is_empty())
    {
        return None;
    }
    Some(CompactionTask {
        level: target_level,
        inputs: files.to_vec(),
        output_level: target_level,
        next_level_inputs: Vec::new(),
        bottommost: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::key::{make_internal_key, row_head_key, Kind};
    use crate::engine::sstable::{SstBuilder, SstOptions};
    use crate::engine::version::FileMeta;
    use std::path::Path;

    fn row(i: u32) -> Vec<u8> {
        let mut r = vec![0x02];
        r.extend_from_slice(&(u64::from(i) ^ (1 << 63)).to_be_bytes());
        r
    }

    /// Writes a table holding one row-head record per row in `rows` and opens it.
    fn table(
        dir: &Path,
        number: u64,
        rows: std::ops::RangeInclusive<u32>,
        seqno: u64,
        pad: usize,
    ) -> Arc<TableFile> {
        let path = crate::engine::filename::sst_path(dir, number);
        let mut b = SstBuilder::create(&path, SstOptions::default()).unwrap();
        for r in rows {
            let key = make_internal_key(row_head_key(&row(r)), seqno, Kind::RowExists);
            b.add(&key, &vec![7u8; pad.max(8)]).unwrap();
        }
        let meta = FileMeta::from_sst(number, b.finish().unwrap());
        TableFile::open(dir, meta).unwrap()
    }

    fn numbers(files: &[Arc<TableFile>]) -> Vec<u64> {
        files.iter().map(|f| f.number()).collect()
    }

    #[test]
    fn l0_compacts_once_the_trigger_is_reached_with_overlapping_l1_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let options = Options {
            l0_compaction_trigger: 3,
            num_levels: 4,
            ..Options::default()
        };
        let mut v = Version::empty(4);
        v.levels[0] = vec![table(d, 2, 10..=20, 20, 8), table(d, 1, 15..=30, 10, 8)];
        v.levels[1] = vec![
            table(d, 3, 0..=5, 1, 8),
            table(d, 4, 8..=12, 1, 8),
            table(d, 5, 25..=40, 1, 8),
        ];
        assert!(
            pick_compaction(&v, &options).is_none(),
            "two L0 files are below the trigger"
        );
        v.levels[0].insert(0, table(d, 6, 50..=60, 30, 8));
        let task = pick_compaction(&v, &options).unwrap();
        assert_eq!((task.level, task.output_level), (0, 1));
        assert_eq!(numbers(&task.inputs), [6, 2, 1]);
        assert_eq!(numbers(&task.next_level_inputs), [4, 5]);
        assert!(task.bottommost);
        v.levels[2] = vec![table(d, 7, 100..=110, 0, 8)];
        assert!(
            pick_compaction(&v, &options).unwrap().bottommost,
            "L2 file is outside the rows"
        );
        v.levels[3] = vec![table(d, 8, 39..=45, 0, 8)];
        assert!(
            !pick_compaction(&v, &options).unwrap().bottommost,
            "L3 holds row 39"
        );
    }

    #[test]
    fn oversized_level_compacts_the_file_with_least_next_level_overlap() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut v = Version::empty(4);
        v.levels[1] = vec![
            table(d, 1, 0..=9, 1, 500),
            table(d, 2, 10..=19, 1, 500),
            table(d, 3, 20..=29, 1, 500),
        ];
        v.levels[2] = vec![table(d, 4, 0..=12, 0, 900), table(d, 5, 25..=26, 0, 100)];
        let l1 = v.level_size(1);
        let mut options = Options {
            num_levels: 4,
            level1_size_bytes: l1,
            ..Options::default()
        };
        assert!(
            pick_compaction(&v, &options).is_none(),
            "L1 exactly at budget"
        );
        options.level1_size_bytes = l1 / 2;
        let task = pick_compaction(&v, &options).unwrap();
        assert_eq!((task.level, task.output_level), (1, 2));
        assert_eq!(numbers(&task.inputs), [3]);
        assert_eq!(numbers(&task.next_level_inputs), [5]);
        assert!(task.bottommost);
        // The last level is never compacted for size.
        let mut w = Version::empty(3);
        w.levels[2] = v.levels[1].clone();
        assert!(pick_compaction(&w, &options).is_none());
        assert_eq!(level_target_bytes(&options, 3), (l1 / 2) * 100);
    }

    #[test]
    fn manual_compaction_walks_every_level_down_to_the_deepest() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut v = Version::empty(5);
        assert_eq!(manual_target_level(&v), 1);
        assert!(manual_compaction_task(&v, 1).is_none());
        v.levels[0] = vec![table(d, 1, 0..=3, 9, 8)];
        assert_eq!(manual_target_level(&v), 1);
        let t = manual_compaction_task(&v, 1).unwrap();
        assert_eq!((t.level, t.output_level, t.bottommost), (0, 1, true));
        v.levels[1] = vec![table(d, 2, 0..=1, 5, 8), table(d, 3, 5..=6, 5, 8)];
        v.levels[3] = vec![table(d, 4, 2..=2, 1, 8)];
        assert_eq!(manual_target_level(&v), 3);
        let t = manual_compaction_task(&v, 3).unwrap();
        assert_eq!(numbers(&t.inputs), [1]);
        assert_eq!(numbers(&t.next_level_inputs), [2]);
        assert!(!t.bottommost, "L3 holds row 2 under the range 0..=3");
        v.levels[0].clear();
        let t = manual_compaction_task(&v, 3).unwrap();
        assert_eq!(
            (t.level, numbers(&t.inputs), t.output_level),
            (1, vec![2, 3], 2)
        );
        assert!(!t.bottommost);
        v.levels[1].clear();
        assert!(manual_compaction_task(&v, 3).is_none());
    }
}
