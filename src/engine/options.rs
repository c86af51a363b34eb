//! Engine tuning knobs and per-table data options, each with the reason for its default.

use std::sync::Arc;
use std::time::Duration;

use super::write_budget::WriteBufferBudget;

/// When an acknowledged write reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync the WAL before acknowledging; concurrent writers share one fsync (group commit).
    Always,
    /// fsync in the background at this interval; a crash may lose that much.
    Periodic(Duration),
    /// Never fsync (benchmarks only): the OS page cache decides.
    Never,
}

/// A source of wall-clock milliseconds; replaceable so tests can move time (TTL).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock in milliseconds since the Unix epoch.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

/// Options fixed when an engine opens.
#[derive(Clone)]
pub struct Options {
    /// A memtable is sealed and flushed once it holds this many bytes. 64 MiB keeps
    /// L0 files large enough that compaction is not dominated by per-file overhead.
    pub memtable_size_bytes: usize,
    /// Sealed memtables allowed to wait for flushing before writers stall.
    pub max_immutable_memtables: usize,
    /// WAL durability.
    pub sync: SyncPolicy,
    /// Uncompressed data-block size; a few KiB balances point-read cost and index size.
    pub block_size_bytes: usize,
    /// Keys between restart points inside a block (LevelDB's default).
    pub block_restart_interval: usize,
    /// Bloom bits per row key: 10 gives about 1 % false positives.
    pub bloom_bits_per_key: usize,
    /// Compaction output files are cut at this size.
    pub target_file_size_bytes: u64,
    /// L0 file count that triggers an L0 -> L1 compaction.
    pub l0_compaction_trigger: usize,
    /// L0 file count at which each write is delayed a little.
    pub l0_slowdown_trigger: usize,
    /// L0 file count at which writes wait for compaction.
    pub l0_stop_trigger: usize,
    /// Size budget of L1; each deeper level gets `level_fanout` times more.
    pub level1_size_bytes: u64,
    /// Size ratio between adjacent levels.
    pub level_fanout: u64,
    /// Number of levels (L0..L{n-1}).
    pub num_levels: usize,
    /// How long a stalled writer waits before giving up with `Error::Stalled`.
    pub stall_timeout: Duration,
    /// Wall clock for engine-assigned versions and TTL.
    pub clock: Clock,
    /// Memory budget of all memtables, shared by the engines opened with clones of these
    /// options (a server's tables); over it, writers seal their memtables early.
    pub write_buffer: Arc<WriteBufferBudget>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memtable_size_bytes: 64 << 20,
            max_immutable_memtables: 2,
            sync: SyncPolicy::Always,
            block_size_bytes: 4096,
            block_restart_interval: 16,
            bloom_bits_per_key: 10,
            target_file_size_bytes: 64 << 20,
            l0_compaction_trigger: 4,
            l0_slowdown_trigger: 12,
            l0_stop_trigger: 20,
            level1_size_bytes: 256 << 20,
            level_fanout: 10,
            num_levels: 7,
            stall_timeout: Duration::from_secs(30),
            clock: system_clock(),
            write_buffer: WriteBufferBudget::unlimited(),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("memtable_size_bytes", &self.memtable_size_bytes)
            .field("sync", &self.sync)
            .field("block_size_bytes", &self.block_size_bytes)
            .field("write_buffer_limit", &self.write_buffer.limit())
            .finish_non_exhaustive()
    }
}

/// Per-table data rules that may change at run time (UpdateTable); reads and compaction
/// always use the current value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataOptions {
    /// Versions older than this many seconds are expired; `None` keeps them forever.
    pub ttl_secs: Option<i64>,
    /// Only the newest this-many versions of each column are kept.
    pub max_versions: u32,
}

impl Default for DataOptions {
    fn default() -> Self {
        DataOptions {
            ttl_secs: None,
            max_versions: 1,
        }
    }
}
