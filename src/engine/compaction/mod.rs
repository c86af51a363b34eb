//! Compaction, split as choice / job / filter: `picker` chooses what to merge (pure, from a
//! `Version`), `job` merges and writes the new tables, `filter` decides which records survive.
//! Scheduling (one compaction at a time, in the background) and applying the returned edit
//! through `VersionSet::log_and_apply` belong to the engine core.

pub mod filter;
pub mod job;
pub mod picker;

pub use filter::{CompactionFilter, FilterParams};
pub use job::run_compaction;
pub use picker::{
    bottommost_rewrite_task, level_target_bytes, manual_compaction_task, manual_target_level,
    pick_compaction, CompactionTask,
};
